"""A researcher tuning and reporting text to page on their own folds (``bench tune-text``, ``bench retrieval --mcq``):
the tuning run prints the held-out figures per chapter beside BM25 alone, dense alone and chance, with the paired p,
as ``bench retrieval`` does; its ranker file records each fold's baselines beside the default's figures; a question
file that cannot be scored as written (an id given twice, no question text, no chapter to fold by, chapters given as
numbers) is one clear line or a note, never a traceback or a silently merged question."""

from __future__ import annotations

import json

import matplotlib.figure
import pytest
from PIL import Image

from pathatlas.retrieval.bench.common import plot_curves
from pathatlas.ui.bench_crash import make_pdf
from tests.bench.test_retrieval_bench_runs_and_labels import page_questions
from tests.helpers import only_error_line, run_cli

pytestmark = [
    pytest.mark.filterwarnings("ignore:unsafe cast"),  # ranx's numba kernels on a few queries
]

PAGES = 12
CHAPTERS = ("First", "[bold]Second", "Third")
"""Three chapters of four pages each, dealt into two folds by name, shortest first: fold 0 holds First and
[bold]Second, so the folds' tables alone do not give any chapter's figures."""
FOLDS = (0, 0, 1)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A 12-page book indexed with the hashing encoder: (its folder, the index, the home)."""
    root = tmp_path_factory.mktemp("s32-bench-text")
    pdf = make_pdf(root / "lib" / "book.pdf", PAGES, "v1")
    assert run_cli("index", pdf, "--index", root / "idx", home=root / "home").exit_code == 0
    return root, root / "idx", root / "home"


def questions(root, name: str, change=lambda row: row) -> str:
    """A question per page, four pages to a chapter (``CHAPTERS``), each row passed through ``change``."""
    rows = [change(row) for row in page_questions(PAGES, lambda page: CHAPTERS[(page - 1) // 4])]
    (root / name).write_text("\n".join(map(json.dumps, rows)))
    return root / name


def tune(book, path, *options):
    root, index, home = book
    return run_cli(
        "bench",
        "tune-text",
        "--mcq",
        path,
        "--index",
        index,
        "--out",
        root / "ranker.json",
        *options,
        home=home,
        COLUMNS=240,
    )


def test_tune_text_prints_each_chapters_held_out_figures_beside_the_baselines_and_the_paired_p(book):
    result = tune(book, questions(book[0], "three.jsonl"), "--folds", 2)
    assert result.exit_code == 0, result.output
    out = result.stdout
    title = "text_to_page by chapter: held out, each chapter's default chosen on the other folds"
    assert out.index("text_to_page, pooled held-out folds, n=12") < out.index(title)
    table = out[out.index(title) :]
    header = table.splitlines()[2]
    assert all(
        f"{name} ({role})" in header
        for name, role in (("hybrid", "default"), ("bm25", "baseline"), ("dense", "baseline"), ("chance", "baseline"))
    )
    rows = {chapter: next(line for line in table.splitlines() if chapter in line) for chapter in CHAPTERS}
    assert all(f" {n} " in rows[chapter].replace("│", " ") for chapter, n in zip(CHAPTERS, FOLDS, strict=True))
    assert "held-out fold 0 (First, [bold]Second)" in out  # a chapter's name as written, never read as markup
    assert "text_to_page: hybrid vs bm25, paired p" in out and "text_to_page: hybrid vs dense, paired p" in out


def test_tune_text_json_to_stdout_is_json_only_and_the_ranker_file_keeps_each_folds_baselines(book):
    root = book[0]
    result = tune(book, questions(root, "three.jsonl"), "--folds", 2, "--json", "-")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(row["chapter"], row["fold"]) for row in document["by_chapter"]] == list(zip(CHAPTERS, FOLDS, strict=True))
    assert all({"hybrid", "bm25", "dense", "chance"} == set(row["methods"]) for row in document["by_chapter"])
    assert set(document["significance"]) == {"bm25", "dense"}
    held_out = json.loads((root / "ranker.json").read_text())["held_out"]
    for number, fold in enumerate(document["folds"]):
        recorded = held_out[f"fold {number}"]
        assert recorded["chapters"] == fold["chapters"] and recorded["n"] == fold["n"]
        assert recorded["recall@1"] == fold["methods"]["hybrid"]["recall@1"]  # the default's, where they always were
        for baseline in ("bm25", "dense", "chance"):
            assert recorded[baseline] == {m: fold["methods"][baseline][m] for m in ("recall@1", "recall@5", "mrr")}


def test_chapters_given_as_numbers_are_named_as_text(book):
    numbered = questions(book[0], "numbered.jsonl", lambda row: {**row, "chapter": CHAPTERS.index(row["chapter"]) + 1})
    result = tune(book, numbered, "--folds", 2, "--json", "-")
    assert result.exit_code == 0, result.output
    assert [row["chapter"] for row in json.loads(result.stdout)["by_chapter"]] == ["1", "2", "3"]


def test_an_id_given_twice_is_refused_before_anything_is_scored(book):
    root, index, home = book
    twice = questions(root, "twice.jsonl", lambda row: {**row, "id": "q1" if row["id"] == "q2" else row["id"]})
    for command in (["bench", "retrieval"], ["bench", "tune-text", "--out", root / "twice-ranker.json"]):
        result = run_cli(*command, "--mcq", twice, "--index", index, home=home)
        only_error_line(result, "twice.jsonl", "'q1'", "given twice")
    assert not (root / "twice-ranker.json").exists()


def test_a_question_without_question_text_is_named_in_one_line_before_searching(book):
    root, index, home = book
    missing = questions(
        root,
        "missing.jsonl",
        lambda row: {k: v for k, v in row.items() if k != "question"} if row["id"] == "q3" else row,
    )
    result = run_cli("bench", "retrieval", "--mcq", missing, "--index", index, home=home)
    only_error_line(result, "missing.jsonl", "question 'q3' has no 'question' text")


def test_folds_over_questions_naming_no_chapter_say_which_field_folds_read(book):
    root = book[0]
    unnamed = questions(
        root,
        "unnamed.jsonl",
        lambda row: {**{k: v for k, v in row.items() if k != "chapter"}, "chapters": row["chapter"]},
    )  # a misspelt field
    only_error_line(tune(book, unnamed, "--folds", 2), "--folds 2", "names its chapter (field 'chapter')")


def test_questions_without_a_chapter_among_named_ones_are_held_out_together_and_said_so(book):
    some = questions(book[0], "some.jsonl", lambda row: {**row, "chapter": None} if row["id"] == "q1" else row)
    result = tune(book, some, "--folds", 2)
    assert result.exit_code == 0, result.output
    assert "note: text_to_page: 1 of 12 questions name no chapter: held out together, as one chapter" in result.stderr
    assert "(no chapter)" in result.stdout


def test_the_plot_of_a_folded_run_opens_and_its_panel_says_the_figures_are_pooled_held_out(book, monkeypatch):
    root, index, home = book
    plot = root / "plot.png"
    args = ["bench", "retrieval", "--mcq", questions(root, "three.jsonl"), "--index", index, "--folds", 2]
    result = run_cli(*args, "--plot", plot, "--json", root / "run.json", home=home)
    assert result.exit_code == 0, result.output
    with Image.open(plot) as image:
        image.verify()
    titles = []
    real = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(
        matplotlib.figure.Figure,
        "savefig",
        lambda fig, *a, **k: (titles.extend(ax.get_title() for ax in fig.axes), real(fig, *a, **k))[1],
    )
    document = json.loads((root / "run.json").read_text())
    plot_curves(document, root / "again.png")
    assert "text_to_page, pooled held-out folds (n=12)" in titles
    del document["tasks"]["text_to_page"]["folds"]
    plot_curves(document, root / "shipped.png")
    assert "text_to_page (n=12)" in titles
