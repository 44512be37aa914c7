"""Ranking metrics as pure functions over ranked lists and a relevance test."""

from __future__ import annotations

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


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else 0.0
