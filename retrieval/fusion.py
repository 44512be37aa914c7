"""Rank fusion and hit post-processing as pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pathatlas.retrieval.stores.base import ScoredIds


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


def page_key(payload: Mapping) -> tuple[str, int] | None:
    """Hits that share this key are one page of one document; cases have none."""
    page = payload.get("page")
    return (payload["source"], page) if page is not None else None


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
