"""A zip's job notes name each image left out in words true of where it lies: one in no case folder was "not listed by
the metadata file a case folder is read by", in a zip holding no case folder at all. MCP takes a JSON number that is a
whole number (3.0) for an integer argument, as JSON Schema's "integer" and REST do; 3.5, true and "3" are refused in one
line as before, and the Python doors stay strict. Hashing encoder, tiny files."""

from __future__ import annotations

import json

import anyio
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.api.test_doors_agree import mcp_error
from tests.helpers import index_new, png_bytes
from tests.uploads import api_settings, indexed, zipped

PNG = png_bytes(Image.new("RGB", (48, 48), "red"))


# -- 1. the images a zip without case folders leaves out ---------------------------------------------------------------
def test_a_course_zip_names_its_unshown_picture_as_in_no_case_folder(tmp_path):
    notes = b"## Koilocytes\n\n![koilocytes](img/shown.png)\n\n- a perinuclear halo\n"
    data = zipped(("course/week1.md", notes), ("course/img/shown.png", PNG), ("course/img/unused.png", PNG))
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job = indexed(client, "course.zip", data)
    assert job["status"] == "done", job
    assert job["notes"] == [
        "1 image(s) left out, in no case folder (a folder with cases.jsonl or labels.csv) and shown by no notes "
        "file: course/img/unused.png"
    ]


# -- 2. JSON's whole numbers at the MCP door ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """The REST service's engine on a two-page book: the doors are built on it."""
    root = tmp_path_factory.mktemp("integers")
    settings = api_settings(root)
    index_new(settings, make_pdf(root / "book.pdf", 2, "integers"))
    with TestClient(create_app(settings)) as client:
        yield client.app.state.engine


def mcp_json(engine, tool: str, arguments: dict) -> dict:
    result = anyio.run(build_server(Toolbox(engine)).call_tool, tool, arguments)
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_mcp_takes_a_whole_json_number_as_the_integer_it_is(engine):
    assert mcp_json(engine, "search", {"text": "integers", "k": 1.0}) == mcp_json(
        engine, "search", {"text": "integers", "k": 1}
    )
    assert mcp_json(engine, "get_page", {"source": "book.pdf", "page": 2.0})["page"] == 2


@pytest.mark.parametrize(
    ("tool", "arguments", "refused"),
    [
        ("search", {"text": "integers", "k": 1.5}, "k: input should be a valid integer, not 1.5"),
        ("search", {"text": "integers", "k": True}, "k: input should be a valid integer, not True"),
        ("search", {"text": "integers", "k": "1"}, "k: input should be a valid integer, not '1'"),
        ("get_page", {"source": "book.pdf", "page": 1.5}, "page: input should be a valid integer, not 1.5"),
        ("search", {"text": 1.0}, "text: input should be a valid string, not 1.0"),
    ],
)
def test_mcp_still_refuses_what_is_no_whole_number_in_one_line(engine, tool, arguments, refused):
    assert mcp_error(build_server(Toolbox(engine)), tool, arguments) == f"Error executing tool {tool}: {refused}"


def test_the_langchain_door_stays_strict(engine):
    """Its callers are Python, whose integers are ints."""
    search = PathAtlasRetriever(toolbox=Toolbox(engine)).as_tools()[0]
    assert search.invoke({"text": "integers", "k": 1.0}) == "k: input should be a valid integer, not 1.0"
