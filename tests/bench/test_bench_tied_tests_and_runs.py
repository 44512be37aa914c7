"""Tied scores in the benches' paired tests, TREC runs and per-question ranks, and in ``--names``' BM25 row.

LC25000's tiles of a class share one text, so BM25 ties them, and the record ids decided their order: a tie of ten,
five of them relevant, gave R@1 and P@5 1.0 with the relevant ids first and 0.0 with them last. ``--image-words``
counted such a tie at its expected value in its table, but its paired tests, per-question first ranks and TREC runs
still took the id order, and ``--names``' BM25 row took it everywhere."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.retrieval.bench.common import CURVE_K, compare_runs, first_ranks, plot_curves, tied_figures
from pathatlas.retrieval.bench.images import voted_ranking
from pathatlas.retrieval.bench.names import Named, evaluate, whole_ties
from pathatlas.retrieval.bench.pages import Candidates, ranked_pages
from pathatlas.retrieval.bench.trec import run_text, write_trec
from pathatlas.retrieval.bench.words import METRICS, MRR_DEPTH, chance_figures
from pathatlas.retrieval.fusion import FEATURES, Ranker, majority_next, sections_first
from pathatlas.retrieval.metrics import SAMPLED_WAYS, expected_first_rank, ruled_ways, tie_runs
from pathatlas.ui.bench_crash import make_pdf
from tests.bench.test_bench_gold_books_and_refusals import index_of, mcq, write_rows
from tests.bench.test_bench_names import library  # noqa: F401  (the fixture: a case folder and a book, indexed)
from tests.bench.test_bench_tied_precision import label_task, slides
from tests.bench_oracles import every_order, flag_figures, mean_figures, summarise
from tests.helpers import run_cli

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


def test_a_row_without_ties_is_paired_question_by_question_with_a_tied_row_whatever_the_ids_order():
    """ranx scores questions in sorted-id order, a tied row in the file's: paired so, "q3" met "q1". Here the default
    ranks the gold one place higher on every question than a tied row whose ties record moves nothing, so every
    question gains: the exact sign test's least p (one question lost or none gained, when paired wrongly)."""
    ids = ["q3", "q1", "q2", "q10", "q4", "q5"]
    misses = [f"x{n}" for n in range(7)]
    mine = [misses[:n] + ["r0"] for n in range(6)]
    theirs = [misses[: n + 1] + ["r0"] for n in range(6)]
    ties = {"bm25": [[1] * (n + 2) for n in range(6)]}
    got = compare_runs(ids, [GOLD] * 6, {"mine": mine, "bm25": theirs}, "mine", ties=ties)
    assert got["bm25"]["mrr"]["p"] == 2 / 2**6


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


# Ties a rule after the scores reads or splits: the sections' first pages, the diagnosis vote --------------------------


def book_pages(rows: list[tuple[str | None, float, bool]]) -> Candidates:
    """Pages 1, 2, ... of one book, each (its section, its dense score, gold or not)."""
    keys = [("book.pdf", page) for page in range(1, len(rows) + 1)]
    features = np.zeros((len(rows), len(FEATURES)))
    features[:, FEATURES.index("dense")] = [score for _, score, _ in rows]
    gold = np.array([relevant for _, _, relevant in rows], bool)
    sections = [("book.pdf", section) if section else None for section, _, _ in rows]
    return Candidates(
        keys, features, gold, sections, {key for key, relevant in zip(keys, gold, strict=True) if relevant}
    )


DENSE = Ranker({"dense": 1.0}, "dense")
PRECISION_AT = (1, 5, 10)


def sectioned_figures(candidates: Candidates, per_section: int) -> dict:
    """The figures text to page gives the default's ranking of these pages (``ranked_pages``)."""
    pages, ties = ranked_pages(candidates, DENSE, CURVE_K, per_section)
    return tied_figures([pages], [candidates.relevant], [ties], precision_at=PRECISION_AT)


def every_sectioned_order(candidates: Candidates, per_section: int) -> dict:
    """The mean figures of the pages put through ``sections_first`` in every order of their tied scores."""
    scores = candidates.features[:, FEATURES.index("dense")]
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    figures = []
    for positions in every_order(tie_runs(scores[order].tolist())):
        pages = [order[p] for p in positions]
        shown = [pages[j] for j in sections_first([candidates.sections[p] for p in pages], per_section)]
        figures.append(flag_figures([bool(candidates.gold[p]) for p in shown], precision_at=PRECISION_AT))
    return mean_figures(figures)


def assert_same_figures(got: dict, expected: dict) -> None:
    """The figures alike, their intervals aside (``ci95``, which brute force over orders does not give)."""
    got, expected = ({k: v for k, v in d.items() if k != "ci95"} for d in (got, expected))
    assert got.keys() == expected.keys()
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value), metric


def test_a_tie_the_sections_rule_splits_is_two_runs_where_the_rule_decides_which_comes_first():
    """Pages 2 and 3 tie; 3 opens its section and shows first, 2 follows its section's page 1 after every first page:
    page 3 ranks second for certain. Their equal scores kept them one run: rank 2 or 3, MRR 5/12."""
    candidates = book_pages([("a", 2.0, False), ("a", 1.0, False), ("b", 1.0, True)])
    figures = sectioned_figures(candidates, per_section=1)
    assert figures["mrr"] == 0.5 and figures["recall@1"] == 0.0 and figures["curve"][1] == 1.0
    assert_same_figures(figures, every_sectioned_order(candidates, per_section=1))


@pytest.mark.parametrize("gold_first", [True, False])
def test_which_of_a_sections_tied_pages_shows_first_counts_at_its_expected_value(gold_first):
    """Pages 1 and 2 of one section tie, one of them gold; the section shows one page first, then page 3 of another,
    then the other page: the gold page is first or third, each half the time. The order the ranker listed them in gave
    R@1 1.0 or 0.0."""
    tied = [("a", 1.0, gold_first), ("a", 1.0, not gold_first)]
    figures = sectioned_figures(book_pages([*tied, ("b", 0.5, False)]), per_section=1)
    assert figures["recall@1"] == pytest.approx(0.5) and figures["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert figures["precision@1"] == pytest.approx(0.5) and figures["curve"][2] == pytest.approx(1.0)


PAGE_ROWS = st.lists(
    st.tuples(st.sampled_from([None, "a", "b"]), st.sampled_from([0.0, 1.0, 2.0]), st.booleans()),
    min_size=1,
    max_size=7,
)


def orders_count(scores: list[float]) -> int:
    return math.prod(math.factorial(count) for count in Counter(scores).values())


@hyp_settings(max_examples=150, deadline=None)
@given(PAGE_ROWS.filter(lambda rows: 0 < orders_count([score for _, score, _ in rows]) <= 720), st.sampled_from([1, 2]))
def test_the_sections_rule_scores_every_tie_at_the_mean_over_its_orders(rows, per_section):
    candidates = book_pages(rows)
    assert_same_figures(sectioned_figures(candidates, per_section), every_sectioned_order(candidates, per_section))


VOTED_ROWS = st.lists(
    st.tuples(st.sampled_from([None, "x", "y"]), st.sampled_from([0, 1, 2, 3]), st.booleans()), min_size=1, max_size=9
)


@hyp_settings(max_examples=200, deadline=None)
@given(
    VOTED_ROWS.filter(lambda rows: orders_count([score for _, score, _ in rows]) <= 720), st.sampled_from([2, 3, 10])
)
@example([("x", 3, False)] * 4 + [("y", 2, True), ("x", 2, False)] + [("x", 1, False)] * 3, 10)  # tie at the fifth
@example([("x", 3, False)] * 2 + [("y", 2, False), ("x", 2, True), ("y", 2, False)] + [("y", 1, False)] * 2, 3)
def test_the_diagnosis_vote_scores_every_tie_at_the_mean_over_its_orders(rows, voters):
    """Which tied hit is nearer decides which of them votes, which the vote keeps among the first five, and where a
    hit without a diagnosis stays; ties inside the window the vote moves apart by diagnosis."""
    labels = [label for label, _, _ in rows]
    gold = {n for n, (_, _, relevant) in enumerate(rows) if relevant}
    scores = np.array([score for _, score, _ in rows], float)
    order = sorted(range(len(rows)), key=lambda i: -scores[i])
    sizes = tie_runs(scores[order].tolist())
    ranked, ties = voted_ranking(order, sizes, labels, gold, voters)
    figures = []
    for positions in every_order(sizes):
        hits = [order[p] for p in positions]
        moved = majority_next([labels[hit] for hit in hits], voters)[0]
        figures.append(flag_figures([hits[j] in gold for j in moved], precision_at=PRECISION_AT))
    assert_same_figures(tied_figures([ranked], [gold], [ties], precision_at=PRECISION_AT), mean_figures(figures))


def test_a_tie_at_the_votes_fifth_place_counts_at_its_expected_value_whichever_the_file_lists_first(tmp_path, fast):
    """Red ``q`` (diagnosis y) finds four x slides, then ``a`` (y) and ``b`` (x), one picture, tied at the fifth place,
    then five more x: the nearest vote x, so the one of ``a`` and ``b`` that is fifth stays there and the other is in
    the vote's window, where ``b`` stays sixth and ``a`` falls below every x. By the files' order ``q`` found ``a``
    fifth, or eleventh."""
    reds = [(f"x{n}", (255, 20 * n, 0), "x") for n in range(1, 11)]
    a, b = ("a", (255, 100, 0), "y"), ("b", (255, 100, 0), "x")
    rows = [("q", (255, 0, 0), "y"), *reds[:4], *[row for row in reds[4:] if row[1][1] != 100]]
    voted = "visual+specimen+majority"
    found = [
        label_task(slides(tmp_path / name, [*rows, *pair]), fast, tmp_path / name / "runs")["methods"][voted]
        for name, pair in (("ab", [a, b]), ("ba", [b, a]))
    ]
    assert_same_figures(found[0], found[1])
    lines = [line.split() for line in (tmp_path / "ab" / "runs" / f"label.{voted}.trec").read_text().splitlines()]
    assert [line[2] for line in lines if line[0] == "q.png"][:6] == [
        "x1.png",
        "x2.png",
        "x3.png",
        "x4.png",
        "a.png",
        "b.png",
    ]


# Gold pages partly outside the index ----------------------------------------------------------------------------------


HELD = "scored on the gold pages it holds"


def test_text_to_page_says_how_many_questions_it_scores_on_part_of_their_gold_pages(hashing_cli):
    """A three-page book asked with gold pages 2-5 was scored on pages 2 and 3, saying nothing."""
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1"))
    inside = [mcq(1, "granuloma", [1, 1]), mcq(2, "necrosis", [3, 3])]
    for rows, said in (([mcq(0, "granuloma", [2, 5]), *inside], 1), (inside, 0)):
        questions = write_rows(hashing_cli / "q.jsonl", rows)
        result = run_cli("bench", "retrieval", "--mcq", questions, "--index", index, "--json", hashing_cli / "r.json")
        assert result.exit_code == 0, result.output
        notes = json.loads((hashing_cli / "r.json").read_text())["tasks"]["text_to_page"]["notes"]
        partial = [note for note in notes if "gold pages the index lacks" in note]
        assert partial == [f"1 of 3 questions have gold pages the index lacks (first 'q0', pages 2-5): {HELD}"] * said
        assert all(note in " ".join(result.output.split()) for note in partial)


# Words beside an image: chance as every bench counts it ---------------------------------------------------------------


def test_image_words_chance_is_the_shared_exact_chance_precision_included():
    """P@k was r / G by hand: the same where G >= k, but over fewer records than k a ranking of them all holds r of
    its k places, as every method's precision counts it (r / k)."""
    queries = [SimpleNamespace(record_id=f"q{n}", payload=SimpleNamespace(image_hash=None)) for n in range(2)]
    found = chance_figures(queries, [{"a", "b", "c"}, {"d"}], 41, {})  # 40 records each, its own left out
    share = (3 / 40 + 1 / 40) / 2
    assert found["precision@5"] == pytest.approx(share) and found["precision@10"] == pytest.approx(share)
    assert found["recall@1"] == pytest.approx(share) and len(found["curve"]) == CURVE_K
    few = chance_figures(queries[:1], [{"a"}], 5, {})  # four records, one relevant
    every = tied_figures([["a", "b", "c", "d"]], [{"a"}], [[4]], MRR_DEPTH, precision_at=(5, 10))
    assert {k: few[k] for k in METRICS} == pytest.approx({k: every[k] for k in METRICS})
    assert few["precision@5"] == pytest.approx(1 / 5)


# The plot: legends off the data, a bar measured at zero marked ------------------------------------------------------


def test_the_plot_keeps_each_legend_off_every_panel_and_marks_a_bar_measured_at_zero(tmp_path, monkeypatch):
    """A legend inside a panel hid the curves it named; a bar at 0.000 has no length and read as not measured."""
    from matplotlib.figure import Figure

    drawn = []

    def laid_out(figure: Figure, *args, **kwargs) -> None:  # the figure as it would be saved, with its renderer
        figure.canvas.draw()
        drawn.append((figure, figure.canvas.get_renderer()))

    monkeypatch.setattr(Figure, "savefig", laid_out)
    curve = [0.5] * CURVE_K
    names = ("visual", "joint", "visual+joint+specimen+majority", "chance")
    values = (0.3, 0.0, 0.4, 0.1)
    methods = {name: {"precision@10": value, "curve": curve} for name, value in zip(names, values, strict=True)}
    body = {"n": 3, "default": names[2], "baselines": ["chance"], "headline": "precision@10", "methods": methods}
    curves_only = {name: {"curve": curve} for name in names}  # no metric but the curve's: no panel of bars
    two = {**body, "headline": None, "methods": curves_only}
    plot_curves({"encoder": "e", "split": "all", "tasks": {"one": body, "two": two}}, tmp_path)
    ((figure, renderer),) = drawn
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.axison]
    legends = [ax.get_legend() for ax in panels if ax.get_legend()]
    assert len(legends) == 2 and len(panels) == 3  # two curve panels, one of bars
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1 and figure.bbox.y0 <= box.y0
        assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in panels)
    bars = next(ax for ax in panels if not ax.get_legend())
    marked = [c for c in bars.collections if c.get_label() == "measured 0"]
    assert [list(point) for c in marked for point in c.get_offsets()] == [[0, 1]]  # joint's row alone
    labels = [text.get_text() for text in bars.texts]
    assert labels[1] == "joint: 0.000 (measured)" and labels[0] == "visual: 0.300"


def test_summarise_is_the_tests_oracle_and_no_bench_code_keeps_it():
    """The benches score every ranking through ``tied_figures``; ``summarise`` of certain first ranks is the tests'
    oracle for rankings without ties (``tests.bench_oracles``)."""
    from pathatlas.retrieval.bench import common

    assert not hasattr(common, "summarise")
    assert summarise([1, None, 4], mrr_depth=3) == {
        "recall@1": 1 / 3,
        "recall@5": 2 / 3,
        "recall@10": 2 / 3,
        "mrr": 1 / 3,
        "curve": [1 / 3, 1 / 3, 1 / 3, *[2 / 3] * (CURVE_K - 3)],
    }


def test_ties_too_many_ways_to_count_are_drawn_at_random_not_scored_in_one_order():
    """Twenty tied hits of twenty kinds fall 20! ways: a sample of orders stands for them, each hit first about as
    often as any other, not the order they came in."""
    ways = ruled_ways([20], list(range(20)), [True], lambda order: [(p, None) for p in order])
    assert len(ways) == SAMPLED_WAYS
    firsts = Counter(positions[0] for positions, _ in ways)
    assert set(firsts) == set(range(20)) and max(firsts.values()) < 3 * SAMPLED_WAYS / 20, firsts
    assert ways == ruled_ways([20], list(range(20)), [True], lambda order: [(p, None) for p in order]), "seeded"
