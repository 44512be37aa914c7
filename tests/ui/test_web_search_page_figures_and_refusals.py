"""The Search tab as a student met it (session 46): a figure the search found on a result's page was folded into the
page's hit (``also_on_page``) and no card said so ("periosteum" found Figure 6.8 on p. 7, and the card showed p. 7's
text alone); a refused search, or an upload of the wrong type, was said twice on the screen, by the results line and
by a red box below it. The tab's drawing in Streamlit's AppTest over a fake API (``fetch``), as in
test_web_ui_library_jobs."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client, web_search

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

SOURCE = {"source": "small.pdf", "source_id": "cac4a38a0d91", "book": "A&P 2e chapter 6 excerpt"}
BOOK_PAGE = "A&P 2e chapter 6 excerpt (small.pdf), p. "
PERIOSTEUM = "Periosteum and Endosteum: The periosteum forms the outer surface of bone, and the endosteum lines the "


def citation(label: str, page: int, figure: str | None = None) -> dict:
    return {**SOURCE, "label": label, "page": page, "figure": figure, "bbox": None, "case": None, "image": None}


def hit(record_id: str, page: int, also_on_page: list[str], rank: int = 1) -> dict:
    """A page hit as POST /search gives it (``HitOut``), the other records found on its page folded into it."""
    return {
        "id": record_id,
        "rank": rank,
        "relevance": "best match",
        "kind": "page",
        "snippet": "…covered with a fibrous membrane called the periosteum…",
        "citation": citation(f"{BOOK_PAGE}{page}", page),
        "section": "6.3 Bone Structure",
        "matched_by": {"bm25": rank},
        "has_image": False,
        "also_on_page": also_on_page,
        "repeated_on": [],
        "repeated_in": [],
        "thumbnail_url": None,
        "page_url": None,
    }


def record(record_id: str, kind: str, page: int, figure: str | None, snippet: str) -> dict:
    """A record as GET /records gives it (``RecordOut``): ranked by none."""
    label = f"{BOOK_PAGE}{page}" + (f", {figure}" if figure else "")
    return {
        "id": record_id,
        "rank": None,
        "relevance": None,
        "kind": kind,
        "snippet": snippet,
        "citation": citation(label, page, figure),
        "has_image": False,
        "also_on_page": [],
        "thumbnail_url": None,
        "page_url": None,
        "text": snippet,
    }


RECORDS = {
    "fig68": record("fig68", "figure", 7, "Figure 6.8", PERIOSTEUM + "medullary cavity."),
    "fig67": record("fig67", "figure", 7, "Figure 6.7", "Anatomy of a Long Bone: A typical long bone shows the gross"),
    "p7-passage": record("p7-passage", "passage", 7, None, "Compact bone is the denser, stronger of the two types"),
    "p13-passage": record("p13-passage", "passage", 13, None, "The periosteum of flat bones is thin"),
}
HITS = [hit("p7", 7, ["fig68", "p7-passage", "fig67"]), hit("p13", 13, ["p13-passage"], rank=2)]
NOT_AN_IMAGE = f"notes.txt is not a {web_search.IMAGE_KINDS} image: choose one of those to search by image."
PIXEL = "![pixel](https:evil.example/p.png)"  # Markdown for an image on another server
REFUSAL = "the query 'the' has only common words (stop words, single letters or punctuation): say what it seeks"


def json_answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def fake_api(monkeypatch, search: httpx.Response) -> None:
    """The Search tab's requests answered here: a library of pages and figures, POST /search by ``search``, each
    record of ``RECORDS`` by id."""

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        if path.startswith("/records/"):
            found = RECORDS.get(path.removeprefix("/records/"))
            return json_answer(200, found) if found else json_answer(404, {"detail": "no such record"})
        answers = {
            ("GET", "/facets"): json_answer(
                200, {"fields": {"kind": [{"value": "page", "count": 19}]}, "by_source": {}}
            ),
            ("GET", "/health"): json_answer(200, {"limits": {}}),
            ("POST", "/search"): search,
        }
        return answers[method, path]

    for module in (web_client, web_search):  # the tab's requests, and its records fetched by id
        monkeypatch.setattr(module, "fetch", fetch)


def search_tab() -> None:
    from pathatlas.ui import web_search

    web_search.search_tab()


def searched(app: AppTest, text: str) -> AppTest:
    app.text_input(key="search-text").input(text)
    next(button for button in app.button if button.label == "Search").click().run()
    assert not app.exception, app.exception
    return app


def button(app: AppTest, label: str):
    return next(button for button in app.button if present.plain(label) == button.label)


def status(app: AppTest) -> tuple[str, str]:
    """The results line (the live region): its text, and its element as drawn."""
    (line,) = [m.value for m in app.markdown if "class='results-status" in m.value]
    return html.unescape(re.sub(r"<[^>]+>", "", line)), line


# -- the figures a search found on a result's page -----------------------------------------------------------------
@pytest.mark.parametrize("phone", [False, True], ids=["beside-the-cards", "phone-below-its-card"])
def test_a_page_card_names_the_figures_found_on_its_page_and_opens_one_in_the_viewer(monkeypatch, phone):
    """Each figure by its label and its caption's first words, the passages found on the page left out; its button
    opens it in the viewer, beside the cards, or on a phone below the card it was opened from (not the figure's)."""
    fake_api(monkeypatch, json_answer(200, {"hits": HITS, "unknown_words": []}))
    monkeypatch.setattr(web_search, "on_phone", lambda: phone)
    app = searched(AppTest.from_function(search_tab, default_timeout=60).run(), "periosteum")
    opens = [b.label for b in app.button if b.label.startswith("Open")]
    assert opens == [
        present.plain(f"Open {label}") for label in ("p. 7", "Figure 6.8, p. 7", "Figure 6.7, p. 7", "p. 13")
    ]
    shown = [m.value for m in app.markdown if "class='printed'" in m.value]
    assert len(shown) == 2 and "<mark>Periosteum</mark> and Endosteum" in shown[0], shown  # the caption's first words
    assert "Compact bone" not in str(shown) and app.caption.values.count("Figures found on this page") == 1
    button(app, "Open Figure 6.8, p. 7").click().run()
    assert not app.exception, app.exception
    cards = [f"**Page** · {present.plain(f'{BOOK_PAGE}{page}')}" for page in (7, 13)]
    viewer = present.plain(f"{BOOK_PAGE}7, Figure 6.8")
    headings = [h.value.split(" &nbsp; ")[0] for h in app.header]
    assert headings == ([cards[0], viewer, cards[1]] if phone else [*cards, viewer]), headings


# -- a refusal, said once ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("detail", [REFUSAL, f"{REFUSAL}\n\n{PIXEL}"], ids=["one-line", "with-a-blank-line"])
def test_a_refused_search_is_said_once_by_the_results_line_with_the_answer_under_details(monkeypatch, detail):
    """Said once, boxed as an error and read out; on one line, since a blank line would end the HTML block and let
    Markdown read the rest (an image fetched from another server)."""
    fake_api(monkeypatch, json_answer(400, {"detail": detail}))
    app = searched(AppTest.from_function(search_tab, default_timeout=60).run(), "the")
    said, drawn = status(app)
    assert said == present.display_line(detail) and "refused" in drawn and "\n" not in drawn, drawn
    assert [error.value for error in app.error] == [], "no red box repeating it"
    assert [expander.label for expander in app.expander if expander.label == "Details"] == ["Details"]
    assert app.code[0].value.startswith("POST /search: 400")


def test_an_upload_of_the_wrong_type_is_said_once_and_beside_the_uploader_under_later_results(monkeypatch):
    fake_api(monkeypatch, json_answer(200, {"hits": HITS, "unknown_words": []}))
    app = AppTest.from_function(search_tab, default_timeout=60).run()
    app.file_uploader(key="image").set_value(("notes.txt", b"not an image", "text/plain")).run()
    said, drawn = status(app)
    assert said == NOT_AN_IMAGE and "refused" in drawn, drawn
    assert [error.value for error in app.error] == []
    searched(app, "periosteum")  # the file left in the uploader: the results line now counts the results
    said, drawn = status(app)
    assert said.startswith("2 results for") and "refused" not in drawn
    assert [error.value for error in app.error] == [present.plain(NOT_AN_IMAGE)]


def test_a_page_card_stops_asking_for_its_records_once_the_api_does_not_answer(monkeypatch):
    """Each of a page hit's ``also_on_page`` ids was asked for even after the API timed out: a card of 100 ids waited
    100 times the client's timeout. The first unanswered call ends the card's asking, and says so once."""
    asked, said = [], []

    def timed_out(method, path, **kwargs):
        asked.append(path)
        raise web_client.TimedOut("read timeout")

    monkeypatch.setattr(web_search, "fetch", timed_out)
    monkeypatch.setattr(web_search, "say_unreachable", said.append)
    web_search.cached_record.clear()
    hit = {"kind": "page", "id": "p", "also_on_page": [f"{n:024x}" for n in range(100)]}
    assert web_search.page_figures(hit) == []
    assert (len(asked), len(said)) == (1, 1)
