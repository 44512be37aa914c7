"""The web UI against a service behind a path prefix (``pathatlas serve --root-path /atlas``): the API's media URLs
carry the prefix for a browser, and the UI fetches them under its own PATHATLAS_API_URL, which reaches the service
directly (``http://127.0.0.1:PORT``, where they 404'd) or through the proxy (``https://host/atlas``, where httpx
doubled the prefix). Images the API refuses are one error line, not blank cards. The real service (uvicorn in a thread,
with a prefix-stripping proxy in front where it is one) and the app in Streamlit's AppTest; hashing encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.present import PAGE_GONE, media_path, media_problem, plain, served_root, unreachable_message
from tests.api.test_api_front_end import PREFIX, case_folder, indexed
from tests.servers import uvicorn_thread

APP = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"


def behind_proxy(app):
    """A reverse proxy serving ``app`` under ``PREFIX`` as uvicorn --root-path sees it: ``/atlas/media/x`` reaches the
    service as its path with the prefix as root path; a path outside the prefix is not the proxy's to forward."""

    async def proxy(scope, receive, send):
        if scope["type"] != "http":  # the lifespan: the service's engine opens
            return await app(scope, receive, send)
        if not scope["path"].startswith(f"{PREFIX}/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            return await send({"type": "http.response.body", "body": b""})
        return await app({**scope, "root_path": PREFIX}, receive, send)

    return proxy


def restarting(app, down: threading.Event):
    """A proxy before ``app`` answering its OpenAPI document with 502 while ``down`` is set, as while the service
    behind it restarts."""

    async def proxy(scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/openapi.json") and down.is_set():
            await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/html")]})
            return await send({"type": "http.response.body", "body": b"<html>502 Bad Gateway</html>"})
        return await app(scope, receive, send)

    return proxy


@contextmanager
def served(settings: Settings, through_proxy: bool, down: threading.Event | None = None) -> Iterator[str]:
    """The service with ``--root-path /atlas`` in a thread; yields the base URL a UI is given: the service's own
    address, or the proxy's address with the prefix. While ``down`` is set, its OpenAPI document is a 502."""
    app = create_app(settings) if down is None else restarting(create_app(settings), down)
    port = free_port()
    config = uvicorn.Config(
        behind_proxy(app) if through_proxy else app,
        host="127.0.0.1",
        port=port,
        root_path="" if through_proxy else PREFIX,
        log_level="error",
    )
    with uvicorn_thread(config):
        yield f"http://127.0.0.1:{port}{PREFIX if through_proxy else ''}"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("root-path")
    return indexed(root, case_folder(root / "cases"))


def media_urls(client: httpx.Client) -> list[str]:
    """Every kind of media URL a search answer leads to: thumbnails, a page view, a case's image."""
    hits = client.post("/search", json={"text": "a page granuloma", "k": 10}).json()["hits"]
    case = next(hit for hit in hits if hit["kind"] == "case")
    urls = [hit["thumbnail_url"] for hit in hits] + [next(hit["page_url"] for hit in hits if hit.get("page_url"))]
    return urls + [image["url"] for image in client.get(f"/cases/{case['id']}").json()["images"]]


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "through-proxy"])
def test_media_urls_are_fetched_under_the_ui_base_url_directly_and_through_a_proxy(library, through_proxy):
    with served(library, through_proxy) as base, httpx.Client(base_url=base, timeout=60) as client:
        root = served_root(client.get("/openapi.json").json())
        assert root == PREFIX
        urls = media_urls(client)
        assert all(url.startswith(f"{PREFIX}/media/") for url in urls), urls
        assert {client.get(url).status_code for url in urls} == {404}, "as the API gives them: the prefix twice"
        for url in urls:
            fetched = client.get(media_path(url, root))
            assert fetched.status_code == 200 and fetched.headers["content-type"].startswith("image/"), url


def test_media_paths_keep_urls_outside_the_root_and_an_unprefixed_service():
    assert media_path("/atlas/media/pages/x?dpi=110", "/atlas") == "/media/pages/x?dpi=110"
    assert media_path("/atlas2/media/pages/x", "/atlas") == "/atlas2/media/pages/x"  # not under the root
    assert media_path("/media/thumbnails/x", "") == "/media/thumbnails/x"
    assert served_root({"openapi": "3.1.0"}) == "" and served_root({"servers": [{"url": "/atlas/"}]}) == "/atlas"
    refused = [("/media/pages/x", "the source PDF is gone."), ("/media/pages/y", "gone")]
    assert media_problem(refused[:1]) == "1 image could not be loaded from the PathAtlas service: /media/pages/x: " + (
        "the source PDF is gone."
    )
    assert media_problem(refused).startswith("2 images could not be loaded")
    proxy_page = [("/media/pages/x", "<html>\n<head><title>502 Bad Gateway</title></head>" + " <p>nginx</p>" * 50)]
    assert len(media_problem(proxy_page)) < 250 and "\n" not in media_problem(proxy_page)


SEARCHED = """
import json, sys
from streamlit.testing.v1 import AppTest

def seen(app):
    images = len(app.get("image")) + len([h for h in app.get("html") if "<img" in str(h.proto)])  # st.html: before alt
    return {"images": images, "errors": [e.value for e in app.error], "exceptions": [e.value for e in app.exception]}

app = AppTest.from_file(sys.argv[1], default_timeout=120)
app.run()
app.text_input[0].input("a page granuloma")
app.button[0].click().run()  # the search form's button
print(json.dumps(seen(app)), flush=True)
input()  # the test changes what the app meets
"""
"""An AppTest script: what the app shows after a search (``seen``), then, once the test sends a line, what it shows
after the script lines added to it."""
OPEN_A_PAGE = 'next(b for b in app.button if (b.key or "").startswith("open-") and "case" not in b.label).click().run()'
"""``SEARCHED``'s line that opens the first page found."""


def shown_before_and_after(base: str, then: str, change: Callable[[], object]) -> tuple[dict, dict]:
    """What the app against the service at ``base`` showed after a search, and after running ``then`` (``SEARCHED``'s
    lines) once ``change()`` has changed what it meets. The app runs in a process of its own, as in
    test_web_ui_api_requests.py."""
    env = {**os.environ, "PATHATLAS_API_URL": base, "HF_HUB_OFFLINE": "1"}
    script = f"{SEARCHED}{then}\nprint(json.dumps(seen(app)), flush=True)\n"
    app = subprocess.Popen(
        [sys.executable, "-c", script, str(APP)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        searched = json.loads(app.stdout.readline() or "{}")
        change()
        after = json.loads(app.communicate("\n", timeout=120)[0] or "{}")
    finally:
        app.kill()
    assert app.returncode == 0
    return searched, after


def test_the_ui_shows_a_prefixed_services_images_and_one_line_for_those_it_refuses(tmp_path):
    """The tester's run: AppTest with PATHATLAS_API_URL at the service's own address showed no thumbnail, page or case
    image and no error. A page whose book was moved away since (the API answers 410) is one error line, the viewer's
    (``page_gone``: it named a server path). The app runs in a process of its own, as in test_web_ui_api_requests.py."""
    settings = indexed(tmp_path, case_folder(tmp_path / "cases"))

    def move_the_book_away():
        (tmp_path / "library" / "a.pdf").rename(tmp_path / "moved.pdf")

    with served(settings, through_proxy=False) as base:
        searched, opened = shown_before_and_after(base, OPEN_A_PAGE, move_the_book_away)
    assert searched["exceptions"] == [] and searched["errors"] == [], searched
    assert searched["images"] >= 3, searched  # the cards' thumbnails, the case's on its card
    assert opened["exceptions"] == [], opened
    assert opened["errors"] == [plain(f"Page 1 of a.pdf {PAGE_GONE[410]}")], opened["errors"]  # Markdown, as drawn


def test_a_502_for_the_openapi_document_is_not_kept_for_ten_minutes(tmp_path):
    """A proxy's 502 right after a restart was cached as "no root path" for ten minutes, shared by every session: each
    image then 404'd under the prefix twice. It is said as unreachable once, and the next run shows the images."""
    settings = indexed(tmp_path, case_folder(tmp_path / "cases"))
    down = threading.Event()
    down.set()
    with served(settings, through_proxy=False, down=down) as base:
        restarting_run, next_run = shown_before_and_after(base, "app.run()", down.clear)
    assert restarting_run["exceptions"] == [] and restarting_run["images"] == 0, restarting_run
    assert restarting_run["errors"] == [unreachable_message(base)], restarting_run
    assert next_run["exceptions"] == [] and next_run["errors"] == [], next_run
    assert next_run["images"] >= 3, next_run
