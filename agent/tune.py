"""Fitting the offline answerer's feature weights, and scoring them held out (pure functions).

The weights are those of a conditional logit (softmax over a question's options of ``design(features) @ w``:
a plain question's features, which option each picks and, when the options are statements, the features again;
or for a negated one a single feature against each option), fit by Newton's method with a small L2 penalty: its
probabilities are the answer's confidence, so fitting them also calibrates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from pathatlas.agent.scoring import NEGATED_BY, design, open_confidence

Columns = int | Sequence[int]
"""The feature column(s) a negated question is scored by (``scoring.design``)."""


class Row(NamedTuple):
    """One question as the fit sees it."""

    id: str
    group: str
    """Its chapter (folds keep a chapter whole)."""
    features: np.ndarray
    """FEATURES matrix of its options (``scoring.option_features``)."""
    gold: int
    negated: bool
    statements: bool
    """Its options are statements rather than terms."""


def expected_calibration_error(confidences: list[float], correct: list[float], bins: int = 10) -> tuple[float, list]:
    """ECE over equal-width confidence bins, and per bin (low, high, n, mean confidence, accuracy)."""
    conf, right = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table, ece = [], 0.0
    for n, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        inside = (conf >= low) & ((conf < high) if n < bins - 1 else (conf <= high))
        if inside.any():
            gap = abs(conf[inside].mean() - right[inside].mean())
            ece += gap * inside.sum() / max(len(conf), 1)
            table.append([round(low, 2), round(high, 2), int(inside.sum()), conf[inside].mean(), right[inside].mean()])
    return float(ece), table


def fit_weights(rows: Sequence[Row], negated_by: Columns = NEGATED_BY, l2: float = 0.1, steps: int = 30) -> np.ndarray:
    dims = design(rows[0].features, False, negated_by).shape[1]
    w = np.zeros(dims)
    for _ in range(steps):
        gradient, hessian = l2 * w, l2 * np.eye(dims)
        for row in rows:
            x = design(row.features, row.negated, negated_by, row.statements)
            logits = x @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            mean = p @ x
            gradient += mean - x[row.gold]
            hessian += (x * p[:, None]).T @ x - np.outer(mean, mean)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def probabilities(row: Row, w: np.ndarray, negated_by: Columns = NEGATED_BY) -> np.ndarray:
    logits = design(row.features, row.negated, negated_by, row.statements) @ w
    p = np.exp(logits - logits.max())
    return p / p.sum()


def chapter_folds(groups: Sequence[str], folds: int) -> list[int]:
    """Fold of each row: whole groups (chapters) dealt round-robin in sorted order, so no chapter is split."""
    order = {g: n % folds for n, g in enumerate(sorted(set(groups), key=lambda g: (len(g), g)))}
    return [order[g] for g in groups]


def cross_validate(rows: Sequence[Row], fold_of: Sequence[int], negated_by: Columns = NEGATED_BY) -> dict:
    """Weights fit on all folds but one, scored on that one: held-out accuracy, negated accuracy, ECE."""
    correct: dict[str, float] = {}
    confidence: dict[str, float] = {}
    weights = []
    for fold in sorted(set(fold_of)):
        train = [r for r, f in zip(rows, fold_of, strict=True) if f != fold]
        w = fit_weights(train, negated_by)
        weights.append([round(float(v), 3) for v in w])
        for r, f in zip(rows, fold_of, strict=True):
            if f == fold:
                p = probabilities(r, w, negated_by)
                correct[r.id] = float(int(np.argmax(p)) == r.gold)
                confidence[r.id] = float(p.max())
    ids = [r.id for r in rows if r.id in correct]
    negated = [correct[r.id] for r in rows if r.negated]
    ece, bins = expected_calibration_error([confidence[i] for i in ids], [correct[i] for i in ids])
    return {
        "folds": len(weights),
        "accuracy": sum(correct.values()) / len(correct) if correct else 0.0,
        "negated": {"n": len(negated), "accuracy": sum(negated) / len(negated) if negated else None},
        "ece": ece,
        "reliability": bins,
        "weights": weights,
        "all_data_weights": [round(float(v), 3) for v in fit_weights(rows, negated_by)],
        "correct": correct,
    }


class OpenRow(NamedTuple):
    """One open question as the confidence fit sees it: its quoted sentence's coverage and the answer's score."""

    id: str
    group: str
    coverage: float
    score: float
    """Token recall of the right answer (in [0, 1]): the share the confidence should predict."""


def fit_open_confidence(rows: Sequence[OpenRow], l2: float = 0.1, steps: int = 50) -> np.ndarray:
    """(intercept, slope) of a logistic map from coverage to score, fit by Newton's method on the scores as soft
    labels (cross-entropy), so the mapped confidence is the expected score."""
    x = np.array([[1.0, r.coverage] for r in rows])
    y = np.array([r.score for r in rows])
    w = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        step = np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(2), x.T @ (p - y) + l2 * w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def cross_validate_open(rows: Sequence[OpenRow], fold_of: Sequence[int]) -> dict:
    """The open-answer confidence map fit on all folds but one and scored on that one: held-out ECE against the
    answers' scores, beside the ECE of raw coverage (what the confidence was before it was mapped)."""
    confidence: dict[str, float] = {}
    weights = []
    for fold in sorted(set(fold_of)):
        w = fit_open_confidence([r for r, f in zip(rows, fold_of, strict=True) if f != fold])
        weights.append([round(float(v), 3) for v in w])
        for r, f in zip(rows, fold_of, strict=True):
            if f == fold:
                confidence[r.id] = open_confidence(r.coverage, w)
    scores = [r.score for r in rows]
    ece, bins = expected_calibration_error([confidence[r.id] for r in rows], scores)
    return {
        "folds": len(weights),
        "ece": ece,
        "coverage_ece": expected_calibration_error([r.coverage for r in rows], scores)[0],
        "reliability": bins,
        "weights": weights,
        "all_data_weights": [round(float(v), 3) for v in fit_open_confidence(rows)],
    }
