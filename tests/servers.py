"""A real ``uvicorn`` server on loopback in a thread, for tests that need the service as clients see it, and the wait
for an index job to end."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app


@contextmanager
def running_service(settings: Settings) -> Iterator[str]:
    """Yields the base URL; the server stops when the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def job_ended(client, job_id: str, timeout: float = 120) -> dict:
    """An index job's state once it is neither queued nor running (``client``: a TestClient or an httpx client)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")
