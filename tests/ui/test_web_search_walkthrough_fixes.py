"""The Search and Library tabs as a student's walkthrough met them (session 48): the image taken out of its uploader
left its results and URL; after Find similar the URL named no search, so a reload, Back or a shared link showed an
empty page; its results line named a case by its folder and image file; a checkbox's accessible name read Markdown's
escapes; "its 1 entries"; and card numbers skipped one where a case's images shared a card. The tabs drawn in
Streamlit's AppTest over a fake API (``fetch``), as in test_web_search_image_words_and_history."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client, web_library, web_search_state
from tests.ui.test_web_search_image_words_and_history import (
    dropped,
    hit,
    opened,
    ran,
    searched,
    status,
    stepped_to,
    words_box,
)
from tests.ui.test_web_ui_library_and_search_lines import unescaped
from tests.ui.test_web_ui_library_jobs import library

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

FACETS = {
    "fields": {
        "kind": [{"value": "page", "count": 2}, {"value": "case", "count": 2}],
        "organ": [{"value": "lung", "count": 2}, {"value": "colon", "count": 1}, {"value": "liver", "count": 1}],
    },
    "by_source": {},
}


def case_image(record_id: str, rank: int, image: str) -> dict:
    """A hit on an image of case DEMO-01, cited as REST cites it: by the collection's folder and the image's file."""
    citation = {"source": "cases", "source_id": "c0a5", "label": f"cases, case DEMO-01, {image}", "page": None}
    citation.update(figure=None, bbox=None, case="DEMO-01", image=image)
    found = {"citation": citation, "kind": "case", "diagnosis": "LSIL", "organ": "lung", "has_image": True}
    return {**hit(record_id, rank), **found}


C1, C2 = "c1" * 12, "c2" * 12  # the case's images' ids
C1_KEY = {"similar_source": "c0a5", "similar_case": "DEMO-01", "similar_image": "images/DEMO-01-1.jpg"}  # and its key
HITS = [case_image(C1, 1, "images/DEMO-01-1.jpg"), hit("p2", 2), case_image(C2, 3, "images/DEMO-01-2.jpg")]
HITS.append(hit("p4", 4))
"""Any search's hits: the case's two images share the first card, so the cards are the case, p. 2 and p. 4."""
CARDS = "3 results (1 case with 2 images)"
GONE = httpx.Response(404, json={"detail": "no such record"})


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, dict]]:
    """The searches the tab sent to a fake API, as (path, what was asked: the words, or the record looked like, and the
    filters); GET /records gives ``HITS``' records, no other."""
    sent = []
    records = {found["id"]: found for found in HITS}

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        if (method, path) == ("GET", "/facets"):
            return httpx.Response(200, json=FACETS)
        if (method, path) == ("GET", "/health"):
            return httpx.Response(200, json={"limits": {}})
        if path.startswith("/records/"):
            found = records.get(path.removeprefix("/records/"))
            return httpx.Response(200, json={**found, "rank": None}) if found else GONE
        sent.append((path, kwargs.get("json") or kwargs["data"]))
        return httpx.Response(200, json={"hits": HITS, "unknown_words": []})

    monkeypatch.setattr(web_client, "fetch", fetch)
    return sent


def cards(app: AppTest) -> int:
    return len(app.header)


# -- the image taken out of its uploader -----------------------------------------------------------------------------
def taken_out(app: AppTest) -> AppTest:
    """The image's chip's x pressed: the uploader empty."""
    app.file_uploader(key="image").set_value(None)
    return ran(app)


def test_the_image_taken_out_gives_back_the_search_of_the_boxs_words(asked):
    """Its results stayed ("4 results like slide.tiff"), under a URL naming the image, the box saying "granuloma"."""
    app = dropped(searched(opened(), "granuloma"))
    assert status(app) == f"{CARDS} like BS10-HE2.jpg" and "image" in app.query_params
    taken_out(app)
    assert status(app) == f"{CARDS} for “granuloma”"
    assert app.query_params == {"q": "granuloma"}
    assert asked[-1][0] == "/search" and asked[-1][1]["text"] == "granuloma"


def test_the_image_taken_out_with_no_words_in_the_box_leaves_no_results(asked):
    app = taken_out(dropped(opened()))
    assert status(app) == "" and cards(app) == 0
    assert app.query_params == {}
    assert [path for path, _ in asked] == ["/search/image"], "nothing searched in its place"


def test_an_image_taken_out_after_its_words_were_searched_alone_changes_nothing(asked):
    """The search shown is the words' (Search pressed with the image left in the uploader): it stays."""
    app = searched(dropped(opened()), "granuloma")
    taken_out(app)
    assert status(app) == f"{CARDS} for “granuloma”" and app.query_params == {"q": "granuloma"}
    assert [path for path, _ in asked] == ["/search/image", "/search"]


# -- find similar, named in the URL ----------------------------------------------------------------------------------
LOOK_ALIKES = f"{CARDS} that look like case DEMO-01 (LSIL) in organ lung"
TEXT_URL = {"q": "granuloma", "organ": "lung"}


def looked_alike(asked) -> AppTest:
    """?q=granuloma&organ=lung opened, then Find similar pressed on the first card (the case's)."""
    app = opened(TEXT_URL)
    assert status(app) == f"{CARDS} for “granuloma” in organ lung"
    app.button(key=f"similar-{C1}").click()
    return ran(app)


def test_find_similar_names_its_search_and_filters_in_the_url_and_its_record_as_its_card(asked):
    """The URL became "/" though the line said "in organ lung"; the line named "cases, case DEMO-01,
    images/DEMO-01-1.jpg", where the card clicked says "Case DEMO-01 · LSIL · 2 images"."""
    app = looked_alike(asked)
    assert app.query_params == {"similar": C1, **C1_KEY, "organ": "lung"}
    assert status(app) == LOOK_ALIKES
    assert app.text_input(key="search-text").value == "", "the words of a search no longer shown"
    assert asked[-1] == ("/search/similar", {"id": C1, "filters": {"organ": ["lung"]}, "k": present.PAGE_SIZE})


def test_a_reload_or_a_link_of_find_similar_shows_it_again(asked):
    reloaded = opened(looked_alike(asked).query_params)
    assert status(reloaded) == LOOK_ALIKES and cards(reloaded) == 3
    assert asked[-1] == ("/search/similar", {"id": C1, "filters": {"organ": ["lung"]}, "k": present.PAGE_SIZE})


def test_back_and_forward_step_between_the_search_and_its_look_alikes(asked):
    app = looked_alike(asked)
    similar_url = dict(app.query_params)
    assert status(stepped_to(app, TEXT_URL)) == f"{CARDS} for “granuloma” in organ lung"
    assert status(stepped_to(app, similar_url)) == LOOK_ALIKES


def test_a_filter_picked_after_find_similar_is_named_in_its_url(asked):
    app = looked_alike(asked)
    app.multiselect(key="filter-organ").select("colon")
    ran(app)
    assert app.query_params == {"similar": C1, **C1_KEY, "organ": ["lung", "colon"]}
    assert asked[-1][1]["filters"] == {"organ": ["lung", "colon"]}


def test_a_link_to_the_look_alikes_of_a_record_gone_says_so(asked):
    app = opened({"similar": "deadbeef" * 3})
    assert status(app) == web_search_state.LINKED_GONE and cards(app) == 0
    assert asked == [], "no search for a record the API no longer has"


def test_a_links_record_id_names_a_record_and_nothing_else(asked, monkeypatch):
    """The id is the URL's, which anyone may write: "../sources" must not reach another API path; it is no record's id,
    and nothing is asked for it (test_web_ui_review_fixes: "<id>/pdf")."""
    requested = []
    answer = web_client.fetch
    monkeypatch.setattr(
        web_client, "fetch", lambda method, path, **kw: requested.append(path) or answer(method, path, **kw)
    )
    app = opened({"similar": "../sources"})
    assert [path for path in requested if "sources" in path or path.startswith("/records")] == []
    assert status(app) == web_search_state.NOT_A_RESULT_LINK and cards(app) == 0


def test_a_record_is_named_by_its_case_not_its_folder_and_file():
    case = case_image("c1", 1, "images/DEMO-01-2.jpg")
    assert present.record_name(case) == "case DEMO-01 (LSIL)"
    assert present.record_name({**case, "diagnosis": None}) == "case DEMO-01"
    assert present.record_name(hit("p2", 2)) == "Bone (book.pdf), p. 2", "a page by its citation, as its card"


# -- card numbers ----------------------------------------------------------------------------------------------------
def test_cards_are_numbered_as_shown_when_a_cases_images_share_one(asked):
    """The case's second image (rank 3) joins its first's card: the cards read #1, #2, #4."""
    app = searched(opened(), "granuloma")
    numbers = [unescaped(caption.value).split(" · ")[0] for caption in app.caption if "found by" in caption.value]
    assert numbers == ["#1", "#2", "#3"]


def test_buttons_alike_are_told_apart_by_their_cards_numbers():
    page = hit("p1", 1)
    assert present.distinct_places([page, hit("p9", 4), {**page, "rank": 7}]) == [
        "p. 1 of book.pdf (#1)",
        "p. 4",
        "p. 1 of book.pdf (#3)",
    ]


# -- accessible names without Markdown's escapes ---------------------------------------------------------------------
def test_the_words_checkbox_is_named_as_its_words_are_written(asked):
    """Its accessible name read "Also match the words “block\\-positive p16”"."""
    app = dropped(searched(opened(), "block-positive p16"))
    (box,) = words_box(app)
    assert box.label == "Also match the words “block-positive p16”"


NAMES = [
    "demo-primer.pdf",
    "1. intro #2 + notes.pdf",
    "my_book_v2 (draft).pdf",
    "_x_ *y* `z` [t](u) ![i](s) <http://a.b> &amp; a\\*b C:\\docs\\f.pdf",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_label_is_escaped_where_markdown_reads_it_alone(name):
    """CommonMark reads a label escaped by ``label_plain`` as written (Streamlit escapes a line's opening block
    markers itself: a label is rendered inline here); it holds a backslash only where Markdown needed one."""
    label = present.label_plain(name)
    assert html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").renderInline(label))) == name
    if not re.search(r"[_*`\]<&\\]", name):
        assert label == name


def test_the_remove_box_names_the_source_plainly_and_counts_one_entry(monkeypatch):
    """ "Yes, remove demo\\-primer\\.pdf and its 1 entries", then "removed blank.pdf: 1 entries"."""
    source = {"id": "a1b2c3d4e5f6", "source": "demo-primer.pdf", "kind": "pdf", "entries": 1, "cases": 0}

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        answers = {
            "/sources": [{**source, "problems": []}],
            "/facets": {"fields": {}, "by_source": {source["id"]: {"page": 1}}},
            "/jobs": [],
            "/health": {"limits": {}},
            f"/sources/{source['id']}": {"removed": 1},
        }
        return httpx.Response(200, json=answers[path])

    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fetch)
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    app = AppTest.from_function(library, default_timeout=60).run()
    (box,) = app.checkbox
    assert box.label == "Yes, remove demo-primer.pdf and its 1 entry"
    box.check().run()
    next(button for button in app.button if button.label == "Remove").click().run()
    assert [unescaped(success.value) for success in app.success] == ["removed demo-primer.pdf: 1 entry"]


def test_more_entries_than_one_are_counted_in_the_plural():
    assert [web_library.entries_said(n) for n in (0, 1, 14)] == ["0 entries", "1 entry", "14 entries"]
