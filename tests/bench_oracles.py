"""Figures by their definitions, written apart from the benches' code, for the tests to hold it to."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from pathatlas.retrieval.bench.common import CURVE_K
from pathatlas.retrieval.metrics import CUTOFFS


def summarise(first_ranks: list[int | None], mrr_depth: int | None = None) -> dict[str, Any]:
    """Recall@1/5/10 (a relevant item in the top k), MRR (MRR@``mrr_depth``: a first relevant item below it counts as
    none) and the recall@k curve to ``CURVE_K``, from each query's first relevant rank (None: none): what a ranking
    without ties scores, summed in query order as the benches sum it, so equal to the last bit."""
    n = len(first_ranks)

    def recall(k: int) -> float:
        return sum(float(rank is not None and rank <= k) for rank in first_ranks) / n if n else 0.0

    depth = mrr_depth or max((rank for rank in first_ranks if rank is not None), default=0)
    reciprocal = sum(1.0 / rank if rank is not None and rank <= depth else 0.0 for rank in first_ranks)
    return {
        **{f"recall@{k}": recall(k) for k in CUTOFFS},
        "mrr": reciprocal / n if n else 0.0,
        "curve": [recall(k) for k in range(1, CURVE_K + 1)],
    }


def flag_figures(flags: list[bool], mrr_depth: int | None = None, precision_at: tuple[int, ...] = ()) -> dict[str, Any]:
    """One ranking's ``summarise`` figures from its relevance flags in rank order, and precision@k (the share of the
    top k that is relevant) at each of ``precision_at``."""
    first = flags.index(True) + 1 if any(flags) else None
    return {**summarise([first], mrr_depth), **{f"precision@{k}": sum(flags[:k]) / k for k in precision_at}}


def mean_figures(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of rankings' figures (``flag_figures``), figure by figure, the curve rank by rank."""
    return {key: np.mean([found[key] for found in figures], axis=0).tolist() for key in figures[0]}


def every_order(sizes: list[int]) -> list[list[int]]:
    """Every order of a ranking's items (positions) that keeps its runs of tied scores (``sizes``) in place, each run
    in each of its orders."""
    starts = np.cumsum([0, *sizes]).tolist()
    runs = [itertools.permutations(range(start, start + size)) for start, size in zip(starts[:-1], sizes, strict=True)]
    return [[p for run in chosen for p in run] for chosen in itertools.product(*runs)]
