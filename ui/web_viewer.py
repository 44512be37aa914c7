"""The viewer of one record, opened from a search result or from a cited quote in Ask: a page with its passage
outlined, a slide of lecture notes read whole, or a case's images with their labels, and the citation to copy."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import streamlit as st
from PIL import Image
from streamlit import runtime

from pathatlas.errors import BadInputError
from pathatlas.indexer.sources.pdf import page_as_pdf
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.records import display_name, is_slide
from pathatlas.retrieval.search import PAGE_KINDS
from pathatlas.ui.present import (
    PAGE_GONE,
    case_about,
    case_image_text,
    citation_text,
    display_line,
    error_message,
    full_size_name,
    highlight,
    page_turn,
    place,
    plain,
    shown_box,
    similar_label,
)
from pathatlas.ui.web_client import api_has_none, backend, detail_of, facets, media, reached, refused, ui_settings
from pathatlas.ui.web_common import TABS, move_focus, picture, show_tab
from pathatlas.ui.web_search_state import find_similar

READING_DPI = 110
CASE_IMAGE_WIDTH = 320
DRAWN_SIDE = 2 * CASE_IMAGE_WIDTH  # a case image is decoded no smaller than this a side (``drawn``): sharp at 2x zoom
CASE_IMAGES_DRAWN = 32  # case images kept decoded for the viewer (``drawn``), for every session
CONTEXT_POINTS = 72  # the page shown above and below a matched box: an inch, five or six lines of a book's text


def case_title(case: str, diagnosis: str | None, title: str | None, images: int) -> str:
    """A case's heading (Markdown), on its card and over its viewer: the case, what it shows (``case_about``), how many
    images it has. Its citation's label names the file of one image ("cases, case DEMO-02, images/DEMO-02-1.jpg")."""
    about = case_about(case, diagnosis, title)
    return "**Case** " + plain(" · ".join(filter(None, [case, about, f"{images} images" if images > 1 else ""])))


def close(state: str) -> None:
    """Button callback: close the viewer kept in ``st.session_state[state]``; keyboard focus goes back to the button
    that opened it (the Close button's removal dropped it to the page's top)."""
    st.session_state[state] = None
    if origin := st.session_state.pop(f"{state}_from", None):
        move_focus(f".st-key-{origin} button")


def open_page(hit: dict[str, Any], page: int, state: str) -> None:
    """Button callback of Previous and Next page: page ``page`` of the hit's book in the viewer, said by its page line
    (``page_line``). Keyboard focus stays on the button pressed (moved to the title, paging cost three keys a page),
    but for the book's first or last page, where that button goes off: focus goes to the other, not the page's body."""
    citation = hit["citation"]
    params = {"source": citation["source_id"], "page": page}
    if (record := opened("/pages", f"page {page} is not in the index", params=params)) is not None:
        st.session_state[state] = record
        backwards = page < citation["page"]
        if page <= 1 if backwards else last_page(page, pages_indexed(citation["source_id"])):
            move_focus(f".st-key-{state}-{'next' if backwards else 'prev'} button")


def open_slide(hit: dict[str, Any], step: int, state: str) -> None:
    """Button callback of Previous (``step`` -1) and Next slide (1): the nearest slide that way with a record, in one
    request (GET /pages with ``nearest``: a slide with a title alone has none, and asked slide by slide a deck's end
    cost 17 requests). None there, said in a toast kept until closed (``opened``). Keyboard focus stays on the button
    pressed, but where it goes off (no slide further that way: ``slide_end``), it goes to the other, as in the page
    viewer (``open_page``)."""
    citation, way = hit["citation"], "before" if step < 0 else "after"
    params = {"source": citation["source_id"], "page": citation["page"], "nearest": way}
    missing = f"no slide {way} slide {citation['page']} in the index"
    if (record := opened("/pages", missing, params=params)) is None:
        return
    st.session_state[state] = record
    if slide_end(record, step):
        move_focus(f".st-key-{state}-{'next' if step < 0 else 'prev'} button")


def slide_end(record: dict[str, Any], step: int) -> bool:
    """Whether ``record``'s slide is known to have no slide with a record before it (``step`` -1) or after it (1):
    slide 1 none before it; a record from GET /pages says so (``previous_page``, ``next_page`` null), a search's hit
    does not, so its buttons stay on."""
    if step < 0 and record["citation"]["page"] <= 1:
        return True
    neighbour = "previous_page" if step < 0 else "next_page"
    return neighbour in record and record[neighbour] is None


def last_page(page: int, pages: int | None) -> bool:
    """Whether ``page`` is its book's last of ``pages`` (None: unknown, so not known to be the last)."""
    return pages is not None and page >= pages


def opened(path: str, missing: str, **kwargs) -> dict[str, Any] | None:
    """The record the API answers at ``path``, for a viewer; None where there is none, said in a toast kept until
    closed (no time limit to read it): ``missing`` where the API says it has none (``api_has_none``), any other
    refusal in its own words (a server's failure or a proxy's timeout read "not in the index"). Where the service did
    not answer, the run's end says so instead."""
    response = reached("GET", path, **kwargs)
    if response is not None and api_has_none(response):
        toast_kept(missing)
        return None
    return answered_record(response)


def answered_record(response: httpx.Response | None) -> dict[str, Any] | None:
    """The record the API answered (``response``, None where it did not answer); None where it refused, said in its
    own words in a toast kept until closed (``toast_kept``)."""
    if response is None:
        return None
    if response.status_code < 400:
        return response.json()
    toast_kept(error_message(detail_of(response)))
    return None


def toast_kept(said: str) -> None:
    """``said`` in a toast kept until closed: no time limit to read it."""
    st.toast(plain(said), duration="infinite")


def viewer(hit: dict[str, Any], state: str, level: int = 2) -> None:
    """The hit in ``st.session_state[state]`` at reading size: its page with the passage outlined, its whole text
    where it has no page to render (``text_view``), or the case's images; closing it clears that state. Its title is a
    heading of ``level`` (2 beside the results, 3 under the option or citation it opened from), so headings never skip
    a level. The snippet is quoted below, but for a record read whole, which holds it (an answer's quote marked in it,
    ``text_html``; quoted below where no line holds it)."""
    citation = hit["citation"]
    with st.container(border=True, key=f"{state}-viewer"):
        case = case_details(hit) if hit["kind"] == "case" else None
        title = plain(citation["label"])
        if case:
            title = case_title(case["case"], case.get("diagnosis"), case.get("title"), len(case["images"]))
        (st.header if level == 2 else st.subheader)(title, anchor=False)
        actions = st.container(horizontal=True)  # buttons wrap onto rows, never squeezed to a letter a line
        shown = record_view(hit, case, state, actions)
        actions.button("Close", key=f"{state}-close", on_click=close, args=(state,))
        terms = st.session_state.get("terms", [])
        if hit.get("snippet") and (not read_whole(hit) or quote_apart(hit)):
            st.markdown(
                f"<blockquote class='passage'>{highlight(hit['snippet'], terms)}</blockquote>",
                unsafe_allow_html=True,
            )
        st.caption("Citation to copy: select its text, or press the Copy to clipboard button beside it")
        st.code(citation_text(hit), language=None, wrap_lines=True)  # its copy button is kept visible (STYLE)
        if hit.get("has_image") and shown:
            label = plain(similar_label(place(hit)))
            st.button(label, key=f"{state}-similar-{hit['id']}", on_click=similar_in_search, args=(hit,))


def similar_in_search(hit: dict[str, Any]) -> None:
    """Button callback: Find similar (``find_similar``), its results shown in the Search tab, opened: from a quote in
    Ask they replaced the Search tab's results unseen, and nothing changed where the student looked. Where the record
    is gone the results stay, and so does the tab."""
    find_similar(hit)
    if st.session_state.get("similar_gone") != hit["id"]:
        show_tab(TABS[0])


def record_view(hit: dict[str, Any], case: dict[str, Any] | None, state: str, actions) -> bool:
    """The hit's case (``case``: its details, None where they could not be had) or page, its page buttons in
    ``actions``; whether it is still there to find similar ones to: one gone since the search answered Find similar
    with "no such record" in place of the results."""
    if hit["kind"] == "case":
        if case:
            case_view(case, state)
        return case is not None
    if read_whole(hit):
        return text_view(hit, state, actions)
    return page_view(hit, state, actions) if hit.get("page_url") else True


def read_whole(hit: dict[str, Any]) -> bool:
    """Whether the hit is text with no page to render (``page_url`` null: a slide of lecture notes), read whole."""
    return hit["kind"] in PAGE_KINDS and not hit.get("page_url")


def text_view(hit: dict[str, Any], state: str, nav) -> bool:
    """A record with no page to render read whole (``whole_text``), a paragraph a line, the searched words marked as
    its snippet marks them (``text_html``); for a slide, Previous and Next slide in ``nav`` and the slide in the page
    line, as the page viewer has them. Its snippet alone was shown, starting mid-slide ("…shares features of…"), and
    a quote opened from Ask was that one line. Whether the record is still there."""
    citation = hit["citation"]
    if is_slide(citation.get("page"), citation.get("page_label")):
        slide_buttons(hit, state, nav)
    if (text := whole_text(hit, state)) is None:
        return False
    quote = hit["snippet"] if hit.get("cited") else ""
    st.markdown(text_html(text, st.session_state.get("terms", []), quote), unsafe_allow_html=True)
    return True


def slide_buttons(hit: dict[str, Any], state: str, nav) -> None:
    """Previous and Next slide of the hit's slide in ``nav``, as the page viewer's (``page_view``), each off at its
    deck's end where that is known (``slide_end``), and the slide said in the page line."""
    previous, following = (hit, -1, state), (hit, 1, state)
    first, last = slide_end(hit, -1), slide_end(hit, 1)
    nav.button("Previous slide", key=f"{state}-prev", icon="◀", disabled=first, on_click=open_slide, args=previous)
    arrow = {"icon": "▶", "icon_position": "right"}
    nav.button("Next slide", key=f"{state}-next", **arrow, disabled=last, on_click=open_slide, args=following)
    page_line(hit["citation"]["page"], None, "Slide")


def whole_text(hit: dict[str, Any], state: str) -> str | None:
    """The record's whole text, asked for (GET /records) at every draw, as the page viewer asks for its page's PDF
    (``page_gone``), and kept in ``st.session_state``'s ``state``: a slide kept from an earlier draw was still shown
    once its deck was removed (in the Library, or by ``pathatlas remove``), and its Next slide said "no slide after".
    None where the API refused, a record gone since it was found said as a page gone is (``PAGE_GONE``), any other
    refusal as the API words it (``refused``); the text kept where the API did not answer (the run's end says so)."""
    path = f"/records/{hit['id']}"
    response = reached("GET", path)
    if response is None:
        return hit.get("text")
    if response.status_code < 400:
        st.session_state[state] = {**hit, "text": response.json()["text"]}
        return st.session_state[state]["text"]
    if api_has_none(response):
        st.error(plain(f"{hit['citation']['label']} {PAGE_GONE[404]}"))
    else:
        refused("GET", path, response)
    return None


def text_html(text: str, terms: list[str], quote: str = "") -> str:
    """``text`` as safe HTML, quoted as the snippet is, a paragraph a line (a slide's bullet, a table's row), each
    escaped with ``terms``' words marked (``highlight``), a line holding ``quote`` (an answer's) in bold as the page
    viewer outlines what an answer cites; all on one line: a blank line would end the HTML block and let Markdown read
    the rest."""
    lines = [line for line in text.splitlines() if line.strip()]
    shown = [(highlight(line, terms), quoted(line, quote)) for line in lines]
    paragraphs = "".join(f"<p><strong>{said}</strong></p>" if bold else f"<p>{said}</p>" for said, bold in shown)
    return f"<blockquote class='whole-text'>{paragraphs}</blockquote>"


def quoted(line: str, quote: str) -> bool:
    """Whether ``line`` holds ``quote``, spaces aside (``display_line``)."""
    return bool(quote) and display_line(quote) in display_line(line)


def quote_apart(hit: dict[str, Any]) -> bool:
    """Whether an answer's quote of a record read whole is on none of its lines (``quoted``), so quoted below it."""
    lines = hit.get("text", "").splitlines()
    return bool(hit.get("cited")) and not any(quoted(line, hit["snippet"]) for line in lines)


def page_view(hit: dict[str, Any], state: str, nav) -> bool:
    """The page with its passage outlined, then, for a figure whose caption is printed on another page (the next), that
    page with the caption outlined: the reader saw the picture alone, its caption a "Next page" away and unmarked. Its
    previous/next and PDF buttons go in ``nav``, the viewer's button row, their arrows icons that a screen reader does
    not read (a label's "◀" was read out as a triangle). A page gone since it was found is said in one line instead
    (``page_gone``); whether the page is still there."""
    citation = hit["citation"]
    page = citation["page"]
    previous, following = (hit, page - 1, state), (hit, page + 1, state)
    nav.button("Previous page", key=f"{state}-prev", icon="◀", disabled=page <= 1, on_click=open_page, args=previous)
    pages = pages_indexed(citation["source_id"])
    arrow = {"icon": "▶", "icon_position": "right"}
    last = last_page(page, pages)
    nav.button("Next page", key=f"{state}-next", **arrow, disabled=last, on_click=open_page, args=following)
    page_line(page, pages)
    if gone := page_gone(hit):
        st.error(plain(gone))
        return False
    pdf_downloads(hit, state, nav)
    with st.container(key=f"{state}-page-pictures"):  # at reading size on a phone, scrolled sideways (app's STYLE)
        if image := media(at_reading_size(hit["page_url"])):  # a caption quote's asks ?captioned=true
            outlined_page(image, page, citation["source"], citation.get("bbox"), outlined_name(hit), state)
        caption_page, caption_url = citation.get("caption_page"), hit.get("caption_url")
        if caption_page and caption_url and (caption := media(at_reading_size(caption_url))):
            outlined = f"caption of {citation['figure']} outlined"
            outlined_page(caption, caption_page, citation["source"], citation.get("caption_bbox"), outlined, state)
    return True


def page_line(page: int, pages: int | None, unit: str = "Page") -> None:
    """The page (``unit``: or slide) shown ("Page 3 of 40") in a polite live region, one element across pages, so that
    Previous and Next page, which leave focus on themselves, have the new page read out."""
    line = f"{unit} {page} of {pages}" if pages else f"{unit} {page}"
    st.markdown(f"<p role='status' aria-live='polite' class='page-line'>{line}</p>", unsafe_allow_html=True)


def pages_indexed(source_id: str) -> int | None:
    """How many pages of source ``source_id`` the index holds, from the facets the filters keep (no request more);
    None where they are unknown (the API unreachable). Next page was offered on a book's last page, and said "page 5
    is not in the index" until closed."""
    return facets()["by_source"].get(source_id, {}).get("page")


def page_gone(hit: dict[str, Any]) -> str | None:
    """Why the hit's page can no longer be shown (``PAGE_GONE``): its source removed or indexed again since the search
    or answer (in another tab, or by ``pathatlas index``), or its file changed on disk. Asked at every draw, as a HEAD
    (none of the book is read): the page's pictures are cached for minutes. None where it can be shown, or where the
    API did not answer (the run's end says so)."""
    response = reached("HEAD", f"/records/{hit['id']}/pdf")
    said = PAGE_GONE.get(response.status_code) if response is not None else None
    citation = hit["citation"]
    return f"Page {citation['page']} of {citation['source']} {said}" if said else None


def pdf_downloads(hit: dict[str, Any], state: str, nav) -> None:
    """The page's PDFs in ``nav``: a download of that page alone (``page_pdf``), and one of the whole book to read on
    (``book_pdf``), which this server fetches from the API as it fetches the page's pictures, each only when its button
    is clicked. A link to the API's own PDF (``--api``) named an address a student's browser may not reach (``pathatlas
    ui --host 0.0.0.0 --api http://127.0.0.1:8000``), and Streamlit gives the app no address of its own to serve a PDF
    from, open at a page: only a download, fetched on its click. A click on a download reruns the page: where the page
    went in the meantime, the download fails in Streamlit's thread, showing nothing, and the rerun says why
    (``page_gone``)."""
    page, book = hit["citation"]["page"], display_name(hit["citation"]["source"])
    pdf = {"mime": "application/pdf", "on_click": "rerun"}
    page_name = f"{os.path.splitext(book)[0]}-p{page}.pdf"
    nav.download_button(
        f"Download page {page} as a PDF", page_pdf(hit["id"], page), file_name=page_name, key=f"{state}-pdf", **pdf
    )
    nav.download_button("Download the whole PDF", book_pdf(hit["id"]), file_name=book, key=f"{state}-book", **pdf)


def at_reading_size(url: str) -> str:
    """A page render's URL asking for ``READING_DPI``."""
    return f"{url}{'&' if '?' in url else '?'}dpi={READING_DPI}"


def outlined_page(image: bytes, page: int, source: str, bbox: list[float] | None, outlined: str, state: str) -> None:
    """Page ``page`` of ``source`` rendered with ``bbox`` outlined (``image``): the strip around the box, scrolled to it
    where it is wider than its frame (``scroll_to_box``), and the whole page in an expander; the whole page alone where
    no box is known. ``outlined`` names what the outline marks, in the pictures' text alternatives and captions."""
    named = f"Page {page} of {source}"
    if not bbox:
        picture([image], [named], [f"page {page}"], width="stretch")
        return
    whole = Image.open(io.BytesIO(image)).convert("RGB")
    strip = around_box(whole, bbox, READING_DPI)
    with st.container(key=f"{state}-strip-{page}"):
        alt, caption = f"{named}, around the {outlined} in red", f"page {page} ({outlined} in red)"
        picture([strip], [alt], [caption], width="stretch")
        scroll_to_box(f"{state}-strip-{page}", across_box(whole, bbox, READING_DPI))
    with st.expander(f"Whole page {page}"):
        picture([whole], [f"{named}, the whole page, the {outlined} in red"], width="stretch")


def outlined_name(hit: dict[str, Any]) -> str:
    """What the page's red outline marks, as its pictures' text alternatives name it: an answer's cited passage or
    figure (``open_cited``; a caption quote's is its figure), a search's matched passage, or a figure."""
    if hit.get("cited"):
        return "cited figure outlined" if hit["citation"].get("figure") else "cited passage outlined"
    return "matched passage outlined" if hit["kind"] == "page" else "figure outlined"


def around_box(page: Image.Image, bbox: list[float], dpi: float) -> Image.Image:
    """The strip of ``page`` (rendered at ``dpi``) across its width from ``CONTEXT_POINTS`` above ``bbox`` (PDF points)
    to as far below, where the turned page shows it (``shown_box``): on a tall page the outlined box lay below the
    fold, and the reader saw the page's top."""
    scale = dpi / 72
    _, y0, _, y1 = shown_box(bbox, page_turn(page), page.size, dpi)
    top = max(0, round(y0 - CONTEXT_POINTS * scale))
    bottom = min(page.height, round(y1 + CONTEXT_POINTS * scale))
    return page.crop((0, top, page.width, max(bottom, top + 1)))


def across_box(page: Image.Image, bbox: list[float], dpi: float) -> tuple[float, float]:
    """Where ``bbox`` (PDF points) lies across ``page`` (rendered at ``dpi``) as the turned page shows it: its left and
    right edges as fractions of the page's width, which the strip (``around_box``) keeps whole."""
    left, _, right, _ = shown_box(bbox, page_turn(page), page.size, dpi)
    return max(0.0, left / page.width), min(1.0, right / page.width)


BOX_MARGIN_PX = 12  # of the page left of a box wider than the strip's frame, scrolled to its left edge


def scroll_to_box(key: str, across: tuple[float, float]) -> None:
    """The strip in container ``key`` scrolled sideways to its outlined box (``across``: ``across_box``), once its
    picture is drawn: on a phone it is at reading size in a frame narrower than itself (the app's STYLE), which opened
    at the page's left margin, a quarter of the screen blank and a figure on the right cut off. A box narrower than
    the frame is centred in it, a wider one shown from its left edge; where the strip fits its frame (a laptop's
    viewer) nothing scrolls."""
    frame = json.dumps(f".st-key-{key} [data-testid=stImage]")
    left, right = across
    st.html(
        f"<script>(() => {{ let tries = 40; const find = () => {{ const frame = document.querySelector({frame});"
        " const img = frame && frame.querySelector('img'); if (!img) { if (--tries) setTimeout(find, 50); return; }"
        " const show = () => { const width = img.getBoundingClientRect().width, seen = frame.clientWidth;"
        f" const left = {left:.4f} * width, right = {right:.4f} * width;"
        f" frame.scrollLeft = right - left <= seen ? (left + right - seen) / 2 : left - {BOX_MARGIN_PX}; }};"
        " if (img.complete) show(); else img.addEventListener('load', show, {once: true}); }; find(); })()</script>",
        unsafe_allow_javascript=True,
    )


def book_pdf(record_id: str) -> Callable[[], bytes]:
    """The record's source PDF, whole, fetched from the API when its download is clicked (a book's PDF is tens of MB,
    too much to fetch at every rerun)."""
    client = backend()

    def pdf() -> bytes:
        response = client.get(f"/records/{record_id}/pdf")
        response.raise_for_status()
        return response.content

    return pdf


def page_pdf(record_id: str, page: int) -> Callable[[], bytes]:
    """Page ``page`` of the record's source PDF as a PDF of its own, made when its button is clicked: the button names
    the page (the whole book opened at page 1)."""
    book = book_pdf(record_id)
    return lambda: page_as_pdf(book(), page)


def case_details(hit: dict[str, Any]) -> dict[str, Any] | None:
    """The case of a case image (``GET /cases``): its diagnosis, organ, labels and every image. None where the API
    refused, said in one line: a case removed since it was found as ``PAGE_GONE`` says a page (it read "no such record",
    the request under Details), any other refusal as the API words it (``refused``)."""
    path = f"/cases/{hit['id']}"
    response = reached("GET", path)
    if response is None:
        return None
    if response.status_code < 400:
        return response.json()
    if api_has_none(response):
        st.error(plain(f"Case {hit['citation']['case']} {PAGE_GONE[404]}"))
    else:
        refused("GET", path, response)
    return None


def case_view(case: dict[str, Any], state: str) -> None:
    """A case's diagnosis, organ and the labels its images share, then its images as their thumbnails show them
    (``case_image``), each with its other labels (a stain) below it and a link to it at full size: one image's labels
    were shown as the whole case's."""
    diagnosis, organ = plain(case.get("diagnosis") or "n/a"), plain(case.get("organ") or "n/a")
    st.markdown(f"**Diagnosis:** {diagnosis}  \n**Organ:** {organ}")
    shared = case.get("labels") or {}
    if shared:
        st.markdown(labels_text(shared))
    row = st.container(horizontal=True, key=f"{state}-case-images")  # their toolbars hidden (STYLE)
    for n, image in enumerate(case["images"], start=1):
        if data := media(image["url"]):
            with row.container(width=CASE_IMAGE_WIDTH):
                case_image(case, image, data, n)


def case_image(case: dict[str, Any], image: dict[str, Any], data: bytes, n: int) -> None:
    """Image ``n`` of the case as its thumbnail shows it (``drawn``), its own labels and its full-size link; or one
    line saying why it cannot be drawn: its refusal failed the whole viewer, hiding the case's other images and the
    Close button."""
    total = len(case["images"])
    shown = drawn(data, ui_settings().max_image_pixels)
    if isinstance(shown, str):
        st.warning(plain(f"Image {n} of case {case.get('case') or ''} cannot be shown: {shown}"))
        return
    picture([shown], [case_image_text(case, n, total)], width=CASE_IMAGE_WIDTH)
    shared = case.get("labels") or {}
    if own := {k: v for k, v in (image.get("labels") or {}).items() if k not in shared}:
        st.markdown(labels_text(own))
    st.markdown(f"[{plain(full_size_name(case, n))}]({full_size_url(data, image['id'])})")


@st.cache_data(max_entries=CASE_IMAGES_DRAWN, show_spinner=False)
def drawn(data: bytes, max_pixels: int) -> Image.Image | str:
    """A case image as the index read it, and its thumbnail shows it: turned upright by its EXIF orientation,
    greyscale of more than 8 bits scaled to its range, transparency over white (``open_image``), decoded no larger than
    the viewer needs (``fit``); else why it cannot be drawn (``open_image``'s refusal). Given as stored, ``st.image``
    dropped its orientation (a phone's photo lay on its side) and could not write a 16-bit PNG as JPEG. Kept by its
    bytes' hash, refusal too: each rerun decoded every case image in full (a 48 MP photo: 2.2 s and 401 MB)."""
    try:
        return open_image(data, max_pixels, name="it", fit=DRAWN_SIDE)
    except BadInputError as refusal:
        return str(refusal)


def labels_text(labels: dict[str, Any]) -> str:
    """Labels as Markdown lines: "**Stain:** PAS"."""
    return "  \n".join(f"**{plain(k)}:** {plain(str(v))}" for k, v in labels.items())


def full_size_url(image: bytes, key: str) -> str:
    """Where the browser gets ``image`` as stored, as a URL relative to the app's page: ``st.image`` sends an image
    shrunk to the width it is shown at, which its Fullscreen showed no larger. Streamlit serves it as it serves the
    images it draws, while a run draws its link; the API's media URL is out of a browser's reach where the API runs in
    the UI's process (``pathatlas ui`` without ``--api``)."""
    kind = Image.open(io.BytesIO(image)).format
    kind = Image.MIME["JPEG" if kind == "MPO" else kind]  # a phone's JPEG with a preview inside is served as a JPEG
    return runtime.get_instance().media_file_mgr.add(image, kind, f"full-size-{key}").lstrip("/")
