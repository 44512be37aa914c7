"""Ranking metrics as pure functions over ranked lists and a relevance test."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")
CUTOFFS = (1, 5, 10)


def first_relevant_rank(ranked: Sequence[T], is_relevant: Callable[[T], bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((rank for rank, item in enumerate(ranked, start=1) if is_relevant(item)), None)


def recall_and_mrr(first_ranks: Sequence[int | None], cutoffs: Sequence[int] = CUTOFFS) -> dict[str, float]:
    """Recall@k (a relevant item in the top k) and MRR, from each query's first relevant rank."""
    n = len(first_ranks)
    if n == 0:
        return {**{f"recall@{k}": 0.0 for k in cutoffs}, "mrr": 0.0}
    out = {f"recall@{k}": sum(1 for r in first_ranks if r is not None and r <= k) / n for k in cutoffs}
    out["mrr"] = sum(1.0 / r for r in first_ranks if r is not None) / n
    return out


def precision_at_k(relevant_flags: Sequence[Sequence[bool]], k: int) -> float:
    """Mean over queries of the share of the top k that is relevant."""
    if not relevant_flags:
        return 0.0
    return float(np.mean([sum(flags[:k]) / k for flags in relevant_flags]))


def first_rank_odds(runs: list[tuple[int, int]], depth: int) -> dict[int, float]:
    """Each rank's chance, up to ``depth``, of being the first relevant one, over every order of the ties: ``runs``
    are a ranking's runs of tied items as (size, relevant among them), best first. Within the first run holding any
    (``r`` relevant of ``g``, after ``p`` items) the first relevant item lies at ``p + j`` with chance
    C(g - j, r - 1) / C(g, r); a run of one is its rank for certain."""
    placed = 0
    for size, relevant in runs:
        if relevant:
            ways = math.comb(size, relevant)
            last = min(size - relevant + 1, depth - placed)
            return {placed + j: math.comb(size - j, relevant - 1) / ways for j in range(1, last + 1)}
        placed += size
    return {}


def expected_precision(runs: list[list[tuple[int, int]]], k: int) -> float:
    """Mean over queries of the expected share of the top ``k`` that is relevant, over every order of the ties
    (``runs``: each query's runs as ``first_rank_odds`` takes them): a run straddling the cut gives its share of
    relevant items times the places left to it, where the record ids' order gave all or none."""
    if not runs:
        return 0.0
    shares = []
    for query in runs:
        found, placed = 0.0, 0
        for size, relevant in query:
            places = min(size, k - placed)
            if places <= 0:
                break
            found, placed = found + relevant * places / size, placed + places
        shares.append(found / k)
    return float(np.mean(shares))


def tied_runs(items: list, sizes: list[int] | None, gold: set) -> list[tuple[int, int]]:
    """A ranking's runs of tied items as (size, relevant among them), best first: ``sizes`` gives each run's length
    in ``items``' order; None: no ties, each item a run of its own."""
    sizes = sizes if sizes is not None else [1] * len(items)
    starts = np.cumsum([0, *sizes]).tolist()
    return [
        (size, sum(item in gold for item in items[at : at + size])) for at, size in zip(starts[:-1], sizes, strict=True)
    ]


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else 0.0
