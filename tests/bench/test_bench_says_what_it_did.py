"""The benchmark commands a researcher runs say what they did and refuse what they cannot do: ``bench qa`` refuses gold
pages the index lacks as ``bench retrieval`` does, notes (not refuses) folds over image questions, shows chance beside
every mode and whole words under its bars; ``bench retrieval`` refuses --folds without --mcq; ``export`` refuses a
``--to`` it would break or litter; a question file's error says where it breaks; ``compare-qa`` speaks of held-out
answers only where it pairs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from PIL import Image

from pathatlas.agent.bench.plot import plot_qa
from pathatlas.agent.bench.report import markdown_report
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import read_jsonl
from pathatlas.ui.bench_crash import WORDS, make_pdf
from tests.helpers import one_error_line, run_cli


def chaptered(n: int, chapter: str, pages: list[int]) -> dict:
    """A two-option question of the test book with gold ``pages``."""
    return {
        "id": f"q{n}",
        "question": f"Which word is printed beside {WORDS[n]}?",
        "options": [WORDS[(n + 1) % len(WORDS)], WORDS[(n + 4) % len(WORDS)]],
        "answer": "A",
        "gold": {"pdf_pages": pages},
        "chapter": chapter,
    }


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A folder holding a six-page book indexed quickly into ``idx`` (home ``home``), and six questions of two
    chapters on it (``q.jsonl``)."""
    root = tmp_path_factory.mktemp("bench-says")
    pdf = make_pdf(root / "lib" / "book.pdf", 6, "v1")
    assert run_cli("index", pdf, "--index", root / "idx", home=root / "home").exit_code == 0
    write_rows(root / "q.jsonl", [chaptered(n, "one" if n % 2 else "two", [n + 1]) for n in range(6)])
    return root


def bench_qa(root: Path, questions: Path, name: str, *extra):
    return run_cli(
        "bench", "qa", "--questions", questions, "--index", root / "idx", "--out", root / name,
        "--json", root / f"{name}.json", *extra, home=root / "home", COLUMNS="300",
    )  # fmt: skip


def test_bench_qa_refuses_gold_pages_the_index_lacks_as_bench_retrieval_does(book):
    """Pages of the whole book, asked of an index holding 6 of them: evidence hit@5 read 0.000 with exit status 0."""
    rows = [chaptered(n, "one", [n + 1]) for n in range(4)] + [chaptered(4, "two", [40, 42]), chaptered(5, "two", [9])]
    questions = write_rows(book / "beyond.jsonl", rows)
    qa = one_error_line(bench_qa(book, questions, "beyond"), "gold pages of 2 questions (first 'q4')")
    retrieval = one_error_line(run_cli("bench", "retrieval", "--mcq", questions, "--index", book / "idx", home=book))
    assert qa == retrieval and qa.endswith("are not pages of the index")
    assert not (book / "beyond").exists(), "refused before any question was asked"


def test_folds_over_image_questions_note_that_they_carry_no_chapter(book):
    (book / "img").mkdir()
    rows = []
    for n in range(3):
        Image.new("RGB", (32, 32), (40 * n, 90, 160)).save(book / "img" / f"{n}.png")
        rows.append(chaptered(n, None, []) | {"image": f"img/{n}.png"})
    result = bench_qa(book, write_rows(book / "images.jsonl", rows), "images", "--folds", 5, "--modes", "no-rag,rag")
    assert result.exit_code == 0, result.output
    note = (
        "option weights not refit per fold: the 3 multiple-choice questions are image questions, which carry no "
        "chapter; folds hold out chapters of text questions"
    )
    document = json.loads((book / "images.json").read_text())
    assert document["notes"][0] == note and document["run"]["folds"] == 5
    assert [n.split(":")[0] for n in document["notes"][1:]] == ["rag"], "the hashing encoder answers no image search"
    assert all("held_out" not in m for m in document["modes"].values())
    assert note in " ".join(result.output.split()) and note in (book / "images" / "report.md").read_text()


def test_folds_over_one_chapter_note_it_once_and_fewer_chapters_than_folds_are_refused(book):
    one = write_rows(book / "one.jsonl", [chaptered(n, "Cervix", [n + 1]) for n in range(3)])
    result = bench_qa(book, one, "one", "--folds", 2, "--modes", "no-rag,rag")
    assert result.exit_code == 0, result.output
    assert json.loads((book / "one.json").read_text())["notes"] == [
        "option weights not refit per fold: the text multiple-choice questions (3) span one chapter ('Cervix'); "
        "folds need two"
    ]
    refused = bench_qa(book, book / "q.jsonl", "three", "--folds", 3)
    one_error_line(refused, "--folds 3: the text multiple-choice questions span 2 chapter(s)")


def test_bench_retrieval_refuses_folds_without_mcq(book):
    result = run_cli("bench", "retrieval", "--figures", book / "figures.jsonl", "--folds", 2, home=book / "home")
    assert one_error_line(result) == (
        "error: --folds 2 sets --mcq's chapter folds and --image-words' diagnosis folds: give one of them"
    )


@pytest.fixture(scope="module")
def runs(book) -> dict[str, Path]:
    """``bench qa`` over the six questions without folds (no-rag) and with two (no-rag, rag): name -> JSON file."""
    for name, extra in (("plain", ["--modes", "no-rag"]), ("folded", ["--modes", "no-rag,rag", "--folds", 2])):
        result = bench_qa(book, book / "q.jsonl", name, *extra)
        assert result.exit_code == 0, result.output
        (book / f"{name}.out").write_text(result.output)
    return {name: book / f"{name}.json" for name in ("plain", "folded")}


def test_bench_qa_shows_chance_beside_every_mode(runs):
    document = json.loads(runs["plain"].read_text())
    assert document["chance"] == {"n": 6, "accuracy": 0.5}
    report = (runs["plain"].parent / "plain" / "report.md").read_text().splitlines()
    header = next(line for line in report if line.startswith("| mode |"))
    row = next(line for line in report if line.startswith("| chance |"))
    assert row.split(" | ")[1] == "0.500" and row.count("|") == header.count("|")
    table = [line for line in (runs["plain"].parent / "plain.out").read_text().splitlines() if "│ chance" in line]
    assert len(table) == 1 and "0.500" in table[0]


def test_a_mixed_run_says_how_many_questions_chance_is_over(runs):
    document = json.loads(runs["plain"].read_text()) | {"kinds": {"mcq": 6, "open": 2}}
    row = next(line for line in markdown_report(document, "t").splitlines() if line.startswith("| chance"))
    assert row.startswith("| chance (6 with options) | 0.500 |")
    assert "| chance" not in markdown_report(document | {"chance": None}, "t"), "open questions have no chance level"


def drawn(monkeypatch, result: dict, tmp_path: Path) -> Figure:
    """The figure ``plot_qa`` draws for ``result``."""
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_qa(result, tmp_path / "plot.png")
    return figures[0]


def test_the_accuracy_panel_draws_chance_dashed(runs, monkeypatch, tmp_path):
    accuracy = drawn(monkeypatch, json.loads(runs["plain"].read_text()), tmp_path).axes[0]
    dashed = [line for line in accuracy.get_lines() if line.get_linestyle() == "--"]
    assert [(line.get_label(), list(line.get_ydata())) for line in dashed] == [("chance", [0.5, 0.5])]


def test_group_labels_under_the_bars_keep_whole_words(runs, monkeypatch, tmp_path):
    from pathatlas.agent.bench.plot import tick_label

    assert tick_label("The Tissue Level of Organization") == "The Tissue Level of\nOrganization"
    long = "Support and Movement of the Skeletal System Today"
    assert tick_label(long) == "Support and Movement\nof the Skeletal System…"
    assert tick_label("Pseudohypoparathyroidism-related") == "Pseudohypoparathyroidism-related"
    result = json.loads(runs["plain"].read_text())
    groups = {"The Tissue Level of Organization": {"n": 3, "accuracy": 0.5}, "one": {"n": 3, "accuracy": 0.5}}
    result["modes"]["no-rag"]["by_group"] = groups
    ticks = [t.get_text() for t in drawn(monkeypatch, result, tmp_path).axes[2].get_xticklabels()]
    assert ticks == ["The Tissue Level of\nOrganization (n=3)", "one (n=3)"]  # each group's n after its name


def test_compare_qa_speaks_of_held_out_answers_only_where_it_pairs_them(runs):
    plain = run_cli("bench", "compare-qa", runs["plain"], runs["plain"], COLUMNS="400")
    folded = run_cli("bench", "compare-qa", runs["folded"], runs["folded"], COLUMNS="400")
    assert plain.exit_code == 0 and folded.exit_code == 0, plain.output + folded.output
    held_out = "(held out: each chapter fold's answers with weights refit on the other folds)"
    assert held_out not in " ".join(plain.output.split()) and held_out in " ".join(folded.output.split())


def test_a_question_file_says_where_a_line_breaks_and_that_a_folder_is_one(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q1", "question": "Which?"}\n{"id": "q2", "question": "Whi\n')
    with pytest.raises(BadInputError) as caught:
        read_jsonl(broken)
    assert str(caught.value) == f"{broken} line 2 is not JSON: Unterminated string starting at column 26"
    with pytest.raises(BadInputError, match=r"^\S+ is a folder; give a dataset file \(JSONL"):
        read_jsonl(tmp_path)


def test_export_refuses_a_file_or_a_folder_of_other_files_and_adds_to_a_local_copy(book):
    export = ["export", "--index", book / "idx"]
    (book / "notes.txt").write_text("mine")
    refused = run_cli(*export, "--to", book / "notes.txt", "--out", book / "x1", home=book / "home")
    assert "is a file: give a Qdrant URL or a folder" in one_error_line(refused)
    refused = run_cli(*export, "--to", " ", "--out", book / "x0", home=book / "home")  # was read as this folder
    assert "--to is empty" in one_error_line(refused) and not (book / "x0").exists()
    mine = book / "mine"
    mine.mkdir()
    (mine / "x.txt").write_text("mine")
    refused = run_cli(*export, "--to", mine, "--out", book / "x2", home=book / "home")
    assert "holds other files and is no local Qdrant copy" in one_error_line(refused)
    assert [p.name for p in mine.iterdir()] == ["x.txt"] and not (book / "x2").exists()
    for n, collection in enumerate(("first", "second")):
        made = run_cli(*export, "--to", book / "twin", "--collection", collection, "--out", book / f"copy{n}",
                       home=book / "home")  # fmt: skip
        assert made.exit_code == 0, made.output
    assert sorted(json.loads((book / "twin" / "meta.json").read_text())["collections"]) == ["first", "second"]


def test_bench_qa_json_to_stdout_is_the_document_alone(book):
    """``--json -`` prints the result alone on stdout: its tables, chance row and by-naming lines go to stderr."""
    result = run_cli(
        "bench",
        "qa",
        "--questions",
        book / "q.jsonl",
        "--index",
        book / "idx",
        "--out",
        book / "piped",
        "--modes",
        "rag",
        "--json",
        "-",
        home=book / "home",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert "by_naming" in document["modes"]["rag"] and document["chance"]["n"] == 6
    assert document["modes"]["rag"]["by_naming"] and "rag: by what the quotes name" in result.stderr
