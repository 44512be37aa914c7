"""What the web UI's tabs draw alike: images with their text alternatives, image uploads and their refusal, keyboard
focus moved at the run's end, what a tab says through a live region, the tabs and a callback opening one, whether the
window is a phone's width; and the Streamlit features the app checks for rather than requires."""

from __future__ import annotations

import inspect
import io
from typing import Any

import streamlit as st

from pathatlas.indexer.sources.cases import HEIC_HINT, HEIC_SUFFIXES, IMAGE_SUFFIXES
from pathatlas.ui.present import img_html

# What an image upload may be, in Search and Ask: what the API and a case folder read (a WebP saved from a browser, a
# GIF; Ask took PNG and JPEG only). Uploaders take any file and the app refuses the wrong type itself: Streamlit's own
# refusal (``type=``) is shown only in a tooltip, which a keyboard or screen reader user never finds.
IMAGE_TYPES = tuple(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)
IMAGE_KINDS = "JPEG, PNG, TIFF, WebP, BMP or GIF"
QUERY_IMAGE = "max_query_image_mb"  # /health's limit of an image query, which the search and ask uploaders say

# What Streamlit 1.65 (October 2026) added, checked rather than required while that release is new (pyproject.toml asks
# for 1.63: its tabs tell the app the tab chosen, expanders take a key, uploaders a size limit, menus no "Select all");
# tests/ui/test_web_ui_module.py runs the image and tab fallbacks.
IMAGE_ALT = "alt" in inspect.signature(st.image).parameters  # Streamlit before ``alt``: images drawn by st.html
TAB_BOUND = "bind" in inspect.signature(st.tabs).parameters  # Streamlit keeps the tab in the URL itself, Back included
TABLE_ALT = "alt" in inspect.signature(st.table).parameters  # before it, a table is named by its caption for sight only

TABS = ("Search", "Ask", "Library")

PHONE_WIDTH = "(max-width: 640px)"  # a window laid out as a phone's: Streamlit stacks columns there
WINDOW_WIDTH = "window-width"  # the key of the component by which the browser says it (``report_window_width``)
# The component's script: says whether the window is a phone's width (``data.width``) as the page is first drawn and
# each time the window crosses it, only where that differs from the layout drawn (``data.narrow``) or last said, so a
# window the User-Agent told right costs no rerun and the run drawn to what it said asks none (no loop). One listener
# per page: Streamlit runs the script again on each new ``data`` without the cleanup it returned before. Keyboard focus
# on an element the new layout draws anew (the viewer, the cards) goes to its new copy, not to the page's top: found
# by its keyed element's class and its place among its kind there. (On lines of their own: Streamlit takes a one-line
# script for a file's path.)
WINDOW_WIDTH_JS = """export default function ({data, setStateValue}) {
    const narrow = matchMedia(data.width);
    let drawn = data.narrow;
    const report = () => {
        if (narrow.matches === drawn) return;
        drawn = narrow.matches;
        window.pathatlasFocusKept = kept(document.activeElement);
        setStateValue("narrow", drawn);
    };
    refocus(window.pathatlasFocusKept);
    window.pathatlasFocusKept = null;
    window.pathatlasWindowWidth?.();
    narrow.addEventListener("change", report);
    window.pathatlasWindowWidth = () => narrow.removeEventListener("change", report);
    report();
    return window.pathatlasWindowWidth;
}

function kept(focused) {
    const keyed = focused?.closest("[class*=st-key-]");
    const key = keyed && [...keyed.classList].find(name => name.startsWith("st-key-"));
    if (!key) return null;
    const alike = `.${CSS.escape(key)} ${focused.tagName}`;
    return {focused, alike, n: [...document.querySelectorAll(alike)].indexOf(focused)};
}

function refocus(was, tries = 40) {
    if (!was) return;
    if (was.focused.isConnected) {
        if (--tries) setTimeout(() => refocus(was, tries), 50);
        return;
    }
    const target = document.querySelectorAll(was.alike)[was.n];
    if (!target || document.activeElement !== document.body) return;
    if (target.tabIndex < 0) target.tabIndex = -1;
    target.focus();
}"""


def show_tab(tab: str) -> None:
    """Button callback's last step: open ``tab``, where what a button in another tab did shows (Find similar on a
    quote in Ask replaced the Search tab's results unseen, and the student saw nothing happen). Streamlit writes a
    bound tab (``TAB_BOUND``) to the URL itself; else the URL names it as a click on the tab does (``keep_tab``)."""
    st.session_state.tab = tab
    if not TAB_BOUND:
        keep_tab()


def keep_tab() -> None:
    """Tab callback: the tab chosen in the URL (the first, Search, as none)."""
    if st.session_state.tab == TABS[0]:
        st.query_params.pop("tab", None)
    else:
        st.query_params["tab"] = st.session_state.tab


def picture(images: list[Any], alts: list[str], captions: list[str] | None = None, width: int | str = "content"):
    """``st.image`` of one or more images (bytes or PIL), each with its text alternative and optional caption (side
    by side); before Streamlit's ``alt``, escaped ``<img>`` elements in st.html, one below the other."""
    if IMAGE_ALT:
        if len(images) == 1:
            st.image(images[0], caption=captions[0] if captions else None, width=width, alt=alts[0])
        else:
            st.image(images, caption=captions, width=width, alt=alts)
        return
    for n, (image, alt) in enumerate(zip(images, alts, strict=True)):
        if not isinstance(image, bytes):  # a PIL image (a page outlined here)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            image = buffer.getvalue()
        st.html(img_html(image, alt, width if isinstance(width, int) else None))
        if captions:
            st.caption(captions[n])


def not_an_image(name: str, sentence: str) -> str:
    """``sentence``, refusing upload ``name`` as no image its uploader takes; for an iPhone's HEIC photo, followed by
    how to get a JPEG instead, in the words a case folder's problems use."""
    return f"{sentence} {HEIC_HINT}." if name.lower().endswith(HEIC_SUFFIXES) else sentence


def move_focus(selector: str) -> None:
    """Ask the end of this run to move keyboard focus to ``selector`` (``focus_script``); a count makes each request
    a new element, which runs its script, where the last run asked the same."""
    st.session_state.focus = (selector, st.session_state.get("focus_count", 0) + 1)
    st.session_state.focus_count = st.session_state.focus[1]


ASK_SAID, LIBRARY_SAID = "ask-said", "library-said"
SAID_KEYS = (ASK_SAID, LIBRARY_SAID)
"""The keys of the containers whose contents are said through a polite live region (``said_here``): Ask's answer, the
Library's jobs and removals."""
SAYINGS = "said_anew"  # how many times each region has said something anew (``said_here``), by its key


def said_here(key: str, *, anew: bool = False):
    """A container in the region ``key`` (of ``SAID_KEYS``), which the page makes a polite live region (``ONE_VOICE``),
    as Search's results line is one: what is drawn in it is read out. Streamlit draws each alert and spinner as a live
    region of its own, inserted with its text, which screen readers often leave unread, and an alert (a note on the
    question's words) was read in place of the answer after it. Its empty placeholder draws the region on every run, so
    that it is on the page before anything is said in it (Streamlit leaves an empty container out).

    ``anew``: this run says something new (Ask pressed, a job's end), to be read even in the words said last: a screen
    reader reads what changes, and Ask pressed again for the same answer said nothing. The last container is cleared,
    and another, under a new key (``saying_key``), drawn in its place, which the page shows a moment later
    (``ONE_VOICE``): cleared, then set in a later frame. Other runs draw the last container again, where the same words
    change nothing and are not read again."""
    region = st.container(key=key)
    region.empty()
    return (region.empty() if anew else region).container(key=saying_key(key, anew))


def saying_key(key: str, anew: bool) -> str:
    """The key of region ``key``'s container (``said_here``): a new one where it says something ``anew``. Streamlit
    draws a container of another key afresh, where it filled the last one's elements in place; cleared first, it takes
    none of the last one's elements with it."""
    said = st.session_state.setdefault(SAYINGS, {})
    said[key] = said.get(key, 0) + int(anew)
    return f"{key}-{said[key]}"


def refocus_uploader(key: str) -> None:
    """File uploader callback: keyboard focus to uploader ``key``'s first button (Upload, or Remove of the file chosen)
    once it redraws: choosing or removing a file dropped focus to the page's body, and the next Tab went to the
    uploader's hidden file input."""
    move_focus(f".st-key-{key} button")


def window_said_narrow() -> bool | None:
    """Whether the browser said its window is a phone's width (``report_window_width``); None until it has."""
    return (st.session_state.get(WINDOW_WIDTH) or {}).get("narrow")


def report_window_width(drawn_narrow: bool) -> None:
    """The component by which the browser says whether its window is a phone's width (``WINDOW_WIDTH_JS``), which
    Streamlit does not tell the app; ``drawn_narrow``: the layout this run drew. Registered on each run (the same
    definition again changes nothing): Streamlit 1.63 keeps a component only in the runtime that ran its definition,
    and AppTest starts one per test."""
    mount = st.components.v2.component("pathatlas.window_width", js=WINDOW_WIDTH_JS)
    mount(key=WINDOW_WIDTH, data={"narrow": drawn_narrow, "width": PHONE_WIDTH})
