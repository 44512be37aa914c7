"""Release sweep (tester G): MCP refusals echo a source or kind as sent, at most 200 characters and never rewritten;
snippet marks read an underscore and a lone Greek letter as BM25 does; unknown-word suggestions offer no stop words
nor another number's marker; bench --cases refuses a file that is no case metadata in one line. Hashing encoder."""

from __future__ import annotations

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.marks import marked_spans, query_terms
from pathatlas.retrieval.search import ECHO_CHARS
from pathatlas.retrieval.terms import languages_of
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from pathatlas.ui.words import closest_words
from tests.helpers import one_error_line, run_cli
from tests.uploads import api_settings

LONG = "x" * 5000
CUT = f"'{'x' * ECHO_CHARS}... (5,000 characters)'"


@pytest.fixture
def server(tmp_path):
    """An MCP server over a book indexed in ``tmp_path/index``: the index's parent is ``tmp_path``, whose paths the
    engine's messages would name by their part below it."""
    make_pdf(tmp_path / "books" / "book.pdf", 2, "v1")
    settings = api_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([tmp_path / "books"]).failed
    index.close()
    with TestClient(create_app(settings)) as client:
        yield build_server(Toolbox(client.app.state.engine))


def refusal(server, tool: str, arguments: dict) -> str:
    with pytest.raises(ToolError) as raised:
        anyio.run(server.call_tool, tool, arguments)
    return str(raised.value).removeprefix(f"Error executing tool {tool}: ")


def test_mcp_echoes_a_refused_source_as_sent_and_cut_to_200_characters(server, tmp_path):
    """A path below the index's folder was echoed without that folder ("no source 'books/nope.pdf'"): a client could
    probe where the index lies; a 5,000-character source came back whole; 'pathatlas info' is no MCP tool."""
    unlisted = "in the index; search without it: each hit's citation names its source"
    for name in (str(tmp_path / "books" / "nope.pdf"), str(tmp_path / "index"), "nope.pdf"):
        assert refusal(server, "search", {"text": "page", "source": name}) == f"no source {name!r} {unlisted}"
        assert refusal(server, "get_page", {"source": name, "page": 1}) == f"no source {name!r} {unlisted}"
    for tool, arguments in [("search", {"text": "page"}), ("ask", {"question": "Which page?"})]:
        for name in (LONG, "/" + LONG):
            said = refusal(server, tool, {**arguments, "source": name})
            assert said.startswith("no source '") and len(said) < ECHO_CHARS + 150, said[:300]
        assert refusal(server, tool, {**arguments, "source": LONG}) == f"no source {CUT} {unlisted}"
    assert refusal(server, "get_page", {"source": LONG, "page": 1}) == f"no source {CUT} {unlisted}"


def test_mcp_echoes_a_refused_kind_as_sent_and_cut_to_200_characters(server, tmp_path):
    search = {"text": "page", "k": 1}
    assert refusal(server, "search", {**search, "kind": LONG}) == f"unknown kind {CUT}; use page, passage, figure, case"
    below = str(tmp_path / "books" / "figure")
    assert refusal(server, "search", {**search, "kind": below}).startswith(f"unknown kind {below!r};")
    assert refusal(server, "search", {**search, "kind": " "}) == "filter 'kind' is empty: give a value or leave it out"
    assert anyio.run(server.call_tool, "search", {**search, "kind": " page ", "source": " book.pdf "}), "as before"


def marked(text: str, query: str) -> list[str]:
    return [text[start:end] for start, end in marked_spans(text, query_terms(query))]


def test_marks_part_words_at_an_underscore_as_bm25_does():
    assert marked("case 12, label: lung_scc", "scc") == ["scc"]
    assert marked("lung_n beside lung_scc", "lung") == ["lung", "lung"]
    assert marked("lung_scc", "lung_scc") == ["lung", "scc"]


def test_marks_read_a_lone_greek_letter_as_its_name_as_bm25_does():
    assert query_terms("α") == ["α"]
    assert marked("the alpha (α) cells", "α") == ["alpha", "α"]
    assert marked("the alpha (α) cells", "α-cells") == ["alpha", "α", "cells"]
    assert marked("β cells and beta cells", "beta cells") == ["β", "cells", "beta", "cells"]
    assert marked("IL-1β, not IL-6", "IL-1 beta") == ["IL-1", "β"]
    assert marked("μm and καρκίνωμα", "mu καρκίνωμα") == ["καρκίνωμα"], "a letter within a word is no name"


def test_no_stop_word_nor_another_numbers_marker_is_suggested():
    """``search "HER2 breast"`` offered 'her', 'herz', 'here'; "CD20" was offered 'cd25'."""
    held = {word: word for word in ["her", "herz", "here", "cd25", "cd2", "cd20b", "their", "thief", "der", "dense"]}
    assert closest_words("her2", held) == ()
    assert closest_words("cd20", held) == ("cd20b",)
    assert closest_words("thier", held) == ("thief",), "'their' is an English function word"
    assert closest_words("dere", held) == ("der",)
    assert closest_words("dere", held, languages_of(["de"])) == (), "a stop word of a language the index reads"


@pytest.mark.parametrize("name", ["book.pdf", "cases.txt", "labels"])
def test_bench_cases_refuses_a_file_that_is_no_case_metadata(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.7\n\xff\xfe binary")
    refused = run_cli("bench", "retrieval", "--cases", path, home=tmp_path / "home")
    one_error_line(refused, f"--cases {path}: give a case folder or its cases.jsonl or labels.csv")
    assert "UTF-8" not in refused.output


def test_bench_cases_reads_a_metadata_file_of_another_name_as_before(tmp_path):
    path = tmp_path / "my cases.CSV"
    path.write_text("image,case\n")
    read = run_cli("bench", "retrieval", "--cases", path, home=tmp_path / "home")
    one_error_line(read, f"{path} has no images to benchmark")


def test_a_refused_kind_or_field_echoes_at_most_the_capped_value():
    """The library and CLI echoed a 5,000-character kind whole; every door's echo is capped (``search.quoted``)."""
    from pathatlas.errors import BadInputError
    from pathatlas.retrieval.search import ECHO_CHARS, check_filters

    for filters in ({"kind": "k" * 5000}, {"x" * 5000: "case"}):
        with pytest.raises(BadInputError) as refused:
            check_filters(filters)
        assert len(str(refused.value)) < ECHO_CHARS + 120 and "(5,000 characters)" in str(refused.value)
