"""The web UI as a reviewer met it after session 48: a crafted ``?similar=<id>/pdf`` read a book's bytes as a record
and showed a traceback; the viewer offered no whole book to read on from the page, only that page; a session whose
first draw found GET /jobs unanswered never listed the jobs; the plural helper was written three times; and the
wording of a look-alike search without results and of the agent's steps. The app's drawing in Streamlit's AppTest
over a fake API (``fetch``), as in test_web_search_walkthrough_fixes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pymupdf
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_ask, web_client, web_library, web_search_state
from pathatlas.ui.web_ask import step_line
from tests.ui.test_web_search_image_words_and_history import opened, searched, status
from tests.ui.test_web_search_walkthrough_fixes import case_image
from tests.ui.test_web_ui_library_jobs import followed_to_the_end, library
from tests.ui.test_web_ui_library_jobs_under_way import OLD, UPLOAD, Api, bars, job, sent
from tests.ui.test_web_viewer_ask_walkthrough import fake_api, viewer_at

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

RECORD = "c1" * 12  # a record's id, as the API writes them (24 hex digits)
FACETS = {
    "fields": {
        "kind": [{"value": "case", "count": 2}],
        "organ": [{"value": "lung", "count": 1}, {"value": "colon", "count": 1}],
    },
    "by_source": {},
}
PDF = httpx.Response(200, content=b"%PDF-1.7\n\xe2\xe3\xcf\xd3 a book", headers={"Content-Type": "application/pdf"})


def search_api(monkeypatch, record: httpx.Response) -> list[str]:
    """A fake API whose GET /records/``RECORD`` answers ``record``, any other path under /records/ a book's PDF (as
    GET /records/{id}/pdf does), and any search nothing; the paths asked for are returned, as asked."""
    asked = []

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        asked.append(path)
        if path == "/facets":
            return httpx.Response(200, json=FACETS)
        if path == "/health":
            return httpx.Response(200, json={"limits": {}})
        if path == f"/records/{RECORD}":
            return record
        if path.startswith("/records/"):
            return PDF
        return httpx.Response(200, json={"hits": [], "unknown_words": []})

    monkeypatch.setattr(web_client, "fetch", fetch)
    return asked


# -- a crafted look-alike link ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("crafted", [f"{RECORD}/pdf", f"{RECORD}%2Fpdf", "../sources"])
def test_a_link_naming_no_record_id_is_refused_in_a_sentence_before_any_request(monkeypatch, crafted):
    """``?similar=<id>/pdf``, quoted, reached GET /records/{id}/pdf: its PDF read as JSON showed a traceback with the
    server's paths, the results line stuck on "Searching…"."""
    asked = search_api(monkeypatch, httpx.Response(200, json=case_image(RECORD, 1, "images/DEMO-01-1.jpg")))
    app = opened({"similar": crafted})  # ``opened`` asserts the run raised nothing
    assert status(app) == web_search_state.NOT_A_RESULT_LINK
    assert [path for path in asked if path.startswith(("/records", "/search"))] == []


@pytest.mark.parametrize(
    "answer",
    [
        PDF,
        httpx.Response(200, text="<html><body>Sign in</body></html>", headers={"Content-Type": "text/html"}),
        httpx.Response(200, json=[RECORD]),
    ],
    ids=["pdf-bytes", "a-proxys-page", "json-not-an-object"],
)
def test_a_record_answered_with_something_else_is_one_plain_sentence(monkeypatch, answer):
    search_api(monkeypatch, answer)
    app = opened({"similar": RECORD})
    assert status(app) == web_search_state.NOT_A_RECORD


def test_a_look_alike_search_without_results_asks_for_fewer_filters_not_other_words(monkeypatch):
    """It has no words to change: "try other words or fewer filters" said otherwise."""
    search_api(monkeypatch, httpx.Response(200, json=case_image(RECORD, 1, "images/DEMO-01-1.jpg")))
    app = opened({"similar": RECORD, "organ": "lung"})
    assert status(app) == "No results that look like case DEMO-01 (LSIL) in organ lung: try fewer filters."
    assert status(searched(app, "granuloma")).endswith(": try other words or fewer filters."), "a text search has"


# -- the whole book, to read on --------------------------------------------------------------------------------------
def test_the_whole_book_is_a_second_download_fetched_only_on_a_click(monkeypatch, book_pdf, pdf_downloads):
    """Only "Download page 2 as a PDF" was offered: a student reading on had nothing to turn to. The book comes
    through the UI, as the page does (a link to the service's own address is out of a browser's reach elsewhere),
    and only on a click: a book is tens of MB, and a redraw fetches nothing."""
    fetched, made = pdf_downloads
    monkeypatch.setattr(web_client, "fetch", fake_api)
    app = viewer_at(2)
    app.run()  # a redraw
    labels = [download.label for download in app.get("download_button")]
    assert labels == ["Download page 2 as a PDF", "Download the whole PDF"]
    assert fetched == [], "nothing fetched before a click"
    name, mimetype, book = made[-1]
    assert (name, mimetype, book()) == ("book.pdf", "application/pdf", book_pdf)
    assert fetched == ["/records/p2/pdf"]
    with pymupdf.open(stream=book(), filetype="pdf") as whole:
        assert whole.page_count == 3


# -- the Library's jobs when the first draw found the service away ---------------------------------------------------
def away_at_first(api: Api, answer) -> tuple[dict[str, bool], Callable[..., httpx.Response]]:
    """A switch, and ``api`` answering GET /jobs by ``answer`` (raising or returning) while the switch says ``away``."""
    switch = {"away": True}
    answered = api.__call__

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        if switch["away"] and (method, path) == ("GET", "/jobs"):
            api.asked[method, path] = api.asked.get((method, path), 0) + 1
            return answer()
        return answered(method, path, **kwargs)

    return switch, fetch


def unreachable() -> httpx.Response:
    raise web_client.Unreachable("connection refused")


@pytest.fixture
def api(monkeypatch) -> Api:
    """The Library's fake API: ``OLD`` indexed, an upload's job at 7 of 8 pages (test_web_ui_library_jobs_under_way)."""
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    return Api([OLD], [{**job("running", 7), "submitted": sent(1)}])


@pytest.mark.parametrize(
    "answer", [unreachable, lambda: httpx.Response(503, text="busy")], ids=["unreachable", "a-proxys-503"]
)
def test_jobs_unlisted_at_the_first_draw_are_asked_for_again_until_the_service_answers(api, monkeypatch, answer):
    """A service restarting as the page first drew: GET /jobs went unanswered, and its jobs were never listed, nor the
    one under way followed, for the rest of the session."""
    switch, fetch = away_at_first(api, answer)
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fetch)
    app = AppTest.from_function(library, default_timeout=30).run()
    assert bars(app.run()) == [] and api.asked["GET", "/jobs"] == 2, "asked again at the next draw"
    switch["away"] = False
    assert bars(app.run()) == [f"indexing {UPLOAD}: 7/8"]
    app.run()
    assert api.asked["GET", "/jobs"] == 3, "once answered, not asked again"


def test_an_upload_that_ends_before_the_jobs_are_listed_is_listed_once_they_are(api, monkeypatch):
    """Its end had nowhere to be kept until GET /jobs answered; it is then listed as that lists it."""
    api.jobs = []
    switch, fetch = away_at_first(api, unreachable)
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fetch)
    app = AppTest.from_function(library, default_timeout=30).run()
    app.file_uploader[0].set_value((UPLOAD, b"%PDF-1.7", "application/pdf")).run()
    next(button for button in app.button if button.label == "Index it").click().run()
    api.finish()
    followed_to_the_end(app)
    switch["away"] = False
    app.run()
    assert present.plain(f"done: {UPLOAD} (8/8 indexed)") in app.markdown[-1].value  # under the last hour's uploads


# -- one plural helper ------------------------------------------------------------------------------------------------
def test_one_helper_counts_in_words_for_every_tab():
    assert web_ask.counted is web_library.counted is web_client.counted is present.counted
    said = [present.counted(1, "result"), present.counted(3, "result"), present.counted(0, "entry", "entries")]
    assert said == ["1 result", "3 results", "0 entries"]


# -- the agent's steps in plain words ---------------------------------------------------------------------------------
def test_a_weighing_names_the_option_it_leads_and_in_what():
    """ "A leads by 0.20" said neither whom A leads nor in what."""
    weighed = {"step": "weigh", "leading": "B", "scores": [0.3, 0.5, 0.45], "margin": 0.05, "queries": []}
    assert step_line(weighed, ["A", "B", "C"]) == "Weighed the options: B leads C by 0.05 in score"


@pytest.mark.parametrize(
    ("answerer", "said"),
    [
        ("offline", "without a language model"),
        ("llm", "with a language model"),
        ("py:my.Answerer", "with the answerer py:my.Answerer"),
    ],
)
def test_the_answer_step_says_how_it_was_answered_in_a_students_words(answerer, said):
    """ "with the offline answerer" is the project's name for it."""
    step = {"step": "answer", "answerer": answerer, "answer": "B", "confidence": 0.5, "cited": ["x"]}
    assert step_line(step, []) == f"Answered B {said} (confidence 0.50), citing 1 piece of evidence"
