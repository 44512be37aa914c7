"""The benchmark commands refuse what they cannot score, in one line, and score only what they should: gold pages of
the question's own book, strict JSON, intervals that fit the scores, latency measured alike in every mode."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.gold import evidence_hit
from pathatlas.agent.bench.items import Item, load_items
from pathatlas.agent.bench.quotes import quotes_gold_page
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import read_mcq
from pathatlas.retrieval.metrics import wilson
from pathatlas.retrieval.records import Citation
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.bench_mcp import answer_of
from pathatlas.ui.cli_common import print_json, write_json
from tests.helpers import hashing_env, only_error_line, run_cli

BOOK = "/data/openstax_x/book.pdf"
OTHER = "/data/other/notes.pdf"


def write_rows(path: Path, rows: list) -> Path:
    """A JSONL file of ``rows``; a string row is written as is (a line that is not an object)."""
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows))
    return path


def mcq(n: int, question: str, pages: list[int], book: str | None = None, chapter: str = "one") -> dict:
    gold = {"pdf_pages": pages, **({"book": book} if book else {})}
    return {"id": f"q{n}", "question": question, "options": ["a", "b"], "answer": "A", "gold": gold, "chapter": chapter}


def index_of(folder, *pdfs) -> str:
    assert run_cli("index", *pdfs, "--index", folder / "idx").exit_code == 0
    return str(folder / "idx")


# 1. Gold pages count only in the question's book ----------------------------------------------------------------


def test_a_book_is_matched_by_file_or_folder_name():
    from pathatlas.retrieval.datasets import holds_book

    assert holds_book(BOOK, "openstax_x") and holds_book(BOOK, "book") and holds_book(BOOK, "OpenStax X")
    assert not holds_book(OTHER, "openstax_x") and not holds_book(BOOK, "openstax")


def test_a_book_is_matched_by_the_file_name_citations_show():
    """A lecturer writes the gold book as citations name it, suffix and all."""
    from pathatlas.retrieval.datasets import holds_book

    assert holds_book("/up/notes/amyloidosis.md", "amyloidosis.md") and holds_book(BOOK, "book.pdf")
    assert not holds_book("/up/notes/amyloidosis.md", "amyloidosis.pdf")


@pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries
def test_text_to_page_counts_pages_of_the_questions_book_only(hashing_cli):
    book = make_pdf(hashing_cli / "lib" / "openstax_x" / "book.pdf", 3, "plain")
    other = make_pdf(hashing_cli / "lib" / "other.pdf", 3, "zebra")  # its page 1 matches the question best
    index = index_of(hashing_cli, book, other)
    questions = write_rows(hashing_cli / "q.jsonl", [mcq(0, "zebra page 1 granuloma koilocyte", [1, 1], "openstax_x")])
    result = run_cli("bench", "retrieval", "--mcq", questions, "--index", index, "--json", "-")
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)["tasks"]["text_to_page"]
    assert task["methods"]["bm25"]["recall@1"] == 0.0, "page 1 of the other PDF is no hit"
    assert task["methods"]["bm25"]["recall@5"] == 1.0 and task["split"] == "all"


def test_a_book_the_index_lacks_is_refused_not_scored(hashing_cli):
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "other.pdf", 3, "v1"))
    questions = write_rows(hashing_cli / "q.jsonl", [mcq(0, "granuloma", [1, 2], "openstax_x")])
    only_error_line(run_cli("bench", "retrieval", "--mcq", questions, "--index", index), "'openstax_x'", "other.pdf")
    only_error_line(
        run_cli("bench", "qa", "--questions", questions, "--index", index, "--out", "qa"), "'openstax_x'", "other.pdf"
    )


def test_qa_evidence_and_quoted_pages_count_in_the_gold_book_only():
    def item(kind: str) -> Item:
        return Item("q", Question("Which?", []), kind, "a", {"book": "openstax_x", "pdf_pages": [3, 4]}, "g")

    def evidence(source: str) -> list[Evidence]:
        return [Evidence("e1", "page", "", Citation(source, page=3), 1)]

    assert evidence_hit(item("mcq"), evidence(BOOK)) is True
    assert evidence_hit(item("mcq"), evidence(OTHER)) is False, "page 3 of another PDF"
    answer = Answer(None, "a", 0.5, cited=["e1"])
    assert quotes_gold_page(item("open"), answer, evidence(BOOK)) is True
    assert quotes_gold_page(item("open"), answer, evidence(OTHER)) is False


@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        ({"book": "openstax_x", "pdf_pages": [3, 4]}, {(BOOK, 3), (BOOK, 4)}),
        ({"pdf_pages": [3]}, {(BOOK, 3), (OTHER, 3)}),  # no book: a gold page of any PDF
        ({"book": "", "pdf_pages": [2, 3]}, {(BOOK, 2), (BOOK, 3), (OTHER, 2), (OTHER, 3)}),
        ({"book": "openstax_x"}, set()),  # no gold pages
    ],
)
def test_text_to_page_and_qa_count_the_same_gold_pages(gold, expected):
    """``bench retrieval``'s gold pages, ``bench qa``'s evidence hits and ``on_gold_page`` agree page by page."""
    from pathatlas.retrieval.bench.common import on_gold_page
    from pathatlas.retrieval.bench.pages import gold_keys
    from pathatlas.retrieval.datasets import MCQ

    pages = {(source, page) for source in (BOOK, OTHER) for page in range(1, 6)}
    assert gold_keys(MCQ("q", "Which?", ["a", "b"], gold=gold), pages) == expected
    item = Item("q", Question("Which?", []), "mcq", "a", gold, "g")
    for source, page in sorted(pages):
        found = evidence_hit(item, [Evidence("e1", "page", "", Citation(source, page=page), 1)])
        assert on_gold_page(gold, source, page) is ((source, page) in expected), (source, page)
        assert found is (((source, page) in expected) if gold.get("pdf_pages") else None), (source, page)
    assert on_gold_page(gold, BOOK, None) is False  # a citation without a page (a case image)


def test_mcp_citations_get_their_full_source_back_to_match_the_book():
    citation = {"evidence": "e1", "source": "book.pdf", "source_id": "abc", "page": 3}
    document = {"choice": 0, "answer": "a", "confidence": 0.5, "citations": [citation]}
    _, evidence = answer_of(document, {"abc": BOOK})
    assert evidence[0].citation.source == BOOK
    gold = Item("q", Question("Which?", ["a", "b"]), "mcq", "A", {"book": "openstax_x", "pdf_pages": [3, 3]}, "g")
    assert evidence_hit(gold, evidence) is True


# 2. tune-text writes nothing it did not fit ---------------------------------------------------------------------


def test_tune_text_refuses_no_questions_and_folds_without_training_questions(hashing_cli):
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1"))
    out = hashing_cli / "ranker.json"
    empty = write_rows(hashing_cli / "empty.jsonl", [])
    only_error_line(
        run_cli("bench", "tune-text", "--mcq", empty, "--index", index, "--out", out), "empty.jsonl", "no questions"
    )
    no_gold = write_rows(hashing_cli / "nogold.jsonl", [{"id": "a", "question": "granuloma", "options": ["a", "b"]}])
    only_error_line(
        run_cli("bench", "tune-text", "--mcq", no_gold, "--index", index, "--out", out), "nogold.jsonl", "gold"
    )
    one_chapter = write_rows(hashing_cli / "one.jsonl", [mcq(0, "granuloma", [1, 1]), mcq(1, "gland", [2, 2])])
    tune = ["bench", "tune-text", "--mcq", one_chapter, "--index", index, "--out", out]
    only_error_line(run_cli(*tune, "--folds", "2"), "--folds 2", "1 chapter")
    assert not out.exists()


# 3. Strict JSON ----------------------------------------------------------------------------------------------


def test_json_output_has_no_nan_or_infinity(tmp_path, capsys):
    document = {"p": float("nan"), "inf": [math.inf, -math.inf], "np": np.float32("nan"), "pair": (1.0, np.nan)}
    expected = {"p": None, "inf": [None, None], "np": None, "pair": [1.0, None]}

    def strict(text: str):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))

    print_json(document)
    assert strict(capsys.readouterr().out) == expected
    write_json(tmp_path / "out.json", document)
    assert strict((tmp_path / "out.json").read_text()) == expected


# 4. Empty or unusable inputs are refused ----------------------------------------------------------------------


def test_retrieval_refuses_questions_it_cannot_score(hashing_cli):
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1"))
    cases = {
        "empty.jsonl": ([], "no questions"),
        "nogold.jsonl": ([{"id": "a", "question": "granuloma", "options": ["a"]}], "gold pdf_pages"),
        "reversed.jsonl": ([mcq(0, "granuloma", [3, 2])], "row 1"),
        "beyond.jsonl": ([mcq(0, "granuloma", [30, 40])], "not pages of the index"),
        "array.jsonl": (["[1, 2]"], "row 1 is not a JSON object"),
        "number.jsonl": ([mcq(0, "granuloma", [1, 1]), "7"], "row 2 is not a JSON object"),
        "goldlist.jsonl": ([{"id": "a", "question": "x", "gold": [1, 2]}], "'gold' is not a JSON object"),
    }
    for name, (rows, words) in cases.items():
        path = write_rows(hashing_cli / name, rows)
        only_error_line(run_cli("bench", "retrieval", "--mcq", path, "--index", index), name, words)


def test_a_reversed_gold_range_is_refused_when_read(tmp_path):
    path = write_rows(tmp_path / "q.jsonl", [{"question": "q", "gold": {"pdf_pages": [30, 20]}}])
    with pytest.raises(BadInputError, match=r"row 1: gold pdf_pages \[30, 20\]"):
        read_mcq(path)


def test_qa_and_mcp_refuse_files_without_a_question(hashing_cli):
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1"))
    empty = write_rows(hashing_cli / "empty.jsonl", [])
    only_error_line(
        run_cli("bench", "qa", "--questions", empty, "--index", index, "--out", "qa"), "empty.jsonl", "no questions"
    )
    only_error_line(run_cli("bench", "mcp", "--questions", empty, "--index", index), "empty.jsonl", "no questions")
    bad = write_rows(hashing_cli / "bad.jsonl", [{"id": "x", "question": "", "options": ["a"], "answer": "A"}])
    only_error_line(run_cli("bench", "qa", "--questions", bad, "--index", index, "--out", "qa"), "none of its 1 rows")
    array = write_rows(hashing_cli / "array.jsonl", ["[1, 2]"])
    only_error_line(
        run_cli("bench", "qa", "--questions", array, "--index", index, "--out", "qa"), "row 1 is not a JSON object"
    )
    assert not (hashing_cli / "qa").exists()


def test_image_benchmarks_refuse_missing_images_and_files_of_another_kind(hashing_cli):
    (hashing_cli / "cases").mkdir()
    Image.new("RGB", (32, 32)).save(hashing_cli / "cases" / "a.png")
    (hashing_cli / "cases" / "labels.csv").write_text("image,label\na.png,x\nnowhere.png,x\n")
    only_error_line(
        run_cli("bench", "retrieval", "--cases", hashing_cli / "cases" / "labels.csv"), "1 of its 2 images are missing"
    )
    empty = write_rows(hashing_cli / "cases" / "empty.jsonl", [])
    only_error_line(run_cli("bench", "retrieval", "--cases", empty), "empty.jsonl has no images")
    questions = write_rows(hashing_cli / "mcq.jsonl", [mcq(0, "granuloma", [1, 1])])
    only_error_line(run_cli("bench", "retrieval", "--figures", questions), "row 1 has no 'image' field")
    figures = write_rows(hashing_cli / "figures.jsonl", [{"figure_id": "f", "image": "gone.jpg", "caption": "c"}])
    only_error_line(run_cli("bench", "retrieval", "--figures", figures), "1 of its 1 images are missing", "gone.jpg")


# 5. and 6. Options out of range end in one line, before any work ------------------------------------------------


def test_out_of_range_options_are_usage_errors(hashing_cli):
    for args in (
        ("search", "--queries", "0"),
        ("search", "--queries", "-3"),
        ("startup", "--repeats", "0"),
        ("serve", "--clients", "0"),
        ("serve", "--clients", "-2"),
        ("serve", "--seconds", "0"),
        ("serve", "--seconds", "-5"),
        ("qa", "--questions", "q.jsonl", "--limit", "0"),
        ("qa", "--questions", "q.jsonl", "--limit", "-2"),
        ("mcp", "--questions", "q.jsonl", "--limit", "0"),
        ("tune-text", "--mcq", "q.jsonl", "--folds", "1"),
    ):
        result = run_cli("bench", *args)
        assert result.exit_code == 2 and "Traceback" not in result.output, (args, result.output)


def test_wrong_names_and_folds_are_refused_before_the_run(hashing_cli):
    only_error_line(
        run_cli("bench", "search", "--records", "1000", "--faiss-index", "bogus"), "--faiss-index 'bogus'", "hnsw"
    )
    only_error_line(run_cli("bench", "search", "--records", "1000", "--stores", "bogus"), "unknown store 'bogus'")
    only_error_line(run_cli("bench", "crash", "--trials", "1", "--stores", "bogus"), "unknown store 'bogus'")
    questions = write_rows(
        hashing_cli / "q.jsonl", [mcq(0, "granuloma", [1, 1]), mcq(1, "gland", [2, 2], chapter="two")]
    )
    for folds in ("1", "-3"):
        only_error_line(run_cli("bench", "qa", "--questions", questions, "--folds", folds), f"--folds {folds}")
    only_error_line(
        run_cli("bench", "qa", "--questions", questions, "--folds", "2", "--answerer", "llm"), "offline answerer"
    )


def test_qa_folds_over_one_chapter_note_that_nothing_is_refit(hashing_cli):
    """A fold would be fitted on no question: the run goes on with the shipped weights and says so (README)."""
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1"))
    questions = write_rows(hashing_cli / "q.jsonl", [mcq(0, "granuloma", [1, 1]), mcq(1, "gland", [2, 2])])
    result = run_cli("bench", "qa", "--questions", questions, "--index", index, "--folds", "2", "--modes", "rag")
    assert result.exit_code == 0, result.output
    assert "note: option weights not refit per fold" in result.output and "held out" not in result.output


def test_unwritable_outputs_are_refused_before_the_run(hashing_cli):
    pdf = make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1")
    (hashing_cli / "folder").mkdir()
    result = run_cli("bench", "index", "--pdf", pdf, "--json", hashing_cli / "folder")
    assert "stage" not in only_error_line(result, "is a folder")
    (hashing_cli / "report").write_text("a file")
    questions = write_rows(hashing_cli / "q.jsonl", [mcq(0, "granuloma", [1, 1])])
    only_error_line(
        run_cli("bench", "qa", "--questions", questions, "--out", hashing_cli / "report"), "--out", "is a file"
    )


# 7. Open questions: an interval for a mean of recall values, and the report says how they are scored ----------------


class Says(Answerer):
    """Answers every question with the same words."""

    name = "says"

    def __init__(self, text: str):
        self.text = text

    def answer(self, question, evidence):
        return Answer(None, self.text, 0.5)


def test_right_or_wrong_scores_keep_wilsons_interval():
    from pathatlas.retrieval.metrics import mean_interval

    assert mean_interval([1.0, 0.0, 1.0, 1.0]) == wilson(3, 4)
    low, high = mean_interval([0.2, 0.4, 0.6, 0.8])
    assert 0.2 < low < 0.5 < high < 0.8


def test_open_questions_get_an_interval_of_their_mean_recall(demo_index, tmp_path):
    rows = [{"id": f"q{n}", "question": "Which cells?", "answer": "koilocyte halo"} for n in range(10)]
    items, _ = load_items(write_rows(tmp_path / "open.jsonl", rows), 10_000_000)
    result = QABench(demo_index, Says("koilocyte")).run(items, [], modes=("no-rag",))
    summary = result["modes"]["no-rag"]
    assert summary["accuracy"] == pytest.approx(1 / 2)  # token recall of every answer
    assert summary["ci95"] == pytest.approx([1 / 2, 1 / 2]), "ten equal recall values: no spread to be unsure of"
    report = markdown_report(result, "open")
    assert "Chance is 1/(number of options)" not in report and "token recall" in report and "bootstrap" in report


# 8. Every mode is timed from the same state -------------------------------------------------------------------


def test_each_mode_is_timed_warm_and_from_an_empty_sentence_cache(demo_index, tmp_path, monkeypatch):
    rows = [
        {"id": f"q{n}", "question": q, "options": ["Koilocytes", "Goblet cells"], "answer": "A"}
        for n, q in enumerate(["Which cells have a perinuclear halo?", "Which cells line the cervix?"])
    ]
    items, _ = load_items(write_rows(tmp_path / "q.jsonl", rows), 10_000_000)
    answerer = OfflineAnswerer(demo_index.encoder)
    bench = QABench(demo_index, answerer)
    cached: dict[str, list[int]] = {}
    ask = bench.ask

    def counting(item, mode):
        cached.setdefault(mode, []).append(len(answerer._vectors))
        return ask(item, mode)

    monkeypatch.setattr(bench, "ask", counting)
    result = bench.run(items, [], modes=("rag", "agentic"))
    for mode in ("rag", "agentic"):
        assert len(cached[mode]) == len(items) + 1, "one untimed question first"
        assert cached[mode][1] == 0, f"{mode}: the first timed question finds no vectors of an earlier mode"
    assert "untimed" in result["latency"] and result["latency"] in markdown_report(result, "modes")


def test_retrieval_reads_options_keyed_by_letter_as_their_texts(tmp_path):
    """``bench retrieval`` and ``tune-text`` query with question + options: options given as {"A": ...} were listed
    as their keys, so every query searched for "A B" (``bench qa`` already read them as texts)."""
    row = {**mcq(0, "granuloma", [1, 1]), "options": {"B": "caseating necrosis", "a": "koilocytes"}}
    assert read_mcq(write_rows(tmp_path / "q.jsonl", [row]))[0].options == ["koilocytes", "caseating necrosis"]
    with pytest.raises(BadInputError, match="options must be a list"):
        read_mcq(write_rows(tmp_path / "s.jsonl", [{**row, "options": "AB"}]))


def test_bench_mcp_limit_reads_the_files_first_rows(hashing_cli):
    """``--limit N`` is the file's first N rows, as in ``bench qa``: a bad row past them is no failure of the run."""
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1"))
    rows = [mcq(0, "granuloma", [1, 1]), {"id": "bad", "question": "", "options": ["a"], "answer": "A"}]
    path = write_rows(hashing_cli / "q.jsonl", rows)
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "bench", "mcp", "--questions", path]
    env = {**os.environ, **hashing_env(hashing_cli / "home")}  # a process of its own: the door talks over stdio
    done = subprocess.run(
        [*map(str, command), "--index", index, "--limit", "1", "--json", "-"], capture_output=True, env=env
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["n"] == 1 and not any("failed" in item for item in run["items"]), run


def test_tune_text_writes_its_ranker_beside_the_runs_not_over_the_shipped_one(hashing_cli, monkeypatch):
    """Without --out the fitted ranker went to the package's own retrieval/ranker.json (which search reads when it
    exists): in site-packages an upgrade dropped it, and every index in the environment ranked by one book's
    questions. Now bench-out/ranker.json, which search uses through PATHATLAS_RANKER_FILE."""
    from pathatlas.retrieval.fusion import RANKER_FILE

    shipped = RANKER_FILE.read_bytes() if RANKER_FILE.exists() else None
    index = index_of(hashing_cli, make_pdf(hashing_cli / "lib" / "book.pdf", 4, "v1"))
    rows = [mcq(n, "granuloma", [n % 4 + 1] * 2, chapter=("one", "two")[n % 2]) for n in range(4)]
    monkeypatch.chdir(hashing_cli)
    result = run_cli(
        "bench", "tune-text", "--mcq", write_rows(hashing_cli / "q.jsonl", rows), "--index", index, "--folds", 2
    )
    assert result.exit_code == 0, result.output
    written = hashing_cli / "bench-out" / "ranker.json"
    assert (RANKER_FILE.read_bytes() if RANKER_FILE.exists() else None) == shipped and written.exists()
    assert f"PATHATLAS_RANKER_FILE={written}" in result.output.replace("\n", "")
    search = run_cli("search", "granuloma", "--index", index, "--json", PATHATLAS_RANKER_FILE=written)
    assert search.exit_code == 0, search.output
