"""Ranking metrics as pure functions over ranked lists and a relevance test."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")
CUTOFFS = (1, 5, 10)


def first_relevant_rank(ranked: Sequence[T], is_relevant: Callable[[T], bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((rank for rank, item in enumerate(ranked, start=1) if is_relevant(item)), None)


def recall_and_mrr(first_ranks: Sequence[int | None], cutoffs: Sequence[int] = CUTOFFS) -> dict[str, float]:
    """Recall@k (a relevant item in the top k) and MRR, from each query's first relevant rank."""
    return expected_recall_and_mrr([{rank: 1.0} if rank is not None else {} for rank in first_ranks], cutoffs)


def expected_recall_and_mrr(
    chances: Sequence[dict[int, float]], cutoffs: Sequence[int] = CUTOFFS, depth: int | None = None
) -> dict[str, float]:
    """Recall@k and MRR (MRR@``depth`` where given) from each query's ``first_rank_chances``: their expected values
    where tied scores leave the order open, the plain figures where each first rank is certain."""
    n = len(chances)
    if n == 0:
        return {**{f"recall@{k}": 0.0 for k in cutoffs}, "mrr": 0.0}
    depth = depth or max((rank for ranks in chances for rank in ranks), default=0)
    out = {f"recall@{k}": sum(hit_chance(ranks, k) for ranks in chances) / n for k in cutoffs}
    out["mrr"] = sum(expected_reciprocal_rank(ranks, depth) for ranks in chances) / n
    return out


def first_rank_chances(runs: list[tuple[int, int]], depth: int) -> dict[int, float]:
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


def hit_chance(chances: dict[int, float], k: int) -> float:
    """A query's chance (``first_rank_chances``) of a relevant item in its top ``k``: its expected recall@k."""
    return sum(p for rank, p in chances.items() if rank <= k)


def expected_reciprocal_rank(chances: dict[int, float], depth: int) -> float:
    """A query's expected reciprocal rank over its ``first_rank_chances``, a first relevant item below ``depth``
    counting as none: its expected MRR@depth."""
    return sum(p / rank for rank, p in chances.items() if rank <= depth)


def expected_share(runs: list[tuple[int, int]], k: int) -> float:
    """A query's expected share of its top ``k`` that is relevant, over every order of its ties (``runs`` as
    ``first_rank_chances`` takes them): a run straddling the cut gives its share of relevant items times the places left
    to it, where the record ids' order gave all or none."""
    found, placed = 0.0, 0
    for size, relevant in runs:
        places = min(size, k - placed)
        if places <= 0:
            break
        found, placed = found + relevant * places / size, placed + places
    return found / k


def expected_precision(runs: list[list[tuple[int, int]]], k: int) -> float:
    """Mean over queries of ``expected_share``: precision@k at its expected value over every order of the ties."""
    return float(np.mean([expected_share(query, k) for query in runs])) if runs else 0.0


def expected_first_rank(runs: list[tuple[int, int]]) -> int | float | None:
    """The rank of a query's first relevant item (``runs`` as ``first_rank_chances`` takes them): an int where it is
    certain (a run of one, or of relevant items alone), else its expected value over the orders of its tie, ``p +
    (g + 1) / (r + 1)`` for ``r`` relevant of ``g`` tied after ``p`` items (a fraction, as 1.5 for one of two);
    None when no run holds one."""
    placed = 0
    for size, relevant in runs:
        if relevant:
            return placed + 1 if relevant == size else placed + (size + 1) / (relevant + 1)
        placed += size
    return None


def tie_runs(scores: Sequence[Hashable]) -> list[int]:
    """The lengths of a ranking's runs of equal scores, in order: what ``tied_runs`` takes as ``sizes``. A score may be
    a tuple, as (verified, fused score), where more than one number orders the ranking."""
    return [len(list(run)) for _, run in itertools.groupby(scores)]


def moved_runs(sizes: list[int], order: Sequence[int]) -> list[int]:
    """The runs of tied scores (``tie_runs``) a ranking keeps once its items move to ``order`` (their positions before,
    in their new order), as the diagnosis vote moves an image query's hits: tied items left side by side stay tied;
    a run the move split stays split, as the order it was given put it."""
    run_of = [n for n, size in enumerate(sizes) for _ in range(size)]
    return tie_runs([run_of[position] for position in order])


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
