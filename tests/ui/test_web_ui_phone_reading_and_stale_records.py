"""The web UI on a phone and on a record gone since it was found (a tester's findings). At 390x844 with an iPhone's
User-Agent the viewer's page strip was shrunk to the phone's width (its text some 5 px), a result's page thumbnail
filled much of the first screen, and the Library's table was cut at "ent…"; a laptop's layout stays as it was. A case
removed since the search read "no such record" in its viewer, and Find similar beside a record gone replaced the
results with that refusal.

The browser tests drive chromium over ``pathatlas serve`` of the quick demo index (conftest.py's ``ui_url``); the
others draw the viewer through AppTest with the API's answers made up (as test_web_ui_uploads_and_pdf_button.py)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client
from pathatlas.ui.streamlit_app import PHONE_THUMBNAIL_PX
from pathatlas.ui.web_viewer import PAGE_GONE
from tests.helpers import hashing_env
from tests.ui.devices import IPHONE, LAPTOP

LIBRARY_COLUMNS = ["source", "type", "pages", "figures", "cases", "case images", "entries", "problems"]
STRIP = ".st-key-selected-viewer [data-testid=stImage]"
"""The frame of the viewer's first picture: the strip of the page around the passage outlined."""


@pytest.fixture(scope="module")
def ui_index(quick_index, tmp_path_factory) -> Iterator[Path]:
    """A copy of the quick demo index for the web UI (``ui_url``), its servers started quick (``hashing_env``)."""
    index = tmp_path_factory.mktemp("phone") / "index"
    shutil.copytree(quick_index.path, index)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in hashing_env(quick_index.settings.home).items():
            patch.setenv(name, value)
        yield index


def searched(chromium, ui_url: str, device: dict):
    """A tab of ``device``'s size showing the search for the primer's koilocytes, its run ended."""
    from tests.ui.test_browser import expect, finished

    page = chromium.new_context(**device).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{ui_url}/?q=koilocytes+perinuclear+halo")
    expect(page.locator(".results-status[role=status]")).to_have_text(re.compile(r"^\d+ results"))
    finished(page)
    return page


def opened_strip(page) -> dict[str, float]:
    """The first page result opened in the viewer: its strip's drawn width, its picture's own width, and its frame's
    width and scrolled width."""
    from tests.ui.test_browser import expect, finished

    page.get_by_role("button", name=re.compile(r"^Open p\. \d+")).first.click()
    strip = page.locator(STRIP).first
    expect(strip.locator("img")).to_have_js_property("complete", True)
    finished(page)
    return strip.evaluate(
        "frame => { const img = frame.querySelector('img'); return {drawn: img.getBoundingClientRect().width,"
        " own: img.naturalWidth, frame: frame.clientWidth, scrolled: frame.scrollWidth}; }"
    )


def library_table(page) -> dict:
    """The Library tab's table: its width, the width of the frame it is drawn in, and the column names shown."""
    from tests.ui.test_browser import finished

    page.get_by_role("tab", name="Library").click()
    table = page.locator("[data-testid=stTable] table")
    table.wait_for()
    finished(page)
    return table.evaluate(
        "table => ({width: table.getBoundingClientRect().width, frame: table.parentElement.clientWidth,"
        " shown: [...table.querySelectorAll('th')].filter(th => th.offsetWidth).map(th => th.textContent.trim())})"
    )


def page_width_overflow(page) -> float:
    return page.evaluate("() => document.scrollingElement.scrollWidth - innerWidth")


def test_on_a_phone_the_page_is_read_at_its_size_thumbnails_stay_short_and_the_library_fits(chromium, ui_url):
    """The strip is drawn at the size it was rendered for reading (a book's text some 15 px), scrolled sideways in
    its own frame, never the page's; a thumbnail is ``PHONE_THUMBNAIL_PX`` high at most; the Library's table fits the
    screen, without its entries column."""
    from tests.ui.test_browser import expect

    page = searched(chromium, ui_url, IPHONE)
    thumbnail = page.locator("[class*=st-key-card-] [data-testid=stImage] img").first
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.bounding_box()["height"] <= PHONE_THUMBNAIL_PX + 0.5, thumbnail.bounding_box()
    strip = opened_strip(page)
    assert strip["drawn"] >= strip["own"] - 1 > IPHONE["viewport"]["width"], strip  # shrunk 0.35: text 5 px high
    assert strip["scrolled"] > strip["frame"], strip  # the rest of its lines a swipe away, in its frame
    assert page_width_overflow(page) <= 0
    table = library_table(page)
    assert table["width"] <= table["frame"], table  # cut at "ent…", the rest a sideways scroll away
    assert table["shown"] == [name for name in LIBRARY_COLUMNS if name != "entries"], table
    assert page_width_overflow(page) <= 0


def test_on_a_laptop_the_strip_fills_the_viewer_and_the_library_shows_every_column(chromium, ui_url):
    """Wider than a phone the layout stays as it was: the strip as wide as the viewer, the Library's every column."""
    page = searched(chromium, ui_url, LAPTOP)
    strip = opened_strip(page)
    assert strip["frame"] == strip["scrolled"] and abs(strip["drawn"] - strip["frame"]) < 1, strip  # as wide as it
    assert strip["drawn"] < strip["own"], strip
    table = library_table(page)
    assert table["shown"] == LIBRARY_COLUMNS and table["width"] <= table["frame"], table


CASE_HIT = {
    "id": "c1",
    "kind": "case",
    "has_image": True,
    "citation": {"source_id": "s1", "source": "cases", "label": "cases, case DEMO-05", "case": "DEMO-05"},
}
FIGURE_HIT = {
    "id": "f1",
    "kind": "figure",
    "has_image": True,
    "page_url": "/media/pages/f1",
    "citation": {"source_id": "s2", "source": "book.pdf", "label": "book.pdf, p. 2, Figure 2.1", "page": 2},
}


def viewer(hit: dict) -> None:
    from pathatlas.ui import web_viewer

    web_viewer.viewer(hit, "selected")


@pytest.mark.parametrize(
    ("hit", "said"),
    [(CASE_HIT, f"Case DEMO-05 {PAGE_GONE[404]}"), (FIGURE_HIT, f"Page 2 of book.pdf {PAGE_GONE[404]}")],
    ids=["case", "figure"],
)
def test_a_record_removed_since_the_search_is_one_sentence_and_offers_no_find_similar(monkeypatch, hit, said):
    """The API answers 404 for a record removed since it was found (its case details, its page's PDF): the viewer
    says so in one sentence (a case's read "no such record", the request under Details) and draws no Find similar,
    which had replaced the results with "no such record"."""

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.Response(404, json={"detail": "no such record"})

    monkeypatch.setattr(web_client, "fetch", fetch)
    app = AppTest.from_function(viewer, args=(hit,), default_timeout=60).run()
    assert not app.exception, app.exception
    assert [error.value for error in app.error] == [present.plain(said)]
    assert not app.expander, [expander.label for expander in app.expander]
    assert not [button.label for button in app.button if "similar" in button.label], "no Find similar"
