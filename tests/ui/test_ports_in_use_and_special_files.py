"""The rest of a new user's first hour: mistakes met following the README, each one line, before any work.

``serve`` (and ``mcp --http``) on a port in use or a host not of this machine loaded the index and the models, then
uvicorn logged "[Errno 98] address already in use" among INFO lines (``ui``: Streamlit's own timestamped line);
``export --hits /dev/zero`` read until memory ran out; ``serve --index some.pdf`` said it served an empty index just
before refusing the file; ``index atlas/cases.jsonl`` said "neither a PDF nor a case folder" of a case folder's own
list; ``DELETE /jobs/{unknown}`` pointed at ``GET /sources``."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.listening import ensure_listenable
from tests.helpers import hashing_settings, indexed_book, one_error_line, run_cli, two_cases

NOT_OURS = "192.0.2.1"
"""An address of TEST-NET-1 (RFC 5737), for documentation: no machine running the tests has it."""


@pytest.fixture
def nothing_loads(monkeypatch):
    """Reaching the engine (index and models) or uvicorn fails the test: the refusal must come first."""
    monkeypatch.setattr("pathatlas.ui.api.engine.Engine", lambda *_, **__: pytest.fail("the index was loaded"))
    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("serve went on to listen"))


@pytest.fixture
def taken_port():
    """A loopback port another server listens on while the test runs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


# -- 1. an address a server cannot listen on ---------------------------------------------------------------------


def test_serve_on_a_port_in_use_is_one_line_before_anything_loads(tmp_path, nothing_loads, taken_port):
    result = run_cli("serve", "--index", tmp_path / "idx", "--port", taken_port, home=tmp_path / "home")
    one_error_line(result, f"cannot listen on 127.0.0.1 port {taken_port}: it is in use", "give another --port")


@pytest.mark.parametrize(
    ("host", "says"),
    [(NOT_OURS, f"--host {NOT_OURS} is not an address of this machine"), ("nosuch.invalid", "no host name")],
)
def test_serve_on_a_host_not_of_this_machine_is_one_line_before_anything_loads(tmp_path, nothing_loads, host, says):
    served = ("serve", "--index", tmp_path / "idx", "--host", host, "--port", free_port())
    result = run_cli(*served, home=tmp_path / "home", PATHATLAS_API_TOKEN="s3cret")
    one_error_line(result, says, "e.g. 127.0.0.1")


def test_the_web_ui_on_a_port_in_use_is_one_line_before_streamlit_starts(tmp_path, monkeypatch, taken_port):
    import subprocess

    monkeypatch.setattr(subprocess, "Popen", lambda *_, **__: pytest.fail("streamlit was started"))
    result = run_cli("ui", "--index", tmp_path / "idx", "--port", taken_port, home=tmp_path / "home")
    one_error_line(result, f"cannot listen on 127.0.0.1 port {taken_port}: it is in use", "give another --port")


def test_mcp_http_on_a_port_in_use_or_a_host_not_of_this_machine_is_one_line_first(tmp_path, nothing_loads, taken_port):
    pytest.importorskip("mcp")
    mcp = ("mcp", "--index", tmp_path / "idx", "--http")
    in_use = run_cli(*mcp, f"127.0.0.1:{taken_port}", home=tmp_path / "home")
    one_error_line(in_use, f"cannot listen on 127.0.0.1 port {taken_port}: it is in use", "give another --http port")
    elsewhere = run_cli(*mcp, f"{NOT_OURS}:{free_port()}", "--insecure", home=tmp_path / "home")
    one_error_line(elsewhere, f"--http host {NOT_OURS} is not an address of this machine")


def test_the_check_leaves_the_port_free_for_the_server():
    port = free_port()
    ensure_listenable("127.0.0.1", port)
    with socket.create_server(("127.0.0.1", port)) as server:  # asyncio's own options aside: a plain listener binds
        assert server.getsockname()[1] == port


# -- 2. a device given as the hits of a handout ------------------------------------------------------------------


def test_export_refuses_a_device_as_hits_unread(tmp_path):
    # os.devnull ends at once; read, it was "not JSON", and /dev/zero was read until memory ran out
    result = run_cli("export", "--hits", os.devnull, "--to", tmp_path / "h.md", home=tmp_path / "home")
    one_error_line(result, f"--hits {os.devnull} is not a regular file (a device", "or - for stdin")
    assert not (tmp_path / "h.md").exists()


def test_export_still_reads_hits_from_a_pipe(tmp_path):
    root = indexed_book(tmp_path)
    found = run_cli("search", "page", "--json", "--index", root / "idx", home=root / "home")
    pipe = tmp_path / "hits.json"
    os.mkfifo(pipe)  # as --hits <(pathatlas search ... --json) gives one
    writer = threading.Thread(target=Path(pipe).write_text, args=(found.stdout,))
    writer.start()
    try:
        result = run_cli("export", "--hits", pipe, "--to", tmp_path / "h.md", home=root / "home")
    finally:
        writer.join(timeout=10)
    assert result.exit_code == 0, result.output
    assert f"wrote {len(json.loads(found.stdout))} results" in result.output


# -- 3. serve --index naming a file ------------------------------------------------------------------------------


def test_serve_on_a_file_says_only_that_it_is_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: pytest.fail("serve went on to listen"))
    pdf = make_pdf(tmp_path / "some.pdf", 1, "v1")
    result = run_cli("serve", "--index", pdf, "--port", free_port(), home=tmp_path / "home")
    one_error_line(result, "is a file, not an index folder")
    assert "serving an empty one" not in result.output, "it said the opposite first"


# -- 4. a case folder's own list given to index ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["labels.csv", "cases.jsonl"])
def test_indexing_a_case_list_points_to_the_folder_holding_it(tmp_path, name):
    folder = two_cases(tmp_path / "atlas")
    if name == "cases.jsonl":
        (folder / "labels.csv").rename(folder / name)  # its content is not read here
    result = run_cli("index", folder / name, "--index", tmp_path / "idx", home=tmp_path / "home")
    one_error_line(result, f"{folder / name} is a case folder's case list: index its folder, {folder}")


# -- 5. DELETE /jobs of an unknown job -----------------------------------------------------------------------------


def test_cancelling_an_unknown_job_points_to_the_id_post_jobs_gave(tmp_path):
    settings = hashing_settings(tmp_path, api_token="t0ken")
    with TestClient(create_app(settings)) as client:
        answer = client.delete("/jobs/zzz", headers={"Authorization": "Bearer t0ken"})
        looked_up = client.get("/jobs/zzz")
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"].endswith("nothing to cancel; give the job id that POST /jobs answered")
    assert looked_up.json()["detail"].endswith("GET /sources if it was indexed"), "a job older than its record"
