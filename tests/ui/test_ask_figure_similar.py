"""A figure's caption quoted in Ask opens the figure's record, which Find similar is offered for, as a case quote's is:
its viewer opened the caption's page (the quote's evidence), a record without an image of its own, and offered none.
A quote of a page's prose still opens its page. The whole app in Streamlit's AppTest over a fake API, as in
test_web_viewer_ask_walkthrough."""

from __future__ import annotations

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client, web_library
from tests.ui.test_web_search_image_words_and_history import hit, status
from tests.ui.test_web_ui_library_and_search_lines import unescaped
from tests.ui.test_web_viewer_ask_walkthrough import ANSWER, asked_in_ask, click, fake_api, open_tab, ran, whole_app

pytestmark = pytest.mark.usefixtures("fresh_cache", "pdf_downloads")  # conftest.py: no service asked for the PDF

PAGE = {**hit("pg1", 1), "page_url": "/media/pages/pg1"}
FIGURE_CITATION = {**PAGE["citation"], "label": "Bone (book.pdf), p. 1, Figure 1.1", "figure": "Figure 1.1"}
FIGURE = {
    **hit("f1", 1),
    "kind": "figure",
    "has_image": True,
    "citation": {**FIGURE_CITATION, "bbox": [0.0, 0.0, 4.0, 4.0]},
    "snippet": "Figure 1.1 An osteon.",
    "page_url": "/media/pages/f1",
}
PLACED = {"caption_page": None, "caption_bbox": None, "caption_url": None, "evidence": "pg1"}
CAPTION_QUOTE = {
    "quote": "Figure 1.1 An osteon.",
    "stance": "supports",
    "about": None,
    "citation": {
        **FIGURE_CITATION,
        **PLACED,
        "bbox": [0.0, 0.0, 4.0, 6.0],
        "record": "f1",
        "page_url": "/media/pages/f1",
    },
}
"""The caption of Figure 1.1 quoted from its page's text: its evidence the page, placed on the figure (``record``)."""
PROSE_QUOTE = {
    "quote": "Osteoclasts resorb bone.",
    "stance": "supports",
    "about": None,
    "citation": {
        **PAGE["citation"],
        **PLACED,
        "bbox": [0.0, 5.0, 4.0, 7.0],
        "record": "ps1",
        "page_url": "/media/pages/ps1",
    },
}
OPTIONS = [
    {"label": "A", "text": "Tuberculosis", "score": 0.6, "evidence": [CAPTION_QUOTE]},
    {"label": "B", "text": "Sarcoidosis", "score": 0.4, "evidence": [PROSE_QUOTE]},
]


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str, dict | None]]:
    """The requests the app sent, as (method, path, JSON body), to ``fake_api`` answering the question with the quotes
    above, a page's and a figure's record, and the figure's look-alikes."""
    requests = []
    answers = {
        ("POST", "/ask"): {**ANSWER, "options": OPTIONS},
        ("GET", "/records/pg1"): PAGE,
        ("GET", "/records/f1"): FIGURE,
        ("POST", "/search/similar"): {"hits": [FIGURE], "unknown_words": []},
    }

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        requests.append((method, path, kwargs.get("json")))
        if (method, path) in answers:
            return httpx.Response(200, json=answers[method, path])
        return fake_api(method, path, **kwargs)

    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fetch)
    return requests


def opened_quote(sent: list, name: str) -> AppTest:
    """The app after the question is asked and the quote ``name`` ("Open quote 1 for A") opened."""
    app = asked_in_ask(ran(AppTest.from_function(whole_app, default_timeout=60)))
    sent.clear()
    return click(app, name)


def records_asked(sent: list) -> list[str]:
    return [path for method, path, _ in sent if method == "GET" and path.startswith("/records/")]


def title(app: AppTest) -> str:
    """The opened viewer's title, as read."""
    return unescaped(app.subheader[-1].value)


def similar_buttons(app: AppTest) -> list[str]:
    return [unescaped(button.label) for button in app.button if button.label.startswith("Find similar")]


def test_a_caption_quote_opens_its_figure_whose_find_similar_shows_the_look_alikes_in_search(sent):
    app = opened_quote(sent, "Open quote 1 for A")
    assert records_asked(sent) == ["/records/f1"], "the figure the citation names, not the page quoted"
    assert title(app) == "Bone (book.pdf), p. 1, Figure 1.1"
    assert similar_buttons(app) == ["Find similar to Figure 1.1, p. 1"]
    sent.clear()
    click(app, "Find similar to Figure 1.1, p. 1")
    assert [body["id"] for method, path, body in sent if path == "/search/similar"] == ["f1"]
    assert app.session_state["tab"] == "Search" and open_tab(app) == 0
    assert status(app).startswith("1 result that look like Bone (book.pdf), p. 1, Figure 1.1"), status(app)


def test_a_prose_quote_still_opens_its_page_which_offers_no_find_similar(sent):
    app = opened_quote(sent, "Open quote 1 for B")
    assert records_asked(sent) == ["/records/pg1"]
    assert title(app) == "Bone (book.pdf), p. 1"
    assert similar_buttons(app) == []
