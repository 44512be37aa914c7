"""Tied scores in the benches' paired tests, TREC runs and per-question ranks, and in ``--names``' BM25 row.

LC25000's tiles of a class share one text, so BM25 ties them, and the record ids decided their order: a tie of ten,
five of them relevant, gave R@1 and P@5 1.0 with the relevant ids first and 0.0 with them last. ``--image-words``
counted such a tie at its expected value in its table, but its paired tests, per-question first ranks and TREC runs
still took the id order, and ``--names``' BM25 row took it everywhere."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pytest

from pathatlas.retrieval.bench.common import compare_runs, first_ranks
from pathatlas.retrieval.bench.names import Named, evaluate, whole_ties
from pathatlas.retrieval.bench.trec import run_text, write_trec
from pathatlas.retrieval.metrics import expected_first_rank
from tests.helpers import run_cli
from tests.test_bench_names import library  # noqa: F401  (the fixture: a case folder and a book, indexed)

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

GOLD = {f"r{n}" for n in range(5)}
RELEVANT_FIRST = [f"r{n}" for n in range(5)] + [f"x{n}" for n in range(5)]
"""Ten records tied, five relevant: by id order the relevant come first (``RELEVANT_FIRST``) or last (reversed)."""
ORDERS = (RELEVANT_FIRST, RELEVANT_FIRST[::-1])


def test_a_paired_test_compares_a_tied_row_at_its_expected_value_whatever_the_id_order():
    ids, gold, default = ["q1", "q2", "q3", "q4"], [GOLD] * 4, [["r0", "x0"]] * 4
    for order in ORDERS:
        got = compare_runs(ids, gold, {"mine": default, "bm25": [order] * 4}, "mine", ties={"bm25": [[10]] * 4})
        recall = got["bm25"]["recall@1"]
        assert (recall["default"], recall["bm25"]) == (1.0, pytest.approx(0.5))
        assert recall["p"] == 2 / 2**4, "every question gained 0.5 over the tie: the sign test"
        assert "expected value" in recall["ties"]
    by_id = compare_runs(ids, gold, {"mine": default, "bm25": [RELEVANT_FIRST] * 4}, "mine")["bm25"]["recall@1"]
    assert (by_id["bm25"], by_id["p"]) == (1.0, 1.0) and "ties" not in by_id  # the id order: no difference at all


def over_orders(size: int, relevant: int, score) -> float:
    """``score`` of the first relevant rank, averaged over every placing of ``relevant`` items among ``size`` tied:
    the expected value, counted the long way."""
    placings = list(itertools.combinations(range(1, size + 1), relevant))
    return sum(score(min(places)) for places in placings) / len(placings)


def test_a_tied_row_paired_t_test_is_on_each_question_expected_score_with_mrr_cut_at_the_depth():
    """Ties of ten with five relevant, four with one, two with two and thirty with one, against a row with every
    question right at rank 1."""
    gold = [GOLD, {"r0"}, {"r0", "r1"}, {"r0"}]
    tied = [RELEVANT_FIRST, ["r0", "x0", "x1", "x2"], ["r0", "r1"], ["r0", *(f"x{n}" for n in range(29))]]
    shapes = [(10, 5), (4, 1), (2, 2), (30, 1)]
    got = compare_runs(
        ["a", "b", "c", "d"],
        gold,
        {"mine": [["r0"]] * 4, "bm25": tied},
        "mine",
        ties={"bm25": [[s] for s, _ in shapes]},
        depth=10,
    )["bm25"]
    top = [over_orders(size, relevant, lambda rank: rank == 1) for size, relevant in shapes]
    assert top == pytest.approx([0.5, 0.25, 1.0, 1 / 30])
    assert (got["recall@1"]["p"], got["recall@1"]["test"]) == (pytest.approx(0.25), "randomization (exact)")
    mrr = [over_orders(size, relevant, lambda rank: 1 / rank if rank <= 10 else 0) for size, relevant in shapes]
    assert got["mrr"]["bm25"] == pytest.approx(sum(mrr) / 4)  # a first relevant item below rank 10 counts as none
    assert (got["mrr"]["p"], got["mrr"]["test"]) == (pytest.approx(0.25), "randomization (exact)")


def test_a_question_first_rank_in_an_open_tie_is_its_expected_rank_and_a_certain_one_stays_whole():
    for order in ORDERS:
        assert first_ranks([order], [GOLD], [[10]]) == [pytest.approx(over_orders(10, 5, float))]  # 11/6
    assert first_ranks([RELEVANT_FIRST, RELEVANT_FIRST[::-1]], [GOLD, GOLD]) == [1, 6]  # untied: as ranked
    assert expected_first_rank([(2, 0), (3, 3), (4, 1)]) == 3  # a tie of relevant items alone: its first, surely
    assert isinstance(expected_first_rank([(2, 0), (3, 3)]), int) and expected_first_rank([(5, 0)]) is None


def test_a_trec_run_gives_a_tie_one_score_and_holds_all_of_it(tmp_path):
    """trec_eval orders equal scores by document id, so a run written with falling scores in id order would let it
    reproduce the id order's figures as if the ranker had ranked them; one score a tie says it did not."""
    ranked = [["a", *RELEVANT_FIRST, "b"], ["c"]]
    lines = [line.split() for line in run_text(["q1", "q2"], ranked, "bm25", [[1, 10, 1], [1]]).splitlines()]
    assert [line[2] for line in lines] == [*ranked[0], "c"]  # every item, in the ranking's order
    assert [line[3] for line in lines] == [str(rank) for rank in range(1, 13)] + ["1"]
    assert [line[4] for line in lines] == ["12"] + ["11"] * 10 + ["1", "1"]
    assert run_text(["q2"], [["a", "b"]], "dense").split("\n")[:2] == ["q2 Q0 a 1 2 dense", "q2 Q0 b 2 1 dense"]
    gold = [GOLD, {"c"}]
    written = write_trec(
        tmp_path, ["q1", "q2"], gold, {"bm25": ranked}, [0, 1], ["bm25"], ties={"bm25": [[1, 10, 1], [1]]}
    )
    fold0 = next(path for path in written if path.name == "bm25.fold0.trec").read_text().splitlines()
    assert {line.split()[4] for line in fold0[1:11]} == {"11"}  # a fold's run keeps its queries' ties


def named_bench(order: list[str]) -> dict:
    """``--names``' figures of one query whose BM25 ties ten records, five relevant, in ``order``; the default ranks
    a relevant record first, then the others, untied."""
    queries = [Named("lung adenocarcinoma", frozenset(GOLD), {}), Named("colon", frozenset({"c"}), {})]
    ranked = {"hybrid": [sorted(GOLD), ["c"]], "bm25": [order, ["c"]]}
    return evaluate(queries, ranked, 100, ("recall@1", "recall@10", "precision@10"), ties={"bm25": [[10], [1]]})


def test_names_bm25_row_counts_its_tie_at_the_expected_value_in_its_figures_test_and_ranks():
    for order in ORDERS:
        body = named_bench(order)
        assert body["methods"]["bm25"]["recall@1"] == pytest.approx((0.5 + 1) / 2)
        assert body["methods"]["bm25"]["precision@10"] == pytest.approx((0.5 + 0.1) / 2)
        assert body["significance"]["bm25"]["recall@1"]["bm25"] == pytest.approx(0.75)
        assert body["per_question"][0]["first_relevant_rank"] == {"hybrid": 1, "bm25": pytest.approx(11 / 6)}
        assert body["ties"]["queries_with_ties"] == {"bm25": 1} and "trec_eval" in body["ties"]["how"]


class Tied:
    """A searcher whose every query finds 50 records: two apart, then 48 tied; it returns the first ``k``."""

    index = SimpleNamespace(lexical=range(50))

    def search_many(self, queries):
        scores = [3.0, 2.0] + [1.0] * 48
        return [[SimpleNamespace(id=f"d{n}", score=s) for n, s in enumerate(scores[: q.k])] for q in queries]


def test_a_tie_at_the_cut_is_searched_again_whole():
    from pathatlas.retrieval.search import Query

    hits, runs = whole_ties(Tied(), [Query(text="lung", k=21)], lambda _, found: found[1:])  # one left out
    assert len(hits[0]) == 49 and runs == [[1, 48]]


class FewMatches(Tied):
    """``Tied`` in an index of 10,000 records, recording how deep each search asked."""

    index = SimpleNamespace(lexical=range(10_000))

    def __init__(self):
        self.asked = []

    def search_many(self, queries):
        self.asked += [q.k for q in queries]
        return super().search_many(queries)


def test_a_tie_at_the_cut_is_searched_twice_as_deep_until_its_matches_end():
    """A search for every record of the index took 16-59 s where the first took 2 s; and once a search finds fewer
    than it asked, every match is found: no deeper search finds more."""
    from pathatlas.retrieval.search import Query

    searcher = FewMatches()
    hits, runs = whole_ties(searcher, [Query(text="lung", k=21)])
    assert searcher.asked == [21, 42, 84] and len(hits[0]) == 50 and runs == [[1, 1, 48]]


def test_names_bench_says_how_ties_count_and_writes_them_with_one_score(library, tmp_path):  # noqa: F811
    """Twelve cases of benign lung tissue share one text: BM25 ties them, and its TREC run says so."""
    out = tmp_path / "out.json"
    args = ["bench", "retrieval", "--names", "--index", library / "cases", "--json", out, "--runs", tmp_path / "runs"]
    result = run_cli(*args, home=library / "home")
    assert result.exit_code == 0, result.output
    task = json.loads(out.read_text())["tasks"]["diagnosis_to_cases"]
    assert task["ties"]["queries_with_ties"]["bm25"] >= 1 and "expected value" in task["ties"]["how"]
    lines = (tmp_path / "runs" / "diagnosis_to_cases.bm25.trec").read_text().splitlines()
    benign = [line.split() for line in lines if line.startswith("benign%20lung%20tissue ")]
    assert len(benign) >= 12 and len({line[4] for line in benign[:12]}) == 1
