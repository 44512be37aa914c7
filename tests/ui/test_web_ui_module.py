"""The web UI's module draws its page only when Streamlit runs it (session 43): importing it for a function (as the
AppTest tests of one tab do) had set the page's config and drawn every tab outside Streamlit, asking the API for its
facets, sources and limits. And the fallbacks it keeps for a Streamlit before 1.65 (images drawn with their text
alternative by st.html, the tab kept in the URL by the app) run here with the check turned off, as they run there."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from pathatlas.ui import streamlit_app, web_common
from tests.helpers import app_test_said, send_json

APP = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"
# Every st function the import calls is recorded (and still run), then the API's requests are listed by the test.
IMPORT_ONLY = """
import inspect, json
import streamlit as st

called = []

def recorded(name, function):
    def call(*args, **kwargs):
        called.append(name)
        return function(*args, **kwargs)
    return call

for name in dir(st):
    function = getattr(st, name)
    if not name.startswith("_") and (inspect.isfunction(function) or inspect.ismethod(function)):
        setattr(st, name, recorded(name, function))
from pathatlas.ui import streamlit_app
print(json.dumps(called))
"""
FROM_FILE = """
import json, sys
from streamlit.testing.v1 import AppTest

app = AppTest.from_file(sys.argv[1], default_timeout=120).run()
drawn = {"title": [t.value for t in app.title], "tabs": [t.label for t in app.tabs], "errors": len(app.exception)}
print(json.dumps(drawn))
"""


@pytest.fixture
def busy_api() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A service answering every request 503 (busy), as JSON: its URL, and the requests it was sent."""
    asked: list[tuple[str, str]] = []

    class Busy(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(("GET", self.path))
            send_json(self, 503, {"detail": "The service is busy: try again in a moment."})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()


def ui_env(api: str, home: Path) -> dict[str, str]:
    return {**os.environ, "PATHATLAS_API_URL": api, "PATHATLAS_HOME": str(home), "HF_HUB_OFFLINE": "1"}


def test_importing_the_app_draws_nothing_and_asks_the_api_nothing(busy_api, tmp_path):
    api, asked = busy_api
    called = app_test_said([sys.executable, "-c", IMPORT_ONLY], ui_env(api, tmp_path / "home"), timeout=300)
    assert called == [], "the import drew the page"
    assert asked == [], "the import asked the API"


def test_streamlit_running_the_file_draws_the_whole_page(busy_api, tmp_path):
    """``pathatlas ui`` and AppTest's ``from_file`` run the file as ``__main__``: the page's title and tabs, its
    requests to the API (answered busy: the page still draws)."""
    api, asked = busy_api
    drawn = app_test_said([sys.executable, "-c", FROM_FILE, str(APP)], ui_env(api, tmp_path / "home"), timeout=300)
    assert drawn == {"title": ["PathAtlas"], "tabs": list(streamlit_app.TABS), "errors": 0}
    assert ("GET", "/sources") in asked and ("GET", "/facets") in asked


# -- the fallbacks kept for Streamlit 1.63 and 1.64 -----------------------------------------------------------------
def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


def two_pictures(thumbnail: bytes) -> None:
    """A thumbnail's bytes and a page outlined here (a PIL image), as a card and the viewer draw them."""
    from PIL import Image

    from pathatlas.ui import web_common

    page = Image.new("RGB", (8, 8), "white")
    web_common.picture([thumbnail, page], ["Figure 2 <b>of</b> atlas.pdf", "Page 3 of atlas.pdf"], ["a", "b"])


def test_before_image_alt_each_image_is_drawn_with_its_escaped_text_alternative(monkeypatch):
    monkeypatch.setattr(web_common, "IMAGE_ALT", False)
    app = AppTest.from_function(two_pictures, default_timeout=60, args=(png(),)).run()
    assert not app.exception, app.exception
    drawn = [element.proto.body for element in app.get("html")]
    assert [("data:image/png;base64," in img, "alt=" in img) for img in drawn] == [(True, True), (True, True)]
    assert "alt='Figure 2 &lt;b&gt;of&lt;/b&gt; atlas.pdf'" in drawn[0] and "alt='Page 3 of atlas.pdf'" in drawn[1]
    assert [caption.value for caption in app.caption] == ["a", "b"]
    assert not app.get("imgs")  # no st.image, which would take no alt


def tabs_drawn() -> None:
    from pathatlas.ui import streamlit_app

    streamlit_app.app_tabs()


def test_before_bound_tabs_a_link_opens_its_tab_and_the_tab_is_then_the_users(monkeypatch):
    """A link naming tab=Ask opens Ask; a later run reading another tab in the URL does not switch it back (a tab
    clicked is told to the app by its callback, ``keep_tab``)."""
    monkeypatch.setattr(streamlit_app, "TAB_BOUND", False)
    app = AppTest.from_function(tabs_drawn, default_timeout=60)
    app.query_params["tab"] = "Ask"
    app.run()
    assert not app.exception, app.exception
    assert [tab.label for tab in app.tabs] == list(streamlit_app.TABS)
    assert app.session_state["tab"] == "Ask"
    app.query_params["tab"] = "Library"
    app.run()
    assert app.session_state["tab"] == "Ask"
