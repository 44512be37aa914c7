"""The embedded default answerer: deterministic scoring of options from retrieved evidence, no LLM."""

from __future__ import annotations

import numpy as np

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.plan import is_negated
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.agent.scoring import (
    best_sentence,
    candidate_sentences,
    confidence,
    diagnosis_votes,
    option_support,
    rescale,
    sentence_bm25,
)
from pathatlas.retrieval.encoders import Encoder

TEXT_KINDS = {"page", "figure", "passage"}


class OfflineAnswerer(Answerer):
    """Text questions: three signals from the evidence, each rescaled to [0, 1] and summed: sentence-level
    co-occurrence of question and option words, BM25 of "question + option" over sentence windows, and the
    text encoder's similarity of "question + option" to evidence sentences naming the option.
    Image questions: votes of the most similar cases' diagnoses, plus the text evidence.
    Without support (or without evidence) it falls back to the text encoder's question-option similarity.
    """

    name = "offline"

    def __init__(self, encoder: Encoder):
        self.encoder = encoder

    def answer(self, question: Question, evidence: list[Evidence]) -> Answer:
        if not question.is_multiple_choice:
            return self._open(question, evidence)
        options = question.options
        text_evidence = [e for e in evidence if e.kind in TEXT_KINDS]
        support = rescale(option_support(question.text, options, text_evidence))
        if support.any():
            support = support + rescale(sentence_bm25(question.text, options, text_evidence))
            support = support + self._dense_support(question, text_evidence)
        votes = diagnosis_votes(options, evidence) if question.image is not None else np.zeros(len(options))
        scores = support + 3 * rescale(votes)
        if not scores.any():
            return self._prior(question)
        negated = is_negated(question.text) and question.image is None
        choice = int(np.argmin(scores) if negated else np.argmax(scores))
        probs = confidence(-scores if negated else scores, temperature=0.3)
        cited = self._supporting(question, choice, evidence)
        rationale = (
            f"option {choice + 1} is {'least' if negated else 'best'} supported by the evidence "
            f"(scores {', '.join(f'{s:.2f}' for s in scores)})"
        )
        return Answer(choice, options[choice], float(probs[choice]), rationale, cited)

    def _supporting(self, question: Question, choice: int, evidence: list[Evidence]) -> list[str]:
        """Evidence that supports the chosen option on its own, best first (at most three)."""
        scored = []
        for e in evidence:
            if e.kind == "case":
                value = float(diagnosis_votes(question.options, [e])[choice])
            else:
                value = float(option_support(question.text, question.options, [e])[choice])
            if value > 0:
                scored.append((value, -e.rank, e.id))
        return [eid for _, _, eid in sorted(scored, reverse=True)[:3]]

    def _dense_support(self, question: Question, evidence: list[Evidence]) -> np.ndarray:
        """Similarity of "question + option" to the closest evidence sentence naming an option, min-max scaled."""
        candidates = candidate_sentences(question.options, evidence)
        if not candidates or self.encoder is None:
            return np.zeros(len(question.options))
        space = self.encoder.text_spaces[0]
        vectors = self.encoder.encode_text([f"{question.text} {o}" for o in question.options] + candidates)[space]
        best = (vectors[: len(question.options)] @ vectors[len(question.options) :].T).max(axis=1)
        spread = best.max() - best.min()
        return (best - best.min()) / spread if spread > 0 else np.zeros_like(best)

    def _prior(self, question: Question) -> Answer:
        """No usable evidence: the option most similar to the question in the text space."""
        space = self.encoder.text_spaces[0]
        vectors = self.encoder.encode_text([question.text or "", *question.options])[space]
        similarity = vectors[1:] @ vectors[0]
        choice = int(np.argmax(similarity))
        probs = confidence(similarity, temperature=0.05)
        return Answer(
            choice,
            question.options[choice],
            float(probs[choice]),
            "no supporting evidence; chose the option closest in meaning to the question",
            [],
        )

    def _open(self, question: Question, evidence: list[Evidence]) -> Answer:
        """Open questions: the evidence sentence that covers the question best, quoted."""
        score, sentence, evidence_id = best_sentence(question.text, evidence)
        if not sentence:
            return Answer(None, "", 0.0, "no evidence found", [])
        return Answer(None, sentence, score, "quoted from the best matching evidence", [evidence_id])
