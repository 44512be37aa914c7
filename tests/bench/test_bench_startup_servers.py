"""``bench startup``'s serve timing against tiny fake servers (no models): it stops at once when the server exits or
says it cannot get ready, a server writing a lot on stderr still gets timed, and one that ignores SIGTERM is killed."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from pathatlas.errors import BadInputError
from pathatlas.ui.bench_startup import free_port, time_server

CHECKOUT = Path(__file__).resolve().parents[2]
"""Where ``tests.helpers`` is imported from by the fake server, a process of its own."""

FAKE_SERVER = """
import os, signal, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

behaviour, port, pid_file, checkout = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, checkout)
from tests.helpers import send_json
with open(pid_file, "w") as out:
    out.write(str(os.getpid()))
if behaviour == "exits":
    print("loading the index", file=sys.stderr)
    print("error: the index folder is gone", file=sys.stderr)
    sys.exit(1)
if behaviour == "chatty":
    for n in range(20_000):  # about 1 MB: far past a pipe's 64 KiB
        print(f"log line {n}: warming up the lanes", file=sys.stderr)
if behaviour == "deaf":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
started = time.monotonic()


class Ready(BaseHTTPRequestHandler):
    def do_GET(self):
        if behaviour == "failing":
            status, body = 503, {"ready": False, "problem": "the models could not be loaded (PermissionError)"}
        elif time.monotonic() - started < 0.3:
            status, body = 503, {"ready": False, "problem": None}
        else:
            status, body = 200, {"ready": True, "problem": None}
        send_json(self, status, body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Ready).serve_forever()
"""


@pytest.fixture
def fake_server(tmp_path):
    """``start(behaviour, timeout)``: the fake server timed by ``time_server``, and the seconds that took; its pid
    is in ``tmp_path / "pid"``."""
    script = tmp_path / "server.py"
    script.write_text(FAKE_SERVER)

    def start(behaviour: str, timeout: float = 30.0):
        port = free_port()
        argv = [sys.executable, str(script), behaviour, str(port), str(tmp_path / "pid"), str(CHECKOUT)]
        began = time.perf_counter()
        try:
            return time_server(argv, port, timeout, 0.02, grace=1.0), time.perf_counter() - began
        finally:
            left = running(tmp_path / "pid")
            if left:
                os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
            assert not left, "the server was left running"

    return start


def running(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        return False
    return True


def test_a_server_that_exits_is_reported_at_once_with_its_last_stderr_line(fake_server):
    began = time.perf_counter()
    with pytest.raises(BadInputError, match="^pathatlas serve failed: error: the index folder is gone$"):
        fake_server("exits")
    assert time.perf_counter() - began < 10


def test_a_server_that_cannot_get_ready_is_reported_at_once_with_its_problem(fake_server):
    began = time.perf_counter()
    with pytest.raises(BadInputError, match="cannot get ready: the models could not be loaded \\(PermissionError\\)"):
        fake_server("failing", timeout=30.0)
    assert time.perf_counter() - began < 10, "it waited for the timeout"


def test_a_server_writing_much_on_stderr_is_still_timed(fake_server):
    started, seconds = fake_server("chatty", timeout=20.0)
    assert 0 < started.listening_s <= started.ready_s < 10 and seconds < 15


def test_a_server_that_ignores_sigterm_is_killed(fake_server):
    started, seconds = fake_server("deaf")
    assert started.ready_s >= 0.3 and started.listening_s < started.ready_s
    assert seconds < 10, "it waited for the server to exit by itself"
