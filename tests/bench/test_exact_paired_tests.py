"""Exact chance rows and exact paired tests in ``bench retrieval``.

Chance was a mean of 50 random rankings, noisy in its third decimal, and contradicted itself: R@1 0.003 beside P@10
0.008 where both are r/G for a random order. A random ranking is one tie of the whole gallery, so its figures are that
tie's expected values. The paired tests were Student's t on per-query scores: 5 questions gained and none lost gave p
0.02 ("significant") where the exact sign test gives 0.0625. Scores of 0 or 1 now take the exact McNemar test, others
(MRR, a recall over tied scores) the paired randomization test, and every p says which test gave it."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from pathatlas.retrieval.bench.common import CURVE_K, chance, compare_runs
from pathatlas.retrieval.metrics import EXACT_FLIPS, EXACT_MCNEMAR, exact_mcnemar_p, sign_flip_p
from tests.bench.test_bench_tied_precision import RED, label_task, slides

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries


def test_the_exact_sign_test_gives_the_hand_computed_p():
    assert exact_mcnemar_p(5, 0) == exact_mcnemar_p(0, 5) == 2 / 2**5  # 0.0625
    assert exact_mcnemar_p(1, 0) == 1.0 and exact_mcnemar_p(0, 0) == 1.0 and exact_mcnemar_p(4, 4) == 1.0
    assert exact_mcnemar_p(9, 2) == 2 * (55 + 11 + 1) / 2**11  # 0.0654


def paired(gained: int, lost: int, same: int) -> tuple[list[str], list[set], dict[str, list[list]]]:
    """Questions whose gold ``a`` the default ranks first: ``gained`` the other ranks second, ``lost`` the default
    ranks second and the other first, ``same`` both rank first."""
    shapes = [(["a"], ["x", "a"])] * gained + [(["x", "a"], ["a"])] * lost + [(["a"], ["a"])] * same
    ids = [f"q{n}" for n in range(len(shapes))]
    return ids, [{"a"}] * len(shapes), {"mine": [m for m, _ in shapes], "other": [o for _, o in shapes]}


@pytest.mark.parametrize(
    ("gained", "lost", "same", "p"), [(5, 0, 20, 0.0625), (1, 0, 30, 1.0), (9, 2, 30, 2 * 67 / 2**11)]
)
def test_a_0_1_score_is_compared_by_the_exact_mcnemar_test_on_the_questions_that_differ(gained, lost, same, p):
    """Student's t gave 5 gained of 25 p 0.02 and 1 gained of 31 p 0.32."""
    recall = compare_runs(*paired(gained, lost, same), "mine")["other"]["recall@1"]
    assert (recall["p"], recall["test"]) == (pytest.approx(p), EXACT_MCNEMAR)
    assert recall["significant"] is False
    assert recall["default"] - recall["other"] == pytest.approx((gained - lost) / (gained + lost + same))


def test_mrr_and_a_recall_over_tied_scores_take_the_randomization_test_exact_up_to_20_differing():
    """MRR: 5 questions gained 1 - 1/2, the flips of five alike differences reach the observed sum twice in 32.
    A tie of ten with five relevant gives each question recall@1 1/2: fractional, so the randomization test."""
    mrr = compare_runs(*paired(5, 0, 20), "mine")["other"]["mrr"]
    assert (mrr["p"], mrr["test"]) == (pytest.approx(2 / 32), EXACT_FLIPS)
    ids, gold = ["q1", "q2", "q3", "q4"], [{"r0"}, {"r0"}, {"r0"}, {"r0"}]
    tied = [["r0", *(f"x{n}" for n in range(9))]] * 3 + [["x0", "r0"]]
    ranked = {"mine": [["r0"]] * 4, "bm25": tied}
    got = compare_runs(ids, gold, ranked, "mine", ties={"bm25": [[10]] * 3 + [[1, 1]]}, depth=10)["bm25"]
    assert (got["recall@1"]["bm25"], got["recall@1"]["test"]) == (pytest.approx((3 / 10) / 4), EXACT_FLIPS)
    assert got["recall@1"]["p"] == pytest.approx(2 / 16)  # four differences of one sign: 2 flips of 16 reach it


def test_more_than_20_differing_queries_take_100000_seeded_flips_near_the_exact_p():
    differences = np.array([0.5] * 22 + [-0.5] * 8 + [0.0] * 10)  # +-1/2: the sign test on 22 of 30
    p, test = sign_flip_p(differences)
    assert test == "randomization (100,000 flips, seed 0)" and sign_flip_p(differences) == (p, test)
    assert p == pytest.approx(binomtest(22, 30).pvalue, abs=0.002)  # 0.016, within five standard errors


@hyp_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=20))
def test_on_0_1_scores_the_exact_randomization_test_is_the_exact_mcnemar_test(pairs):
    mine, theirs = np.array(pairs, float).T
    gained, lost = int(np.sum(mine > theirs)), int(np.sum(mine < theirs))
    assert sign_flip_p(mine - theirs) == (pytest.approx(exact_mcnemar_p(gained, lost), rel=1e-12), EXACT_FLIPS)
    if gained + lost:
        assert exact_mcnemar_p(gained, lost) == pytest.approx(binomtest(gained, gained + lost).pvalue, rel=1e-9)


RECIPROCAL_GAINS = st.tuples(st.integers(1, 12), st.integers(1, 12)).map(
    lambda ab: Fraction(1, ab[0]) - Fraction(1, ab[1])
)
"""One question's MRR difference between two methods: 1/a - 1/b."""


@hyp_settings(max_examples=150, deadline=None)
@given(st.lists(RECIPROCAL_GAINS, max_size=12))
def test_the_exact_randomization_p_is_the_share_of_every_sign_flip_reaching_the_observed_sum(differences):
    """Counted in exact fractions over all 2**n flips, as the definition reads."""
    observed = abs(sum(differences))
    flips = list(itertools.product((1, -1), repeat=len(differences)))
    reaching = sum(abs(sum(s * d for s, d in zip(signs, differences, strict=True))) >= observed for signs in flips)
    p, test = sign_flip_p(np.array([float(d) for d in differences]))
    assert (p, test) == (pytest.approx(reaching / len(flips)), EXACT_FLIPS)


def recall_at(size: int, relevant: int, k: int) -> float:
    """A relevant item among the first ``k`` of a random order: one minus all ``k`` drawn from the others."""
    return 1 - math.comb(size - relevant, k) / math.comb(size, k) if k <= size else float(relevant > 0)


def mean_reciprocal_rank(size: int, relevant: int, depth: int) -> float:
    """The first relevant rank's reciprocal (none below ``depth``) over every placing of the relevant items."""
    placings = list(itertools.combinations(range(1, size + 1), relevant))
    return sum(1 / min(p) for p in placings if min(p) <= depth) / len(placings) if relevant else 0.0


@hyp_settings(max_examples=150, deadline=None)
@given(st.integers(1, 14).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size))), st.integers(1, 14))
def test_chance_is_the_expected_value_of_a_random_order(gallery, depth):
    size, relevant = gallery
    got = chance(size, [relevant], mrr_depth=depth, precision_at=tuple(range(1, size + 1)))
    assert got["recall@1"] == pytest.approx(relevant / size)
    for k in range(1, size + 1):
        assert got[f"precision@{k}"] == pytest.approx(relevant / size), k
    for k in (5, 10):
        assert got[f"recall@{k}"] == pytest.approx(recall_at(size, relevant, k)), k
    assert got["curve"] == pytest.approx([recall_at(size, relevant, k) for k in range(1, CURVE_K + 1)])
    assert got["mrr"] == pytest.approx(mean_reciprocal_rank(size, relevant, depth))


def test_chance_over_a_large_gallery_has_the_closed_forms_and_averages_its_queries():
    """One relevant of G: MRR is the harmonic number H_G / G (H_d / G cut at d); R@k 1 - C(G - r, k) / C(G, k)."""
    harmonic = sum(1 / n for n in range(1, 1090))
    one = chance(1089, [1])
    assert (one["recall@1"], one["mrr"]) == (pytest.approx(1 / 1089), pytest.approx(harmonic / 1089))
    assert chance(1089, [1], mrr_depth=10)["mrr"] == pytest.approx(sum(1 / n for n in range(1, 11)) / 1089)
    many = chance([1089, 998], [299, 3], precision_at=(10,))
    assert many["recall@10"] == pytest.approx((recall_at(1089, 299, 10) + recall_at(998, 3, 10)) / 2, rel=1e-12)
    assert (many["recall@1"], many["precision@10"]) == (pytest.approx((299 / 1089 + 3 / 998) / 2),) * 2


def test_an_image_tasks_chance_row_has_r_over_g_at_recall_1_and_precision_10(tmp_path, fast):
    """Twelve slides, four of diagnosis x: each query's gallery is the other eleven, 3 or 7 of them its diagnosis."""
    rows = [(f"s{n}", (20 * n, 0, 0) if n else RED, "x" if n < 4 else "y") for n in range(12)]
    body = label_task(slides(tmp_path / "slides", rows), fast)
    want = (4 * 3 / 11 + 8 * 7 / 11) / 12
    assert body["n"] == 12 and body["methods"]["chance"]["recall@1"] == pytest.approx(want)
    assert body["methods"]["chance"]["precision@10"] == pytest.approx(want)
    tests = {test["test"] for row in body["significance"].values() for test in row.values()}
    assert tests and tests <= {EXACT_MCNEMAR, EXACT_FLIPS}
