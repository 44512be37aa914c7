"""One query through every door: `pathatlas search --json`, REST `/search`, and the search tool as MCP and LangChain
serve it. A hit is one record (``hit_record``): the same keys, names and values everywhere, but for what only one door
can give (REST's URLs; the tools' ``pathatlas://`` resource in place of the thumbnail's file on the server)."""

from __future__ import annotations

import json

import anyio
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pathatlas.ui.api.app import create_app
from pathatlas.ui.cli import app
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox

QUERY, K = "koilocytes perinuclear halo", 5
CORE = {
    "id", "rank", "relevance", "relative_score", "why", "score", "kind", "title", "snippet", "snippet_marks",
    "citation", "section", "book", "diagnosis", "organ", "printed_words", "has_image", "matched_by", "passage",
    "also_on_page", "repeated_on", "repeated_in", "payload",
}  # fmt: skip
OWN = {
    "cli": {"thumbnail"},  # a file on the user's own machine
    "rest": {"thumbnail_url", "page_url", "caption_url", "case_url", "case_image_url"},
    "mcp": {"media"},
    "langchain": {"media"},
}


@pytest.fixture(scope="module")
def service(demo_index):
    """The REST service on the demo index, and the tools on its engine (as ``pathatlas mcp`` builds them)."""
    with TestClient(create_app(demo_index.settings)) as client:
        yield client, Toolbox(client.app.state.engine)


def door_hits(service, demo_index, monkeypatch) -> dict[str, list[dict]]:
    client, toolbox = service
    monkeypatch.setenv("PATHATLAS_HOME", str(demo_index.settings.home))
    cli = CliRunner().invoke(app, ["search", QUERY, "--index", str(demo_index.path), "--k", str(K), "--json"])
    assert cli.exit_code == 0, cli.output
    rest = client.post("/search", json={"text": QUERY, "k": K})
    assert rest.status_code == 200, rest.text
    mcp = anyio.run(build_server(toolbox).call_tool, "search", {"text": QUERY, "k": K})
    assert not mcp.is_error, mcp.content[0].text
    langchain = PathAtlasRetriever(toolbox=toolbox).as_tools()[0].invoke({"text": QUERY, "k": K})
    return {
        "cli": json.loads(cli.stdout),
        "rest": rest.json()["hits"],
        "mcp": json.loads(mcp.content[0].text)["hits"],
        "langchain": langchain["hits"],
    }


def test_every_door_shows_a_hit_with_the_same_keys_and_values(service, demo_index, monkeypatch):
    doors = door_hits(service, demo_index, monkeypatch)
    assert [len(hits) for hits in doors.values()] == [K] * len(doors)
    for door, hits in doors.items():
        for hit in hits:
            assert set(hit) == CORE | OWN[door], (door, sorted(set(hit) ^ (CORE | OWN[door])))
    core = {door: [{key: hit[key] for key in sorted(CORE)} for hit in hits] for door, hits in doors.items()}
    for door in doors:
        assert core[door] == core["cli"], door
    first = core["cli"][0]
    assert first["rank"] == 1 and first["relevance"] == "best match" and first["relative_score"] == 1.0
    assert first["title"] and first["citation"]["source"] == "demo-primer.pdf"
    assert str(demo_index.path) not in json.dumps([doors["rest"], doors["mcp"], doors["langchain"]]), "no server files"
