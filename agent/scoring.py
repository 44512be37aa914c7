"""Deterministic evidence features of options and how they combine (pure functions): the offline answerer,
the agent's stop rule and the QA benchmark's cross-validation all rest on them."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from pathatlas.agent.evidence import SentenceScores, compared, counts_as_printed, option_terms
from pathatlas.agent.plan import IMAGE_QUERY, referred_options
from pathatlas.agent.questions import Evidence, option_key
from pathatlas.retrieval.stores.base import ScoredIds
from pathatlas.retrieval.terms import NUMERALS, tokenize

FEATURES = (
    "cooccurrence",
    "bm25",
    "dense",
    "mentions",
    "prior",
    "passage-pair",
    "question-passages",
    "co-mention",
    "stated",
)
"""Per option: best sentence co-occurrence of question and option words; best BM25 of "question + option"
over sentences naming the option; closest sentence naming the option in the text encoder's space; rank-weighted
count of evidence items naming the option; the option's similarity to the question without evidence; then,
from the agent's own passage searches over the whole index (``OptionSupport``, zero without them): the best
passage holding both the question's and the option's words, how strongly the question's own best passages
hold the option's words, and how much the option's passages also hold the other options (``co_mention``); last,
whether a sentence says of the option what is asked (1), or says it is not (-1: ``stated``)."""
NEGATED_ONLY = ("co-mention",)
"""Features that speak only to a negated question (which option stands apart from the others); a plain
question's design leaves them out. ``stated`` was one until the thirty-ninth session: a plain question's weighing never
read whether a sentence says (or denies) what is asked of an option, and "Parasympathetic stimulation releases the
neurotransmitter acetylcholine (ACh) at the neuromuscular junction" was outweighed by how near "Postganglionic
sympathetic fibers release norepinephrine" came in the encoder's space; with it, the held-out accuracy of ``bench qa
--folds 5`` on the dev questions rose from 0.614 to 0.622 in ``agentic`` (4 gained, 1 lost) and stayed 0.579 in
``rag`` (5 and 5)."""
NEGATED_ONLY_COLUMNS = tuple(FEATURES.index(name) for name in NEGATED_ONLY)
STATED = FEATURES.index("stated")
NEGATED_BY = (FEATURES.index("co-mention"), FEATURES.index("mentions"))
"""A negated question ("all of the following EXCEPT") is scored by one feature alone, against the option: the
first of these the evidence filled. With the agent's passage searches, ``co-mention``: the three options that
fit share passages, the exception stands apart (11 of the 20 negated dev questions held out, 10 when the
variant itself is chosen on the training chapters; BENCHMARKS.md). Without them (one search), ``mentions``: the
exception is the option the top evidence names least (8 of 20; flipping every feature, as for a plain
question, scored 7)."""
WEIGHTS = np.array(
    [0.667, -0.538, 0.534, -1.156, 0.159, -0.001, 0.85, 0.458]
    + [0.541, 0.146, 0.839, 0.265, 0.148, 0.357, 0.286, 0.265]
    + [-0.699, 0.039, -0.231, 0.92, -1.615, -0.99, -0.504, 0.835]
    + [1.13]
)
"""Conditional-logit weights (``design``): FEATURES for plain questions (less ``NEGATED_ONLY``), their
``leaders``, the same features again for questions whose options are statements, then the negated questions'
one feature (``NEGATED_BY``); fit on the agent's evidence for all 347 dev questions (A&P ch. 1-14: one search
plus the passage support, ``dense`` and ``prior`` scaled by ``SIMILARITY_SPREAD``; refit in the thirty-ninth session,
when plain questions took ``stated``, on PDF records version 16: the ``all_data_weights`` of ``bench qa --folds
5``); held out per chapter fold in BENCHMARKS.md."""
ONE_SEARCH_WEIGHTS = np.array(
    [0.997, 0.014, 0.288, -0.618, 0.264, 0.0, 0.0, 0.0]
    + [0.417, 0.041, 0.894, 0.31, 0.039, 0.0, 0.0, 0.0]
    + [0.0] * 8
    + [0.728]
)
"""The same for one search's evidence (no passage support: ``rag``, image questions; negated questions scored by
``mentions``), fit before statement options had their own weights and plain questions ``stated`` (zero here, so image
answers and the ``rag`` baseline's shipped answers are unchanged; the benchmark's held-out column refits them per fold,
and ``stated`` left its ``rag`` accuracy as it was) and before ``dense``
and ``prior`` kept their gaps (``SIMILARITY_SPREAD``): refit on that run's ``rag`` rows, ``mentions`` weighed -1.10
against -0.62, and an option that evidence names without the question's words lost to one it does not name."""
VOTE_WEIGHT = 3.0
"""Image questions: weight of the similar cases' diagnosis votes next to the text features (untuned)."""
SPECIMEN_WEIGHT = 10.0
"""Image questions: the logit added to the option a verified same specimen is diagnosed as (``specimen_option``),
enough to outweigh any text evidence: on the 66 atlas dev image questions every such option (35 answers, rag and
agentic) was the right one, while on a small index of a few pages and cases the text features outweighed the votes
and answered another option against the very slide's own diagnosis."""
OPEN_CONFIDENCE = np.array([-1.585, 1.144])
"""Open questions (no options): logistic map (intercept, slope) from the quoted sentence's coverage of the
question's words to the share of the right answer's words it says (token recall). Fit on the 347 A&P dev stems
asked without their options (``bench qa --open --folds 5`` refits it per chapter fold); coverage alone claimed far
more than the sentences say (ECE 0.296 against recall), and a nearest sentence is rarely the whole answer, so no open
answer reaches ``writing.SETTLED_CONFIDENCE`` (at most 0.39, at full coverage)."""


def rescale(scores: np.ndarray) -> np.ndarray:
    """To [0, 1] by the maximum (non-negative scores), so differently scaled signals can be summed."""
    top = scores.max() if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


SIMILARITY_SPREAD = 0.5
"""Encoder similarity (cosine) gap between options that moves ``dense`` and ``prior`` by 1: a fixed spread, not the
options' own, so a small gap stays small. Min-max over the options made a gap of 0.026 ("Osteoblasts are cells that
make new bone." against "The cell responsible for bone resorption ... is the osteoclast." for "Which cells resorb
bone?") the feature's whole range. Chosen held out (5 chapter folds, weights refit per fold) among 0.1-1.0 for each
feature; every spread scored within four questions of 347 of min-max and of each other (BENCHMARKS.md)."""


def similarity_gap(similarities: np.ndarray, spread: float = SIMILARITY_SPREAD) -> np.ndarray:
    """1 for the most similar option, less by each option's gap to it over ``spread`` (below 0 past it): a
    conditional logit sees only the gaps, and these keep their size."""
    return 1.0 + (similarities - similarities.max()) / spread if similarities.size else similarities


def cooccurrence(scores: SentenceScores) -> np.ndarray:
    """Per option, its best sentence not negating it (``SentenceScores.backing``): (share of the question covered) x
    (share of the option named)."""
    n = len(scores.options)
    return np.array([max((scores.backing(j, i) for i in range(len(scores.sentences))), default=0.0) for j in range(n)])


def sentence_bm25(question: str, options: Sequence[str], scores: SentenceScores) -> np.ndarray:
    """Per option, the best BM25 of "question + option" over the sentences (and neighbour pairs) naming it, each text
    read as options and sentences are compared (``evidence.compared``: "3" is "three")."""
    texts = [compared(s.text) for s in scores.sentences]
    if not texts or not options:
        return np.zeros(len(options))
    tokens = tokenize(texts)
    if not any(tokens):
        return np.zeros(len(options))
    import bm25s  # loaded by ``tokenize`` without the numba and scipy it imports at its top (``terms._tokenizer``)

    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    out = np.zeros(len(options))
    for j, query in enumerate(tokenize([compared(f"{question} {o}") for o in options])):
        if query:
            named = np.array([c > 0 for c in scores.options[j]])
            out[j] = float(np.where(named, model.get_scores(query), 0.0).max())
    return out


STATING_COVERAGE = 1.0 - 1e-9
"""A sentence states the asked property of an option (``stated``) only when it says every word asked of it (IDF-weighted
share, float noise aside): "The quadratus lumborum forms the posterior abdominal wall" says half of "a part of the
anterior abdominal wall", enough to quote (``evidence.SETTLING_COVERAGE``), and states the opposite; read as stating
it, quadratus lumborum lost the one dev answer this feature changed (BENCHMARKS.md)."""


def stated(scores: SentenceScores) -> np.ndarray:
    """Per option, 1 where a sentence naming it says all that is asked of it (``STATING_COVERAGE``) and does not deny
    it, -1 where one such sentence denies it (``SentenceScores.negates``: "Basophils are the least common leukocytes"
    of "the most common"), 0 where none does or sentences say both: what the evidence states of each option, which a
    plain question's answer is and a negated question's exception is not (``design``). For plain questions, held out (5
    chapter folds), stating half of what is asked (``evidence.SETTLING_COVERAGE``) instead scores the same in ``rag``
    and 0.608 against 0.622 in ``agentic``."""
    out = np.zeros(len(scores.options))
    for j in range(len(scores.options)):
        stating = [
            i for i in range(len(scores.sentences)) if scores.names(j, i) and scores.said(j, i) >= STATING_COVERAGE
        ]
        out[j] = any(not scores.negates(j, i) for i in stating) - any(scores.negates(j, i) for i in stating)
    return out


def mentions(scores: SentenceScores) -> np.ndarray:
    """Per option, the sum of 1/rank over evidence items with a sentence naming it."""
    out = np.zeros(len(scores.options))
    for j in range(len(scores.options)):
        ranks = {s.evidence.id: s.evidence.rank for i, s in enumerate(scores.sentences) if scores.names(j, i)}
        out[j] = sum(1.0 / r for r in ranks.values())
    return out


def dense_features(encode, question: str, focus: str, options: Sequence[str], scores: SentenceScores, top: int = 24):
    """(closest sentence naming each option, option-question similarity), each as its ``similarity_gap`` (zeros
    for the closest sentence when no sentence names an option); ``encode`` maps texts to unit vectors (None: no
    encoder)."""
    n = len(options)
    if encode is None:
        return np.zeros(n), np.zeros(n)
    candidates = sorted(
        range(len(scores.sentences)),
        key=lambda i: -max((scores.support(j, i) + 0.01 * scores.options[j][i] for j in range(n)), default=0.0),
    )[:top]
    candidates = [i for i in candidates if any(scores.options[j][i] > 0 for j in range(n))]
    texts = [
        question or "",
        *options,
        *(f"{focus} {o}" for o in options),
        *(scores.sentences[i].text for i in candidates),
    ]
    vectors = encode(texts)
    prior = vectors[1 : n + 1] @ vectors[0]
    dense = np.zeros(n)
    if candidates:
        similarity = vectors[n + 1 : 2 * n + 1] @ vectors[2 * n + 1 :].T
        for j in range(n):
            named = [c for c, i in enumerate(candidates) if scores.options[j][i] > 0]
            dense[j] = similarity[j, named].max() if named else similarity[j].min()
    return similarity_gap(dense) if candidates else dense, similarity_gap(prior)


@dataclass(frozen=True)
class OptionSupport:
    """The agent's passage searches: BM25 over the whole index of the question's own words, and of each
    option's distinctive words (``support_queries``), with raw scores."""

    question: ScoredIds
    options: list[ScoredIds]


SUPPORT_POOL = 1000
"""Passages kept per support search: enough that a passage scoring for both sides is rarely cut off."""
SUPPORT_TOP = 20
"""How many of the question's best passages are read for each option (``question-passages``)."""


def support_queries(focus: str, options: Sequence[str]) -> list[str]:
    """The question's words that name no option, then each option's distinctive words (``option_terms``), as
    query texts: a passage that scores for both halves ties that option to what is asked. A small count is asked as
    the book prints it (``evidence.counts_as_printed``): a lone digit is no term."""
    own = option_terms(focus, options)
    named = set().union(*own) if own else set()
    words = [re.findall(r"\S+", counts_as_printed(text)) for text in [focus, *options]]
    stems = tokenize([w for ws in words for w in ws])
    stem_of = dict(zip((w for ws in words for w in ws), (set(t) for t in stems), strict=True))
    asked = " ".join(w for w in words[0] if stem_of[w] and not stem_of[w] & named)
    return [
        asked,
        *(" ".join(w for w in ws if in_terms(w, stem_of[w], terms)) for ws, terms in zip(words[1:], own, strict=True)),
    ]


def in_terms(word: str, stems: set[str], terms: set[str]) -> bool:
    """Whether an option's word is one of its distinctive terms, or a piece of a lettered one ("vitamin", "D" of
    "vitamin d"; "I" of "type 1"), so the option's search asks for that term."""
    pieces = {piece for term in terms if " " in term for piece in term.split()}
    plain = word.strip(string.punctuation).lower()
    return bool(stems & (terms | pieces)) or NUMERALS.get(plain, plain) in pieces


def passage_support(support: OptionSupport | None, n: int, top: int = SUPPORT_TOP) -> np.ndarray:
    """Per option (rows), the two passage features (columns): the best passage's lesser share of the question's
    and of the option's top score (both sides present, each relative to its own best passage), and the option's
    relative score summed over the question's ``top`` passages, weighted 1/rank. Zeros without support."""
    out = np.zeros((n, 2))
    if support is None:
        return out
    asked = dict(support.question)
    asked_top = max(asked.values(), default=0.0) or 1.0
    leading = [i for i, _ in support.question[:top]]
    for j, hits in enumerate(support.options[:n]):
        named = dict(hits)
        named_top = max(named.values(), default=0.0) or 1.0
        out[j, 0] = max((min(asked[i] / asked_top, s / named_top) for i, s in hits if i in asked), default=0.0)
        out[j, 1] = sum(named.get(i, 0.0) / named_top / rank for rank, i in enumerate(leading, start=1))
    return out


COMENTION_TOP = 100
"""Passages of each option's support search compared with the other options' (chosen on the training chapters
of each fold among 20, 50, 100, 200 and 1000: 100 in four of five)."""


def co_mention(support: OptionSupport | None, n: int, top: int = COMENTION_TOP) -> np.ndarray:
    """Per option, summed over the other options, the passages among both options' ``top`` whose relative scores
    (to each option's best passage) both stay high (the lesser of the two): options listed together in the book
    share passages. Zeros without support."""
    out = np.zeros(n)
    if support is None:
        return out
    relative = []
    for hits in support.options[:n]:
        best = max((s for _, s in hits[:top]), default=0.0) or 1.0
        relative.append({i: s / best for i, s in hits[:top]})
    for j, mine in enumerate(relative):
        for k, theirs in enumerate(relative):
            if k != j:
                out[j] += sum(min(s, theirs[i]) for i, s in mine.items() if i in theirs)
    return out


def option_features(
    encode,
    question: str,
    focus: str,
    options: Sequence[str],
    scores: SentenceScores,
    support: OptionSupport | None = None,
) -> np.ndarray:
    """The FEATURES matrix, one row per option, each column in [0, 1] (``dense`` and ``prior`` at most 1, ``stated``
    -1, 0 or 1)."""
    dense, prior = dense_features(encode, question, focus, options, scores)
    passages = passage_support(support, len(options))
    columns = [
        rescale(cooccurrence(scores)),
        rescale(sentence_bm25(focus, options, scores)),
        dense,
        rescale(mentions(scores)),
        prior,
        rescale(passages[:, 0]),
        rescale(passages[:, 1]),
        rescale(co_mention(support, len(options))),
        stated(scores),
    ]
    return np.stack(columns, axis=1)


def open_confidence(coverage: float, weights: np.ndarray = OPEN_CONFIDENCE) -> float:
    """How much of the right answer a quoted sentence covering ``coverage`` of an open question says, on average."""
    return float(1.0 / (1.0 + np.exp(-(weights[0] + weights[1] * coverage))))


def softmax(values: np.ndarray) -> np.ndarray:
    """Probabilities; equal values give equal, uninformative probabilities."""
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


LEAD_TOLERANCE = 1e-6
"""Options within this of a feature's best are tied leaders (so float noise in an encoder never picks one)."""


def best_option(probs: np.ndarray, options: Sequence[str], question: str = "") -> int:
    """The most likely option; of options tied within ``LEAD_TOLERANCE``, the first by its words (case ignored; one
    meaning the others, "all of the above", last: its words say nothing; ``referred_options`` of ``question``), not
    the first listed, so the answer does not follow the options' order (two options of a negated question that no
    evidence names tie exactly: one of 347 dev answers would change with the order, BENCHMARKS.md)."""
    tied = np.flatnonzero(probs >= probs.max() - LEAD_TOLERANCE)
    others = referred_options(question, options)
    return int(min(tied, key=lambda j: (j in others, option_key(options[j]))))


def leaders(features: np.ndarray) -> np.ndarray:
    """Per feature (column), 1 for the options it ranks first: which option each signal picks, next to how
    strongly (the conditional logit is linear, so a feature's vote cannot otherwise outweigh its scale)."""
    if not features.size:
        return features
    return (features >= features.max(axis=0, keepdims=True) - LEAD_TOLERANCE).astype(float)


def design(
    features: np.ndarray, negated: bool, negated_by: int | Sequence[int] = NEGATED_BY, statements: bool = False
) -> np.ndarray:
    """The conditional logit's inputs for one question. A plain question: its features (less ``NEGATED_ONLY``),
    their ``leaders``, the features again when the options are statements (zeros otherwise: statements to check
    weigh the signals differently from terms to pick) and a zero column. A negated one: zeros and, against each
    option, the first column of ``negated_by`` that is not all zero (the last one if none) plus what the evidence
    states of it (``stated``, a whole column's range): an option a sentence says the asked property of is no exception
    however seldom it is named ("The most abundant leukocytes are the neutrophils" for "Which leukocytes are not the
    most common?"), and one a sentence denies it of is, however often."""
    n, width = features.shape
    columns = (negated_by,) if isinstance(negated_by, int) else tuple(negated_by)
    plain = features[:, [c for c in range(width) if c not in NEGATED_ONLY_COLUMNS]]
    if negated:
        against = next((c for c in columns if features[:, c].any()), columns[-1])
        states = features[:, STATED] if width > STATED else 0.0  # a narrower matrix (a tuner's own features) has none
        return np.column_stack([np.zeros((n, 3 * plain.shape[1])), -(features[:, against] + states)])
    return np.column_stack([plain, leaders(plain), plain * float(statements), np.zeros(n)])


def option_logits(features: np.ndarray, negated: bool, weights: np.ndarray, statements: bool = False) -> np.ndarray:
    """How likely each option is the answer (for a negated question: how little the evidence names it)."""
    return design(features, negated, statements=statements) @ weights


def similar_cases(evidence: Sequence[Evidence]) -> list[Evidence]:
    """Cases with a diagnosis, best first; with the agent's image query, only those it found, at its ranks
    (text-found cases say nothing about the image)."""
    cases = [e for e in evidence if e.payload.diagnosis]
    if any(IMAGE_QUERY in e.ranks for e in cases):
        cases = [replace(e, rank=e.ranks[IMAGE_QUERY]) for e in cases if IMAGE_QUERY in e.ranks]
    return sorted(cases, key=lambda e: e.rank)


def diagnosed_option(options: Sequence[str], case: Evidence) -> int | None:
    """The option a case's diagnosis names: the one written the same (any case); else the one option whose head (its
    words before a comma) the diagnosis holds every word of, or that holds every word of the diagnosis
    (``held_option``); else by word overlap >= half of their union ("0" and "1", as some tile sets label their classes,
    have no words to overlap)."""
    written = [" ".join(o.split()).casefold() for o in options]
    if (same := " ".join(str(case.payload.diagnosis).split()).casefold()) in written:
        return written.index(same)
    texts = [str(case.payload.diagnosis), *options, *(option.split(",", 1)[0] for option in options)]
    diagnosis, *terms = (set(t) for t in tokenize([text.lower() for text in texts]))
    named, heads = terms[: len(options)], terms[len(options) :]
    if (held := held_option(diagnosis, named, heads)) is not None:
        return held
    overlaps = [len(words & diagnosis) / max(len(words | diagnosis), 1) for words in named]
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= 0.5 else None


def held_option(diagnosis: set[str], options: Sequence[set[str]], heads: Sequence[set[str]]) -> int | None:
    """The one option (by its stems) whose head the diagnosis holds, or that holds the diagnosis; None where none or
    several do. An option may describe its diagnosis after a comma ("Squamous cell carcinoma, a malignant keratinising
    tumour"), a diagnosis may name its organ ("lung squamous cell carcinoma"): their overlap is 3 words of 7, below
    half, so by overlap a tile of the very class would vote for no option. An option holds the diagnosis only where the
    diagnosis says at least half its head: a case labelled "carcinoma" names no "Squamous cell carcinoma"."""
    held = [
        j
        for j, (words, head) in enumerate(zip(options, heads, strict=True))
        if diagnosis
        and ((head and head <= diagnosis) or (diagnosis <= words and 2 * len(diagnosis) >= len(head or words)))
    ]
    return held[0] if len(held) == 1 else None


def diagnosis_votes(options: Sequence[str], evidence: Sequence[Evidence], top: int = 10) -> np.ndarray:
    """Image questions: rank-weighted votes of the most similar cases whose diagnosis matches an option."""
    votes = np.zeros(len(options))
    for case in similar_cases(evidence)[:top]:
        if (option := diagnosed_option(options, case)) is not None:
            votes[option] += 1.0 / case.rank
    return votes


def specimen_option(options: Sequence[str], evidence: Sequence[Evidence]) -> int | None:
    """Image questions: the option that every case verified as the same specimen as the question's image is diagnosed
    as (another photograph of the very slide); None without such cases, or when they name no option or disagree."""
    named = {diagnosed_option(options, c) for c in similar_cases(evidence) if c.same_specimen}
    return named.pop() if len(named) == 1 and None not in named else None


def unnamed_specimen(options: Sequence[str], evidence: Sequence[Evidence]) -> Evidence | None:
    """Image questions: the best-ranked case verified as the same specimen as the question's image whose diagnosis
    names no option: the very slide is diagnosed as something none of the options says. None without one."""
    return next((c for c in similar_cases(evidence) if c.same_specimen and diagnosed_option(options, c) is None), None)


def agreeing_case(options: Sequence[str], evidence: Sequence[Evidence], choice: int, top: int = 3) -> Evidence | None:
    """Image questions: the image's own evidence for the answer. A case verified as the same specimen, when every
    such case is diagnosed as ``choice`` (``specimen_option``: a cropped phone photo of a slide the index holds can have
    one such case first and two other diagnoses next, which a majority would leave unsettled); else, unless such a case
    is diagnosed as no option (``unnamed_specimen``: look-alikes say nothing against the very slide), the best-ranked of
    the ``top`` most similar cases diagnosed as ``choice``, when most of them are."""
    cases = similar_cases(evidence)
    if specimen_option(options, cases) == choice:
        return next(c for c in cases if c.same_specimen)
    if unnamed_specimen(options, cases) is not None:
        return None
    agreeing = [c for c in cases[:top] if diagnosed_option(options, c) == choice]
    return agreeing[0] if len(agreeing) * 2 > top else None
