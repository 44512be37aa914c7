"""PATHATLAS_LOG_FORMAT=json: every line the service logs, uvicorn's access and error lines and the ``pathatlas``
logger's alike, is one JSON object a log collector parses without a pattern per line's shape."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import httpx
import pytest

from pathatlas.settings import JsonLines, Settings
from pathatlas.ui.bench_serve import free_port
from tests.helpers import hashing_env, indexed_lecture


def test_a_record_is_one_json_line_with_its_traceback_as_a_field():
    try:
        raise ValueError("bad page")
    except ValueError:
        record = logging.getLogger("pathatlas.x").makeRecord(
            "pathatlas.x", logging.ERROR, "f", 1, "job %s failed", ("7",), sys.exc_info()
        )
    line = JsonLines().format(record)
    entry = json.loads(line)
    assert "\n" not in line and entry["level"] == "ERROR" and entry["logger"] == "pathatlas.x"
    assert entry["message"] == "job 7 failed" and entry["exception"].endswith("ValueError: bad page")
    assert entry["time"].endswith("+00:00")


def test_the_format_is_read_in_any_case_and_refused_when_unknown():
    assert Settings(log_format="JSON").log_format == "json"
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")


def test_a_service_asked_for_json_logs_every_line_as_json(tmp_path):
    root = indexed_lecture(tmp_path, "notes.pdf", "Koilocytes show a perinuclear halo.")
    port = free_port()
    env = {**os.environ, **hashing_env(root / "home"), "PATHATLAS_LOG_FORMAT": "json"}
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "serve", "--index", str(root / "idx")]
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the service did not start"
            time.sleep(0.2)
        assert httpx.post(f"http://127.0.0.1:{port}/search", json={"text": "koilocytes"}).status_code == 200
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line parses
    loggers = {entry["logger"] for entry in entries}
    assert {"pathatlas.access", "uvicorn.error", "pathatlas.ui.api.app"} <= loggers, loggers
    access = [entry for entry in entries if entry["logger"] == "pathatlas.access"]
    assert any(entry["method"] == "POST" and entry["path"] == "/search" for entry in access), access
