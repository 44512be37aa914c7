"""Deterministic evidence scoring of options (pure functions): the offline answerer and the agent's
"is the evidence for this option weak?" test both rest on it."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import bm25s
import numpy as np

from pathatlas.agent.plan import IMAGE_QUERY
from pathatlas.agent.questions import Evidence
from pathatlas.retrieval.lexical import tokenize

SENTENCE_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_SPLIT.split(text) if len(s.split()) >= 3]


def windows(text: str) -> list[str]:
    """Sentences and pairs of neighbouring sentences (answers often span two)."""
    units = sentences(text)
    return units + [f"{a} {b}" for a, b in zip(units, units[1:], strict=False)]


def option_specific_terms(options: Sequence[str]) -> list[set[str]]:
    """Each option's stemmed words minus those all options share."""
    terms = [set(t) for t in tokenize(list(options))]
    shared = set.intersection(*terms) if terms else set()
    return [t - shared for t in terms]


def sentence_bm25(question: str, options: Sequence[str], evidence: Sequence[Evidence], top: int = 12) -> np.ndarray:
    """Per option, the best BM25 score of "question + option" over evidence sentence windows that
    contain one of the option's own words (an IR solver confined to what was retrieved)."""
    units = [u for e in sorted(evidence, key=lambda e: e.rank)[:top] for u in windows(e.text)]
    if not units or not options:
        return np.zeros(len(options))
    tokens = tokenize(units)
    if not any(tokens):
        return np.zeros(len(options))
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    token_sets = [set(t) for t in tokens]
    scores = np.zeros(len(options))
    for j, (query, own) in enumerate(
        zip(tokenize([f"{question} {o}" for o in options]), option_specific_terms(options), strict=True)
    ):
        if not query or not own:
            continue
        values = model.get_scores(query)
        mask = np.array([bool(own & t) for t in token_sets])
        scores[j] = float(np.where(mask, values, 0.0).max())
    return scores


def candidate_sentences(options: Sequence[str], evidence: Sequence[Evidence], top: int = 5) -> list[str]:
    """Sentences of the best evidence that mention at least one option's own words."""
    units = [s for e in sorted(evidence, key=lambda e: e.rank)[:top] for s in sentences(e.text)]
    own = option_specific_terms(options)
    return [u for u, t in zip(units, tokenize(units), strict=True) if any(o & set(t) for o in own)] if units else []


def rescale(scores: np.ndarray) -> np.ndarray:
    """To [0, 1] by the maximum (non-negative scores), so differently scaled signals can be summed."""
    top = scores.max() if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def idf_table(token_lists: Sequence[Sequence[str]]) -> dict[str, float]:
    """IDF over the candidate sentences themselves: words every sentence shares weigh little."""
    n = len(token_lists)
    df = Counter(t for tokens in token_lists for t in set(tokens))
    return {t: math.log(1 + n / (1 + d)) for t, d in df.items()}


def coverage(terms: set[str], sentence: set[str], idf: dict[str, float], default: float) -> float:
    """IDF-weighted share of ``terms`` present in ``sentence``."""
    total = sum(idf.get(t, default) for t in terms)
    return sum(idf.get(t, default) for t in terms & sentence) / total if total else 0.0


def option_support(question: str, options: Sequence[str], evidence: Sequence[Evidence], top: int = 8) -> np.ndarray:
    """For each option, the best sentence-level co-occurrence of its words with the question's words.

    A sentence supports option j in proportion to (how much of the question it covers) x (how much of
    option j it covers); words shared by all options count for none of them. Evidence ranked lower by
    retrieval counts a little less. Returns one score per option in [0, 1].
    """
    if not options or not evidence:
        return np.zeros(len(options))
    option_terms = option_specific_terms(options)
    question_terms = set(tokenize([question])[0]) - set().union(*option_terms)
    chosen = sorted(evidence, key=lambda e: e.rank)[:top]
    units = [(s, 1.0 / (1.0 + 0.15 * (e.rank - 1))) for e in chosen for s in sentences(e.text)]
    if not units:
        return np.zeros(len(options))
    tokens = [set(t) for t in tokenize([s for s, _ in units])]
    idf = idf_table(tokens)
    default = max(idf.values(), default=1.0)
    scores = np.zeros(len(options))
    for sentence_terms, (_, weight) in zip(tokens, units, strict=True):
        q = coverage(question_terms, sentence_terms, idf, default) if question_terms else 1.0
        if q == 0:
            continue
        for j, terms in enumerate(option_terms):
            if terms:
                scores[j] = max(scores[j], weight * q * coverage(terms, sentence_terms, idf, default))
    return scores


def diagnosis_votes(options: Sequence[str], evidence: Sequence[Evidence], top: int = 10) -> np.ndarray:
    """Image questions: rank-weighted votes of the most similar cases whose diagnosis matches an option."""
    option_terms = [set(t) for t in tokenize([o.lower() for o in options])]
    votes = np.zeros(len(options))
    cases = [e for e in evidence if e.payload.get("diagnosis")]
    if any(IMAGE_QUERY in e.ranks for e in cases):  # the agent's image query: text-found cases do not vote
        cases = [replace(e, rank=e.ranks[IMAGE_QUERY]) for e in cases if IMAGE_QUERY in e.ranks]
    for e in sorted(cases, key=lambda e: e.rank)[:top]:
        diagnosis = set(tokenize([str(e.payload["diagnosis"]).lower()])[0])
        overlaps = [len(terms & diagnosis) / max(len(terms | diagnosis), 1) for terms in option_terms]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= 0.5:
            votes[best] += 1.0 / e.rank
    return votes


def confidence(scores: np.ndarray, temperature: float = 0.1) -> np.ndarray:
    """Softmax of scores; equal scores give equal, uninformative probabilities."""
    shifted = (scores - scores.max()) / temperature
    weights = np.exp(shifted)
    return weights / weights.sum()


def best_sentence(question: str, evidence: Sequence[Evidence], top: int = 5) -> tuple[float, str, str]:
    """(coverage, sentence, evidence id) of the sentence covering most of the question's words."""
    question_terms = set(tokenize([question])[0])
    chosen = sorted(evidence, key=lambda e: e.rank)[:top]
    units = [(s, e.id) for e in chosen for s in sentences(e.text)]
    if not units or not question_terms:
        return 0.0, "", ""
    tokens = [set(t) for t in tokenize([s for s, _ in units])]
    idf = idf_table(tokens)
    default = max(idf.values(), default=1.0)
    scored = [(coverage(question_terms, t, idf, default), s, eid) for t, (s, eid) in zip(tokens, units, strict=True)]
    return max(scored, key=lambda item: item[0])
