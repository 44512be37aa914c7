"""``bench retrieval`` as a researcher reads it: a 95% interval beside every figure (JSON and tables), each image
query's first relevant rank per method, a loud warning where few queries were scored, a plot laid out in a grid with
every metric its table reports, and marks and notes that say what they mean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from pathatlas.retrieval.bench.common import PLOT_DPI, below_words, chance, plot_curves, tied_figures
from pathatlas.retrieval.bench.images import ImageSet, cross_modal
from pathatlas.retrieval.bench.pages import untuned_note
from pathatlas.retrieval.fusion import Ranker
from pathatlas.retrieval.metrics import mean_interval
from tests.bench.test_bench_tied_precision import BLUE, GREEN, ORANGE, RED, label_task, slides
from tests.helpers import run_cli
from tests.indexer.test_incremental_cases import ENCODER, PixelEncoder
from tests.retrieval.test_joint import write_shared_layout

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

METRICS = {"recall@1", "recall@5", "recall@10", "mrr", "precision@10"}


# Intervals ----------------------------------------------------------------------------------------------------------


def test_thirteen_of_thirteen_found_is_not_an_interval_of_one_point():
    """0/1 scores take Wilson's interval, which a bootstrap of 13 hits would collapse to [1, 1]."""
    low, high = mean_interval([1.0] * 13)
    assert high == 1.0 and low == pytest.approx(0.772, abs=1e-3)
    assert mean_interval([]) == (0.0, 0.0)


def test_a_bootstrap_interval_holds_its_mean_and_comes_out_the_same_on_a_rerun():
    scores = [0.2, 0.5, 1.0, 0.0, 1 / 3, 0.25, 1.0, 0.5]
    low, high = mean_interval(scores)
    assert low < sum(scores) / len(scores) < high and (low, high) == mean_interval(scores)
    assert high - low < 0.6  # a percentile interval of the mean, not the scores' range


def test_every_figure_of_a_method_and_of_chance_carries_its_interval_around_it():
    ranked = [[1, 2, 3], [4, 5, 1], [9, 8, 7], [3, 1, 2]]
    gold = [{1}, {1}, {3}, {2}]
    for figures in (
        tied_figures(ranked, gold, mrr_depth=10, precision_at=(10,)),
        chance(20, [1, 1, 1, 1], mrr_depth=10, precision_at=(10,)),
    ):
        assert set(figures["ci95"]) == METRICS
        for metric, (low, high) in figures["ci95"].items():
            assert low <= figures[metric] <= high, metric
    assert tied_figures(ranked, gold, mrr_depth=10)["ci95"]["recall@5"][0] < 0.75 < 1.0  # 3 of 4 found: not 0.75


def test_the_table_shows_each_figure_with_its_interval_and_says_how_it_was_reached():
    from pathatlas.ui.bench_cli import retrieval_table

    figures = tied_figures([[1, 2], [2, 1], [3, 1]], [{1}, {1}, {1}], mrr_depth=10)
    body = {"n": 3, "default": "hybrid", "baselines": [], "methods": {"hybrid": figures}}
    console = Console(width=250, record=True)
    console.print(retrieval_table("t", body))
    text = console.export_text()
    assert figures["ci95"]["recall@1"] == pytest.approx([0.0615, 0.7923], abs=1e-4)  # Wilson's, 1 of 3
    row = next(line for line in text.splitlines() if "hybrid" in line)
    assert "0.333 (0.06-0.80)" in row, row  # its ends rounded outwards
    assert "Wilson" in " ".join(text.split()) and "bootstrap" in text


def test_an_interval_shown_to_two_decimals_still_holds_its_figure():
    from pathatlas.ui.bench_cli import figure_cell

    assert figure_cell({"recall@1": 0.007, "ci95": {"recall@1": [0.0061, 0.0079]}}, "recall@1") == "0.007 (0.00-0.01)"
    assert figure_cell({"mrr": 0.974, "ci95": {"mrr": [0.95, 0.99]}}, "mrr") == "0.974 (0.95-0.99)"
    assert figure_cell({"mrr": 0.5}, "mrr") == "0.500" and figure_cell({}, "mrr") == ""


# Per-question rows of the image tasks --------------------------------------------------------------------------------


def test_an_image_task_gives_each_query_its_gold_and_first_relevant_rank_per_method(tmp_path, fast):
    rows = [("q", RED, "x"), ("a", ORANGE, "x"), ("b", GREEN, "y"), ("c", BLUE, "y")]
    body = label_task(slides(tmp_path / "slides", rows), fast)
    by_id = {row["id"]: row for row in body["per_question"]}
    assert len(body["per_question"]) == body["n"] and by_id["q.png"]["gold"] == ["a.png"]
    assert by_id["b.png"]["gold"] == ["c.png"]
    assert set(by_id["q.png"]["first_relevant_rank"]) == set(body["methods"]) - {"chance"}
    mean_first = sum(1 / row["first_relevant_rank"]["visual"] for row in body["per_question"]) / body["n"]
    assert mean_first == pytest.approx(body["methods"]["visual"]["mrr"])  # the rows are the figures' own


def test_a_caption_to_figure_task_gives_each_caption_its_figures_and_ranks(tmp_path, fast):
    figures = slides(tmp_path / "figures", [("a", ORANGE, "alpha"), ("b", BLUE, "beta"), ("c", RED, "alpha")])
    encoder = PixelEncoder(fast)
    task = cross_modal(figures, ImageSet(figures, encoder, fast, "all"), encoder)["text_to_image"]
    by_id = {row["id"]: row for row in task["per_question"]}
    assert by_id["a.png"]["gold"] == ["a.png", "c.png"] and by_id["b.png"]["gold"] == ["b.png"]
    assert all(rank >= 1 for row in task["per_question"] for rank in row["first_relevant_rank"].values())


# A run of few queries, its JSON and its plot -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def held_out_cases(tmp_path_factory) -> dict:
    """``bench retrieval --cases`` on a small drawn atlas without ``--split all``: the held-out split keeps few
    queries. (the CLI's result, its JSON, the plot's figure size in pixels)"""
    from PIL import Image

    root = tmp_path_factory.mktemp("few-cases")
    data = write_shared_layout(root / "data")
    out, plot = root / "out.json", root / "plot.png"
    result = run_cli(
        "bench", "retrieval", "--cases", data / "atlas" / "cases.jsonl", "--json", out, "--plot", plot,
        home=root / "home", PATHATLAS_ENCODER=ENCODER,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"result": result, "json": json.loads(out.read_text()), "size": Image.open(plot).size}


def test_few_held_out_queries_are_warned_of_on_stderr_and_in_the_json(held_out_cases):
    tasks = held_out_cases["json"]["tasks"]
    stderr = " ".join(held_out_cases["result"].stderr.split())
    assert tasks and all(0 < body["n"] < 20 for body in tasks.values()), {t: b["n"] for t, b in tasks.items()}
    for task, body in tasks.items():
        assert body["warnings"] and f"warning: {task}: only {body['n']} queries" in stderr, stderr
        assert body["per_question"] and all("ci95" in figures for figures in body["methods"].values())
    assert "Wilson" in held_out_cases["json"]["intervals"]


def test_a_task_of_enough_queries_has_no_warning():
    from pathatlas.retrieval.bench import warned

    assert "warnings" not in warned({"n": 20}) and warned({"n": 19})["warnings"]


def drawn(monkeypatch, result: dict, tmp_path: Path):
    """The figure ``plot_curves`` draws for ``result``."""
    from matplotlib.figure import Figure

    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_curves(result, tmp_path / "plot.png")
    return figures[0]


def test_six_tasks_are_drawn_three_a_row_with_bars_of_every_metric_no_curve_shows(monkeypatch, tmp_path):
    """Six tasks drew one strip 2772 pixels wide, and a case task's P@10 and MRR had no bars."""
    figures = tied_figures([[1, 2], [2, 1], [3, 1]], [{1}, {1}, {1}], precision_at=(10,))
    case = {"n": 3, "default": "visual", "baselines": [], "methods": {"visual": figures}}
    tasks = {f"task{n}": case for n in range(6)}
    figure = drawn(monkeypatch, {"encoder": "e", "split": "val", "tasks": tasks}, tmp_path)
    width, height = figure.get_size_inches()
    assert width == pytest.approx(3 * 4.2) and height > width / 2  # two rows of three, each curves over bars
    bars = [ax for ax in figure.axes if ax.get_xlabel().startswith("MRR")]  # named as the tables name them
    assert len(bars) == 6 and bars[0].get_xlabel() == "MRR, P@10 (95% intervals)"
    labels = [text.get_text() for text in bars[0].texts]
    assert labels == [f"visual (default): MRR {figures['mrr']:.3f}", f"P@10 {figures['precision@10']:.3f}"]


def test_the_real_plot_of_few_cases_is_no_wider_than_three_panels(held_out_cases):
    width, height = held_out_cases["size"]
    assert width <= 3 * 4.2 * PLOT_DPI and height > 3.6 * PLOT_DPI  # a panel of bars below the curves


# Wording -------------------------------------------------------------------------------------------------------------


def test_a_row_below_one_baseline_on_two_metrics_baseline_names_once():
    assert below_words([("bm25", "recall@5"), ("bm25", "recall@10")]) == "✗ below bm25 on recall@5 and recall@10"
    pairs = [("bm25", "recall@1"), ("bm25", "recall@5"), ("bm25", "mrr"), ("chance", "mrr")]
    assert below_words(pairs) == "✗ below bm25 on recall@1, recall@5 and mrr; chance on mrr"


def test_a_users_ranker_file_is_called_the_ranker_in_use_not_shipped(tmp_path):
    mine = Ranker({"bm25": 1.0}, "mine.json")
    note = untuned_note(mine, tmp_path / "mine.json")
    assert note.startswith(f"the default is the ranker in use (PATHATLAS_RANKER_FILE={tmp_path / 'mine.json'})")
    assert "shipped" not in note and "the shipped ranker" in untuned_note(Ranker.plain())


def test_folds_without_mcq_or_image_words_name_both_options(tmp_path):
    result = run_cli("bench", "retrieval", "--cases", tmp_path / "cases.jsonl", "--folds", "3", home=tmp_path / "h")
    said = " ".join(result.output.split())
    assert result.exit_code != 0 and "--mcq" in said and "--image-words" in said, said
