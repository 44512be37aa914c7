"""The PathAtlas web UI (``pathatlas ui``): search, ask, library.

It talks to the REST API: a running ``pathatlas serve`` when PATHATLAS_API_URL is set, otherwise the same
API in process over a local index (FastAPI's TestClient), so both paths run the same code.
"""

from __future__ import annotations

import json
import os
import time

import httpx
import streamlit as st

st.set_page_config(page_title="PathAtlas", layout="wide")


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


def call(method: str, path: str, **kwargs):
    response = backend().request(method, path, **kwargs)
    if response.status_code >= 400:
        detail = (
            response.json().get("detail", response.text)
            if "json" in response.headers.get("content-type", "")
            else response.text
        )
        st.error(f"{response.status_code}: {detail}")
        return None
    return response


def show_detail(hit: dict) -> None:
    """The cited page with its region outlined, the caption or case details."""
    citation = hit["citation"]
    st.subheader(citation["label"])
    left, right = st.columns([3, 2])
    with left:
        if hit.get("page_url"):
            page = call("GET", hit["page_url"])
            if page is not None:
                st.image(
                    page.content,
                    caption=f"page {citation['page']}" + (" (cited region outlined)" if citation.get("bbox") else ""),
                )
        elif hit.get("kind") == "case":
            image = call("GET", f"/media/cases/{hit['id']}")
            if image is not None:
                st.image(image.content)
    with right:
        st.markdown(hit.get("snippet") or hit.get("text") or "")
        if hit.get("kind") == "case":
            details = call("GET", f"/cases/{hit['id']}")
            if details is not None:
                case = details.json()
                st.markdown(
                    f"**Diagnosis:** {case.get('diagnosis') or 'n/a'}  \n**Organ:** {case.get('organ') or 'n/a'}"
                )
                st.caption(f"case {case['case']}, {len(case['images'])} image(s)")
        if citation.get("bbox"):
            st.caption(f"bounding box (PDF points): {citation['bbox']}")


def search_tab() -> None:
    text = st.text_input("Search text", placeholder="koilocytes in cervical epithelium")
    image = st.file_uploader(
        "Find cases like this image", type=["png", "jpg", "jpeg", "tif", "tiff"], key="search-image"
    )
    cols = st.columns(3)
    k = cols[0].slider("Results", 4, 40, 12)
    kind = cols[1].selectbox("Kind", ["any", "page", "figure", "case"])
    if st.button("Search", type="primary"):
        filters = {} if kind == "any" else {"kind": kind}
        if image is not None:
            response = call(
                "POST",
                "/search/image",
                files={"image": (image.name, image.getvalue())},
                data={"text": text or "", "k": str(k), "filters": json.dumps(filters)},
            )
        elif text.strip():
            response = call("POST", "/search", json={"text": text, "k": k, "filters": filters})
        else:
            st.warning("Type a query or upload an image.")
            response = None
        st.session_state.hits = response.json()["hits"] if response is not None else []
        st.session_state.selected = None
    hits = st.session_state.get("hits", [])
    if hits:
        st.caption(f"{len(hits)} results")
    grid = st.columns(4)
    for n, hit in enumerate(hits):
        with grid[n % 4]:
            thumb = call("GET", hit["thumbnail_url"]) if hit.get("thumbnail_url") else None
            if thumb is not None:
                st.image(thumb.content, use_container_width=True)
            st.markdown(f"**{hit['kind']}** · {hit['citation']['label']}  \nscore {hit['score']:.4f}")
            if st.button("View", key=f"view-{hit['id']}"):
                st.session_state.selected = hit
    if st.session_state.get("selected"):
        st.divider()
        show_detail(st.session_state.selected)


def ask_tab() -> None:
    question = st.text_area("Question", placeholder="A cervical smear shows ... Which cells are these?")
    options = st.text_area("Options, one per line")
    image = st.file_uploader("Image (optional)", type=["png", "jpg", "jpeg"], key="ask-image")
    if st.button("Ask", type="primary"):
        listed = [o.strip() for o in options.splitlines() if o.strip()]
        if image is not None:
            response = call(
                "POST",
                "/ask/image",
                files={"image": (image.name, image.getvalue())},
                data={"question": question, "options": json.dumps(listed)},
            )
        else:
            response = call("POST", "/ask", json={"question": question, "options": listed})
        st.session_state.answer = response.json() if response is not None else None
        st.session_state.cited = None
    answer = st.session_state.get("answer")
    if not answer:
        return
    shown = f"{answer['answer']}. {answer['answer_text']}" if answer["answer"] else answer["answer_text"]
    st.success(f"Answer: {shown}  (confidence {answer['confidence']:.2f})")
    st.caption(answer["rationale"])
    for n, citation in enumerate(answer["citations"], start=1):
        if st.button(f"[{n}] {citation['label']}", key=f"cite-{citation['evidence']}"):
            st.session_state.cited = citation
    if not answer["citations"]:
        st.info("No evidence cited.")
    cited = st.session_state.get("cited")
    if cited:
        hit = {
            "id": cited["evidence"],
            "kind": "case" if cited.get("case") else "page",
            "citation": cited,
            "page_url": f"/media/pages/{cited['evidence']}" if cited.get("page") else None,
        }
        show_detail(hit)
    with st.expander("Agent steps"):
        for step in answer["trace"]:
            st.markdown(
                f"**{step['step']}** " + ", ".join(f"{k}: {v}" for k, v in step.items() if k not in ("step", "hits"))
            )


JOB_POLL_SECONDS = 1800


def library_tab() -> None:
    sources = call("GET", "/sources")
    rows = sources.json() if sources is not None else []
    st.dataframe(
        [{"source": r["source"], "kind": r["kind"], "entries": r["entries"]} for r in rows], use_container_width=True
    )
    upload = st.file_uploader("Add a PDF or a zipped case folder", type=["pdf", "zip"], key="library-upload")
    if upload is not None and st.button("Index it"):
        job = call("POST", "/jobs", files={"file": (upload.name, upload.getvalue())}, headers=headers())
        if job is not None:
            bar = st.progress(0.0, text="indexing")
            deadline = time.monotonic() + JOB_POLL_SECONDS  # a job that never ends must not hang the page
            while True:
                status = call("GET", f"/jobs/{job.json()['id']}").json()
                if status["total"]:
                    bar.progress(min(1.0, status["done"] / status["total"]), text=f"{status['done']}/{status['total']}")
                if status["status"] not in ("queued", "running"):
                    break
                if time.monotonic() > deadline:
                    status = {**status, "error": f"still {status['status']} after {JOB_POLL_SECONDS} s; see /jobs"}
                    break
                time.sleep(0.5)
            (st.success if status["status"] == "done" else st.error)(
                f"{status['status']}: {status.get('error') or upload.name}"
            )
    names = [r["source"].rsplit("/", 1)[-1] for r in rows]
    if names:
        name = st.selectbox("Remove a source", names)
        if st.button("Remove"):
            removed = call("DELETE", f"/sources/{name}", headers=headers())
            if removed is not None:
                st.success(f"removed {removed.json()['removed']} entries")


st.title("PathAtlas")
search, ask, library = st.tabs(["Search", "Ask", "Library"])
with search:
    search_tab()
with ask:
    ask_tab()
with library:
    library_tab()
