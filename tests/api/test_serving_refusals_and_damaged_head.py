"""The service's refusals outside the application, and HEAD on a damaged file: a stalled body's 408 has an access line
of its own status and id (``BodyTimeout`` lies inside ``RequestIds``); a HEAD of a page or case image whose file was
overwritten in place is answered 410 as its GET is, still without rendering or decoding anything."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import media
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.serving import STALLED
from tests.helpers import calls_to, hashing_env, index_new, indexed_lecture
from tests.uploads import api_settings

BODY_TIMEOUT = 1.0
STALLED_BODIES = {
    "/search/image": b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n",
    "/search": b'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"te\r\n',
}
"""Requests whose body stops after its first piece: an upload, and a JSON body in chunks (read by ``RequestGuard``)."""


def answer_to_stalled(port: int, path: str) -> bytes:
    """All the server sends to a POST of ``path`` whose body stops arriving (``STALLED_BODIES``), until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT + 5) as connection:
        connection.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path.encode() + STALLED_BODIES[path])
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def test_a_stalled_body_has_an_access_line_with_the_408_and_the_id_it_was_answered_with(tmp_path):
    """An operator greps the access log by status, and by the id a student quotes: the line said 400 (the
    application's answer to the disconnect, which the client never got)."""
    root = indexed_lecture(tmp_path, "notes.pdf", "Koilocytes show a perinuclear halo.")
    port = free_port()
    env = {**os.environ, **hashing_env(root / "home"), "PATHATLAS_LOG_FORMAT": "json"}
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "serve", "--index", str(root / "idx")]
    options = ["--port", str(port), "--body-timeout", str(BODY_TIMEOUT)]
    server = subprocess.Popen([*command, *options], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not answers(f"http://127.0.0.1:{port}"):
            assert time.monotonic() < deadline and server.poll() is None, "the service did not start"
            time.sleep(0.2)
        answered = {path: answer_to_stalled(port, path) for path in STALLED_BODIES}
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    access = {entry["request_id"]: entry for entry in map(json.loads, out.splitlines()) if "request_id" in entry}
    for path, response in answered.items():
        head, _, body = response.partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.lower().split(b"\r\n")[1:])
        assert head.startswith(b"HTTP/1.1 408 ") and json.loads(body) == {"detail": STALLED}, response
        line = access[headers[b"x-request-id"].decode()]
        assert (line["method"], line["path"], line["status"]) == ("POST", path, 408), line


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# -- HEAD of a file damaged in place ----------------------------------------------------------------------------------
@pytest.fixture
def library(tmp_path):
    """A service over a two-page book (``tmp_path/library/book.pdf``) and a case folder of a.jpg."""
    settings = api_settings(tmp_path)
    cases = tmp_path / "library" / "cases"
    cases.mkdir(parents=True)
    Image.effect_noise((64, 64), 40).convert("RGB").save(cases / "a.jpg", "JPEG")
    (cases / "labels.csv").write_text("image,case,diagnosis\na.jpg,C-1,granuloma\n")
    index_new(settings, make_pdf(tmp_path / "library" / "book.pdf", 2, "thyroid"), cases)
    with TestClient(create_app(settings)) as client:
        yield client


def zeroed_in_place(path: Path) -> None:
    """``path``'s bytes all zeros, its size and modification time kept: a disk's or a copy's damage that no ``stat``
    shows (the check of a source's state on disk finds it unchanged)."""
    kept = path.stat()
    path.write_bytes(bytes(kept.st_size))
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))


def first_hit(client: TestClient, kind: str, text: str) -> dict:
    return client.post("/search", json={"text": text, "k": 1, "filters": {"kind": kind}}).json()["hits"][0]


def same_refusal(client: TestClient, url: str) -> int:
    """The status that a HEAD and a GET of ``url`` are both answered with, the HEAD without a body."""
    got, head = client.get(url), client.head(url)
    assert (head.status_code, head.content) == (got.status_code, b""), (url, got.text)
    return got.status_code


def test_a_head_of_a_page_whose_pdf_was_damaged_in_place_is_410_as_its_get_without_a_render(
    library, tmp_path, monkeypatch
):
    url = first_hit(library, "page", "thyroid page")["page_url"]
    assert library.get(url).status_code == 200  # rendered, and kept by the render cache
    zeroed_in_place(tmp_path / "library" / "book.pdf")
    rendered = calls_to(monkeypatch, "render", media)
    at_120 = str(httpx.URL(url).copy_merge_params({"dpi": 120}))  # beside the link's own key
    assert same_refusal(library, at_120) == 410 and rendered == [], "told before any render"
    assert same_refusal(library, url) == 410, "not the cached render of the file it was"
    assert library.get(url).json() == {"detail": media.PDF_UNREADABLE}


def test_a_head_of_a_case_image_damaged_in_place_is_410_as_its_get_without_a_decode(library, tmp_path, monkeypatch):
    url = first_hit(library, "case", "granuloma")["case_image_url"]
    assert library.head(url).status_code == 200
    zeroed_in_place(tmp_path / "library" / "cases" / "a.jpg")
    decoded = calls_to(monkeypatch, "open_image", library.app.state.engine)
    assert same_refusal(library, url) == 410 and decoded == []
    assert library.get(url).json() == {"detail": media.IMAGE_UNREADABLE}


def test_a_pdf_or_thumbnail_the_service_cannot_open_is_one_refusal_not_a_broken_200(library, tmp_path, monkeypatch):
    """A source PDF or thumbnail readable only by another user answered 200 with its length, then broke off the body
    (the access line said 200). (The suite runs as root, whom modes do not stop: opening them is made to fail.)"""
    page = first_hit(library, "page", "thyroid page")
    thumbnail = library.app.state.engine.index.thumbnail_path(page["id"])
    closed = {(tmp_path / "library" / "book.pdf").resolve(), thumbnail.resolve()}
    opened = Path.open

    def open_as_another_user(path, *args, **kwargs):
        if path.resolve() in closed:
            raise PermissionError(13, "Permission denied", str(path))
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_as_another_user)
    assert same_refusal(library, f"/records/{page['id']}/pdf") == 410
    assert library.get(f"/records/{page['id']}/pdf").json() == {"detail": media.PDF_UNREADABLE}
    assert same_refusal(library, page["thumbnail_url"]) == 404
