"""The Library follows an upload's job through a brief outage (session 43): one poll of GET /jobs/{id} that the
service did not answer (restarting, a connection refused) or a proxy answered 502/503/504 for it ended the follow
with an error while the job went on and finished, and the page said "not reachable" above it. Such a poll is asked
again, a little later each time, until the page's wait ends; any other refusal ends it at once. The app's drawing in
Streamlit's AppTest over a fake API (``fetch``), as in test_web_ui_library_jobs."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_library
from tests.ui.test_web_ui_library_jobs import (
    FORGOTTEN,
    JOB_ID,
    NGINX_502,
    NGINX_504,
    UPLOAD,
    answer,
    fake_api,
    followed_to_the_end,
    json_answer,
    still_running,
    stopped_answering,
)

BUSY_503 = httpx.Response(
    503, json={"detail": "The service is busy: try again in a moment."}, headers={"Retry-After": "1"}
)
DONE_LINE = f"done: {UPLOAD} (9/9 indexed)"


def finished() -> httpx.Response:
    return json_answer(200, {"id": JOB_ID, "status": "done", "source": UPLOAD, "done": 9, "total": 9, "notes": []})


class Polls:
    """GET /jobs/{id} answered by ``replies`` in turn (each a response, or a callable that answers or raises), the
    last again once they run out; ``asked`` counts the polls."""

    def __init__(self, *replies: httpx.Response | Callable[[], httpx.Response]) -> None:
        self.replies, self.asked = replies, 0

    def __call__(self) -> httpx.Response:
        reply = self.replies[min(self.asked, len(self.replies) - 1)]
        self.asked += 1
        return reply() if callable(reply) else reply


@pytest.fixture
def quick_retries(monkeypatch):
    """Waits between polls of an away service of 10 ms, so a test's outage lasts moments."""
    monkeypatch.setattr(web_library, "JOB_RETRY_MOST", 0.01)


def library_then_notice() -> None:
    """The Library, then the run's end as the app draws it: the unreachable API's sentence (``notice_unreachable``)."""
    import streamlit as st

    from pathatlas.ui import web_client, web_library

    notice = st.empty()
    web_library.library_tab()
    web_client.notice_unreachable(notice)


def followed(monkeypatch, polls: Polls) -> AppTest:
    """The page after an upload was indexed and its job followed through ``polls``, and the rerun that lists it."""
    fake_api(monkeypatch, polls)
    app = AppTest.from_function(library_then_notice, default_timeout=60).run()
    app.file_uploader[0].set_value((UPLOAD, b"# Inflammation\n\nNeutrophils first.", "text/markdown")).run()
    next(button for button in app.button if button.label == "Index it").click().run()
    return followed_to_the_end(app)


@pytest.mark.parametrize(
    "away",
    [BUSY_503, answer(502, NGINX_502), answer(504, NGINX_504), stopped_answering],
    ids=["service-503", "proxy-502", "proxy-504", "connection-refused"],
)
def test_a_job_followed_through_an_outage_is_said_done_with_no_error_line(monkeypatch, quick_retries, away):
    polls = Polls(still_running, away, away, finished)
    app = followed(monkeypatch, polls)
    assert polls.asked == 4
    assert [success.value for success in app.success] == [present.plain(DONE_LINE)]
    assert not app.error, [error.value for error in app.error]  # nor "not reachable" left from the outage
    assert not app.expander  # no refused poll's Details


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        (json_answer(404, {"detail": FORGOTTEN}), present.job_unknown_message(UPLOAD, JOB_ID)),
        (
            json_answer(401, {"detail": "A valid bearer token is needed."}),
            present.job_refused_message(UPLOAD, "A valid bearer token is needed."),
        ),
    ],
    ids=["unknown-job-404", "unauthorised-401"],
)
def test_another_refusal_after_an_outage_ends_the_follow_at_once(monkeypatch, quick_retries, refusal, said):
    """The service back, but without the job (a restart lost its record) or refusing the token: asked again, the
    answer would be the same for the page's whole wait."""
    monkeypatch.setattr(web_library, "JOB_POLL_SECONDS", 5)  # a retried refusal fails here, not after 30 minutes
    polls = Polls(BUSY_503, refusal)
    app = followed(monkeypatch, polls)
    assert polls.asked == 2
    assert [error.value for error in app.error] == [present.plain(said)]


@pytest.mark.parametrize(
    ("away", "said"),
    [
        (stopped_answering, present.job_unanswered_message(UPLOAD)),
        (answer(502, NGINX_502), present.job_refused_message(UPLOAD, present.service_failed_message(None))),
    ],
    ids=["connection-refused", "proxy-502"],
)
def test_an_outage_past_the_pages_wait_is_said_as_before_once_asked_again(monkeypatch, quick_retries, away, said):
    monkeypatch.setattr(web_library, "JOB_POLL_SECONDS", 0.2)
    polls = Polls(away)
    app = followed(monkeypatch, polls)
    assert polls.asked > 2
    assert [error.value for error in app.error] == [present.plain(said)]
    assert bool(app.expander) == (away is not stopped_answering)  # the proxy's last answer as sent, under Details


def job_followed(job_id: str, name: str) -> None:
    """The jobs' fragment alone, following job ``job_id``: its progress bar as each poll leaves it."""
    from pathatlas.ui import web_library

    web_library.followed_jobs().setdefault(job_id, web_library.Followed.start(name))
    web_library.follow_jobs()


def test_the_bar_says_the_service_is_not_answering_and_keeps_the_share_indexed(monkeypatch, quick_retries):
    fake_api(monkeypatch, Polls(still_running, stopped_answering))
    app = AppTest.from_function(job_followed, default_timeout=60, args=(JOB_ID, UPLOAD)).run()  # 2/9
    [bar] = app.run().get("progress")  # the next poll: not answered
    assert bar.proto.text == present.plain(present.job_away_message(UPLOAD))
    assert bar.proto.value == 22  # 2 of 9, as last told
    assert "not answering" in bar.proto.text and "still waiting" in bar.proto.text


def away_for(retry_after: str | None) -> httpx.Response:
    return httpx.Response(503, headers={} if retry_after is None else {"Retry-After": retry_after})


def test_an_away_service_is_asked_again_later_each_time_as_it_asks_within_bounds():
    waits = [web_library.job_retry_wait(retries, None) for retries in range(40)]
    assert waits == sorted(waits) and waits[0] < waits[1] < waits[2]
    assert waits[-1] == web_library.JOB_RETRY_MOST
    assert web_library.job_retry_wait(0, away_for("7")) == 7  # the service's Retry-After
    assert web_library.job_retry_wait(0, away_for("3600")) == web_library.JOB_RETRY_MOST  # past the page's wait
    assert web_library.job_retry_wait(0, away_for("0")) == web_library.JOB_POLL_EVERY  # no flood
    by_date = web_library.job_retry_wait(3, away_for("Wed, 21 Oct 2015 07:28:00 GMT"))
    assert by_date == web_library.job_retry_wait(3, away_for(None)) == waits[3]  # a date: the page's own step
