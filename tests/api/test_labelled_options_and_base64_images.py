"""A new user's first hour with the web UI, the Python library and MCP, as they met it. Options typed or pasted with
their labels ("A. Koilocytes") were asked with the label as part of each option's text wherever the CLI's ``--option``
was not the door (the Ask tab headed the answer "B. B. Goblet cells"); an image file opened as text was a
UnicodeDecodeError's traceback in ``Atlas.search``; base64 with MIME's line breaks (``base64 FILE``) was "not valid
base64" to ``search_image``; and the Ask tab said pydantic's "List should have at most 10 items after validation" of
twelve options. The demo index with the hashing encoder (``quick_demo``); REST by FastAPI's TestClient, the web UI by
Streamlit's AppTest in a process of its own (``run_app``)."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.present import error_message
from pathatlas.ui.tools import Toolbox
from tests.api.test_doors_rankers_and_marks import FakeSearch
from tests.helpers import hashing_env, png_bytes, quick
from tests.ui.test_web_ui_library_and_search_lines import run_app, unescaped

QUESTION = "Which cells show a perinuclear halo?"
PLAIN = ["Koilocytes", "Goblet cells"]
LABELLED = ["A. Koilocytes", "B. Goblet cells"]


def option_texts(answer: dict) -> list[str]:
    return [option["text"] for option in answer["options"]]


def test_the_library_asks_labelled_options_without_their_labels(quick_atlas):
    """``atlas.ask(q, ["A. Koilocytes", "B. Goblet cells"])`` asks "Koilocytes" and "Goblet cells", as the CLI's
    ``--option`` does: the same answer as the options given bare."""
    labelled, plain = quick_atlas.ask(QUESTION, LABELLED), quick_atlas.ask(QUESTION, PLAIN)
    assert option_texts(labelled) == PLAIN
    assert (labelled["choice"], labelled["answer"]) == (plain["choice"], plain["answer"])


def test_rest_and_the_mcp_ask_tool_ask_labelled_options_without_their_labels(quick_demo):
    settings = Settings(index=quick_demo / "index", **quick(quick_demo))
    with TestClient(create_app(settings)) as client:
        tools = Toolbox(client.app.state.engine)
        labelled, plain = tools.ask(QUESTION, LABELLED), tools.ask(QUESTION, PLAIN)
        rest = client.post("/ask", json={"question": QUESTION, "options": LABELLED})
    assert option_texts(labelled) == PLAIN
    assert labelled["answer"] == plain["answer"]
    assert rest.status_code == 200, rest.text
    assert option_texts(rest.json()) == PLAIN


def test_options_labelled_out_of_order_keep_their_text(quick_atlas):
    """Only labels of each option's own place, in order, are labels: "C. difficile" as option A is its text."""
    answer = quick_atlas.ask(QUESTION, ["C. difficile", "B. Goblet cells"])
    assert option_texts(answer) == ["C. difficile", "B. Goblet cells"]


def test_an_image_file_opened_as_text_is_one_line(quick_atlas, tmp_path):
    slide = tmp_path / "slide.jpg"
    draw_pattern("granuloma", 1).save(slide, "JPEG")
    with open(slide) as opened, pytest.raises(BadInputError, match=r"open it with open\(path, 'rb'\)"):
        quick_atlas.search(image=opened)


def test_search_image_takes_base64_with_line_breaks(tmp_path):
    """``base64 slide.png`` and Python's ``base64.encodebytes`` break lines every 76 characters, as MIME does."""
    wrapped = base64.encodebytes(png_bytes(draw_pattern("granuloma", 2))).decode()
    assert "\n" in wrapped.strip()
    found = Toolbox(FakeSearch()).search_image(image_base64=wrapped)
    assert found["hits"], found
    with pytest.raises(BadInputError, match="not valid base64"):
        Toolbox(FakeSearch()).search_image(image_base64="%%% not base64 %%%")


def test_too_many_options_and_too_long_a_text_are_said_in_a_readers_words():
    """FastAPI's 422 for twelve options said "Options: List should have at most 10 items after validation, not 12";
    a query over the schema's length, "String should have at most 4000 characters"."""
    options = {
        "type": "too_long",
        "loc": ["body", "options"],
        "msg": "List should have at most 10 items after validation, not 12",
        "input": [f"option {n}" for n in range(12)],
        "ctx": {"field_type": "List", "max_length": 10, "actual_length": 12},
    }
    assert error_message([options]) == "Too many options: give at most 10, not 12."
    text = {
        "type": "string_too_long",
        "loc": ["body", "text"],
        "msg": "String should have at most 4000 characters",
        "input": "x" * 5000,
        "ctx": {"max_length": 4000, "actual_length": 5000},
    }
    assert error_message([text]) == "The search text has 5,000 characters, over the limit of 4,000: shorten it."


ASK_LABELLED = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_area[0].input(sys.argv[2])
app.text_area[1].input(sys.argv[3])
next(button for button in app.button if button.label == "Ask").click().run()
said({"headers": [header.value for header in app.header], "exceptions": [e.value for e in app.exception]})
"""


def test_the_ask_tab_asks_typed_labelled_options_without_their_labels(quick_demo):
    """Options typed with their labels, one a line, were headed "**B. B\\. Goblet cells**"."""
    arguments = [QUESTION, "\n".join(LABELLED)]
    setup = f"os.environ.update({hashing_env(quick_demo / 'home')!r})\nsys.argv += {arguments!r}\n"
    shown = run_app(setup + ASK_LABELLED, quick_demo / "index", quick_demo / "home")
    assert shown["exceptions"] == []
    options = sorted(unescaped(header) for header in shown["headers"] if header.startswith("**"))
    assert [heading.split("**")[1] for heading in options] == ["A. Koilocytes", "B. Goblet cells"], options
    assert json.dumps(shown).count("A. A.") == json.dumps(shown).count("B. B.") == 0
