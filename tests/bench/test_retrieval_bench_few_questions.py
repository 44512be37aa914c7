"""``bench retrieval`` on a researcher's few questions: a paired p where Student's t is undefined is the sign test's,
not ranx's 0 ("significant" from two questions) or nan (two identical methods)."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.bench.common import compare_runs

GOLD = [{"a"}, {"b"}]


def test_two_questions_both_gained_are_not_significant():
    ranked = {"mine": [["a", "x"], ["b", "x"]], "other": [["x", "a"], ["x", "b"]], "same": [["a", "x"], ["b", "x"]]}
    result = compare_runs(["q1", "q2"], GOLD, ranked, "mine")
    gained = result["other"]["recall@1"]
    assert (gained["default"], gained["other"], gained["p"], gained["significant"]) == (1.0, 0.0, 0.5, False)
    assert result["other"]["mrr"]["p"] == 0.5, "both questions' MRR rose by the same 0.5"
    assert result["other"]["recall@5"]["p"] == 1.0, "nothing differs at 5"
    assert {m["p"] for m in result["same"].values()} == {1.0}, "an identical method: p 1, not nan"


def test_differences_that_vary_take_the_exact_randomization_test():
    """Two questions differ, by +1/2 and +1/12: of the four sign flips of those differences, two give a mean as far
    from zero (both signs kept, both flipped), so p 0.5, exactly, where Student's t assumed normal differences."""
    gold = [{"a"}, {"b"}, {"c"}]
    ranked = {"mine": [["a"], ["b"], ["x", "y", "c"]], "other": [["x", "a"], ["b"], ["x", "y", "z", "c"]]}
    mrr = compare_runs(["q1", "q2", "q3"], gold, ranked, "mine")["other"]["mrr"]
    assert (mrr["p"], mrr["test"]) == (pytest.approx(0.5), "randomization (exact)")
