"""Rank fusion and hit post-processing as pure functions.

Text queries are ranked by ``page`` groups: every record with a page (passages, figures, pages without
text) joins its page's group; records without one (cases) are groups of their own. A group is scored by
a linear model over features taken from the rankers' candidate lists (``group_features``); the weights
come from ``ranker.json`` (chosen on dev chapter folds by ``pathatlas bench tune-text``) or, without that
file, from ``PLAIN_WEIGHTS``, with the top page of ``PLAIN_PIN`` kept first: BM25 first (moved only by
passage vectors, when the index has them), dense re-scores the rest.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.errors import BadInputError
from pathatlas.retrieval.marks import marked_spans_by_term, query_terms
from pathatlas.retrieval.records import Payload
from pathatlas.retrieval.stores.base import ScoredIds
from pathatlas.retrieval.terms import tokenize

FEATURES = ("bm25", "dense", "bm25_rest", "bm25_rank", "dense_rank", "neighbour", "coverage", "passage_dense")
"""Per group: best BM25 / query's top BM25; best dense cosine of a page or figure minus the query's top;
the other members' BM25 share; 1/rank of the group by BM25 and by dense; best BM25 of the adjacent pages;
share of the query's terms found in the best member; best passage cosine minus the query's top passage
(0 everywhere without passage vectors)."""

PLAIN_WEIGHTS = {"bm25": 1.0, "dense": 3.0, "passage_dense": 0.5}
PLAIN_PIN = {"bm25": 1.0, "passage_dense": 0.75}
"""Fallback when no ranker file exists: the group ``PLAIN_PIN`` ranks first stays first (BM25's best page
when the index has no passage vectors), ``PLAIN_WEIGHTS`` order the rest. Chosen on the chapter folds of
the dev questions (BENCHMARKS.md, "Text to page")."""

DENSE_ONLY = {"dense": 1.0, "passage_dense": 1.0}
"""The ranking without BM25 (queries with the lexical ranker switched off; the benchmark's baseline)."""

RANKER_FILE = Path(__file__).with_name("ranker.json")


def reciprocal_rank_fusion(
    rankings: Mapping[str, ScoredIds], weights: Mapping[str, float], k: int = 60
) -> list[tuple[str, float, dict[str, int]]]:
    """Weighted RRF: score(d) = sum over rankers r of w_r / (k + rank_r(d)), ranks from 1.

    Returns (id, fused score, {ranker: rank}) by decreasing score; ties keep first-seen order.
    A ranker missing from ``weights`` counts with weight 1.
    """
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for ranker, ranking in rankings.items():
        weight = weights.get(ranker, 1.0)
        if weight <= 0:
            continue
        for rank, (record_id, _) in enumerate(ranking, start=1):
            scores[record_id] = scores.get(record_id, 0.0) + weight / (k + rank)
            ranks.setdefault(record_id, {})[ranker] = rank
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return [(record_id, score, ranks[record_id]) for record_id, score in ordered]


def figures_only(filters: Mapping[str, Any] | None) -> bool:
    """Whether ``filters`` admit figures and nothing else (a figure search)."""
    kind = (filters or {}).get("kind")
    return kind == "figure" or (isinstance(kind, list | tuple) and set(kind) == {"figure"})


def add_scores(first: ScoredIds, second: ScoredIds, k: int) -> ScoredIds:
    """Two BM25 fields of the same records, scored apart and summed per record (a record absent from one list
    scores 0 there); the top ``k``, equal scores by id."""
    total: dict[str, float] = {}
    for record_id, score in (*first, *second):
        total[record_id] = total.get(record_id, 0.0) + score
    return sorted(total.items(), key=lambda hit: (-hit[1], hit[0]))[:k]


def page_key(payload: Payload) -> tuple[str, int] | None:
    """Hits that share this key are one page of one document; cases have none."""
    return (payload.source, payload.page) if payload.page is not None else None


@dataclass
class Group:
    """One page (or one page-less record) and the candidate records that fall in it."""

    key: tuple[str, int] | str
    members: list[str]
    """Record ids, best first."""


def shown_member(group: Group, payloads: Mapping[str, Payload], named: Collection[str] = frozenset()) -> str:
    """The record a group's hit shows: a figure the query names by its label (``named``: what was asked for, whose
    citation a reader wants), else its best passage, else its best member (a figure or page record)."""
    asked = [m for m in group.members if m in named]
    passages = [m for m in group.members if payloads[m].kind == "passage"]
    return (asked or passages or group.members)[0]


MAJORITY = "majority"
"""The ranker name a hit moved up by ``majority_next`` carries in ``matched_by``."""
MAJORITY_KEEP = 5
"""Image hits the diagnosis vote never moves: recall@1 and recall@5 stay what the similarity gave."""
MAJORITY_WINDOW = 50
MAJORITY_SHARE = 0.5


def majority_next(
    labels: Sequence[str | None],
    voters: int,
    keep: int = MAJORITY_KEEP,
    window: int = MAJORITY_WINDOW,
    share: float = MAJORITY_SHARE,
) -> tuple[list[int], list[int]]:
    """An image query's hits (their diagnoses, in rank order) after its nearest hits vote: when a diagnosis is
    shared by at least two of the top ``voters`` and by at least ``share`` of those that have one, the places of the
    ``window`` hits after the first ``keep`` that have a diagnosis go to that diagnosis first, rank order kept on both
    sides; hits without one (figures, pages, undiagnosed images) stay where they are. Diagnoses are compared by
    ``diagnosis_key``. Returns the positions in their new order and those the vote put first (empty: no vote, order
    unchanged).

    Whole-image similarity ranks a few right images first and then drifts; the gallery's own diagnoses keep the rest
    of a top ten on what the nearest agree on (LC25000 held out: precision@10 0.911 -> 0.928, p = 0.01; voters,
    share and window chosen on the training tiles, BENCHMARKS.md)."""
    order = list(range(len(labels)))
    seen = max(voters, keep + window)
    keys = [diagnosis_key(label) for label in labels[:seen]] + [None] * max(len(labels) - seen, 0)
    named = [key for key in keys[:voters] if key is not None]
    if not named:
        return order, []
    winner, count = Counter(named).most_common(1)[0]
    if count < 2 or count < share * len(named):
        return order, []
    places = [i for i in order[keep : keep + window] if keys[i] is not None]
    agreeing = [i for i in places if keys[i] == winner]
    voted = iter(agreeing + [i for i in places if keys[i] != winner])
    return [next(voted) if keys[i] is not None and keep <= i < keep + window else i for i in order], agreeing


@functools.lru_cache(maxsize=4096)  # a gallery repeats a few diagnoses in every query's hits
def diagnosis_key(label: str | None) -> str | None:
    """A diagnosis as the vote compares it: its stemmed words without stop words, in any order, so "Adenocarcinoma,
    lung", "lung adenocarcinoma" and "adenocarcinoma of the lung" agree; a label without such words as written."""
    if label is None or not label.strip():
        return None
    return " ".join(sorted(tokenize([label])[0])) or label.strip().casefold()


def section_of(payload: Payload) -> tuple[str, str] | None:
    """A record's section for ``sections_first``: its book's bookmark path; None (a section of its own) for a page of
    a PDF without bookmarks, a case or an image, so such pages are never taken for one shared section, and for a
    figure, which its page's path is on for filters only: a figure is no second page of its section."""
    return (payload.source, payload.section) if payload.section and payload.kind != "figure" else None


def sections_first(sections: Sequence[Hashable | None], per_section: int, tiers: Sequence[Hashable] = ()) -> list[int]:
    """Positions of a ranked list, each section's first ``per_section`` items before any section's next ones (rank order
    kept within both parts; items without a section are sections of their own), within each run of equal ``tiers``
    (none: one run). A tier is a level the placing rules put first (``placed_first``: the figures a query names, then
    the records holding its every word), so no item goes below one of a lower tier; a section's items count across
    tiers, so one shown in a higher tier was its first.

    Five pages of one section in a top five hide every other section; shown first, the next sections' best
    pages reach the top results (text to page, held out: recall@5 0.960 -> 0.965, MRR 0.871 -> 0.878; the top
    hit never moves, BENCHMARKS.md). Over the whole list instead, a section's second page holding every word of a short
    search went below other sections' first pages and figures holding none (35 textbook terms: 270 of their top-10 hits
    held every word; per tier 326, as in score order). Records without a section stay sections of their own: after the
    sections' first pages instead, the atlas' diagnoses typed into a book and atlas index found their cases at MRR@10
    0.822, not 0.954."""
    seen: dict[Hashable, int] = {}
    shown: list[int] = []
    first, rest = [], []
    for position, section in enumerate(sections):
        if tiers and position and tiers[position] != tiers[position - 1]:
            shown += first + rest
            first, rest = [], []
        if section is None:
            first.append(position)
            continue
        seen[section] = seen.get(section, 0) + 1
        (first if seen[section] <= per_section else rest).append(position)
    return shown + first + rest


def placed_first(scores: np.ndarray, chosen: Sequence[bool]) -> np.ndarray:
    """``scores`` with the ``chosen`` groups above the others, each side in its own order: what a text search puts
    first whatever the ranker weighs (``all_words_first``; the figures a query names by label, ``figure_labels``)."""
    first = np.asarray(chosen, bool)
    if not first.any() or first.all():
        return scores
    return np.where(first, scores + (scores.max() - scores.min()) + 1.0, scores)


def all_words_first(scores: np.ndarray, holding: Sequence[bool]) -> np.ndarray:
    """``scores`` with the groups ``holding`` every word of a short query above the others, each side in its own
    order, as a search box ranks: BM25 alone lets short records holding one word win where another word is in most
    records ("lung adenocarcinoma" over 900 lung tiles: colon cases first)."""
    return placed_first(scores, holding)


def _linear(features: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
    return features @ np.array([weights.get(name, 0.0) for name in FEATURES])


@dataclass
class Ranker:
    """A linear model over ``FEATURES``; missing features weigh 0."""

    weights: dict[str, float]
    source: str = "plain"
    pin: dict[str, float] | None = None
    """A second linear model whose best group is kept first whatever ``weights`` say, once BM25 found
    anything (``{"bm25": 1}``: BM25's top page; the other features then only reorder the rest)."""

    def score(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        scores = _linear(features, self.weights)
        if self.pin and features[:, FEATURES.index("bm25")].max() > 0:
            scores[int(np.argmax(_linear(features, self.pin)))] = scores.max() + 1.0
        return scores

    def to_json(self) -> dict[str, Any]:
        return {"weights": self.weights, "pin": self.pin, "source": self.source}

    @classmethod
    def plain(cls) -> Ranker:
        return cls(dict(PLAIN_WEIGHTS), "plain", pin=dict(PLAIN_PIN))

    @classmethod
    def chosen(cls, path: Path | None) -> Ranker:
        """The ranker ``PATHATLAS_RANKER_FILE`` names (``path``), else the shipped default's (``load``). A file the user
        named must be there: a mistyped path would rank every search by the plain fusion, saying nothing."""
        if path is not None and not path.is_file():
            what = "a folder, not a file" if path.is_dir() else "no such file"
            raise BadInputError(
                f"bad setting PATHATLAS_RANKER_FILE={str(path)!r}: {what}; 'pathatlas bench tune-text' writes one"
            )
        return cls.load(path or RANKER_FILE)

    @classmethod
    def load(cls, path: Path = RANKER_FILE) -> Ranker:
        """The ranker in ``path`` if that file exists, else the plain fusion (the shipped default's file: none ships);
        a file that is not a ranker (as ``bench tune-text`` writes one) is one error line naming the setting that
        points at it."""
        if not path.is_file():
            return cls.plain()
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            weights = finite_weights(body["weights"])
            pin = body.get("pin") or ({"bm25": 1.0} if body.get("pin_bm25") else None)  # files before "pin"
            return cls(weights, body.get("source", path.name), pin=finite_weights(pin) if pin else None)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            why = f"no {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())
            raise BadInputError(
                f"bad setting PATHATLAS_RANKER_FILE={str(path)!r}: not a ranker file ({why}); "
                "'pathatlas bench tune-text' writes one"
            ) from exc


def finite_weights(weights: Mapping[str, Any]) -> dict[str, float]:
    """A ranker file's feature weights as numbers; NaN or infinity would put every page in one arbitrary order."""
    numbers = {name: float(value) for name, value in weights.items()}
    if not all(map(math.isfinite, numbers.values())):
        raise ValueError(f"weights must be finite numbers, got {numbers}")
    return numbers


def group_features(
    rankings: Mapping[str, ScoredIds],
    payloads: Mapping[str, Payload],
    dense_rankers: Sequence[str],
    coverage: Mapping[str, float] | None = None,
    named: Sequence[str] = (),
) -> tuple[list[Group], np.ndarray]:
    """Groups of the candidates and their feature rows (columns as ``FEATURES``).

    ``coverage`` maps a record id to the share of query terms it contains (computed by the caller,
    who has the tokenizer); records absent from it count 0. ``named``: records grouped though no ranker may have
    found them (figures a query names by label), after every candidate, so that no candidate's features change.
    """
    bm25 = dict(rankings.get("bm25", []))
    top_bm25 = max(bm25.values(), default=0.0) or 1.0
    dense: dict[str, float] = {}
    floor = 0.0
    lists = [rankings[r] for r in dense_rankers if rankings.get(r)]
    if lists:
        for ranking in lists:
            for record_id, score in ranking:
                dense[record_id] = max(dense.get(record_id, -1.0), score)
        floor = min(ranking[-1][1] for ranking in lists)  # a record outside every list scores at most this
    is_passage = {i: getattr(payloads.get(i), "kind", None) == "passage" for i in dense}
    top_dense = max((v for i, v in dense.items() if not is_passage[i]), default=floor)
    top_passage = max((v for i, v in dense.items() if is_passage[i]), default=None)

    by_key: dict[tuple[str, int] | str, list[str]] = {}
    candidates = [i for i, _ in rankings.get("bm25", [])] + [i for r in lists for i, _ in r]
    for record_id in dict.fromkeys([*candidates, *named]):
        payload = payloads.get(record_id)
        if payload is None:
            continue
        by_key.setdefault(page_key(payload) or record_id, []).append(record_id)

    top_any = max(dense.values(), default=0.0)

    def strength(record_id: str) -> float:
        return bm25.get(record_id, 0.0) / top_bm25 + max(dense.get(record_id, floor) - top_any, -1.0)

    def best_cosine(members: list[str], passages: bool, top: float) -> float:
        return max((dense.get(m, floor) for m in members if is_passage.get(m, False) == passages), default=floor) - top

    groups = [Group(key, sorted(members, key=strength, reverse=True)) for key, members in by_key.items()]
    if not groups:
        return [], np.zeros((0, len(FEATURES)))
    best_bm25 = np.array([max(bm25.get(m, 0.0) for m in g.members) / top_bm25 for g in groups])
    sum_bm25 = np.array([sum(bm25.get(m, 0.0) for m in g.members) / top_bm25 for g in groups])
    best_dense = np.array([best_cosine(g.members, False, top_dense) for g in groups])
    best_passage = (
        np.array([best_cosine(g.members, True, top_passage) for g in groups])
        if top_passage is not None
        else np.zeros(len(groups))
    )
    neighbour = np.zeros(len(groups))
    index = {g.key: i for i, g in enumerate(groups)}
    for i, group in enumerate(groups):
        if isinstance(group.key, tuple):
            source, page = group.key
            near = [index.get((source, page + step)) for step in (-1, 1)]
            neighbour[i] = max((best_bm25[j] for j in near if j is not None), default=0.0)
    covered = np.array([(coverage or {}).get(g.members[0], 0.0) for g in groups])
    features = np.column_stack(
        [
            best_bm25,
            best_dense if lists else np.zeros(len(groups)),
            sum_bm25 - best_bm25,
            _inverse_rank(best_bm25, present=best_bm25 > 0),
            _inverse_rank(best_dense, present=np.ones(len(groups), bool)) if lists else np.zeros(len(groups)),
            neighbour,
            covered,
            best_passage,
        ]
    )
    return groups, features


def _inverse_rank(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return np.where(present, 1.0 / ranks, 0.0)


def relative_scores(shown: Sequence[float], pool: Sequence[float]) -> list[float]:
    """Each shown hit's score relative to the first shown (1.0), for a reader's relevance words. Fused scores may be
    zero or negative (dense deltas: a query BM25 finds nothing scores 0 at best); then every score is shifted so that
    the worst of ``pool`` sits at a twentieth of the first. ``pool`` is every candidate the hits were cut from, so a
    hit's relative score does not change with how many hits are asked for."""
    if not shown:
        return []
    top, floor = shown[0], min(pool, default=shown[0])
    shift = (top - 20 * floor) / 19 if floor <= 0 and top > floor else 0.0
    return [min(1.0, (score + shift) / (top + shift)) if top + shift > 0 else 1.0 for score in shown]


def term_coverage(query_tokens: set[str], text_tokens: Sequence[str]) -> float:
    """Share of the query's distinct terms that occur in a text."""
    return len(query_tokens.intersection(text_tokens)) / len(query_tokens) if query_tokens else 0.0


BLANK_LINE = re.compile(r"\n\s*\n")
"""Between two blocks of a text (a slide's bullets, paragraphs, table rows: ``notes.BLOCK_BREAK``); a single newline
is a line wrapped inside one (a PDF's)."""
CLAUSE_END = re.compile(r"(?<!\.\.)[.!?:;][\"'”’»)\]}]*$")
"""The end of a sentence or clause, a closing quote or bracket after it: the block after it reads as a new one. A
trailing ellipsis ("Lymphoma...", as "…" is read) trails off: the next block still needs setting apart."""
BLOCK_SEPARATOR = " · "
"""Between two blocks in a snippet where the first ends no sentence or clause: a slide's "Causes", "TB",
"Sarcoidosis" read "Causes TB Sarcoidosis", one phrase."""


def snippet(text: str, query: str | None, width: int = 240) -> str:
    """``marked_snippet`` of the words ``query`` marks (``marks.query_terms``)."""
    return marked_snippet(text, query_terms(query), width)


def marked_snippet(text: str, terms: list[str], width: int = 240) -> str:
    """A window of ``text`` around the words a query's ``terms`` (``marks.query_terms``, read once for all its hits)
    mark (``marks.marked_spans``, as the web UI highlights: "akciger" marks "akciğer"), else its start; it starts and
    ends between words (not "…ecially", read as a word), on one line, its blocks set apart (``flat_blocks``).

    Of the windows opening a little before each marked word, or at it, the one whose distinct query words weigh most is
    shown (``marked_weights``), the first on ties: opening at the first marked word would show "cells" and leave out
    "goblet" 130 characters on, and the hit would look wrong; opening only a little before each would leave out
    "Koilocytes" of "Koilocytes are ... a clear perinuclear halo" for a window holding the halo's other words."""
    flat = flat_blocks(text)
    if len(flat) <= width:
        return flat
    weighted = marked_weights(flat, terms)
    anchors = [(span_start, lead) for span_start, _, _ in weighted for lead in (width // 4, 0)]
    windows = [_window(flat, anchor, width, lead) for anchor, lead in anchors] or [_window(flat, 0, width)]
    start, end = max(windows, key=lambda window: _weight_within(weighted, window))  # max keeps the first of equals
    return ("…" if start else "") + flat[start:end].rstrip() + ("…" if end < len(flat) else "")


def flat_blocks(text: str) -> str:
    """``text`` on one line, its blocks apart: a block after one ending no sentence or clause after a
    ``BLOCK_SEPARATOR``, else after a space, as every line wrapped inside a block."""
    blocks = [words for block in BLANK_LINE.split(text) if (words := " ".join(block.split()))]
    joined = blocks[:1]
    for before, block in pairwise(blocks):
        joined += [" " if CLAUSE_END.search(before) else BLOCK_SEPARATOR, block]
    return "".join(joined)


def marked_weights(text: str, terms: list[str]) -> list[tuple[int, int, tuple[str, float]]]:
    """Each span of ``text`` a query term marks, in order, with the term and its weight there: log(1 + marks /
    the term's marks), an idf within the text, so a word the text repeats ("cells") says less about where the
    match is than one it holds once ("goblet"). A word two terms mark counts for the first."""
    by_term = marked_spans_by_term(text, terms)
    total = sum(len(spans) for spans in by_term.values())
    weighted: dict[tuple[int, int], tuple[str, float]] = {}
    for term, spans in by_term.items():
        for span in spans:
            weighted.setdefault(span, (term, math.log(1 + total / len(spans))))
    return sorted((start, end, mark) for (start, end), mark in weighted.items())


def _window(flat: str, anchor: int, width: int, lead: int = 0) -> tuple[int, int]:
    """The ``width`` characters shown from ``lead`` characters before ``anchor``, from the start of a word to the end
    of one."""
    start = max(0, anchor - lead)
    start = flat.rfind(" ", 0, start + 1) + 1  # back to the start of the word it fell in (0: the text's start)
    if _separator_dot_at(flat, start):
        start += len(BLOCK_SEPARATOR) - 1  # a block's first word opens it, not the separator before it
    end = start + width
    if end < len(flat) and flat[end] != " " and (space := flat.rfind(" ", start, end)) > start:
        end = space  # the last word whole would overrun the width: end before it
    if _separator_dot_at(flat, end - 1):
        end -= len(BLOCK_SEPARATOR) - 1  # and a block's last word ends it
    return start, end


def _separator_dot_at(flat: str, at: int) -> bool:
    """Whether ``flat[at]`` is the dot of a ``BLOCK_SEPARATOR`` (never at either end of a text)."""
    return at > 0 and flat.startswith(BLOCK_SEPARATOR, at - 1)


def _weight_within(weighted: list[tuple[int, int, tuple[str, float]]], window: tuple[int, int]) -> float:
    """The summed weight of the distinct terms marked wholly inside ``window`` (``weighted`` is in text order)."""
    start, end = window
    inside = weighted[bisect.bisect_left(weighted, (start,)) : bisect.bisect_left(weighted, (end,))]
    return sum(dict(term for _, e, term in inside if e <= end).values())
