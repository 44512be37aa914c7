"""One process's stores of an embedded Qdrant folder share its one loaded shard: a write through any of them starts a
new state for all of them (what each keeps per state, counts and spellings, is read again). A child forked from a
process holding a shard neither uses nor closes it: closing or dropping the child's copy would write the parent's
state back from a copy made before the parent's later commits, zeroing their vectors for good."""

from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.index import Index
from tests.helpers import run_cli
from tests.retrieval.test_index_folder_faults import build
from tests.retrieval.test_qdrant_durable import REPO, add, other_process, pages_of


def test_a_write_through_one_index_starts_a_new_state_for_another_of_the_process(tmp_path):
    settings, _ = build(tmp_path, store="qdrant")
    with Index.open(settings.index_dir, settings) as reader, Index.open(settings.index_dir, settings) as writer:
        assert len(reader.record_counts()) == 2, "alpha and beta, now kept for this state"
        add(writer, tmp_path, "gamma")
        assert len(reader.record_counts()) == 3, "gamma's records, counted in the shard both indexes share"
        assert reader.raw_store.value_counts("source") == writer.raw_store.value_counts("source")


def refusal(attempt) -> str:
    """The message ``attempt()`` is refused with in one line; "opened" where it is not refused."""
    try:
        attempt()
    except PathAtlasError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "opened"


def forked_child(index: Index, parent_committed, report) -> None:
    """In a child forked while ``index`` is open: once the parent committed, report how opening the index again and
    searching the inherited one are refused, then close the inherited one."""
    parent_committed.wait(60)
    path, settings = index.path, index.settings
    opened = refusal(lambda: Index.open(path, settings).close())
    inherited = refusal(index.raw_store.count)
    index.close()
    report.send((opened, inherited))


def test_a_forked_child_neither_uses_nor_closes_the_shard_its_parent_holds(tmp_path):
    settings, _ = build(tmp_path, store="qdrant")
    fork = multiprocessing.get_context("fork")
    parent_committed = fork.Event()
    received, report = fork.Pipe(duplex=False)
    with Index.open(settings.index_dir, settings) as index:
        child = fork.Process(target=forked_child, args=(index, parent_committed, report))
        child.start()
        add(index, tmp_path, "gamma")
        parent_committed.set()
        opened, inherited = received.recv() if received.poll(60) else ("no report", "no report")
        child.join(30)
        if child.is_alive():  # waiting on the shard's threads, which stayed in the parent
            child.kill()
            child.join()
    for line in (opened, inherited):
        assert line.startswith("ShardHeldError: ") and "is open in another process" in line, line
        assert "\n" not in line, line
    assert child.exitcode == 0
    assert pages_of(settings, "gamma") == (2, 2), "the parent's commit, with its vectors"


def test_a_forked_child_exiting_with_the_index_open_leaves_the_parent_s_commit(tmp_path):
    """The child leaves by ``sys.exit`` (a server's worker): the interpreter's exit drops what the child still
    references, the inherited shard and its lock with it."""
    settings, _ = build(tmp_path, store="qdrant")
    code = f"""
import os, sys
from pathlib import Path
from pathatlas.retrieval.index import Index
from tests.helpers import hashing_settings
from tests.retrieval.test_qdrant_durable import add
root = Path({str(tmp_path)!r})
settings = hashing_settings(root)
index = Index.open(settings.index_dir, settings)
committed, commit = os.pipe()
if os.fork() == 0:
    os.close(commit)
    os.read(committed, 1)
    sys.exit(0)
add(index, root, "gamma")
os.write(commit, b"+")
os.wait()
os._exit(0)  # the parent's commit stands without a close
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert pages_of(settings, "gamma") == (2, 2)


def test_remove_lets_go_of_the_shard_before_it_returns(tmp_path):
    """Run in process (a notebook, a test), ``pathatlas remove`` leaves no open index behind for the collector or the
    exit to close: another process opens the index as soon as it returns."""
    settings, books = build(tmp_path, store="qdrant")
    gc.disable()  # only what the command closes is let go
    try:
        removed = run_cli("remove", books[0], "--index", settings.index_dir, home=settings.home)
        assert removed.exit_code == 0 and "removed" in removed.output, removed.output
        shown = other_process(settings, "info", "--index", settings.index_dir)
    finally:
        gc.enable()
    assert shown.returncode == 0, shown.stderr
