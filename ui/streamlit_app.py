"""The PathAtlas web UI (``pathatlas ui``): search, ask, library.

It talks to the REST API: a running ``pathatlas serve`` when PATHATLAS_API_URL is set, otherwise the same
API in process over a local index (FastAPI's TestClient), so both paths run the same code.

Search results are cards a reader scans (kind, citation, relevance in words, the matched passage with the
query's words marked, thumbnail; the images of one case on one card). Opening a card shows the page viewer
beside the results: the strip of the page around the matched passage, outlined, at reading size (the whole page one
click away), previous/next page, the PDF at that page (in process, that page downloaded as a PDF of its own) and a
citation to copy; a case's viewer, its images, each with its own labels. On a phone the viewer goes below the card
opened, and the filters into one expander. The search shown (its text and filters) and the tab chosen are kept in
the page's URL: a reload searches again, Back and Forward step through searches (each in the tab it was left in), and
a search can be bookmarked or shared.

Accessibility: every image has a text alternative (citation, caption, case diagnosis), and a case's images a link to
each at full size; the results' count (of cards, as headings) is a polite live region naming the search and its
filters, and a filter picked searches again; Open, Find similar and Show more move keyboard focus to what they drew;
the browser tab's title names the view; buttons are named by what they open, an uploader's by what it takes
(``UPLOADER_NAMES``); headings go h1 (the app), h2 (a result, an option, the viewer); captions and quotes keep 4.5:1
contrast; an unreachable API is one sentence, and the rest of the page still draws; images the API refuses are one
line, not blank cards. Media URLs carry the API's root path (``pathatlas serve --root-path``) for a browser; the UI
fetches them under its own base URL (``media_path``), directly or through the proxy.
"""

from __future__ import annotations

import html
import inspect
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import streamlit as st
from PIL import Image
from streamlit import runtime

from pathatlas.indexer.sources.cases import HEIC_HINT, HEIC_SUFFIXES, IMAGE_SUFFIXES
from pathatlas.indexer.sources.notes import NOTE_SUFFIXES
from pathatlas.indexer.sources.pdf import page_as_pdf
from pathatlas.retrieval.marks import query_terms
from pathatlas.retrieval.records import display_name
from pathatlas.retrieval.stores.base import fold
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.hits import found_by_words_or_image
from pathatlas.ui.present import (
    PAGE_SIZE,
    SCORES_NOTE,
    card_repeats,
    case_about,
    case_image_text,
    citation_text,
    distinct_places,
    error_message,
    focus_script,
    found_by,
    full_size_name,
    group_cases,
    grouped_images,
    highlight,
    image_alt,
    img_html,
    job_away_message,
    job_refused_message,
    job_unanswered_message,
    job_unknown_message,
    job_waited_message,
    look_alike_note,
    media_path,
    media_problem,
    more_results,
    open_label,
    opens_mid_text,
    option_heading,
    outline,
    place,
    plain,
    quote_about,
    refusal_said,
    relevance_words,
    results_status,
    served_root,
    shorten,
    similar_label,
    stored_title,
    tab_title,
    timed_out_message,
    unknown_words_line,
    unreachable_message,
    unsettled_said,
    unsupported_file,
    values_said,
)

KINDS = {"page": "Page", "figure": "Figure", "case": "Case"}
FILTERS = {"kind": "Kind", "source": "Source", "organ": "Organ", "diagnosis": "Diagnosis", "chapter": "Chapter"}
TABS = ("Search", "Ask", "Library")
SIMILAR = "/search/similar"
READ_ONLY_POSTS = ("/search", "/ask")  # and /search/image, /search/similar, /ask/image
BADGE = {"best match": "green", "strong match": "green", "good match": "blue", "related": "gray"}
READING_DPI = 110
CASE_IMAGE_WIDTH = 320
CONTEXT_POINTS = 72  # the page shown above and below a matched box: an inch, five or six lines of a book's text
# What an image upload may be, in Search and Ask: what the API and a case folder read (a WebP saved from a browser, a
# GIF; Ask took PNG and JPEG only). (A bare string here would be drawn.)
IMAGE_TYPES = tuple(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)
IMAGE_KINDS = "JPEG, PNG, TIFF, WebP, BMP or GIF"
LIBRARY_TYPES = ("pdf", *(suffix.lstrip(".") for suffix in NOTE_SUFFIXES), "zip")
LIBRARY_KINDS = f"a PDF, lecture notes ({', '.join(NOTE_SUFFIXES)}) or a .zip of them or of a case folder"
# Uploaders take any file and the app refuses the wrong type itself: Streamlit's own refusal (``type=``) is shown only
# in a tooltip, which a keyboard or screen reader user never finds.
#
# What Streamlit 1.65 (October 2026) added, checked rather than required while that release is new (pyproject.toml asks
# for 1.63: its tabs tell the app the tab chosen, expanders take a key, uploaders a size limit, menus no "Select all");
# tests/test_s43_ui_module.py runs the image and tab fallbacks.
IMAGE_ALT = "alt" in inspect.signature(st.image).parameters  # Streamlit before ``alt``: images drawn by st.html
TAB_BOUND = "bind" in inspect.signature(st.tabs).parameters  # Streamlit keeps the tab in the URL itself, Back included
TABLE_ALT = "alt" in inspect.signature(st.table).parameters  # before it, a table is named by its caption for sight only
QUERY_IMAGE = "max_query_image_mb"  # /health's limit of an image query, which the search and ask uploaders say
MEDIA_CACHED = 256  # thumbnails (tens of KB) and rendered pages (about 1 MB) kept for reruns, shared by sessions
QUOTED_CHARS = 60  # of a query the results line repeats: a pasted paragraph was repeated whole
CARD_ORGAN_CHARS = 80  # of a case's organ its card shows (the case viewer, all): a 3000-character one filled the card
CONNECT_SECONDS = 10  # a service that is up accepts a connection at once; the answer may take minutes


def ui_settings() -> Settings:
    """The settings, read once a session: the API's URL (``api_url``), its token as the server reads it (stripped, so
    the UI sends the token the server compares), whether the Library is read-only."""
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    return st.session_state.settings


@st.cache_resource
def backend():
    """The REST API's client: a running service's (``api_url``), waiting ``ui_timeout_s`` for an answer (an LLM
    answerer's may take minutes; 120 s cut them off as "not reachable"), else the API in process."""
    settings = ui_settings()
    if settings.api_url:
        waits = httpx.Timeout(settings.ui_timeout_s, connect=CONNECT_SECONDS)
        return httpx.Client(base_url=settings.api_url, timeout=waits)
    from fastapi.testclient import TestClient

    from pathatlas.ui.api.app import create_app

    client = TestClient(create_app())
    client.__enter__()  # run the app's lifespan once: models and index load here
    return client


def headers() -> dict[str, str]:
    """The bearer token the UI was given: the lecturer's (PATHATLAS_API_TOKEN), else the upload token, with which the
    API adds sources and refuses a removal in one line (shown as every refusal is, ``refused``)."""
    settings = ui_settings()
    token = settings.api_token or settings.upload_token
    return {"Authorization": f"Bearer {token}"} if token else {}


class Unreachable(Exception):
    """The REST API did not answer (stopped, or not started): raised where a cached function must not keep a
    failure, shown by ``say_unreachable`` everywhere else."""


class TimedOut(Unreachable):
    """The REST API was reached but its answer took longer than the UI waits (``ui_timeout_s``): said as that, not as
    a service to start (``timed_out_message``)."""


def fetch(method: str, path: str, **kwargs) -> httpx.Response:
    """The API's response, whatever its status; Unreachable where no server answered. A request that changes nothing
    (``read_only``) is sent once more where its connection failed before an answer: the shared client reuses a
    connection the service may close as it goes idle (uvicorn's 5 s keep-alive), and the UI said a healthy service was
    not reachable."""
    try:
        try:
            return backend().request(method, path, **kwargs)
        except (httpx.NetworkError, httpx.RemoteProtocolError):  # not a timeout: waiting twice helps no one
            if not read_only(method, path):
                raise
            return backend().request(method, path, **kwargs)
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:  # connected: the service is up, and slow
        raise TimedOut(str(exc)) from exc
    except httpx.TransportError as exc:  # connection refused or reset, or not made in time: no answer at all
        raise Unreachable(str(exc)) from exc


def read_only(method: str, path: str) -> bool:
    """Whether a request only reads, so that sending it twice is harmless: a GET, a search or a question; never an
    upload to index nor a removal."""
    return method in ("GET", "HEAD") or path.startswith(READ_ONLY_POSTS)


def say_unreachable(failure: Unreachable) -> None:
    """Note that the API did not answer (``failure``: unreachable, or ``TimedOut``): ``notice_unreachable`` shows it
    once, above the tabs, at the run's end (a button callback runs before the page is drawn, and every tab asks the
    API)."""
    settings = ui_settings()
    timed_out = isinstance(failure, TimedOut)
    said = timed_out_message(settings.ui_timeout_s) if timed_out else unreachable_message(settings.api_url)
    st.session_state.unreachable = said


def call(method: str, path: str, **kwargs) -> httpx.Response | None:
    """The API's answer; None where it refused (shown) or did not answer (``reached``)."""
    response = reached(method, path, **kwargs)
    if response is None or response.status_code < 400:
        return response
    refused(method, path, response)
    return None


def reached(method: str, path: str, **kwargs) -> httpx.Response | None:
    """The API's response, whatever its status; None where no server answered (``say_unreachable``)."""
    try:
        return fetch(method, path, **kwargs)
    except Unreachable as failure:
        say_unreachable(failure)
        return None


def refused(method: str, path: str, response: httpx.Response) -> str:
    """Show an API refusal as its one line, as written (it may name a file or zip member of an upload), with the
    status and body as sent under Details (for a bug report); the line is returned for a live region to say."""
    line = error_message(detail_of(response))
    st.error(plain(line))
    details(answered(method, path, response))
    return line


def answered(method: str, path: str, response: httpx.Response) -> str:
    """A refused request and the API's answer as sent, its status and body, for a bug report (``details``)."""
    return f"{method} {path}: {response.status_code}\n{response.text}"


def details(said: str) -> None:
    """``said`` (``answered``) under a closed Details expander, below the line a student reads."""
    with st.expander("Details"):
        st.code(said, language=None, wrap_lines=True)


def detail_of(response: httpx.Response) -> Any:
    """An API error's ``detail`` (a sentence, or FastAPI's 422 list); where the body holds none (a proxy's or a
    server's own), what ``refusal_said`` says for it."""
    if (detail := api_detail(response)) is not None:
        return detail
    headers = response.headers
    status, content_type = response.status_code, headers.get("content-type", "")
    return refusal_said(status, response.text, content_type, headers.get("X-Request-ID"))


def api_detail(response: httpx.Response) -> str | list | None:
    """The ``detail`` of a JSON error body (a sentence, or FastAPI's 422 list); None where there is none: another body,
    JSON of other fields, or a JSON content type over text that is none (a proxy's)."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str | list) else None


def api_has_none(response: httpx.Response) -> bool:
    """Whether the API itself answered that what was asked for is not there (its 404, with its sentence), not a
    proxy's 404 page for a wrong address, nor any other refusal."""
    return response.status_code == 404 and api_detail(response) is not None


class MediaRefused(Exception):
    """The API refused an image: its path, the API's detail and its answer as sent (``answered``). Raised where a cached
    function must not keep a failure (a busy or restarted service serves it next run), shown by ``notice_media``."""


@st.cache_data(ttl=600, show_spinner=False)
def cached_root() -> str:
    """The path prefix the API is served under (``served_root``), "" where its OpenAPI document is not served (404).
    Any other refusal raises Unreachable, which is not cached: a proxy's 502 while the service restarts would otherwise
    leave every image unfound for ten minutes, in every session."""
    response = fetch("GET", "/openapi.json")
    if response.status_code == 404:
        return ""
    if response.status_code >= 400:
        raise Unreachable(f"GET /openapi.json: {response.status_code}")
    return served_root(response.json()) if "json" in response.headers.get("content-type", "") else ""


@st.cache_data(ttl=600, max_entries=MEDIA_CACHED, show_spinner=False)
def cached_media(path: str) -> bytes:
    """Raises Unreachable and MediaRefused, which are not cached: the image comes once the server serves it."""
    response = fetch("GET", path)
    if response.status_code >= 400:
        raise MediaRefused(path, error_message(detail_of(response)), answered("GET", path, response))
    return response.content


def media(url: str) -> bytes | None:
    """The image at a media URL the API gave (``media_path``); None where it could not be had, which the run's end
    says in one line (``notice_media``) instead of leaving the card blank."""
    try:
        return cached_media(media_path(url, cached_root()))
    except Unreachable as failure:
        say_unreachable(failure)
    except MediaRefused as exc:
        st.session_state.setdefault("media_refused", []).append(exc.args)
    return None


@st.cache_data(ttl=600, show_spinner=False)
def cached_upload_mb(limit: str) -> int | None:
    """The API's limit ``limit`` (/health's ``limits``: ``max_upload_mb``, ``max_query_image_mb``), in MB; None where it
    does not say. Raises Unreachable, which is not cached."""
    response = fetch("GET", "/health")  # 503 while the index cannot search: its limits still stand
    told = "json" in response.headers.get("content-type", "")
    return (response.json().get("limits") or {}).get(limit) if told else None


def upload_limit(limit: str = "max_upload_mb") -> dict[str, int]:
    """An uploader's limit: the API's (``limit``: PATHATLAS_MAX_UPLOAD_MB where it runs, for an image query
    PATHATLAS_MAX_QUERY_IMAGE_MB), not above what Streamlit itself takes (``server.maxUploadSize``, which ``pathatlas
    ui`` sets to this machine's upload setting), so that an uploader says the size that is refused instead of
    Streamlit's "200MB per file"; Streamlit's own where the API does not say."""
    try:
        megabytes = cached_upload_mb(limit)
    except Unreachable:  # the page's other requests say so
        return {}
    return {"max_upload_size": min(megabytes, st.get_option("server.maxUploadSize"))} if megabytes else {}


NO_FACETS: dict[str, Any] = {"fields": {}, "by_source": {}}


@st.cache_data(ttl=60, show_spinner=False)
def cached_facets() -> dict[str, Any]:
    """Raises Unreachable, which is not cached: the filters come back with the server, not a minute later."""
    response = fetch("GET", "/facets")
    return response.json() if response.status_code < 400 else NO_FACETS


def facets() -> dict[str, Any]:
    return unless_unreachable(cached_facets, NO_FACETS)


def unless_unreachable(cached: Callable[..., Any], default: Any, *args: Any) -> Any:
    """``cached(*args)`` (a cached function asking the API); ``default`` where the API did not answer, which the run's
    end says (``say_unreachable``): the cached function raises Unreachable so as not to keep the failure."""
    try:
        return cached(*args)
    except Unreachable as failure:
        say_unreachable(failure)
        return default


def notice_unreachable(notice) -> None:
    """The unreachable API's one sentence in ``notice`` (a placeholder above the tabs), once per run."""
    if message := st.session_state.pop("unreachable", None):
        notice.error(message)


def notice_media(notice) -> None:
    """The images the API refused this run as one line in ``notice`` (a placeholder above the tabs), what it answered
    under Details: a proxy's error page had been the line's reason, markup and all."""
    if refused := st.session_state.pop("media_refused", None):
        with notice.container():
            st.error(plain(media_problem([(path, said) for path, said, _ in refused])))  # the service's words
            details("\n\n".join(dict.fromkeys(sent for _, _, sent in refused)))


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


# -- search ------------------------------------------------------------------------------------
def filter_values(name: str) -> list[dict[str, Any]]:
    """The values filter ``name`` offers, with their counts. Passages are shown, and found, as their pages: "passage"
    would be a second "page"."""
    values = facets()["fields"].get(name, [])
    return [v for v in values if v["value"] in KINDS] if name == "kind" else values


def value_names(name: str) -> dict[str, str]:
    """Each value filter ``name`` offers, by the name its menu shows (a source's file name, not its id)."""
    return {v["value"]: v.get("label") or v["value"] for v in filter_values(name)}


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
    """Whether the browser says it is a phone ("Mobi" in its User-Agent, as MDN advises): Streamlit tells the app no
    screen width, and on a narrow one it stacks every column, filter menus and the viewer beside the results alike."""
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


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


def chosen_filters() -> dict[str, list[str]]:
    """The filters the menus hold, read from their state (a menu's callback runs before they are drawn); a menu
    holding every value (``narrows``) filters nothing, its values left shown so that one can be unpicked."""
    picked = {name: values for name in FILTERS if (values := st.session_state.get(f"filter-{name}"))}
    return {name: values for name, values in picked.items() if narrows(name, values)}


def sent_filters(path: str, chosen: dict[str, list[str]]) -> dict[str, list[str]]:
    """The filters a search at ``path`` sends: find similar looks for any kind of record like the one clicked."""
    return {name: values for name, values in chosen.items() if not (path == SIMILAR and name == "kind")}


def filters_said(filters: dict[str, list[str]]) -> str:
    """A search's filters as its results line says them: "in organ colon or lung, kind case"."""
    said = []
    for name, values in filters.items():
        named = value_names(name)
        said.append(f"{FILTERS[name].lower()} {values_said([named.get(v, v) for v in values], list(named.values()))}")
    return f"in {', '.join(said)}" if said else ""


def narrows(name: str, values: list[str]) -> bool:
    """Whether picking ``values`` in filter ``name`` is a filter. Every value of a menu of several picked is none (a
    filter would drop each record without the field: LC25000's tiles name no organ), though the menu keeps them shown
    (``chosen_filters``) so that one can be unpicked. One value picked from a menu of one is a choice ("lung" where the
    other records name no organ). While the values are unknown (the API unreachable) a pick is kept."""
    offered = value_names(name)
    return len(offered) < 2 or not offered.keys() <= set(values)


def refilter() -> None:
    """Filter menu callback: the search shown (by text, image or look) again under the filters now chosen, and a text
    search's URL naming them. The unfiltered results, their count and the URL stayed until Search was pressed, and a
    screen reader heard nothing change. A menu holding every value filters nothing (``narrows``)."""
    if "hits" not in st.session_state and "search_refused" not in st.session_state:
        return  # no search shown
    method, path, title, kwargs, _ = st.session_state.last_search
    filters = sent_filters(path, chosen_filters())
    run_search(method, path, title, filters, **kwargs)
    if text := st.query_params.get("q"):  # the URL names a text search alone
        keep_in_url(text, filters)


def url_search() -> tuple[str, dict[str, list[str]]]:
    """The text search the page's URL names: its text (``q``) and filters (a parameter per value, named as the
    filter). A blank value (``organ=``) filters nothing and is left out, as an empty menu is."""
    params = st.query_params
    filters = {name: [value for value in params.get_all(name) if value.strip()] for name in FILTERS}
    return params.get("q", ""), {name: values for name, values in filters.items() if values}


def keep_in_url(text: str = "", filters: dict[str, list[str]] | None = None) -> None:
    """Name the search shown in the page's URL, beside its tab, so that a reload searches it again, Back and Forward
    step through searches (Streamlit adds a history entry for each URL the app sets) and it can be bookmarked or
    shared. An image or look-alike search names none: an uploaded image stays out of URLs. The note of filters an
    earlier URL named that the library lacks goes: the URL now names the search shown. A tab bound to the URL
    (``TAB_BOUND``) is Streamlit's to write."""
    tab = {"tab": st.query_params["tab"]} if "tab" in st.query_params and not TAB_BOUND else {}
    st.query_params.from_dict({**({"q": text} if text else {}), **(filters or {}), **tab})
    st.session_state.url_search = url_search()
    st.session_state.pop("url_dropped", None)


def search_from_url() -> str | None:
    """The text of the search the URL names where it is not the search shown (a bookmark or a link opened, a reload,
    Back or Forward), with its text and filters put in the search form; None where the URL names the search shown.
    Filter values are read as the menus hold them (``menu_value``); one the library does not hold is left out, said
    (``dropped_note``) and dropped from the URL, which then names the search shown; so is a filter naming every value
    (``narrows``), unsaid. While the library's values are unknown (the API unreachable) the URL is left as written."""
    wanted = url_search()
    if wanted == st.session_state.get("url_search"):
        return None
    st.session_state.url_search = wanted
    st.session_state.pop("url_dropped", None)
    text, filters = wanted
    read = {name: {value: menu_value(name, value) for value in values} for name, values in filters.items()}
    kept = {name: list(dict.fromkeys(filter(None, held.values()))) for name, held in read.items() if any(held.values())}
    kept = {name: values for name, values in kept.items() if narrows(name, values)}
    if kept != filters and facets()["fields"]:
        keep_in_url(text, kept)
        dropped = [(name, value) for name, held in read.items() for value, found in held.items() if found is None]
        st.session_state.url_dropped = dropped_note(dropped)
    st.session_state["search-text"] = text
    for name in FILTERS:
        st.session_state[f"filter-{name}"] = kept.get(name, [])
    return text


def menu_value(name: str, value: str) -> str | None:
    """The menu entry of filter ``name`` a URL's ``value`` names, read as REST reads a filter (an organ, diagnosis or
    kind whatever its case or accents; a source by its file name as well as its id, the menu's value); None where the
    library holds none. A link written by hand or by another tool says "organ=Lung" or "source=atlas.pdf"."""
    offered = filter_values(name)
    if name == "source":
        found = [v for v in offered if value == v["value"]] or [v for v in offered if value == v.get("label")]
    else:  # as the stores compare a filter (``fold``); a kind is a lower-case name
        wanted = fold(name, value.casefold() if name == "kind" else value)
        found = [v for v in offered if fold(name, v["value"]) == wanted]
    return found[0]["value"] if found else None


def dropped_note(dropped: list[tuple[str, str]]) -> str | None:
    """The one line naming the URL's filters the library does not hold, which the search shown leaves out."""
    if not dropped:
        return None
    named = ", ".join(f"{name}={value}" for name, value in dropped)
    if len(dropped) == 1:
        return f"filter {named} is not in this library; showing results without it"
    return f"filters {named} are not in this library; showing results without them"


def search_for(text: str, filters: dict[str, list[str]]) -> None:
    st.session_state.terms = query_terms(text)
    run_search("POST", "/search", f"for {quoted(text)}", filters, json={"text": text})


def quoted(text: str) -> str:
    """A query as the results line repeats it ("for “koilocytes”"), cut to ``QUOTED_CHARS`` characters."""
    return f"“{shorten(text, QUOTED_CHARS)}”"


def forget_search() -> None:
    """No search shown: the URL named none (Back to the page as first opened)."""
    for key in ("hits", "unknown_words", "selected", "search_refused", "url_dropped"):
        st.session_state.pop(key, None)


def forget_for_refused(file_id: str) -> None:
    """A refused upload's first run: the results shown, an earlier search's, go (read under the refusal, they were
    this file's), the URL names no search, and keyboard focus goes to the results line, which says why (it fell to
    the page's body as the uploader redrew)."""
    if st.session_state.get("searched_image") != file_id:
        st.session_state.searched_image = file_id
        forget_search()
        keep_in_url()
        move_focus(".results-status")


def run_search(method: str, path: str, title: str, filters: dict[str, list[str]], **kwargs) -> None:
    """A new search: its first page of results, the viewer closed; kept so that "Show more" can ask for more and a
    filter picked can ask again. ``title`` says what was searched after the count ("for “koilocytes”", "like
    slide.png"); ``kwargs``, the request without its filters and k."""
    st.session_state.selected = None
    st.session_state.last_search = (method, path, title, kwargs, filters)
    fetch_results(PAGE_SIZE)


def show_more() -> None:
    """Button callback: the last search again, for more results (thumbnails already seen come from the cache)."""
    if k := more_results(st.session_state.k, len(st.session_state.hits)):  # None: a click on a stale button
        shown = len(group_cases(st.session_state.hits))
        fetch_results(k)
        focus_results(shown)


def focus_results(first: int) -> None:
    """Keyboard focus to the heading of result card ``first`` (the first of find similar's, the first new one of show
    more's), or to the results line where no such card came: focus fell to the page's top, or stayed on the Show
    more button, now below the new cards."""
    cards = len(group_cases(st.session_state.get("hits") or []))
    move_focus(f".st-key-card-{first} h2" if first < cards else ".results-status")


def fetch_results(k: int) -> None:
    """The last search's first ``k`` results; the API ranks the same for any k, so more only adds cards below."""
    method, path, title, kwargs, filters = st.session_state.last_search
    body = "json" if "json" in kwargs else "data"  # a JSON body, or an uploaded image's form fields
    fields = {"filters": filters, "k": k} if body == "json" else {"filters": json.dumps(filters), "k": str(k)}
    sized = {**kwargs, body: {**kwargs[body], **fields}}
    response = reached(method, path, **sized)
    if response is None or response.status_code >= 400:  # why, not "no results", which would blame the query
        why = refused(method, path, response) if response is not None else st.session_state.unreachable
        st.session_state.search_refused = why  # for the live region (``search_tab``): an alert alone is not read out
        st.session_state.pop("hits", None)
        st.session_state.pop("unknown_words", None)
        return
    st.session_state.pop("search_refused", None)
    found = response.json()
    st.session_state.k = k
    st.session_state.hits = found.get("hits", [])
    st.session_state.unknown_words = found.get("unknown_words", [])
    st.session_state.by_image = path != "/search"
    words = found.get("image_words")  # an uploaded diagram's labels, searched as words
    said = " ".join(filter(None, [title, filters_said(filters)]))
    st.session_state.results_title = said + (f" · words read in the image: {words}" if words else "")


def find_similar(hit: dict[str, Any]) -> None:
    title = f"that look like {hit['citation']['label']}"
    run_search("POST", SIMILAR, title, sent_filters(SIMILAR, chosen_filters()), json={"id": hit["id"]})
    st.session_state.terms = []
    keep_in_url()
    focus_results(0)


def result_card(card: list[dict[str, Any]], n: int, look_alike: bool, where: str) -> None:
    """One result card; ``where`` names the hit in its buttons, distinct from the other cards' (``distinct_places``)."""
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
            st.caption(plain(f"#{hit['rank']} · found by {why}" if why else f"#{hit['rank']}"))
            buttons = st.container(horizontal=True)
            key = f"open-{hit['id']}"
            buttons.button(plain(open_label(where)), key=key, on_click=open_result, args=(hit, key))
            if hit.get("has_image"):
                buttons.button(
                    plain(similar_label(where)), key=f"similar-{hit['id']}", on_click=find_similar, args=(hit,)
                )


def caption_start(hit: dict[str, Any]) -> str | None:
    """A figure's caption from its start where its snippet opens mid-sentence (``opens_mid_text``), for its text
    alternative: the record as stored (``GET /records``), whose snippet opens at its text's start. None otherwise, or
    where the API does not give it."""
    if hit["kind"] != "figure" or not opens_mid_text(hit.get("snippet") or ""):
        return None
    return unless_unreachable(cached_record_start, None, hit["id"])


@st.cache_data(ttl=600, max_entries=MEDIA_CACHED, show_spinner=False)
def cached_record_start(record_id: str) -> str | None:
    """Raises Unreachable, which is not cached."""
    response = fetch("GET", f"/records/{record_id}")
    return response.json().get("snippet") if response.status_code < 400 else None


def card_title(hit: dict[str, Any], images: int) -> str:
    """A result card's heading (Markdown): its kind and citation; a case's names the case (``case_title``)."""
    if hit["kind"] == "case":
        return case_title(hit["citation"].get("case") or "", hit.get("diagnosis"), stored_title(hit), images)
    return f"**{KINDS.get(hit['kind'], hit['kind'])}** · {plain(hit['citation']['label'] + card_repeats(hit))}"


def case_title(case: str, diagnosis: str | None, title: str | None, images: int) -> str:
    """A case's heading (Markdown), on its card and over its viewer: the case, what it shows (``case_about``), how many
    images it has. Its citation's label names the file of one image ("cases, case DEMO-02, images/DEMO-02-1.jpg")."""
    about = case_about(case, diagnosis, title)
    return "**Case** " + plain(" · ".join(filter(None, [case, about, f"{images} images" if images > 1 else ""])))


def open_result(hit: dict[str, Any], key: str) -> None:
    """Button callback: open a result (its Open button's ``key``) in the viewer beside the results. Keyboard focus moves
    to the viewer's title: redrawing the results beside it dropped focus to the page's top, and the viewer comes after
    every card in the tab order (below them all on a narrow screen, but a phone's, which goes below its card)."""
    st.session_state.selected, st.session_state.selected_from = hit, key
    move_focus(".st-key-selected-viewer h2")


def close(state: str) -> None:
    """Button callback: close the viewer kept in ``st.session_state[state]``; keyboard focus goes back to the button
    that opened it (the Close button's removal dropped it to the page's top)."""
    st.session_state[state] = None
    if origin := st.session_state.pop(f"{state}_from", None):
        move_focus(f".st-key-{origin} button")


def move_focus(selector: str) -> None:
    """Ask the end of this run to move keyboard focus to ``selector`` (``focus_script``); a count makes each request
    a new element, which runs its script, where the last run asked the same."""
    st.session_state.focus = (selector, st.session_state.get("focus_count", 0) + 1)
    st.session_state.focus_count = st.session_state.focus[1]


def open_page(hit: dict[str, Any], page: int, state: str) -> None:
    params = {"source": hit["citation"]["source_id"], "page": page}
    if (record := opened("/pages", f"page {page} is not in the index", params=params)) is not None:
        st.session_state[state] = record


def opened(path: str, missing: str, **kwargs) -> dict[str, Any] | None:
    """The record the API answers at ``path``, for a viewer; None where there is none, said in a toast kept until
    closed (no time limit to read it): ``missing`` where the API says it has none (``api_has_none``), any other
    refusal in its own words (a server's failure or a proxy's timeout read "not in the index"). Where the service did
    not answer, the run's end says so instead."""
    response = reached("GET", path, **kwargs)
    if response is None:
        return None
    if response.status_code < 400:
        return response.json()
    said = missing if api_has_none(response) else error_message(detail_of(response))
    st.toast(plain(said), duration="infinite")
    return None


def viewer(hit: dict[str, Any], state: str, level: int = 2) -> None:
    """The hit in ``st.session_state[state]`` at reading size: its page with the passage outlined, or the
    case's images; closing it clears that state. Its title is a heading of ``level`` (2 beside the results, 3 under
    the option or citation it opened from), so headings never skip a level."""
    citation = hit["citation"]
    with st.container(border=True, key=f"{state}-viewer"):
        case = case_details(hit) if hit["kind"] == "case" else None
        title = plain(citation["label"])
        if case:
            title = case_title(case["case"], case.get("diagnosis"), case.get("title"), len(case["images"]))
        (st.header if level == 2 else st.subheader)(title, anchor=False)
        actions = st.container(horizontal=True)  # buttons wrap onto rows, never squeezed to a letter a line
        if case:
            case_view(case, state)
        elif hit.get("page_url"):
            page_view(hit, state, actions)
        actions.button("Close", key=f"{state}-close", on_click=close, args=(state,))
        terms = st.session_state.get("terms", [])
        if hit.get("snippet"):
            st.markdown(
                f"<blockquote class='passage'>{highlight(hit['snippet'], terms)}</blockquote>",
                unsafe_allow_html=True,
            )
        st.caption("Citation to copy: select its text, or press the Copy to clipboard button beside it")
        st.code(citation_text(hit), language=None, wrap_lines=True)  # its copy button is kept visible (STYLE)
        if hit.get("has_image"):
            st.button(
                plain(similar_label(place(hit))), key=f"{state}-similar-{hit['id']}", on_click=find_similar, args=(hit,)
            )


def page_view(hit: dict[str, Any], state: str, nav) -> None:
    """The page with its passage outlined; its previous/next and PDF buttons go in ``nav``, the viewer's button row."""
    citation = hit["citation"]
    page = citation["page"]
    previous, following = (hit, page - 1, state), (hit, page + 1, state)
    nav.button("◀ Previous page", key=f"{state}-prev", disabled=page <= 1, on_click=open_page, args=previous)
    nav.button("Next page ▶", key=f"{state}-next", on_click=open_page, args=following)
    api = ui_settings().api_url
    if api:
        nav.link_button(f"Open the PDF at page {page}", f"{api.rstrip('/')}/records/{hit['id']}/pdf#page={page}")
    else:
        nav.download_button(
            f"Download page {page} as a PDF",
            page_pdf(hit["id"], page),
            file_name=f"{os.path.splitext(display_name(citation['source']))[0]}-p{page}.pdf",
            mime="application/pdf",
            key=f"{state}-pdf",
            on_click="ignore",
        )
    url = hit["page_url"]
    image = media(f"{url}{'&' if '?' in url else '?'}dpi={READING_DPI}")  # a caption quote's asks ?captioned=true
    if not image:
        return
    named = f"Page {page} of {citation['source']}"
    if not citation.get("bbox"):
        picture([image], [named], [f"page {page}"], width="stretch")
        return
    if hit.get("outline"):
        outlined, whole = "cited passage outlined", outline(image, hit["outline"], READING_DPI)
    else:
        outlined = "matched passage outlined" if hit["kind"] == "page" else "figure outlined"
        whole = Image.open(io.BytesIO(image)).convert("RGB")
    strip = around_box(whole, citation["bbox"], READING_DPI)
    picture([strip], [f"{named}, around the {outlined} in red"], [f"page {page} ({outlined} in red)"], width="stretch")
    with st.expander(f"Whole page {page}"):
        picture([whole], [f"{named}, the whole page, the {outlined} in red"], width="stretch")


def around_box(page: Image.Image, bbox: list[float], dpi: float) -> Image.Image:
    """The strip of ``page`` (rendered at ``dpi``) across its width from ``CONTEXT_POINTS`` above ``bbox`` (PDF points)
    to as far below: on a tall page the outlined box lay below the fold, and the reader saw the page's top."""
    scale = dpi / 72
    top = max(0, round((bbox[1] - CONTEXT_POINTS) * scale))
    bottom = min(page.height, round((bbox[3] + CONTEXT_POINTS) * scale))
    return page.crop((0, top, page.width, max(bottom, top + 1)))


def page_pdf(record_id: str, page: int) -> Callable[[], bytes]:
    """Page ``page`` of the record's source PDF as a PDF of its own, made when its button is clicked: the button names
    the page (the whole book opened at page 1), and a book's PDF is tens of MB, too much to fetch at every rerun."""
    client = backend()

    def pdf() -> bytes:
        response = client.get(f"/records/{record_id}/pdf")
        response.raise_for_status()
        return page_as_pdf(response.content, page)

    return pdf


def case_details(hit: dict[str, Any]) -> dict[str, Any] | None:
    """The case of a case image (``GET /cases``): its diagnosis, organ, labels and every image."""
    details = call("GET", f"/cases/{hit['id']}")
    return details.json() if details is not None else None


def case_view(case: dict[str, Any], state: str) -> None:
    """A case's diagnosis, organ and the labels its images share, then its images, each with its other labels (a
    stain) below it and a link to it at full size: one image's labels were shown as the whole case's."""
    diagnosis, organ = plain(case.get("diagnosis") or "n/a"), plain(case.get("organ") or "n/a")
    st.markdown(f"**Diagnosis:** {diagnosis}  \n**Organ:** {organ}")
    shared = case.get("labels") or {}
    if shared:
        st.markdown(labels_text(shared))
    total = len(case["images"])
    row = st.container(horizontal=True, key=f"{state}-case-images")  # their toolbars hidden (STYLE)
    for n, image in enumerate(case["images"], start=1):
        if data := media(image["url"]):
            with row.container(width=CASE_IMAGE_WIDTH):
                picture([data], [case_image_text(case, n, total)], width=CASE_IMAGE_WIDTH)
                if own := {k: v for k, v in (image.get("labels") or {}).items() if k not in shared}:
                    st.markdown(labels_text(own))
                st.markdown(f"[{plain(full_size_name(case, n))}]({full_size_url(data, image['id'])})")


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


def search_tab() -> None:
    wanted = search_from_url()
    with st.form("search-form", border=False):
        row = st.container(horizontal=True, vertical_alignment="bottom")  # the button below the box when it is narrow
        text = row.text_input("Search text", key="search-text", placeholder="e.g. koilocytes in cervical epithelium")
        submitted = row.form_submit_button("Search", type="primary")
    refusal = ""  # an upload's, for the live region where no search is shown
    with st.expander("Search by image"):
        image = st.file_uploader(
            f"Find pages, figures and cases like this image ({IMAGE_KINDS})", key="image", **upload_limit(QUERY_IMAGE)
        )
        if image is not None and unsupported_file(image.name, IMAGE_TYPES):
            why = f"{image.name} is not a {IMAGE_KINDS} image: choose one of those to search by image."
            refusal = not_an_image(image.name, why)
            st.error(plain(refusal))
            forget_for_refused(image.file_id)
            image = None
    filter_row()
    filters = chosen_filters()
    status = st.empty()  # the results' count, a live region: one element across reruns, so its new text is read out
    said = ""  # what the live region says: the results' count, no results, what to type, or why the API refused
    if submitted or (image is not None and st.session_state.get("searched_image") != image.file_id):
        if image is not None:
            st.session_state.terms = query_terms(text)
            st.session_state.searched_image = image.file_id
            with searching(status):
                run_search(
                    "POST",
                    "/search/image",
                    f"like {image.name}" + (f" and {quoted(text)}" if text.strip() else ""),
                    filters,
                    files={"image": (image.name, image.getvalue())},
                    data={"text": text or ""},
                )
            keep_in_url()
            move_focus(".results-status")  # it fell to the page's body as the uploader redrew
        elif text.strip():
            with searching(status):
                search_for(text, filters)
            keep_in_url(text, filters)
        else:
            said = "Type a query or upload an image."
    elif wanted is not None:  # the URL names another search: a link, a reload, Back or Forward
        if wanted.strip():
            with searching(status):
                search_for(wanted, filters)
        else:
            forget_search()
    hits = st.session_state.get("hits")
    cards = group_cases(hits or [])
    if hits is not None and not said:
        title, images = st.session_state.get("results_title", ""), grouped_images(cards)
        said = (not cards and nothing_indexed()) or results_status(len(cards), title, images)
    said = said or st.session_state.get("search_refused", "") or refusal
    live_status(status, said)
    if note := st.session_state.get("url_dropped"):  # a filter the link named, which the library lacks
        st.warning(plain(note))
    meaning_alone = bool(hits) and not any(found_by_words_or_image(hit.get("matched_by") or {}) for hit in hits)
    if note := unknown_words_line(st.session_state.get("unknown_words", []), meaning_alone):
        st.warning(plain(note))
    if not hits:
        return
    selected = st.session_state.get("selected")
    beside = selected is not None and not on_phone()  # a phone's viewer goes below the card it opened
    results, side = st.columns([5, 7]) if beside else (st.container(), None)
    with results:
        note = look_alike_note(hits, index_has_cases()) if st.session_state.get("by_image") else None
        if note:
            st.info(note)
        places = distinct_places([card[0] for card in cards])
        for n, (card, where) in enumerate(zip(cards, places, strict=True)):
            result_card(card, n, look_alike=note is not None, where=where)
            if selected is not None and not beside and card[0]["id"] == selected["id"]:
                viewer(selected, "selected")  # stacked below every card, a phone's was some 7000 pixels down
        if more_results(st.session_state.k, len(hits)):
            st.button("Show more", key="show-more", on_click=show_more)
    if side is not None:
        with side:
            viewer(selected, "selected")


def live_status(status, said: str) -> None:
    """``said`` in the results' live region (``status``, a placeholder): one element across reruns, so that each new
    text is read out."""
    status.markdown(
        f"<p role='status' aria-live='polite' class='results-status'>{html.escape(said)}</p>", unsafe_allow_html=True
    )


@contextmanager
def searching(status) -> Iterator[None]:
    """While a search runs, the live region (``status``) says so and a spinner turns: a slow search left the results
    blank and silent, where Ask said it was working."""
    live_status(status, "Searching…")
    with st.spinner("Searching…", show_time=True):
        yield


def nothing_indexed() -> str:
    """Where the library holds nothing, the line saying so and how to add sources ("No results ...: try other words"
    blamed the query); "" where it holds something, or its contents are unknown (the API unreachable)."""
    fields = facets()["fields"]
    if not fields or fields.get("kind"):
        return ""
    health = reached("GET", "/health")
    told = health is not None and "json" in health.headers.get("content-type", "")
    name = (health.json().get("index") if told else None) or "this index"
    where = "on the server ('pathatlas index')" if read_only_library() else "in the Library tab (or 'pathatlas index')"
    return f"Nothing is indexed at {name} yet: add sources {where}."


def index_has_cases() -> bool:
    return any(v["value"] == "case" and v["count"] for v in facets()["fields"].get("kind", []))


# -- ask ---------------------------------------------------------------------------------------
def evidence_quote(item: dict[str, Any], option: str, key: str, name: str) -> None:
    citation = item.get("citation") or {}
    stance = item.get("stance", "supports")
    colour = {"supports": "green", "related": "gray"}.get(stance, "red")
    label = plain(citation.get("label") or display_name(citation.get("source", "")))
    about = f" :gray-badge[{about}]" if (about := quote_about(item, option)) else ""
    st.markdown(f"> {plain(item.get('quote', ''))}\n\n:{colour}-badge[{stance}]{about} {label}")
    cited_evidence(citation, item.get("quote"), key, name)


def cited_evidence(citation: dict[str, Any], quote: str | None, key: str, name: str) -> None:
    """The Open button of one piece of cited evidence (``name``: "Open quote 2 for B", its accessible name, distinct
    from the other quotes'); the viewer opens right below the button clicked, where the reader is looking, not below
    every option, its title a heading under the option's."""
    if citation.get("evidence"):
        st.button(name, key=key, on_click=open_cited, args=(citation, quote, key))
    if st.session_state.get("cited") and st.session_state.get("cited_at") == key:
        viewer(st.session_state.cited, "cited", level=3)


def open_cited(citation: dict[str, Any], quote: str | None, key: str) -> None:
    """Button callback: open the cited record as the answer cites it. A quote's record is often its page, whose own
    box is none and whose snippet is the page's first lines: the viewer outlines the quote's box and shows the quote
    instead (the box alone where no quote is known: the page's first lines are not what was cited)."""
    record = opened(f"/records/{citation['evidence']}", "the cited record is no longer in the index")
    if record is None:
        return
    box = citation.get("bbox")
    own_box = box == record["citation"].get("bbox")
    snippet = quote or (record["snippet"] if own_box else "")
    cited = {**record["citation"], "bbox": box}
    st.session_state.cited = {**record, "citation": cited, "snippet": snippet, "outline": None if own_box else box}
    st.session_state.cited_at = st.session_state.cited_from = key
    move_focus(".st-key-cited-viewer h3")


def asked(question: str, options: str, image, scope: list[str]) -> dict[str, Any] | None:
    """The API's answer to a question (``options`` as typed, one a line; ``scope``, the sources to answer from); None
    where it refused or did not answer, or where nothing is indexed (each said): an answer from no evidence read as
    one. Options typed with their labels in order ("A. Koilocytes") are read without them, as every door reads them
    (``with_pasted_options``)."""
    if empty := nothing_indexed():
        st.info(empty)
        return None
    listed = [o.strip() for o in options.splitlines() if o.strip()]
    filters = {"source": scope} if scope else {}
    with st.spinner("Searching and weighing the evidence..."):
        if image is not None:
            response = call(
                "POST",
                "/ask/image",
                files={"image": (image.name, image.getvalue())},
                data={"question": question, "options": json.dumps(listed), "filters": json.dumps(filters)},
            )
        else:
            response = call("POST", "/ask", json={"question": question, "options": listed, "filters": filters})
    return response.json() if response is not None else None


def ask_tab() -> None:
    question = st.text_area("Question", placeholder="e.g. A cervical smear shows ... Which cells are these?")
    options = st.text_area("Options, one per line")
    image = st.file_uploader(f"Image (optional; {IMAGE_KINDS})", key="ask-image", **upload_limit(QUERY_IMAGE))
    if image is not None and unsupported_file(image.name, IMAGE_TYPES):
        why = f"{image.name} is not a {IMAGE_KINDS} image: choose one of those, or none."
        st.error(plain(not_an_image(image.name, why)))
        image = None
    sources = value_names("source")
    scope = st.multiselect(
        "Answer from",
        list(sources),
        key="ask-sources",
        format_func=sources.__getitem__,
        placeholder="every source",
        # no "Select all" row: Enter picked it ("Select 3 matches") where a reader typing a source meant its best
        # match, and every source picked is none (the filter menus keep theirs: "Select all", then one value unpicked,
        # is how a filter leaves one value out, ``narrows``)
        select_all=False,
    )
    if st.button("Ask", type="primary"):
        st.session_state.answer = asked(question, options, image, scope)
        st.session_state.cited = None
    answer = st.session_state.get("answer")
    if not answer:
        return
    options_out = answer.get("options") or []
    tied = [o for o in options_out if o.get("label") in (answer.get("tied") or [])]
    choice = answer.get("choice")  # the chosen option's 0-based index; ``answer`` is its text
    chosen = options_out[choice] if isinstance(choice, int) and 0 <= choice < len(options_out) and not tied else None
    letter = chosen.get("label") if chosen else None  # none in a tie: its choice is the first by its words, no lean
    text = chosen.get("text") if chosen else answer.get("answer") or ""
    shown = plain(f"{letter}. {text}" if letter and text and text != letter else (text or letter or ""))
    confidence = answer.get("confidence", 0.0)
    if note := unknown_words_line(answer.get("unknown_words", [])):  # an option that found no evidence by its words
        st.warning(plain(note))
    if answer.get("settled", True):
        st.success(f"Answer: {shown}  (confidence {confidence:.2f})")
    else:
        cases = any(c.get("case") for c in answer.get("citations") or [])
        said = unsettled_said(options_out, tied, shown, cases)
        st.warning(f"The evidence does not settle this. {said}  (confidence {confidence:.2f})")
    if answer.get("rationale"):
        st.caption(plain(answer["rationale"]))
    if options_out:
        if any(o.get("score") is not None for o in options_out):
            st.caption(SCORES_NOTE)  # the confidence above is the one number that claims a chance
        ordered = sorted(options_out, key=lambda o: (o.get("label") != letter, -(o.get("score") or 0)))
        for o in ordered:
            with st.container(border=True, key=f"option-{o.get('label')}"):
                st.header(option_heading(o, o.get("label") == letter), anchor=False)  # h2 under the h1
                if not o.get("evidence"):
                    st.caption("no quoted evidence for this option")
                for n, item in enumerate(o.get("evidence", [])):
                    name = f"Open quote {n + 1} for {o.get('label')}"
                    evidence_quote(item, str(o.get("label")), key=f"quote-{o.get('label')}-{n}", name=name)
    elif answer.get("citations"):  # an open question: its evidence is the answer's citations
        st.header("Cited evidence", anchor=False)
        for n, citation in enumerate(answer["citations"]):
            with st.container(border=True, key=f"citation-{n}"):
                st.markdown(plain(citation.get("label") or display_name(citation.get("source", ""))))
                cited_evidence(citation, None, key=f"cited-{n}", name=f"Open citation {n + 1}")
    else:
        st.info("No evidence cited.")
    with st.expander("Agent steps"):
        for step in answer.get("trace", []):
            st.markdown(
                f"**{step['step']}** "
                + ", ".join(plain(f"{k}: {v}") for k, v in step.items() if k not in ("step", "hits"))
            )


# -- library -----------------------------------------------------------------------------------
JOB_POLL_SECONDS = 1800
JOB_POLL_EVERY = 0.3  # seconds between polls of a job that runs
JOB_RETRY_STEP = 1.0  # seconds more each time before asking again a service that did not answer
JOB_RETRY_MOST = 30.0  # seconds at most, a Retry-After's included: a restart takes seconds to a minute
SERVICE_AWAY = (502, 503, 504)  # a reverse proxy's answers while the service behind it restarts, the service's busy
# What the Library's total counts of each kind, in a student's words: the facets count a case's images, not its cases
# (GET /sources counts those); passages, the parts of pages a search finds, are left out. (A bare string here would be
# drawn: Streamlit's magic.)
TOTALS = {"case": "case image", "figure": "figure", "page": "page"}
LIBRARY_CAPTION = "Each source: what was indexed from it, and how many problems it met (listed below the table)"


def source_problems(rows: list[dict[str, Any]]) -> None:
    """The problems each source met (an image skipped and why, a row read once), in an expander per source that has
    any, named as the table names it: the table counts them, and an instructor needs to know which images were skipped
    and why."""
    for row in rows:
        if problems := row.get("problems"):
            count = counted(len(problems), "problem")
            with st.expander(plain(f"{row['source']}: {count}")):
                st.markdown("\n".join(f"- {plain(problem)}" for problem in problems))


def counted(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def library_total(kinds: list[dict[str, Any]], cases: int) -> str:
    """The line under the Library's table: "In total: 16 case images, 6 figures, 4 pages", opening with the ``cases``
    they show where some case has several images ("In total: 7 cases, 16 case images, ...")."""
    counts = {v["value"]: v["count"] for v in kinds}
    said = [counted(n, word) for kind, word in TOTALS.items() if (n := counts.get(kind, 0))]
    if 0 < cases < counts.get("case", 0):
        said.insert(0, counted(cases, "case"))
    return "In total: " + (", ".join(said) or "nothing indexed yet")


def read_only_library() -> bool:
    """Whether sources are added and removed on the server alone (``pathatlas ui --host`` beyond loopback,
    cli.READ_ONLY_ENV)."""
    return ui_settings().ui_read_only


def library_tab() -> None:
    st.header("Indexed sources", anchor=False)  # h2 under the app's h1
    sources = call("GET", "/sources")
    rows = sources.json() if sources is not None else []
    counts = facets()["by_source"]  # by source id, as GET /sources lists them
    st.caption(LIBRARY_CAPTION)
    st.table(
        [
            {
                "source": plain(r["source"]),  # whole: sources sharing a file name are named by their folders
                "type": r["kind"],
                "pages": counts.get(r["id"], {}).get("page", 0),
                "figures": counts.get(r["id"], {}).get("figure", 0),
                "cases": r["cases"],
                "case images": counts.get(r["id"], {}).get("case", 0),
                "entries": r["entries"],
                "problems": len(r.get("problems", [])),
            }
            for r in rows
        ],
        **({"alt": LIBRARY_CAPTION} if TABLE_ALT else {}),
    )
    st.caption(library_total(facets()["fields"].get("kind", []), sum(r["cases"] for r in rows)))
    source_problems(rows)
    if message := st.session_state.pop("library_message", None):  # names an upload, its job's error, a source
        (st.success if message[0] == "ok" else st.error)(plain(message[1]))
    if sent := st.session_state.pop("library_details", None):  # a refused poll's answer as sent (``job_outcome``)
        details(sent)
    for note in st.session_state.pop("library_notes", []):  # an upload's problems quote its file names and rows
        st.info(plain(note))
    if read_only_library():
        st.caption("This library is read-only here: sources are added and removed on the server ('pathatlas index').")
        return
    upload = st.file_uploader(f"Add {LIBRARY_KINDS}", key="library-upload", **upload_limit())
    if upload is not None and unsupported_file(upload.name, LIBRARY_TYPES):
        st.error(f"{plain(upload.name)} is not {LIBRARY_KINDS}: choose one of those.")
        upload = None
    if upload is not None and st.button("Index it"):
        index_upload(upload.name, upload.getvalue())
    by_id = {r["id"]: r for r in rows}  # by id: two sources may share a name
    if by_id:
        chosen = by_id[st.selectbox("Remove a source", list(by_id), format_func=lambda i: by_id[i]["source"])]
        name, entries = chosen["source"], chosen["entries"]
        # One click must not delete a book: the button waits for this box, kept per source (another choice unticks it)
        sure = st.checkbox(f"Yes, remove {plain(name)} and its {entries} entries", key=f"remove-sure-{chosen['id']}")
        if st.button("Remove", disabled=not sure, help=None if sure else "Tick the box above first"):
            removed = call("DELETE", f"/sources/{chosen['id']}", headers=headers())
            if removed is not None:
                st.session_state.library_message = ("ok", f"removed {name}: {removed.json()['removed']} entries")
                cached_facets.clear()
                st.rerun()


def index_upload(name: str, data: bytes) -> None:
    """Index an uploaded file (POST /jobs), its progress on a bar, then rerun to list it; what came of it is kept for
    that run to say (``library_message``): drawn here, it was wiped by the rerun."""
    job = call("POST", "/jobs", files={"file": (name, data)}, headers=headers())
    if job is None:  # refused (said) or not answered (said at the run's end): nothing to follow
        return
    st.session_state.library_message = job_outcome(job.json()["id"], name)
    cached_facets.clear()
    st.rerun()


def job_outcome(job_id: str, name: str) -> tuple[str, str]:
    """What came of the job indexing upload ``name`` (("ok" or "error", the line to show)), polled until it ends or
    ``JOB_POLL_SECONDS`` pass (a job that never ends must not hang the page); its notes, and a refused poll's answer
    as sent, are kept for the Library's next run (``library_notes``, ``library_details``). A poll the service did not
    answer, or a proxy answered for it (``SERVICE_AWAY``), is asked again until then: the job goes on through a
    network blip or a proxy's brief 502 (a restart of the service itself ends it, as "interrupted"), and one refused
    poll had ended the follow."""
    path = f"/jobs/{job_id}"
    bar = st.progress(0.0, text="indexing")
    deadline = time.monotonic() + JOB_POLL_SECONDS
    done, retries = 0.0, 0  # the share indexed as last told; polls in a row the service did not answer
    while True:
        polled = job_poll(path)
        if service_away(polled) and time.monotonic() < deadline:
            bar.progress(done, text=plain(job_away_message(name)))
            time.sleep(min(job_retry_wait(retries, polled), max(0.0, deadline - time.monotonic())))
            retries += 1
            continue
        if polled is None:
            return "error", job_unanswered_message(name)
        if polled.status_code >= 400:
            st.session_state.library_details = answered("GET", path, polled)
            if api_has_none(polled):  # its sentence names GET /jobs: the Library says what to do in the page
                return "error", job_unknown_message(name, job_id)
            return "error", job_refused_message(name, error_message(detail_of(polled)))
        status, retries = polled.json(), 0
        if status["total"]:
            done = min(1.0, status["done"] / status["total"])
            bar.progress(done, text=plain(f"indexing {name}: {status['done']}/{status['total']}"))
        if status["status"] not in ("queued", "running"):
            st.session_state.library_notes = status.get("notes", [])
            return job_ended(status, name)
        if time.monotonic() > deadline:
            return "error", job_waited_message(name, status["status"], JOB_POLL_SECONDS, job_id)
        time.sleep(JOB_POLL_EVERY)


def job_poll(path: str) -> httpx.Response | None:
    """GET ``path`` (a job's state); None where the service did not answer, kept from the run's end (``reached`` says
    it there): the poll is asked again, and a page that said "not reachable" above a job that went on to end misled;
    an outage that outlasts the wait is said by ``job_outcome``."""
    try:
        return fetch("GET", path)
    except Unreachable:
        return None


def service_away(polled: httpx.Response | None) -> bool:
    """Whether a poll found the service away: no answer, or a proxy's (or its own busy) 502, 503 or 504."""
    return polled is None or polled.status_code in SERVICE_AWAY


def job_retry_wait(retries: int, polled: httpx.Response | None) -> float:
    """Seconds before asking again a service away after ``retries`` polls in a row that found it so: its Retry-After
    where given in seconds, else ``JOB_RETRY_STEP`` longer each time; at least ``JOB_POLL_EVERY`` (a Retry-After of 0
    must not flood a service coming up), at most ``JOB_RETRY_MOST`` (one of an hour outlasts the page's wait)."""
    asked = polled.headers.get("Retry-After", "").strip() if polled is not None else ""
    wait = float(asked) if asked.isascii() and asked.isdigit() else JOB_RETRY_STEP * (retries + 1)
    return min(max(wait, JOB_POLL_EVERY), JOB_RETRY_MOST)


def job_ended(status: dict[str, Any], name: str) -> tuple[str, str]:
    """The Library's line for a job that ended (GET /jobs/{id}'s ``status``): done, with how much was indexed; else
    its state and error."""
    if status["status"] != "done" and status.get("error"):
        return "error", f"{status['status']}: {status['error']}"
    progress = f" ({status['done']}/{status['total']} indexed)" if status["total"] else ""
    return ("ok" if status["status"] == "done" else "error"), f"{status['status']}: {name}{progress}"


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


def keep_tab() -> None:
    """Tab callback: the tab chosen in the URL (the first, Search, as none)."""
    if st.session_state.tab == TABS[0]:
        st.query_params.pop("tab", None)
    else:
        st.query_params["tab"] = st.session_state.tab


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
    # wider than a phone, the filters' expander is a plain row of menus, held open (``NARROW_FILTERS``)
    "@media (min-width:641px){.st-key-filter-row summary{display:none}.st-key-filter-row details{border:none!important}"
    ".st-key-filter-row [data-testid=stExpanderDetails]{padding:0;border:none}}"
    # a phone's width, whatever its User-Agent: less space above the title, and no "Press Enter to submit form" over
    # the query typed
    "@media (max-width:640px){[data-testid=stMainBlockContainer]{padding-top:3.5rem}"
    "[data-testid=InputInstructions]{display:none}}</style>"
)
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
# An alert saying what the results' live region says (a refused search, the service unreachable) is made a note: a
# screen reader read the sentence twice. Installed once per page; the live region is the one voice of a search's
# outcome. (A bare string here would be drawn.)
ONE_VOICE = (
    "<script>(() => { if (window.pathatlasOneVoice) return; window.pathatlasOneVoice = true;"
    " const quiet = () => { const said = document.querySelector('.results-status')?.textContent.trim();"
    " if (said) document.querySelectorAll('[data-testid=stAlertContainer][role=alert]').forEach(alert => {"
    " if (alert.textContent.trim() === said) alert.setAttribute('role', 'note'); }); };"
    " quiet(); new MutationObserver(quiet).observe(document.body,"
    " {childList: true, subtree: true, characterData: true}); })()</script>"
)
# The filters' expander (``filter_row``) closed once where the window is 640 px wide or less, as on a phone, and held
# open wider, where its name is hidden (``STYLE``): Streamlit knows no window's width, and a narrow desktop window
# stacked the five menus above the results. A click waits for the last to be drawn (two would close it again).
NARROW_FILTERS = (
    "<script>(() => { if (window.pathatlasNarrowFilters) return; window.pathatlasNarrowFilters = true;"
    " const narrow = matchMedia('(max-width: 640px)'); let closed = false, busy = false;"
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
    if focus := st.session_state.pop("focus", None):
        st.html(focus_script(*focus), unsafe_allow_javascript=True)
    st.set_page_config(page_title=page_title())


if __name__ == "__main__":
    main()
