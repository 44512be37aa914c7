"""The Search tab as a student walked it (session 47): an image dropped after a text search was searched together
with the words left in the box ("12 results like BS10-HE2.jpg and “osteoclast”", the slide's own case fell from #1 to
#12); Forward to that image search showed a blank page though the image was still in the uploader; and "did you
mean osteoclasts?" could not be clicked. The tab's drawing in Streamlit's AppTest over a fake API (``fetch``), as in
test_web_search_page_figures_and_refusals."""

from __future__ import annotations

import html
import importlib
import re

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client, web_search, web_search_state
from pathatlas.ui.web_search_state import corrected_query

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

IMAGE = ("BS10-HE2.jpg", b"\xff\xd8\xff\xe0 not decoded by the fake API", "image/jpeg")
TYPO = {"field": "text", "word": "osteoclsat", "closest": ["osteoclasts", "osteoclast"]}


def hit(record_id: str, rank: int) -> dict:
    """A page hit as the search routes give it (``HitOut``)."""
    citation = {"source": "book.pdf", "source_id": "b00c", "book": "Bone", "label": f"Bone (book.pdf), p. {rank}"}
    return {
        "id": record_id,
        "rank": rank,
        "relevance": "related",
        "kind": "page",
        "snippet": "Osteoclasts resorb bone.",
        "citation": {**citation, "page": rank, "figure": None, "bbox": None, "case": None, "image": None},
        "section": None,
        "matched_by": {"dense": rank},
        "has_image": False,
        "also_on_page": [],
        "repeated_on": [],
        "repeated_in": [],
        "thumbnail_url": None,
        "page_url": None,
    }


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, str]]:
    """The searches the tab sent, as (path, words), to a fake API: a library of pages, a typo for "osteoclsat"."""
    sent = []

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        if (method, path) == ("GET", "/facets"):
            return httpx.Response(200, json={"fields": {"kind": [{"value": "page", "count": 3}]}, "by_source": {}})
        if (method, path) == ("GET", "/health"):
            return httpx.Response(200, json={"limits": {}})
        words = kwargs["json"]["text"] if "json" in kwargs else kwargs["data"]["text"]
        sent.append((path, words))
        unknown = [TYPO] if "osteoclsat" in words else []
        return httpx.Response(200, json={"hits": [hit("p1", 1), hit("p2", 2)], "unknown_words": unknown})

    monkeypatch.setattr(web_client, "fetch", fetch)
    return sent


def search_tab() -> None:
    """The app's script for AppTest, which runs this function's source alone: it imports what it draws."""
    from pathatlas.ui.web_search import search_tab

    search_tab()


def opened(query_params: dict | None = None) -> AppTest:
    """The tab as a browser opens it at a URL naming ``query_params`` (a link, a reload: a new session)."""
    app = AppTest.from_function(search_tab, default_timeout=60)
    app.query_params = dict(query_params or {})
    return ran(app)


def ran(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def searched(app: AppTest, text: str) -> AppTest:
    app.text_input(key="search-text").input(text)
    next(button for button in app.button if button.label == "Search").click()
    return ran(app)


def dropped(app: AppTest) -> AppTest:
    app.file_uploader(key="image").set_value(IMAGE)
    return ran(app)


def stepped_to(app: AppTest, query_params: dict) -> AppTest:
    """Back or Forward to the history entry of ``query_params``: the URL changes, the session and its widgets stay."""
    app.query_params = dict(query_params)
    return ran(app)


def status(app: AppTest) -> str:
    """The results line (the live region) as read."""
    (line,) = [m.value for m in app.markdown if "class='results-status" in m.value]
    return html.unescape(re.sub(r"<[^>]+>", "", line))


def words_box(app: AppTest) -> list:
    """The checkbox beside the uploader that adds the box's words to the image search, where drawn."""
    return [box for box in app.checkbox if box.label.startswith("Also match the words")]


# -- an image dropped after a text search ----------------------------------------------------------------------------
def test_an_image_dropped_after_a_text_search_is_searched_alone_unless_the_words_are_ticked(asked):
    app = searched(opened(), "osteoclast")
    assert words_box(app) == [], "no image yet: nothing to match the words with"
    dropped(app)
    assert asked[-1] == ("/search/image", "")
    assert status(app) == "2 results like BS10-HE2.jpg"
    (box,) = words_box(app)
    assert box.label == present.plain("Also match the words “osteoclast”") and not box.value
    box.check()
    ran(app)
    assert asked[-1] == ("/search/image", "osteoclast")
    assert status(app) == "2 results like BS10-HE2.jpg and “osteoclast”"
    words_box(app)[0].uncheck()
    ran(app)
    assert asked[-1] == ("/search/image", "") and status(app) == "2 results like BS10-HE2.jpg"


def test_search_pressed_with_words_and_an_image_searches_the_words_unless_ticked(asked):
    """The image left in its uploader: Search beside the words searches them; with the box ticked, both."""
    app = searched(dropped(opened()), "osteoclast")
    assert asked[-1] == ("/search", "osteoclast") and status(app) == "2 results for “osteoclast”"
    words_box(app)[0].check()
    searched(ran(app), "osteoclast bone")
    assert asked[-1] == ("/search/image", "osteoclast bone")
    assert status(app) == "2 results like BS10-HE2.jpg and “osteoclast bone”"


# -- Back and Forward through an image search ------------------------------------------------------------------------
@pytest.mark.parametrize("with_words", [False, True], ids=["image-alone", "image-and-words"])
def test_forward_to_an_image_search_whose_image_is_still_in_the_uploader_searches_it_again(asked, with_words):
    app = searched(opened(), "osteoclast")
    text_url = dict(app.query_params)
    dropped(app)
    if with_words:
        words_box(app)[0].check()
        ran(app)
    image_url, image_line = dict(app.query_params), status(app)
    stepped_to(app, text_url)
    assert status(app) == "2 results for “osteoclast”"
    sent = len(asked)
    stepped_to(app, image_url)
    assert status(app) == image_line and len(app.header) == 2, "the image search shown again, with its cards"
    assert asked[sent:] == [("/search/image", "osteoclast" if with_words else "")]
    assert [box.value for box in words_box(app)] == ([True] if with_words else []), "the box holds the URL's words"


def test_a_link_to_an_image_search_says_to_drop_the_image_again(asked):
    """A reload or a link opens a new session, its uploader empty: the URL names the image but cannot hold it."""
    app = dropped(opened())
    reloaded = opened(app.query_params)
    assert status(reloaded) == "Links keep no image: drop BS10-HE2.jpg under “Search by image” to search by it again."
    assert len(reloaded.header) == 0 and asked == [("/search/image", "")]


def test_back_to_another_image_of_the_same_file_name_does_not_search_the_one_in_the_uploader(asked):
    """Every pasted image is "image.png": the URL named it by its file name alone, and Back to the search by the first
    searched the second, under the first one's URL. The URL names it by a short hash of its bytes too."""
    app = ran(opened())
    app.file_uploader(key="image").set_value(("image.png", b"\x89PNG the first slide", "image/png"))
    first = dict(ran(app).query_params)
    searched(app, "osteoclast")
    app.file_uploader(key="image").set_value(("image.png", b"\x89PNG another slide", "image/png"))
    second = dict(ran(app).query_params)
    sent = len(asked)
    stepped_to(app, first)
    assert status(app) == "Links keep no image: drop image.png under “Search by image” to search by it again."
    assert asked[sent:] == [] and len(app.header) == 0
    stepped_to(app, second)
    assert status(app) == "2 results like image.png" and asked[sent:] == [("/search/image", "")]
    assert [re.fullmatch(r"[0-9a-f]{8}-image\.png", url["image"]) is not None for url in (first, second)] == [True] * 2


def test_words_typed_after_the_app_modules_reload_are_searched(asked):
    """Streamlit reloads every module of the app when a file of them changes: the search the session kept as its URL's
    must still equal the URL read anew, or that URL was put back in the box over the words just typed."""
    app = searched(opened(), "osteoclast")
    importlib.reload(web_search_state)
    importlib.reload(web_search)
    searched(app, "bone")
    assert asked[-1] == ("/search", "bone") and app.query_params == {"q": "bone"}


# -- did you mean ----------------------------------------------------------------------------------------------------
def test_the_did_you_mean_suggestion_is_a_button_that_searches_it(asked):
    app = searched(opened(), "osteoclsat")
    assert any("did you mean osteoclasts?" in warning.value for warning in app.warning)
    (button,) = [b for b in app.button if b.label == present.plain("Search for “osteoclasts”")]
    button.click()
    ran(app)
    assert asked[-1] == ("/search", "osteoclasts") and status(app) == "2 results for “osteoclasts”"
    assert app.text_input(key="search-text").value == "osteoclasts" and app.query_params == {"q": "osteoclasts"}
    assert not [b for b in app.button if b.label.startswith("Search for")], "no typo left to offer"


def test_no_did_you_mean_button_after_an_image_search(asked):
    """Its words were the image's companions: a text search in its place would drop the image."""
    app = dropped(searched(opened(), "osteoclsat"))
    words_box(app)[0].check()
    ran(app)
    assert asked[-1] == ("/search/image", "osteoclsat") and app.warning
    assert not [b for b in app.button if b.label.startswith("Search for")]


@pytest.mark.parametrize(
    ("text", "unknown", "corrected"),
    [
        ("osteoclsat", [TYPO], "osteoclasts"),
        ("Osteoclsat in bone, OSTEOCLSAT", [TYPO], "osteoclasts in bone, osteoclasts"),
        ("osteoclsats", [TYPO], None),  # not that word: the API named none of this text
        ("xqzv bone", [{"field": "text", "word": "xqzv", "closest": []}], None),
        (
            "stratifed squamus",
            [
                {"field": "text", "word": "stratifed", "closest": ["stratified"]},
                {"field": "text", "word": "squamus", "closest": ["squamous"]},
            ],
            "stratified squamous",
        ),
    ],
)
def test_a_corrected_query_spells_each_unknown_word_as_its_closest(text, unknown, corrected):
    assert corrected_query(text, unknown) == corrected
