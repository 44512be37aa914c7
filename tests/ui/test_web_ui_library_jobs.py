"""The Library and Open after a refusal, as a reviewer met them (session 42): a job the service no longer knew (its
404 after a restart) or could not report (a proxy's 502) was drawn and wiped at once by the rerun, and the Library
said "the service stopped answering" though it had answered; a job still running after the page's wait said "see
GET /jobs/{id}", no instruction in a web page; Open said "not in the index" for any refusal, a server's failure or a
proxy's timeout included. The app's drawing in Streamlit's AppTest over a fake API (``fetch``)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client, web_library

JOB_ID = "0f3c9a"
UPLOAD = "notes.md"
NGINX_502 = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
NGINX_504 = NGINX_502.replace("502 Bad Gateway", "504 Gateway Time-out")
FORGOTTEN = f"no job {JOB_ID} of this index (job records are kept for 7 days): GET /jobs lists those kept"


def answer(status: int, body: str, content_type: str = "text/html") -> httpx.Response:
    return httpx.Response(status, text=body, headers={"Content-Type": content_type})


def json_answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def stopped_answering() -> httpx.Response:
    raise web_client.Unreachable("connection refused")


def fake_api(monkeypatch, poll: Callable[[], httpx.Response]) -> None:
    """The Library's requests answered here: no sources yet, no job listed, an upload taken as job ``JOB_ID``, which
    ``poll`` answers."""
    answers = {
        ("GET", "/sources"): lambda: json_answer(200, []),
        ("GET", "/jobs"): lambda: json_answer(200, []),
        ("POST", "/jobs"): lambda: json_answer(202, {"id": JOB_ID, "status": "queued", "source": UPLOAD}),
        ("GET", f"/jobs/{JOB_ID}"): poll,
    }

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        return answers[method, path]()

    for module in (web_client, web_library):  # the Library's requests, and its polls of the job
        monkeypatch.setattr(module, "fetch", fetch)
    monkeypatch.setattr(web_library, "facets", lambda: web_client.NO_FACETS)
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)


def library() -> None:
    from pathatlas.ui import web_library

    web_library.library_tab()


def indexed(upload: str) -> AppTest:
    """The Library after ``upload`` was chosen and Index it pressed (its job polled, then the rerun that shows it)."""
    app = AppTest.from_function(library, default_timeout=60).run()
    app.file_uploader[0].set_value((upload, b"# Inflammation\n\nNeutrophils first.", "text/markdown")).run()
    next(button for button in app.button if button.label == "Index it").click().run()
    return followed_to_the_end(app)


def followed_to_the_end(app: AppTest, runs: int = 200) -> AppTest:
    """``app`` run again, as its jobs' fragment reruns in a browser (``JOB_POLL_EVERY``), until it follows no job."""
    for _ in range(runs):
        assert not app.exception, app.exception
        if "library_jobs" not in app.session_state or not app.session_state["library_jobs"]:
            return app
        app.run()
    raise AssertionError(f"still following {app.session_state['library_jobs']} after {runs} runs")


# -- an upload's job, polled ---------------------------------------------------------------------------------------
def still_running() -> httpx.Response:
    return json_answer(200, {"id": JOB_ID, "status": "running", "source": UPLOAD, "done": 2, "total": 9})


@pytest.mark.parametrize(
    ("poll", "said"),
    [
        (lambda: json_answer(404, {"detail": FORGOTTEN}), present.job_unknown_message(UPLOAD, JOB_ID)),
        (lambda: answer(502, NGINX_502), present.job_refused_message(UPLOAD, present.service_failed_message(None))),
        (still_running, present.job_waited_message(UPLOAD, "running", 0, JOB_ID)),
        (stopped_answering, present.job_unanswered_message(UPLOAD)),
    ],
    ids=["forgotten-404", "proxy-502", "waited-too-long", "stopped-answering"],
)
def test_what_became_of_an_upload_is_said_after_the_rerun_in_the_librarys_words(monkeypatch, poll, said):
    """The Library's line after the rerun that shows the new sources: what happened and what to do in the page,
    never "the service stopped answering" for a service that answered, nor an API path; the job's id for whoever runs
    the service where the service holds it."""
    fake_api(monkeypatch, poll)
    monkeypatch.setattr(web_library, "JOB_POLL_SECONDS", 0)
    [line] = [error.value for error in indexed(UPLOAD).error]
    assert line == present.plain(said)
    assert "GET /" not in line and "see GET" not in line
    assert ("stopped answering" in line) == (poll is stopped_answering)


def job_done() -> httpx.Response:
    return json_answer(200, {"id": JOB_ID, "status": "done", "source": UPLOAD, "done": 9, "total": 9, "notes": []})


@pytest.mark.parametrize("poll", [job_done, still_running], ids=["done", "still-running-after-the-wait"])
def test_an_upload_leaves_the_uploader_once_its_job_is_queued(monkeypatch, poll):
    """The file stayed in the uploader after "done", and "Index it" with it: a second click indexed the same bytes
    again ("replaced the earlier upload of this name")."""
    fake_api(monkeypatch, poll)
    monkeypatch.setattr(web_library, "JOB_POLL_SECONDS", 0)
    app = indexed(UPLOAD)
    assert [uploader.value for uploader in app.file_uploader] == [None]
    assert [button.label for button in app.button if button.label == "Index it"] == []


def test_a_refused_poll_keeps_the_answer_as_sent_under_details_past_the_rerun(monkeypatch):
    fake_api(monkeypatch, lambda: answer(502, NGINX_502))
    monkeypatch.setattr(web_library, "JOB_POLL_SECONDS", 0)  # a proxy's 502 is waited out until then
    app = indexed(UPLOAD)
    assert [expander.label for expander in app.expander] == ["Details"]
    assert f"GET /jobs/{JOB_ID}: 502" in app.code[0].value and "nginx" in app.code[0].value


def test_the_job_wording_names_the_upload_and_what_to_do_in_the_page():
    unknown = present.job_unknown_message("Robbins ch. 2.pdf", "abc123")
    assert "Robbins ch. 2.pdf" in unknown and "abc123" in unknown and "add it again" in unknown
    waited = present.job_waited_message("Robbins ch. 2.pdf", "queued", 1800, "abc123")
    assert "after 30 minutes" in waited and "abc123" in waited and "reload the page" in waited


# -- Open on a page or a cited record ------------------------------------------------------------------------------
def open_next_page() -> None:
    from pathatlas.ui import web_viewer

    hit = {"id": "r1", "kind": "page", "citation": {"source_id": "s1", "source": "book.pdf", "page": 2}}
    web_viewer.open_page(hit, 3, "selected")


def open_cited_record() -> None:
    from pathatlas.ui import web_ask

    web_ask.open_cited({"evidence": "r9", "record": "r9", "figure": None, "bbox": None}, None, "quote-A-0")


MISSING = {
    open_next_page: "page 3 is not in the index",
    open_cited_record: "the cited record is no longer in the index",
}
API_404 = json_answer(404, {"detail": "no page 3 of book.pdf in the index"})
API_503 = json_answer(503, {"detail": "The index is being rebuilt: try again in a minute."})


@pytest.mark.parametrize("draw", [open_next_page, open_cited_record], ids=["page", "cited"])
@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        (API_404, None),  # the API's own 404: what the button opens is missing
        (answer(504, NGINX_504), present.service_failed_message(None)),  # a proxy gave up waiting
        (API_503, "The index is being rebuilt: try again in a minute."),
        (answer(404, NGINX_502.replace("502 Bad Gateway", "404 Not Found")), present.REFUSED),  # a proxy's wrong path
    ],
    ids=["api-404", "proxy-504", "api-503", "proxy-404"],
)
def test_open_says_not_in_the_index_only_where_the_api_says_so(monkeypatch, draw, refusal, said):
    monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: refusal)
    app = AppTest.from_function(draw, default_timeout=60).run()
    assert not app.exception, app.exception
    [toast] = [toast.value for toast in app.toast]
    assert toast == present.plain(said or MISSING[draw])
    assert ("in the index" in toast) == (said is None)
