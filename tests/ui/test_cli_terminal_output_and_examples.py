"""A newcomer's first hour with ``pathatlas``: help that shows examples, tables that keep citations and words whole at
80 and 60 columns, commands that paste whole, no progress bars in a log, and a terminal that is not UTF-8."""

from __future__ import annotations

import re
import shutil

import pymupdf
import pytest
from typer.testing import CliRunner

from pathatlas.retrieval.records import Citation, Hit
from pathatlas.ui import cli
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_env, run_cli

CASE_IMAGE = "Fälle Winter, case C-05, images/DEMO-01-2.jpg"
SNIPPET = (
    "Osteogenic cells are undifferentiated and develop into osteoblasts. When osteoblasts get trapped within the "
    "calcified matrix, their structure and function changes, and they become osteocytes."
)


def lecture(root, name: str = "bone remodelling lecture.pdf"):
    """A one-page PDF at ``root/name``, about bone, with a word no ASCII terminal can print ("Fälle")."""
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 400), f"Fälle: bone. {SNIPPET} " * 3, fontsize=11)
    doc.save(root / name)
    return root / name


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """``root`` with ``lecture`` indexed (hashing encoder) into ``root/idx`` on the home ``root/home``."""
    root = tmp_path_factory.mktemp("newcomer")
    result = run_cli("index", lecture(root), "--index", root / "idx", home=root / "home")
    assert result.exit_code == 0, result.output
    return root


def body_column(table: str, n: int) -> str:
    """The text of column ``n`` of a drawn table's body rows, joined without spaces: a folded cell reads whole."""
    rows = [line.split("│") for line in table.splitlines() if line.startswith("│")]
    return "".join("".join(row[n].split()) for row in rows if len(row) > n)


# -- 1. tables at 80 and 60 columns ----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_terminal_keeps_each_citation_and_the_snippets_words_whole(monkeypatch, width):
    """At 80 columns a case's citation ended "images/DEMO-01-2.j…"; at 60 the snippet had 12 columns and read
    "undifferent…". Below ``STACKED_BELOW`` kind and relevance stand under the citation, which folds, never cut."""
    monkeypatch.setattr(cli.console, "width", width)
    hits = [Hit("a", 1.0, "case", SNIPPET, Citation("/c/Fälle Winter", case="C-05", image="images/DEMO-01-2.jpg"))]
    assert hits[0].citation.label() == CASE_IMAGE
    with cli.console.capture() as captured:
        cli.console.print(cli.hits_table(hits))
    table = captured.get()
    assert "…" not in table and "undifferentiated" in table, table
    assert body_column(table, 2).startswith(CASE_IMAGE.replace(" ", "")), table  # whole, folded or not
    assert "case: best match" in table and "relevance" not in table, "kind and relevance stand under the citation"


@pytest.mark.parametrize("width", [80, 120])
def test_the_index_tables_problems_fold_the_path_of_the_copy_already_indexed(tmp_path, monkeypatch, width):
    """The problems column cut it to "/tmp/…/corpus/primer/demo-primer.p…": the file the user has to find."""
    first = make_pdf(tmp_path / "a-long-folder-name-for-the-lecture-notes-of-week-one" / "slides.pdf", 1, "v1")
    assert run_cli("index", first, "--index", tmp_path / "idx", home=tmp_path / "home").exit_code == 0
    copy = tmp_path / "another-long-folder-of-copied-teaching-material" / "slides.pdf"
    copy.parent.mkdir()
    shutil.copyfile(first, copy)
    monkeypatch.setattr(cli.console, "width", width)
    table = run_cli("index", copy, "--index", tmp_path / "idx", home=tmp_path / "home").stdout
    assert "…" not in table, table
    assert f"{copy}isthesamefileas{first}," in body_column(table, 5), table


def test_a_wide_terminal_keeps_the_five_columns(monkeypatch):
    monkeypatch.setattr(cli.console, "width", 140)
    with cli.console.capture() as captured:
        cli.console.print(cli.hits_table([Hit("a", 1.0, "page", SNIPPET, Citation("/b/book.pdf", page=3))]))
    header = next(line for line in captured.get().splitlines() if "citation" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == ["#", "relevance", "kind", "citation", "snippet"]


def test_info_at_60_columns_names_each_source_whole_as_remove_takes_it(indexed, monkeypatch):
    """The source column ended "/tmp/…/re…": the key ``pathatlas remove`` wants. The counts read as words."""
    monkeypatch.setattr(cli.console, "width", 60)
    result = run_cli("info", "--index", indexed / "idx", home=indexed / "home")
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("┏") :]
    source = str(indexed / "bone remodelling lecture.pdf")
    assert body_column(table, 1).startswith(source.replace(" ", "")), table
    assert "{" not in result.stdout and re.search(r"records \d+ \(page 1, passage \d+\)", result.stdout)


def test_a_wrapped_quote_stays_indented_under_its_option(monkeypatch):
    """``ask`` at 60 columns wrapped each quote back to the first column, where it read as a new option."""
    monkeypatch.setattr(cli.console, "width", 60)
    quote = {"quote": SNIPPET, "stance": "supports", "citation": {"label": "book.pdf, p. 174", "bbox": None}}
    option = {"label": "A", "text": "osteocyte", "score": 0.7, "evidence": [quote]}
    document = {
        "choice": 0,
        "answer": "osteocyte",
        "confidence": 0.7,
        "settled": True,
        "tied": [],
        "rationale": "Because.",
    }
    with cli.console.capture() as captured:
        cli.print_answer({**document, "options": [option], "citations": [], "trace": []})
    lines = captured.get().splitlines()
    quoted = lines[lines.index("> A. osteocyte  (score 0.70)") + 1 :]
    assert len(quoted) > 2 and all(line.startswith("    ") and line.strip() for line in quoted), quoted


# -- 2. lines to paste, logs without progress bars -------------------------------------------------------------------


def test_export_and_demo_print_their_next_command_on_one_line_and_no_progress_into_a_log(indexed, monkeypatch):
    """At 60 columns "try: pathatlas search ... --index" broke before the index's path, which a paste then lost; and
    ``2>log`` kept every redraw of every progress bar."""
    monkeypatch.setattr(cli.console, "width", 60)
    copy, out = indexed / "qdrant copy", indexed / "idx-q"
    exported = run_cli("export", "--to", copy, "--index", indexed / "idx", "--out", out, home=indexed / "home")
    assert exported.exit_code == 0, exported.output
    assert f"search it: pathatlas search --index {out} ..." in exported.stdout.splitlines()
    demo = run_cli("demo", "--index", indexed / "demo", home=indexed / "home")
    assert demo.exit_code == 0, demo.output
    assert f'try: pathatlas search "granuloma with giant cells" --index {indexed / "demo"}' in demo.stdout.splitlines()
    indexed_again = run_cli("index", lecture(indexed, "second.pdf"), "--index", indexed / "idx", home=indexed / "home")
    assert indexed_again.exit_code == 0, indexed_again.output
    for result in (exported, demo, indexed_again):
        assert "%|" not in result.stderr and "\r" not in result.stderr, result.stderr


def test_progress_is_drawn_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(cli.err_console, "_force_terminal", True)
    assert cli.progress_shown() and not cli.progress_shown(as_json=True)
    monkeypatch.setattr(cli.err_console, "_force_terminal", False)
    assert not cli.progress_shown()


# -- 3. a terminal that is not UTF-8 ---------------------------------------------------------------------------------


def test_a_terminal_that_is_not_utf8_gets_question_marks_not_a_traceback(indexed):
    """``PYTHONIOENCODING=ascii`` (or a Latin-1 terminal): the snippet's "…" and the word "Fälle" raised
    UnicodeEncodeError inside Rich, a traceback instead of the hits."""
    env = {**hashing_env(indexed / "home"), "COLUMNS": "80"}
    result = CliRunner(charset="ascii").invoke(
        cli.app, ["search", "Fälle bone", "--index", str(indexed / "idx")], env=env
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "F?lle" in result.stdout and "+---" in result.stdout  # Rich's ASCII box, the word replaced


# -- 4. help a newcomer can start from -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", cli.FIRST_COMMANDS)
def test_each_first_hour_command_shows_indented_examples(command):
    shown = run_cli(command, "--help", COLUMNS="100").stdout
    examples = shown[shown.index("Examples:") :].splitlines()[1]
    assert examples.startswith(f"     pathatlas {command}"), shown


def test_the_overview_lists_the_first_hour_first_and_says_where_to_start():
    shown = run_cli("--help", COLUMNS="100").stdout
    listed = re.findall(r"^│ ([a-z][a-z-]*) ", shown, re.MULTILINE)
    assert listed[: len(cli.FIRST_COMMANDS)] == list(cli.FIRST_COMMANDS), listed
    assert "'pathatlas demo'" in shown


def test_a_long_help_paragraph_flows_instead_of_breaking_where_the_source_wraps():
    """``export --help`` broke lines after "as this" and "sent only", where its docstring wraps."""
    shown = " ".join(run_cli("export", "--help", COLUMNS="200").stdout.split("\n"))
    assert "records the URL and collection) as this version writes one" in shown
    assert (
        cli.flowing("One.\n\nTwo\nthree.\n\nExamples:\n    a\n    b")
        == "One.\n\n\nTwo three.\n\nExamples:\n    a\n    b"
    )


def test_list_options_name_what_they_take_not_a_python_type():
    shown = run_cli("ask", "--help", COLUMNS="120").stdout
    assert "FIELD=VALUE" in shown and "A=TEXT" in shown and "list[str]" not in shown
