"""Rank fusion and hit post-processing as pure functions.

Text queries are ranked by ``page`` groups: every record with a page (passages, figures, pages without
text) joins its page's group; records without one (cases) are groups of their own. A group is scored by
a linear model over features taken from the rankers' candidate lists (``group_features``); the weights
come from ``ranker.json`` (chosen on dev chapter folds by ``pathatlas bench tune-text``) or, without that
file, from ``PLAIN_WEIGHTS`` with BM25's top page kept first: BM25 first, dense re-scores the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.retrieval.records import Payload
from pathatlas.retrieval.stores.base import ScoredIds

FEATURES = ("bm25", "dense", "bm25_rest", "bm25_rank", "dense_rank", "neighbour", "coverage")
"""Per group: best BM25 / query's top BM25; best dense cosine minus the query's top; the other members'
BM25 share; 1/rank of the group by BM25 and by dense; best BM25 of the adjacent pages; share of the
query's terms found in the best member."""

PLAIN_WEIGHTS = {"bm25": 1.0, "dense": 1.0}
"""Fallback when no ranker file exists; with BM25's top pinned (held-out chapter folds, BENCHMARKS.md)."""

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


def page_key(payload: Payload) -> tuple[str, int] | None:
    """Hits that share this key are one page of one document; cases have none."""
    return (payload.source, payload.page) if payload.page is not None else None


@dataclass
class Group:
    """One page (or one page-less record) and the candidate records that fall in it."""

    key: tuple[str, int] | str
    members: list[str]
    """Record ids, best first."""


@dataclass
class Ranker:
    """A linear model over ``FEATURES``; missing features weigh 0."""

    weights: dict[str, float]
    source: str = "plain"
    pin_bm25: bool = False
    """Keep BM25's best group first whatever the other features say (dense then only reorders the rest)."""

    def score(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        scores = features @ np.array([self.weights.get(name, 0.0) for name in FEATURES])
        bm25 = features[:, FEATURES.index("bm25")]
        if self.pin_bm25 and bm25.max() > 0:
            scores[int(np.argmax(bm25))] = scores.max() + 1.0
        return scores

    def to_json(self) -> dict[str, Any]:
        return {"weights": self.weights, "pin_bm25": self.pin_bm25, "source": self.source}

    @classmethod
    def plain(cls) -> Ranker:
        return cls(dict(PLAIN_WEIGHTS), "plain", pin_bm25=True)

    @classmethod
    def load(cls, path: Path = RANKER_FILE) -> Ranker:
        """The chosen ranker if its file exists, else plain BM25-first fusion."""
        if path.is_file():
            body = json.loads(path.read_text())
            weights = {k: float(v) for k, v in body["weights"].items()}
            return cls(weights, body.get("source", path.name), pin_bm25=bool(body.get("pin_bm25", False)))
        return cls.plain()


def group_features(
    rankings: Mapping[str, ScoredIds],
    payloads: Mapping[str, Payload],
    dense_rankers: Sequence[str],
    coverage: Mapping[str, float] | None = None,
) -> tuple[list[Group], np.ndarray]:
    """Groups of the candidates and their feature rows (columns as ``FEATURES``).

    ``coverage`` maps a record id to the share of query terms it contains (computed by the caller,
    who has the tokenizer); records absent from it count 0.
    """
    bm25 = dict(rankings.get("bm25", []))
    top_bm25 = max(bm25.values(), default=0.0) or 1.0
    dense: dict[str, float] = {}
    floor, top_dense = 0.0, 0.0
    lists = [rankings[r] for r in dense_rankers if rankings.get(r)]
    if lists:
        for ranking in lists:
            for record_id, score in ranking:
                dense[record_id] = max(dense.get(record_id, -1.0), score)
        top_dense = max(dense.values())
        floor = min(ranking[-1][1] for ranking in lists)  # a record outside every list scores at most this

    by_key: dict[tuple[str, int] | str, list[str]] = {}
    for record_id in dict.fromkeys([i for i, _ in rankings.get("bm25", [])] + [i for r in lists for i, _ in r]):
        payload = payloads.get(record_id)
        if payload is None:
            continue
        by_key.setdefault(page_key(payload) or record_id, []).append(record_id)

    def strength(record_id: str) -> float:
        return bm25.get(record_id, 0.0) / top_bm25 + max(dense.get(record_id, floor) - top_dense, -1.0)

    groups = [Group(key, sorted(members, key=strength, reverse=True)) for key, members in by_key.items()]
    if not groups:
        return [], np.zeros((0, len(FEATURES)))
    best_bm25 = np.array([max(bm25.get(m, 0.0) for m in g.members) / top_bm25 for g in groups])
    sum_bm25 = np.array([sum(bm25.get(m, 0.0) for m in g.members) / top_bm25 for g in groups])
    best_dense = np.array([max(dense.get(m, floor) for m in g.members) - top_dense for g in groups])
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
        ]
    )
    return groups, features


def _inverse_rank(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return np.where(present, 1.0 / ranks, 0.0)


def term_coverage(query_tokens: set[str], text_tokens: Sequence[str]) -> float:
    """Share of the query's distinct terms that occur in a text."""
    return len(query_tokens.intersection(text_tokens)) / len(query_tokens) if query_tokens else 0.0


def snippet(text: str, query: str | None, width: int = 240) -> str:
    """A window of ``text`` around the first query word it contains, else its start."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    start = 0
    if query:
        words = [w for w in re.findall(r"\w{4,}", query.lower())]
        positions = [flat.lower().find(w) for w in words]
        positions = [p for p in positions if p >= 0]
        if positions:
            start = max(0, min(positions) - width // 4)
    window = flat[start : start + width]
    return ("…" if start else "") + window + ("…" if start + width < len(flat) else "")
