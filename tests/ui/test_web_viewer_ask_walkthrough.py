"""The viewer and the Ask tab as a student walked them over the demo corpus (session 48, ``pathatlas ui --api``): Find
similar on a case quoted in Ask replaced the Search tab's results unseen while Ask showed nothing new; "Next page ▶"
on a book's last page answered "page 3 is not in the index"; the PDF button linked to the API's own address, out of
reach of a browser elsewhere; and "Agent steps" printed Python ("image: False", "cited: ['bd0b...']"). The app's
drawing in Streamlit's AppTest over a fake API (``fetch``), as in test_web_ui_stale_thumbnails_and_similar."""

from __future__ import annotations

import html
import io
import re

import httpx
import pymupdf
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from pathatlas.ui import streamlit_app, web_client, web_common, web_library, web_search_state
from pathatlas.ui.web_ask import step_line
from tests.ui.test_web_search_image_words_and_history import hit, status
from tests.ui.test_web_ui_library_and_search_lines import unescaped

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

BOOK, CASES = "b00c", "ca5e"  # source ids: a book of 3 pages, a case folder
FACETS = {
    "fields": {"kind": [{"value": "page", "count": 3}, {"value": "case", "count": 2}]},
    "by_source": {BOOK: {"page": 3, "passage": 7}, CASES: {"case": 2}},
}
CASE_CITATION = {
    "source": "cases",
    "source_id": CASES,
    "book": None,
    "label": "cases, case DEMO-02, images/DEMO-02-2.jpg",
    "page": None,
    "figure": None,
    "bbox": None,
    "case": "DEMO-02",
    "image": "images/DEMO-02-2.jpg",
}
CASE = {
    **hit("c2", 1),
    "kind": "case",
    "citation": CASE_CITATION,
    "has_image": True,
    "snippet": "Caseating granuloma with Langhans giant cells.",
}
TRACE = [
    {"step": "plan", "queries": [{"id": "q", "purpose": "question", "text": "granuloma Tuberculosis Sarcoidosis"}]},
    {
        "step": "search",
        "round": 1,
        "query": "q",
        "purpose": "question",
        "text": "acid-fast bacilli granuloma",
        "image": False,
        "hits": [{"id": f"h{n}", "kind": "page", "citation": "book.pdf, p. 2"} for n in range(8)],
    },
    {"step": "support", "queries": ["granuloma", "tuberculosis", ""], "passages": [7, 1, 0]},
    {"step": "weigh", "round": 1, "scores": [0.6, 0.4], "leading": "A", "margin": 0.2, "stop": None, "queries": ["x"]},
    {"step": "answer", "answerer": "offline", "answer": "A", "confidence": 0.81, "cited": ["bd0b637b", "c2"]},
]
ANSWER = {
    "question": "Which diagnosis fits?",
    "choice": 0,
    "answer": "Tuberculosis",
    "confidence": 0.81,
    "settled": True,
    "tied": [],
    "rationale": "A. Tuberculosis.",
    "options": [
        {
            "label": "A",
            "text": "Tuberculosis",
            "score": 0.6,
            "evidence": [
                {
                    "quote": "Caseating granuloma with Langhans giant cells.",
                    "stance": "supports",
                    "about": None,
                    "citation": {**CASE_CITATION, "evidence": "c2", "record": "c2"},
                }
            ],
        },
        {"label": "B", "text": "Sarcoidosis", "score": 0.4, "evidence": []},
    ],
    "citations": [],
    "trace": TRACE,
    "unknown_words": [],
}


def jpeg() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(picture, "JPEG")
    return picture.getvalue()


def fake_api(method: str, path: str, **kwargs) -> httpx.Response:
    """A library of a book's pages and a case of two images: any search finds a page, Find similar the case, and a
    question is answered by ``ANSWER``, its quote the case."""
    answers = {
        ("GET", "/facets"): FACETS,
        ("GET", "/health"): {"limits": {}},
        ("GET", "/sources"): [],
        ("GET", "/jobs"): [],
        ("GET", "/records/c2"): CASE,
        ("POST", "/search"): {"hits": [hit("p1", 1)], "unknown_words": []},
        ("POST", "/search/similar"): {"hits": [CASE], "unknown_words": []},
        ("POST", "/ask"): ANSWER,
    }
    if (method, path) in answers:
        return httpx.Response(200, json=answers[method, path])
    if path == "/cases/c2":
        images = [{"id": "c2", "url": "/media/case-images/c2", "labels": {}}]
        return httpx.Response(200, json={"case": "DEMO-02", "diagnosis": "tuberculosis", "images": images})
    if method == "HEAD" and path.endswith("/pdf"):  # the page's book is still there
        return httpx.Response(200)
    if path.startswith("/media/"):
        return httpx.Response(200, content=jpeg(), headers={"content-type": "image/jpeg"})
    return httpx.Response(404, json={"detail": "Not Found"})  # /openapi.json: served at /


@pytest.fixture
def api(monkeypatch) -> None:
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fake_api)


def whole_app() -> None:
    """The app's page, every tab drawn, as Streamlit runs it."""
    from pathatlas.ui.streamlit_app import main

    main()


def ran(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def click(app: AppTest, label: str) -> AppTest:
    next(button for button in app.button if unescaped(button.label) == label).click()
    return ran(app)


def asked_in_ask(app: AppTest) -> AppTest:
    """A search for "granuloma", then the Ask tab chosen and a question asked there."""
    app.text_input(key="search-text").input("granuloma")
    click(app, "Search")
    app.session_state["tab"] = "Ask"  # as a click on the tab tells it
    ran(app)
    app.text_area[0].input("Which diagnosis fits?")
    app.text_area[1].input("Tuberculosis\nSarcoidosis")
    return click(app, "Ask")


def open_tab(app: AppTest) -> int:
    """The index of the tab the browser is told to show."""
    (tabs,) = [block for block in app._tree if getattr(block, "type", None) == "tab_container"]
    return tabs.proto.tab_container.default_tab_index


@pytest.mark.parametrize("bound", [True, False], ids=["tab-in-url-by-streamlit", "tab-in-url-by-the-app"])
def test_find_similar_on_a_case_quoted_in_ask_opens_the_search_tab_with_its_results(api, monkeypatch, bound):
    """Ask stayed shown, unchanged, and the URL dropped its tab: the student never saw the look-alike results. The app
    opens the Search tab showing them (before Streamlit bound the tab to the URL, the URL names it, as none)."""
    for module in (web_common, web_search_state, streamlit_app):
        monkeypatch.setattr(module, "TAB_BOUND", bound and web_common.TAB_BOUND)
    app = asked_in_ask(ran(AppTest.from_function(whole_app, default_timeout=60)))
    assert status(app) == "1 result for “granuloma”" and open_tab(app) == 1
    click(app, "Open quote 1 for A")
    click(app, "Find similar to case DEMO-02")
    assert app.session_state["tab"] == "Search" and open_tab(app) == 0
    assert re.fullmatch(r"1 result that look like .*case DEMO-02.*", status(app)), status(app)
    assert "tab" not in app.query_params, "the URL names the tab shown: Search, the first, as none"


def test_agent_steps_are_lines_a_student_reads_not_python(api):
    app = asked_in_ask(ran(AppTest.from_function(whole_app, default_timeout=60)))
    (steps,) = [expander for expander in app.expander if expander.label == "Agent steps"]
    (said,) = [unescaped(markdown.value) for markdown in steps.markdown]
    assert said.split("\n") == [
        "- Planned 1 search",
        "- Searched: 'acid-fast bacilli granuloma' (8 hits)",
        "- Counted the passages holding the question's words (7) and each option's (A 1, B 0)",
        "- Weighed the options: A leads B by 0.20 in score; searching again for what tells the two leading options "
        "apart",
        "- Answered A without a language model (confidence 0.81), citing 2 pieces of evidence",
    ]


def test_a_search_by_the_image_or_in_a_later_round_says_so():
    searched = {"step": "search", "round": 1, "text": None, "image": True, "hits": [{}]}
    assert step_line(searched, []) == "Searched by the image (1 hit)"
    assert step_line({**searched, "text": "granuloma"}, []) == "Searched by the image and 'granuloma' (1 hit)"
    assert step_line({**searched, "round": 2, "image": False, "text": "x"}, []) == "Searched again: 'x' (1 hit)"
    assert step_line({"step": "weigh", "leading": None, "queries": []}, []) == "Weighed the options: none leads"
    assert step_line({"step": "rerank"}, []) == "rerank", "a plug-in's step, by its name"


# -- the page viewer: its last page, its PDF -------------------------------------------------------------------------
def page_viewer(page: int) -> None:
    from pathatlas.ui import web_viewer

    citation = {"source_id": "b00c", "source": "book.pdf", "page": page, "label": f"book.pdf, p. {page}"}
    shown = {"id": f"p{page}", "kind": "page", "page_url": f"/media/pages/p{page}", "citation": citation}
    web_viewer.viewer(shown, "s")


def viewer_at(page: int) -> AppTest:
    return ran(AppTest.from_function(page_viewer, args=(page,), default_timeout=60))


def next_page(app: AppTest):
    return next(button for button in app.button if button.label == "Next page")


@pytest.mark.parametrize(("page", "last"), [(1, False), (3, True)])
def test_next_page_is_off_on_the_last_page_indexed_as_previous_is_on_the_first(api, page, last):
    assert next_page(viewer_at(page)).disabled is last


def test_next_page_stays_on_while_the_page_count_is_unknown_and_a_missing_page_is_said_until_closed(monkeypatch):
    """The facets refused (the API busy): the count is unknown, and a page the API does not have (``fake_api``'s 404)
    is said in a toast a slow reader closes (WCAG 2.2.1), as test_browser checked before Next page was off on the last
    page."""

    def busy_facets(method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.Response(503, json={"detail": "busy"}) if path == "/facets" else fake_api(method, path)

    monkeypatch.setattr(web_client, "fetch", busy_facets)
    app = viewer_at(3)
    next_page(app).click()
    ran(app)
    assert [html.unescape(toast.value) for toast in app.toast] == ["page 4 is not in the index"]
    assert app.toast[0].proto.duration == 0, "kept until closed: Streamlit's 'infinite'"


def test_with_a_service_the_pdf_is_fetched_by_the_ui_not_at_the_service_s_address(api, monkeypatch, pdf_downloads):
    """``pathatlas ui --host 0.0.0.0 --api http://127.0.0.1:8000``: "Open the PDF at page 2" linked to
    http://127.0.0.1:8000/records/.../pdf#page=2, which a student's browser cannot reach. The UI fetches the book and
    offers that page, as it does in process."""
    monkeypatch.setenv("PATHATLAS_API_URL", "http://127.0.0.1:8000")
    fetched, made = pdf_downloads
    app = viewer_at(2)
    assert not app.get("link_button"), "no link to the service's own address"
    assert [download.label for download in app.get("download_button")][0] == "Download page 2 as a PDF"
    (name, _, data), _ = made  # the whole book's download: test_web_ui_review_fixes
    with pymupdf.open(stream=data(), filetype="pdf") as page:
        assert name == "book-p2.pdf" and [p.get_text().strip() for p in page] == ["Page 2 of the book."]
    assert fetched == ["/records/p2/pdf"]
