"""Deterministic evidence scoring of options (pure functions): the offline answerer and the agent's
"is the evidence for this option weak?" test both rest on it."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from agent.questions import Evidence
from retrieval.lexical import tokenize

SENTENCE_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_SPLIT.split(text) if len(s.split()) >= 3]


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
    option_terms = [set(t) for t in tokenize(list(options))]
    shared = set.intersection(*option_terms) if option_terms else set()
    option_terms = [terms - shared for terms in option_terms]
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
    cases = sorted((e for e in evidence if e.payload.get("diagnosis")), key=lambda e: e.rank)[:top]
    for e in cases:
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
