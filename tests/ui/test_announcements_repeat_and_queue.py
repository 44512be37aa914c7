"""What the live regions said, as a screen reader user met them (task VO): Ask pressed again for the same answer said
nothing (its region's text did not change, and a screen reader reads what changes), and of two Library jobs that
ended while another tab was shown, only the last one's end was kept for when the Library was shown again. In chromium
over the web UI of a fake service on loopback (``served``), and the Library alone in Streamlit's AppTest over the
same fake (``Service``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client, web_library
from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.web_common import ASK_SAID, LIBRARY_SAID
from tests.servers import start_ui, stop
from tests.ui.test_browser import expect, finished, needs_chromium
from tests.ui.test_keyboard_ask_library import library_app, listed, said_in_library
from tests.ui.test_web_ui_library_jobs import followed_to_the_end, json_answer
from tests.ui.test_web_ui_library_jobs_under_way import NEW, OLD, Api, job, sent
from tests.ui.test_web_viewer_ask_walkthrough import ANSWER, ran

FIRST, SECOND = "first.pdf", "second.pdf"  # two uploads under way, listed in this order
FIRST_ID, SECOND_ID = "f1f1f1f1f1f1", "5e5e5e5e5e5e"
ANSWER_LINE = "Answer: A. Tuberculosis"


def done_line(source: str) -> str:
    return f"done: {source} (8/8 indexed)"


class Service(Api):
    """``Api`` (the sources ``OLD`` and ``NEW``, the jobs a test sets), which also answers every question with
    ``ANSWER`` and any other path with the API's 404."""

    def __call__(self, method: str, path: str, **kwargs) -> httpx.Response:
        if (method, path) == ("POST", "/ask"):
            self.asked[method, path] = self.asked.get((method, path), 0) + 1
            return json_answer(200, ANSWER)
        if method == "GET" and path not in ("/sources", "/facets", "/jobs", "/health") and not self.lists(path):
            return json_answer(404, {"detail": "Not Found"})
        return super().__call__(method, path, **kwargs)

    def lists(self, path: str) -> bool:
        return any(path == f"/jobs/{listed['id']}" for listed in self.jobs)

    def under_way(self) -> None:
        """Two uploads being indexed, ``FIRST`` sent before ``SECOND``."""
        self.jobs = [
            {**job("running", 3, SECOND, SECOND_ID), "submitted": sent(1)},
            {**job("running", 3, FIRST, FIRST_ID), "submitted": sent(2)},
        ]

    def end(self, job_id: str) -> None:
        """Job ``job_id`` is done."""
        self.jobs = [
            {**listed, "status": "done", "done": 8} if listed["id"] == job_id else listed for listed in self.jobs
        ]


@contextmanager
def served(service: Service) -> Iterator[str]:
    """``service`` answering HTTP on a loopback port: its URL."""

    class Handler(BaseHTTPRequestHandler):
        def answer(self, method: str) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            response = service(method, urlsplit(self.path).path, headers=dict(self.headers))
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        def do_GET(self):
            self.answer("GET")

        def do_POST(self):
            self.answer("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def service() -> Service:
    return Service([OLD, NEW], [])


@pytest.fixture(scope="module")
def ui_url(service) -> Iterator[str]:
    """The web UI over ``service``."""
    with served(service) as api:
        ui, url = start_ui(api, free_port())
        try:
            yield url
        finally:
            stop(ui)


@pytest.fixture
def opened(chromium, ui_url) -> Callable:  # conftest.py's chromium
    """A new session of the web UI in a tab of its own, its app drawn, as ``opened()`` opens it."""

    def open_page():
        tab = chromium.new_page(viewport={"width": 1400, "height": 1300})
        tab.set_default_timeout(60_000)
        tab.goto(ui_url)
        finished(tab)
        return tab

    return open_page


HEARD = """region => {
    window.heard = [region.innerText];
    const look = () => {
        if (region.innerText !== window.heard.at(-1)) window.heard.push(region.innerText);
        requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
}"""
"""Keep, frame by frame, each text the live region ``region`` shows, as it changes (``window.heard``): what it holds
hidden (a screen reader skips it too) is not in its ``innerText``."""


def heard_in(region) -> None:
    """Keep what the live region ``region`` shows from now on (``HEARD``), once the page has made it one."""
    expect(region).to_have_attribute("aria-live", "polite")
    region.evaluate(HEARD)


def times_said(page, line: str) -> int:
    """How often ``line`` came into the live region kept (``heard_in``) since it was kept: a screen reader reads a
    line as it comes, not one that stays as it was."""
    heard = page.evaluate("window.heard")
    return sum(line in now and line not in before for before, now in zip(heard, heard[1:], strict=False))


def waited(done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


@needs_chromium
def test_asking_again_for_the_same_answer_says_it_again_and_only_then(opened, service):
    service.jobs = []
    tab = opened()
    tab.get_by_role("tab", name="Ask").click()
    tab.get_by_label("Question").fill("Which diagnosis fits?")
    tab.get_by_label("Options, one per line").fill("Tuberculosis\nSarcoidosis")
    region = tab.locator(f".st-key-{ASK_SAID}")
    heard_in(region)
    asked_before = service.asked.get(("POST", "/ask"), 0)
    for times in (1, 2):
        tab.get_by_role("button", name="Ask", exact=True).click()
        waited(lambda times=times: service.asked.get(("POST", "/ask"), 0) == asked_before + times)
        finished(tab)
        expect(region).to_contain_text(ANSWER_LINE, use_inner_text=True)  # the last answer's, still shown, may be it
        try:  # the new one comes in once its hold (SAYING_HIDDEN_MS) is over: a busy machine's frames come late
            waited(lambda times=times: times_said(tab, ANSWER_LINE) >= times, seconds=10)
        finally:
            assert times_said(tab, ANSWER_LINE) == times, tab.evaluate("window.heard")
    tab.get_by_label("Question").fill("Which diagnosis fits best?")  # another run, no Ask: nothing said again
    tab.keyboard.press("Tab")
    expect(tab.get_by_text("Below: the answer to the question as asked")).to_be_visible()
    finished(tab)
    assert times_said(tab, ANSWER_LINE) == 2, tab.evaluate("window.heard")
    tab.close()


@needs_chromium
def test_two_jobs_that_end_under_another_tab_are_both_said_in_turn_once_the_library_is_shown(opened, service):
    service.under_way()
    tab = opened()
    bars = tab.locator("[data-testid=stProgress]")  # the Library's, drawn in its tab while another is shown
    expect(bars).to_have_count(2)
    tab.get_by_role("tab", name="Ask").click()
    finished(tab)
    service.end(SECOND_ID)  # the second upload ends first
    expect(bars).to_have_count(1)
    service.end(FIRST_ID)
    expect(bars).to_have_count(0)
    finished(tab)
    region = tab.locator(f".st-key-{LIBRARY_SAID}")
    heard_in(region)
    tab.get_by_role("tab", name="Library").click()
    both = f"{done_line(SECOND)}\n{done_line(FIRST)}"  # in the order they ended
    expect(region).to_have_text(both, use_inner_text=True)
    finished(tab)
    tab.get_by_role("tab", name="Search").click()  # further runs: said once only
    finished(tab)
    tab.get_by_role("tab", name="Library").click()
    expect(tab.get_by_text("Uploads of the last hour")).to_be_visible()
    finished(tab)
    assert [times_said(tab, done_line(source)) for source in (SECOND, FIRST)] == [1, 1], tab.evaluate("window.heard")
    tab.close()


# -- the Library alone, over the same fake ---------------------------------------------------------------------------
@pytest.fixture
def library_api(monkeypatch, fresh_cache) -> Service:  # conftest.py
    fake = Service([OLD, NEW], [])
    fake.under_way()
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fake)
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    return fake


def following(app: AppTest) -> list[str]:
    return list(app.session_state["library_jobs"]) if "library_jobs" in app.session_state else []


def test_jobs_that_end_under_another_tab_are_kept_in_turn_and_said_once(library_api):
    """The second end replaced the first, which was then only listed among the last hour's uploads, never said."""
    app = library_app("Ask")
    assert following(app) == [SECOND_ID, FIRST_ID]
    library_api.end(SECOND_ID)
    while following(app) != [FIRST_ID]:
        ran(app)
    library_api.end(FIRST_ID)
    followed_to_the_end(app)
    ran(app)  # a click in Ask
    assert said_in_library(app) == []
    app.session_state["tab"] = "Library"
    assert said_in_library(ran(app)) == [done_line(SECOND), done_line(FIRST)]
    assert listed(app) == [], "each said by its line, not listed beside it too"
    assert said_in_library(ran(app)) == [], "said once"
    assert listed(app) == [f"- {done_line(SECOND)}", f"- {done_line(FIRST)}"]
