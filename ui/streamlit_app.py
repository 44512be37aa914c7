"""The PathAtlas web UI (``pathatlas ui``): search, ask, library.

It talks to the REST API: a running ``pathatlas serve`` when PATHATLAS_API_URL is set, otherwise the same
API in process over a local index (FastAPI's TestClient), so both paths run the same code.

This file draws the page (``main``: the tabs, the page's style and scripts) and is the script Streamlit runs; each tab
is a module of its own (``web_search``, ``web_ask``, ``web_library``), over what they share: the API's client and how
its failures are said (``web_client``), images, uploads and keyboard focus (``web_common``), the search shown
(``web_search_state``) and the viewer of one record (``web_viewer``).

Search results are cards a reader scans (kind, citation, relevance in words, the matched passage with the
query's words marked, thumbnail; the images of one case on one card). Opening a card shows the page viewer
beside the results: the strip of the page around the matched passage, outlined, at reading size (the whole page one
click away), previous/next page, that page downloaded as a PDF of its own or the whole book (each fetched by the UI,
as images are, when clicked) and a citation to copy; a case's viewer, its images, each with its own labels. In a
window a phone's width (640 px or less, as the browser says: ``report_window_width``) the viewer goes below the card
opened, and the filters into one expander. The search shown (its text and filters) and
the tab chosen are kept in the page's URL: a reload searches again, Back and Forward step through searches (each in
the tab it was left in), and a search can be bookmarked or shared.

Accessibility: every image has a text alternative (citation, caption, case diagnosis), and a case's images a link to
each at full size; the results' count (of cards, as headings) is a polite live region naming the search and its filters,
and a filter picked searches again; Ask's answer and the Library's job ends and removals are said through live regions
too, present before they say anything, each Ask's answer even where it repeats the last; Open, Find similar and Show
more move keyboard focus to what they drew, Ask to its answer's heading, an upload chosen or removed back to its
uploader, Index it to the new uploader and Remove to its menu, while Previous and Next page keep it and a page line says
the page; the browser tab's title names the view; buttons are named by what they open, an uploader's by what it takes
(``UPLOADER_NAMES``); headings go h1 (the app), h2 (a result, an option, the answer, the viewer); captions and quotes
keep 4.5:1 contrast; an unreachable API is one sentence, and the rest of the page still draws; images the API refuses
are one line, not blank cards. Media URLs carry the API's root path (``pathatlas serve --root-path``) for a browser; the
UI fetches them under its own base URL (``media_path``), directly or through the proxy.
"""

from __future__ import annotations

import streamlit as st

from pathatlas.ui.present import focus_script, tab_title
from pathatlas.ui.web_ask import ask_tab
from pathatlas.ui.web_client import notice_media, notice_unreachable
from pathatlas.ui.web_common import (
    PHONE_WIDTH,
    SAID_KEYS,
    TAB_BOUND,
    TABS,
    WINDOW_WIDTH,
    keep_tab,
    report_window_width,
)
from pathatlas.ui.web_library import library_tab
from pathatlas.ui.web_search import on_phone, search_tab


def app_tabs() -> list:
    """The app's tabs, the one the URL names (``tab``) open. Where Streamlit binds the tab to the URL (``TAB_BOUND``),
    Back and Forward open the tab their history entry names. Else the app keeps the tab chosen in the URL
    (``keep_tab``) so that a reload or a link opens it, and reads the URL only on a session's first run: read on every
    run, a run that read it before a tab's click reached it switched the tab back."""
    if TAB_BOUND:
        return st.tabs(TABS, key="tab", bind="query-params")
    if "tab" not in st.session_state:  # a session's first run (a link, a bookmark, a reload): the tab the URL names
        named = st.query_params.get("tab")
        st.session_state.tab = named if named in TABS else TABS[0]
    return st.tabs(TABS, key="tab", on_change=keep_tab)


def page_title() -> str:
    """The browser tab's title for the view shown (``tab_title``)."""
    view = st.session_state.get("tab")
    return tab_title(view, st.query_params.get("q", "") if view == TABS[0] else "")


PHONE_THUMBNAIL_PX = 120  # a result's thumbnail at a phone's width, alone on its row (a page's filled a screen)

STYLE = (
    "<style>mark{background:#ffe58a;padding:0 .1em;border-radius:2px}"
    ".snippet{font-size:.95rem;line-height:1.45}.printed{font-size:.85rem;color:#555}.passage{font-size:1rem}"
    # Streamlit greys captions and quotes at opacity .6 (3.9:1 on white); .8 keeps them grey at 7:1, in either theme
    "[data-testid=stCaptionContainer],[data-testid=stMarkdownContainer] blockquote{opacity:.8!important}"
    # the citation's copy button, shown only on hover by Streamlit, stays visible for keyboard and touch
    "[data-testid=stCode] div:has([data-testid=stElementToolbarButton])"
    "{opacity:1!important;visibility:visible!important}"
    "[data-testid=stCode] pre{padding-right:3rem}"
    # Streamlit rings a focused control in its primary colour at half opacity (2.2:1 on white) and leaves the toolbar
    # of an image (Fullscreen) invisible while its button has focus: a solid ring, 3.9:1 on white and 4.8:1 on the
    # dark theme, and the toolbar shown while it holds focus
    ":focus-visible{outline:2px solid #1c83e1!important;outline-offset:2px}"
    "[role=tab]:focus-visible{outline-offset:-2px!important}"  # inside the tab: the tab list clips what is outside
    "[data-testid=stElementToolbar]:focus-within{opacity:1!important}"
    # a thumbnail's or case image's Fullscreen showed it as shrunk to its width, and dropped focus: no toolbar (a case
    # image links to itself at full size)
    "[class*=st-key-card-] [data-testid=stElementToolbar],[class*=-case-images] [data-testid=stElementToolbar]"
    "{display:none!important}"
    # result, option and viewer titles are h2 (h3 under an option) for their place in the outline, not for size
    "[class*=st-key-card-] h2,[class*=st-key-option-] h2{font-size:1rem;font-weight:400;padding:0 0 .25rem}"
    "[class*=-viewer] h2,[class*=-viewer] h3{font-size:1.25rem;padding:.25rem 0}"
    # a button's name is what tells it from the others: wrapped in a narrow column, never cut to "Open p. 1 of d…"
    "[data-testid=stButton] button [data-testid=stMarkdownContainer],[data-testid=stButton] button p"
    "{white-space:normal!important;overflow:visible!important;text-overflow:clip!important}"
    ".results-status{font-size:.9rem;margin:0}"
    # an st.html of one script (a strip's scroll, focus moved) takes no room: its empty element put a gap below a strip
    "[data-testid=stElementContainer]:has(> [data-testid=stHtml] > script:only-child){display:none}"
    f".st-key-{WINDOW_WIDTH}{{display:none}}"  # nor the component saying the window's width, which draws nothing
    # wider than a phone, the filters' expander is a plain row of menus, held open (``NARROW_FILTERS``)
    "@media (min-width:641px){.st-key-filter-row summary{display:none}.st-key-filter-row details{border:none!important}"
    ".st-key-filter-row [data-testid=stExpanderDetails]{padding:0;border:none}}"
    # a phone's width, whatever its User-Agent: less space above the title, no "Press Enter to submit form" over the
    # query typed...
    "@media (max-width:640px){[data-testid=stMainBlockContainer]{padding-top:3.5rem}"
    "[data-testid=InputInstructions]{display:none}"
    # ...a viewer's page at its reading size (``web_viewer.READING_DPI``: a book's text some 15 px high), scrolled
    # sideways in its frame: shrunk to the phone's width, its text was 5 px, unreadable without a pinch
    "[class*=-page-pictures] [data-testid=stImage]{overflow-x:auto}"
    "[class*=-page-pictures] [data-testid=stImage] img{width:auto!important;max-width:none!important;"
    "align-self:flex-start}"
    # ...scrolled to its outlined box (``web_viewer.scroll_to_box``), its caption kept in sight below it
    "[class*=-page-pictures] [data-testid=stImageContainer]{width:max-content}"
    "[class*=-page-pictures] [data-testid=stImageCaption]{position:sticky;left:0}"
    # ...a result's thumbnail a few lines high (``PHONE_THUMBNAIL_PX``)
    f"[class*=st-key-card-] [data-testid=stImage] img{{max-height:{PHONE_THUMBNAIL_PX}px;width:auto!important}}"
    # ...and the Library's table (the app's one) within the screen, not cut at "ent…": smaller text, a long file name
    # broken where it must, and no 7th column, entries (``web_library.library_tab``; the remove checkbox names them)
    "[data-testid=stTable] :is(th,td){padding:.25rem;font-size:.75rem}[data-testid=stTable] td{overflow-wrap:anywhere}"
    "[data-testid=stTable] :is(th,td):nth-child(7){display:none}}</style>"
)
SAID = ",".join(f".st-key-{key}" for key in SAID_KEYS)  # the containers that say a tab's outcome
SAYING = ",".join(f".st-key-{key} [class*=st-key-{key}-]" for key in SAID_KEYS)  # what one says now (``said_here``)
SAYING_HIDDEN_MS = 150  # how long a new saying is held hidden (``ONE_VOICE``): screen readers miss a change in a frame
# Each file uploader's Upload button (shown until a file is chosen) named by the uploader's label ("Upload: Image
# (optional; JPEG, ...)"), and its file input, which Streamlit names "file upload": a screen reader's list of buttons
# said "Upload" alone, not what it uploads (Streamlit hides the label from assistive technology and names neither by
# it). Installed once per page, it names uploaders as they are drawn. (A bare string here would be drawn.)
UPLOADER_NAMES = (
    "<script>(() => { if (window.pathatlasUploaderNames) return; window.pathatlasUploaderNames = true;"
    " const name = () => document.querySelectorAll('[data-testid=stFileUploader]').forEach(uploader => {"
    " const label = uploader.querySelector('[data-testid=stWidgetLabel]')?.textContent.trim(); if (!label) return;"
    " const zone = uploader.querySelector('[data-testid=stFileUploaderDropzone]');"
    " const named = [[zone?.querySelector('[kind=secondary]'), `Upload: ${label}`],"
    " [zone?.querySelector('input'), label]];"
    " for (const [element, said] of named) if (element && element.getAttribute('aria-label') !== said)"
    " element.setAttribute('aria-label', said); });"
    " name(); new MutationObserver(name).observe(document.body, {childList: true, subtree: true}); })()</script>"
)
# Each outcome said by one voice, by one observer of the page (installed once per page; a bare string here would be
# drawn). The containers that say a tab's outcome (``web_common.said_here``: Ask's answer, the Library's job ends) are
# made polite live regions, and Streamlit's alerts and spinners in them notes: each of those is a live region of its
# own, inserted with its text (often left unread), and an alert's interrupted the answer after it. Elsewhere, an alert
# saying what the results' live region says (a refused search, the service unreachable) is made a note: a screen reader
# read the sentence twice. Only a line on show counts: Search's, hidden under Ask, muted "not reachable" there, where
# nothing else said it; an alert quieted is an alert again once no line on show says it. Regions are marked first: an
# alert in one is a note already, which the second rule leaves as it is (two observers fought over such an alert).
# A region's new saying (``said_here``'s ``anew``: Ask pressed, a job's end), drawn where the last was cleared, is held
# hidden a moment, so that even the words said last (the same answer asked again) come into the region in a later
# frame: a screen reader reads what comes into a live region, and one cleared and set again in a frame said nothing.
ONE_VOICE = (
    "<script>(() => { if (window.pathatlasOneVoice) return; window.pathatlasOneVoice = true;"
    f" const mark = () => document.querySelectorAll('{SAID}').forEach(region => {{"
    " if (region.getAttribute('aria-live') !== 'polite') {"
    " region.setAttribute('role', 'status'); region.setAttribute('aria-live', 'polite'); }"
    " region.querySelectorAll('[role=alert],[role=status]').forEach(inner => inner.setAttribute('role', 'note')); });"
    " const quieted = new WeakSet();"
    " const quiet = () => { const said = new Set([...document.querySelectorAll('.results-status')]"
    ".filter(line => line.getClientRects().length).map(line => line.textContent.trim()));"
    " document.querySelectorAll('[data-testid=stAlertContainer]').forEach(alert => {"
    " if (alert.getAttribute('role') !== 'alert' && !quieted.has(alert)) return;"
    " const repeats = said.has(alert.textContent.trim());"
    " if (repeats) quieted.add(alert); else quieted.delete(alert);"
    " const role = repeats ? 'note' : 'alert';"
    " if (alert.getAttribute('role') !== role) alert.setAttribute('role', role); }); };"
    " const heard = new WeakSet();"
    f" const anew = () => document.querySelectorAll('{SAYING}').forEach(saying => {{ if (heard.has(saying)) return;"
    " heard.add(saying); saying.style.visibility = 'hidden';"
    f" setTimeout(() => {{ saying.style.visibility = ''; }}, {SAYING_HIDDEN_MS}); }});"
    " const voice = () => { mark(); anew(); quiet(); };"
    " voice(); new MutationObserver(voice).observe(document.body,"
    " {childList: true, subtree: true, characterData: true}); })()</script>"
)
# The filters' expander (``filter_row``) closed once where the window is 640 px wide or less, as on a phone, and held
# open wider, where its name is hidden (``STYLE``): Streamlit knows no window's width, and a narrow desktop window
# stacked the five menus above the results. A click waits for the last to be drawn (two would close it again).
NARROW_FILTERS = (
    "<script>(() => { if (window.pathatlasNarrowFilters) return; window.pathatlasNarrowFilters = true;"
    f" const narrow = matchMedia('{PHONE_WIDTH}'); let closed = false, busy = false;"
    " const fit = () => { const details = document.querySelector('.st-key-filter-row details');"
    " if (!details || busy) return; const wanted = narrow.matches ? (closed ? details.open : false) : true;"
    " if (narrow.matches) closed = true; if (details.open === wanted) return;"
    " busy = true; details.querySelector('summary').click(); setTimeout(() => { busy = false; fit(); }, 300); };"
    " narrow.addEventListener('change', () => { closed = false; fit(); });"
    " fit(); new MutationObserver(fit).observe(document.body, {childList: true, subtree: true}); })()</script>"
)


def main() -> None:
    """The page, drawn on each run by Streamlit, which runs this file as ``__main__`` (``pathatlas ui``, AppTest's
    ``from_file``): a module importing it for a function draws nothing and asks the API nothing."""
    st.set_page_config(
        page_title="PathAtlas", layout="wide", menu_items={"About": "PathAtlas: search pathology books."}
    )
    st.markdown(STYLE, unsafe_allow_html=True)
    st.title("PathAtlas", anchor=False)  # a heading's anchor link was an empty first Tab stop
    notice = st.empty()  # the unreachable API's one sentence, above whichever tab is shown
    media_notice = st.empty()  # the images it refused, one line
    search, ask, library = app_tabs()
    with search:
        search_tab()
    with ask:
        ask_tab()
    with library:
        library_tab()
    notice_unreachable(notice)
    notice_media(media_notice)
    st.html(UPLOADER_NAMES + ONE_VOICE + NARROW_FILTERS, unsafe_allow_javascript=True)
    report_window_width(on_phone())
    if focus := st.session_state.pop("focus", None):
        st.html(focus_script(*focus), unsafe_allow_javascript=True)
    st.set_page_config(page_title=page_title())


if __name__ == "__main__":
    main()
