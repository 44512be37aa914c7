"""The embedded Qdrant shard is held by one process at a time. qdrant-edge 0.9.0 has no read-only mode: every loaded
shard writes its whole in-memory state back when it flushes, closes or is dropped (a garbage-collected index too). A
holder loaded before another's commit and dropped after it zeroed the new records' vectors for good, and a long-lived
writer's next commit failed once another process had loaded the shard in between. Now a second process is refused in
one line, and the opens of one process share one loaded shard."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_env
from tests.retrieval.test_index_folder_faults import build

REPO = Path(__file__).parents[2]


def pages_of(settings, name: str) -> tuple[int, int]:
    """(page records of ``name``, those of them with their vector), read by a fresh open: each of a book's pages has
    one (its passages have none with the hashing encoder)."""
    with Index.open(settings.index_dir, settings) as index:
        pages = [
            r
            for batch in index.store.records()
            for r in batch
            if Path(r.payload["source"]).stem == name and r.payload["kind"] == "page"
        ]
    return len(pages), sum("text" in r.vectors for r in pages)


def add(index: Index, root: Path, name: str) -> None:
    assert not Indexer(index, show_progress=False).add([make_pdf(root / f"{name}.pdf", 2, name)]).failed


def found(index: Index, text: str) -> set[str]:
    return {Path(h.payload.source).stem for h in Searcher(index).search(Query(text=text, k=10))}


def other_process(settings, *args) -> subprocess.CompletedProcess:
    """``pathatlas *args`` in another process, quick on ``settings``' home."""
    return subprocess.run(
        [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **hashing_env(settings.home), "COLUMNS": "200"},
        timeout=300,
    )


def refused(settings) -> str:
    """The one line another process's ``info`` is refused with; fails where it opened the index."""
    shown = other_process(settings, "info", "--index", settings.index_dir)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "Traceback" not in shown.stderr and shown.stderr.strip().count("\n") == 0, shown.stderr
    return shown.stderr.strip()


def test_a_reader_swapped_out_after_another_commit_leaves_that_commit_its_vectors(tmp_path):
    """Two indexes of one process (a service swaps in the index the other committed, ``Engine.refresh``, and its cyclic
    GC later drops the old one): the old one's own copy of the shard flushed its old vector count over the commit."""
    settings, _ = build(tmp_path, store="qdrant")
    reader = Index.open(settings.index_dir, settings)
    writer = Index.open(settings.index_dir, settings)
    add(writer, tmp_path, "gamma")
    writer.close()
    del reader
    gc.collect()
    assert pages_of(settings, "gamma") == (2, 2)


def test_a_writer_commits_again_after_another_process_tried_to_open_the_index(tmp_path):
    """``pathatlas info`` beside a serving index loaded and closed the shard: the server's next commit failed with
    "tracker_journal.dat is shorter than expected"."""
    settings, _ = build(tmp_path, store="qdrant")
    with Index.open(settings.index_dir, settings) as writer:
        add(writer, tmp_path, "gamma")
        other_process(settings, "info", "--index", settings.index_dir)
        add(writer, tmp_path, "delta")
    assert pages_of(settings, "delta") == (2, 2)


def test_a_second_process_is_refused_in_one_line_and_the_first_still_searches_and_commits(tmp_path):
    settings, _ = build(tmp_path, store="qdrant")
    with Index.open(settings.index_dir, settings) as first:
        line = refused(settings)
        assert f"index {settings.index_dir} is open in another process" in line, line
        assert "`pathatlas serve`" in line and "--store faiss" in line, line
        assert f"pathatlas export --index {settings.index_dir} --to http://host:6333" in line, line
        assert found(first, "beta page") == {"alpha", "beta"}
        add(first, tmp_path, "gamma")
        assert "gamma" in found(first, "gamma page")
    assert pages_of(settings, "alpha") == pages_of(settings, "gamma") == (2, 2)


def test_a_second_open_in_one_process_shares_the_shard_and_sees_the_first_ones_commit(tmp_path):
    settings, _ = build(tmp_path, store="qdrant")
    with Index.open(settings.index_dir, settings) as reader, Index.open(settings.index_dir, settings) as writer:
        add(writer, tmp_path, "gamma")
        assert reader.raw_store.count() == 12, "the writer's records, in the reader's store at once"
        assert "gamma" not in found(reader, "gamma page"), "the reader's generation does not list gamma yet"
        assert reader.refresh() and "gamma" in found(reader, "gamma page")


def test_the_last_of_a_process_s_indexes_to_go_lets_another_process_open_it(tmp_path):
    """Closed or garbage-collected unclosed (an index a command dropped, a service's swapped-out one)."""
    settings, _ = build(tmp_path, store="qdrant")
    closed = Index.open(settings.index_dir, settings)
    dropped = Index.open(settings.index_dir, settings)
    closed.close()
    assert "is open in another process" in refused(settings)
    del dropped
    gc.collect()
    shown = other_process(settings, "search", "alpha page", "--index", settings.index_dir)
    assert shown.returncode == 0 and "alpha.pdf" in shown.stdout, shown.stdout + shown.stderr


def test_a_writer_killed_after_its_commit_leaves_the_commit_with_its_vectors(tmp_path):
    """Its shard never closed, its lock let go by its death: the next process opens the index, vectors and all."""
    settings, _ = build(tmp_path, store="qdrant")
    code = (
        "import os, signal; from pathlib import Path; from tests.helpers import hashing_settings; "
        "from tests.retrieval.test_qdrant_durable import add; from pathatlas.retrieval.index import Index; "
        f"root = Path({str(tmp_path)!r}); s = hashing_settings(root); add(Index.open(s.index_dir, s), root, 'gamma'); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    shown = other_process(settings, "search", "gamma page", "--index", settings.index_dir)
    assert shown.returncode == 0 and "gamma.pdf" in shown.stdout, shown.stdout + shown.stderr
    assert pages_of(settings, "gamma") == (2, 2)
