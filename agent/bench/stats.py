"""Paired differences between two modes' scores over the same questions, with their intervals."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from pathatlas.retrieval.metrics import sign_tail, wilson


def paired_bootstrap(a: list[float], b: list[float], samples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Mean of a - b over the same questions (``n``, at least one), with a 95% interval from resampling questions
    (paired)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    return {
        "n": int(diff.size),
        "difference": float(diff.mean()),
        "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
        "p_not_better": float((means <= 0).mean()),
    }


def newcombe_paired(a: list[float], b: list[float]) -> dict[str, Any]:
    """Mean of a - b over the same questions scored 1 or 0 (``n``, at least one), with Newcombe's 95% interval for
    paired proportions (his method 10: each mode's Wilson interval, joined by the correlation of the pairs), and the
    one-sided exact McNemar p of "a is not better". Unlike resampling it stays wide for a handful of questions: one
    question gained gives about -0.12 to +1.00, not the bootstrap's +1.00 to +1.00."""
    n = len(a)
    pairs = Counter(zip(a, b, strict=True))
    both, gained, lost, neither = pairs[1.0, 1.0], pairs[1.0, 0.0], pairs[0.0, 1.0], pairs[0.0, 0.0]
    p1, p2 = sum(a) / n, sum(b) / n
    (l1, u1), (l2, u2) = wilson(int(sum(a)), n), wilson(int(sum(b)), n)
    phi = pair_correlation(both, gained, lost, neither)
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    changed = gained + lost
    return {
        "n": n,
        "difference": p1 - p2,
        "ci95": [max(-1.0, low), min(1.0, high)],
        "p_not_better": sign_tail(gained, changed),
    }


def pair_correlation(both: int, gained: int, lost: int, neither: int) -> float:
    """The correlation of paired right/wrong scores as Newcombe's method 10 joins the two Wilson intervals: a positive
    cross product (both * neither - gained * lost) less n/2, and 0 where that leaves nothing; 0 where a margin is empty.
    Without the n/2 every question answered alike by both modes would read as perfect correlation, and the interval
    would collapse: 8 questions, none changed, would give +0.000 (+0.000 to +0.000)."""
    margins = (both + gained) * (lost + neither) * (both + lost) * (gained + neither)
    if not margins:
        return 0.0
    cross = both * neither - gained * lost
    if cross > 0:
        cross = max(0.0, cross - (both + gained + lost + neither) / 2)
    return cross / math.sqrt(margins)


def paired(mine: dict[str, float], theirs: dict[str, float]) -> dict[str, Any] | None:
    """Two modes' scores compared by question id over the questions both answered: ``newcombe_paired`` when every
    score is 1 or 0, else (token recall) ``paired_bootstrap``. None when they share no question (a difference of 0 with
    the interval [0, 0] would read as "the same, surely")."""
    common = [i for i in mine if i in theirs]
    if not common:
        return None
    a, b = [mine[i] for i in common], [theirs[i] for i in common]
    return newcombe_paired(a, b) if all(s in (0.0, 1.0) for s in a + b) else paired_bootstrap(a, b)
