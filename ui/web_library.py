"""The Library tab: the sources indexed and what each met, the index jobs under way (the session's own followed to
their end) and those of the last hour, an upload indexed as a job, a source removed."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import streamlit as st

from pathatlas.indexer.sources.notes import NOTE_SUFFIXES
from pathatlas.ui.present import (
    counted,
    error_message,
    job_away_message,
    job_refused_message,
    job_unanswered_message,
    job_unknown_message,
    job_waited_message,
    label_plain,
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
from pathatlas.ui.web_common import LIBRARY_SAID, TABLE_ALT, TABS, move_focus, refocus_uploader, said_here

LIBRARY_TYPES = ("pdf", *(suffix.lstrip(".") for suffix in NOTE_SUFFIXES), "zip")
LIBRARY_KINDS = f"a PDF, lecture notes ({', '.join(NOTE_SUFFIXES)}) or a .zip of them or of a case folder"
JOB_POLL_SECONDS = 1800
JOB_POLL_EVERY = 1.0  # seconds between polls of a job that runs: how often the jobs' fragment reruns
JOB_RETRY_STEP = 1.0  # seconds more each time before asking again a service that did not answer
JOB_RETRY_MOST = 30.0  # seconds at most, a Retry-After's included: a restart takes seconds to a minute
SERVICE_AWAY = (502, 503, 504)  # a reverse proxy's answers while the service behind it restarts, the service's busy
# What the Library's total counts of each kind, in a student's words: the facets count a case's images, not its cases
# (GET /sources counts those); passages, the parts of pages a search finds, are left out.
TOTALS = {"case": "case image", "figure": "figure", "page": "page"}
REMOVE_ROW = "library-remove"  # the key of the container of "Remove a source", its tick box and its button
LIBRARY_CAPTION = "Each source: what was indexed from it, and how many problems it met (listed below the table)"
RUNNING = ("queued", "running")  # a job's states before it ends
JOBS_LOOKED_AT = 20  # the newest jobs a listing reads: those under way, and those of the last hour
JOBS_RELISTED_EVERY = 30.0
"""Seconds at least between two GET /jobs of a session (``jobs_known``): asked at every run, each click was a request
more; asked at the first draw alone, other users' uploads went unlisted until a reload."""
RECENT_SECONDS = 3600  # how long a job's end stays listed under "Uploads of the last hour"
LISTED = "library_jobs_listed"  # the jobs as the session last listed them (``JobsListed``)
TO_SAY = "library_to_say"  # what the Library has yet to say, in turn (``Said``, ``library_said``)
REST_REMOVAL = re.compile(r"\(DELETE /sources/[^)]*\)")
"""How the API tells a client to remove a source first (``duplicates.IN_ITS_PLACE``, ``ZIP_COPY_INSTEAD``): an API
call, which the page words as its own control (``in_the_page``)."""
PAGE_REMOVAL = "with “Remove a source” below"
REST_FOLLOWING = re.compile(r" ?\(GET /jobs/[^)]*\)")
"""How the API tells a client where to follow a job (a removal refused while one indexes), left out on the page: the
Library lists another user's job only once it asks GET /jobs again (``jobs_known``), and "its progress is shown above"
was then untrue."""


@dataclass
class Followed:
    """A job the Library follows to its end (``follow_jobs``): the upload it indexes, when the page stops waiting
    (``time.monotonic``), its bar as last drawn, the polls in a row that found the service away, and when to ask
    next."""

    name: str
    deadline: float
    done: float = 0.0
    said: str = ""
    retries: int = 0
    next_poll: float = 0.0

    @classmethod
    def start(cls, name: str) -> Followed:
        return cls(name, time.monotonic() + JOB_POLL_SECONDS, said=f"indexing {name}")


@dataclass
class JobsListed:
    """The newest jobs as GET /jobs last listed them, by id, the session's own merged in as they end (``job_polled``),
    and when they were last asked for (``time.monotonic``)."""

    jobs: dict[str, dict[str, Any]]
    asked: float


@dataclass
class Said:
    """One thing the Library says once it is shown (``library_said``): ``kind`` ("ok" or "error") and its ``line``
    (an upload's job's end, a source removed, or why not), the answer of a refused poll as sent (``details``), an
    upload's ``notes``, and the job whose end it says (``job_id``), listed no more beside it (``jobs_to_list``)."""

    kind: str
    line: str
    details: str | None = None
    notes: list[str] = field(default_factory=list)
    job_id: str | None = None


def source_problems(rows: list[dict[str, Any]]) -> None:
    """The problems each source met (an image skipped and why, a row read once), in an expander per source that has
    any, named as the table names it: the table counts them, and an instructor needs to know which images were skipped
    and why."""
    for row in rows:
        if problems := row.get("problems"):
            count = counted(len(problems), "problem")
            with st.expander(plain(f"{row['source']}: {count}")):
                st.markdown("\n".join(f"- {plain(problem)}" for problem in problems))


def entries_said(n: int) -> str:
    """A source's entries as the Library counts them: "1 entry", "14 entries" (it said "its 1 entries")."""
    return counted(n, "entry", "entries")


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
    found = facets_agreeing(rows) if sources is not None else facets()
    counts = found["by_source"]  # by source id, as GET /sources lists them
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
    st.caption(library_total(found["fields"].get("kind", []), sum(r["cases"] for r in rows)))
    source_problems(rows)
    said = library_said()  # a job's end and a removal, read out (``said_here``), or kept until the Library is shown
    jobs_under_way(frozenset(told.job_id for told in said if told.job_id))
    if read_only_library():
        st.caption("This library is read-only here: sources are added and removed on the server ('pathatlas index').")
        return
    uploader = uploader_key()
    upload = st.file_uploader(
        f"Add {LIBRARY_KINDS}", key=uploader, on_change=refocus_uploader, args=(uploader,), **upload_limit()
    )
    if upload is not None and unsupported_file(upload.name, LIBRARY_TYPES):
        st.error(f"{plain(upload.name)} is not {LIBRARY_KINDS}: choose one of those.")
        upload = None
    if upload is not None and st.button("Index it"):
        index_upload(upload.name, upload.getvalue())
    if by_id := {r["id"]: r for r in rows}:  # by id: two sources may share a name
        with st.container(key=REMOVE_ROW):
            remove_a_source(by_id)


def uploader_key() -> str:
    """The key of the Library's uploader: a new one after each job (``index_upload``)."""
    return f"library-upload-{st.session_state.get('library_uploads', 0)}"


def remove_a_source(by_id: dict[str, dict[str, Any]]) -> None:
    """The menu "Remove a source" (``by_id``: the sources by id), its tick box and its Remove button. Once a source is
    removed, keyboard focus goes back to the menu (the button is drawn off), or to the uploader where no source is
    left: the sources' heading, a long Library's height above, scrolled the page away from the line saying it."""
    chosen = by_id[st.selectbox("Remove a source", list(by_id), format_func=lambda i: by_id[i]["source"])]
    name, entries = chosen["source"], chosen["entries"]
    # One click must not delete a book: the button waits for this box, kept per source (another choice unticks it)
    said = f"Yes, remove {name} and its {entries_said(entries)}"
    sure = st.checkbox(label_plain(said), key=f"remove-sure-{chosen['id']}")
    if st.button("Remove", disabled=not sure, help=None if sure else "Tick the box above first"):
        removed = call("DELETE", f"/sources/{chosen['id']}", headers=headers(), reword=in_the_page)
        if removed is not None:
            to_say().append(Said("ok", f"removed {name}: {entries_said(removed.json()['removed'])}"))
            cached_facets.clear()
            move_focus(f".st-key-{REMOVE_ROW} input" if len(by_id) > 1 else f".st-key-{uploader_key()} button")
            st.rerun()


def library_said() -> list[Said]:
    """What the Library's actions came to (``Said``), each in turn, read out once in its live region (``said_here``),
    and only where the Library is the tab shown (a page of the Library alone has no tabs); else kept until it is. A
    job that ended under another tab was said in the hidden Library, and gone at the next run; of two, the second's end
    replaced the first's. Returns what it says this run or keeps."""
    waiting = st.session_state.get(TO_SAY, [])
    saying = library_shown() and bool(waiting)
    with said_here(LIBRARY_SAID, anew=saying):
        if saying:
            del st.session_state[TO_SAY]
            for said in waiting:
                say(said)
    return waiting


def to_say() -> list[Said]:
    """What the Library has yet to say, in turn (``library_said``)."""
    return st.session_state.setdefault(TO_SAY, [])


def say(said: Said) -> None:
    """One thing the Library says: its line (naming an upload, its job's error, a source), a refused poll's answer as
    sent, an upload's notes (its problems quote its file names and rows)."""
    (st.success if said.kind == "ok" else st.error)(plain(said.line))
    if said.details:
        details(said.details)
    for note in said.notes:
        st.info(plain(note))


def library_shown() -> bool:
    """Whether the Library is the tab shown (a page of the Library alone has no tabs): what it says is kept until it
    is (``library_said``, ``jobs_under_way``)."""
    return st.session_state.get("tab", TABS[2]) == TABS[2]


def facets_agreeing(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The facets (``facets``), asked for anew where they disagree with the sources just listed (``rows``): cached for
    every session, they lagged an index changed meanwhile (a job, another user's upload, ``pathatlas index``), and a
    new source's row read 0 pages and 0 figures beside its entries."""
    found = facets()
    if not counts_agree(found["by_source"], rows):
        cached_facets.clear()
        found = facets()
    return found


def counts_agree(by_source: dict[str, dict[str, int]], rows: list[dict[str, Any]]) -> bool:
    """Whether the facets count each source's records as GET /sources counts its entries (``rows``)."""
    return {source: sum(kinds.values()) for source, kinds in by_source.items()} == {r["id"]: r["entries"] for r in rows}


def index_upload(name: str, data: bytes) -> None:
    """Index an uploaded file (POST /jobs), followed on its bar from the rerun on (``follow_jobs``). Once its job is
    queued, that run's uploader is a new one, empty (a Streamlit uploader is emptied by its key): the file left in it,
    "Index it" indexed the same bytes again, "replaced the earlier upload of this name"."""
    job = call("POST", "/jobs", files={"file": (name, data)}, headers=headers(), reword=in_the_page)
    if job is None:  # refused (said) or not answered (said at the run's end): nothing to follow
        return
    st.session_state.library_uploads = st.session_state.get("library_uploads", 0) + 1
    followed_jobs()[job.json()["id"]] = Followed.start(name)
    refocus_uploader(uploader_key())  # the new uploader, just below the job's bar: "Index it" is drawn no more
    st.rerun()


def in_the_page(line: str) -> str:
    """An API sentence as the Library says it: removing a source is its own control ("Remove a source"), not the API
    call the REST message names (``REST_REMOVAL``), and a job is followed on the page, not by ``REST_FOLLOWING``'s
    call; Details still shows the sentence as sent."""
    return REST_FOLLOWING.sub("", REST_REMOVAL.sub(PAGE_REMOVAL, line))


def followed_jobs() -> dict[str, Followed]:
    """The jobs this session follows, by id: its uploads', and those under way at its first listing
    (``follow_running``)."""
    return st.session_state.setdefault("library_jobs", {})


def jobs_under_way(told: frozenset[str]) -> None:
    """The jobs this session follows, each on a bar to its end (``follow_jobs``), then the other jobs of the last hour,
    one line each (``listed_jobs``). GET /jobs is asked at most every ``JOBS_RELISTED_EVERY`` seconds (``jobs_known``),
    on a timer only while a job listed runs, and only the jobs under way at the first listing are followed: asked at
    every run, it made each click a request more, and every open page followed every user's jobs and said their
    "done"; asked at the first draw alone, jobs other users sent or ended later went unlisted until a reload. ``told``:
    the jobs whose end the Library says this run or keeps to say (``library_said``), not listed."""
    known = jobs_known()
    if followed_jobs():
        st.fragment(follow_jobs, run_every=JOB_POLL_EVERY)()
    running = running_ids(jobs_to_list(known, told))
    rerun_every = JOBS_RELISTED_EVERY + JOB_POLL_EVERY if running else None  # a second past due: no jitter skips one
    st.fragment(listed_jobs, run_every=rerun_every)(told, running)


def jobs_known() -> JobsListed | None:
    """The newest jobs (``jobs_listed``), asked for again once the last listing is ``JOBS_RELISTED_EVERY`` old. Those
    under way at the session's first listing are followed from then on (``follow_jobs``), so that a reload mid-upload
    keeps its bar; those sent later are listed alone. None until the service answers (``service_away``): asked again at
    each draw, as a service restarting at the first draw left the session without its jobs for good."""
    known: JobsListed | None = st.session_state.get(LISTED)
    now = time.monotonic()
    if known is not None:
        if now < known.asked + JOBS_RELISTED_EVERY:
            return known
        known.asked = now  # answered or not: an away service is not asked at every click either
    if (listed := jobs_listed()) is None:
        return known
    if known is None:
        follow_running(listed)
    st.session_state[LISTED] = JobsListed({job["id"]: job for job in listed}, now)
    return st.session_state[LISTED]


def follow_running(listed: list[dict[str, Any]]) -> None:
    """Follow the jobs of the first listing that are queued or running."""
    for job in listed:
        if job["status"] in RUNNING:
            followed_jobs().setdefault(job["id"], Followed.start(job["source"]))


def jobs_listed() -> list[dict[str, Any]] | None:
    """The newest jobs (GET /jobs); None where the service was away (``service_away``: not answered, or a proxy's 502
    while it restarts), none where it refused (an API without jobs: asking again would not change that)."""
    try:
        listed = fetch("GET", "/jobs", params={"limit": JOBS_LOOKED_AT})
    except Unreachable:
        return None
    if service_away(listed):
        return None
    return listed.json() if listed.status_code < 400 else []


def follow_jobs() -> None:
    """Each job followed, on its bar, asked how it goes as its time comes (``job_polled``); the first that ends is said
    by the app's rerun (``job_over``). A fragment, rerun every ``JOB_POLL_EVERY`` seconds while jobs are followed: no
    run of the page waits on a job, so a reload or another tab loses nothing."""
    for job_id, job in list(followed_jobs().items()):
        if time.monotonic() >= job.next_poll and (outcome := job_polled(job_id, job)):
            job_over(job_id, outcome)
        st.progress(job.done, text=plain(job.said))


def job_over(job_id: str, outcome: Said) -> None:
    """Stop following a job, its ``outcome`` kept for the Library to say after what it has yet to (``to_say``), and
    rerun the app: the table, its counts and the Source filter then hold what the job indexed, for every session
    (``cached_facets``)."""
    followed_jobs().pop(job_id)
    to_say().append(replace(outcome, job_id=job_id))
    cached_facets.clear()
    st.rerun()


def job_polled(job_id: str, job: Followed) -> Said | None:
    """What came of the job (its line, with its notes or a refused poll's answer as sent) once it ended or the page's
    wait for it (``JOB_POLL_SECONDS``) is over; else None, its bar's share and text kept in ``job``. A poll the service
    did not answer, or a proxy answered for it (``SERVICE_AWAY``), is asked again later (``job_retry_wait``) until
    then: the job goes on through a network blip or a proxy's brief 502 (a restart of the service itself ends it, as
    "interrupted"), and one refused poll had ended the follow."""
    path, now = f"/jobs/{job_id}", time.monotonic()
    polled = job_poll(path)
    if service_away(polled) and now < job.deadline:
        job.said = job_away_message(job.name)
        job.next_poll = now + min(job_retry_wait(job.retries, polled), job.deadline - now)
        job.retries += 1
        return None
    if polled is None:
        return Said("error", job_unanswered_message(job.name))
    if polled.status_code >= 400:
        sent = answered("GET", path, polled)
        if api_has_none(polled):  # its sentence names GET /jobs: the Library says what to do in the page
            return Said("error", job_unknown_message(job.name, job_id), sent)
        return Said("error", job_refused_message(job.name, error_message(detail_of(polled))), sent)
    status, job.retries, job.next_poll = polled.json(), 0, 0.0
    if status["total"]:
        job.done = min(1.0, status["done"] / status["total"])
        job.said = indexing_said(job.name, status)
    if status["status"] not in RUNNING:
        if (known := st.session_state.get(LISTED)) is not None:  # else GET /jobs, once it answers, lists it
            known.jobs[job_id] = status
        return Said(*job_ended(status, job.name), notes=[in_the_page(note) for note in status.get("notes", [])])
    if now > job.deadline:
        return Said("error", job_waited_message(job.name, status["status"], JOB_POLL_SECONDS, job_id))
    return None


def job_poll(path: str) -> httpx.Response | None:
    """GET ``path`` (a job's state); None where the service did not answer, kept from the run's end (``reached`` says
    it there): the poll is asked again, and a page that said "not reachable" above a job that went on to end misled;
    an outage that outlasts the wait is said by ``job_polled``."""
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


def indexing_said(name: str, status: dict[str, Any]) -> str:
    """A job under way as its bar and its line say it: "indexing notes.md: 3/9", the counts where it has any."""
    counts = f": {status['done']}/{status['total']}" if status.get("total") else ""
    return f"indexing {name}{counts}"


def listed_jobs(told: frozenset[str], running: frozenset[str]) -> None:
    """The jobs of the last hour no bar follows (``jobs_to_list``), one line each. A fragment: while one of them runs
    (``running``: those under way at the page's run, which has just asked GET /jobs), rerun on a timer that asks it
    again (``jobs_known``), and the whole page rerun once one ends, so that the table holds its source and the timer
    stops."""
    known = jobs_known() if running else st.session_state.get(LISTED)
    listed = jobs_to_list(known, told)
    if running - running_ids(listed):
        st.rerun()
    if listed:
        st.caption("Uploads of the last hour")
        st.markdown("\n".join(f"- {plain(job_line(job))}" for job in listed))


def jobs_to_list(known: JobsListed | None, told: frozenset[str]) -> list[dict[str, Any]]:
    """The jobs of ``known`` sent in the last ``RECENT_SECONDS``, the newest first, but those followed on a bar and
    those whose end the Library says or keeps to say (``told``): one line per job, whichever list it comes from (an
    upload's end was said twice, in the message and in the list). A page reloaded mid-job never said "done", and a
    student uploaded the file again."""
    since = datetime.now(UTC) - timedelta(seconds=RECENT_SECONDS)
    jobs = known.jobs.values() if known is not None else []
    left_out = {*followed_jobs(), *told}
    recent = [job for job in jobs if job["id"] not in left_out and sent_since(job, since)]
    return sorted(recent, key=lambda job: datetime.fromisoformat(job["submitted"]), reverse=True)


def running_ids(jobs: list[dict[str, Any]]) -> frozenset[str]:
    """The ids of the ``jobs`` queued or running."""
    return frozenset(job["id"] for job in jobs if job["status"] in RUNNING)


def job_line(job: dict[str, Any]) -> str:
    """A listed job's line: as a bar says it while it runs (``indexing_said``), else as ``job_ended`` says its end."""
    return indexing_said(job["source"], job) if job["status"] in RUNNING else job_ended(job, job["source"])[1]


def sent_since(job: dict[str, Any], since: datetime) -> bool:
    """Whether the job was sent after ``since``: not one recorded without the time (by an earlier version)."""
    return job.get("submitted") is not None and datetime.fromisoformat(job["submitted"]) > since
