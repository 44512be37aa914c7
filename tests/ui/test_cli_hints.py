"""A lecturer's index in a folder of her own (``--index``, a name with a space): every command a hint of ``index``,
``info`` and ``remove`` prints, pasted as it is, acts on that index, not on the default one; a PDF copied to a second
folder is not indexed twice from the command line, while a moved one still is; ``info`` says what its OCR's "70 dpi"
is; ``serve --help`` shows the whole ``--index`` default in 80 columns."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.ocr import UNKNOWN_DPI, engine_name
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, one_error_line, run_cli
from tests.ui.test_cli_case_folder_messages import case_folder

WIDE = "400"
"""Columns enough for a table cell to hold a hint on one line, as a lecturer's wide terminal does."""


def between(text: str, before: str, after: str) -> list[str]:
    """The command a message quotes between ``before`` and ``after``, split as a shell splits it."""
    start = text.index(before) + len(before)
    return shlex.split(text[start : text.index(after, start)])


def pasted(command: list[str], home: Path):
    """``command``, a ``pathatlas`` command a hint printed, run as a user pasting it: in a home whose default index
    does not exist, so that a hint without the index it is about fails."""
    assert command[0] == "pathatlas", command
    return run_cli(*command[1:], home=home, COLUMNS=WIDE)


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    """Two PDFs and a case folder with four problems (a photo no row lists, rows of a missing, a broken and an empty
    photo), indexed into "my index"."""
    books = tmp_path / "books"
    make_pdf(books / "twocol.pdf", 2, "twocol")
    make_pdf(books / "other.pdf", 2, "other")
    cases = case_folder(tmp_path / "my cases")
    Image.new("RGB", (40, 40)).save(cases / "unlisted.png")
    with (cases / "labels.csv").open("a") as sheet:
        for name in ("missing_slide.jpg", "broken.jpg", "empty.jpg"):
            sheet.write(f"{name};C-{name[:3]};Gastritis;Stomach;HE\r\n")
    (cases / "broken.jpg").write_text("not a picture")
    (cases / "empty.jpg").write_bytes(b"")
    paths = {"home": tmp_path / "home", "index": tmp_path / "my index", "books": books, "cases": cases}
    indexed = run_cli("index", books, cases, "--index", paths["index"], home=paths["home"])
    assert indexed.exit_code == 0, indexed.output
    return paths


def sources(library: dict[str, Path]) -> set[str]:
    listed = run_cli("info", "--index", library["index"], "--json", home=library["home"])
    return {Path(key).name for key in json.loads(listed.stdout)["sources"]}


def test_the_index_tables_more_problems_hint_lists_them_in_that_index(library):
    table = run_cli(
        "index", library["cases"], "--index", library["index"], "--force", home=library["home"], COLUMNS=WIDE
    )
    assert table.exit_code == 0, table.output
    listed = pasted(between(table.stdout, "more: ", ")"), library["home"])
    assert listed.exit_code == 0, listed.output
    assert "my cases: 4 problem(s)" in listed.stdout and "empty.jpg" in listed.stdout, listed.stdout


def test_a_source_missing_on_disk_is_dropped_by_the_command_index_and_info_print(library):
    (library["books"] / "twocol.pdf").rename(library["books"].parent / "twocol.pdf")
    again = run_cli("index", "--index", library["index"], home=library["home"])
    removal = between(one_error_line(again, "not found on disk"), "then '", "' drops this one")
    said = run_cli("info", "--index", library["index"], home=library["home"]).stdout
    assert between(said, "drop the old ones: '", "'\n") == removal, said
    removed = pasted(removal, library["home"])
    assert removed.exit_code == 0, removed.output
    assert sources(library) == {"other.pdf", "my cases"}


def test_infos_problem_count_hint_lists_them_in_that_index(library):
    said = run_cli("info", "--index", library["index"], home=library["home"], COLUMNS=WIDE).stdout
    listed = pasted(between(said, "found while indexing: ", "\n"), library["home"])
    assert listed.exit_code == 0, listed.output
    assert "my cases: 4 problem(s)" in listed.stdout, listed.stdout


def test_removes_hints_list_and_index_again_that_index(library):
    unknown = run_cli("remove", "nothing.pdf", "--index", library["index"], home=library["home"])
    listing = pasted(
        between(one_error_line(unknown, "no source 'nothing.pdf'"), "; '", "' lists them"), library["home"]
    )
    assert listing.exit_code == 0 and "twocol.pdf" in listing.stdout, listing.output

    photo = library["cases"] / "unlisted.png"
    part = one_error_line(run_cli("remove", photo, "--index", library["index"], home=library["home"]), "one source")
    photo.unlink()
    again = pasted([*between(part, "and run `", "` again"), "--json"], library["home"])
    assert again.exit_code == 0, again.output
    (report,) = json.loads(again.stdout)
    assert report["status"] == "indexed" and not any("unlisted.png" in p for p in report["problems"]), report
    dropped = pasted(between(part, "again (`", "` drops"), library["home"])
    assert dropped.exit_code == 0, dropped.output
    assert sources(library) == {"twocol.pdf", "other.pdf"}


def test_the_default_index_is_named_by_hints_without_index(tmp_path):
    make_pdf(tmp_path / "gone.pdf", 1, "gone")
    home = tmp_path / "home"
    assert run_cli("index", tmp_path / "gone.pdf", home=home).exit_code == 0
    (tmp_path / "gone.pdf").unlink()
    again = one_error_line(run_cli("index", home=home), "not found on disk")
    assert "'pathatlas remove gone.pdf' drops this one" in again, again


# -- the same PDF under a second path -----------------------------------------------------------------------------


def index_json(*paths: Path, index: Path, home: Path, force: bool = False) -> tuple[int, list[dict]]:
    result = run_cli("index", *paths, "--index", index, "--json", *(["--force"] if force else []), home=home)
    return result.exit_code, json.loads(result.stdout)


def hits_of(index_dir: Path, home: Path, text: str) -> list[str]:
    settings = hashing_settings(home.parent, index=index_dir)
    with Index.open(index_dir, settings) as index:
        found = Searcher(index).search(Query(text=text, k=20, filters={"kind": "page"}))
    return sorted(f"{Path(hit.payload.source).name} p{hit.payload.page}" for hit in found)


def test_a_pdf_copied_to_a_second_folder_is_skipped_naming_the_removal_that_indexes_it_there(tmp_path):
    home, index = tmp_path / "home", tmp_path / "idx"
    mine = make_pdf(tmp_path / "mine" / "text.pdf", 2, "koilocytes")
    assert index_json(mine, index=index, home=home)[0] == 0
    copy = tmp_path / "books2" / "text.pdf"
    copy.parent.mkdir()
    shutil.copyfile(mine, copy)

    code, (report,) = index_json(copy.parent, index=index, home=home)
    assert code == 1 and report["status"] == "failed", report
    (problem,) = report["problems"]
    assert problem.startswith(f"{copy} is the same file as {mine}, already indexed: skipped"), problem
    assert hits_of(index, home, "koilocytes page") == ["text.pdf p1", "text.pdf p2"]  # each page once

    removed = pasted(between(problem, "instead, '", "' first"), home)
    assert removed.exit_code == 0, removed.output
    code, (report,) = index_json(copy.parent, index=index, home=home)
    assert (code, report["status"]) == (0, "indexed"), report
    assert sources({"index": index, "home": home}) == {"text.pdf"}


def test_the_same_bytes_named_twice_in_one_run_are_indexed_once(tmp_path):
    first = make_pdf(tmp_path / "a" / "notes.pdf", 1, "osteoclasts")
    second = tmp_path / "b" / "notes.pdf"
    second.parent.mkdir()
    shutil.copyfile(first, second)
    code, reports = index_json(first, second, index=tmp_path / "idx", home=tmp_path / "home")
    assert code == 1 and [r["status"] for r in reports] == ["indexed", "failed"], reports


def test_a_moved_pdf_is_still_indexed_at_its_new_place_with_the_note_to_drop_the_old(tmp_path):
    home, index = tmp_path / "home", tmp_path / "idx"
    old = make_pdf(tmp_path / "old" / "text.pdf", 1, "moved")
    assert index_json(old, index=index, home=home)[0] == 0
    new = tmp_path / "new" / "text.pdf"
    new.parent.mkdir()
    old.rename(new)
    code, (report,) = index_json(new, index=index, home=home)
    assert (code, report["status"]) == (0, "indexed"), report
    noted = run_cli("index", new, "--index", index, home=home).stderr  # unchanged, still beside its missing copy
    (note,) = [line for line in noted.splitlines() if "same content" in line]
    dropped = pasted(between(note, "both are searched; '", "' drops the old copy"), home)
    assert dropped.exit_code == 0, dropped.output
    assert hits_of(index, home, "moved page") == ["text.pdf p1"]


def test_copies_indexed_before_the_check_are_read_again_when_forced(tmp_path):
    """An index that holds two copies already (indexed by a door that does not skip them, or before the check) is not
    stuck: reading them again with their bytes unchanged refuses neither."""
    first = make_pdf(tmp_path / "a" / "notes.pdf", 1, "chondrocytes")
    second = tmp_path / "b" / "notes.pdf"
    second.parent.mkdir()
    shutil.copyfile(first, second)
    settings = hashing_settings(tmp_path, index=tmp_path / "idx")
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([first, second]).failed
    code, reports = index_json(first, second, index=settings.index_dir, home=settings.home, force=True)
    assert code == 0 and [r["status"] for r in reports] == ["indexed", "indexed"], reports


# -- info's OCR line and serve's help ----------------------------------------------------------------------------


def test_info_says_what_its_ocr_resolution_is(tmp_path):
    if engine_name() is None:
        pytest.skip("tesseract is not installed here")
    make_pdf(tmp_path / "book.pdf", 1, "ocr")
    home = tmp_path / "home"
    assert run_cli("index", tmp_path / "book.pdf", home=home).exit_code == 0
    said = run_cli("info", home=home, PATHATLAS_FIGURE_OCR="1").stdout
    (line,) = [line for line in said.splitlines() if line.startswith("ocr ")]
    assert f", images read as {UNKNOWN_DPI} dpi whatever resolution they state (tesseract's default)" in line, line
    assert f" {UNKNOWN_DPI} dpi," not in line, line


def test_serve_help_shows_the_whole_index_default_in_80_columns():
    shown = run_cli("serve", "--help", COLUMNS="80").output
    assert "…" not in shown, shown
    flowing = " ".join(line.strip("│ ") for line in shown.splitlines())
    assert "else index/ in PATHATLAS_HOME, whose default is ~/.pathatlas" in " ".join(flowing.split()), shown
