"""Fitting the offline answerer's feature weights, and scoring them held out (pure functions).

The weights are those of a conditional logit (softmax over a question's options of ``design(features) @ w``:
a plain question's features, which option each picks and, when the options are statements, the features again;
or for a negated one a single feature against each option), fit by Newton's method with a small L2 penalty: its
probabilities are the answer's confidence, so fitting them also calibrates it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from pathatlas.agent.questions import unlabelled
from pathatlas.agent.scoring import NEGATED_BY, design, open_confidence

Columns = int | Sequence[int]
"""The feature column(s) a negated question is scored by (``scoring.design``)."""


BLANK = re.compile(r"(?:_(?:\s*_)*|\(blank\)|\[blank\]|\.\.\.)\.?")
"""A blank to fill as question files write it, with the full stop after it if any: a run of underscores of any length
("_____", "________", "_ _ _"), "(blank)", "[blank]" or an ellipsis ("...", and "…" once NFKC-normalised): "is a(n)
________." and "is a(n) ..." ask alike."""


def question_fingerprint(text: str, options: Sequence[str]) -> str:
    """A question known by its words, not by its file's name or its id: its stem and its options (in any order, as a
    shuffled copy asks them, and without labels: ``unlabelled``), each NFKC-normalised, case-folded, with every blank
    (``BLANK``) one "_" and whitespace collapsed, hashed (sha256, 10 hex digits): a copy with shorter blanks or
    labelled options is the same question."""
    words = [
        " ".join(BLANK.sub(" _ ", unicodedata.normalize("NFKC", str(t)).casefold()).split())
        for t in (text, *unlabelled(options))
    ]
    return hashlib.sha256("\n".join([words[0], *sorted(words[1:])]).encode()).hexdigest()[:10]


FITTED_ON = frozenset(
    """
    00647c607a 00f718e628 01f75e8fe1 02f5cd64f6 0369d88a54 049a4af55c 06854d69df 069a1b9efc 07e9abc80a 086bdc830f
    08d7a21f03 0933743ee3 09348f24fa 0976f3351d 0988118480 0a8865bc8e 0b9c79673a 0ce735f4cc 0dfe1eb124 0e35e1c44c
    0e7107b5ac 0fbe49044e 103434fdb0 1120a7e093 12336a37a4 12bfc9e381 13229af187 140626835a 1413d9232d 147a639756
    14a0a3b2a3 15e651fc5d 16767b7c0e 16a6a324db 173649d8d7 17d351d030 197005d36b 19b34e0ad9 1a00db427e 1a4ac4e39c
    1abb9a3979 1abbb68a11 1d6c3b3558 1d9dcb0d8f 1f4c683189 20743d7e5a 20cdf8532b 213dd98753 2311184a84 23d7bcd216
    24022ddb00 24223440ab 2422dbd05a 24255abaf8 254e3094b7 2559c8b49a 25d98c935d 26c3993c21 26dd1d02c4 27002461de
    2727d3553d 284e0894ba 2a725c6196 2aa1ffc0f3 2ba1e10fec 2bc2c4724d 2c5503b17d 2e36cb91e6 2f055ca672 2f252d0687
    2f76aa3942 30175ca400 3106a328e8 314958af3a 314a2d386a 321968e0e0 3267a4968d 33135273dd 3391021162 33b9a4d26e
    353b53778d 35717779f5 35b447b994 3647d44883 379427e14b 380316afca 383ea04451 3912d1317b 39fbb7dce3 3b08d2e380
    3bb6a832e9 3c83f7c442 3c9b269b08 3d14887913 3ea0452bc5 3ecdd6628d 3f72c27f28 402d9dfcfc 4037aee917 40759f7f2d
    4283776605 44268039c5 446c34ed6f 4520f150c6 4525d638d7 48fb7b7911 49743dbfa0 49c56750b8 4af2beebd3 4b34b06ae3
    4b51ab00ad 4bff02d387 4c5cde5dd4 4d5f3e77c1 4ebcc8beeb 4fc34390fd 4fd6be675a 509b0bb610 515a53615b 5173d06a05
    52270de94b 52d6c3b279 5324e2c71c 5359ba7328 53686bcc25 53fa685ebc 541e7b2b3f 568c602a5c 56ab791899 56d619a853
    5831191f5f 5888e03d8e 59eb5a4a05 5b2a04adcf 5bdd9ea3cc 5c2a58e903 5d94c20436 5ea58cff7f 5ec332b8aa 5f437a52f4
    60352a61bd 60bb751a78 61324a0bf5 6192bb16b7 61e0ff99bf 62111badea 64f2fb2203 65806379ea 6606cef0ea 661ef042c9
    668de4bdfa 67693ef010 688709922d 68a5072dde 68a7a1f136 68efd8134e 69c1fd090a 6b7e0db218 6c326be526 6cab113eb2
    6f5de8ea98 6f7bb893ba 6fb9689abc 6ff1288eee 70430a8d1e 70e833f1e0 7139585f19 71b5a25322 71c75fa795 71f1ce446e
    720ab6fd43 72322c6622 73da2b925b 74cb431b59 7572b70c0a 766f42b1fb 76d170e668 778f999921 77c593a016 784afb1380
    78b7238cb2 795aa6819b 7981e8069d 7aaad69438 7c1f284655 7c3e0017d5 7ddaa22f34 7f985c6a61 7f9e313384 7ffad7c7bb
    80d72b4694 82c58d3369 82df4cccbe 8426651138 84c433d6c3 858b15871a 866246ab0d 86ba12d161 870ba5b30a 88e4b7b481
    8b186a6536 8b7e199552 8bd98ce1bf 8bf8c68308 8ce7ac290f 8d9d559291 90cc4b4291 92c32db778 9366d678f5 93713f49a0
    9404df1cfb 94cede9128 952ed4dc05 9679967ff2 97a7c0e14b 97abec2cd1 991fdf5b4c 99295eedfc 9a83ee890e 9cb2e9dbc7
    9e7c43dfd6 9fbfe4e44f a0eea9ccc6 a2ace1facb a382739ba8 a3cf17b73c a490358c16 a60e49696d a6300d5240 a7ade5fca4
    a925f0796e a92e0d4bad a9c6ca3883 abbdc7f758 abed3fb367 ac8255dc45 ad69afd8b8 adf231b3a5 afdb83a652 b181e49f35
    b1d16a7246 b26dd756ba b38caa1a41 b3be5542ad b3f42408bf b4a8539b33 b5cd008a7e b6197d71f0 b61d24b6d7 b64175381a
    b6da47d876 b7065b49b8 b7869221b8 b82d5b350c b8ce32d471 b9d64f293b ba8f4cef8f bab2b84fa1 bc0fb49909 bca2ef6b8a
    bd2d22afb2 bd822325bc bda6f0d186 bdcb6472aa bde5686e41 be52aed200 be5bdc3c85 bf3af8b541 c00780eac8 c122e8ec7d
    c2c59eaa35 c31fd67852 c513264d1e c587503c1d c629626a80 c638329bdb c7c9ad5c86 cda1aa884b ced1a59c50 cf89570a7a
    cfbe634e13 d0b61c1e64 d2fbec3ab1 d41286c288 d471b83935 d50ff992d7 d570e16fcc d58a4bc6c6 d5afda4f7c d61eadce4f
    d6f92bdbb8 d7f1ea7bf1 d7ff951a08 d885d58041 d892c11a85 d91783fa0e da2ab3319f da44e027dc db3feddc28 db56a44d25
    dcf4b40a0c e0065ed7ea e0172ea3a8 e0f172ba09 e0f266c4e2 e3c5e7c887 e4022f7f9c e415912dd8 e41bb06929 e42f442557
    e4b34e35f1 e5af5dac01 e5bd8b87ee e779f320c7 e7c376d4b9 e9010ccd69 e91f3d1ea8 e936c61975 e991080f0c e997d87f4c
    ec4f3edfdb ecf01b1566 ee3b922ad8 efacdd9312 efd70473df f1ac4ef1b4 f23d838dec f26b1dc490 f36a15c8dd f4d60a468f
    f514db9e4f f6bd6a57a7 f78165bbc0 f7f6793e83 f804532bf6 f831fa824c f8d16affd5 fb0359112d fbe9a19846 fc359d576a
    fc35b2c44b fc363ec99c fc3cda7665 fd03f633df fd1578c9ce fd98248ceb fddf6e0976
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


def cross_validate(rows: Sequence[Row], fold_of: Sequence[int], negated_by: Columns = NEGATED_BY) -> dict:
    """Weights fit on all folds but one, scored on that one: held-out accuracy, negated accuracy, ECE, and each
    question's held-out choice (``chosen``: the option's index as asked)."""
    correct: dict[str, float] = {}
    chosen: dict[str, int] = {}
    confidence: dict[str, float] = {}
    weights = []
    for fold in sorted(set(fold_of)):
        train = [r for r, f in zip(rows, fold_of, strict=True) if f != fold]
        w = fit_weights(train, negated_by)
        weights.append([round(float(v), 3) for v in w])
        for r, f in zip(rows, fold_of, strict=True):
            if f == fold:
                p = probabilities(r, w, negated_by)
                chosen[r.id] = int(np.argmax(p))
                correct[r.id] = float(chosen[r.id] == r.gold)
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
        "chosen": chosen,
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
