"""The agent tool doors refuse what a model guesses wrong: an argument a tool does not take (the MCP SDK and LangChain
dropped it, so a search "filtered" by ``filters`` or ``type`` came back unfiltered) and an integer given as a bool or a
string (lax pydantic took ``k: true`` as 1 and ``k: "3"`` as 3). Through the real MCP stdio client (test_mcp's server)
and LangChain's tools (test_langchain's retriever)."""

from __future__ import annotations

import pytest

from tests.api.test_langchain import retriever  # noqa: F401 - a fixture
from tests.api.test_mcp import call, images, result_json, server  # noqa: F401 - fixtures

SEARCH_TAKES = "search takes text, k, kind, source, organ, diagnosis"
ASK_TAKES = "ask takes question, options, image_base64, image_path, source"
MCQ = {"question": "Which cell secretes mucus?", "options": ["Goblet cells", "Koilocytes"]}

UNKNOWN = [
    ("search", {"text": "goblet", "filters": {"kind": "case"}}, f"unknown argument 'filters'; {SEARCH_TAKES}"),
    ("search", {"text": "goblet", "type": "case"}, f"unknown argument 'type'; {SEARCH_TAKES}"),
    ("search", {"text": "goblet", "kinds": "case"}, f"unknown argument 'kinds'; {SEARCH_TAKES}"),
    ("search", {"text": "goblet", "n": 2, "kind": "case"}, f"unknown argument 'n'; {SEARCH_TAKES}"),
    ("search", {"text": "goblet", "n": 2, "top_k": 2}, f"unknown arguments 'n', 'top_k'; {SEARCH_TAKES}"),
    ("ask", {**MCQ, "sources": "nope.pdf"}, f"unknown argument 'sources'; {ASK_TAKES}"),
]
NOT_INTEGERS = [
    ("search", {"text": "goblet", "k": True}, "k: input should be a valid integer, not True"),
    ("search", {"text": "goblet", "k": "3"}, "k: input should be a valid integer, not '3'"),
    ("search", {"text": "goblet", "k": 2.5}, "k: input should be a valid integer, not 2.5"),
]


@pytest.mark.parametrize(("tool", "arguments", "message"), UNKNOWN + NOT_INTEGERS)
def test_mcp_tools_refuse_unknown_arguments_and_loose_integers(server, tool, arguments, message):  # noqa: F811
    result = call(server, tool, arguments)
    text = result.content[0].text
    assert result.is_error, (arguments, text)
    assert text == f"Error executing tool {tool}: {message}"


def test_mcp_get_page_and_search_image_take_only_their_arguments(server):  # noqa: F811
    said = call(server, "get_page", {"source": "demo-primer.pdf", "page": 1, "figure": "Figure 1.1"}).content[0].text
    assert said == "Error executing tool get_page: unknown argument 'figure'; get_page takes source, page"
    said = call(server, "get_page", {"source": "demo-primer.pdf", "page": True}).content[0].text
    assert said == "Error executing tool get_page: page: input should be a valid integer, not True"
    said = call(server, "search_image", {"image": "abc"}).content[0].text
    takes = "search_image takes image_base64, image_path, text, k, kind, source, organ, diagnosis"
    assert said == f"Error executing tool search_image: unknown argument 'image'; {takes}"
    assert result_json(call(server, "get_page", {"source": "demo-primer.pdf", "page": 1}))["page"] == 1


@pytest.mark.parametrize(("tool", "arguments", "message"), UNKNOWN + NOT_INTEGERS)
def test_langchain_tools_refuse_unknown_arguments_and_loose_integers(retriever, tool, arguments, message):  # noqa: F811
    tools = {t.name: t for t in retriever.as_tools()}
    assert tools[tool].invoke(arguments) == message


def test_langchain_tool_call_with_an_unknown_argument_is_a_tool_message(retriever):  # noqa: F811
    """What an agent loop sends: a ToolCall, answered by a ToolMessage the model reads."""
    search = retriever.as_tools()[0]
    call_ = {"name": "search", "args": {"text": "goblet", "filters": {"kind": "case"}}, "id": "1", "type": "tool_call"}
    reply = search.invoke(call_)
    assert reply.status == "error" and reply.content == f"unknown argument 'filters'; {SEARCH_TAKES}"
    assert search.invoke({"text": "granuloma", "k": 2, "kind": "case"})["hits"]
