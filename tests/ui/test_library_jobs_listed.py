"""The Library's jobs as last session's notes found them: an upload that ended said "done" twice, in the alert saying
its end and in the list of the last hour's uploads; and jobs other users sent or ended after a session's first draw
were not listed until a reload, GET /jobs being asked at that draw alone. The app's drawing in Streamlit's AppTest over
a fake API (``fetch``) and a clock the test moves, as in test_web_ui_library_jobs_under_way."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client, web_library
from tests.ui.test_web_ui_library_and_search_lines import unescaped
from tests.ui.test_web_ui_library_jobs import followed_to_the_end, library
from tests.ui.test_web_ui_library_jobs_under_way import NEW, OLD, UPLOAD, Api, bars, job, row, sent

OTHER_ID = "0e1f2a3b4c5d"  # another user's upload of UPLOAD, sent after this session's first draw
DONE = f"done: {UPLOAD} (8/8 indexed)"
A_MINUTE = 60.0  # later than the Library lists the jobs again


class Clock:
    """``time`` as the Library reads it: ``monotonic`` stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(web_library, "time", moved)
    return moved


@pytest.fixture
def api(monkeypatch, fresh_cache) -> Api:
    """The fake API, with ``OLD`` indexed and no job yet."""
    fake = Api([OLD], [])
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fake)
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    return fake


@pytest.fixture
def timers(monkeypatch) -> dict[str, Any]:
    """How often a browser reruns each of the page's fragments (``run_every``), by its function's name."""
    drawn: dict[str, Any] = {}
    fragment = st.fragment

    def timed(func: Callable, *, run_every: Any = None, **kwargs: Any) -> Callable:
        drawn[func.__name__] = run_every
        return fragment(func, run_every=run_every, **kwargs)

    monkeypatch.setattr(st, "fragment", timed)
    return drawn


def others_job(status: str, done: int) -> dict:
    return {**job(status, done, UPLOAD, OTHER_ID), "submitted": sent(0)}


def listed(app: AppTest) -> list[str]:
    """The lines under "Uploads of the last hour", as read; none where it is not shown."""
    if not app.caption or app.caption[-1].value != "Uploads of the last hour":
        return []
    return [unescaped(line.removeprefix("- ")) for line in app.markdown[-1].value.splitlines()]


def done_said(app: AppTest) -> int:
    """How many lines of the page say the upload is done: its alerts', and those of every list."""
    alerts = [unescaped(alert.value) for alert in [*app.success, *app.error]]
    lines = [unescaped(line) for markdown in app.markdown for line in markdown.value.splitlines()]
    return sum(DONE in said for said in [*alerts, *lines])


def uploaded(app: AppTest) -> AppTest:
    app.file_uploader[0].set_value((UPLOAD, b"%PDF-1.7", "application/pdf")).run()
    return next(button for button in app.button if button.label == "Index it").click().run()


# -- one line per job --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["uploaded-here", "under-way-at-the-first-draw"])
def test_an_upload_followed_to_its_end_says_done_in_one_line(api, clock, where):
    """Its end said in the alert, then (the next run) in the list, and again in it once the jobs are listed anew: the
    alert and the list each said it, one above the other, until a click or a reload."""
    if where == "under-way-at-the-first-draw":  # a reload mid-upload: the job found in GET /jobs, followed
        api.jobs = [{**job("running", 7), "submitted": sent(1)}]
    app = AppTest.from_function(library, default_timeout=30).run()
    if where == "uploaded-here":
        uploaded(app)
    assert bars(app) != []
    api.finish()
    followed_to_the_end(app)
    assert [unescaped(success.value) for success in app.success] == [DONE]
    assert done_said(app) == 1
    assert listed(app.run()) == [DONE] and done_said(app) == 1, "the alert gone, listed"
    clock.now += A_MINUTE
    assert listed(app.run()) == [DONE] and done_said(app) == 1, "listed anew by GET /jobs"
    assert api.asked["GET", "/jobs"] == 2


# -- other users' jobs -------------------------------------------------------------------------------------------------
def test_another_users_upload_is_listed_without_a_reload_and_not_followed(api, clock):
    """Sent after the first draw, it is listed at a later draw, as it goes and as it ends: one line, no bar of its own,
    no poll of its own, no alert saying its "done" (every open page said every user's)."""
    app = AppTest.from_function(library, default_timeout=30).run()
    assert listed(app) == []
    api.jobs = [others_job("running", 3)]
    clock.now += A_MINUTE
    assert listed(app.run()) == [f"indexing {UPLOAD}: 3/8"]
    api.jobs = [others_job("done", 8)]
    clock.now += A_MINUTE
    assert listed(app.run()) == [DONE]
    assert bars(app) == [] and not app.success
    assert ("GET", f"/jobs/{OTHER_ID}") not in api.asked
    assert api.asked["GET", "/jobs"] == 3


def test_the_jobs_are_asked_for_at_most_once_an_interval_whatever_the_clicks(api, clock):
    """Asked at every run, each click was a request more; asked at a session's first draw alone, other users' jobs
    went unlisted until a reload."""
    app = AppTest.from_function(library, default_timeout=30).run()
    for _ in range(3):
        app.run()
    clock.now += web_library.JOBS_RELISTED_EVERY - 1
    app.run()
    assert api.asked["GET", "/jobs"] == 1
    clock.now += 1
    app.run()
    app.run()
    assert api.asked["GET", "/jobs"] == 2


def test_a_listed_job_under_way_is_asked_for_on_a_timer_until_it_ends(api, clock, timers):
    """While another user's job runs, the jobs' lines rerun on their own (nothing else asks GET /jobs in a page left
    open); once none runs, no timer: an idle page asks nothing."""
    app = AppTest.from_function(library, default_timeout=30).run()
    assert timers["listed_jobs"] is None
    api.jobs = [others_job("running", 3)]
    clock.now += A_MINUTE
    app.run()
    assert timers["listed_jobs"] >= web_library.JOBS_RELISTED_EVERY, "no sooner than the jobs are asked for anew"
    api.jobs = [others_job("done", 8)]
    clock.now += A_MINUTE
    app.run()
    assert timers["listed_jobs"] is None


def library_or_its_jobs_rerun() -> None:
    """The Library; or, where the session holds ``rerun_jobs`` (the jobs under way at the page's last run), the jobs'
    fragment alone, as a browser reruns it on its timer."""
    import streamlit as st

    from pathatlas.ui import web_library

    if running := st.session_state.pop("rerun_jobs", None):
        web_library.listed_jobs(frozenset(), running)
    else:
        web_library.library_tab()


def test_a_listed_job_that_ends_as_its_lines_rerun_redraws_the_page_with_its_source(api, clock):
    """The fragment alone drew "done" above a table without the new source, and went on asking every interval."""
    app = AppTest.from_function(library_or_its_jobs_rerun, default_timeout=30).run()
    api.jobs = [others_job("running", 3)]
    clock.now += A_MINUTE
    app.run()
    api.sources, api.jobs = [OLD, NEW], [others_job("done", 8)]
    clock.now += A_MINUTE
    app.session_state["rerun_jobs"] = frozenset({OTHER_ID})
    app.run()
    assert not app.exception, app.exception
    assert (row(app, UPLOAD)["pages"], row(app, UPLOAD)["entries"]) == (8, 43)
    assert listed(app) == [DONE]
