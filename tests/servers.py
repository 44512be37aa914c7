"""Servers on loopback in a thread: the real ``uvicorn`` service, for tests that need it as clients see it, and a fake
OpenAI-compatible chat model whose replies a test controls; the web UI over ``pathatlas serve`` in processes of their
own, for the browser tests; and the wait for an index job to end."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import uvicorn

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_serve import free_port, start_server, stop_server
from pathatlas.ui.cli import streamlit_command


@contextmanager
def running_service(settings: Settings) -> Iterator[str]:
    """Yields the base URL; the server stops when the block ends."""
    port = free_port()
    with uvicorn_thread(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def uvicorn_thread(config: uvicorn.Config) -> Iterator[None]:
    """A uvicorn server of ``config`` running in a thread once it has started; stopped when the block ends."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def ui_over(index: Path) -> Iterator[str]:
    """The URL of the web UI over a REST service of ``index``, both on free loopback ports, both stopped after."""
    api_port, ui_port = free_port(), free_port()
    api = start_server(index, api_port)
    ui, url = start_ui(f"http://127.0.0.1:{api_port}", ui_port)
    try:
        yield url
    finally:
        stop(ui, api)


def stop(*processes: subprocess.Popen) -> None:
    """Stop ``processes`` (a web UI, then the service it reads), each as ``stop_server`` does."""
    for process in processes:
        stop_server(process)


def start_ui(api: str, port: int) -> tuple[subprocess.Popen, str]:
    """Streamlit running the app against the API at ``api``, once its page answers; and the page's URL."""
    env = {**os.environ, "PATHATLAS_API_URL": api, "HF_HUB_OFFLINE": "1"}
    ui = subprocess.Popen(
        streamlit_command(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    return ui, url


def job_ended(client, job_id: str, timeout: float = 120) -> dict:
    """An index job's state once it is neither queued nor running (``client``: a TestClient or an httpx client)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")


@contextmanager
def chat_model(reply: dict, respond: Callable[[], tuple[int, dict[str, str]]] = lambda: (200, {})) -> Iterator[str]:
    """An OpenAI-compatible chat server: each request is answered with the (status, headers) that ``respond()`` gives
    when it returns, with ``reply`` as JSON in the assistant's message on a 200 and an error otherwise. Yields the base
    URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            status, headers = respond()
            message = {"role": "assistant", "content": json.dumps(reply)}
            completion = {"id": "fake", "object": "chat.completion", "created": 0, "model": "fake",
                          "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
            body = json.dumps(completion if status == 200 else {"error": {"message": f"status {status}"}}).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()  # polled often: quick to shut
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
