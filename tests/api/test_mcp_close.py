"""``pathatlas mcp`` closes its engine when the server stops: the client hanging up (stdio's end) or an interrupt. It
left the engine's threads running into the process's exit, where one still inside native code (ONNX Runtime,
Tesseract, torch) aborts it ("terminate called without an active exception"), as the web UI's did in CI."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pathatlas.ui.api import engine as engine_module
from tests.agent.test_langchain_close import assert_closed, lung_index

pytest.importorskip("mcp")

from pathatlas.ui.mcp_server import PathAtlasServer, serve  # noqa: E402 - after the extra check

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
SEARCH = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "search", "arguments": {"text": "granuloma"}},
}


@pytest.fixture
def engines(monkeypatch) -> list[engine_module.Engine]:
    """Every engine ``serve`` makes."""
    made: list[engine_module.Engine] = []

    class Recorded(engine_module.Engine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(engine_module, "Engine", Recorded)
    return made


@contextmanager
def stdio_client(monkeypatch, *requests: dict) -> Iterator[io.BytesIO]:
    """A client on stdin and stdout that sends ``requests`` (JSON-RPC), each after the answer to the one before, and
    hangs up (stdin's end) once the last is answered; yields stdout's bytes."""
    reading, writing = os.pipe()
    stdin = io.TextIOWrapper(open(reading, "rb"))  # noqa: SIM115 - the server reads it until the client hangs up
    monkeypatch.setattr(sys, "stdin", stdin)
    written = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(written, write_through=True))

    def talk() -> None:
        with open(writing, "wb", buffering=0) as sending:
            for request in requests:
                sending.write(json.dumps(request).encode() + b"\n")
                if "id" in request:
                    deadline = time.monotonic() + 60
                    while f'"id":{request["id"]}'.encode() not in written.getvalue() and time.monotonic() < deadline:
                        time.sleep(0.02)

    client = threading.Thread(target=talk, name="test-client")
    client.start()
    yield written
    client.join(60)
    stdin.close()


def test_the_engine_closes_when_the_stdio_client_hangs_up(tmp_path, engines, monkeypatch):
    settings = lung_index(tmp_path)
    before = set(threading.enumerate())  # other tests' engines may still run theirs
    with stdio_client(monkeypatch, INITIALIZE, INITIALIZED, SEARCH) as written:
        serve(settings)
    answers = {answer["id"]: answer for answer in map(json.loads, written.getvalue().splitlines())}
    hits = json.loads(answers[2]["result"]["content"][0]["text"])["hits"]
    assert hits and hits[0]["title"] == "Lung", "the server searched before the client hung up"
    [engine] = engines
    assert_closed(engine, before)


def test_the_engine_closes_when_the_server_is_interrupted(tmp_path, engines, monkeypatch):
    """Ctrl-C while serving: ``run`` raises KeyboardInterrupt, and the engine is closed all the same."""

    def interrupted(server, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(PathAtlasServer, "run", interrupted)
    settings = lung_index(tmp_path)
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        serve(settings)
    [engine] = engines
    assert_closed(engine, before)
