"""Ask and the Library as a keyboard and screen reader user walked them (task K): Ask's answer and the Library's "done"
came in live regions inserted with their text, which screen readers often leave unread, an alert on the question's
words read in place of the answer; focus stayed on Ask, past the answer, and fell to the page's body once an image was
chosen or removed, once "Index it" and Remove reran the page; and "not reachable" went unsaid in Ask while Search's
hidden line held the same sentence. In chromium over `pathatlas serve` of the demo index (conftest.py's ``page``)."""

from __future__ import annotations

import re

import pymupdf

from pathatlas.corpora.demo import draw_pattern
from pathatlas.ui.streamlit_app import ONE_VOICE
from pathatlas.ui.web_common import ASK_SAID, LIBRARY_SAID
from tests.ui.test_browser import expect, finished, needs_chromium, start_over

pytestmark = needs_chromium

KEPT = "e => { window.keptRegion = e; }"
STILL_KEPT = "e => window.keptRegion === e"
"""A live region is kept (``KEPT``) before anything is said in it, and found the same element after (``STILL_KEPT``):
one inserted with its text is what screen readers leave unread."""


def live_region(page, key: str):
    """The container ``key`` (``web_common.said_here``), checked a polite live region holding no live region of its own,
    and kept to be found the same element later (``KEPT``)."""
    region = page.locator(f".st-key-{key}")
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    region.evaluate(KEPT)
    return region


def press(control) -> None:
    """``control`` pressed as from the keyboard: focused, then Enter."""
    control.focus()
    control.page.keyboard.press("Enter")


def test_asks_answer_is_read_from_a_region_there_before_and_takes_focus(page):
    start_over(page)
    page.get_by_role("tab", name="Ask").click()
    page.get_by_label("Question").fill("Which cells show a clear perinuclear halo in cervical epithelium?")
    page.get_by_label("Options, one per line").fill("A. Koilocytes\nB. Langhans giant cells\nC. Keratin pearlz")
    region = live_region(page, ASK_SAID)
    expect(region).to_have_text("")
    press(page.get_by_role("button", name="Ask", exact=True))
    expect(region).to_contain_text(re.compile(r"(Answer|Best supported): A\. Koilocytes"), timeout=120_000)
    assert region.evaluate(STILL_KEPT), "the answer was said in a region inserted with it"
    snapshot = region.aria_snapshot()  # the word note, then the answer: notes in one region, no alert before it
    assert re.match(r"- status:\n  - note:\n    - paragraph: No indexed text has 'pearlz'", snapshot), snapshot
    assert re.search(r"  - note:\n    - paragraph: \"?(Answer|.*Best supported): A\. Koilocytes", snapshot), snapshot
    expect(region.locator("[role=alert],[role=status]")).to_have_count(0)
    expect(region).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Open quote 1 for A", exact=True)).to_be_focused()


def test_choosing_or_removing_asks_image_leaves_focus_on_its_uploader(page, tmp_path):
    start_over(page)
    page.get_by_role("tab", name="Ask").click()
    uploader = page.locator(".st-key-ask-image")
    upload = uploader.get_by_role("button", name=re.compile(r"^Upload: Image"))
    slide = tmp_path / "slide.png"
    draw_pattern("granuloma", 3).save(slide)
    upload.focus()
    uploader.locator("input[type=file]").set_input_files(str(slide))  # as the file chooser Enter opened
    remove = uploader.get_by_role("button", name="Remove slide.png")
    expect(remove).to_be_focused()
    page.keyboard.press("Enter")
    expect(upload).to_be_focused()


def test_index_it_and_remove_leave_focus_on_the_sources_heading_and_their_end_is_read(page, tmp_path):
    pdf = tmp_path / "keyboard-notes.pdf"
    with pymupdf.open() as doc:
        doc.new_page().insert_text((72, 72), "Keyboard notes: squamous metaplasia of the bronchus.")
        doc.save(pdf)
    start_over(page)
    page.get_by_role("tab", name="Library").click()
    region = live_region(page, LIBRARY_SAID)
    heading = page.get_by_role("heading", name="Indexed sources", level=2)
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="Add a PDF")
    uploader.get_by_role("button", name=re.compile(r"^Upload: Add")).focus()
    uploader.locator("input[type=file]").set_input_files(str(pdf))
    expect(uploader.get_by_role("button", name="Remove keyboard-notes.pdf")).to_be_focused()
    press(page.get_by_role("button", name="Index it"))
    expect(heading).to_be_focused()
    expect(region).to_contain_text("done: keyboard-notes.pdf (1/1 indexed)", timeout=240_000)
    assert region.evaluate(STILL_KEPT), "the job's end was said in a region inserted with it"
    expect(region.locator("[role=alert],[role=status]")).to_have_count(0)
    expect(heading).to_be_focused()  # the job's bar went, focus did not go with it
    page.get_by_label("Remove a source").click()
    page.get_by_role("option", name="keyboard-notes.pdf").click()
    finished(page)
    page.get_by_text(re.compile(r"^Yes, remove keyboard-notes\.pdf")).click()
    expect(page.get_by_role("button", name="Remove", exact=True).last).to_be_enabled()  # as test_browser's removal
    press(page.get_by_role("button", name="Remove", exact=True).last)
    expect(region).to_have_text(re.compile(r"^removed keyboard-notes\.pdf: \d+ entries$"))
    assert region.evaluate(STILL_KEPT)
    expect(heading).to_be_focused()


SENTENCE = "The PathAtlas service at http://127.0.0.1:9 is not reachable; start it with 'pathatlas serve' or try again."
ALERT = f"<div data-testid='stAlertContainer' role='alert'>{SENTENCE}</div>"


def test_a_hidden_tabs_line_does_not_mute_the_alert_of_the_tab_shown(page):
    """The app's ``ONE_VOICE`` on a page drawn as the app draws it (in a tab of ``page``'s browser: Playwright runs one
    at a time): an alert repeating Search's line on show is quieted; once Search is hidden under Ask, the alert drawn
    again is an alert, and so is the one quieted before."""
    drawn = page.context.browser.new_page()
    search = f"<div id='search'><p class='results-status' role='status' aria-live='polite'>{SENTENCE}</p></div>"
    drawn.set_content(f"<div id='notice'>{ALERT}</div>{search}{ONE_VOICE}")
    quieted = drawn.locator("#notice [data-testid=stAlertContainer]")
    expect(quieted).to_have_attribute("role", "note")
    hide_search_and_redraw = "alert => { document.getElementById('search').style.display = 'none';"
    hide_search_and_redraw += " document.getElementById('notice').insertAdjacentHTML('beforeend', alert); }"
    drawn.evaluate(hide_search_and_redraw, ALERT)  # Ask shown: Search's tab hidden, the notice drawn again
    expect(drawn.locator("[role=alert]", has_text=SENTENCE)).to_have_count(2)
    drawn.close()
