"""One tie-aware precision, and tied scores that do not fall by record id in the image, page and peer benches.

Precision@k came two ways: ``precision_at_k`` over relevance flags, used by the image bench, and ``expected_precision``
over runs of tied scores. The image bench took its rankings' order as given, so two identical images at a query's top
scored recall@1 1.0 or 0.0 by which of them the file listed first; text to page and the peers did the same with pages
BM25 or dense scored alike, and ``--names`` with its dense row. Every bench now scores a tie at its expected value over
its orders, from the scores the ranking had, and where nothing ties its figures are the ranking's own."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from PIL import Image

from pathatlas.retrieval.bench import names
from pathatlas.retrieval.bench.common import CURVE_K, tied_figures
from pathatlas.retrieval.bench.images import ImageSet, cross_modal, fuse, image_to_image
from pathatlas.retrieval.bench.pages import Candidates, evaluate
from pathatlas.retrieval.bench.peers import OURS, scored
from pathatlas.retrieval.datasets import MCQ, ImageItem
from pathatlas.retrieval.fusion import FEATURES, Ranker
from pathatlas.retrieval.metrics import expected_share, first_relevant_rank, ruled_ways, tie_runs
from pathatlas.retrieval.search import SPECIMEN
from tests.bench_oracles import summarise
from tests.indexer.test_incremental_cases import PixelEncoder

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

RUNS = st.lists(st.integers(1, 6).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size))), max_size=8)
"""A ranking as runs of tied items, (size, relevant among them), best first."""


def orders_of(runs: list[tuple[int, int]]) -> list[list[bool]]:
    """Every order of the ranking's ties, as relevance flags in rank order: each placing of each run's relevant items
    among its places (the orders of alike items give no other flags)."""
    placings = [itertools.combinations(range(size), relevant) for size, relevant in runs]
    return [
        [place in chosen for (size, _), chosen in zip(runs, choice, strict=True) for place in range(size)]
        for choice in itertools.product(*placings)
    ]


def order_count(runs: list[tuple[int, int]]) -> int:
    return math.prod(math.comb(size, relevant) for size, relevant in runs)


def plain_figures(flags: list[bool]) -> dict[str, float]:
    """One ranking's figures from its flags, by their definitions: recall@k (a relevant item in the top k), reciprocal
    rank over every rank, precision@k (the share of the top k that is relevant)."""
    first = flags.index(True) + 1 if any(flags) else None
    recall = {f"recall@{k}": float(first is not None and first <= k) for k in (1, 5, 10)}
    precision = {f"precision@{k}": sum(flags[:k]) / k for k in (1, 5, 10)}
    return {**recall, "mrr": 1 / first if first else 0.0, **precision}


@hyp_settings(max_examples=150, deadline=None)
@given(RUNS.filter(lambda runs: order_count(runs) <= 2000), st.integers(1, 12))
def test_expected_precision_over_a_tie_is_the_mean_precision_over_every_order_of_it(runs, k):
    orders = orders_of(runs)
    assert expected_share(runs, k) == pytest.approx(np.mean([sum(flags[:k]) / k for flags in orders]))


@hyp_settings(max_examples=150, deadline=None)
@given(RUNS.filter(lambda runs: order_count(runs) <= 2000))
@example([(6, 0), (6, 0), (6, 0), (3, 0), (2, 1)])  # the first relevant item at rank 22 or 23
def test_a_tied_rankings_figures_are_the_mean_of_its_orders_plain_figures(runs):
    """Recall, MRR over every rank (a first relevant item below the curve's 20 ranks counts too) and precision."""
    flags = [place < relevant for size, relevant in runs for place in range(size)]  # relevant first in each run
    items = list(range(len(flags)))
    gold = {item for item, relevant in zip(items, flags, strict=True) if relevant}
    got = tied_figures([items], [gold], [[size for size, _ in runs]], precision_at=(1, 5, 10))
    every = [plain_figures(order) for order in orders_of(runs)]
    assert {metric: got[metric] for metric in every[0]} == pytest.approx(
        {metric: np.mean([figures[metric] for figures in every]) for metric in every[0]}
    )


@hyp_settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.booleans(), max_size=30), min_size=1, max_size=5))
def test_without_ties_the_figures_are_exactly_the_flag_based_ones(relevant_flags):
    """What ``summarise`` of the first relevant ranks and ``precision_at_k`` over the flags gave, to the last bit."""
    ranked = [list(range(len(flags))) for flags in relevant_flags]
    gold = [{n for n, relevant in enumerate(flags) if relevant} for flags in relevant_flags]
    scores = [[-float(n) for n in range(len(flags))] for flags in relevant_flags]  # falling: no two alike
    got = tied_figures(ranked, gold, [tie_runs(row) for row in scores], precision_at=(10,))
    ranks = [first_relevant_rank(flags, bool) for flags in relevant_flags]
    flag_based = float(np.mean([sum(flags[:10]) / 10 for flags in relevant_flags]))  # precision_at_k as it was
    assert {k: v for k, v in got.items() if k != "ci95"} == {**summarise(ranks), "precision@10": flag_based}
    assert tied_figures(ranked, gold, None, precision_at=(10,)) == got


def moved(sizes: list[int], order: list[int]) -> tuple[list[int], list[int]]:
    """The one way a rule that reads no run's order falls (``ruled_ways``): the items moved to ``order``."""
    (way,) = ruled_ways(sizes, [None] * sum(sizes), [False] * len(sizes), lambda given: [(given[p], 0) for p in order])
    return way


def test_a_move_keeps_a_tie_it_leaves_side_by_side_and_a_split_stays_split():
    assert moved([1, 3, 2], [0, 2, 1, 3, 4, 5]) == ([0, 2, 1, 3, 4, 5], [1, 3, 2])  # moved within its tie
    assert moved([1, 3, 2], [0, 1, 4, 2, 3, 5]) == ([0, 1, 4, 2, 3, 5], [1, 1, 1, 2, 1])  # a hit put inside the tie
    assert moved([], []) == ([], [])


def test_image_fusion_ties_ranks_swapped_between_two_spaces_of_one_weight_but_never_a_verified_candidate():
    assert fuse({"visual": [0, 1, 2], "joint": [1, 0, 2]}, {"visual": 1.0, "joint": 1.0}, k=60) == ([0, 1, 2], [2, 1])
    # 4 / (2 + 2) + 1 / (2 + 1) == 4 / 3: alike in score, but the verified candidate ranks first for certain
    assert fuse({"a": [2, 1], "b": [1]}, {"a": 4.0, "b": 1.0}, k=2) == ([2, 1], [2])
    assert fuse({"a": [2, 1], SPECIMEN: [1]}, {"a": 4.0, SPECIMEN: 1.0}, k=2) == ([1, 2], [1, 1])


def solid(colour: tuple[int, int, int], path: Path) -> Path:
    Image.new("RGB", (64, 64), colour).save(path)
    return path


RED, ORANGE, BLUE, GREEN = (255, 0, 0), (255, 128, 0), (0, 0, 255), (0, 160, 0)


def slides(folder: Path, rows: list[tuple[str, tuple[int, int, int], str]]) -> list[ImageItem]:
    """Atlas images (each a case of its own, not a tile) of one colour each: (name, colour, diagnosis)."""
    folder.mkdir(exist_ok=True)
    return [ImageItem(solid(colour, folder / f"{name}.png"), [label], name, label) for name, colour, label in rows]


def same_label(a: ImageItem, b: ImageItem) -> bool:
    return a.label == b.label


def label_task(items: list[ImageItem], settings, runs: Path | None = None) -> dict:
    return image_to_image(
        ImageSet(items, PixelEncoder(settings), settings, "all"), same_label, "label", ("visual",), runs
    )["label"]


VISUAL = ("visual", "visual+specimen", "visual+specimen+majority")
"""The rows the pixel encoder ranks (plain-knn is a real model's)."""


def test_two_identical_images_at_a_querys_top_score_their_expected_value_whichever_the_file_lists_first(tmp_path, fast):
    """Orange ``a`` (diagnosis x) and ``b`` (y) are one picture: red ``q`` and blue ``c`` (both x) find them tied at
    the top, so recall@1 is 1/2 for each; ``a`` finds ``b`` first, then ``q``. By the files' order it was 2/3 or 0."""
    q, a, b, c = ("q", RED, "x"), ("a", ORANGE, "x"), ("b", ORANGE, "y"), ("c", BLUE, "x")
    first = label_task(slides(tmp_path / "ab", [q, a, b, c]), fast, tmp_path / "runs")
    second = label_task(slides(tmp_path / "ba", [q, b, a, c]), fast)
    for method in VISUAL:
        assert first["methods"][method] == second["methods"][method], method
    visual = first["methods"]["visual"]
    assert first["n"] == 3 and visual["recall@1"] == pytest.approx(1 / 3)
    assert visual["mrr"] == pytest.approx((0.75 + 0.5 + 0.75) / 3) and visual["precision@10"] == pytest.approx(0.2)
    assert first["ties"]["queries_with_ties"]["visual"] == 2
    assert "expected value" in first["significance"]["visual"]["recall@1"]["ties"]
    lines = [line.split() for line in (tmp_path / "runs" / "label.visual.trec").read_text().splitlines()]
    assert [(line[2], line[4]) for line in lines if line[0] == "q.png"][:2] == [("a.png", "3"), ("b.png", "3")]


def test_where_no_score_ties_the_image_figures_are_the_flag_based_ones_of_its_trec_runs(tmp_path, fast):
    rows = [("q", RED, "x"), ("a", ORANGE, "x"), ("b", GREEN, "y"), ("c", BLUE, "y")]
    body = label_task(slides(tmp_path / "slides", rows), fast, tmp_path / "runs")
    assert "ties" not in body and not any(
        "ties" in test for row in body["significance"].values() for test in row.values()
    )
    qrels = [line.split() for line in (tmp_path / "runs" / "qrels.label.txt").read_text().splitlines()]
    for method in VISUAL:
        lines = [line.split() for line in (tmp_path / "runs" / f"label.{method}.trec").read_text().splitlines()]
        queries = list(dict.fromkeys(line[0] for line in lines))
        flags = [
            [(query, line[2]) in {(r[0], r[2]) for r in qrels} for line in lines if line[0] == query]
            for query in queries
        ]
        ranks = [first_relevant_rank(found, bool) for found in flags]
        flag_based = float(np.mean([sum(found[:10]) / 10 for found in flags]))
        figures = {k: v for k, v in body["methods"][method].items() if k != "ci95"}
        assert figures == {**summarise(ranks), "precision@10": flag_based}, method


def test_a_caption_finds_two_identical_figure_images_at_their_expected_value_whichever_the_file_lists_first(
    tmp_path, fast
):
    """Figures ``a`` and ``b`` are one picture under two captions, ``c`` another under ``a``'s: every caption ranks
    ``a`` and ``b`` tied, and two captions of three find ``a``."""
    a, b, c = ("a", ORANGE, "alpha"), ("b", ORANGE, "beta"), ("c", BLUE, "alpha")
    found = []
    for name, rows in (("ab", [a, b, c]), ("ba", [b, a, c])):
        figures = slides(tmp_path / name, rows)
        encoder = PixelEncoder(fast)
        found.append(cross_modal(figures, ImageSet(figures, encoder, fast, "all"), encoder)["text_to_image"])
    ranked = [{name: figures for name, figures in task["methods"].items() if name != "chance"} for task in found]
    assert ranked[0] == ranked[1]  # chance draws its ranks in the queries' order
    assert found[0]["ties"]["queries_with_ties"]["joint"] == 3


PAGES = [("book.pdf", page) for page in (1, 2, 3)]


def tied_pages(gold_first: bool) -> Candidates:
    """Three pages: the first two alike to BM25 (one of them gold), each ranked apart by dense."""
    features = np.zeros((3, len(FEATURES)))
    features[:, FEATURES.index("bm25")] = [2.0, 2.0, 1.0]
    features[:, FEATURES.index("dense")] = [0.9, 0.8, 0.7]
    gold = PAGES[0 if gold_first else 1]
    return Candidates(PAGES, features, np.array([page == gold for page in PAGES]), [None] * 3, {gold})


def test_text_to_page_counts_pages_bm25_scores_alike_at_their_expected_value_whichever_comes_first():
    items = [
        MCQ("q1", "question", ["a", "b"], "A", chapter="one"),
        MCQ("q2", "question", ["a", "b"], "A", chapter="two"),
    ]
    for gold_first in (True, False):
        result = evaluate(items, [tied_pages(gold_first)] * 2, 3, 10, 0, Ranker({"dense": 1.0}, "dense"))
        bm25 = result["methods"]["bm25"]
        assert (bm25["recall@1"], bm25["mrr"]) == (pytest.approx(0.5), pytest.approx(0.75))
        assert [q["first_relevant_rank"]["bm25"] for q in result["per_question"]] == [1.5, 1.5]
        assert result["ties"]["queries_with_ties"] == {"bm25": 2}  # dense ranks every page apart: not a tied row
        assert "ties" in result["significance"]["bm25"]["mrr"] and "ties" not in result["significance"]["dense"]["mrr"]
        assert result["methods"]["dense"]["recall@1"] == float(gold_first)  # by its own scores


def test_the_peers_table_counts_our_ties_and_takes_a_peers_order_as_it_ranked():
    p1, p2 = PAGES[:2]
    ranked = {OURS: [[p1, p2], [p1, p2]], "bm25": [[p2, p1], [p2, p1]], "peer": [[p2, p1], [p2, p1]]}
    table = scored(["q1", "q2"], [{p1}, {p1}], ranked, 3, 10, {"bm25": [[2], [2]]})
    assert [table["methods"][name]["recall@1"] for name in ranked] == [1.0, 0.5, 0.0]
    assert table["ties"]["queries_with_ties"] == {"bm25": 2}


def hit(record: str, score: float) -> SimpleNamespace:
    return SimpleNamespace(id=record, score=score, payload=SimpleNamespace(source="cases", page=None))


class Ranked:
    """A searcher whose every query finds ``scores`` (records r0, r1, ...), the first ``k`` of them."""

    index = SimpleNamespace(lexical=range(40))

    def __init__(self, scores: list[float]):
        self.scores = scores

    def search_many(self, queries):
        return [[hit(f"r{n}", s) for n, s in enumerate(self.scores[: q.k])] for q in queries]


def test_names_counts_dense_ties_as_it_counts_bm25s_and_leaves_a_row_without_ties_as_ranked():
    """Records of one text get one dense score as they get one BM25 score."""
    tied = [3.0, *[1.0] * 30]
    methods = {"hybrid": (Ranked([float(-n) for n in range(40)]), ()), "dense": (Ranked(tied), ("dense",))}
    ranked, ties = names.ranked_by(methods, [names.Named("benign", frozenset({"r5"}), {})], names.found)
    assert ties == {"dense": [[1, 30]]} and len(ranked["dense"][0]) == 31 and len(ranked["hybrid"][0]) == CURVE_K
