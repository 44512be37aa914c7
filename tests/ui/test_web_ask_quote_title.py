"""A quote opened from an answer in the web UI's Ask tab is titled, and offered to copy, as the answer cites it: a
caption quote names its figure ("lecture.pdf, p. 1, Figure 1.1"), though the record the viewer opens is its page,
whose own citation names no figure. One page of prose, a figure and its caption, indexed with the hashing encoder;
the app driven by Streamlit's AppTest in a process of its own (``run_app``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathatlas.ui.web_viewer import outlined_name
from tests.api.test_ask_answer_doors import ASKED, MIN_WORDS, OPTIONS, QUESTION, lecture  # noqa: F401 - a fixture
from tests.helpers import hashing_env
from tests.ui.test_web_ui_library_and_search_lines import run_app, unescaped

DRIVER = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
opened = []
for question, options in json.loads(sys.argv[2]):
    app.text_area[0].input(question)
    app.text_area[1].input("\\n".join(options))
    next(button for button in app.button if button.label == "Ask").click().run()
    closed = {heading.value for heading in app.subheader}
    for option in app.session_state["answer"]["options"]:
        for n, quote in enumerate(option["evidence"]):
            app.button(key=f"quote-{option['label']}-{n}").click().run()
            citation = quote["citation"]
            opened.append(
                {
                    "cited": citation["label"],
                    "figure": citation["figure"],
                    "titles": [heading.value for heading in app.subheader if heading.value not in closed],
                    "copied": [code.value for code in app.code],
                }
            )
said({"opened": opened, "exceptions": [e.value for e in app.exception]})
"""


@pytest.fixture(scope="module")
def opened_quotes(lecture: Path) -> list[dict]:  # noqa: F811
    """Each quote of the answers to ``ASKED`` (a caption's among them) and to ``QUESTION`` (prose), opened in turn:
    its citation's label and figure, the viewer's title and the citation it offers to copy."""
    variables = {**hashing_env(lecture / "home"), **MIN_WORDS}
    asked = json.dumps([(ASKED["question"], ASKED["options"]), (QUESTION, OPTIONS)])
    arguments = f"os.environ.update({variables!r})\nsys.argv += {[asked]!r}\n"
    shown = run_app(arguments + DRIVER, lecture / "idx", lecture / "home")
    assert shown["exceptions"] == []
    return shown["opened"]


def test_an_opened_quote_is_titled_and_copied_as_its_citation_line_a_caption_s_with_its_figure(opened_quotes):
    cited = sorted((quote["cited"], quote["figure"]) for quote in opened_quotes)
    assert cited == [("lecture.pdf, p. 1", None), ("lecture.pdf, p. 1, Figure 1.1", "Figure 1.1")], "prose; a caption"
    for quote in opened_quotes:
        assert [unescaped(title) for title in quote["titles"]] == [quote["cited"]]
        assert quote["copied"] == [quote["cited"]]


def test_an_opened_caption_quote_says_its_figure_is_outlined_and_a_prose_quote_its_passage():
    caption = {"cited": True, "kind": "page", "citation": {"figure": "Figure 1.1", "label": "lecture.pdf, p. 1"}}
    prose = {"cited": True, "kind": "page", "citation": {"figure": None, "label": "lecture.pdf, p. 1"}}
    assert (outlined_name(caption), outlined_name(prose)) == ("cited figure outlined", "cited passage outlined")
    assert outlined_name({"kind": "page", "citation": {}}) == "matched passage outlined"
