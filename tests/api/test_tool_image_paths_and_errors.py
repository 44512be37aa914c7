"""What an integrator wiring PathAtlas into an agent met (tester t2): LangChain tool errors named the index by its
server path where MCP names its folder; an ``image_path`` relative to the allowed folder was read from the server's
working folder, and refusals rewrote the client's own path below the index's parent; ``kind`` was described without
``passage``; ``Atlas`` refused a file in CLI words (``--index``); an image asked with an empty question was answered
"" at confidence 0 where REST refuses it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp.server.mcpserver.exceptions import ToolError

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import KINDS
from pathatlas.retrieval.search import ECHO_CHARS
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.library import Atlas
from pathatlas.ui.mcp_server import build_server, public_tool
from pathatlas.ui.tools import Toolbox
from tests.api.test_doors_agree import service  # noqa: F401 - a fixture: REST and the tools on the demo index
from tests.helpers import hashing_settings, png_bytes

NO_WORD = "the question has no word to look for: type two letters or digits in a row, or a CJK character"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A book indexed (hashing encoder) into ``root/index``, beside the folder ``root/allowed``: the index's parent is
    the allowed folder's, whose paths the engine's messages would name by their part below it."""
    root = tmp_path_factory.mktemp("integrator")
    make_pdf(root / "books" / "book.pdf", 2, "v1")
    settings = hashing_settings(root)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([root / "books"]).failed
    (root / "allowed" / "sub").mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def book(root) -> Iterator[PathAtlasRetriever]:
    """The book's retriever, its tools allowed to read ``root/allowed``."""
    opened = PathAtlasRetriever.from_index(
        root / "index", settings=hashing_settings(root), allow_dirs=[root / "allowed"]
    )
    yield opened
    opened.toolbox.engine.close()


def refusal(tool, **arguments) -> str:
    """The one line an MCP tool (``public_tool``) refuses ``arguments`` with."""
    with pytest.raises(ToolError) as raised:
        tool(**arguments)
    return str(raised.value)


def test_langchain_tool_errors_name_the_index_as_mcp_does(book, root):
    """LangChain's tools worded errors with ``str``: "no organ 'lung' in index /srv/.../index" told a model where the
    index lives."""
    said = book.as_tools()[0].invoke({"text": "page", "organ": "lung"})
    assert said == "no organ 'lung' in index index; its records have no organ"
    mcp_said = refusal(public_tool(book.toolbox.search, book.toolbox), text="page", organ="lung")
    assert mcp_said == said and str(root) not in said


def test_image_path_refusals_echo_the_path_as_the_client_sent_it(book, root):
    """The client's own absolute path was rewritten below the index's parent ("allowed/sub is not a regular file"),
    which tells the client where the index lies."""
    search_image = public_tool(book.toolbox.search_image, book.toolbox)
    folder, outside = str(root / "allowed" / "sub"), str(root / "books" / "page.png")
    assert refusal(search_image, image_path=folder) == f"{folder} is not a regular file"
    assert refusal(search_image, image_path=outside) == f"{outside} is outside the folders this server may read"
    long = str(root / "books" / ("x" * 5000))
    cut = f"{long[:ECHO_CHARS]}... ({len(long):,} characters)"
    assert refusal(search_image, image_path=long) == f"{cut} is outside the folders this server may read"
    long_name = f"cannot read image {'x' * ECHO_CHARS}... (5,000 characters): File name too long"  # not a crash
    assert refusal(search_image, image_path=str(root / "allowed" / ("x" * 5000))) == long_name


def test_a_relative_image_path_is_read_in_the_allowed_folder_holding_it(service, tmp_path, monkeypatch):  # noqa: F811
    """It was resolved against the server's working folder, so a path a client gave relative to the allowed folder
    was refused as outside it (or read another file there)."""
    allowed, other, working = (tmp_path / name for name in ("allowed", "other", "working"))
    for folder in (allowed, other, working):
        folder.mkdir()
    draw_pattern("granuloma", 3).save(allowed / "slide.png")
    draw_pattern("koilocytes", 1).save(working / "slide.png")  # the server's working folder holds another slide.png
    monkeypatch.chdir(working)
    toolbox = Toolbox(service[1].engine, [other, allowed])
    search_image = public_tool(toolbox.search_image, toolbox)
    by_path = search_image(image_path=str(allowed / "slide.png"), k=3)
    assert by_path["hits"] and search_image(image_path="slide.png", k=3) == by_path
    outside = "../working/slide.png"
    assert refusal(search_image, image_path=outside) == f"{outside} is outside the folders this server may read"
    draw_pattern("koilocytes", 1).save(other / "slide.png")
    assert refusal(search_image, image_path="slide.png") == (
        "slide.png is in more than one folder this server may read (other, allowed): give its absolute path"
    )


def test_kind_is_described_as_every_kind_a_tool_takes(book):
    """The description said "page, figure or case" while ``passage`` is taken too."""
    listed = "Only hits of this kind: page, passage, figure or case."
    assert len(KINDS) == 4 and all(kind in listed for kind in KINDS)
    tools = anyio.run(build_server(book.toolbox).list_tools)
    assert {
        tool.name: tool.input_schema["properties"]["kind"]["description"]
        for tool in tools
        if "kind" in tool.input_schema["properties"]
    } == {"search": listed, "search_image": listed}
    assert book.as_tools()[0].args["kind"]["description"] == listed


def test_atlas_refuses_a_file_as_its_index_in_python_words(tmp_path):
    """It said "give a folder with --index": a flag a Python caller has no way to give."""
    file = tmp_path / "passwd"
    file.write_text("root:x:0:0\n")
    with pytest.raises(BadInputError) as refused:
        Atlas(file, home=tmp_path / "home").search("granuloma")
    assert str(refused.value) == f"{file} is a file, not an index folder: pass Atlas a folder, e.g. Atlas('my-index')"


@pytest.mark.parametrize("question", ["?", "x"])
def test_an_image_asked_a_question_without_a_word_is_refused_as_rest_refuses_it(service, question):  # noqa: F811
    """MCP and LangChain answered it "" at confidence 0; REST's /ask/image refuses a question without a word, and so
    does every door now in its words (a blank one asks what the image shows:
    test_doors_agree_on_empty_and_blank_questions)."""
    client, toolbox = service
    png = png_bytes(draw_pattern("granuloma", 3))
    image = base64.b64encode(png).decode()
    rest = client.post("/ask/image", files={"image": ("slide.png", png, "image/png")}, data={"question": question})
    assert rest.status_code == 422 and [e["msg"] for e in rest.json()["detail"]] == [NO_WORD], rest.text
    ask = PathAtlasRetriever(toolbox=toolbox).as_tools()[1]
    said = ask.invoke({"question": question, "image_base64": image})
    assert said == NO_WORD
    assert refusal(public_tool(toolbox.ask, toolbox), question=question, image_base64=image) == said
    answered = ask.invoke({"question": "Which lesion is this?", "image_base64": image})
    assert isinstance(answered, dict) and answered["answer"], answered
