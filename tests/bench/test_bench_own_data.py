"""``pathatlas bench`` on a researcher's own data: a case folder is read as ``pathatlas index`` reads it, destinations
are checked before the run, the report says which weights it answered with, groups never go question by question,
and what a run leaves out (the held-out split, questions without gold pages) is said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from pathatlas.agent.bench.items import load_items
from pathatlas.ui.bench_cli import qa_table
from pathatlas.ui.bench_crash import WORDS
from tests.helpers import indexed_book, only_error_line, run_cli
from tests.indexer.test_incremental_cases import ENCODER
from tests.retrieval.test_joint import write_shared_layout

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(map(json.dumps, rows)))
    return path


def question(n: int, **fields) -> dict:
    """A two-option question about page ``n + 1`` of ``make_pdf``'s book; ``fields`` add or replace keys."""
    row = {
        "id": f"q{n}",
        "question": f"Which word is printed beside {WORDS[n]}?",
        "options": [WORDS[n + 1], WORDS[n + 5]],
        "answer": "A",
    }
    return row | fields


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A three-page book indexed quickly into ``book/idx`` on the home ``book/home`` (``indexed_book``)."""
    return indexed_book(tmp_path_factory.mktemp("own-book"))


def bench(root: Path, *args, **env):
    return run_cli("bench", *args, home=root / "home", **env)


# 1. A case folder is read by the metadata file the indexer reads; a missing one is one line ------------------------


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory) -> Path:
    """A case folder of drawn images, two to a case (``cases.jsonl``)."""
    return write_shared_layout(tmp_path_factory.mktemp("own-cases"), per_pattern=4) / "atlas"


def test_a_case_folder_is_read_by_its_metadata_and_the_held_out_split_says_what_it_left(case_folder, tmp_path):
    result = bench(
        tmp_path, "retrieval", "--cases", case_folder, "--json", tmp_path / "r.json", PATHATLAS_ENCODER=ENCODER
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["run"]["cases"] == [str((case_folder / "cases.jsonl").resolve())]
    task = document["tasks"]["image_to_image_case"]
    images = len((case_folder / "cases.jsonl").read_text().splitlines())  # each has its case's other image
    assert task["split"] == "val" and 0 < task["n"] < images
    said = f"held-out split: {task['n']} of {images} queries; --split all for all"
    assert task["notes"] == [said] and said in " ".join(result.output.split())

    every = bench(
        tmp_path, "retrieval", "--cases", case_folder, "--split", "all", "--json", "-", PATHATLAS_ENCODER=ENCODER
    )
    assert every.exit_code == 0, every.output
    assert "notes" not in json.loads(every.stdout)["tasks"]["image_to_image_case"]
    assert "held-out split" not in every.output


def test_a_folder_without_metadata_or_a_missing_file_is_one_line(tmp_path):
    (tmp_path / "photos").mkdir()
    only_error_line(bench(tmp_path, "retrieval", "--cases", tmp_path / "photos"), "cases.jsonl or labels.csv")
    only_error_line(bench(tmp_path, "retrieval", "--cases", tmp_path / "nosuch.csv"), "no such dataset file")


def test_the_split_help_says_the_held_out_part_is_counted():
    shown = " ".join(run_cli("bench", "retrieval", "--help", COLUMNS="300").output.split())
    assert "the output says how many queries it kept" in shown and "'all': your own images" in shown


# 2. Destinations are checked before the run; --json is written first ----------------------------------------------


def test_destinations_that_cannot_be_written_are_refused_before_the_run(book, tmp_path):
    (tmp_path / "afile").write_text("a file")
    questions = write_rows(tmp_path / "q.jsonl", [question(0, gold={"pdf_pages": [1, 1]})])
    qa = ["qa", "--questions", questions, "--index", book / "idx", "--modes", "no-rag"]
    only_error_line(bench(book, *qa, "--out", tmp_path / "afile" / "sub"), "--out", "afile is a file, not a folder")
    only_error_line(bench(book, *qa, "--json", tmp_path / "afile" / "x.json"), "--json", "afile")
    retrieval = ["retrieval", "--mcq", questions, "--index", book / "idx"]
    only_error_line(bench(book, *retrieval, "--plot", tmp_path / "afile" / "x.png"), "--plot", "afile is a file")
    only_error_line(bench(book, *retrieval, "--runs", tmp_path / "afile" / "runs"), "--runs", "afile is a file")
    if Path("/proc/self").is_dir():  # a folder where no file can be made, though os.access says root may write
        only_error_line(bench(book, *qa, "--out", "/proc/nope"), "--out /proc/nope: cannot write in /proc")
        only_error_line(bench(book, *qa, "--json", "/proc/nope.json"), "--json /proc/nope.json: cannot write in /proc")
    only_error_line(bench(book, *qa, "--out", tmp_path / "new", "--json", tmp_path / "afile" / "x.json"), "--json")
    assert not (tmp_path / "new").exists(), "a refused run makes no folder"


def test_a_plot_is_refused_before_the_run_where_matplotlib_cannot_write_its_ending(book, tmp_path):
    """A plot named x.txt ran the whole benchmark, then failed in matplotlib: "Format 'txt' is not supported"."""
    questions = write_rows(tmp_path / "q.jsonl", [question(0, gold={"pdf_pages": [1, 1]})])
    plot = tmp_path / "plots" / "x.txt"
    result = bench(book, "retrieval", "--mcq", questions, "--index", book / "idx", "--plot", plot)
    only_error_line(result, f"--plot {plot}: matplotlib cannot write .txt", ".png", ".svg")
    assert not plot.parent.exists()


def test_a_plot_named_without_an_ending_is_said_as_the_png_written(book, tmp_path):
    """matplotlib adds ".png"; the line said "wrote plots/noext", a file that is not there."""
    questions = write_rows(tmp_path / "q.jsonl", [question(0, gold={"pdf_pages": [1, 1]})])
    result = bench(book, "retrieval", "--mcq", questions, "--index", book / "idx", "--plot", tmp_path / "noext")
    assert result.exit_code == 0, (result.output, result.exception)
    assert (tmp_path / "noext.png").is_file() and not (tmp_path / "noext").exists()
    assert f"wrote {tmp_path / 'noext.png'}" in result.stdout.splitlines(), result.stdout


def test_the_json_is_written_before_what_shows_it(book, tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("the table failed")

    monkeypatch.setattr("pathatlas.ui.bench_cli.qa_table", broken)
    questions = write_rows(tmp_path / "q.jsonl", [question(0, gold={"pdf_pages": [1, 1]})])
    qa = ["qa", "--questions", questions, "--index", book / "idx", "--modes", "no-rag"]
    result = bench(book, *qa, "--out", tmp_path / "qa", "--json", tmp_path / "qa.json")
    assert isinstance(result.exception, RuntimeError)
    assert json.loads((tmp_path / "qa.json").read_text())["modes"]["no-rag"]["answered"] == 1


# 3. The shipped weights are in-sample on the dev questions alone --------------------------------------------------

FIGURES = {"accuracy": 0.5, "ci95": [0.2, 0.8], "negated": {"accuracy": None, "n": 0}, "ece": 0.1}
"""A row's figures, the least ``qa_table`` shows."""


def folded(questions: str) -> dict:
    """A ``bench qa --folds`` result over ``questions``, with what its table and ``compare-qa`` read."""
    held_out = {**FIGURES, "correct": {"q1": 1.0}}
    answer = {"id": "q1", "mode": "rag", "score": 1.0, "answer": "A", "gold": "A", "settled": True}
    return {"run": {"questions": questions}, "modes": {"rag": {**FIGURES, "held_out": held_out}}, "items": [answer]}


def shown(table) -> str:
    console = Console(width=300, record=True)
    console.print(table)
    return " ".join(console.export_text().split())


def test_own_questions_are_answered_with_shipped_weights_not_in_sample():
    own = shown(qa_table(folded("/home/me/my_questions.jsonl"), "mine"))
    assert "rag, held out" in own and "rag, shipped weights" in own
    assert "shipped weights (fitted on the A&P dev questions): the weights the run answered with" in own
    assert "in-sample" not in own and "these very questions" not in own
    dev = shown(qa_table(folded("/data/openstax_ap2e/mcq_dev.jsonl"), "dev"))
    assert "rag, in-sample" in dev
    assert "in-sample: the weights the run answered with, fitted on these very questions" in dev


@pytest.mark.parametrize(
    ("questions", "said"),
    [
        ("/home/me/mine.jsonl", "with the shipped weights (fitted on the A&P dev questions)"),
        ("/data/mcq_dev.jsonl", "with the shipped weights (fitted on the A&P dev questions), in-sample"),
    ],
)
def test_compare_qa_says_in_sample_only_of_runs_over_the_dev_questions(tmp_path, questions, said):
    runs = [write_rows(tmp_path / f"{name}.json", [folded(questions)]) for name in ("before", "after")]
    result = run_cli("bench", "compare-qa", *runs, COLUMNS="300")
    assert result.exit_code == 0, result.output
    caption = " ".join(result.output.split())
    assert said in caption and caption.count("in-sample") == said.count("in-sample")


# 4. Groups: chapter, gold module or organ, a shared id prefix, diagnosis, else one group ----------------------------


def test_questions_without_chapters_are_grouped_never_one_by_one(tmp_path):
    rows = [
        question(0, id="img00", gold={"diagnosis": "adenocarcinoma"}),
        question(1, id="img01", gold={"diagnosis": "adenocarcinoma"}),
        question(2, id="img02", gold={"diagnosis": "glioblastoma"}),
        question(3, id="atlas-BS1-HE1", gold={"diagnosis": "angiosarcoma"}),
        question(4, id="atlas-BS2-HE1"),
        question(0, id="x-1", gold={"module": "m45983"}, chapter="Cells"),
        question(1, id="y-1", gold={"module": "m45983"}),
        question(2, id="q3"),
    ]
    items, _ = load_items(write_rows(tmp_path / "q.jsonl", rows), 10_000_000)
    assert [item.group for item in items] == [
        "adenocarcinoma",
        "adenocarcinoma",
        "glioblastoma",
        "atlas",
        "atlas",
        "Cells",
        "m45983",
        "all",
    ]


def test_the_group_table_is_shown_and_evidence_hit_says_its_n(book, tmp_path):
    rows = [
        question(0, gold={"pdf_pages": [1, 1]}, chapter="one"),
        question(1, gold={"pdf_pages": [2, 2]}, chapter="two"),
        question(2, chapter="two"),
    ]
    questions = write_rows(tmp_path / "q.jsonl", rows)
    qa = ["qa", "--questions", questions, "--index", book / "idx", "--modes", "no-rag,rag", "--out", tmp_path / "qa"]
    result = bench(book, *qa, COLUMNS="300")
    assert result.exit_code == 0, result.output
    assert "accuracy by group" in result.output
    group_lines = [line.split("│")[1:3] for line in result.output.splitlines() if line.startswith("│ one")]
    assert [[cell.strip() for cell in line] for line in group_lines] == [["one", "1"]]
    assert " (n=2)" in result.output, "evidence hit@5 is over the two questions with gold pages"
    assert "(n=2) |" in (tmp_path / "qa" / "report.md").read_text()

    alone = write_rows(tmp_path / "one.jsonl", rows[:1])
    result = bench(book, "qa", "--questions", alone, "--index", book / "idx", "--modes", "rag", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "by group" not in result.output and "(n=" not in result.output


# 6. and 7. Text to page says what it left out; a CSV question file, and one question, are said plainly -------------


def test_text_to_page_says_how_many_questions_had_no_gold_page(book, tmp_path):
    questions = write_rows(tmp_path / "q.jsonl", [question(0, gold={"pdf_pages": [1, 1]}), question(1)])
    result = bench(book, "retrieval", "--mcq", questions, "--index", book / "idx", "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    said = "1 of 2 questions have no gold page: left out"
    assert said in " ".join(result.output.split())
    assert json.loads((tmp_path / "r.json").read_text())["tasks"]["text_to_page"]["notes"][0] == said


def test_a_csv_question_file_and_one_lost_question_are_said_plainly(book, tmp_path):
    (tmp_path / "mine.csv").write_text("id,question,options,answer\nq1,Which?,a;b,A\n")
    retrieval = ["retrieval", "--index", book / "idx", "--mcq"]
    only_error_line(bench(book, *retrieval, tmp_path / "mine.csv"), "question files are JSONL")
    beyond = write_rows(tmp_path / "q.jsonl", [question(0, gold={"pdf_pages": [9, 9]})])
    only_error_line(bench(book, *retrieval, beyond), "the gold pages of question 'q0' are not pages of the index")
