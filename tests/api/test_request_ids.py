"""Every request has an id (the client's X-Request-ID when it is a short safe token, else a new one), answered as
X-Request-ID and carried by each log line the request causes, and ends in one access line whose facts are fields:
method, path without its query, status, duration, id, client. Hashing encoder, no index, in process; one ``serve``."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from logging import Formatter

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pathatlas.settings import TEXT_LOG, JsonLines
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.deps import RequestIdLogs, RequestTagged
from pathatlas.ui.bench_serve import free_port
from tests.helpers import hashing_env, indexed_lecture
from tests.servers import uvicorn_thread
from tests.uploads import api_settings

NEW_ID = r"[0-9a-f]{32}"
ACCESS_FIELDS = {"method", "path", "status", "duration_ms", "request_id", "client"}


@contextmanager
def logged(formatter: logging.Formatter, name: str = "pathatlas") -> Iterator[io.StringIO]:
    """The lines of the logger ``name`` and its children, written by ``formatter`` through a handler with
    ``RequestIdLogs`` (as ``pathatlas serve`` configures its handlers)."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdLogs())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def service_app(tmp_path, **settings) -> FastAPI:
    """The service with two routes of its own: one that logs an error and answers, one that fails (a bug)."""
    app = create_app(api_settings(tmp_path, **settings))

    def logs_an_error() -> dict:
        logging.getLogger("pathatlas.ui.api.app").error("the page store is unreadable")
        return {}

    def fails() -> dict:
        raise RuntimeError("a bug")

    app.add_api_route("/logs-an-error", logs_an_error)
    app.add_api_route("/fails", fails)
    return app


def service(tmp_path, **settings) -> TestClient:
    return TestClient(service_app(tmp_path, **settings), raise_server_exceptions=False)


def json_lines(lines: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in lines.getvalue().splitlines()]


@pytest.mark.parametrize("sent", ["3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", "edge.proxy_42", "a" * 64])
def test_a_safe_id_the_client_sends_is_answered_back(tmp_path, sent):
    with service(tmp_path) as client:
        assert client.get("/health", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", [None, "", 'a" status=200 forged="', "two words", "a" * 65, "caf\u00e9", "a\tb"])
def test_a_request_without_a_safe_id_gets_a_new_one(tmp_path, sent):
    headers = {} if sent is None else {"X-Request-ID": sent.encode("latin-1")}
    with service(tmp_path) as client:
        first, second = (client.get("/health", headers=headers).headers["x-request-id"] for _ in range(2))
    assert first != second, "each request gets its own"
    assert all(re.fullmatch(NEW_ID, made) for made in (first, second)), (first, second)


def test_an_error_line_logged_during_a_request_carries_the_id_of_its_answer_and_access_line(tmp_path):
    with service(tmp_path) as client, logged(JsonLines()) as lines:
        answered = client.get("/logs-an-error?q=a student's question")
    entries = json_lines(lines)
    error = next(entry for entry in entries if entry["level"] == "ERROR")
    access = next(entry for entry in entries if entry["logger"] == "pathatlas.access")
    assert error["request_id"] == access["request_id"] == answered.headers["x-request-id"]
    assert error["message"] == "the page store is unreadable"


def test_the_json_access_line_has_the_request_as_fields_and_no_query_string(tmp_path):
    with service(tmp_path) as client, logged(JsonLines()) as lines:
        answered = client.get("/health?q=a%20student%27s%20question", headers={"X-Request-ID": "abc-1"})
    (access,) = [entry for entry in json_lines(lines) if entry["logger"] == "pathatlas.access"]
    assert access.keys() >= ACCESS_FIELDS, access
    assert (access["method"], access["path"], access["status"]) == ("GET", "/health", answered.status_code)
    assert access["request_id"] == "abc-1" and access["client"] == "testclient:50000"
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert "question" not in json.dumps(access)


def test_the_text_lines_name_the_request_and_a_path_forges_no_line(tmp_path):
    forged = "/health%0AINFO:%20pathatlas.access:%20forged"
    with service(tmp_path) as client, logged(RequestTagged(TEXT_LOG)) as tagged, logged(Formatter(TEXT_LOG)) as plain:
        client.get("/logs-an-error", headers={"X-Request-ID": "abc-2"})
        client.head(forged, headers={"X-Request-ID": "abc-3"})
    (error,) = [line for line in tagged.getvalue().splitlines() if line.startswith("ERROR")]
    assert error == "ERROR: pathatlas.ui.api.app: the page store is unreadable [request abc-2]"
    first, second = [line for line in plain.getvalue().splitlines() if "pathatlas.access" in line]
    said = r'INFO: pathatlas\.access: testclient:50000 - "{} {}" {} in \d+\.\d ms, request {}'
    assert re.fullmatch(said.format("GET", "/logs-an-error", 200, "abc-2"), first), first
    assert re.fullmatch(said.format("HEAD", re.escape(forged), 404, "abc-3"), second), second


def test_a_failing_request_is_answered_500_with_its_id_and_logged_with_it(tmp_path):
    with service(tmp_path) as client, logged(JsonLines()) as lines:
        failed = client.get("/fails", headers={"X-Request-ID": "abc-4"})
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "abc-4"
    (access,) = [entry for entry in json_lines(lines) if entry["logger"] == "pathatlas.access"]
    assert (access["status"], access["request_id"]) == (500, "abc-4")


def test_the_servers_traceback_of_a_failing_request_carries_its_id(tmp_path):
    port = free_port()
    config = uvicorn.Config(service_app(tmp_path), host="127.0.0.1", port=port, log_config=None)
    with logged(JsonLines(), "uvicorn.error") as lines, uvicorn_thread(config):
        failed = httpx.get(f"http://127.0.0.1:{port}/fails", headers={"X-Request-ID": "abc-6"})
    (traceback,) = [entry for entry in json_lines(lines) if "exception" in entry]
    assert failed.status_code == 500 and traceback["exception"].endswith("RuntimeError: a bug")
    assert traceback["request_id"] == failed.headers["x-request-id"] == "abc-6"


def test_a_page_on_an_allowed_origin_can_read_the_headers_it_needs(tmp_path):
    course = "https://course.example"
    with service(tmp_path, cors_origins=[course]) as client:
        answered = client.get("/health", headers={"Origin": course})
    exposed = {name.strip().lower() for name in answered.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "retry-after", "content-disposition", "x-request-id"} <= exposed
    assert answered.headers["x-request-id"]


def test_serve_writes_one_json_access_line_per_request_and_none_of_uvicorns(tmp_path):
    root = indexed_lecture(tmp_path, "notes.pdf", "Koilocytes show a perinuclear halo.")
    port = free_port()
    env = {**os.environ, **hashing_env(root / "home"), "PATHATLAS_LOG_FORMAT": "json"}
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "serve", "--index", str(root / "idx")]
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the service did not start"
            time.sleep(0.2)
        page = {"source": "koilocyte-notes.pdf", "page": 1}
        asked = httpx.get(f"{url}/pages", params=page, headers={"X-Request-ID": "abc-5"})
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    access = [json.loads(line) for line in out.splitlines() if line.strip()]  # stdout: access lines only
    assert {entry["logger"] for entry in access} == {"pathatlas.access"}, access
    (pages,) = [entry for entry in access if entry["request_id"] == "abc-5"]
    assert (pages["method"], pages["path"], pages["status"]) == ("GET", "/pages", asked.status_code)
    assert pages["client"].startswith("127.0.0.1:") and "koilocyte" not in out
    assert all(json.loads(line)["logger"] != "uvicorn.access" for line in err.splitlines() if line.strip())


def test_a_client_address_forges_no_field_of_the_access_line():
    """Behind a proxy the address is what X-Forwarded-For said: a quote in it ended the path's field early."""
    from pathatlas.ui.api.deps import access_fields

    scope = {"method": "GET", "path": "/health", "raw_path": b"/health", "client": ('1.2.3.4" status=200 x="', 80)}
    client = access_fields(scope, 200, 0.001, "abc")["client"]
    assert '"' not in client and " " not in client and client.startswith("1.2.3.4")
    ipv6 = {**scope, "client": ("[::1]", 8000)}
    assert access_fields(ipv6, 200, 0.001, "abc")["client"] == "[::1]:8000"
