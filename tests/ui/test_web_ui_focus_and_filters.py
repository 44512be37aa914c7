"""The web UI's search as a keyboard and screen-reader user met it (an accessibility tester's findings): a filter picked
after a search left the unfiltered results and their line; Find similar and Show more left focus behind; a case's
images showed shrunk in Fullscreen and were read twice; a case without a diagnosis was named twice; the count named
hits while cards group a case's images; every tab was "PathAtlas". The browser tests drive conftest.py's ``page`` over
an app of their own (a copy of the demo index and a case folder like the atlas's); the words are pure helpers."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.corpora.demo import draw_pattern
from pathatlas.ui.present import (
    case_about,
    full_size_name,
    group_cases,
    grouped_images,
    image_alt,
    results_status,
    tab_title,
)
from tests.ui.test_browser import expect, finished, needs_chromium, open_menu, search, start_over

browser = needs_chromium
FULL_WIDTH = 960  # the atlas-like case's image on disk; the viewer shows it 320 pixels wide


@pytest.fixture(scope="module")
def ui_sources(tmp_path_factory) -> list[Path]:
    """Added to the demo index this module's web UI serves (``ui_url``): a case folder whose one image has no case id
    nor diagnosis, titled by its name (as the atlas's GBD3)."""
    folder = tmp_path_factory.mktemp("focus-filters") / "atlas"
    (folder / "images").mkdir(parents=True)
    draw_pattern("glands", 31).resize((FULL_WIDTH, 720)).save(folder / "images" / "GBD3.jpg")
    row = {"image": "images/GBD3.jpg", "title": "GBD3", "organ": "gallbladder"}
    (folder / "cases.jsonl").write_text(json.dumps(row) + "\n")
    return [folder]


def status(tab):
    return tab.locator(".results-status[role=status]")


def counted(tab) -> int:
    """The number of results the live region announces, once it equals the cards drawn (it counts cards)."""
    finished(tab)
    shown = int(re.match(r"\d+", status(tab).inner_text()).group())
    expect(tab.locator("[class*=st-key-card-] h2")).to_have_count(shown)
    return shown


@browser
def test_a_filter_picked_or_removed_searches_again_and_the_line_names_it(page):
    """Picking organ=colon after a search left "12 results for “carcinoma”", the unfiltered cards and a URL without
    the filter until Search was pressed again; the count named 12 hits over fewer cards."""
    start_over(page)
    search(page, "carcinoma")
    expect(status(page)).to_have_text(re.compile(r"^\d+ results \(\d+ cases with \d+ images\) for “carcinoma”$"))
    counted(page)
    open_menu(page, "organ", r"^colon \(\d+\)").click()
    page.keyboard.press("Escape")
    expect(status(page)).to_have_text(re.compile(r"for “carcinoma” in organ colon$"))
    expect(page).to_have_url(re.compile(r"\?q=carcinoma&organ=colon$"))
    cards = page.locator("[class*=st-key-card-]")
    expect(cards.filter(has_not_text="colon")).to_have_count(0)
    assert counted(page) >= 1
    page.locator(".st-key-filter-organ input").focus()
    page.keyboard.press("Backspace")  # the filter removed by keyboard
    expect(status(page)).to_have_text(re.compile(r"^\d+ results .*for “carcinoma”$"))
    expect(page).to_have_url(re.compile(r"\?q=carcinoma$"))
    expect(cards.filter(has_text="lung").first).to_be_visible()


@browser
def test_a_filter_picked_after_an_image_search_searches_that_image_again(page, tmp_path):
    start_over(page)
    page.get_by_text("Search by image").click()
    image = tmp_path / "slide.png"
    draw_pattern("glands", 99).save(image)
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="like this image")
    uploader.locator("input[type=file]").set_input_files(str(image))
    expect(status(page)).to_have_text(re.compile(r" like slide\.png$"), timeout=120_000)
    open_menu(page, "organ", r"^lung \(\d+\)").click()
    page.keyboard.press("Escape")
    expect(status(page)).to_have_text(re.compile(r" like slide\.png in organ lung$"))
    cards = page.locator("[class*=st-key-card-]")
    expect(cards.first).to_contain_text("lung")
    expect(cards.filter(has_not_text="lung")).to_have_count(0)


@browser
def test_show_more_and_find_similar_take_focus_to_the_new_results(page):
    """Show more left focus on its button, now below the new cards; Find similar dropped it to the page's body."""
    start_over(page)
    search(page, "cells")
    expect(status(page)).to_have_text(re.compile(r"for “cells”$"))
    shown = counted(page)
    page.get_by_role("button", name="Show more").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f".st-key-card-{shown} h2")).to_be_focused()  # the first new card's heading
    assert counted(page) > shown
    similar = page.locator(".st-key-card-0").get_by_role("button", name=re.compile(r"^Find similar to "))
    similar.focus()
    page.keyboard.press("Enter")
    expect(status(page)).to_have_text(re.compile(r" that look like "))
    expect(page.locator(".st-key-card-0 h2")).to_be_focused()


@browser
def test_case_images_are_named_once_and_link_to_their_full_size(page):
    """A card and its thumbnail read "Case GBD3 · GBD3"; a thumbnail's Fullscreen showed it at 150 pixels and a case
    image's at 320, and the case viewer captioned each image with its text alternative (read twice)."""
    start_over(page)
    search(page, "GBD3")
    card = page.locator("[class*=st-key-card-]", has_text="GBD3").first
    expect(card.locator("h2")).to_contain_text("GBD3")
    finished(page)
    assert card.locator("h2").inner_text().count("GBD3") == 1, card.locator("h2").inner_text()
    thumbnail = card.locator("[data-testid=stImage] img").first
    assert thumbnail.get_attribute("alt") == "Case GBD3: gallbladder"
    expect(page).to_have_title("GBD3 – Search – PathAtlas")
    expect(page.locator("[class*=st-key-card-]").get_by_role("button", name=re.compile("Fullscreen"))).to_have_count(0)
    card.get_by_role("button", name="Open case GBD3").click()
    viewer = page.locator(".st-key-selected-viewer")
    link = viewer.get_by_role("link", name="Open image 1 of case GBD3 at full size")
    expect(link).to_be_visible()
    finished(page)
    shown = viewer.locator("[data-testid=stImage] img")
    # drawn, the image may still be on its way: its width is read once the browser has it
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shown.element_handle())
    assert shown.evaluate("img => img.naturalWidth") == 320
    assert shown.get_attribute("alt") == "Case GBD3: gallbladder"
    expect(viewer.locator("[data-testid=stImageCaption]")).to_have_count(0)
    expect(viewer.get_by_role("button", name=re.compile("Fullscreen"))).to_have_count(0)
    full = page.request.get(link.evaluate("a => a.href"))
    assert full.ok and full.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(full.body())).width == FULL_WIDTH
    page.get_by_role("tab", name="Ask").click()
    expect(page).to_have_title("Ask – PathAtlas")


def hit(case: str, diagnosis: str | None, title: str, organ: str | None = None, rank: int = 1) -> dict:
    citation = {"source": "atlas", "case": case, "label": f"atlas, case {case}"}
    return {"kind": "case", "rank": rank, "citation": citation, "diagnosis": diagnosis, "organ": organ,
            "payload": {"title": title}}  # fmt: skip


def test_a_case_titled_by_its_id_is_named_once():
    assert case_about("GBD3", None, "GBD3") == ""
    assert case_about("GBD3", None, " gbd3") == "", "case and spacing aside"
    assert case_about("C-05", None, "Cholecystitis") == "Cholecystitis"
    assert case_about("C-05", "cholecystitis", "C-05") == "cholecystitis"
    assert image_alt(hit("GBD3", None, "GBD3", "gallbladder")) == "Case GBD3: gallbladder"
    assert image_alt(hit("GBD3", None, "GBD3")) == "Case GBD3"


def test_the_results_line_counts_cards_and_says_the_images_they_group():
    page_hit = {"kind": "page", "rank": 1, "citation": {"source": "book.pdf", "page": 3}}
    hits = [hit("A", "x", "", rank=2), hit("A", "x", "", rank=3), page_hit, hit("B", "y", "", rank=4)]
    cards = group_cases(hits)
    assert grouped_images(cards) == "2 cases with 3 images"
    assert results_status(len(cards), "for “x” in organ colon", grouped_images(cards)) == (
        "3 results (2 cases with 3 images) for “x” in organ colon"
    )
    assert grouped_images(group_cases([page_hit, hit("B", "y", "")])) == "", "a card a hit: the count says it all"
    assert grouped_images(group_cases(hits[:2])) == "1 case with 2 images"


def test_the_tab_title_names_the_query_and_the_view():
    assert tab_title("Search", "carcinoma") == "carcinoma – Search – PathAtlas"
    assert tab_title("Ask") == "Ask – PathAtlas"
    assert tab_title(None) == "PathAtlas"
    assert len(tab_title("Search", "word " * 40)) < 80
    assert full_size_name({"case": "GBD3"}, 1) == "Open image 1 of case GBD3 at full size"
