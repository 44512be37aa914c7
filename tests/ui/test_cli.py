"""The pathatlas command as a user runs it: tables, JSON, one-line errors and exit codes."""

from __future__ import annotations

import json
import re

from pathatlas.retrieval.ocr import engine_name
from pathatlas.ui.cli import app, ocr_line
from tests.helpers import run_cli


def test_index_search_info_remove(demo_corpus, tmp_path, session_home, monkeypatch):
    monkeypatch.setenv("PATHATLAS_HOME", str(session_home))
    index = tmp_path / "idx"
    result = run_cli("index", demo_corpus / "cases", "--index", index)
    assert result.exit_code == 0, result.output
    assert "indexed" in result.output

    result = run_cli("search", "granuloma sarcoidosis", "--index", index, "--k", "3", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 3 and hits[0]["citation"]["case"] in {"DEMO-02", "DEMO-03"}
    assert hits[0]["citation"]["label"].startswith("cases, case")
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["relevance"] == "best match", "as the table shows"
    assert "words #1" in hits[0]["why"] and hits[0]["relative_score"] == 1.0
    assert len(json.loads(run_cli("search", "granuloma", "--index", index, "-k", "2", "--json").stdout)) == 2
    result = run_cli("search", "qqxzv", "--index", index)  # no word BM25 knows: found by meaning alone
    labels = re.findall(r"(?:best|strong|good) match|related", result.output)
    assert result.exit_code == 0 and labels and set(labels) == {"related"}, result.output  # none claims a match

    image = demo_corpus / "cases" / "images" / "DEMO-07-1.jpg"
    result = run_cli("search", "--image", image, "--index", index, "--json", "--filter", "kind=case")
    assert json.loads(result.output)[0]["citation"]["case"] == "DEMO-07"

    result = run_cli("info", "--index", index, "--json")
    info = json.loads(result.output)
    assert info["records"] == 16 and info["kinds"] == {"case": 16}
    assert info["ocr"] == {"figures": False, "queries": False, "engine": engine_name()}  # the suite pins OCR off

    result = run_cli("remove", "cases", "--index", index)
    assert result.exit_code == 0 and "removed 16" in result.output


def test_the_hits_table_shows_book_text_as_written_and_a_figures_printed_words():
    from pathatlas.retrieval.records import Citation, Hit, Payload
    from pathatlas.ui.cli import console, hits_table

    page = Hit(
        "p1",
        2.0,
        "page",
        "Bone remodels [see below] and [bold]osteoclasts[/bold] resorb it.",
        Citation("b.pdf", page=3),
    )
    figure = Hit(
        "f1", 1.0, "figure", "Figure 6.8", Citation("b.pdf", page=4), payload=Payload(ocr="Periosteum Osteoclast")
    )
    with console.capture() as captured:
        console.print(hits_table([page, figure]))
    shown = " ".join(captured.get().split())
    assert "[see below]" in shown and "[bold]osteoclasts[/bold]" in shown, "book text is not Rich markup"
    assert "printed: Periosteum Osteoclast" in shown


def test_a_wide_table_in_a_log_keeps_its_figures_whole(monkeypatch):
    """``bench qa > log``: fourteen columns of figures, none cut to "0.…" by a console that assumed 80 columns."""
    import io

    from pathatlas.ui import cli_common
    from pathatlas.ui.bench_cli import qa_table

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    log = cli_common._console()
    mode = {
        "accuracy": 0.605,
        "ci95": [0.553, 0.655],
        "vs_rag": {"difference": 0.043, "ci95": [-0.011, 0.098]},
        "negated": {"accuracy": 0.517, "n": 29},
        "ece": 0.123,
        "evidence_recall@5": 0.911,
        "p50_s": 0.14,
        "p95_s": 0.31,
        "no_citation_rate": 0.003,
        "verbatim_quote_rate": 0.997,
        "gold_page_quoted": 0.614,
        "parse_failures": 12,
        "failed": 1,
    }
    log.print(qa_table({"modes": {"agentic": mode}}, "mcq_dev.jsonl: 347 questions, answerer offline"))
    written = log.file.getvalue()
    figures = ["0.605", "0.553-0.655", "+0.043", "-0.011", "+0.098", "0.517 (29)", "0.123", "0.911", "0.14", "0.31"]
    assert all(f in written for f in [*figures, "0.003", "0.997", "0.614", "12"]), written
    assert "…" not in written, written

    monkeypatch.setenv("COLUMNS", "80")  # a width the user asked for is kept
    assert cli_common._console().width == 80
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr("sys.stdout", None)  # pythonw: no console at all is a log too, not an AttributeError
    assert cli_common._console().width == cli_common.LOG_WIDTH


def test_errors_are_one_line_with_status_1(tmp_path, session_home, monkeypatch):
    monkeypatch.setenv("PATHATLAS_HOME", str(session_home))
    cases = [
        (("search", "granuloma", "--index", tmp_path / "none"), "no PathAtlas index"),
        (("search", "", "--index", tmp_path), "empty query"),
        (("search", "the of and", "--index", tmp_path), "the query 'the of and' has only common words"),
        (("index", tmp_path / "missing.pdf", "--index", tmp_path / "i"), "no such file"),
        (("index", tmp_path, "--index", tmp_path / "j", "--store", "milvus"), "unknown store 'milvus'"),
        (("search", "granuloma", "--filter", "organ", "--index", tmp_path), "--filter 'organ'"),
        (("search", "granuloma", "--filter", "kind=pag", "--index", tmp_path), "unknown kind 'pag'; use page, passage"),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
    monkeypatch.setenv("PATHATLAS_PAGES_PER_SECTION", "-1")  # a setting that does not fit names its variable
    monkeypatch.setenv("PATHATLAS_QUERY_OCR", "maybe")
    result = run_cli("search", "granuloma", "--index", tmp_path)
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "error: bad setting PATHATLAS_PAGES_PER_SECTION='-1': Input should be greater than or equal to 0; "
        "PATHATLAS_QUERY_OCR='maybe': Input should be a valid boolean, unable to interpret input"
    ]


def test_text_file_named_png_as_query_image(tmp_path, session_home, monkeypatch, demo_index):
    monkeypatch.setenv("PATHATLAS_HOME", str(session_home))
    fake = tmp_path / "slide.png"
    fake.write_text("hello")
    result = run_cli("search", "--image", fake, "--index", demo_index.path)
    assert result.exit_code == 1 and "slide.png is not a readable image" in result.output


def test_ask_prints_answer_with_citation(demo_index, session_home, monkeypatch):
    monkeypatch.setenv("PATHATLAS_HOME", str(session_home))
    result = run_cli(
        "ask",
        "Which cells show a clear perinuclear halo in HPV infection of the cervix?",
        "--option",
        "A=Langhans giant cells",
        "--option",
        "B=Koilocytes",
        "--index",
        demo_index.path,
        "--json",
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["choice"] == 1 and answer["answer"] == "Koilocytes" and answer["citations"][0]["page"] == 1
    assert [s["step"] for s in answer["trace"]][0] == "plan"
    bad = run_cli("ask", "Which?", "--option", "A=x", "--option", "C=y", "--index", demo_index.path)
    assert bad.exit_code == 1 and "without gaps" in bad.output


def test_ask_and_search_take_a_source_by_file_name(demo_index, session_home, monkeypatch):
    monkeypatch.setenv("PATHATLAS_HOME", str(session_home))
    question = ["ask", "Which disease shows granulomas?", "--option", "A=Sarcoidosis", "--option", "B=Koilocytosis"]
    result = run_cli(*question, "--filter", "source=cases", "--index", demo_index.path, "--json")
    assert result.exit_code == 0, result.output
    cited = json.loads(result.stdout)["citations"]
    assert cited and all(c["label"].startswith("cases, case") for c in cited), cited
    result = run_cli("search", "granuloma", "--filter", "source=demo-primer.pdf", "--index", demo_index.path, "--json")
    assert {h["citation"]["source"] for h in json.loads(result.output)} == {"demo-primer.pdf"}
    unknown = run_cli(*question, "--filter", "source=atlas.pdf", "--index", demo_index.path)
    assert unknown.exit_code == 1 and "no source 'atlas.pdf'" in unknown.output


def test_info_says_whose_printed_words_are_read_and_by_what(pretend_tesseract):
    assert ocr_line(True, False, "tesserocr 2.13.0") == "figures, by tesserocr 2.13.0"
    assert ocr_line(True, True, "tesseract program") == "figures and image queries, by tesseract program"
    assert ocr_line(False, False, "tesseract program").startswith("off (PATHATLAS_FIGURE_OCR=0, PATHATLAS_QUERY_OCR=0)")
    pretend_tesseract(False)
    assert engine_name() is None
    assert ocr_line(True, True, None).startswith("off: tesseract is not installed (apt-get install tesseract-ocr")


def test_every_command_has_a_one_line_summary_for_the_command_list():
    """Typer keeps a docstring's line breaks: a summary spread over two source lines breaks mid-sentence in
    ``--help``."""
    groups = [("", app)]
    summaries = {}
    while groups:
        prefix, group = groups.pop()
        summaries |= {prefix + (c.name or c.callback.__name__): c.callback.__doc__ for c in group.registered_commands}
        groups += [(f"{prefix}{g.name} ", g.typer_instance) for g in group.registered_groups]
    assert len(summaries) > 20 and "bench qa" in summaries
    assert {name: doc for name, doc in summaries.items() if not doc or "\n" in doc.strip().split("\n\n")[0]} == {}


def test_serving_no_index_says_so_before_it_starts(tmp_path, demo_index):
    from pathatlas.ui.cli import new_index_notice

    assert "no index at" in new_index_notice(tmp_path / "typo") and new_index_notice(demo_index.path) is None
