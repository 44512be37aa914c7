"""A slide of lecture notes opened in the viewer is read whole (task SV): a lecturer's walkthrough found "Open slide 48"
showing only its snippet, which started mid-slide ("…shares features of…"), a quote opened from Ask only that one line,
and no previous or next slide. The viewer asks GET /records for the slide's whole text and GET /pages for its
neighbours, stepping over the slides the index holds no record of (a title alone). Drawn in Streamlit's AppTest over
the API in process (a deck indexed with the hashing encoder) or a fake of it (``fetch``)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client, web_library
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, index_new, note
from tests.ui.test_viewer_images_and_paging import buttons, page_line
from tests.ui.test_web_viewer_ask_walkthrough import ANSWER, asked_in_ask, click, fake_api, ran, whole_app

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

DECK = """---
title: "Meningioma"
---

## Histologic patterns

- Syncytial: whorled clusters of cells
- Transitional: shares features of the syncytial and fibroblastic types
- Psammomatous: numerous psammoma bodies

## A picture alone

![](whorls.png)

## Secretory

- gland-like PAS-positive eosinophilic secretions known as pseudopsammoma bodies
"""
"""Slide 1 the title slide of its front matter, 2 and 4 with words; 1 and 3 have a title alone, so no record."""


def slide_viewer(hit: dict, terms: list[str]) -> None:
    """The viewer of the record in ``st.session_state.s``, at first ``hit``, as the Search tab draws it after a search
    for ``terms``."""
    import streamlit as st

    from pathatlas.ui import web_viewer

    st.session_state.setdefault("s", hit)
    st.session_state.terms = terms
    web_viewer.viewer(st.session_state.s, "s")


def viewed(hit: dict, terms: tuple[str, ...] | list[str] = ()) -> AppTest:
    return ran(AppTest.from_function(slide_viewer, args=(hit, list(terms)), default_timeout=60))


def whole_text(app: AppTest) -> str:
    """The slide's text as the viewer draws it: one HTML block of a paragraph a line."""
    (drawn,) = [m.value for m in app.markdown if "class='whole-text'" in m.value]
    return drawn


def paragraphs(app: AppTest) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", whole_text(app))]


def pressed(app: AppTest, label: str) -> AppTest:
    buttons(app)[label].click()
    return ran(app)


def toasts(app: AppTest) -> list[str]:
    return [html.unescape(toast.value) for toast in app.toast]


# -- over the API in process -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deck")
    index_new(hashing_settings(root), note(root / "notes", "meningioma.md", DECK))
    return root


@pytest.fixture
def client(indexed, monkeypatch):
    with TestClient(create_app(hashing_settings(indexed))) as client:
        monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: client.request(method, path, **kwargs))
        yield client


def found_slide(client: TestClient, number: int) -> dict:
    """Slide ``number`` as a search for "psammoma bodies" gives it: its snippet, not its whole text."""
    hits = client.post("/search", json={"text": "psammoma bodies"}).json()["hits"]
    (hit,) = [hit for hit in hits if hit["citation"]["page"] == number]
    assert hit["page_url"] is None and "text" not in hit
    return hit


def test_a_slide_found_by_a_search_is_read_whole_its_words_marked_instead_of_its_snippet(client):
    app = viewed(found_slide(client, 2), ["psammoma", "bodies"])
    assert paragraphs(app) == [
        "Histologic patterns",
        "Syncytial: whorled clusters of cells",
        "Transitional: shares features of the syncytial and fibroblastic types",
        "Psammomatous: numerous psammoma bodies",
    ]
    assert "<mark>psammoma</mark> <mark>bodies</mark>" in whole_text(app), "marked as the snippet marks them"
    assert not [m for m in app.markdown if "class='passage'" in m.value], "the snippet, which it holds, not again"
    assert page_line(app) == "Slide 2", "in the page viewer's live region"


def test_next_and_previous_slide_step_over_a_slide_the_index_holds_no_record_of(client):
    """Slide 3 is a picture and its title: no record. At a deck's end, as GET /pages says it, the button goes off and
    focus goes to the other, as in the page viewer; a search's hit does not say, so a toast says so until closed."""
    app = viewed(found_slide(client, 2))
    assert not buttons(app)["Previous slide"].disabled and not buttons(app)["Next slide"].disabled
    pressed(app, "Next slide")
    assert app.session_state["s"]["citation"]["page"] == 4 and page_line(app) == "Slide 4"
    assert paragraphs(app)[0] == "Secretory" and buttons(app)["Next slide"].disabled, "slide 4 is the deck's last"
    assert app.session_state["focus"][0] == ".st-key-s-prev button"
    pressed(app, "Previous slide")
    assert app.session_state["s"]["citation"]["page"] == 2 and paragraphs(app)[0] == "Histologic patterns"
    assert buttons(app)["Previous slide"].disabled, "slide 1, the title slide, has no record"
    assert app.session_state["focus"][0] == ".st-key-s-next button"
    searched = pressed(viewed(found_slide(client, 2)), "Previous slide")
    assert toasts(searched) == ["no slide before slide 2 in the index"] and searched.toast[0].proto.duration == 0
    assert searched.session_state["s"]["citation"]["page"] == 2


# -- over a fake API -------------------------------------------------------------------------------------------------
def slide(number: int, text: str = "") -> dict:
    """Slide ``number`` of deck.md as GET /records and GET /pages give it (``RecordOut``): its whole ``text``."""
    citation = {"source": "deck.md", "source_id": "d3c4", "book": None, "page": number, "page_label": f"slide {number}"}
    citation |= {"label": f"deck.md, slide {number}", "figure": None, "bbox": None, "case": None, "image": None}
    shown = {"id": f"5{number:023x}", "kind": "page", "snippet": text[:20], "page_url": None, "has_image": False}
    return {**shown, "citation": citation, "text": text or f"Slide {number} says this."}


def held_nearest(held: set[int], number: int, nearest: str | None) -> int | None:
    """The slide of ``held`` GET /pages answers for ``number`` and ``nearest`` (None: that slide alone)."""
    if nearest == "before":
        return max((n for n in held if n < number), default=None)
    if nearest == "after":
        return min((n for n in held if n > number), default=None)
    return number if number in held else None


def deck_api(held: set[int], asked: list[tuple[int, str | None]]):
    """``fake_api`` holding the slides numbered ``held`` of deck.md, each GET /pages kept in ``asked`` as its page and
    ``nearest``."""

    def answer(method: str, path: str, **kwargs) -> httpx.Response:
        if path != "/pages":
            return fake_api(method, path)
        number, nearest = kwargs["params"]["page"], kwargs["params"].get("nearest")
        asked.append((number, nearest))
        if (shown := held_nearest(held, number, nearest)) is None:
            return httpx.Response(404, json={"detail": f"no page {number} of deck.md in the index"})
        around = {"previous_page": held_nearest(held, shown, "before"), "next_page": held_nearest(held, shown, "after")}
        return httpx.Response(200, json={**slide(shown), **around})

    return answer


def searched(record: dict) -> dict:
    """``record`` as a search hit gives it: without its whole text."""
    return {key: value for key, value in record.items() if key != "text"}


def test_paging_onto_slide_1_moves_focus_to_next_slide_as_the_page_viewer_does(monkeypatch):
    """Previous slide goes off there, under focus, which would fall to the page's body."""
    monkeypatch.setattr(web_client, "fetch", deck_api({1, 2}, []))
    app = pressed(viewed(slide(2)), "Previous slide")
    assert page_line(app) == "Slide 1" and buttons(app)["Previous slide"].disabled
    assert app.session_state["focus"][0] == ".st-key-s-next button"


def test_next_slide_asks_once_a_step_over_any_run_of_slides_without_a_record(monkeypatch):
    """Asked slide by slide, it took up to 17 requests, and as many at a deck's end before saying so."""
    asked: list[tuple[int, str | None]] = []
    monkeypatch.setattr(web_client, "fetch", deck_api({2, 30}, asked))
    app = pressed(viewed(slide(2)), "Next slide")
    assert asked == [(2, "after")] and page_line(app) == "Slide 30" and buttons(app)["Next slide"].disabled


UNTRUSTED = "![pixel](https:evil.example/p.png) <img src=x onerror=alert(1)>\n\n\u202eamonicrac\n$x$ *not emphasis*"


def test_a_slides_text_is_shown_as_written_never_as_markdown_or_html(monkeypatch):
    """Indexed text is untrusted (test_web_ui_untrusted_text): escaped, one line of HTML (a blank line would end its
    block and let Markdown read the rest), direction overrides dropped."""
    untrusted = slide(2, UNTRUSTED)
    monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: httpx.Response(200, json=untrusted))
    drawn = whole_text(viewed(untrusted))
    assert "<img" not in drawn and "\n" not in drawn and "\u202e" not in drawn, drawn
    assert "&lt;img src=x onerror=alert(1)&gt;" in drawn and "![pixel](https:evil.example/p.png)" in drawn


def test_a_slide_gone_since_the_search_is_said_in_one_line(monkeypatch):
    monkeypatch.setattr(web_client, "fetch", fake_api)  # GET /records: 404, the API's own
    app = viewed(searched(slide(2)))
    assert [html.unescape(error.value.replace("\\", "")) for error in app.error] == [
        "deck.md, slide 2 is no longer in the library: its source was removed, or indexed again, since it was found."
    ]


# -- a quote opened from Ask -----------------------------------------------------------------------------------------
QUOTED = slide(2, "Histologic patterns\n\nTransitional: shares features of the syncytial and fibroblastic types")


def opened_quote(monkeypatch, quoted: str) -> AppTest:
    """The whole app after a question answered by ``quoted`` from ``QUOTED`` and that quote opened."""
    citation = {**QUOTED["citation"], "evidence": QUOTED["id"], "record": QUOTED["id"], "page_url": None}
    quote = {"quote": quoted, "citation": citation, "stance": "supports", "about": None}
    options = [{**ANSWER["options"][0], "evidence": [quote]}]
    answers = {("POST", "/ask"): {**ANSWER, "options": options}, ("GET", f"/records/{QUOTED['id']}"): QUOTED}

    def answer(method: str, path: str, **kwargs) -> httpx.Response:
        if (method, path) in answers:
            return httpx.Response(200, json=answers[method, path])
        return fake_api(method, path, **kwargs)

    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", answer)
    return click(asked_in_ask(ran(AppTest.from_function(whole_app, default_timeout=60))), "Open quote 1 for A")


def quoted_below(app: AppTest) -> list[str]:
    return [m.value for m in app.markdown if "class='passage'" in m.value]


def test_a_quote_of_a_slide_opened_from_ask_shows_the_whole_slide_its_quoted_line_in_bold(monkeypatch):
    """The quote alone was shown: the slide around it, and its neighbours, out of reach."""
    app = opened_quote(monkeypatch, "shares features of the  syncytial")
    assert paragraphs(app) == QUOTED["text"].split("\n\n")
    assert "<p><strong>Transitional: shares features of the syncytial" in whole_text(app), "the cited line"
    assert quoted_below(app) == [] and {"Previous slide", "Next slide"} <= set(buttons(app))


def test_a_quote_no_line_of_the_slide_holds_is_quoted_below_it(monkeypatch):
    app = opened_quote(monkeypatch, "Histologic patterns Transitional")
    assert "<strong>" not in whole_text(app) and len(quoted_below(app)) == 1
