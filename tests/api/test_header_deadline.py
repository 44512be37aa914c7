"""``pathatlas serve``'s deadline for a request's line and headers (slowloris): uvicorn has none, and each byte that
arrives cancels its keep-alive timer, so a connection that sent nothing, or trickled its headers, held its place under
``--limit-concurrency`` for as long as it liked. A real server on loopback, in a process of its own, on a one-page
lecture with the hashing encoder."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pathatlas.ui.bench_serve import free_port
from tests.api.test_slow_clients import body_of, lecture, served, status_of, until_closed  # noqa: F401 - a fixture
from tests.helpers import run_cli

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 3.0
LIMIT = 4
TRICKLE_EVERY = 0.3
REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def service(lecture) -> Iterator[tuple[str, Path]]:  # noqa: F811
    """One server for the module, with a short header deadline, a longer body timeout and a small concurrency limit;
    yields its URL and its stderr's file."""
    options = ("--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT))
    with served(lecture, *options, "--limit-concurrency", str(LIMIT)) as (url, _, log):
        yield url, log


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def silent(url: str) -> socket.socket:
    """A connection that sends nothing."""
    return socket.create_connection(("127.0.0.1", port_of(url)), timeout=HEADER_TIMEOUT + 5)


def kept_alive(url: str, answered: int) -> http.client.HTTPConnection:
    """A connection open to the service, after ``answered`` requests answered on it."""
    connection = http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=HEADER_TIMEOUT + 5)
    connection.connect()
    for _ in range(answered):
        assert health_on(connection) == (200, "ok")
    return connection


def health_on(connection: http.client.HTTPConnection) -> tuple[int, str]:
    """The status and state of ``GET /health`` on ``connection``."""
    connection.request("GET", "/health")
    response = connection.getresponse()
    return response.status, json.loads(response.read())["status"]


def trickled(connection: socket.socket, data: bytes) -> tuple[bytes, float]:
    """What the server sent while ``data`` went one byte every ``TRICKLE_EVERY`` s, until it closed the connection,
    and the seconds that took."""
    received, started = b"", time.monotonic()
    for byte in data:
        connection.sendall(bytes([byte]))
        if select.select([connection], [], [], TRICKLE_EVERY)[0]:
            if not (chunk := connection.recv(65536)):
                return received, time.monotonic() - started
            received += chunk
    raise AssertionError(f"the connection stayed open through {len(data)} trickled bytes; it was sent {received!r}")


def test_a_connection_that_sends_nothing_is_closed_at_the_deadline_while_others_are_answered(service):
    """Closed without a word, and without a line in the log: a flood of such connections must not fill it."""
    url, log = service
    logged = log.read_text()
    with silent(url) as connection:
        started = time.monotonic()
        assert httpx.get(f"{url}/health").status_code == 200, "another client is answered meanwhile"
        received = until_closed(connection)
    waited = time.monotonic() - started
    assert received == b"" and HEADER_TIMEOUT * 0.8 < waited < HEADER_TIMEOUT + 2, (received, waited)
    assert log.read_text() == logged


def test_silent_connections_that_fill_the_concurrency_limit_give_their_places_back_at_the_deadline(service):
    url, _ = service
    held = [silent(url) for _ in range(LIMIT - 1)]  # with the request's own connection: the limit
    try:
        time.sleep(0.1)  # each is counted before the request comes
        assert httpx.get(f"{url}/health").status_code == 503, "the places are taken"
        assert [until_closed(connection) for connection in held] == [b""] * len(held)
    finally:
        for connection in held:
            connection.close()
    time.sleep(0.1)  # the server counts them out
    assert httpx.get(f"{url}/health").status_code == 200


@pytest.mark.parametrize("answered", [0, 1], ids=["new connection", "next request on a kept-alive one"])
def test_a_request_trickled_a_byte_at_a_time_is_cut_at_the_deadline_not_extended_by_it(service, answered):
    """Each byte cancelled uvicorn's keep-alive timer: a next request's trickle held a kept-alive connection too."""
    url, _ = service
    with kept_alive(url, answered).sock as connection:
        received, waited = trickled(connection, REQUEST)
    assert received == b"" and HEADER_TIMEOUT * 0.8 < waited < HEADER_TIMEOUT + 1, (received, waited)


def test_a_body_that_keeps_coming_for_longer_than_the_header_deadline_is_read_whole(service):
    url, _ = service
    body = json.dumps({"text": "koilocytes perinuclear halo", "k": 3}).encode()
    head = b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=BODY_TIMEOUT + 5) as connection:
        connection.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        for start in range(0, len(body), 8):
            time.sleep(HEADER_TIMEOUT / 2)
            connection.sendall(body[start : start + 8])
        sending = time.monotonic() - started
        response = until_closed(connection)
    assert sending > 3 * HEADER_TIMEOUT, "the body took longer than the header deadline"
    assert status_of(response) == 200 and body_of(response)["hits"][0]["title"] == "notes.pdf, p. 1", response


def test_a_kept_alive_connection_serves_requests_spaced_within_the_deadline_for_longer_than_it(service):
    """The deadline counts from each response, not from the connection's opening."""
    url, _ = service
    connection = kept_alive(url, answered=1)
    socket_used = connection.sock
    try:
        for _ in range(3):
            time.sleep(HEADER_TIMEOUT * 0.6)
            assert health_on(connection) == (200, "ok")
        assert connection.sock is socket_used, "one connection throughout"
    finally:
        connection.close()


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_serve_refuses_a_header_timeout_of_nothing_in_one_line_before_it_listens(tmp_path, monkeypatch, value):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("serve went on to listen"))
    options = ("--port", free_port(), "--header-timeout", value)
    result = run_cli("serve", "--index", tmp_path / "idx", *options, home=tmp_path / "home")
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1, result.output
    assert f"--header-timeout {value} " in result.output and "give numbers above 0" in result.output
