"""An integrator's report: the doors disagreed. MCP's search and ask left out ``unknown_words`` (a typo REST names);
MCP took ``kind: ""`` as no filter where REST refuses it; MCP and LangChain stopped at k 50, REST at 100; LangChain
called the first hit of a search found by meaning alone its "best match" and took ``k=1000`` until it searched; and
the CLI printed a model's escape sequences (a cleared screen, colours) and Rich markup to the terminal."""

from __future__ import annotations

import json
import re

import anyio
import pytest
import typer
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from pathatlas.errors import BadInputError
from pathatlas.ui.api.app import create_app
from pathatlas.ui.cli import console, print_answer
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.helpers import run_cli
from tests.servers import chat_model

TYPO = "koilocites perinuclear halo"
ASKED = {
    "question": "Which cells show a perinuclear halo in HPV infektion?",
    "options": ["Koilocites", "Langhans giant cells"],
}


@pytest.fixture(scope="module")
def service(demo_index):
    """The REST service on the demo index, and the tools on its engine (as ``pathatlas mcp`` builds them)."""
    with TestClient(create_app(demo_index.settings)) as client:
        yield client, Toolbox(client.app.state.engine)


@pytest.fixture(scope="module")
def server(service):
    """The MCP server of those tools."""
    return build_server(service[1])


def mcp_json(server, tool: str, arguments: dict) -> dict:
    result = anyio.run(server.call_tool, tool, arguments)
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def mcp_error(server, tool: str, arguments: dict) -> str:
    """The one line of the tool error a call raises (the SDK answers it to a client as an error result)."""
    with pytest.raises(ToolError) as raised:
        anyio.run(server.call_tool, tool, arguments)
    said = str(raised.value)
    assert "\n" not in said, said
    return said


# -- 1. unknown words at every door ----------------------------------------------------------------------------------


def test_mcp_search_and_ask_name_the_unknown_words_rest_names(service, server):
    client = service[0]
    rest = client.post("/search", json={"text": TYPO}).json()["unknown_words"]
    assert [(u["word"], u["closest"][0]) for u in rest] == [("koilocites", "koilocytes")], rest
    searched = mcp_json(server, "search", {"text": TYPO})
    assert searched["unknown_words"] == rest and searched["hits"]
    assert mcp_json(server, "search", {"text": "koilocytes perinuclear halo"})["unknown_words"] == []
    rest = client.post("/ask", json=ASKED).json()["unknown_words"]
    assert [(u["field"], u["word"]) for u in rest] == [("question", "infektion"), ("option A", "Koilocites")], rest
    assert mcp_json(server, "ask", ASKED)["unknown_words"] == rest


def test_cli_ask_json_names_them_too_and_search_json_stays_a_list_warning_on_stderr(service, demo_index):
    client = service[0]
    home, index = demo_index.settings.home, demo_index.path
    options = [item for n, option in enumerate(ASKED["options"]) for item in ("--option", f"{'AB'[n]}={option}")]
    asked = run_cli("ask", ASKED["question"], *options, "--index", index, "--json", PATHATLAS_HOME=home)
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["unknown_words"] == client.post("/ask", json=ASKED).json()["unknown_words"]
    searched = run_cli("search", TYPO, "--index", index, "--json", PATHATLAS_HOME=home)
    assert searched.exit_code == 0, searched.output
    assert isinstance(json.loads(searched.stdout), list), "search --json is the bare list of hits"
    assert "no indexed word 'koilocites'" in searched.stderr


# -- 2. an empty filter is refused ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["kind", "source", "organ", "diagnosis"])
@pytest.mark.parametrize("value", ["", "  "])
def test_mcp_refuses_an_empty_filter_value_in_one_line_as_rest_does(service, server, field, value):
    assert service[0].post("/search", json={"text": "granuloma", "filters": {field: value}}).status_code == 422
    assert f"filter {field!r} is empty" in mcp_error(server, "search", {"text": "granuloma", field: value})


def test_mcp_ask_refuses_an_empty_source(server):
    assert "filter 'source' is empty" in mcp_error(server, "ask", {**ASKED, "source": ""})


# -- 3. one k limit ---------------------------------------------------------------------------------------------------


def test_every_door_takes_k_up_to_the_limit_health_reports(service, server):
    client, toolbox = service
    k_max = client.get("/health").json()["limits"]["k_max"]
    assert client.post("/search", json={"text": "granuloma", "k": k_max}).status_code == 200
    assert client.post("/search", json={"text": "granuloma", "k": k_max + 1}).status_code == 422
    assert mcp_json(server, "search", {"text": "granuloma", "k": k_max})["hits"]
    assert f"k must be between 1 and {k_max}, not {k_max + 1}" in mcp_error(
        server, "search", {"text": "granuloma", "k": k_max + 1}
    )
    schemas = {tool.name: tool.input_schema["properties"] for tool in anyio.run(server.list_tools)}
    assert {name: fields["k"]["maximum"] for name, fields in schemas.items() if "k" in fields} == {
        "search": k_max,
        "search_image": k_max,
    }
    search = PathAtlasRetriever(toolbox=toolbox).as_tools()[0]
    assert search.args["k"]["maximum"] == k_max and search.invoke({"text": "granuloma", "k": k_max})["hits"]


# -- 4. LangChain ranks a list as the other doors do, and checks k when made -----------------------------------------


@pytest.mark.parametrize(("text", "first"), [("xyzzyqwerty plumbus", "related"), (TYPO, "best match")])
def test_langchain_documents_say_the_relevance_rest_says(service, text, first):
    """A search whose words matched nothing has no "best match" (REST calls every hit "related"); one whose words
    matched keeps it."""
    client, toolbox = service
    rest = client.post("/search", json={"text": text, "k": 4}).json()["hits"]
    docs = PathAtlasRetriever(toolbox=toolbox, k=4).invoke(text)
    assert [(d.id, d.metadata["relevance"]) for d in docs] == [(h["id"], h["relevance"]) for h in rest]
    assert docs[0].metadata["relevance"] == first


@pytest.mark.parametrize("k", [0, 1000])
def test_langchain_refuses_a_k_out_of_range_when_the_retriever_is_made(service, k):
    k_max = service[0].get("/health").json()["limits"]["k_max"]
    with pytest.raises(BadInputError, match=f"k must be between 1 and {k_max}, not {k}"):
        PathAtlasRetriever(toolbox=service[1], k=k)


# -- 5. the CLI prints what a model or a book wrote as text ----------------------------------------------------------

INJECTED = "\x1b[2J\x1b[31mRED\x1b[0m \x1b]0;owned\x07[red]alarm[/red] [\x00bold]loud :warning: \x9b"
"""A clear screen, a colour, a window title, Rich markup (one hidden behind a NUL) and an emoji code."""
SHOWN = "RED [red]alarm[/red] [bold]loud :warning:"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_a_printed_answer_shows_model_and_book_text_as_text_without_terminal_commands():
    document = {
        "choice": 0,
        "answer": f"Koilocytes {INJECTED}",
        "confidence": 0.9,
        "settled": True,
        "tied": [],
        "rationale": f"Model: {INJECTED}",
        "options": [
            {
                "label": "A",
                "text": f"Koilocytes {INJECTED}",
                "score": None,
                "evidence": [
                    {
                        "quote": f"Koilocytes {INJECTED}",
                        "stance": "supports",
                        "citation": {"label": f"b.pdf {INJECTED}", "bbox": None},
                    }
                ],
            },
            {"label": "B", "text": "Goblet cells", "score": None, "evidence": []},
        ],
        "citations": [],
        "trace": [],
    }
    with console.capture() as captured:
        print_answer(document)
    printed = captured.get()
    assert not CONTROLS.search(printed) and "[2J" not in printed and "owned" not in printed, repr(printed)
    assert printed.count(SHOWN) == 5, printed  # answer, rationale, option, quote and its citation


def test_cli_ask_prints_an_llms_rationale_as_text_and_its_json_as_written(demo_index, monkeypatch):
    monkeypatch.setenv("PATHATLAS_HOME", str(demo_index.settings.home))
    reply = {"answer": "B", "evidence": [], "confidence": 0.9, "rationale": INJECTED}
    asked = ("ask", ASKED["question"], "--option", "A=Goblet cells", "--option", "B=Koilocytes")
    with chat_model(reply) as url:
        llm = {"PATHATLAS_ANSWERER": "llm", "PATHATLAS_LLM_BASE_URL": url, "PATHATLAS_LLM_API_KEY": "test"}
        plain = run_cli(*asked, "--index", demo_index.path, **llm)
        as_json = run_cli(*asked, "--index", demo_index.path, "--json", **llm)
    assert plain.exit_code == 0 and as_json.exit_code == 0, (plain.output, as_json.output)
    assert not CONTROLS.search(plain.stdout) and "[2J" not in plain.stdout, repr(plain.stdout)
    assert SHOWN in plain.stdout, plain.stdout
    assert INJECTED in json.loads(as_json.stdout)["rationale"], "JSON keeps what the model wrote"


def test_an_error_line_prints_its_message_as_text_without_terminal_commands(capsys):
    """The error line escaped Rich markup before dropping control characters: "[\\x00bold]" became "[bold]", read as
    markup (the rest styled, the words gone), and an ESC sequence's tail ("[2J") was left on the screen."""
    from pathatlas.errors import PathAtlasError
    from pathatlas.ui.cli_common import friendly_errors

    @friendly_errors
    def failing():
        raise PathAtlasError("[\x00bold]x\x1b[2Jy and [red]z")

    with pytest.raises(typer.Exit):
        failing()
    assert capsys.readouterr().err.strip() == "error: [bold]xy and [red]z"
