"""A refusal never echoes a huge name: a JSON body's, a form's or a query's unknown key of a megabyte was sent back
whole in the 422's ``loc``, a body of 60,000 unknown keys was answered with 6 MB (an error each), and an MCP call of an
unknown tool named a megabyte long was answered with its whole name. Ordinary refusals read as before. Hashing
encoder, an empty index."""

from __future__ import annotations

from types import SimpleNamespace

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from pathatlas.errors import BadInputError
from pathatlas.retrieval.search import ECHO_CHARS
from pathatlas.ui.api.app import ERRORS_LISTED, create_app
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.present import error_message
from pathatlas.ui.tools import Toolbox, refuse_unknown_arguments
from tests.uploads import api_settings

MEGABYTE = "k" * 1_000_000
CUT = f"{'k' * ECHO_CHARS}... (1,000,000 characters)"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(api_settings(tmp_path_factory.mktemp("echo")))) as c:
        yield c


def refused(response) -> list[dict]:
    """The errors of a 422 that stays small, whatever was sent."""
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < 4 * ECHO_CHARS, len(response.content)
    return response.json()["detail"]


def test_a_body_key_of_a_megabyte_is_named_cut(client):
    (error,) = refused(client.post("/search", json={"text": "lung", MEGABYTE: 1}))
    assert error["loc"] == ["body", CUT] and error["type"] == "extra_forbidden", error
    (nested,) = refused(client.post("/search", json={"text": "lung", "filters": {MEGABYTE: "lung"}}))
    assert nested["loc"] == ["body", "filters", CUT], nested
    assert error_message([error]) == "Request: Extra inputs are not permitted.", "the web UI reads it as before"


def test_a_form_field_and_a_query_parameter_named_long_are_named_cut(client):
    name = "f" * 4_000  # a longer one is refused before it is read (400 "Invalid multipart data")
    cut = f"{'f' * ECHO_CHARS}... (4,000 characters)"
    form = client.post("/search/image", files={"image": ("a.png", b"x"), name: (None, "1")})
    assert [error["loc"] for error in refused(form)] == [["body", cut]]
    query = client.get("/jobs", params={MEGABYTE[:60_000]: "1"})  # a URL's length is the server's limit
    assert [error["loc"] for error in refused(query)] == [["query", f"{'k' * ECHO_CHARS}... (60,000 characters)"]]


def test_ordinary_refusals_read_as_before(client):
    refusal = client.post("/search", json={"text": "lung", "kk": 1})
    assert refusal.content == (
        b'{"detail": [{"type": "extra_forbidden", "loc": ["body", "kk"], "msg": "Extra inputs are not permitted", '
        b'"input": 1}]}'
    )
    longest = "k" * ECHO_CHARS
    (error,) = refused(client.post("/search", json={"text": "lung", longest: 1}))
    assert error["loc"] == ["body", longest], "a name up to the limit whole"
    query = refused(client.get("/jobs", params={"stauts": "failed"}))
    assert query == [{"type": "extra_forbidden", "loc": ["query", "stauts"], "msg": "Extra inputs are not permitted"}]


def test_a_body_of_many_unknown_keys_lists_some_and_counts_the_rest(client):
    many = {"text": "lung", **{f"x{number}": 0 for number in range(60_000)}}  # under the 1 MB body limit
    response = client.post("/search", json=many)  # was 6 MB
    assert response.status_code == 422 and len(response.content) < 5_000, len(response.content)
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors[:ERRORS_LISTED]] == [["body", f"x{n}"] for n in range(ERRORS_LISTED)]
    assert errors[ERRORS_LISTED:] == [
        {
            "type": "more_errors",
            "loc": [],
            "msg": f"{60_000 - ERRORS_LISTED:,} more errors not listed: correct these and send the request again",
        }
    ]
    exactly = {"text": "lung", **{f"x{number}": 0 for number in range(ERRORS_LISTED)}}
    assert len(client.post("/search", json=exactly).json()["detail"]) == ERRORS_LISTED, "all listed, no count"
    one_more = {**exactly, "last": 0}
    assert client.post("/search", json=one_more).json()["detail"][-1]["msg"].startswith("1 more error not listed")


def test_mcp_names_an_unknown_tool_cut():
    server = build_server(Toolbox(SimpleNamespace(client_message=str)))  # no call reaches the engine

    def unknown(name: str) -> str:
        with pytest.raises(ToolError) as raised:
            anyio.run(server.call_tool, name, {})
        return str(raised.value)

    assert unknown(MEGABYTE) == f"Unknown tool: {CUT}"
    assert unknown("serach") == "Unknown tool: serach", "as the SDK names it"


def test_an_uploaded_file_in_a_refusal_is_named_by_its_file_name(client):
    """FastAPI echoed a file's private fields (its headers, ``_max_mem_size``), and a form missing its file the whole
    form with them."""
    response = client.post("/jobs", data={"k": "1"}, files={"x": ("notes.png", b"abc")})
    assert response.status_code == 422, response.text
    assert "_max_mem_size" not in response.text and "content-disposition" not in response.text
    inputs = {tuple(error["loc"]): error.get("input") for error in response.json()["detail"]}
    assert inputs[("body", "x")] == "(a file: notes.png)"
    assert inputs[("body", "file")] == {"k": "1", "x": "(a file: notes.png)"}


def test_a_job_id_and_a_content_type_of_any_length_are_named_cut(client):
    """``GET /jobs/<50,000 characters>`` was a 50 kB 404, a Content-Type as long a 50 kB 415."""
    unknown_job = client.get(f"/jobs/{MEGABYTE[:50_000]}")
    assert unknown_job.status_code == 404 and len(unknown_job.content) < 3 * ECHO_CHARS, len(unknown_job.content)
    assert "(50,000 characters)" in unknown_job.json()["detail"]
    typed = client.post("/search", content=b'{"text": "lung"}', headers={"content-type": f"text/{MEGABYTE[:50_000]}"})
    assert typed.status_code == 415 and len(typed.content) < 3 * ECHO_CHARS, len(typed.content)


def test_mcp_names_a_few_unknown_arguments_each_cut():
    """A tool's unknown argument of a megabyte, or 5,000 of them, were named whole."""
    with pytest.raises(BadInputError) as long_name:
        refuse_unknown_arguments("search", {"text": "lung", MEGABYTE: 1}, ("text", "k"))
    assert len(str(long_name.value)) < 2 * ECHO_CHARS and "(1,000,000 characters)" in str(long_name.value)
    with pytest.raises(BadInputError) as many:
        refuse_unknown_arguments("search", {f"x{n}": 1 for n in range(5000)}, ("text", "k"))
    assert str(many.value) == "unknown arguments 'x0', 'x1', 'x2' (+4997 more); search takes text, k"
    with pytest.raises(BadInputError) as few:
        refuse_unknown_arguments("search", {"n": 1, "m": 2}, ("text", "k"))
    assert str(few.value) == "unknown arguments 'n', 'm'; search takes text, k", "a short list reads as before"
