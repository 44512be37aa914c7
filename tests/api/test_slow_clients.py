"""``pathatlas serve`` against clients that stall (a reviewer's finding: 1,100 sockets that sent their headers and one
body line, then nothing, held the service until it ran out of file descriptors and logged 72 MB of asyncio errors).
A real server on loopback, in a process of its own, on a one-page lecture with the hashing encoder."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.serving import ACCEPT_FAILED, OVER_CONCURRENCY, BodyTimeout, RepeatsThrottled
from tests.helpers import hashing_env, indexed_lecture, run_cli

BODY_TIMEOUT = 1.0
LIMIT = 4
UPLOAD_HEAD = (
    b"POST /search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    b"Content-Length: %d\r\n\r\n--b\r\n"
)
"""The reviewer's request: an upload's headers and its first body line."""


@contextmanager
def served(root: Path, *options: str, open_files: tuple[int, int] | None = None) -> Iterator[tuple[str, int, Path]]:
    """``pathatlas serve`` of ``root``'s lecture with ``options``, started under the ``open_files`` limits (soft,
    hard) when given; yields its URL, process id and stderr's file once it is ready (warmed up: nothing more is
    logged unasked), and stops it after."""
    port = free_port()
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "serve", "--index", str(root / "idx")]
    limits = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, open_files)) if open_files else None
    log = root / f"serve-{port}.err"  # a file, not a pipe: a flood of lines would fill a pipe and block the server
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [*command, "--port", str(port), *options],
            env={**os.environ, **hashing_env(root / "home")},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=limits,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not answers(url, "/ready"):
            assert time.monotonic() < deadline and server.poll() is None, "the service did not start"
            time.sleep(0.1)
        yield url, server.pid, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def answers(url: str, route: str = "/health") -> bool:
    try:
        return httpx.get(f"{url}{route}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    return indexed_lecture(tmp_path_factory.mktemp("slow"), "notes.pdf", "Koilocytes show a perinuclear halo.")


@pytest.fixture(scope="module")
def service(lecture) -> Iterator[tuple[str, int, Path]]:
    """One server for the module: a short body timeout, a small concurrency limit, started at a soft limit of 256
    open files below the hard one."""
    options = ("--body-timeout", str(BODY_TIMEOUT), "--limit-concurrency", str(LIMIT))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with served(lecture, *options, open_files=(256, hard)) as running:
        yield running


def stalled(url: str, length: int = 100_000) -> socket.socket:
    """A connection that sent an upload's headers and first body line, then nothing."""
    connection = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=BODY_TIMEOUT + 5)
    connection.sendall(UPLOAD_HEAD % length)
    return connection


def until_closed(connection: socket.socket) -> bytes:
    """All the server sends until it closes the connection (a socket timeout if it does not)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> dict:
    return json.loads(response.partition(b"\r\n\r\n")[2])


def test_a_stalled_body_is_answered_408_and_its_connection_closed_while_others_are_answered(service):
    url, _, _ = service
    with stalled(url) as connection:
        started = time.monotonic()
        assert httpx.get(f"{url}/health").status_code == 200, "another client is answered meanwhile"
        response = until_closed(connection)
    waited = time.monotonic() - started
    assert (status_of(response), body_of(response)) == (
        408,
        {"detail": "the request body stopped arriving: send the request again"},
    )
    assert b"connection: close" in response.lower() and re.search(rb"x-request-id: \w+", response.lower())
    assert BODY_TIMEOUT * 0.8 < waited < BODY_TIMEOUT + 2, waited


def test_a_body_that_keeps_coming_slowly_is_read_whole(service):
    url, _, _ = service
    body = json.dumps({"text": "koilocytes perinuclear halo", "k": 3}).encode()
    pieces = [body[i : i + 8] for i in range(0, len(body), 8)]
    head = b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as connection:
        connection.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        for piece in pieces:
            time.sleep(BODY_TIMEOUT / 2)
            connection.sendall(piece)
        sending = time.monotonic() - started
        response = until_closed(connection)
    answer = body_of(response)
    assert sending > 2 * BODY_TIMEOUT, "the whole body took longer than the timeout"
    assert status_of(response) == 200 and answer["hits"][0]["title"] == "notes.pdf, p. 1", answer


def test_a_refusal_sent_before_the_body_closes_the_connection(service):
    """A 413 for a body over the limit: uvicorn otherwise kept reading the body it would throw away, for as long as
    the client trickled it."""
    url, _, _ = service
    with stalled(url, length=10**12) as connection:
        connection.settimeout(BODY_TIMEOUT / 2)  # shorter than the body timeout: a close here is the refusal's
        response = until_closed(connection)
    assert status_of(response) == 413 and b"connection: close" in response.lower()


def test_beyond_the_concurrency_limit_a_request_is_answered_503_at_once_until_stalled_ones_time_out(service):
    """uvicorn warns of each such 503: the log says it once (a minute)."""
    url, _, log = service
    held = []
    for _ in range(LIMIT):  # the last of them is already over the limit
        held.append(stalled(url))
        time.sleep(0.05)  # each is counted before the next comes
    try:
        started = time.monotonic()
        refused = httpx.get(f"{url}/health", timeout=BODY_TIMEOUT * 5)
        assert refused.status_code == 503 and time.monotonic() - started < BODY_TIMEOUT / 2
        statuses = sorted(status_of(until_closed(connection)) for connection in held)
    finally:
        for connection in held:
            connection.close()
    assert statuses == [408] * (LIMIT - 1) + [503], statuses
    assert httpx.get(f"{url}/health").status_code == 200, "answered again once they timed out"
    assert log.read_text().count(OVER_CONCURRENCY) == 1, "two 503s, one line"


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads the server's limits in /proc")
def test_serve_raises_its_soft_open_file_limit_to_the_hard_one(service):
    _, pid, _ = service
    limits = Path(f"/proc/{pid}/limits").read_text()
    soft, hard = re.search(r"Max open files\s+(\S+)\s+(\S+)", limits).groups()
    assert soft == hard == str(resource.getrlimit(resource.RLIMIT_NOFILE)[1]), limits


def test_failures_to_accept_a_connection_are_logged_once_not_on_each_retry(lecture):
    """A server with room for few files and a flood of connections: asyncio 3.11 logged each failed accept, with a
    traceback, thousands of times a second; the service's log says it once (a minute), and it answers again after."""
    with served(lecture, open_files=(64, 64)) as (url, _, log):
        port = int(url.rsplit(":", 1)[1])
        flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(120)]
        time.sleep(1)
        for connection in flood:
            connection.close()
        time.sleep(1.5)  # asyncio retries accepting after 1 s
        assert answers(url)
        failures = log.read_text().count(ACCEPT_FAILED)
    assert failures == 1, failures


def test_a_repeated_line_let_through_counts_those_held_back(monkeypatch):
    throttled = RepeatsThrottled(ACCEPT_FAILED, seconds=60)
    clock = iter([0.0, 1.0, 2.0, 61.0])
    monkeypatch.setattr("pathatlas.ui.serving.time.monotonic", lambda: next(clock))

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, (), None)

    passed = [
        throttled.filter(line := record(f"{ACCEPT_FAILED}\nsocket: fd=7")) and line.getMessage() for _ in range(4)
    ]
    assert passed[:3] == [f"{ACCEPT_FAILED}\nsocket: fd=7", False, False]
    assert passed[3] == f"{ACCEPT_FAILED}\nsocket: fd=7 (2 more since the last one)"
    assert throttled.filter(record("Task was destroyed but it is pending!")), "other lines pass"


@pytest.mark.parametrize("option", [("--body-timeout", "0"), ("--limit-concurrency", "0")])
def test_serve_refuses_a_limit_of_nothing_in_one_line_before_it_listens(tmp_path, monkeypatch, option):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("serve went on to listen"))
    result = run_cli("serve", "--index", tmp_path / "idx", "--port", free_port(), *option, home=tmp_path / "home")
    assert result.exit_code != 0 and f"{option[0]} 0" in result.output and "give numbers above 0" in result.output


def test_a_download_slower_than_the_body_timeout_is_sent_whole():
    """Once the body is read, ``receive`` is no body's: a ``FileResponse`` waits on it for a disconnect while it
    sends, and a 200 MB book to a slow reader was cut at the timeout (the rest of it dropped)."""
    sent: list[dict] = []

    async def streaming_app(scope, receive, send):  # as Starlette's FileResponse under uvicorn's ASGI 2.3
        await send({"type": "http.response.start", "status": 200, "headers": []})
        listener = asyncio.ensure_future(receive())
        for _ in range(3):
            await asyncio.sleep(0.1)  # a slow reader: each chunk waits on the client
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        listener.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def client_waits() -> dict:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def record(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "headers": []}
    asyncio.run(BodyTimeout(streaming_app, seconds=0.05)(scope, client_waits, record))
    assert b"".join(m.get("body", b"") for m in sent) == b"xxx" and not sent[-1]["more_body"]
