"""The Search tab: the search form, the filter menus, the results line (a live region) and the result cards, with
the viewer beside them."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from pathatlas.ui.hits import found_by_words_or_image
from pathatlas.ui.present import (
    card_repeats,
    display_line,
    distinct_places,
    found_by,
    group_cases,
    grouped_images,
    highlight,
    image_alt,
    label_plain,
    look_alike_note,
    more_results,
    open_label,
    opens_mid_text,
    plain,
    relevance_words,
    results_status,
    shorten,
    similar_label,
    stored_title,
    unknown_words_line,
    unsupported_file,
)
from pathatlas.ui.web_client import (
    MEDIA_CACHED,
    Unreachable,
    details,
    facets,
    fetch,
    gone_said,
    media,
    nothing_indexed,
    say_unreachable,
    unless_unreachable,
    upload_limit,
)
from pathatlas.ui.web_common import (
    IMAGE_KINDS,
    IMAGE_TYPES,
    QUERY_IMAGE,
    move_focus,
    not_an_image,
    picture,
    window_said_narrow,
)
from pathatlas.ui.web_search_state import (
    BY_IMAGE,
    FILTERS,
    KINDS,
    WITH_WORDS,
    UrlSearch,
    chosen_filters,
    corrected_query,
    filter_values,
    find_similar,
    forget_for_refused,
    forget_search,
    image_file_name,
    image_named,
    keep_in_url,
    quoted,
    refilter,
    search_by_image,
    search_for,
    search_from_url,
    search_instead,
    searched_with_words,
    searched_words,
    show_more,
    shown_path,
    similar_named,
    value_names,
)
from pathatlas.ui.web_viewer import case_title, viewer

BADGE = {"best match": "green", "strong match": "green", "good match": "blue", "related": "gray"}
CARD_ORGAN_CHARS = 80  # of a case's organ its card shows (the case viewer, all): a 3000-character one filled the card
# The results line saying why a search showed nothing, tinted as Streamlit tints an error in either theme; its text
# keeps the theme's colour, which reads on the tint in both.
REFUSED_LOOK = "background:rgba(255,43,43,.12);padding:.75rem 1rem;border-radius:.5rem"
FIGURE_CAPTION_CHARS = 90  # of the caption of a figure found on a card's page, shown beside its Open button


def filter_row() -> None:
    """The filter menus; picking or removing a value searches again (``refilter``). They are in one expander that
    counts the filters chosen, closed at first in a window 640 px wide or less (a phone's from its first draw, by its
    User-Agent; any other's by ``NARROW_FILTERS``), where five menus stacked full width put the results below the first
    screen; in a wider one it is held open and drawn as a row of menus (``STYLE``)."""
    # keyed, the expander stays open when its name changes ("Filters (1 chosen)"): unkeyed, that was a new one
    with st.container(key="filter-row"), st.expander(filters_label(), expanded=not on_phone(), key="filters"):
        filter_menus()


def filters_label() -> str:
    """The phone's filter expander's name: "Filters", "Filters (2 chosen)"."""
    chosen = len(chosen_filters())
    return f"Filters ({chosen} chosen)" if chosen else "Filters"


def on_phone() -> bool:
    """Whether the window is a phone's width, 640 px or less, as its browser said (``window_said_narrow``), and until
    it has, whether the browser says it is a phone ("Mobi" in its User-Agent, as MDN advises). Streamlit stacks every
    column in such a window, filter menus and the viewer beside the results alike; by the User-Agent alone, a narrow
    desktop window or an iPad (a desktop's User-Agent) had the viewer below every card and "Show more"."""
    said = window_said_narrow()
    return said if said is not None else "Mobi" in (st.context.headers.get("User-Agent") or "")


def filter_menus() -> None:
    for column, (name, label) in zip(st.columns(len(FILTERS)), FILTERS.items(), strict=True):
        counts = {v["value"]: v["count"] for v in filter_values(name)}
        shown = {value: f"{named} ({counts[value]})" for value, named in value_names(name).items()}
        column.multiselect(
            label,
            list(shown),
            key=f"filter-{name}",
            format_func=shown.__getitem__,
            placeholder="any",
            on_change=refilter,
        )


def result_card(card: list[dict[str, Any]], n: int, look_alike: bool, where: str) -> None:
    """Result card ``n`` (from 0); ``where`` names the hit in its buttons, distinct from the other cards'
    (``distinct_places``). It shows its number among the cards, not the API's rank of its hit: a case's images share a
    card, and the cards below it read #1, #2, #4."""
    hit = card[0]
    relevance = relevance_words(hit, look_alike)
    terms = st.session_state.get("terms", [])
    with st.container(border=True, key=f"card-{n}"):
        left, right = st.columns([1, 4])
        with left:
            shown = card[:4]
            images = [(media(h["thumbnail_url"]) if h.get("thumbnail_url") else None) for h in shown]
            alts = [image_alt(h, (i, len(card)), caption_start(h)) for i, h in enumerate(shown, start=1)]
            drawn = [(image, alt) for image, alt in zip(images, alts, strict=True) if image]
            if drawn:
                picture([drawn[0][0]], [drawn[0][1]], width=150)
            if len(drawn) > 1:  # a case's other images, small
                picture([image for image, _ in drawn[1:]], [alt for _, alt in drawn[1:]], width=48)
        with right:
            badge = f":{BADGE.get(relevance, 'gray')}-badge[{relevance}]"
            st.header(f"{card_title(hit, len(card))} &nbsp; {badge}", anchor=False)  # h2 under the app's h1
            if hit["kind"] == "case":  # what its heading leaves out: the organ, and which collection holds it
                organ = shorten(hit.get("organ") or "", CARD_ORGAN_CHARS)
                st.caption(plain(" · ".join(filter(None, [organ, hit["citation"]["source"]]))))
            elif hit.get("section"):
                st.caption(plain(hit["section"]))
            if hit.get("snippet"):
                st.markdown(f"<div class='snippet'>{highlight(hit['snippet'], terms)}</div>", unsafe_allow_html=True)
            if hit.get("printed_words"):  # a figure's labels, read from its image: often why it matched
                words = highlight(hit["printed_words"], terms)
                st.markdown(f"<div class='printed'>Printed in the figure: {words}</div>", unsafe_allow_html=True)
            why = found_by(hit)
            st.caption(plain(f"#{n + 1} · found by {why}" if why else f"#{n + 1}"))
            buttons = st.container(horizontal=True)
            key = f"open-{hit['id']}"
            buttons.button(plain(open_label(where)), key=key, on_click=open_result, args=(hit, key, hit["id"]))
            if hit.get("has_image"):
                buttons.button(
                    plain(similar_label(where)), key=f"similar-{hit['id']}", on_click=find_similar, args=(hit,)
                )
            if st.session_state.get("similar_gone") == hit["id"]:  # Find similar found it gone (``find_similar``)
                st.error(plain(gone_said("This result", 404)))
            figures_on_page(hit, where, terms)


def figures_on_page(hit: dict[str, Any], where: str, terms: list[str]) -> None:
    """The figures the search found on a page hit's page (``page_figures``), each by its label and caption's first
    words, with a button that opens it in the viewer as a figure's card does; named by the card's ``where``
    ("Open Figure 6.8, p. 7"), distinct from every other card's buttons."""
    figures = page_figures(hit)
    if not figures:
        return
    st.caption("Figures found on this page")
    for figure in figures:
        row = st.container(horizontal=True, vertical_alignment="center")
        key = f"open-{hit['id']}-{figure['id']}"
        label = open_label(f"{figure['citation'].get('figure') or 'figure'}, {where}")
        row.button(plain(label), key=key, on_click=open_result, args=(figure, key, hit["id"]))
        caption = highlight(shorten(figure.get("snippet") or "", FIGURE_CAPTION_CHARS), terms)
        row.markdown(f"<div class='printed'>{caption}</div>", unsafe_allow_html=True)


def page_figures(hit: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures a search found on a page hit's page, as stored (``GET /records``): REST folds them into the page's
    hit (``also_on_page``, which lists the page's other passages found too), and a card that showed the page alone hid
    them ("periosteum" found Figure 6.8 on p. 7, and no card said so). A record gone since is left out; once the API
    does not answer, the rest are too (each call may wait the client's timeout: a card of 100 ids waited for all)."""
    if hit["kind"] != "page":
        return []
    figures = []
    for record_id in hit.get("also_on_page") or []:
        try:
            record = cached_record(record_id)
        except Unreachable as failure:
            say_unreachable(failure)
            break
        if record and record["kind"] == "figure":
            figures.append(record)
    return figures


def caption_start(hit: dict[str, Any]) -> str | None:
    """A figure's caption from its start where its snippet opens mid-sentence (``opens_mid_text``), for its text
    alternative: the record as stored (``GET /records``), whose snippet opens at its text's start. None otherwise, or
    where the API does not give it."""
    if hit["kind"] != "figure" or not opens_mid_text(hit.get("snippet") or ""):
        return None
    record = unless_unreachable(cached_record, None, hit["id"])
    return record.get("snippet") if record else None


@st.cache_data(ttl=600, max_entries=MEDIA_CACHED, show_spinner=False)
def cached_record(record_id: str) -> dict[str, Any] | None:
    """A record as stored (``GET /records``), None where the API refused it (gone since the search). Raises
    Unreachable, which is not cached."""
    response = fetch("GET", f"/records/{record_id}")
    return response.json() if response.status_code < 400 else None


def card_title(hit: dict[str, Any], images: int) -> str:
    """A result card's heading (Markdown): its kind and citation; a case's names the case (``case_title``)."""
    if hit["kind"] == "case":
        return case_title(hit["citation"].get("case") or "", hit.get("diagnosis"), stored_title(hit), images)
    return f"**{KINDS.get(hit['kind'], hit['kind'])}** · {plain(hit['citation']['label'] + card_repeats(hit))}"


def open_result(hit: dict[str, Any], key: str, card: str) -> None:
    """Button callback: open a result (its Open button's ``key``, on the card of hit ``card``: a figure found on a
    page opens from the page's card) in the viewer beside the results. Keyboard focus moves to the viewer's title:
    redrawing the results beside it dropped focus to the page's top, and the viewer comes after every card in the tab
    order (or below the card opened, in a phone's width: ``on_phone``)."""
    st.session_state.selected, st.session_state.selected_from, st.session_state.selected_card = hit, key, card
    move_focus(".st-key-selected-viewer h2")


def search_tab() -> None:
    wanted = search_from_url()
    with st.form("search-form", border=False):
        row = st.container(horizontal=True, vertical_alignment="bottom")  # the button below the box when it is narrow
        text = row.text_input("Search text", key="search-text", placeholder="e.g. koilocytes in cervical epithelium")
        submitted = row.form_submit_button("Search", type="primary")
    refusal = ""  # an upload's, said by the results line where no search is shown, else below the uploader
    with st.expander("Search by image"):
        image = st.file_uploader(
            f"Find pages, figures and cases like this image ({IMAGE_KINDS})", key="image", **upload_limit(QUERY_IMAGE)
        )
        beside_upload = st.empty()
        if image is not None and unsupported_file(image.name, IMAGE_TYPES):
            why = f"{image.name} is not a {IMAGE_KINDS} image: choose one of those to search by image."
            refusal = not_an_image(image.name, why)
            forget_for_refused(image.file_id)
            image = None
        words = words_with_image(text) if image is not None else ""
    filter_row()
    filters = chosen_filters()
    status = st.empty()  # the results' count, a live region: one element across reruns, so its new text is read out
    said = ""  # what the live region says: the results' count, no results, what to type, or why the API refused
    asked = (image.file_id, words) if image is not None else None  # what the uploader and its checkbox ask for
    if submitted:
        said = search_submitted(text, words, image, filters, status)
    elif wanted is not None:  # the URL names another search: a link, a reload, Back or Forward
        said = search_named(wanted, image, filters, status)
    elif asked and asked != st.session_state.get("image_asked"):  # an image dropped, its words ticked or unticked
        image_searched(image, words, filters, status)
    elif image_taken_out(asked, refusal):
        words_left_searched(text, filters, status)
    # Compared run to run, not told by a callback: the checkbox's callback also fired on its value from before Back,
    # still in the browser, and searched the image in place of the search Back went to.
    st.session_state.image_asked = asked
    hits = st.session_state.get("hits")
    cards = group_cases(hits or [])
    if hits is not None and not said:
        title, images = st.session_state.get("results_title", ""), grouped_images(cards)
        said = (not cards and nothing_indexed()) or results_status(len(cards), title, images, searched_with_words())
    why, sent = ("", None) if said else st.session_state.get("search_refused") or (refusal, None)
    live_status(status, said or why, refused=bool(why))
    if sent:  # what the API answered, for a bug report
        details(sent)
    if refusal and refusal != why:  # the upload left in its uploader under a text search's results
        beside_upload.error(plain(refusal))
    if note := st.session_state.get("url_dropped"):  # a filter the link named, which the library lacks
        st.warning(plain(note))
    meaning_alone = bool(hits) and not any(found_by_words_or_image(hit.get("matched_by") or {}) for hit in hits)
    if note := unknown_words_line(st.session_state.get("unknown_words", []), meaning_alone):
        st.warning(plain(note))
        did_you_mean(st.session_state.unknown_words)
    if not hits:
        return
    selected = st.session_state.get("selected")
    beside = selected is not None and not on_phone()  # in a phone's width, the viewer goes below the card it opened
    results, side = st.columns([5, 7]) if beside else (st.container(), None)
    with results:
        note = look_alike_note(hits, index_has_cases()) if st.session_state.get("by_image") else None
        if note:
            st.info(note)
        places = distinct_places([card[0] for card in cards])
        for n, (card, where) in enumerate(zip(cards, places, strict=True)):
            result_card(card, n, look_alike=note is not None, where=where)
            if selected is not None and not beside and card[0]["id"] == st.session_state.get("selected_card"):
                viewer(selected, "selected")  # stacked below every card, a phone's was some 7000 pixels down
        if more_results(st.session_state.k, len(hits)):
            st.button("Show more", key="show-more", on_click=show_more)
    if side is not None:
        with side:
            viewer(selected, "selected")


def words_with_image(text: str) -> str:
    """The words an image search matches too: the search box's, where the student ticks the checkbox beside the
    uploader that offers them (``WITH_WORDS``, off at first). A student dropping an image means "find things like this
    image", and the words left from a search before took over its results; ticking or unticking searches again."""
    if not text.strip():
        return ""
    return text if st.checkbox(label_plain(f"Also match the words {quoted(text)}"), key=WITH_WORDS) else ""


def image_taken_out(asked: tuple | None, refusal: str) -> bool:
    """Whether the image whose search is shown was taken out of the uploader since the last run (its chip's x): the
    uploader asks for nothing now (``asked``), and holds no file refused (``refusal``: ``forget_for_refused`` forgot
    that search)."""
    was_asked = st.session_state.get("image_asked") is not None
    return asked is None and was_asked and not refusal and shown_path() == BY_IMAGE


def words_left_searched(text: str, filters: dict[str, list[str]], status) -> None:
    """In place of the search by an image taken out of the uploader, the search box's words (``text``), or with none
    no search, named in the URL; keyboard focus to the results line, or with no words to the search box: the line is
    then empty, and a screen reader said "status" and nothing. The image's results stayed, under its URL."""
    if text.strip():
        with searching(status):
            search_for(text, filters)
        move_focus(".results-status")
    else:
        forget_search()
        move_focus(".st-key-search-text input")
    keep_in_url(text if text.strip() else "", filters)


def search_submitted(text: str, words: str, image, filters: dict[str, list[str]], status) -> str:
    """The search the Search button asks for: the words alone, unless the image in the uploader is asked for too
    (``words``) or there are none; returns what the results line says in place of a count, if anything. With neither,
    no search is shown, nor named in the URL (and the tab's title): the line saying what to type stood above the
    results of the words just cleared, and a filter picked next searched them again."""
    if text.strip() and not words:
        with searching(status):
            search_for(text, filters)
        keep_in_url(text, filters)
    elif image is None:
        forget_search()
        keep_in_url(filters=filters)
        return "Type a query or upload an image."
    else:
        image_searched(image, words, filters, status)
    return ""


def image_searched(image, words: str, filters: dict[str, list[str]], status) -> None:
    """A new search by the image in the uploader (and ``words``), named in the URL unless the API refused it (a text
    file named .png: as ``forget_for_refused``, the URL then names no search, so a good image dropped next was not
    taken for a link to the refused one); keyboard focus to the results line: it fell to the page's body as the
    uploader redrew."""
    with searching(status):
        search_by_image(image, words, filters)
    if "search_refused" in st.session_state:
        keep_in_url()
    else:
        keep_in_url(words, filters, image_named(image))
    move_focus(".results-status")


def search_named(wanted: UrlSearch, image, filters: dict[str, list[str]], status) -> str:
    """The search the URL names where it is not the one shown (a link, a reload, Back or Forward), or none; returns
    what the results line says in place of a count: an image search's URL names its image (``image_named``) but cannot
    hold it, so where the uploader no longer holds that image (a new session, another image dropped since, one of the
    same file name included), the line says so. Forward to an image search showed a blank page, the image still in its
    uploader. A look-alike search's URL names its record, the line saying so where it is gone (``similar_named``)."""
    if wanted.image and (image is None or image_named(image) != wanted.image):
        forget_search()
        dropped = image_file_name(wanted.image)
        return f"Links keep no image: drop {dropped} under “Search by image” to search by it again."
    if not (wanted.image or wanted.text.strip() or wanted.similar):
        forget_search()
        return ""
    with searching(status):
        if wanted.similar:
            return similar_named(wanted.similar, filters, wanted.similar_key)
        if wanted.image:
            search_by_image(image, wanted.text, filters)
        else:
            search_for(wanted.text, filters)
    return ""


def did_you_mean(unknown: list[dict[str, Any]]) -> None:
    """After a text search with words no indexed text holds, a button that searches the text spelt as "did you mean"
    suggests (``corrected_query``): the suggestion was plain text to type over."""
    if (words := searched_words()) and (corrected := corrected_query(words, unknown)):
        label = plain(f"Search for {quoted(corrected)}")
        st.button(label, key="did-you-mean", on_click=search_instead, args=(corrected,))


def live_status(status, said: str, refused: bool = False) -> None:
    """``said`` in the results' live region (``status``, a placeholder): one element across reruns, so that each new
    text is read out. A search or upload ``refused`` is said here alone, boxed as an error (``REFUSED_LOOK``): an alert
    repeating it below read twice on the screen. On one line (``display_line``): Markdown reads nothing in an HTML
    block, which a blank line in a refusal quoting a query would have ended."""
    look = f"class='results-status refused' style='{REFUSED_LOOK}'" if refused else "class='results-status'"
    line = html.escape(display_line(said))
    status.markdown(f"<p role='status' aria-live='polite' {look}>{line}</p>", unsafe_allow_html=True)


@contextmanager
def searching(status) -> Iterator[None]:
    """While a search runs, the live region (``status``) says so and a spinner turns: a slow search left the results
    blank and silent, where Ask said it was working."""
    live_status(status, "Searching…")
    with st.spinner("Searching…", show_time=True):
        yield


def index_has_cases() -> bool:
    return any(v["value"] == "case" and v["count"] for v in facets()["fields"].get("kind", []))
