"""Every benchmark says what ran, and reports only what it measured.

``bench index``, ``search``, ``queries``, ``encode``, ``startup`` and ``crash`` wrote no run record (code, input
hashes, options), so an index time or a p95 could not be traced to the code, machine or input that made it; the speed
benchmarks now also record the cores and thread settings a latency depends on. ``run_record`` and ``git_state`` moved
from the CLI module to ``retrieval/bench/common.py``. ``bench serve`` reported p50 0.0 ms for a kind of request that
never succeeded and counted its refusals as ``HTTPStatusError`` whatever the status; ``bench search`` refused a
text-only encoder outright (it cannot search by image) instead of timing its text searches."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from pathatlas.ui.bench_crash import CrashReport, make_pdf
from tests.helpers import indexed_book, run_cli, send_json

MACHINE = {"cpu_count", "usable_cores", "omp_num_threads"}
"""What every speed benchmark's ``machine`` holds; those timed in process add their libraries' threads."""
THREADS = MACHINE | {"onnx_threads", "blas_threads", "torch_threads", "faiss_threads"}
CODE = {"date", "pathatlas", "command", "pythonhashseed"}
"""What every run record holds whatever the command (the git fields only from a checkout)."""


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def document_of(result) -> dict:
    """The JSON alone on stdout (``--json -``)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return indexed_book(tmp_path_factory.mktemp("s37-records"))


def test_run_record_and_git_state_live_beside_the_other_bench_helpers():
    """``bench mcp`` took them from the CLI module; a library of benchmarks should not need the CLI to say what ran."""
    code = (
        "import json; from pathatlas.retrieval.bench.common import git_state, run_record; "
        "print(json.dumps(sorted(git_state())))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout) == ["git_commit", "git_dirty"]  # the suite runs from a checkout


def test_bench_index_records_the_pdf_its_encoder_and_the_threads(tmp_path):
    pdf = make_pdf(tmp_path / "lib" / "book.pdf", 2, "v1")
    document = document_of(run_cli("bench", "index", "--pdf", pdf, "--json", "-", home=tmp_path / "home"))
    run = document["run"]
    assert set(run) >= CODE and (run["pdf"], run["pdf_sha256"]) == (str(pdf.resolve()), sha256(pdf))
    assert (run["keep"], run["upgrade"], run["encoder_revisions"]) == (None, False, {})
    assert set(run["machine"]) == THREADS and run["machine"]["cpu_count"] == os.cpu_count()
    assert document["pages"] == 2  # what it measured, beside the record


def test_bench_queries_records_its_query_files_and_the_threads_it_ran_with(book, tmp_path):
    (tmp_path / "queries.txt").write_text("granuloma\nkoilocytes\n")
    args = ["bench", "queries", "--index", book / "idx", "--texts", tmp_path / "queries.txt", "--repeats", 1]
    document = document_of(run_cli(*args, "--json", "-", home=book / "home", OMP_NUM_THREADS=1))
    run = document["run"]
    assert set(run) >= CODE and run["index"] == str((book / "idx").resolve())
    assert run["texts_sha256"] == sha256(tmp_path / "queries.txt") and "images" not in run
    assert (run["repeats"], run["query_vectors"]) == (1, None)  # the hashing encoder's queries are its own
    assert run["machine"]["omp_num_threads"] == "1" and run["machine"]["onnx_threads"] == 1
    assert document["text"]["n"] == 2 and "query_vectors" not in document  # said once, in the run


def test_bench_encode_records_each_image_it_read(tmp_path):
    (tmp_path / "images").mkdir()
    for n in range(3):
        Image.new("RGB", (40 + n, 30), (200, 60 * n, 90)).save(tmp_path / "images" / f"{n}.png")
    args = ["bench", "encode", "--images", tmp_path / "images", "--limit", 2, "--json", "-"]
    run = document_of(run_cli(*args, home=tmp_path / "home"))["run"]
    read = [tmp_path / "images" / f"{n}.png" for n in range(2)]  # --limit 2: the third is not read, not recorded
    assert run["images"] == [str(p.resolve()) for p in read] and run["images_sha256"] == [sha256(p) for p in read]
    assert run["limit"] == 2 and set(run["machine"]) == THREADS


def test_bench_search_times_a_text_only_encoder_and_records_the_sweep(tmp_path):
    """The hashing encoder cannot search by image: the whole run was refused; its text searches are measured now."""
    args = ["bench", "search", "--records", 1000, "--stores", "faiss", "--queries", 2, "--json", "-"]
    result = run_cli(*args, home=tmp_path / "home")
    document = document_of(result)
    (measured,) = document["runs"]
    assert measured["text"]["p95_ms"] > 0 and "image" not in measured
    run = document["run"]
    assert (run["records"], run["stores"], run["queries"], run["media"]) == ([1000], ["faiss"], 2, False)
    assert set(run["machine"]) == THREADS and run["machine"]["faiss_threads"] >= 1  # FAISS searched: loaded
    assert "- / - / -" in result.stderr  # the image columns say nothing was measured


def test_bench_startup_records_the_index_the_source_and_the_machine(book, monkeypatch):
    import pathatlas.ui.bench_startup as bench_startup

    timed = {"help": {"median_s": 0.5, "best_s": 0.4, "cpu_s": 0.3, "heavy_modules": []}}
    monkeypatch.setattr(bench_startup, "bench_startup", lambda *given: timed)
    source = book / "lib"  # a folder, as 'index' takes one
    args = ["bench", "startup", "--index", book / "idx", "--source", source, "--repeats", 2, "--json", "-"]
    document = document_of(run_cli(*args, home=book / "home"))
    run = document["run"]
    assert set(run) >= CODE and run["index"] == str((book / "idx").resolve()) and run["repeats"] == 2
    assert run["source"] == str(source.resolve()) and len(run["source_sha256"]) == 64
    assert set(run["machine"]) == MACHINE  # the timed processes inherit these, not this one's threads
    assert document["help"] == timed["help"]


def test_a_folders_digest_changes_with_any_file_in_it(tmp_path):
    from pathatlas.retrieval.bench.common import file_sha256

    (tmp_path / "cases" / "sub").mkdir(parents=True)
    (tmp_path / "cases" / "sub" / "a.png").write_bytes(b"one")
    first = file_sha256(tmp_path / "cases")
    (tmp_path / "cases" / "sub" / "a.png").rename(tmp_path / "cases" / "sub" / "b.png")
    renamed = file_sha256(tmp_path / "cases")
    (tmp_path / "cases" / "sub" / "b.png").write_bytes(b"two")
    assert len({first, renamed, file_sha256(tmp_path / "cases")}) == 3
    assert file_sha256(tmp_path / "cases" / "sub" / "b.png") == hashlib.sha256(b"two").hexdigest()


def test_bench_crash_records_what_it_was_given(tmp_path, monkeypatch):
    import pathatlas.ui.bench_crash as bench_crash

    monkeypatch.setattr(bench_crash, "run_crash_trials", lambda store, trials, workdir: CrashReport(store, trials))
    args = ["bench", "crash", "--trials", 3, "--stores", "faiss, qdrant", "--workdir", tmp_path / "scratch"]
    document = document_of(run_cli(*args, "--json", "-", home=tmp_path / "home"))
    run = document["run"]
    assert set(run) >= CODE and (run["trials"], run["stores"]) == (3, ["faiss", "qdrant"])
    assert run["workdir"] == str(tmp_path / "scratch")
    assert [r["store"] for r in document["runs"]] == ["faiss", "qdrant"]


class Refusing(BaseHTTPRequestHandler):
    """A service that answers text searches and asks, and refuses every image search with 422."""

    def do_POST(self):  # noqa: N802 (the name http.server calls)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        send_json(self, 422 if self.path == "/search/image" else 200, {})

    def log_message(self, *args):
        pass


def test_bench_serve_gives_no_latency_for_a_kind_that_never_succeeded_and_names_the_status(book, monkeypatch):
    import pathatlas.ui.bench_serve as bench_serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = bench_serve.bench_serve
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def loaded(index, clients, seconds, **options):
        return real(index, clients, seconds, base)

    monkeypatch.setattr(bench_serve, "bench_serve", loaded)
    try:
        args = ["bench", "serve", "--index", book / "idx", "--clients", 1, "--seconds", 1, "--json", "-"]
        result = run_cli(*args, home=book / "home")
    finally:
        server.shutdown()
    document = document_of(result)
    assert document["image"] == {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    assert document["text"]["n"] > 0 and document["text"]["p50_ms"] > 0
    assert set(document["error_kinds"]) == {"image: HTTP 422"}
    assert set(document["run"]["machine"]) == MACHINE
    image_row = next(line for line in result.stderr.splitlines() if "│ image" in line)
    assert [cell.strip() for cell in image_row.split("│")[1:6]] == ["image", "0", "-", "-", "-"]
