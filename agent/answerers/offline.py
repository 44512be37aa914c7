"""The embedded default answerer: deterministic scoring of options from quoted evidence sentences, no LLM."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.evidence import (
    Sentence,
    evidence_sentences,
    option_quotes,
    read_with_evidence,
    score_sentences,
)
from pathatlas.agent.plan import IMAGE_QUERY, Reading, none_option, read_question, referred_options
from pathatlas.agent.questions import Answer, Evidence, Question, Quote
from pathatlas.agent.scoring import (
    FEATURES,
    ONE_SEARCH_WEIGHTS,
    SPECIMEN_WEIGHT,
    VOTE_WEIGHT,
    WEIGHTS,
    OptionSupport,
    agreeing_case,
    best_option,
    diagnosed_option,
    diagnosis_votes,
    open_confidence,
    option_features,
    option_logits,
    rescale,
    softmax,
    specimen_option,
)
from pathatlas.agent.writing import (
    SETTLED_CONFIDENCE,
    TEXT_KINDS,
    annotate,
    defines,
    found_unquoted,
    nearest_sentences,
    one_per_case,
    open_focus,
)
from pathatlas.retrieval.encoders import Encoder
from pathatlas.retrieval.terms import has_words, tokenize
from pathatlas.settings import Settings


def never_others(probs: np.ndarray, question: Question) -> np.ndarray:
    """``probs`` with none left on an option meaning others ("All of the above", "Both A and B": ``referred_options``)
    where another option is there to take it: no sentence says of such an option what is asked, and in a negated
    question its lack of evidence would make it the exception ("Which is NOT a function of bone? ... All of the
    above")."""
    others = list(referred_options(question.text, question.options))
    if not others or len(others) == len(probs):
        return probs
    kept = probs.copy()
    kept[others] = 0.0
    return kept / kept.sum() if kept.sum() > 0 else probs


NONE_SHARE = 0.5
"""The probability "None of the above" takes where no other option has a quote saying what is asked of it
(``none_unsaid``), the weighed options sharing the rest as weighed: nothing said for either, even odds between "one of
them" and "none of them" (set by hand, not tuned: three dev questions have such an option). An answer so chosen names
no quote, so it claims at most ``writing.UNNAMED_CONFIDENCE`` and is never settled."""


def none_unsaid(probs: np.ndarray, question: Question, reading: Reading, quotes: list[list[Quote]]) -> np.ndarray:
    """``probs`` with "None of the above" (``plan.none_option``) chosen where no other option has a quote saying what
    is asked of it (``Quote.settles``), taking ``NONE_SHARE``: "Which cells secrete antibodies?" over Erythrocytes,
    Platelets, Neutrophils and None of the above would otherwise lean to Erythrocytes, as if the option were not there.
    Only for a plain question with no image that quotes can speak to (not negated, asked of an image it was not given,
    of verdicts, combinations or several answers); an image question's quotes never say what the image shows. The three
    dev questions with such an option have no such quote: it is chosen in all three and right in two (0 of 3 without
    it), in both modes; the held-out refit (``tune.cross_validate``) scores features alone and does not see it."""
    none = none_option(question.text, question.options)
    plain = not (reading.negated or reading.image_missing or reading.verdicts or reading.combined or reading.several)
    if none is None or question.image is not None or not plain:
        return probs
    if any(q.stance == "supports" and q.settles for j, own in enumerate(quotes) if j != none for q in own):
        return probs
    weighed = probs * (1.0 - NONE_SHARE)
    weighed[none] = NONE_SHARE + probs[none] * (1.0 - NONE_SHARE)  # none of it when ``never_others`` took it
    return weighed


SETTLING_CASES = 3
"""An open image answer is settled by most of this many most similar cases (``agreeing_case``); where fewer are found,
nothing known takes the places left: one case alone, however many of its images, was "1 of the 1" at 1.00, unsettled."""

NO_DIAGNOSIS = "\x00no diagnosis"
"""What an image found with no diagnosis votes for in an open image answer: nothing known. No record's diagnosis is
written so (metadata is kept without control characters: ``retrieval.text.plain_text``)."""


def voting_for_nothing_known(item: Evidence) -> Evidence:
    """``item`` as an open image answer counts it: a case image, or any record the question's image found (a figure),
    that has no diagnosis votes for ``NO_DIAGNOSIS``; anything else is left as it is."""
    if item.payload.diagnosis or not (item.kind == "case" or IMAGE_QUERY in item.ranks):
        return item
    return replace(item, payload=replace(item.payload, diagnosis=NO_DIAGNOSIS))


def looked_at(having: int, looked: list[Evidence]) -> str:
    """An open image answer's rationale: how many of the most similar cases were looked at, how many of them have
    the answer's diagnosis and, where some have none, how many have a diagnosis at all."""
    said = f"the diagnosis of {having} of the {len(looked)} most similar cases"
    diagnosed = sum(case.payload.diagnosis != NO_DIAGNOSIS for case in looked)
    return said if diagnosed == len(looked) else f"{said} ({diagnosed} of the {len(looked)} with a diagnosis)"


class OfflineAnswerer(Answerer):
    """Text questions: evidence features per option (``scoring.FEATURES``: sentence co-occurrence of question
    and option, BM25 and encoder similarity of "question + option" to sentences naming the option, how many
    top evidence items name it, its similarity to the question, and with the agent's passage support the best
    passage holding both question and option) combined by a conditional logit whose probabilities are the
    confidence (``WEIGHTS`` with support, ``ONE_SEARCH_WEIGHTS`` without). A negated question ("NOT", "except",
    "least") asks for the option that stands apart: with the agent's passage searches, the one whose passages
    least hold the other options; with one search, the one the top evidence names least (``scoring.NEGATED_BY``).
    Image questions add the most similar cases' diagnosis votes.
    """

    name = "offline"

    def __init__(self, encoder: Encoder | None, weights: np.ndarray | None = None, cache_size: int = 20_000):
        self.encoder = encoder
        self.weights = weights
        self.cache_size = cache_size
        self._vectors: dict[str, np.ndarray] = {}
        """Sentence vectors already computed: the agent weighs the same sentences again after each round."""

    @classmethod
    def create(cls, settings: Settings, encoder: Encoder | None) -> OfflineAnswerer:
        return cls(encoder)

    def clear_cache(self) -> None:
        """Forget the sentence vectors computed so far (a benchmark times each mode from the same cold cache)."""
        self._vectors.clear()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts`` in the encoder's first text space, each text encoded once."""
        known = {t: v for t in texts if (v := self._vectors.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self.encoder.encode_text(missing)[self.encoder.text_spaces[0]], strict=True))
            known.update(fresh)
            if len(self._vectors) + len(fresh) > self.cache_size:
                self._vectors.clear()
            self._vectors.update(fresh)
        return np.stack([known[t] for t in texts])

    def features(
        self, question: Question, reading: Reading, evidence: list[Evidence], support: OptionSupport | None = None
    ):
        """(FEATURES matrix, per-option quotes) from the text evidence and the agent's passage searches."""
        text_evidence = [e for e in evidence if e.kind in TEXT_KINDS]
        scores = score_sentences(reading, question.text, question.options, evidence_sentences(text_evidence))
        encode = self.encode if self.encoder is not None and self.encoder.text_spaces else None
        features = option_features(encode, question.text, reading.focus, question.options, scores, support)
        return features, option_quotes(reading, question.options, scores)

    def answer(self, question: Question, evidence: list[Evidence], support: OptionSupport | None = None) -> Answer:
        """``support``: the agent's passage searches per option (one search has none: those features are 0)."""
        if not question.is_multiple_choice:
            if question.image is None:
                return self._open(question, read_question(question), evidence)
            return self._open_image(evidence) or self._unseen(self._open(question, read_question(question), evidence))
        reading = read_with_evidence(question, evidence)
        features, quotes = self.features(question, reading, evidence, support)
        votes = diagnosis_votes(question.options, evidence) if question.image is not None else np.zeros(len(features))
        if votes.any():  # similar cases decide; the question-option similarity alone says nothing about the image
            features[:, FEATURES.index("prior")] = 0.0
        weights = self.weights if self.weights is not None else WEIGHTS if support is not None else ONE_SEARCH_WEIGHTS
        logits = option_logits(features, reading.negated, weights, reading.statements)
        # "Which diagnosis does NOT fit this slide?": the option the similar cases vote for least
        logits = logits + (-VOTE_WEIGHT if reading.negated else VOTE_WEIGHT) * rescale(votes)
        if question.image is not None and (slide := specimen_option(question.options, evidence)) is not None:
            logits[slide] += -SPECIMEN_WEIGHT if reading.negated else SPECIMEN_WEIGHT  # the very slide's diagnosis
        probs = softmax(np.zeros_like(logits) if reading.verdicts else logits)  # no sentence tells True from False
        probs = none_unsaid(never_others(probs, question), question, reading, quotes)
        choice = best_option(probs, question.options, question.text)
        answer = Answer(
            choice,
            question.options[choice],
            float(probs[choice]),
            scores=[round(float(p), 4) for p in probs],
            quotes=quotes,
        )
        answer.cited = self._cited(answer, evidence)
        annotate(answer, question, evidence)
        return answer

    @staticmethod
    def _cited(answer: Answer, evidence: list[Evidence]) -> list[str]:
        """The chosen option's quoted evidence first, then the best-ranked similar case (image questions)."""
        cited = list(dict.fromkeys(q.evidence.id for q in answer.quotes[answer.choice]))
        cases = [e for e in evidence if e.kind == "case" and e.payload.diagnosis]
        voted = [e.id for e in cases if str(e.payload.diagnosis).lower() in answer.text.lower()]
        return list(dict.fromkeys(cited + voted[:2]))[:3]

    @staticmethod
    def _open_image(evidence: list[Evidence], top: int = 5) -> Answer | None:
        """Open image questions ("What is the diagnosis?"): the similar cases' diagnoses are the options, each case
        voting once (``one_per_case``) for its own, rank-weighted as for image multiple choice (``diagnosis_votes``).
        The cases looked at are the ``top`` most similar, or as many as it takes to hold ``top`` with a diagnosis; one
        with none votes for nothing known (``NO_DIAGNOSIS``), so the confidence, the answer's share of the votes, counts
        it: else, with five undiagnosed atlas images ranked first, one LC25000 tile at rank six would take every vote
        (1.00). Settled as image multiple choice is (``agreeing_case``: a verified same specimen, or most of the
        ``SETTLING_CASES`` most similar cases, those with no diagnosis included). None without a similar case with a
        diagnosis."""
        cases = one_per_case([voting_for_nothing_known(item) for item in evidence])
        diagnosed = [n for n, case in enumerate(cases) if case.payload.diagnosis != NO_DIAGNOSIS]
        if not diagnosed:
            return None
        looked = cases[: max(top, diagnosed[:top][-1] + 1)]
        diagnoses = list(dict.fromkeys(str(case.payload.diagnosis) for case in looked))
        votes = diagnosis_votes(diagnoses, looked, len(looked))  # each case for its own diagnosis (written the same)
        best = max((j for j, said in enumerate(diagnoses) if said != NO_DIAGNOSIS), key=lambda j: votes[j])
        having = [case for case in looked if diagnosed_option(diagnoses, case) == best]
        unfilled = sum(1 / place for place in range(len(looked) + 1, SETTLING_CASES + 1))
        return Answer(
            None,
            diagnoses[best],
            float(votes[best] / (votes.sum() + unfilled)),
            looked_at(len(having), looked),
            [case.id for case in having[:3]],
            settled=agreeing_case(diagnoses, looked, best, SETTLING_CASES) is not None,
        )

    @staticmethod
    def _unseen(answer: Answer) -> Answer:
        """An open image question no similar case with a diagnosis answers: said first, as the whole rationale where no
        sentence is quoted (asked nothing but the image, against a book, "the question has no words to look for" would
        be all it says). The text's nearest sentence never saw the image ("What is the diagnosis?" covered by any
        sentence saying "diagnosis"), so it settles nothing and claims no confidence."""
        unseen = "no similar case in the index has a diagnosis"
        said = f"{unseen}; the sentence nearest the question's words, {answer.rationale}" if answer.text else unseen
        return replace(answer, confidence=0.0, settled=False, rationale=said)

    @staticmethod
    def open_quote(question: Question, reading: Reading, evidence: list[Evidence]) -> tuple[Sentence, float] | None:
        """An open question's best evidence sentence and how much of the question's words (IDF-weighted) it covers;
        None when the question has no words to look for ("the of and": every sentence would cover all of them) or
        the evidence holds no sentence (``writing.quotable_sentences``: the text evidence's, else the cases'). A
        question printed in the book (a figure's "what do you notice?") answers nothing, so a statement is preferred
        (``writing.nearest_sentences``); of those covering as much as the best, one defining what is asked
        (``writing.defines``). "What is an atom?" covers its one word in every sentence naming atoms: the first found
        was the heading "Atomic Number and Mass Number", where the book also says "The smallest unit of an element that
        retains all of the properties of that element is an atom."
        """
        nearest = nearest_sentences(question, reading, evidence)
        if not nearest:
            return None
        asked = set(tokenize([open_focus(question, reading)])[0])
        best = nearest[0]
        return next((found for found in nearest if found[1] >= best[1] and defines(found[0].text, asked)), best)

    def _open(self, question: Question, reading: Reading, evidence: list[Evidence]) -> Answer:
        """Open questions: the evidence sentence that covers the question best, quoted, at the confidence its
        coverage earns (``scoring.open_confidence``: how much of the right answer such a sentence says)."""
        if not has_words(open_focus(question, reading)):
            return Answer(None, "", 0.0, "the question has no words to look for in the evidence", [], settled=False)
        quoted = self.open_quote(question, reading, evidence)
        if quoted is None:
            return Answer(None, "", 0.0, found_unquoted(evidence), [], settled=False)
        sentence, coverage = quoted
        confidence = open_confidence(coverage)
        return Answer(
            None,
            sentence.text,
            confidence,
            f"quoted from {sentence.evidence.citation.label()}",
            [sentence.evidence.id],
            settled=confidence >= SETTLED_CONFIDENCE,
        )
