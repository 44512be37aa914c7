"""Ask and the Library as a keyboard and screen reader user walked them (task K): Ask's answer and the Library's "done"
came in live regions inserted with their text, which screen readers often leave unread, an alert on the question's
words read in place of the answer; focus stayed on Ask, past the answer, and fell to the page's body once an image was
chosen or removed, once "Index it" and Remove reran the page; and "not reachable" went unsaid in Ask while Search's
hidden line held the same sentence. Then as a reviewer found the fixes (task UI2): focus on Ask's unnamed live region,
on the sources' heading a long Library's height away from the line saying the job's end, and that line drawn in the
hidden Library of a job ending under another tab, gone at the next run. In chromium over `pathatlas serve` of the demo
index (conftest.py's ``page``), and the tabs alone in Streamlit's AppTest over a fake API (``fetch``)."""

from __future__ import annotations

import re

import pymupdf
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.corpora.demo import draw_pattern
from pathatlas.ui import web_client, web_library
from pathatlas.ui.streamlit_app import ONE_VOICE
from pathatlas.ui.web_common import ASK_SAID, LIBRARY_SAID
from tests.ui.test_browser import expect, finished, needs_chromium, start_over
from tests.ui.test_web_ui_library_and_search_lines import unescaped
from tests.ui.test_web_ui_library_jobs import followed_to_the_end, json_answer
from tests.ui.test_web_ui_library_jobs_under_way import NEW, OLD, UPLOAD, Api, job, sent
from tests.ui.test_web_viewer_ask_walkthrough import fake_api, ran

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


@needs_chromium
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
    expect(page.get_by_role("heading", name="Answer", level=2)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Open quote 1 for A", exact=True)).to_be_focused()


@needs_chromium
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


@needs_chromium
def test_index_it_and_remove_leave_focus_where_they_were_and_their_end_is_read(page, tmp_path):
    pdf = tmp_path / "keyboard-notes.pdf"
    with pymupdf.open() as doc:
        doc.new_page().insert_text((72, 72), "Keyboard notes: squamous metaplasia of the bronchus.")
        doc.save(pdf)
    start_over(page)
    page.get_by_role("tab", name="Library").click()
    region = live_region(page, LIBRARY_SAID)
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="Add a PDF")
    uploader.get_by_role("button", name=re.compile(r"^Upload: Add")).focus()
    uploader.locator("input[type=file]").set_input_files(str(pdf))
    expect(uploader.get_by_role("button", name="Remove keyboard-notes.pdf")).to_be_focused()
    press(page.get_by_role("button", name="Index it"))
    upload = uploader.get_by_role("button", name=re.compile(r"^Upload: Add"))  # the new uploader's, below the bar
    expect(upload).to_be_focused()
    expect(region).to_contain_text("done: keyboard-notes.pdf (1/1 indexed)", timeout=240_000)
    assert region.evaluate(STILL_KEPT), "the job's end was said in a region inserted with it"
    expect(region.locator("[role=alert],[role=status]")).to_have_count(0)
    expect(upload).to_be_focused()  # the job's bar went, focus did not go with it
    page.get_by_label("Remove a source").click()
    page.get_by_role("option", name="keyboard-notes.pdf").click()
    finished(page)
    page.get_by_text(re.compile(r"^Yes, remove keyboard-notes\.pdf")).click()
    expect(page.get_by_role("button", name="Remove", exact=True).last).to_be_enabled()  # as test_browser's removal
    press(page.get_by_role("button", name="Remove", exact=True).last)
    expect(region).to_have_text(re.compile(r"^removed keyboard-notes\.pdf: \d+ entries$"))
    assert region.evaluate(STILL_KEPT)
    expect(page.get_by_role("combobox", name=re.compile("Remove a source"))).to_be_focused()


SENTENCE = "The PathAtlas service at http://127.0.0.1:9 is not reachable; start it with 'pathatlas serve' or try again."
ALERT = f"<div data-testid='stAlertContainer' role='alert'>{SENTENCE}</div>"


@needs_chromium
def test_a_hidden_tabs_line_does_not_mute_the_alert_of_the_tab_shown(page):
    """The app's ``ONE_VOICE`` on a page drawn as the app draws it (in a tab of ``page``'s browser: Playwright runs one
    at a time): an alert repeating Search's line on show is quieted; once Search is hidden under Ask, the alert drawn
    again is an alert, and so is the one quieted before. Ask's region (``said_here``) is made a live region by the same
    observer (two observers rewrote alerts' roles, each by its own rule), and an alert in it stays a note throughout."""
    drawn = page.context.browser.new_page()
    search = f"<div id='search'><p class='results-status' role='status' aria-live='polite'>{SENTENCE}</p></div>"
    said = f"<div class='st-key-{ASK_SAID}'>{ALERT}</div>"
    drawn.set_content(f"<div id='notice'>{ALERT}</div>{search}{said}{ONE_VOICE}")
    quieted = drawn.locator("#notice [data-testid=stAlertContainer]")
    expect(quieted).to_have_attribute("role", "note")
    region = drawn.locator(f".st-key-{ASK_SAID}")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region.locator("[data-testid=stAlertContainer]")).to_have_attribute("role", "note")
    hide_search_and_redraw = "alert => { document.getElementById('search').style.display = 'none';"
    hide_search_and_redraw += " document.getElementById('notice').insertAdjacentHTML('beforeend', alert); }"
    drawn.evaluate(hide_search_and_redraw, ALERT)  # Ask shown: Search's tab hidden, the notice drawn again
    expect(drawn.locator("[role=alert]", has_text=SENTENCE)).to_have_count(2)
    expect(region.locator("[data-testid=stAlertContainer]")).to_have_attribute("role", "note")
    drawn.close()


# -- the tabs alone, over a fake API ---------------------------------------------------------------------------------
class Removing(Api):
    """``Api``, which also removes a source (DELETE /sources/<id>)."""

    def __call__(self, method: str, path: str, **kwargs):
        if method != "DELETE":
            return super().__call__(method, path, **kwargs)
        self.sources = [source for source in self.sources if path != f"/sources/{source['id']}"]
        return json_answer(200, {"removed": 14})


@pytest.fixture
def library_api(monkeypatch, fresh_cache) -> Removing:  # conftest.py
    """The fake API, with ``OLD`` and ``NEW`` indexed and no job under way."""
    fake = Removing([OLD, NEW], [])
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fake)
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    return fake


def library_under(tab: str) -> None:
    """The Library tab's drawing, with ``tab`` the tab shown (``st.session_state.tab``, as the app's tabs keep it)."""
    import streamlit as st

    from pathatlas.ui import web_library

    st.session_state.setdefault("tab", tab)
    web_library.library_tab()


def library_app(tab: str = "Library") -> AppTest:
    return ran(AppTest.from_function(library_under, args=(tab,), default_timeout=30))


def listed(app: AppTest) -> list[str]:
    """The lines under "Uploads of the last hour"; none where it is not shown."""
    if not app.caption or app.caption[-1].value != "Uploads of the last hour":
        return []
    return [unescaped(line) for line in app.markdown[-1].value.splitlines()]


def said_in_library(app: AppTest) -> list[str]:
    return [unescaped(success.value) for success in app.success]


def test_index_it_leaves_focus_on_the_new_uploader_below_the_jobs_bar(library_api):
    app = library_app()
    app.file_uploader[0].set_value((UPLOAD, b"%PDF-1.7", "application/pdf")).run()
    next(button for button in app.button if button.label == "Index it").click().run()
    assert app.session_state["focus"][0] == ".st-key-library-upload-1 button", "not the sources' heading, far above"


@pytest.mark.parametrize(
    ("sources", "focus"), [(2, ".st-key-library-remove input"), (1, ".st-key-library-upload-0 button")]
)
def test_remove_leaves_focus_on_its_menu_or_with_none_left_the_uploader(library_api, sources, focus):
    library_api.sources = library_api.sources[:sources]
    app = library_app()
    app.checkbox[0].check().run()
    next(button for button in app.button if button.label == "Remove").click().run()
    assert said_in_library(app) == [f"removed {OLD['source']}: 14 entries"]
    assert app.session_state["focus"][0] == focus


def test_a_job_that_ends_under_another_tab_is_said_once_the_library_is_shown(library_api):
    """Its "done" was drawn in the hidden Library, and gone at the next run: never seen or said."""
    library_api.jobs = [{**job("running", 7), "submitted": sent(1)}]
    app = library_app("Ask")
    library_api.finish()
    followed_to_the_end(app.run())
    app.run()  # a click in Ask
    assert said_in_library(app) == []
    app.session_state["tab"] = "Library"
    assert said_in_library(ran(app)) == [f"done: {UPLOAD} (8/8 indexed)"]
    assert not any(UPLOAD in line for line in listed(app)), "said by its alert, not listed beside it too"
    assert said_in_library(ran(app)) == [], "said once"


def ask_alone() -> None:
    from pathatlas.ui import web_ask

    web_ask.ask_tab()


def test_ask_moves_focus_to_the_answers_heading_named_answer(monkeypatch, fresh_cache):
    """Focus went to the live region, a status with no name: asked again for the same answer, nothing was said."""
    monkeypatch.setattr(web_client, "fetch", fake_api)
    app = ran(AppTest.from_function(ask_alone, default_timeout=30))
    assert [header.value for header in app.header] == [], "no answer, no heading"
    app.text_area[0].input("Which diagnosis fits?")
    app.text_area[1].input("A. Tuberculosis\nB. Sarcoidosis")
    next(button for button in app.button if button.label == "Ask").click()
    ran(app)
    assert app.header[0].value == "Answer"
    assert app.session_state["focus"][0] == ".st-key-ask-answer h2"
