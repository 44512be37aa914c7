"""``bench serve`` measures a deployed service, at the pace of students, and says what it measured.

An operator (300 students, a reverse proxy, a token) could not measure the service they run: ``bench serve`` always
started its own on loopback, its clients fired back to back, so nothing related "clients" to students, and its record
named neither store nor service. Now ``--url`` loads a running service (PATHATLAS_API_TOKEN sent as its bearer token;
a URL that does not answer is one line, before any load), ``--think`` paces each client like a student reading
results, and the record says ``store``, ``service`` and ``think_s``; the errors by kind are printed under the table.

The first search after an upload, and the first typo, were timed by a helper's script, never by a command:
``--after-upload N`` uploads N one-page PDFs through POST /jobs to a copy of the index served on loopback and times the
searches after each commit, leaving the index it was given and its home as they were.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from pathlib import Path

import httpx
import pytest

import pathatlas.ui.bench_serve as bench_serve
from pathatlas.errors import PathAtlasError
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.bench_serve import free_port, start_server, stop_server
from tests.helpers import hashing_env, hashing_settings, indexed_book, only_error_line, run_cli, send_json

TOKEN = "course-token-s43"
PREFIX = "/atlas"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """``pathatlas serve`` (hashing encoder: text searches only) on a three-page book, with PATHATLAS_API_TOKEN set;
    its base URL."""
    root = indexed_book(tmp_path_factory.mktemp("served"))
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**hashing_env(root / "home"), "PATHATLAS_API_TOKEN": TOKEN}.items():
            env.setenv(name, value)
        process = start_server(root / "idx", port)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


class TokenProxy(BaseHTTPRequestHandler):
    """An operator's reverse proxy: serves the service under ``PREFIX`` and lets through only requests bearing the
    token, reads included (the service itself asks it of writes alone)."""

    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            send_json(self, 401, {"detail": "the proxy wants the course token"})
            return
        upstream = self.server.upstream + self.path.removeprefix(PREFIX)
        headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        answer = httpx.request(self.command, upstream, content=body, headers=headers, timeout=60)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = forward

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxied(service):
    """The service behind ``TokenProxy``: its URL, with the path prefix."""
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), TokenProxy)
    proxy.upstream = service
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{proxy.server_address[1]}{PREFIX}"
    proxy.shutdown()


def bench(tmp_path, *options, clients: int = 2, **env):
    """``bench serve`` of ``clients`` for two seconds, its JSON alone on stdout, on an empty home: no index there."""
    return run_cli(
        "bench", "serve", "--clients", clients, "--seconds", 2, *options, "--json", "-", home=tmp_path, **env
    )


def document_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_url_loads_the_given_service_and_starts_none(service, tmp_path, monkeypatch):
    def no_server(*args):
        raise AssertionError("bench serve --url started a service of its own")

    monkeypatch.setattr(bench_serve, "start_server", no_server)
    # the home is empty: had the command opened its (default) index, it would have failed there
    document = document_of(bench(tmp_path, "--url", service))
    assert document["text"]["n"] > 0
    assert set(document["error_kinds"]) == {"image: HTTP 400"}  # the hashing encoder searches text only
    run, health = document["run"], httpx.get(f"{service}/health").json()
    facts = (run["service_version"], run["index"], run["index_encoder"], run["store"], run["records"])
    assert facts == (health["version"], health["index"], health["encoder"], "faiss", health["records"])
    assert run["service"] == service


def test_the_token_is_sent_so_a_service_behind_a_token_proxy_is_measured(service, proxied, tmp_path):
    document = document_of(bench(tmp_path, "--url", proxied, PATHATLAS_API_TOKEN=TOKEN))
    assert document["text"]["n"] > 0 and set(document["error_kinds"]) == {"image: HTTP 400"}  # no 401
    assert document["run"]["service"] == proxied
    without = run_cli("bench", "serve", "--url", proxied, "--seconds", 1, home=tmp_path)
    only_error_line(without, "HTTP 401", "PATHATLAS_API_TOKEN is not set")
    # which of its requests the service itself refuses without the token: writes; searches are open
    assert httpx.post(f"{service}/search", json={"text": "epithelium"}).status_code == 200
    assert httpx.delete(f"{service}/sources/book").status_code == 401


@pytest.mark.parametrize("extra", ["student:hunter2@", "", "?tok=hunter2"])
def test_a_url_with_a_user_or_query_is_refused_in_one_line_without_them(service, tmp_path, extra):
    """httpx sent a user as Basic auth in place of the token, and glued a query into every path (/health?... 404)."""
    host = service.removeprefix("http://")
    url = f"http://{extra}{host}/" if "@" in extra else f"http://{host}/{extra}#part" if extra else f"{service}/#part"
    result = run_cli("bench", "serve", "--url", url, "--seconds", 1, home=tmp_path)
    assert "hunter2" not in result.output
    only_error_line(result, "give the service's address alone", "PATHATLAS_API_TOKEN")


def test_an_unreachable_url_is_one_line_before_any_load(tmp_path):
    result = run_cli("bench", "serve", "--url", f"http://127.0.0.1:{free_port()}", "--seconds", 1, home=tmp_path)
    assert "127.0.0.1" in only_error_line(result, "no answer to GET /health")


def test_think_time_paces_each_client(service, tmp_path):
    paced = bench(tmp_path, "--url", service, "--think", 0.2)
    back_to_back = document_of(bench(tmp_path, "--url", service))
    issued = [(doc["requests"] + doc["errors"]) / doc["clients"] for doc in (document_of(paced), back_to_back)]
    assert 0 < issued[0] < issued[1] and issued[0] <= 1 + 2 / 0.1, issued  # each pause after the first is 0.1-0.3 s
    assert "2 clients (think 0.2 s ±50%)" in paced.stderr and "errors by kind: image: HTTP 400" in paced.stderr


def test_paced_users_keep_the_mix_of_requests_in_a_short_run(service, tmp_path):
    """Ten students pausing 0.5 s make about four requests each in two seconds: none reached its 10th, the ask, when
    every user began the cycle at its start."""
    document = document_of(bench(tmp_path, "--url", service, "--think", 0.5, clients=10))
    assert document["ask"]["n"] >= 1 and document["text"]["n"] >= 5, document


def test_pauses_are_jittered_about_the_think_time_and_the_same_each_run():
    from pathatlas.ui.bench_serve import pauses

    waits = list(islice(pauses(1.0, seed=7), 200))
    assert waits == list(islice(pauses(1.0, seed=7), 200)) != list(islice(pauses(1.0, seed=8), 200))
    assert 0 <= waits[0] <= 1 and all(0.5 <= wait <= 1.5 for wait in waits[1:])
    assert set(islice(pauses(0.0, seed=7), 20)) == {0.0}


def test_json_alone_holds_store_service_and_think(service, tmp_path):
    run = document_of(bench(tmp_path, "--url", service, "--think", 0.1))["run"]
    assert (run["store"], run["service"], run["think_s"]) == ("faiss", service, 0.1)


def test_a_loopback_run_records_its_store_and_says_loopback(tmp_path):
    root = indexed_book(tmp_path)
    result = run_cli(
        "bench", "serve", "--index", root / "idx", "--clients", 1, "--seconds", 1, "--json", "-", home=root / "home"
    )
    run = document_of(result)["run"]
    assert (run["service"], run["store"], run["records"], run["think_s"]) == ("loopback", "faiss", 6, 0.0)
    assert "1 clients (back to back)" in result.stderr


def contents(folder: Path) -> dict[str, str]:
    """Every file under ``folder``, by its path below it, with its bytes' hash."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_after_upload_times_the_searches_after_each_commit_on_a_copy_of_the_index(tmp_path):
    root = indexed_book(tmp_path)
    before = contents(root)
    result = run_cli(
        "bench", "serve", "--index", root / "idx", "--clients", 1, "--seconds", 1, "--after-upload", 2,
        "--upload-pause", 0, "--json", "-", home=root / "home",
    )  # fmt: skip
    document = document_of(result)
    case = document["after_upload"]
    assert (case["uploads"], case["pause_s"]) == (2, 0.0)
    counts = {kind: case[kind]["n"] for kind in ("job", "first_search", "first_typo", "following")}
    assert counts == {"job": 2, "first_search": 2, "first_typo": 2, "following": 6}
    assert all(0 < case[kind]["min_ms"] <= case[kind]["median_ms"] <= case[kind]["max_ms"] for kind in counts)
    assert (document["run"]["after_upload"], document["run"]["upload_pause_s"]) == (2, 0.0)
    assert "2 uploads to a copy of the index" in result.stderr and "first typo" in result.stderr
    assert contents(root) == before  # the index, its book and its home: the uploads went to the copy's


def test_after_upload_is_refused_in_one_line_where_it_would_change_the_index_searched(service, tmp_path):
    result = run_cli("bench", "serve", "--url", service, "--after-upload", 1, home=tmp_path)
    only_error_line(result, "--after-upload uploads to a copy of --index")
    root = tmp_path / "qdrant"
    pdf = make_pdf(root / "lib" / "book.pdf", 1, "v1")
    assert run_cli("index", pdf, "--index", root / "idx", "--store", "qdrant", home=root / "home").exit_code == 0
    result = run_cli("bench", "serve", "--index", root / "idx", "--after-upload", 1, home=root / "home")
    only_error_line(result, "qdrant store may keep its vectors outside it", "give a FAISS index")


def test_a_service_that_writes_much_to_stderr_still_starts(tmp_path, monkeypatch):
    """``start_server`` piped the service's stderr and read it only if the service died: once the pipe filled (64 KiB
    of log lines), the service blocked on its next log line. A ``sitecustomize`` makes this one write 1 MiB first."""
    root = indexed_book(tmp_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("import sys\nsys.stderr.write('x' * (1 << 20))\n")
    for name, value in hashing_env(root / "home").items():
        monkeypatch.setenv(name, value)
    port = free_port()
    process = start_server(root / "idx", port, timeout=60, env={"PYTHONPATH": str(tmp_path / "site")})
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        stop_server(process)


SLOW_ENCODE = """
from pathatlas.indexer import pipeline
import time
encode = pipeline.Indexer.encode
def slow(self, batch, earlier):
    time.sleep(60)
    return encode(self, batch, earlier)
pipeline.Indexer.encode = slow
"""


def test_an_upload_step_that_fails_says_why_and_leaves_no_service_running(tmp_path, monkeypatch):
    """A job past ``JOB_TIMEOUT`` while the copy's service still encodes: the run ends with that step's line, and the
    service is stopped (killed once ``STOP_WAIT`` is past). It waited 30 s for a service whose own stop waits up to
    30 s for the job, so a ``TimeoutExpired`` replaced the line and the service outlived its deleted copy."""
    root = indexed_book(tmp_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SLOW_ENCODE)
    for name, value in {**hashing_env(root / "home"), "PYTHONPATH": str(tmp_path / "site")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(bench_serve, "JOB_TIMEOUT", 3.0)
    monkeypatch.setattr(bench_serve, "STOP_WAIT", 3.0)
    started = []

    def kept(*args, **kwargs):
        started.append(start_server(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(bench_serve, "start_server", kept)
    settings = hashing_settings(root, index=root / "idx")
    with pytest.raises(PathAtlasError, match="did not end within 3 s"):
        bench_serve.bench_after_upload(settings, 1, 0.0)
    assert [process.poll() is not None for process in started] == [True], "the copy's service was stopped"
