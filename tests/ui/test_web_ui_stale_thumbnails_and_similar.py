"""Results shown after their record went (a source removed or indexed again in another tab, by a lecturer): their
thumbnails read "1 image could not be loaded from the PathAtlas service: /media/thumbs/...: no such record", a server
path, and Find similar on one replaced the results with "no such record". The Search tab drawn in Streamlit's AppTest
over a fake API (``fetch``), as in test_web_search_image_words_and_history, with the notice of images refused above it
as the app draws it."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client
from pathatlas.ui.present import PAGE_GONE
from pathatlas.ui.web_client import IMAGE_CHANGED
from tests.ui.test_web_search_image_words_and_history import hit, ran, searched, status

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

GONE = httpx.Response(404, json={"detail": "no such record"})
CHANGED = httpx.Response(410, json={"detail": "the case image is no longer on disk"})
BUSY = httpx.Response(503, json={"detail": "the index is being rebuilt"})
PROXY_404 = httpx.Response(404, text="<html><body>404 Not Found</body></html>", headers={"content-type": "text/html"})
REMOVED = f"{PAGE_GONE[404]} Search again."


def thumbnail() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(picture, "JPEG")
    return picture.getvalue()


def pictured(record_id: str, rank: int) -> dict:
    """A page hit with a thumbnail, which Find similar is offered for."""
    return {**hit(record_id, rank), "has_image": True, "thumbnail_url": f"/media/thumbnails/{record_id}"}


@pytest.fixture
def answers(monkeypatch) -> dict[str, httpx.Response]:
    """What the fake API answers, by path, in place of its library's: two pages found by any search (``pictured``),
    their thumbnails and records served, until a test makes them gone."""
    answered: dict[str, httpx.Response] = {}
    found = {"hits": [pictured("p1", 1), pictured("p2", 2)], "unknown_words": []}

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        if path in answered:
            return answered[path]
        if path == "/facets":
            return httpx.Response(200, json={"fields": {"kind": [{"value": "page", "count": 2}]}, "by_source": {}})
        if path == "/health":
            return httpx.Response(200, json={"limits": {}})
        if path.startswith("/media/thumbnails/"):
            return httpx.Response(200, content=thumbnail(), headers={"content-type": "image/jpeg"})
        if path.startswith("/records/"):
            return httpx.Response(200, json=pictured(path.rsplit("/", 1)[1], 1))
        if method == "GET":  # /openapi.json: served at /
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json=found)

    monkeypatch.setattr(web_client, "fetch", fetch)
    return answered


@pytest.fixture
def asked(answers, monkeypatch) -> list[tuple[str, str]]:
    """The requests sent to the fake API (``answers``), as (method, path)."""
    sent = []
    answer = web_client.fetch

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        sent.append((method, path))
        return answer(method, path, **kwargs)

    monkeypatch.setattr(web_client, "fetch", fetch)
    return sent


def search_page() -> None:
    """The Search tab under the notice of the images refused in its run, as the app draws them."""
    import streamlit as st

    from pathatlas.ui.web_client import notice_media
    from pathatlas.ui.web_search import search_tab

    notice = st.empty()
    search_tab()
    notice_media(notice)


def shown(answers: dict[str, httpx.Response]) -> AppTest:
    """The page after a search, its thumbnails asked for anew (an earlier run's are cached: ``fresh_cache``)."""
    return searched(ran(AppTest.from_function(search_page, default_timeout=60)), "osteoclast")


def errors(app: AppTest) -> list[str]:
    return [error.value for error in app.error]


def details_shown(app: AppTest) -> bool:
    return "Details" in [expander.label for expander in app.expander]


@pytest.mark.parametrize(
    ("refused", "said"),
    [
        ({"p1": GONE, "p2": GONE}, f"Each of 2 results {REMOVED}"),
        ({"p2": GONE}, f"1 result {REMOVED}"),
        ({"p1": CHANGED}, f"1 image {IMAGE_CHANGED}"),
        ({"p1": GONE, "p2": CHANGED}, f"1 result {REMOVED} 1 image {IMAGE_CHANGED}"),
    ],
    ids=["both-removed", "one-removed", "changed-on-disk", "removed-and-changed"],
)
def test_thumbnails_of_records_gone_since_the_search_are_one_plain_sentence(answers, refused, said):
    """The API's own 404 (the record removed, or indexed again) or 410 (its file changed on disk): a sentence a
    student acts on, no server path, no Details to open."""
    answers.update({f"/media/thumbnails/{record_id}": answer for record_id, answer in refused.items()})
    app = shown(answers)
    assert status(app) == "2 results for “osteoclast”"
    assert errors(app) == [present.plain(said)]
    assert not details_shown(app)


@pytest.mark.parametrize("other", [BUSY, PROXY_404], ids=["service-busy", "proxys-404-page"])
def test_other_refusals_of_a_thumbnail_keep_the_services_words_and_details(answers, other):
    """A busy service's 503, or a proxy's 404 page (a wrong PATHATLAS_API_URL: no record is known gone), still name the
    path and the service's reason, its answer under Details; beside a record gone, after its sentence."""
    answers.update({"/media/thumbnails/p1": GONE, "/media/thumbnails/p2": other})
    app = shown(answers)
    said = present.error_message(web_client.detail_of(other))
    others = present.media_problem([("/media/thumbnails/p2", said)])
    assert others.startswith("1 image could not be loaded from the PathAtlas service: /media/thumbnails/p2")
    assert errors(app) == [present.plain(f"1 result {REMOVED} {others}")]
    assert details_shown(app)


def test_find_similar_on_a_record_gone_since_the_search_keeps_the_results_and_says_why_on_its_card(answers):
    """The API no longer has the record (its 404): the results stay, and the card clicked says so in one sentence;
    "no such record" had replaced them, as the results line's refusal."""
    app = shown(answers)
    answers.update({"/records/p2": GONE, "/search/similar": GONE})
    app.button(key="similar-p2").click()
    ran(app)
    assert status(app) == "2 results for “osteoclast”"
    assert len([header for header in app.header if present.plain("Bone (book.pdf)") in header.value]) == 2
    assert errors(app) == [present.plain(f"This result {REMOVED}")]
    assert not any("no such record" in text.value for text in [*app.markdown, *app.error])


def test_find_similar_on_a_record_still_there_shows_the_look_alikes_in_one_request(answers, asked):
    """It asked GET /records/{id} before each similar search, to tell a record gone: the search's own 404 tells it."""
    app = shown(answers)
    asked.clear()
    app.button(key="similar-p2").click()
    ran(app)
    assert status(app).startswith("2 results that look like Bone (book.pdf), p. 2")
    assert not errors(app)
    assert [request for request in asked if request[1].startswith(("/search", "/records"))] == [
        ("POST", "/search/similar")
    ]


def test_a_record_gone_is_told_by_the_similar_searchs_own_404(answers, asked):
    app = shown(answers)
    answers["/search/similar"] = GONE  # GET /records/p2 still answers: asked, it would not tell
    asked.clear()
    app.button(key="similar-p2").click()
    ran(app)
    assert status(app) == "2 results for “osteoclast”"
    assert errors(app) == [present.plain(f"This result {REMOVED}")]
    assert ("GET", "/records/p2") not in asked


NO_SOURCE = httpx.Response(404, json={"detail": "no source atlas.pdf in the index"})
FILTERED = "2 results for “osteoclast” in source atlas.pdf"


@pytest.mark.parametrize(
    ("record", "line", "said"),
    [(None, "no source atlas.pdf in the index", []), (GONE, FILTERED, [f"This result {REMOVED}"])],
    ids=["filter-gone", "record-gone"],
)
def test_a_404_under_a_source_filter_is_the_record_gone_only_where_the_api_says_so(answers, record, line, said):
    """Filtered, a similar search's 404 may name the source filtered by, removed since: the record is asked for."""
    facets = {"fields": {"source": [{"value": "s1", "label": "atlas.pdf", "count": 2}]}, "by_source": {}}
    answers["/facets"] = httpx.Response(200, json=facets)
    app = shown(answers)
    app.multiselect(key="filter-source").select("s1")
    assert status(ran(app)) == FILTERED
    answers["/search/similar"] = NO_SOURCE if record is None else GONE
    if record is not None:
        answers["/records/p2"] = record
    app.button(key="similar-p2").click()
    ran(app)
    assert (status(app), errors(app)) == (line, [present.plain(sentence) for sentence in said])
