"""Follow-ups at the doors: ``Atlas`` checks k without importing the service and its agent; the MCP tools and REST's
DELETE refuse a source named by a server path as an unknown one; a refused filter value is echoed at most 200
characters; a chapter whose bookmark is its title alone is named by the number printed atop it ("Chapter 1.").
Hashing encoder and tiny files throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pymupdf
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError
from PIL import Image

from pathatlas.errors import UnknownSourceError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import ECHO_CHARS, Chapters, Query, Searcher, resolve_filters
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.helpers import hashing_settings, indexed_lecture, one_error_line, run_cli
from tests.uploads import api_settings

TITLES = ["Cells", "Tissues", "Bone", "Muscle", "Nerves", "Blood", "Heart", "Lungs", "Gut", "Kidney", "Skin"]
"""Eleven chapters, so that a number's digits begin another's ("1" and "10", "11")."""


def index_of(root: Path, *paths: Path, settings=None) -> Path:
    """``paths`` indexed into ``root``'s index (hashing encoder); returns ``root``."""
    settings = settings or api_settings(root)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add(list(paths)).failed
    index.close()
    return root


@pytest.fixture
def library(tmp_path) -> Path:
    """A PDF and a case folder of one image (organ lung), indexed under ``tmp_path``."""
    make_pdf(tmp_path / "books" / "book.pdf", 2, "v1")
    cases = tmp_path / "cases"
    cases.mkdir()
    Image.effect_noise((48, 48), 40).convert("RGB").save(cases / "a.jpg", "JPEG")
    (cases / "cases.jsonl").write_text(json.dumps({"image": "a.jpg", "case": "A", "organ": "lung"}) + "\n")
    return index_of(tmp_path, tmp_path / "books", cases)


def test_atlas_searches_without_importing_the_service_or_the_agent(tmp_path):
    """``check_k`` is ``ui.hits``', not the tools': a first ``Atlas.search`` took 3.5 s instead of 1.5 s importing the
    REST engine and langgraph through ``ui.tools``."""
    indexed_lecture(tmp_path, "a.pdf", "Granuloma with giant cells in the lung.")
    script = f"""
import sys
from pathatlas.ui.library import Atlas
from pathatlas.errors import BadInputError
atlas = Atlas({str(tmp_path / "idx")!r}, home={str(tmp_path / "home")!r},
              encoder="py:pathatlas.ui.bench_crash.HashingEncoder", case_keypoints=False)
assert atlas.search("granuloma"), "found"
try:
    atlas.search("granuloma", k=101)
except BadInputError as exc:
    print(exc)
print(sorted(m for m in ("langgraph", "pathatlas.ui.api.engine", "pathatlas.ui.tools") if m in sys.modules))
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["k must be between 1 and 100, not 101", "[]"]


PATHS = ["..", ".", "~", "books/book.pdf", "C:book.pdf"]
"""Names of sources by a server path (``..`` and ``~`` name the case folder from where ``in_library`` stands)."""


@pytest.fixture
def in_library(library, monkeypatch) -> Path:
    """The working folder a folder inside the case folder, and the home the case folder: ``..`` and ``~`` name it."""
    inner = library / "cases" / "inner"
    inner.mkdir()
    monkeypatch.chdir(inner)
    monkeypatch.setenv("HOME", str(library / "cases"))
    return library


def refusal(server, tool: str, arguments: dict, source: str) -> str:
    """The one line an MCP tool answers ``source`` with."""
    with pytest.raises(ToolError) as raised:
        anyio.run(server.call_tool, tool, {**arguments, "source": source})
    return str(raised.value)


@pytest.mark.parametrize(
    "tool, arguments", [("search", {"text": "page"}), ("ask", {"question": "Which page?"}), ("get_page", {"page": 1})]
)
def test_a_tool_refuses_a_source_named_by_a_server_path_as_an_unknown_one(in_library, monkeypatch, tool, arguments):
    with TestClient(create_app(api_settings(in_library))) as client:
        engine = client.app.state.engine
        tools = Toolbox(engine)
        server = build_server(tools)

        def unknown(name: str) -> str:  # a source the index lacks, echoed as the client sent it
            said = f"no source {name!r} in the index; search without it: each hit's citation names its source"
            return f"Error executing tool {tool}: {said}"

        assert refusal(server, tool, arguments, "gone.pdf") == unknown("gone.pdf")
        assert engine.index.resolve_source("..") == str(in_library / "cases"), "the index finds it by path"
        for name in [*PATHS, str(in_library / "books" / "book.pdf")]:
            assert refusal(server, tool, arguments, name) == unknown(name)
        monkeypatch.chdir(in_library)  # books/book.pdf is a path from here
        assert refusal(server, tool, arguments, "books/book.pdf") == unknown("books/book.pdf")
        if tool != "get_page":  # a filter's source is read stripped: " .. " is ".."
            assert refusal(server, tool, arguments, " .. ") == unknown("..")
        assert tools.search("page", source="book.pdf")["hits"], "a source's file name is taken as before"
        assert tools.get_page("book.pdf", 2)["page"] == 2


def test_rest_deletes_no_source_named_by_a_server_path(in_library):
    with TestClient(create_app(api_settings(in_library))) as client:
        before = client.get("/sources").json()
        for name, sent in [("..", "%2E%2E"), (".", "%2E"), ("~", "~"), ("C:cases", "C:cases"), ("b\\c", "b%5Cc")]:
            refused = client.delete(f"/sources/{sent}")
            assert refused.status_code == 404, name
            assert refused.json() == {"detail": f"no source {name!r} in the index; GET /sources lists them"}
        assert client.get("/sources").json() == before, "nothing removed"
        assert client.delete("/sources/cases").json()["removed"] == 1, "a source's listed name removes it"


def test_a_refused_filter_value_is_echoed_at_most_200_characters(library):
    """The index's own refusals (a value no record holds, a chapter it lacks), as every door shows them."""
    long = "x" * 5000
    with TestClient(create_app(api_settings(library))) as client:
        for field in ("organ", "diagnosis", "chapter"):
            refused = client.post("/search", json={"text": "page", "filters": {field: long}})
            detail = refused.json()["detail"]
            assert refused.status_code == 404 and f"no {field} '{'x' * ECHO_CHARS}... (5,000 characters)'" in detail
            assert len(detail) < ECHO_CHARS + 300, field
        short = client.post("/search", json={"text": "page", "filters": {"organ": "x" * ECHO_CHARS}}).json()["detail"]
        assert short.startswith(f"no organ '{'x' * ECHO_CHARS}' in index"), "a value up to the limit whole"


@pytest.fixture
def primer(tmp_path) -> Path:
    """A book like the demo primer: bookmarks give each chapter's title alone, its page prints "Chapter N. Title";
    indexed into ``tmp_path/index``."""
    doc = pymupdf.open()
    for number, title in enumerate(TITLES, start=1):
        for part in ("opens", "goes on"):
            page = doc.new_page(width=300, height=300)
            heading = f"Chapter {number}. {title}\n" if part == "opens" else ""
            page.insert_textbox(pymupdf.Rect(20, 20, 280, 280), f"{heading}The tissue of {title} {part} here.")
    doc.set_toc([[1, title, 2 * n + 1] for n, title in enumerate(TITLES)])
    doc.save(tmp_path / "primer.pdf")
    return index_of(tmp_path, tmp_path / "primer.pdf", settings=hashing_settings(tmp_path))


@pytest.mark.parametrize(
    "name, chapter",
    [("1", "Cells"), ("Chapter 1.", "Cells"), ("chapter 1", "Cells"), ("1 cells", "Cells"),
     ("Chapter 1: Cells", "Cells"), ("10", "Kidney"), ("11", "Skin"), ("chapter 11. skin", "Skin"),
     ("kidney", "Kidney")],
)  # fmt: skip
def test_a_chapter_is_named_by_the_number_printed_atop_it(primer, name, chapter):
    index = Index.open(primer / "index", hashing_settings(primer))
    assert resolve_filters({"chapter": name}, index)["section"] == [chapter]


def test_the_cli_searches_a_chapter_by_its_printed_number(primer):
    home = primer / "home"
    found = run_cli("search", "tissue", "--index", primer / "index", "--filter", "chapter=1", "--json", home=home)
    assert found.exit_code == 0, found.output
    assert {hit["citation"]["page"] for hit in json.loads(found.output)} == {1, 2}
    refused = run_cli("search", "tissue", "--index", primer / "index", "--filter", "chapter=12", home=home)
    assert one_error_line(refused, "no chapter '12'", "its chapters: Cells; Tissues; Bone; Muscle; Nerves (+6 more)")


def test_a_number_names_each_books_chapter_beside_a_numbered_textbook(primer):
    """A primer numbered only on its pages, added beside a book bookmarked "1 Anatomy": chapter=1 was refused ("several
    match it") where before the primer came it found the book's; now each book's chapter 1. Beside a source filter, a
    chapter is that source's: chapter=5 of the two-chapter book found nothing, silently (the primer's "Muscle")."""
    doc = pymupdf.open()
    for title in ("1 Anatomy", "2 Chemistry of Cells"):
        doc.new_page(width=300, height=300).insert_textbox(pymupdf.Rect(20, 20, 280, 280), f"The {title} page.")
    doc.set_toc([[1, "1 Anatomy", 1], [1, "2 Chemistry of Cells", 2]])
    doc.save(primer / "textbook.pdf")
    settings = hashing_settings(primer)
    index = Index.open(settings.index_dir, settings)
    assert not Indexer(index, show_progress=False).add([primer / "textbook.pdf"]).failed
    assert resolve_filters({"chapter": "1"}, index)["section"] == ["1 Anatomy", "Cells"]
    assert resolve_filters({"chapter": "Chapter 2"}, index)["section"] == ["2 Chemistry of Cells", "Tissues"]
    book = resolve_filters({"chapter": "1", "source": "textbook.pdf"}, index)
    found = Searcher(index).search(Query(text="page", filters={"chapter": "1", "source": "textbook.pdf"}))
    assert book["section"] == ["1 Anatomy"] and {h.payload.section for h in found} == {"1 Anatomy"}
    with pytest.raises(UnknownSourceError, match="no chapter '5'.*its chapters: 1 Anatomy; 2 Chemistry of Cells$"):
        resolve_filters({"chapter": "5", "source": "textbook.pdf"}, index)  # the primer's "Muscle" matched nothing
    with pytest.raises(UnknownSourceError, match="no chapter 'cells'"):
        resolve_filters({"chapter": "cells"}, index)  # two books' chapters hold the word
    assert resolve_filters({"chapter": "cells", "source": "primer.pdf"}, index)["section"] == ["Cells"]
    index.close()


def test_a_number_alone_names_only_its_own_chapters():
    chapters = Chapters({c: {c} for c in ["Chapter 10 Muscle", "Chapter 1 Cells", "12 Nerves", "1 Bone", "Top 10"]})
    assert chapters.named("chapter 1 cells") == ["Chapter 1 Cells"] and chapters.named("1 bone") == ["1 Bone"]
    assert sorted(chapters.named("1")) == ["1 Bone", "Chapter 1 Cells"], "each book's chapter 1, not 10 or 12"
    assert chapters.named("12") == ["12 Nerves"] and chapters.named("top 10") == ["Top 10"]
    assert Chapters({c: {c} for c in ["Chapter 10 Muscle", "1 Cells", "19 Skin"]}).named("1") == ["1 Cells"]
    assert Chapters({c: {c} for c in ["Chapter 10 Muscle", "19 Skin"]}).named("1") == []


def test_an_unknown_chapter_is_refused(primer):
    index = Index.open(primer / "index", hashing_settings(primer))
    with pytest.raises(UnknownSourceError, match="no chapter '0' in index"):
        resolve_filters({"chapter": "0"}, index)
