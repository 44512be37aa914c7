"""The Library tab: the sources indexed and what each met, an upload indexed as a job followed to its end, a source
removed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import streamlit as st

from pathatlas.indexer.sources.notes import NOTE_SUFFIXES
from pathatlas.ui.present import (
    error_message,
    job_away_message,
    job_refused_message,
    job_unanswered_message,
    job_unknown_message,
    job_waited_message,
    plain,
    unsupported_file,
)
from pathatlas.ui.web_client import (
    Unreachable,
    answered,
    api_has_none,
    cached_facets,
    call,
    detail_of,
    details,
    facets,
    fetch,
    headers,
    read_only_library,
    upload_limit,
)
from pathatlas.ui.web_common import TABLE_ALT

LIBRARY_TYPES = ("pdf", *(suffix.lstrip(".") for suffix in NOTE_SUFFIXES), "zip")
LIBRARY_KINDS = f"a PDF, lecture notes ({', '.join(NOTE_SUFFIXES)}) or a .zip of them or of a case folder"
JOB_POLL_SECONDS = 1800
JOB_POLL_EVERY = 0.3  # seconds between polls of a job that runs
JOB_RETRY_STEP = 1.0  # seconds more each time before asking again a service that did not answer
JOB_RETRY_MOST = 30.0  # seconds at most, a Retry-After's included: a restart takes seconds to a minute
SERVICE_AWAY = (502, 503, 504)  # a reverse proxy's answers while the service behind it restarts, the service's busy
# What the Library's total counts of each kind, in a student's words: the facets count a case's images, not its cases
# (GET /sources counts those); passages, the parts of pages a search finds, are left out.
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
    uploader = f"library-upload-{st.session_state.get('library_uploads', 0)}"  # new after each job (``index_upload``)
    upload = st.file_uploader(f"Add {LIBRARY_KINDS}", key=uploader, **upload_limit())
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
    that run to say (``library_message``): drawn here, it was wiped by the rerun. Once its job is queued, that run's
    uploader is a new one, empty (a Streamlit uploader is emptied by its key): the file left in it, "Index it" indexed
    the same bytes again, "replaced the earlier upload of this name"."""
    job = call("POST", "/jobs", files={"file": (name, data)}, headers=headers())
    if job is None:  # refused (said) or not answered (said at the run's end): nothing to follow
        return
    st.session_state.library_uploads = st.session_state.get("library_uploads", 0) + 1
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
