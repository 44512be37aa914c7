"""A researcher's walkthrough of the benches: progress on the long retrieval tasks, question files whose relative image
paths and shipped keys are told apart, plots worth pasting (a chosen format at 200 dpi, bins and groups showing how
many questions they hold, labels clear of whiskers, metrics named as the tables name them), marks worded alike in
every table, and every mode paired with no-rag as well as rag."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from PIL import Image
from tqdm import tqdm

from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.outcomes import versus_baselines
from pathatlas.agent.bench.plot import BIN_AREA, FEW_IN_BIN, plot_qa
from pathatlas.agent.bench.report import markdown_report
from pathatlas.errors import BadInputError
from pathatlas.retrieval import progress as progress_module
from pathatlas.retrieval.bench import names, peers, words
from pathatlas.retrieval.bench.common import CURVE_K, PLOT_DPI, below_words, label_places, losses, plot_curves
from pathatlas.retrieval.bench.pages import CHAPTER_METRICS, evaluate
from pathatlas.retrieval.fusion import Ranker
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import wilson
from pathatlas.ui.bench_cli import QARequest, chapter_table, qa_table
from tests.bench.test_image_words_bench import case_folder, env
from tests.bench.test_qa_bench_groups import question
from tests.bench.test_retrieval_bench_by_chapter import candidates, rendered
from tests.bench.test_retrieval_bench_by_chapter import question as chapter_question
from tests.helpers import hashing_settings, indexed_book, run_cli
from tests.indexer.test_incremental_cases import ENCODER

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries


# 1. Progress on the long retrieval tasks ------------------------------------------------------------------------------
@pytest.fixture
def bars(monkeypatch) -> list[dict]:
    """Every progress bar the benches open, as the options it was given (drawn nowhere)."""
    opened: list[dict] = []

    def recorded(iterable=None, **options):
        opened.append(options)
        return tqdm(iterable, disable=True, **options)

    for module in (progress_module, words, peers):
        monkeypatch.setattr(module, "progress", recorded)
    return opened


def test_short_searches_move_a_bar_per_method_over_every_query(bars):
    """--labels (716 labels, three forms, three methods), --names and --terms searched for minutes without a sign:
    each method's searches (``names.ranked_by``, which the three share) draw a bar of all their queries."""
    searcher = SimpleNamespace(index=SimpleNamespace(lexical=[]), search_many=lambda asked: [[] for _ in asked])
    queries = [names.Named(f"term {n}", frozenset({n}), {}) for n in range(70)]
    methods = {"hybrid": (searcher, ("bm25", "dense")), "bm25": (searcher, ("bm25",))}
    ranked, _ = names.ranked_by(methods, queries, lambda hit: hit.id, "label_to_figure:fig")
    assert [len(lists) for lists in ranked.values()] == [70, 70]
    assert [(bar["desc"], bar["total"]) for bar in bars] == [
        ("label_to_figure:fig: hybrid", 70),
        ("label_to_figure:fig: bm25", 70),
    ]


def test_words_beside_images_move_a_bar_per_image(bars, tmp_path):
    """--image-words took about 8 minutes without a sign: a bar over the images searched, one over the words alone."""
    result = run_cli("index", case_folder(tmp_path), "--index", tmp_path / "idx", **env(tmp_path))
    assert result.exit_code == 0, result.output
    settings = hashing_settings(tmp_path, index=tmp_path / "idx", encoder=ENCODER)
    with Index.open(tmp_path / "idx", settings) as index:
        body = words.image_words(index, folds=2)[words.TASK]
    images = {row["id"].rsplit(":", 1)[0] for row in body["per_question"]}
    by_unit = {bar.get("unit"): bar for bar in bars}
    assert by_unit["image"]["total"] == len(images) > 1
    assert by_unit["query"] == {"total": body["n"], "desc": f"{words.TASK}: bm25", "unit": "query", "leave": False}


def test_each_peer_moves_a_bar_over_the_questions_it_is_asked(bars):
    """bench peers ran about 7 minutes without a sign: a bar over the peers, and each peer's over its questions."""
    chunks = [peers.Chunk(("book.pdf", page), f"page {page}") for page in (1, 2, 3)]
    questions = [f"question {n}" for n in range(40)]
    in_order = peers.run_peer("in order", lambda texts, model, depth: lambda asked: [[0, 1, 2]] * len(asked), chunks,
                              questions, Path("model"), 10)  # fmt: skip
    assert in_order["ranked"] == [[("book.pdf", 1), ("book.pdf", 2), ("book.pdf", 3)]] * 40
    assert [(bar["desc"], bar["total"], bar["unit"]) for bar in bars] == [("in order: ask", 40, "question")]


# 2. Question files: relative image paths, the shipped files' keys ----------------------------------------------------
def test_a_relative_image_path_that_names_no_file_says_which_folder_it_was_read_from(tmp_path, monkeypatch):
    """``bench qa --questions img30_rel.jsonl`` said "cannot read image atlas/images/BS1-HE1.jpg: No such file or
    directory", not that the path is read from the question file's folder, where the shipped file's images lie."""
    folder = tmp_path / "questions"
    (folder / "atlas").mkdir(parents=True)
    Image.new("RGB", (64, 64), "red").save(folder / "atlas" / "there.png")
    rows = [{"id": f"q{n}", "question": "Which diagnosis?", "options": ["a", "b"], "answer": "A"} for n in range(2)]
    rows[0]["image"], rows[1]["image"] = "atlas/there.png", "atlas/BS1-HE1.jpg"
    (folder / "q.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.chdir(tmp_path)
    items, failures = load_items(Path("questions/q.jsonl"), 10_000_000)
    assert [item.id for item in items] == ["q0"] and items[0].question.image is not None
    assert failures[0]["error"] == (
        "cannot read image questions/atlas/BS1-HE1.jpg: No such file or directory (a relative image path is read "
        f"from the question file's folder, {folder})"
    )


def test_the_shipped_files_keys_are_not_called_unknown(tmp_path):
    """A file of the shipped shape whose answers are option indexes was told "unknown keys chapter_index, has_image":
    the shipped files carry them; only the number is wrong, and it is said."""
    row = {"id": "q", "question": "Which?", "options": ["a", "b", "c"], "answer": 2, "chapter_index": 1}
    path = tmp_path / "intans.jsonl"
    path.write_text(json.dumps(row | {"chapter": "One", "has_image": False}) + "\n")
    with pytest.raises(BadInputError) as refused:
        load_items(path, 10_000_000)
    assert str(refused.value) == (
        f"{path}: none of its 1 rows can be asked (row 1: answer 2 is a number: give the right option's letter or its "
        "text)"
    )


# 3. Plots worth pasting -------------------------------------------------------------------------------------------
def qa_result(**modes: dict) -> dict:
    """A small ``bench qa`` result: two groups, their figures with intervals, chance a half."""
    return {
        "n": 40,
        "kinds": {"mcq": 40},
        "metric": "accuracy",
        "answerer": "offline",
        "chance": {"n": 40, "accuracy": 0.5},
        "chance_by_group": {},
        "modes": modes,
        "items": [],
        "notes": [],
    }


def mode(accuracy: float, bins: list[list[float]], groups: dict[str, tuple[int, int]]) -> dict:
    """A mode's figures: its reliability ``bins`` and, per group, (right, asked)."""
    return {
        "accuracy": accuracy,
        "ci95": list(wilson(round(accuracy * 40), 40)),
        "answered": 40,
        "correct": {f"q{n}": float(n < accuracy * 40) for n in range(40)},
        "negated": {"n": 0, "accuracy": None},
        "ece": 0.1,
        "reliability": bins,
        "by_group": {g: {"n": n, "accuracy": r / n, "ci95": list(wilson(r, n))} for g, (r, n) in groups.items()},
    }


def drawn(monkeypatch, result: dict, tmp_path: Path) -> Figure:
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_qa(result, tmp_path / "plot.png")
    return figures[0]


def test_a_reliability_bin_of_two_questions_does_not_look_like_one_of_forty(monkeypatch, tmp_path):
    bins = [[0.2, 0.3, 2, 0.25, 0.0], [0.7, 0.8, 38, 0.75, 0.8]]
    reliability = drawn(monkeypatch, qa_result(rag=mode(0.75, bins, {"one": (3, 4)})), tmp_path).axes[1]
    markers = next(c for c in reliability.collections if len(c.get_offsets()) == 2)
    assert list(markers.get_sizes()) == pytest.approx([BIN_AREA * 2 / 38, BIN_AREA])
    faces = markers.get_facecolors()
    assert list(faces[0][:3]) == [1.0, 1.0, 1.0], f"a bin of fewer than {FEW_IN_BIN} questions is drawn hollow"
    assert list(faces[1][:3]) != [1.0, 1.0, 1.0]
    assert "bin of 38 questions" in [text.get_text() for text in reliability.get_legend().get_texts()]


def test_each_group_shows_its_n_and_its_wilson_interval(monkeypatch, tmp_path):
    groups = drawn(monkeypatch, qa_result(rag=mode(0.6, [], {"Joints": (3, 4), "Bones": (0, 2)})), tmp_path).axes[2]
    assert [t.get_text() for t in groups.get_xticklabels()] == ["Joints (n=4)", "Bones (n=2)"]
    whiskers = next(c for c in groups.containers if isinstance(c, ErrorbarContainer)).lines[2][0].get_segments()
    assert [(low, high) for (_, low), (_, high) in whiskers] == pytest.approx([wilson(3, 4), wilson(0, 2)])
    zero = next(text for text in groups.texts if text.get_text() == "0.00")
    assert zero.xy[1] == pytest.approx(wilson(0, 2)[1]), "a measured 0 is labelled above its whisker, not across it"


def test_a_mode_summary_gives_each_group_its_interval():
    from pathatlas.agent.bench.outcomes import group_figures

    assert group_figures([1.0, 1.0, 0.0]) == {"n": 3, "accuracy": pytest.approx(2 / 3), "ci95": list(wilson(2, 3))}


def test_bench_qa_writes_the_plot_where_plot_says_at_200_dpi_by_default(tmp_path):
    request = QARequest(tmp_path / "q.jsonl", None, None, ["rag"], None, 0, None, None, False, False, False,
                        tmp_path / "out", None, None)  # fmt: skip
    assert request.checked().plot == tmp_path / "out" / "plot.png"
    assert replace(request, plot=tmp_path / "fig").checked().plot == tmp_path / "fig.png"
    with pytest.raises(BadInputError, match=r"^--plot .*x\.txt: matplotlib cannot write \.txt"):
        replace(request, plot=tmp_path / "x.txt").checked()
    result = qa_result(rag=mode(0.75, [[0.7, 0.8, 40, 0.75, 0.75]], {"one": (30, 40)}))
    plot_qa(result, tmp_path / "plot.png")
    assert Image.open(tmp_path / "plot.png").info["dpi"] == pytest.approx((PLOT_DPI, PLOT_DPI), abs=0.1)
    plot_qa(result, tmp_path / "plot.pdf")
    assert (tmp_path / "plot.pdf").read_bytes().startswith(b"%PDF")


def lab_body() -> dict:
    """The --labels form whose label crossed its whisker: "hybrid, label rule off: 0.357" (0.32-0.39)."""
    curve = [0.5] * CURVE_K
    figures = {
        "hybrid": (1.0, [0.99, 1.0]),
        "hybrid, label rule off": (0.357, [0.32, 0.39]),
        "bm25": (0.395, [0.36, 0.43]),
        "chance": (0.004, [0.0, 0.01]),
    }
    methods = {name: {"mrr": value, "ci95": {"mrr": ci}, "curve": curve} for name, (value, ci) in figures.items()}
    return {"n": 716, "mrr_depth": 10, "default": "hybrid", "baselines": ["bm25", "chance"], "methods": methods}


def test_no_bar_label_crosses_its_whisker_and_the_axis_names_mrr_at_its_depth(monkeypatch, tmp_path):
    drawn_figures = []

    def laid_out(figure: Figure, *args, **kwargs) -> None:  # the figure as it is saved, with its renderer
        figure.canvas.draw()
        drawn_figures.append((figure, figure.canvas.get_renderer()))

    monkeypatch.setattr(Figure, "savefig", laid_out)
    plot_curves({"encoder": "e", "split": "all", "tasks": {"label_to_figure:fig_dash": lab_body()}}, tmp_path)
    ((figure, renderer),) = drawn_figures
    curves, bars = figure.axes
    assert bars.get_xlabel() == "MRR@10 (95% intervals)" and curves.get_ylabel() == "R@k"
    (errors,) = [c for c in bars.containers if isinstance(c, ErrorbarContainer)]
    whiskers = [segment for line in errors.lines[2] for segment in line.get_segments()]
    for text, ((low, y), (high, _)) in zip(bars.texts, whiskers, strict=True):
        box = text.get_window_extent(renderer)
        left, right = (bars.transData.transform((x, y))[0] for x in (low, high))
        assert box.x1 < left or box.x0 > right, text.get_text()
    assert bars.texts[1].get_position()[0] > 0.39, "past its whisker, where it fits"
    assert bars.texts[0].get_position()[0] < 0.1, "inside its long bar"


def test_a_label_that_fits_on_neither_side_widens_the_axis():
    assert label_places([(0.3, 0.5, 0.6)]) == (1.0, [True])  # inside, before 0.5
    assert label_places([(0.3, 0.2, 0.4)]) == (1.0, [False])  # past 0.4, ending before 1
    end, inside = label_places([(0.3, 0.1, 0.9)])
    assert inside == [False] and 0.9 / end + 0.3 + 0.015 == pytest.approx(1.0), "ends at the widened axis' end"


# 4. Marks worded alike in every table ---------------------------------------------------------------------------------
def test_a_row_below_two_baselines_on_one_metric_names_the_metric_once():
    """``bench qa``'s row read "✗ below no-rag on accuracy; chance on accuracy"."""
    assert below_words([("no-rag", "accuracy"), ("chance", "accuracy")]) == "✗ below no-rag and chance on accuracy"
    pairs = [("bm25", "recall@5"), ("dense", "recall@5"), ("chance", "mrr")]
    assert below_words(pairs) == "✗ below bm25 and dense on recall@5; chance on mrr"


def test_a_chapter_below_dense_is_marked_as_its_fold_marks_it():
    """With --folds a fold's table marked "✗ below dense on recall@5" while the by-chapter table marked only BM25."""
    items = [chapter_question(n, chapter) for n, chapter in enumerate(["Bones", "Airways"])]
    bm25_first = Ranker({"bm25": 1.0}, "bm25 as the ranker")  # the default ranks by BM25: dense leads where it does
    result = evaluate(items, [candidates(2, 1), candidates(1, 1)], 3, 10, 0, bm25_first)
    assert result["by_chapter"][0]["below_baselines"]["dense"] == ["recall@1", "mrr"]
    assert "bm25" not in result["by_chapter"][0]["below_baselines"]
    bones = next(line for line in rendered(chapter_table("text_to_page", result)).splitlines() if "Bones" in line)
    assert "✗ below dense and chance on recall@1 and mrr" in bones
    folded = evaluate(items, [candidates(2, 1), candidates(1, 1)], 3, 10, 2, bm25_first)  # a chapter a fold
    for row in folded["by_chapter"]:
        fold = folded["folds"][row["fold"]]
        marked = [(b, m) for b, m in losses(fold).get("hybrid", []) if m in CHAPTER_METRICS]
        assert [(b, m) for b, metrics in row["below_baselines"].items() for m in metrics] == marked


# 5. Every mode paired with no-rag where it ran ------------------------------------------------------------------------
def scores(right: int) -> dict[str, float]:
    return {f"q{n}": float(n < right) for n in range(10)}


def test_agentic_is_paired_with_no_rag_when_rag_did_not_run():
    summary = versus_baselines({"no-rag": {"correct": scores(3)}, "agentic": {"correct": scores(7)}})
    assert summary["agentic"]["vs_no_rag"]["difference"] == pytest.approx(0.4)
    assert "vs_rag" not in summary["agentic"] and set(summary["no-rag"]) == {"correct"}
    everything = versus_baselines({m: {"correct": scores(r)} for m, r in (("no-rag", 3), ("rag", 5), ("agentic", 7))})
    assert everything["agentic"]["vs_no_rag"]["difference"] == pytest.approx(0.4)
    assert everything["agentic"]["vs_rag"]["difference"] == pytest.approx(0.2)
    assert everything["rag"]["vs_no_rag"]["difference"] == pytest.approx(0.2) and "vs_rag" not in everything["rag"]
    assert everything["no-rag"]["vs_rag"]["difference"] == pytest.approx(-0.2)


def test_the_table_and_report_say_which_mode_each_paired_interval_is_against():
    plain = mode(0.3, [], {"one": (12, 40)})
    agentic = mode(0.7, [], {"one": (28, 40)})
    result = qa_result(**versus_baselines({"no-rag": plain, "agentic": agentic}))
    table = rendered(qa_table(result, "q40.jsonl"))
    header = next(line for line in table.splitlines() if line.startswith("┃ mode "))
    assert "vs no-rag (95% CI)" in header and "vs rag" not in header, "a column blank in every row is left out"
    row = next(line for line in table.splitlines() if line.startswith("│ agentic "))
    assert "+0.400" in row
    report = markdown_report(result, "t")
    assert "| mode | accuracy | 95% CI | vs no-rag (paired 95% CI) | vs rag (paired 95% CI) |" in report
    row = next(line for line in report.splitlines() if line.startswith("| agentic |"))
    assert row.split(" | ")[3].startswith("+0.400 (")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return indexed_book(tmp_path_factory.mktemp("walkthrough-book"))


def test_bench_qa_pairs_agentic_with_no_rag_and_draws_the_plot_it_is_told(book, tmp_path):
    rows = [question(n, 2, n % 2 + 1) for n in range(4)]
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    given = ["--questions", questions, "--index", book / "idx", "--modes", "no-rag,agentic", "--out", tmp_path / "qa"]
    plot = tmp_path / "figures" / "qa.svg"
    result = run_cli("bench", "qa", *given, "--plot", plot, "--json", tmp_path / "qa.json", home=book / "home",
                     COLUMNS="300")  # fmt: skip
    assert result.exit_code == 0, result.output
    agentic = json.loads((tmp_path / "qa.json").read_text())["modes"]["agentic"]
    assert "vs_no_rag" in agentic and "vs_rag" not in agentic
    assert "vs no-rag (95% CI)" in result.output
    assert f"wrote {tmp_path / 'qa' / 'report.md'} and {plot}" in result.output
    assert plot.read_text().startswith("<?xml") and not (tmp_path / "qa" / "plot.png").exists()
