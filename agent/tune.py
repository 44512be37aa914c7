"""Fitting the offline answerer's feature weights, and scoring them held out (pure functions).

The weights are those of a conditional logit (softmax over a question's options of ``design(features) @ w``:
a plain question's features, which option each picks and, when the options are statements, the features again;
or for a negated one a single feature against each option), fit by Newton's method with a small L2 penalty: its
probabilities are the answer's confidence, so fitting them also calibrates it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from pathatlas.agent.scoring import NEGATED_BY, design, open_confidence

Columns = int | Sequence[int]
"""The feature column(s) a negated question is scored by (``scoring.design``)."""


def question_fingerprint(text: str, options: Sequence[str]) -> str:
    """A question known by its words, not by its file's name or its id: its stem and its options (in any order, as a
    shuffled copy asks them), each NFKC-normalised, case-folded and with whitespace collapsed, hashed (sha256, 10 hex
    digits)."""
    words = [" ".join(unicodedata.normalize("NFKC", str(t)).casefold().split()) for t in (text, *options)]
    return hashlib.sha256("\n".join([words[0], *sorted(words[1:])]).encode()).hexdigest()[:10]


FITTED_ON = frozenset(
    """
    00647c607a 00e2e6b94b 00f718e628 010614dbcc 015937bdc7 01681ac611 02f5cd64f6 0369d88a54 049a4af55c 0683e64eed
    069a1b9efc 07492a597a 07e9abc80a 086bdc830f 08c64e4221 08d7a21f03 0933743ee3 09348f24fa 0976f3351d 0988118480
    0a8865bc8e 0b9c79673a 0ca20b6d39 0ce735f4cc 0dfe1eb124 0e35e1c44c 103434fdb0 12336a37a4 12bfc9e381 13229af187
    133f667c61 137eb70c4b 140626835a 1486e9ea73 14a0a3b2a3 16767b7c0e 16a6a324db 173649d8d7 176f79a956 19b34e0ad9
    19d6ccd156 1abb9a3979 1b635c3d91 1cc2e917d4 1d6c3b3558 1d9dcb0d8f 1f4c683189 20743d7e5a 20cdf8532b 213dd98753
    2311184a84 24022ddb00 2422dbd05a 2544afbc9b 254e3094b7 2559c8b49a 25cfff5be0 25d98c935d 26dd1d02c4 27002461de
    2727d3553d 284e0894ba 29e11898a6 2a567828c4 2ad8cc64df 2b8e2e442c 2ba1e10fec 2bc2c4724d 2c08df2247 2e36cb91e6
    2e7082131b 2f055ca672 2f24d0a535 2f76aa3942 300ae5c3f0 30175ca400 30eccdadd8 3106a328e8 314958af3a 329a6a9d0a
    3391021162 344b302983 353b53778d 35717779f5 3647d44883 380316afca 3912d1317b 39fbb7dce3 3a12d478fe 3ad6cf7b6b
    3b08d2e380 3bb6a832e9 3c9b269b08 3cb4f5c3e4 3d14887913 3ecdd6628d 3f72c27f28 402d9dfcfc 40759f7f2d 41d89a5d59
    41e3b242fe 422a986514 424d608b4a 4283776605 429717fe31 42b288e3a2 43e50fd933 440d5faea8 44268039c5 44d9572fba
    451f0cddf0 46a23e724b 47c66abf4a 484f28df77 49743dbfa0 499d4ea49f 49c56750b8 4a6edb2329 4aa3d2cf3d 4af2beebd3
    4b34b06ae3 4b51ab00ad 4bff02d387 4d5f3e77c1 4ebcc8beeb 4fc34390fd 509b0bb610 52270de94b 5324e2c71c 53686bcc25
    53fa685ebc 541e7b2b3f 54299b4658 568c602a5c 56ab791899 56d619a853 56da3fda5d 5831191f5f 59eb5a4a05 5a533d895f
    5a77823c12 5c2a58e903 5d94c20436 5ea58cff7f 5ee096500f 5f437a52f4 5fc2efd3d0 605021e535 60bb751a78 60db5dc7ca
    6192bb16b7 62111badea 62453a4da3 627f53f2eb 62992d2eb9 63bf923be0 63db3ba910 648c70cff7 64f2fb2203 6502aae301
    65674872b6 65806379ea 661ef042c9 6723185f59 67693ef010 67830801bf 67f6bdea9f 688709922d 68a5072dde 68a7a1f136
    6b80e03768 6c326be526 6cab113eb2 6e9879b8b2 6f4303b869 6f5de8ea98 6f7bb893ba 70e833f1e0 7139585f19 72322c6622
    73da2b925b 7572b70c0a 768298c9c3 76926b6d9f 77c593a016 784afb1380 79e61541a8 7c1f284655 7c3e0017d5 7d1ba5d91a
    7f52da77e5 7f985c6a61 7f9e313384 7ffad7c7bb 801c488c97 8020baeb94 80313bbd6b 80eec66c79 81764e2c57 828b005e80
    8426651138 86ba12d161 870ba5b30a 8a870279b8 8b186a6536 8b93e151a1 8bd98ce1bf 8ce7ac290f 8cfe6094f2 8d9d559291
    90cc4b4291 90f5b23114 9366d678f5 93713f49a0 9404df1cfb 94cede9128 9679967ff2 975302aa1c 97645f511c 97a7c0e14b
    97abec2cd1 98cf4a5bab 9b9ed51d4a 9cb2e9dbc7 9cec22bcc9 9d57aa7823 9e7c43dfd6 9fbfe4e44f a2ace1facb a382739ba8
    a3cf17b73c a4f1734f95 a6300d5240 a6b2d9c955 a726d14f93 a74bad376e a7aa36207c a7ade5fca4 a829a44a5d a88e8ea800
    a8b7abfc9f a92e0d4bad abd897fc06 abed3fb367 ac8255dc45 aca3692f96 ad88ccb856 adf17b3e94 adf231b3a5 ae8ea662eb
    b181e49f35 b26dd756ba b4a8539b33 b5cd008a7e b61d24b6d7 b64175381a b6a7bcd4fd b7869221b8 b8afa02dd5 b8ce32d471
    b915840b5d b9e2e515f6 baa793df8a bc5a82c987 bca2ef6b8a bce391ec9b bd2d22afb2 bd52ce4837 bdcb6472aa bde5686e41
    be0658b2df be52aed200 be5bdc3c85 bf80afdbb9 bfc84b9bca c122e8ec7d c13f9cfa59 c2696e0b2e c26fd6076f c2c59eaa35
    c513264d1e c587503c1d c638329bdb c7c9ad5c86 c9279616b4 cb7d47c2c6 cbb66748cf cd97b29852 cdde04d743 ced1a59c50
    cf89570a7a cfbe634e13 d0b61c1e64 d471b83935 d4a0501bff d50ff992d7 d570e16fcc d5afda4f7c d61eadce4f d68b3fd50a
    d7c57dc8e0 d7f1ea7bf1 d7ff951a08 d91783fa0e db3feddc28 dcf4b40a0c e0172ea3a8 e0f172ba09 e0f266c4e2 e160c58acd
    e2b540b82f e3a4e2b4bf e4022f7f9c e4023da09f e41bb06929 e42f442557 e5af5dac01 e7471789e8 e76aa1a965 e779f320c7
    e7a48cc93b e8445a09ae e8791612c5 e936c61975 e997d87f4c edd2d277de efd70473df f07e1cc25c f23d838dec f26b1dc490
    f3286b8ddc f36a15c8dd f38e2d6041 f514db9e4f f6bd6a57a7 f78165bbc0 f7f6793e83 f804532bf6 f8d16affd5 fa97f85f69
    fa99856ccd faa8cafe35 fbe9a19846 fc359d576a fc35b2c44b fd1578c9ce fff6552ed9
    """.split()  # noqa: SIM905 - 347 fingerprints read best as words
)
"""``question_fingerprint`` of each question the offline answerer's shipped weights (``scoring.WEIGHTS``,
``ONE_SEARCH_WEIGHTS``, ``OPEN_CONFIDENCE``) were fitted on: the 347 A&P dev questions (openstax_ap2e/mcq_dev.jsonl,
sha256 d8ee621a...). ``bench qa`` counts a run's questions among them to say its figures are in-sample, whatever the
file is called; weights fitted on other questions ship those questions' fingerprints."""


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
