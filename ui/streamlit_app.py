"""The PathAtlas web UI (``pathatlas ui``): search, ask, library.

It talks to the REST API: a running ``pathatlas serve`` when PATHATLAS_API_URL is set, otherwise the same
API in process over a local index (FastAPI's TestClient), so both paths run the same code.

Search results are cards a reader scans (kind, citation, relevance in words, the matched passage with the
query's words marked, thumbnail; the images of one case on one card). Opening a card shows the page viewer
beside the results: the page at reading size with the matched passage outlined, previous/next page, the PDF
at that page and a citation to copy.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import streamlit as st
from PIL import Image, ImageDraw

from pathatlas.ui.present import (
    PAGE_SIZE,
    citation_text,
    error_message,
    group_cases,
    highlight,
    look_alike_note,
    more_results,
    plain,
    query_terms,
    relevance_words,
)

st.set_page_config(page_title="PathAtlas", layout="wide", menu_items={"About": "PathAtlas: search pathology books."})
KINDS = {"page": "Page", "figure": "Figure", "case": "Case"}
BADGE = {"best match": "green", "strong match": "green", "good match": "blue", "related": "gray"}
READING_DPI = 110
# The API's outline of a hit on its page (render_page), drawn here too where a quote cites a box its page record lacks.
# (A string under a constant would be shown on the page: Streamlit's magic writes bare literals.)
OUTLINE_RGB, OUTLINE_POINTS = (230, 26, 26), 3
MEDIA_CACHED = 256  # thumbnails (tens of KB) and rendered pages (about 1 MB) kept for reruns, shared by sessions


@st.cache_resource
def backend():
    url = os.environ.get("PATHATLAS_API_URL")
    if url:
        return httpx.Client(base_url=url, timeout=120)
    from fastapi.testclient import TestClient

    from pathatlas.ui.api.app import create_app

    client = TestClient(create_app())
    client.__enter__()  # run the app's lifespan once: models and index load here
    return client


def headers() -> dict[str, str]:
    token = os.environ.get("PATHATLAS_API_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def call(method: str, path: str, quiet: bool = False, **kwargs) -> httpx.Response | None:
    response = backend().request(method, path, **kwargs)
    if response.status_code >= 400:
        if not quiet:
            json_body = "json" in response.headers.get("content-type", "")
            detail = response.json().get("detail") if json_body else response.text
            st.error(error_message(detail))
            with st.expander("Details"):  # the status and body as sent, for a bug report
                st.code(f"{method} {path}: {response.status_code}\n{response.text}", language=None, wrap_lines=True)
        return None
    return response


@st.cache_data(ttl=600, max_entries=MEDIA_CACHED, show_spinner=False)
def media(path: str) -> bytes | None:
    response = call("GET", path, quiet=True)
    return response.content if response is not None else None


@st.cache_data(ttl=60, show_spinner=False)
def facets() -> dict[str, Any]:
    response = call("GET", "/facets", quiet=True)
    return response.json() if response is not None else {"fields": {}, "by_source": {}}


def short(source: str) -> str:
    return source.rstrip("/").rsplit("/", 1)[-1]


# -- search ------------------------------------------------------------------------------------
def filter_row() -> dict[str, list[str]]:
    fields = facets()["fields"]
    labels = {"kind": "Kind", "source": "Source", "organ": "Organ", "diagnosis": "Diagnosis", "chapter": "Chapter"}
    chosen: dict[str, list[str]] = {}
    for column, (name, label) in zip(st.columns(len(labels)), labels.items(), strict=True):
        offered = fields.get(name, [])
        if name == "kind":  # passages are shown, and found, as their pages: "passage" would be a second "page"
            offered = [v for v in offered if v["value"] in KINDS]
        values = [v["value"] for v in offered]
        shown = {v["value"]: f"{v.get('label') or v['value']} ({v['count']})" for v in offered}
        picked = column.multiselect(
            label,
            values,
            key=f"filter-{name}",
            format_func=shown.__getitem__,
            placeholder="any",
        )
        if picked:
            chosen[name] = picked
    return chosen


def run_search(method: str, path: str, title: str, **kwargs) -> None:
    """A new search: its first page of results, the viewer closed; kept so that "Show more" can ask for more."""
    st.session_state.selected = None
    st.session_state.last_search = (method, path, title, kwargs)
    fetch_results(PAGE_SIZE)


def show_more() -> None:
    """Button callback: the last search again, for more results (thumbnails already seen come from the cache)."""
    if k := more_results(st.session_state.k, len(st.session_state.hits)):  # None: a click on a stale button
        fetch_results(k)


def fetch_results(k: int) -> None:
    """The last search's first ``k`` results; the API ranks the same for any k, so more only adds cards below."""
    method, path, title, kwargs = st.session_state.last_search
    body = "json" if "json" in kwargs else "data"  # a JSON body, or an uploaded image's form fields
    sized = {**kwargs, body: {**kwargs[body], "k": k if body == "json" else str(k)}}
    response = call(method, path, **sized)
    if response is None:  # call() showed why; "no results" beside it would blame the query
        st.session_state.pop("hits", None)
        return
    found = response.json()
    st.session_state.k = k
    st.session_state.hits = found.get("hits", [])
    st.session_state.by_image = path != "/search"
    words = found.get("image_words")  # an uploaded diagram's labels, searched as words
    st.session_state.results_title = title + (f" · words read in the image: {words}" if words else "")


def find_similar(hit: dict[str, Any]) -> None:
    filters = {k: v for k, v in st.session_state.get("filters", {}).items() if k != "kind"}
    run_search(
        "POST",
        "/search/similar",
        f"Looks like {hit['citation']['label']}",
        json={"id": hit["id"], "filters": filters},
    )
    st.session_state.terms = []


def result_card(card: list[dict[str, Any]], n: int, look_alike: bool) -> None:
    hit = card[0]
    relevance = relevance_words(hit, look_alike)
    terms = st.session_state.get("terms", [])
    with st.container(border=True, key=f"card-{n}"):
        left, right = st.columns([1, 4])
        with left:
            images = [media(h["thumbnail_url"]) for h in card[:4] if h.get("thumbnail_url")]
            images = [image for image in images if image]
            if images:
                st.image(images[0], width=150)
                if len(images) > 1:
                    st.image(images[1:], width=48)
        with right:
            kind = KINDS.get(hit["kind"], hit["kind"])
            label = plain(hit["citation"]["label"])
            st.markdown(f"**{kind}** · {label} &nbsp; :{BADGE.get(relevance, 'gray')}-badge[{relevance}]")
            if hit["kind"] == "case":
                st.markdown(
                    f"**{plain(hit.get('diagnosis') or hit.get('title') or 'case')}** · {plain(hit.get('organ') or '')}"
                    + (f" · {len(card)} images" if len(card) > 1 else "")
                )
            elif hit.get("section"):
                st.caption(plain(hit["section"]))
            if hit.get("snippet"):
                st.markdown(f"<div class='snippet'>{highlight(hit['snippet'], terms)}</div>", unsafe_allow_html=True)
            if hit.get("printed_words"):  # a figure's labels, read from its image: often why it matched
                words = highlight(hit["printed_words"], terms)
                st.markdown(f"<div class='printed'>Printed in the figure: {words}</div>", unsafe_allow_html=True)
            st.caption(f"#{hit['rank']} · found by {hit['why']}" if hit.get("why") else f"#{hit['rank']}")
            buttons = st.columns(2)
            buttons[0].button("Open", key=f"open-{hit['id']}", on_click=show, args=("selected", hit))
            if hit.get("has_image"):
                buttons[1].button("Find similar", key=f"similar-{hit['id']}", on_click=find_similar, args=(hit,))


def show(state: str, hit: dict[str, Any] | None) -> None:
    """Button callback: open ``hit`` in the viewer kept in ``st.session_state[state]`` (None closes it)."""
    st.session_state[state] = hit


def open_page(hit: dict[str, Any], page: int, state: str) -> None:
    response = call("GET", "/pages", quiet=True, params={"source": hit["citation"]["source_id"], "page": page})
    if response is None:
        st.toast(f"page {page} is not in the index")
        return
    st.session_state[state] = response.json()


def viewer(hit: dict[str, Any], state: str) -> None:
    """The hit in ``st.session_state[state]`` at reading size: its page with the passage outlined, or the
    case's images; closing it clears that state."""
    citation = hit["citation"]
    with st.container(border=True, key=f"{state}-viewer"):
        top = st.columns([6, 1])
        top[0].subheader(plain(citation["label"]))
        top[1].button("Close", key=f"{state}-close", on_click=show, args=(state, None))
        if hit["kind"] == "case":
            case_view(hit)
        elif hit.get("page_url"):
            page_view(hit, state)
        terms = st.session_state.get("terms", [])
        if hit.get("snippet"):
            st.markdown(
                f"<blockquote class='passage'>{highlight(hit['snippet'], terms)}</blockquote>",
                unsafe_allow_html=True,
            )
        st.caption("Citation (copy with the button on the right)")
        st.code(citation_text(hit), language=None, wrap_lines=True)
        if hit.get("has_image"):
            st.button("Find similar", key=f"{state}-similar-{hit['id']}", on_click=find_similar, args=(hit,))


def page_view(hit: dict[str, Any], state: str) -> None:
    citation = hit["citation"]
    page = citation["page"]
    nav = st.columns([1, 1, 3])
    previous, following = (hit, page - 1, state), (hit, page + 1, state)
    nav[0].button("◀ Previous page", key=f"{state}-prev", disabled=page <= 1, on_click=open_page, args=previous)
    nav[1].button("Next page ▶", key=f"{state}-next", on_click=open_page, args=following)
    api = os.environ.get("PATHATLAS_API_URL")
    if api:
        nav[2].link_button(f"Open the PDF at page {page}", f"{api.rstrip('/')}/records/{hit['id']}/pdf#page={page}")
    else:
        nav[2].download_button(
            f"Download the PDF (page {page})",
            source_pdf(hit["id"]),
            file_name=short(citation["source"]),
            mime="application/pdf",
            key=f"{state}-pdf",
            on_click="ignore",
        )
    image = media(f"{hit['page_url']}?dpi={READING_DPI}")
    if image:
        if hit.get("outline"):
            outlined, image = "cited passage outlined", outline(image, hit["outline"])
        else:
            outlined = "matched passage outlined" if hit["kind"] == "page" else "figure outlined"
        caption = f"page {page}" + (f" ({outlined} in red)" if citation.get("bbox") else "")
        st.image(image, caption=caption, width="stretch")


def source_pdf(record_id: str) -> Callable[[], bytes]:
    """The source PDF, fetched when its button is clicked: a book's PDF is tens of MB, too much to fetch at every
    rerun and keep for every page opened."""
    client = backend()

    def fetch() -> bytes:
        response = client.get(f"/records/{record_id}/pdf")
        response.raise_for_status()
        return response.content

    return fetch


def outline(png: bytes, bbox: list[float]) -> Image.Image:
    """The rendered page with ``bbox`` (PDF points) outlined as the API outlines a hit's own box."""
    page = Image.open(io.BytesIO(png))
    scale = page.info.get("dpi", (READING_DPI,))[0] / 72  # the API may lower the dpi of a large page
    page = page.convert("RGB")
    width = max(1, round(OUTLINE_POINTS * scale))
    ImageDraw.Draw(page).rectangle([c * scale for c in bbox], outline=OUTLINE_RGB, width=width)
    return page


def case_view(hit: dict[str, Any]) -> None:
    details = call("GET", f"/cases/{hit['id']}")
    if details is None:
        return
    case = details.json()
    diagnosis, organ = plain(case.get("diagnosis") or "n/a"), plain(case.get("organ") or "n/a")
    st.markdown(f"**Diagnosis:** {diagnosis}  \n**Organ:** {organ}")
    if case.get("labels"):
        st.markdown("  \n".join(f"**{plain(k)}:** {plain(str(v))}" for k, v in case["labels"].items()))
    images = [media(image["url"]) for image in case["images"]]
    shown = [image for image in images if image]
    if shown:
        st.image(shown, caption=[i["image"] for i, b in zip(case["images"], images, strict=True) if b], width=320)
    st.caption(plain(f"case {case['case']} · {len(case['images'])} image(s) · {short(case.get('source') or '')}"))


def search_tab() -> None:
    with st.form("search-form", border=False):
        cols = st.columns([6, 1])
        text = cols[0].text_input("Search text", placeholder="koilocytes in cervical epithelium")
        cols[1].markdown("<div style='height:1.75rem'></div>", unsafe_allow_html=True)
        submitted = cols[1].form_submit_button("Search", type="primary", width="stretch")
    with st.expander("Search by image"):
        image = st.file_uploader(
            "Find pages, figures and cases like this image", type=["png", "jpg", "jpeg", "tif", "tiff"], key="image"
        )
    filters = filter_row()
    st.session_state.filters = filters
    if submitted or (image is not None and st.session_state.get("searched_image") != image.file_id):
        st.session_state.terms = query_terms(text)
        if image is not None:
            st.session_state.searched_image = image.file_id
            run_search(
                "POST",
                "/search/image",
                f"Like {image.name}" + (f" and “{text}”" if text.strip() else ""),
                files={"image": (image.name, image.getvalue())},
                data={"text": text or "", "filters": json.dumps(filters)},
            )
        elif text.strip():
            run_search("POST", "/search", f"“{text}”", json={"text": text, "filters": filters})
        else:
            st.warning("Type a query or upload an image.")
    hits = st.session_state.get("hits", [])
    if not hits:
        if "hits" in st.session_state:
            st.info("No results. Try other words or fewer filters.")
        return
    selected = st.session_state.get("selected")
    results, side = st.columns([5, 7]) if selected else (st.container(), None)
    with results:
        cards = group_cases(hits)
        st.caption(f"{len(hits)} results · {st.session_state.get('results_title', '')}")
        note = look_alike_note(hits, index_has_cases()) if st.session_state.get("by_image") else None
        if note:
            st.info(note)
        for n, card in enumerate(cards):
            result_card(card, n, look_alike=note is not None)
        if more_results(st.session_state.k, len(hits)):
            st.button("Show more", key="show-more", on_click=show_more)
    if side is not None:
        with side:
            viewer(selected, "selected")


def index_has_cases() -> bool:
    return any(v["value"] == "case" and v["count"] for v in facets()["fields"].get("kind", []))


# -- ask ---------------------------------------------------------------------------------------
def evidence_quote(item: dict[str, Any], key: str) -> None:
    citation = item.get("citation") or {}
    stance = item.get("stance", "supports")
    colour = {"supports": "green", "related": "gray"}.get(stance, "red")
    label = plain(citation.get("label") or short(citation.get("source", "")))
    st.markdown(f"> {plain(item.get('quote', ''))}\n\n:{colour}-badge[{stance}] {label}")
    cited_evidence(citation, item.get("quote"), key)


def cited_evidence(citation: dict[str, Any], quote: str | None, key: str) -> None:
    """The Open button of one piece of cited evidence; the viewer opens right below the button clicked, where the
    reader is looking, not below every option."""
    if citation.get("evidence"):
        st.button("Open", key=key, on_click=open_cited, args=(citation, quote, key))
    if st.session_state.get("cited") and st.session_state.get("cited_at") == key:
        viewer(st.session_state.cited, "cited")


def open_cited(citation: dict[str, Any], quote: str | None, key: str) -> None:
    """Button callback: open the cited record as the answer cites it. A quote's record is often its page, whose own
    box is none and whose snippet is the page's first lines: the viewer outlines the quote's box and shows the quote
    instead (the box alone where no quote is known: the page's first lines are not what was cited)."""
    opened = call("GET", f"/records/{citation['evidence']}", quiet=True)
    if opened is None:
        st.toast("the cited record is no longer in the index")
        return
    record = opened.json()
    box = citation.get("bbox")
    own_box = box == record["citation"].get("bbox")
    snippet = quote or (record["snippet"] if own_box else "")
    cited = {**record["citation"], "bbox": box}
    st.session_state.cited = {**record, "citation": cited, "snippet": snippet, "outline": None if own_box else box}
    st.session_state.cited_at = key


def ask_tab() -> None:
    question = st.text_area("Question", placeholder="A cervical smear shows ... Which cells are these?")
    options = st.text_area("Options, one per line")
    image = st.file_uploader("Image (optional)", type=["png", "jpg", "jpeg"], key="ask-image")
    sources = {v["value"]: v.get("label") or v["value"] for v in facets()["fields"].get("source", [])}
    scope = st.multiselect(
        "Answer from", list(sources), key="ask-sources", format_func=sources.__getitem__, placeholder="every source"
    )
    if st.button("Ask", type="primary"):
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
        st.session_state.answer = response.json() if response is not None else None
        st.session_state.cited = None
    answer = st.session_state.get("answer")
    if not answer:
        return
    options_out = answer.get("options") or []
    choice = answer.get("choice")  # the chosen option's 0-based index; ``answer`` is its text
    chosen = options_out[choice] if isinstance(choice, int) and 0 <= choice < len(options_out) else None
    letter = chosen.get("label") if chosen else None
    text = chosen.get("text") if chosen else answer.get("answer") or ""
    shown = plain(f"{letter}. {text}" if letter and text and text != letter else (text or letter or ""))
    confidence = answer.get("confidence", 0.0)
    if answer.get("settled", True):
        st.success(f"Answer: {shown}  (confidence {confidence:.2f})")
    else:
        nearest = "Best supported" if options_out else "Nearest sentence, which may not answer it"
        st.warning(f"The evidence does not settle this. {nearest}: {shown}  (confidence {confidence:.2f})")
    if answer.get("rationale"):
        st.caption(plain(answer["rationale"]))
    if options_out:
        ordered = sorted(options_out, key=lambda o: (o.get("label") != letter, -(o.get("score") or 0)))
        for o in ordered:
            with st.container(border=True, key=f"option-{o.get('label')}"):
                mark = " ✓" if o.get("label") == letter else ""
                title = f"{o.get('label')}. {plain(o.get('text') or '')}"
                st.markdown(f"**{title}**{mark} · support {o.get('score') or 0:.2f}")
                if not o.get("evidence"):
                    st.caption("no quoted evidence for this option")
                for n, item in enumerate(o.get("evidence", [])):
                    evidence_quote(item, key=f"quote-{o.get('label')}-{n}")
    elif answer.get("citations"):  # an open question: its evidence is the answer's citations
        st.markdown("**Cited evidence**")
        for n, citation in enumerate(answer["citations"]):
            with st.container(border=True, key=f"citation-{n}"):
                st.markdown(plain(citation.get("label") or short(citation.get("source", ""))))
                cited_evidence(citation, None, key=f"cited-{n}")
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


def library_tab() -> None:
    sources = call("GET", "/sources")
    rows = sources.json() if sources is not None else []
    counts = facets()["by_source"]  # by source id, as GET /sources lists them
    st.table(
        [
            {
                "source": short(r["source"]),
                "type": r["kind"],
                "pages": counts.get(r["id"], {}).get("page", 0),
                "figures": counts.get(r["id"], {}).get("figure", 0),
                "case images": counts.get(r["id"], {}).get("case", 0),
                "entries": r["entries"],
                "problems": len(r.get("problems", [])),
            }
            for r in rows
        ]
    )
    totals = facets()["fields"].get("kind", [])
    st.caption("In total: " + (", ".join(f"{v['count']} {v['value']}s" for v in totals) or "nothing indexed yet"))
    if message := st.session_state.pop("library_message", None):
        (st.success if message[0] == "ok" else st.error)(message[1])
    for note in st.session_state.pop("library_notes", []):
        st.info(note)
    upload = st.file_uploader("Add a PDF or a zipped case folder", type=["pdf", "zip"], key="library-upload")
    if upload is not None and st.button("Index it"):
        job = call("POST", "/jobs", files={"file": (upload.name, upload.getvalue())}, headers=headers())
        if job is not None:
            bar = st.progress(0.0, text="indexing")
            deadline = time.monotonic() + JOB_POLL_SECONDS  # a job that never ends must not hang the page
            while True:
                status = call("GET", f"/jobs/{job.json()['id']}").json()
                if status["total"]:
                    done = min(1.0, status["done"] / status["total"])
                    bar.progress(done, text=f"indexing {upload.name}: {status['done']}/{status['total']}")
                if status["status"] not in ("queued", "running"):
                    break
                if time.monotonic() > deadline:
                    status = {**status, "error": f"still {status['status']} after {JOB_POLL_SECONDS} s; see /jobs"}
                    break
                time.sleep(0.3)
            ok = status["status"] == "done"
            progress = f" ({status['done']}/{status['total']} indexed)" if status["total"] else ""
            st.session_state.library_message = ("ok" if ok else "error", f"{status['status']}: {upload.name}{progress}")
            if not ok and status.get("error"):
                st.session_state.library_message = ("error", f"{status['status']}: {status['error']}")
            st.session_state.library_notes = status.get("notes", [])
            facets.clear()
            st.rerun()
    ids = {short(r["source"]): r["id"] for r in rows}
    if ids:
        cols = st.columns([4, 1])
        name = cols[0].selectbox("Remove a source", list(ids))
        cols[1].markdown("<div style='height:1.75rem'></div>", unsafe_allow_html=True)
        if cols[1].button("Remove"):
            removed = call("DELETE", f"/sources/{ids[name]}", headers=headers())
            if removed is not None:
                st.session_state.library_message = ("ok", f"removed {name}: {removed.json()['removed']} entries")
                facets.clear()
                st.rerun()


st.markdown(
    "<style>mark{background:#ffe58a;padding:0 .1em;border-radius:2px}"
    ".snippet{font-size:.95rem;line-height:1.45}.printed{font-size:.85rem;color:#555}.passage{font-size:1rem}</style>",
    unsafe_allow_html=True,
)
st.title("PathAtlas")
search, ask, library = st.tabs(["Search", "Ask", "Library"])
with search:
    search_tab()
with ask:
    ask_tab()
with library:
    library_tab()
