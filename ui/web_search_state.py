"""The search shown, as the session keeps it: what was asked, under which filters, named in the page's URL, and its
results. Apart from the Search tab's drawing because a viewer opened from Ask starts one too (Find similar)."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Any, NamedTuple

import httpx
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from pathatlas.retrieval.marks import query_terms
from pathatlas.retrieval.records import RECORD_ID, RecordKey, image_hash
from pathatlas.retrieval.stores.base import fold
from pathatlas.ui.present import (
    PAGE_SIZE,
    error_message,
    group_cases,
    more_results,
    record_name,
    shorten,
    values_said,
)
from pathatlas.ui.web_client import answered, api_has_none, detail_of, facets, json_object, reached
from pathatlas.ui.web_common import TAB_BOUND, move_focus

KINDS = {"page": "Page", "figure": "Figure", "case": "Case"}
FILTERS = {"kind": "Kind", "source": "Source", "organ": "Organ", "diagnosis": "Diagnosis", "chapter": "Chapter"}
SIMILAR = "/search/similar"
BY_IMAGE = "/search/image"
QUOTED_CHARS = 60  # of a query the results line repeats: a pasted paragraph was repeated whole
IMAGE_HASH_CHARS = 8  # of an image's content hash in its URL (``image_named``): enough to tell a session's apart
NAMED_IMAGE = re.compile(rf"[0-9a-f]{{{IMAGE_HASH_CHARS}}}-(.+)", re.DOTALL)
WITH_WORDS = "image-with-words"  # the key of the checkbox that adds the search box's words to an image search
SIMILAR_KEY = "similar_"
"""What a URL's parameters naming a look-alike search's record by its key (``RecordKey``: a case image by its folder's
id, case and file, a page by its source's id and number) are called: the field's name after it ("similar_case")."""
KEY_FIELDS = tuple(field.name for field in fields(RecordKey))


class UrlSearch(NamedTuple):
    """The search a page's URL names: its words (``q``), the image it searched by (``image``: a hash of its bytes and
    its file name, ``image_named``; the image itself stays out of URLs), the record a look-alike search looks like
    (``similar``: its id, and its key beside it, ``similar_key``: a link made before its source was indexed again, a
    diagnosis fixed, still finds it) and its filters (a parameter per value, named as the filter). A tuple, so that
    the one a session keeps equals a new one after Streamlit reloads the app's modules (it does when a file of them
    changes): a dataclass's did not, and the URL then overwrote the words just typed."""

    text: str
    image: str
    filters: dict[str, list[str]]
    similar: str = ""
    similar_key: tuple[tuple[str, str], ...] = ()
    """``RecordKey.params`` of the record ``similar`` names, as GET /records takes them beside its id."""


def image_named(image: UploadedFile) -> str:
    """How a URL names an image searched (``UrlSearch.image``): a short hash of its bytes, then its file name
    ("3f2a9c1e-slide.png"). By its file name alone, Back to an earlier search by another "image.png" (every pasted
    image's name) searched the image now in the uploader, under the earlier search's URL."""
    return f"{image_hash(image.getvalue())[:IMAGE_HASH_CHARS]}-{image.name}"


def image_file_name(named: str) -> str:
    """The file name of an image as a URL names it (``image_named``); a URL from before the hash names it alone."""
    return found[1] if (found := NAMED_IMAGE.fullmatch(named)) else named


def filter_values(name: str) -> list[dict[str, Any]]:
    """The values filter ``name`` offers, with their counts. Passages are shown, and found, as their pages: "passage"
    would be a second "page"."""
    values = facets()["fields"].get(name, [])
    return [v for v in values if v["value"] in KINDS] if name == "kind" else values


def value_names(name: str) -> dict[str, str]:
    """Each value filter ``name`` offers, by the name its menu shows (a source's file name, not its id)."""
    return {v["value"]: v.get("label") or v["value"] for v in filter_values(name)}


def chosen_filters() -> dict[str, list[str]]:
    """The filters the menus hold, read from their state (a menu's callback runs before they are drawn); a menu
    holding every value (``narrows``) filters nothing, its values left shown so that one can be unpicked."""
    picked = {name: values for name in FILTERS if (values := st.session_state.get(f"filter-{name}"))}
    return {name: values for name, values in picked.items() if narrows(name, values)}


def any_kind(chosen: dict[str, list[str]]) -> dict[str, list[str]]:
    """The filters ``chosen`` but kind, which Find similar starts from: it looks for any kind of record like the one
    clicked (cases like a figure), while the kind chosen narrowed the search that record was found by. Its Kind menu is
    emptied to say so (``find_similar``): left showing "figure", the look-alike cases read as figures. A kind picked
    once the look-alikes are shown narrows them, as any filter does."""
    return {name: values for name, values in chosen.items() if name != "kind"}


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
    """Filter menu callback: the search shown (by text, image or look) again under the filters now chosen, and its URL
    naming them. The unfiltered results, their count and the URL stayed until Search was pressed, and a screen reader
    heard nothing change. A menu holding every value filters nothing (``narrows``)."""
    if shown_path() is None:
        return
    method, path, title, kwargs, _ = st.session_state.last_search
    chosen = chosen_filters()
    run_search(method, path, title, chosen, **kwargs)
    named = url_search()
    if named.text or named.image or named.similar:  # not the URL of a search the page could not show
        keep_in_url(named.text, chosen, named.image, named.similar, named.similar_key)


def shown_path() -> str | None:
    """The API path of the search shown (``last_search``: by text, image or look), its results or why there are none;
    None where none is shown."""
    if "hits" not in st.session_state and "search_refused" not in st.session_state:
        return None
    return st.session_state.last_search[1]


def url_search() -> UrlSearch:
    """The search the page's URL names. A blank filter value (``organ=``) filters nothing and is left out, as an empty
    menu is."""
    params = st.query_params
    filters = {name: [value for value in params.get_all(name) if value.strip()] for name in FILTERS}
    named = {name: values for name, values in filters.items() if values}
    key = tuple((name, params[SIMILAR_KEY + name]) for name in KEY_FIELDS if SIMILAR_KEY + name in params)
    return UrlSearch(params.get("q", ""), params.get("image", ""), named, params.get("similar", ""), key)


def keep_in_url(
    text: str = "",
    filters: dict[str, list[str]] | None = None,
    image: str = "",
    similar: str = "",
    similar_key: tuple[tuple[str, str], ...] = (),
) -> None:
    """Name the search shown in the page's URL, beside its tab, so that a reload searches it again, Back and Forward
    step through searches (Streamlit adds a history entry for each URL the app sets) and it can be bookmarked or
    shared. An image search names its image by its content and file name (``image_named``: ``search_tab`` searches
    it again where the uploader still holds it); a look-alike search the record it looks like, by its id and key
    (``similar``, ``similar_key``). The note of filters an earlier URL named that the library lacks goes: the URL now
    names the search shown. A tab bound to the URL (``TAB_BOUND``) is Streamlit's to write."""
    tab = {"tab": st.query_params["tab"]} if "tab" in st.query_params and not TAB_BOUND else {}
    searched = {"q": text, "image": image, "similar": similar, **{SIMILAR_KEY + name: v for name, v in similar_key}}
    named = {name: value for name, value in searched.items() if value}
    st.query_params.from_dict({**named, **(filters or {}), **tab})
    st.session_state.url_search = url_search()
    st.session_state.pop("url_dropped", None)


def search_from_url() -> UrlSearch | None:
    """The search the URL names where it is not the search shown (a bookmark or a link opened, a reload, Back or
    Forward), with its text, filters and whether its image search matched the words too (``WITH_WORDS``) put in the
    form; None where the URL names the search shown. Filter values are read as the menus hold them (``menu_value``);
    one the library does not hold is left out, said (``dropped_note``) and dropped from the URL, which then names the
    search shown; so is a filter naming every value (``narrows``), unsaid. While the library's values are unknown (the
    API unreachable) the URL is left as written."""
    wanted = url_search()
    if wanted == st.session_state.get("url_search"):
        return None
    st.session_state.url_search = wanted
    st.session_state.pop("url_dropped", None)
    read = {name: {value: menu_value(name, value) for value in values} for name, values in wanted.filters.items()}
    kept = {name: list(dict.fromkeys(filter(None, held.values()))) for name, held in read.items() if any(held.values())}
    kept = {name: values for name, values in kept.items() if narrows(name, values)}
    if kept != wanted.filters and facets()["fields"]:
        keep_in_url(wanted.text, kept, wanted.image, wanted.similar, wanted.similar_key)
        dropped = [(name, value) for name, held in read.items() for value, found in held.items() if found is None]
        st.session_state.url_dropped = dropped_note(dropped)
    st.session_state["search-text"] = wanted.text
    st.session_state[WITH_WORDS] = bool(wanted.image and wanted.text)
    for name in FILTERS:
        st.session_state[f"filter-{name}"] = kept.get(name, [])
    return wanted


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


def search_instead(text: str) -> None:
    """Button callback: ``text`` searched in place of the text search shown, in the search box and the URL (the
    search a "did you mean" offers: a student had to type the suggestion over)."""
    st.session_state["search-text"] = text
    filters = chosen_filters()
    search_for(text, filters)
    keep_in_url(text, filters)
    move_focus(".results-status")


def searched_words() -> str:
    """The words of the text search shown; none after a search by image or look."""
    _, path, _, kwargs, _ = st.session_state.last_search
    return kwargs["json"]["text"] if path == "/search" else ""


def searched_with_words() -> bool:
    """Whether the search shown was asked with words a student may change: a text search, or an image search with the
    box's words too; a search by an image alone, or by look (find similar), has none to try others of."""
    _, _, _, kwargs, _ = st.session_state.last_search
    return bool((kwargs.get("json") or kwargs.get("data") or {}).get("text"))


def corrected_query(text: str, unknown: list[dict[str, Any]]) -> str | None:
    """``text`` with each word no indexed text holds (the API's ``unknown_words``, named as typed) spelt as the
    indexed word closest to it, wherever it stands in any case; None where that changes nothing."""
    closest = {u["word"].casefold(): u["closest"][0] for u in unknown if u["field"] == "text" and u["closest"]}
    if not closest:
        return None
    words = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, closest))})(?!\w)", re.IGNORECASE)
    corrected = words.sub(lambda found: closest.get(found[0].casefold(), found[0]), text)
    return corrected if corrected != text else None


def search_by_image(image: UploadedFile, words: str, filters: dict[str, list[str]]) -> None:
    """The image in the uploader searched, with ``words`` where the student asked for them too (``WITH_WORDS``): the
    words left in the box from a search before took over an image's results (the slide's own case fell from #1 to
    #12)."""
    st.session_state.terms = query_terms(words)
    title = f"like {image.name}" + (f" and {quoted(words)}" if words else "")
    files = {"image": (image.name, image.getvalue())}
    run_search("POST", BY_IMAGE, title, filters, files=files, data={"text": words})


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
    """A new search (``shown_search``). ``title`` says what was searched after the count ("for “koilocytes”", "like
    slide.png"); ``kwargs``, the request without its filters and k."""
    search = (method, path, title, kwargs, filters)
    shown_search(search, asked_for(search, PAGE_SIZE))


def shown_search(search: tuple, response: httpx.Response | None) -> None:
    """A new search (``run_search``'s ``search``) and its first page of results, the API's ``response``; the viewer
    closed; kept so that "Show more" can ask for more and a filter picked can ask again."""
    st.session_state.selected = None
    st.session_state.last_search = search
    show_results(response, PAGE_SIZE)


def show_more() -> None:
    """Button callback: the last search again, for more results (thumbnails already seen come from the cache): the API
    ranks the same for any k, so more only adds cards below."""
    if k := more_results(st.session_state.k, len(st.session_state.hits)):  # None: a click on a stale button
        shown = len(group_cases(st.session_state.hits))
        show_results(asked_for(st.session_state.last_search, k), k)
        focus_results(shown)


def focus_results(first: int) -> None:
    """Keyboard focus to the heading of result card ``first`` (the first of find similar's, the first new one of show
    more's), or to the results line where no such card came: focus fell to the page's top, or stayed on the Show
    more button, now below the new cards."""
    cards = len(group_cases(st.session_state.get("hits") or []))
    move_focus(f".st-key-card-{first} h2" if first < cards else ".results-status")


def asked_for(search: tuple, k: int) -> httpx.Response | None:
    """The API's answer to ``search`` (``run_search``'s) for its first ``k`` results; None where it did not answer."""
    method, path, _, kwargs, filters = search
    body = "json" if "json" in kwargs else "data"  # a JSON body, or an uploaded image's form fields
    fields = {"filters": filters, "k": k} if body == "json" else {"filters": json.dumps(filters), "k": str(k)}
    return reached(method, path, **{**kwargs, body: {**kwargs[body], **fields}})


def show_results(response: httpx.Response | None, k: int) -> None:
    """The last search's first ``k`` results as the API answered them (``response``), or why there are none."""
    method, path, title, _, filters = st.session_state.last_search
    if response is None or response.status_code >= 400:  # why, not "no results", which would blame the query
        st.session_state.search_refused = search_refusal(method, path, response)
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


def search_refusal(method: str, path: str, response: httpx.Response | None) -> tuple[str, str | None]:
    """Why a search showed no results, for the results line alone to say (``search_tab``; it is read out, and a red
    box below it showed the sentence twice): the API's refusal as one line, with the request and answer as sent for
    Details; or that the service did not answer (``response`` None; said above the tabs too)."""
    if response is None:
        return st.session_state.unreachable, None
    return error_message(detail_of(response)), answered(method, path, response)


def find_similar(hit: dict[str, Any]) -> None:
    """Button callback: the records of any kind that look like ``hit`` in place of the results shown, named in the URL
    with the other filters chosen (a reload, Back and Forward showed an empty page), the Kind menu emptied
    (``any_kind``). Where the API no longer has it (removed, or indexed again, since the search: ``record_gone``) the
    results and filters stay, and its card says so in one sentence (``similar_gone``): its "no such record" had
    replaced the results."""
    sent = any_kind(chosen_filters())
    search = similar_search(hit, sent)
    response = asked_for(search, PAGE_SIZE)
    if record_gone(hit["id"], response, sent):
        st.session_state.similar_gone = hit["id"]
        return
    st.session_state.pop("similar_gone", None)
    st.session_state["filter-kind"] = []
    show_similar(search, response)
    keep_in_url(filters=sent, similar=hit["id"], similar_key=key_params(hit))
    st.session_state["search-text"] = ""  # the box said the words of a search no longer shown, as Back to it does not
    focus_results(0)


def key_params(record: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The key of a hit's case image or page (``RecordKey``) as a URL names it; none for a figure."""
    key = RecordKey.cited(record["citation"])
    return tuple((name, str(value)) for name, value in key.params().items()) if key else ()


def similar_search(record: dict[str, Any], filters: dict[str, list[str]]) -> tuple:
    """The search (``run_search``'s) for the records that look like ``record`` under ``filters``, the results line
    naming it as its card does (``record_name``): its citation's label named a case by its folder and image file."""
    title = f"that look like {record_name(record)}"
    return "POST", SIMILAR, title, {"json": {"id": record["id"]}}, filters


def show_similar(search: tuple, response: httpx.Response | None) -> None:
    """A look-alike search (``similar_search``) and the API's ``response`` shown: no words to mark in its cards."""
    shown_search(search, response)
    st.session_state.terms = []


NOT_A_RESULT_LINK = "This link does not name a result: search again."
"""What the results line says of a look-alike link whose id is no record's (``RECORD_ID``)."""
NOT_A_RECORD = "The PathAtlas service did not answer this link with a result: search again."
"""What it says where the service (or a proxy) answered GET /records with something other than a record's JSON."""


def similar_named(record_id: str, chosen: dict[str, list[str]], key: tuple[tuple[str, str], ...] = ()) -> str:
    """The look-alike search a URL names (a reload, a link, Back or Forward), named as its card named the record,
    which GET /records gives, by its id or, where its source was indexed again since, by its ``key`` (its search then
    of the record's id now); returns what the results line says in place of a count where that record is not given
    (gone since, or the API refused or did not answer), no search then shown. The id is the URL's, which anyone may
    write: only a record's id (``RECORD_ID``) is asked for, so that it names a record and nothing else ("../sources",
    "<id>/pdf": a book's bytes read as a record showed a traceback)."""
    if not RECORD_ID.fullmatch(record_id):
        forget_search()
        return NOT_A_RESULT_LINK
    response = reached("GET", f"/records/{record_id}", params=dict(key))
    record = json_object(response) if response is not None and response.status_code < 400 else None
    if record is None:
        forget_search()
        return record_refused(response)
    search = similar_search(record, chosen)
    show_similar(search, asked_for(search, PAGE_SIZE))
    return ""


LINKED_GONE = (
    "The result this link looks for is not in the library: its source was removed or indexed again since the link was"
    " made, or the link was mistyped. Search again."
)
"""What the results line says of a look-alike link whose record the API has none of: a link may have named none
(``PAGE_GONE`` said "no longer", of a record that may never have been)."""


def record_refused(response: httpx.Response | None) -> str:
    """Why the record a look-alike search's URL names is not given (``similar_named``): gone from the library (the
    API's own 404), the API's refusal, an answer that is no record, or that it did not answer."""
    if response is None:
        return st.session_state.unreachable
    if api_has_none(response):
        return LINKED_GONE
    if response.status_code < 400:
        return NOT_A_RECORD
    return error_message(detail_of(response))


def record_gone(record_id: str, response: httpx.Response | None, filters: dict[str, list[str]]) -> bool:
    """Whether a similar search's answer (``response``) says the record it looks like is gone: the API's own 404
    (``api_has_none``), which tells it without a request more (GET /records before each search was one). Where
    ``filters`` were sent, that 404 may name a source or chapter filtered by that the index no longer holds: the
    record is then asked for."""
    if response is None or not api_has_none(response):
        return False
    if not filters:
        return True
    record = reached("GET", f"/records/{record_id}")
    return record is not None and api_has_none(record)
