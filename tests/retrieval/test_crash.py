"""Crash, fault and identity tests of the index: kills at every durable step, disk-full, damaged snapshots.

The crash suite (marker ``crash``) runs ``pathatlas bench crash`` in a fresh process per store: real
``pathatlas index`` / ``remove`` runs killed with SIGKILL before an enumerated durable step.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pathatlas.errors import IndexBusyError, PathAtlasError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval import durable
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui import bench_crash as crash
from pathatlas.ui.bench_crash import make_pdf, snapshot_of

STORES = ["faiss", "qdrant"]
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else None


PER_PAGE = 2
"""Records per page of these PDFs: the page and its one passage."""


def open_index(settings: Settings, store: str = "faiss") -> Index:
    return Index.open(settings.index_dir, settings, create=True, store=store)


def add(settings: Settings, paths, store: str = "faiss", force: bool = False):
    index = open_index(settings, store)
    try:
        return Indexer(index, show_progress=False).add(paths, force=force)
    finally:
        index.close()


def state(settings: Settings) -> dict:
    found = snapshot_of(settings.index_dir)
    assert found["problems"] == []
    return found["records"]


@pytest.mark.parametrize("store", STORES)
def test_same_file_at_two_paths_is_two_sources(fast, tmp_path, store):
    one = make_pdf(tmp_path / "d1" / "same.pdf", 3, "v0")
    two = tmp_path / "d2" / "same.pdf"
    two.parent.mkdir()
    two.write_bytes(one.read_bytes())
    add(fast, [one, two], store)
    records = state(fast)
    assert len(records[str(one)]) == len(records[str(two)]) == 3 * PER_PAGE
    assert not set(records[str(one)]) & set(records[str(two)]), "ids are unique per source"

    index = open_index(fast, store)
    with pytest.raises(PathAtlasError, match="matches several sources"):
        index.remove_source("same.pdf")
    assert index.remove_source(str(two)) == 3 * PER_PAGE
    index.close()
    assert list(state(fast)) == [str(one)] and len(state(fast)[str(one)]) == 3 * PER_PAGE
    report = add(fast, [one], store)
    assert report.sources[0].status == "unchanged" and len(state(fast)[str(one)]) == 3 * PER_PAGE


def test_a_rerun_verifies_the_store_not_only_the_manifest(fast, tmp_path):
    pdf = make_pdf(tmp_path / "book.pdf", 4, "v0")
    add(fast, [pdf])
    index = open_index(fast)
    index.raw_store.delete({"source": str(pdf)})  # records lost behind the manifest's back
    index.commit()
    index.close()
    problems = snapshot_of(fast.index_dir)["problems"]  # every record lost: the index is refused on opening
    assert any("its store holds none" in problem for problem in problems), problems
    report = add(fast, [pdf])
    assert report.sources[0].status == "indexed"
    assert len(state(fast)[str(pdf)]) == 4 * PER_PAGE


def test_remove_deletes_records_the_manifest_does_not_list(fast, tmp_path):
    pdf = make_pdf(tmp_path / "book.pdf", 2, "v0")
    add(fast, [pdf])
    index = open_index(fast)
    ghost = {rid: {**p, "source": "/gone/ghost.pdf"} for rid, p in index.store.scan()}
    index.raw_store.upsert([crash_record(rid, payload) for rid, payload in ghost.items()])
    index.commit()
    assert index.remove_source("/gone/ghost.pdf") == 2 * PER_PAGE
    index.close()
    assert set(state(fast)) == {str(pdf)}


def crash_record(record_id, payload):
    import numpy as np

    from pathatlas.retrieval.records import StoredVectors

    return StoredVectors(record_id + "x", payload, {"text": np.eye(16, dtype=np.float32)[0]})


@pytest.mark.parametrize("store", STORES)
def test_a_failed_forced_reindex_keeps_the_previous_version(fast, tmp_path, store, monkeypatch):
    pdf = make_pdf(tmp_path / "book.pdf", 5, "v0")
    add(fast, [pdf], store)
    before = state(fast)

    def full_disk(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Indexer, "encode", full_disk)
    report = add(fast, [pdf], store, force=True)
    assert report.sources[0].status == "failed" and "No space left" in report.sources[0].problems[0]
    monkeypatch.undo()
    assert state(fast) == before
    assert add(fast, [pdf], store).sources[0].status == "unchanged"


def inject(monkeypatch, point) -> None:
    """Route every durable step through ``point`` (the modules import ``crash_point`` by name)."""
    monkeypatch.setattr(durable, "crash_point", point)
    monkeypatch.setattr("pathatlas.retrieval.index.crash_point", point)
    monkeypatch.setattr("pathatlas.indexer.pipeline.crash_point", point)


def disk_full_at(failing: int):
    """A crash point that fills the disk at the ``failing``-th durable step (1-based)."""
    seen: list[str] = []

    def point(label: str) -> None:
        seen.append(label)
        if len(seen) == failing:
            raise OSError(errno.ENOSPC, f"No space left on device ({label})")

    return point


@pytest.mark.parametrize("store", STORES)
def test_disk_full_at_every_durable_step_loses_nothing(fast, tmp_path, store, monkeypatch):
    """ENOSPC from the writer at each durable step of replacing two books: each is old or new, whole."""
    books = [make_pdf(tmp_path / f"b{i}.pdf", 3, "v0") for i in range(2)]
    add(fast, books, store)
    start = tmp_path / "start"
    shutil.copytree(fast.index_dir, start)
    old = state(fast)
    for book in books:
        make_pdf(book, 3, "v1")
    steps: list[str] = []
    inject(monkeypatch, steps.append)
    add(fast, books, store)  # a clean replace, counting its steps
    monkeypatch.undo()
    new = state(fast)
    assert len(steps) > 6 and all(old[k] != new[k] for k in new)
    stride = 1 if store == "faiss" else 3  # an embedded Qdrant shard takes about a second to open
    for failing in range(1, len(steps) + 1, stride):
        work = fast.model_copy(update={"index": tmp_path / f"i{failing}"})
        shutil.copytree(start, work.index_dir)
        inject(monkeypatch, disk_full_at(failing))
        report = add(work, books, store)
        monkeypatch.undo()
        assert [s.status for s in report.sources].count("failed") == 1, (failing, steps[failing - 1])
        after = state(work)
        assert set(after) == set(old) and all(after[k] in (old[k], new[k]) for k in after), f"step {failing}"
        assert all(s.status != "failed" for s in add(work, books, store).sources)
        assert state(work) == new, f"a re-run after a failure at step {failing} converges"


def test_a_damaged_uncommitted_snapshot_is_ignored_and_a_damaged_committed_one_is_one_line(fast, tmp_path):
    pdf = make_pdf(tmp_path / "book.pdf", 3, "v0")
    add(fast, [pdf])
    before = state(fast)
    store = fast.index_dir / "store"
    pointer = json.loads((fast.index_dir / "manifest.json").read_text())
    # what a crash between the store's commit and the pointer's leaves: a newer state the pointer does not name
    (store / "state-999999.json").write_bytes(b"garbage")
    (store / "CURRENT").write_bytes(b"garbage")
    assert state(fast) == before

    committed = json.loads((store / f"state-{int(pointer['store_version']):06d}.json").read_text())
    (store / committed["base"] / "records.json").write_bytes(b"not json")
    result = subprocess.run(
        [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "info", "--index", str(fast.index_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATHATLAS_ENCODER": HashingEncoder.name},
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "damaged" in result.stderr


@pytest.mark.crash
@pytest.mark.parametrize("store", STORES)
def test_kills_at_every_durable_step_leave_a_consistent_index(tmp_path, store):
    """>= 20 SIGKILLs per store at enumerated crash points; each index opens, agrees and re-runs to a clean build."""
    out = tmp_path / "crash.json"
    command = ["bench", "crash", "--trials", "20", "--stores", store, "--json", str(out)]
    if SCRATCH:
        command += ["--workdir", str(SCRATCH)]
    result = subprocess.run(
        [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", *command],
        capture_output=True,
        text=True,
        timeout=600,
    )
    run = json.loads(out.read_text())["runs"][0]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run["trials"] == 20 and run["crashed"] == 20
    assert run["inconsistent"] == 0 and run["rerun_differs"] == 0, run["failures"]
    assert all(run["steps"].values()), "every scenario has durable steps to crash at"


def test_crash_points_are_enumerated_from_a_counting_run(tmp_path, monkeypatch):
    log = tmp_path / "steps.log"
    monkeypatch.setenv("PATHATLAS_CRASH_COUNT", str(log))
    monkeypatch.setattr(durable, "_steps", 0)
    durable.write_atomic(tmp_path / "f", b"x")
    assert log.read_text().split("\n")[0] == "1 replace f"
    assert crash.scenarios("faiss")[0].name == "add three books"


@pytest.mark.parametrize("store", STORES)
def test_a_second_writer_is_refused_and_a_writer_opened_earlier_builds_on_the_latest_commit(fast, tmp_path, store):
    """Two processes writing one index used to commit over each other: a source the other added vanished, a removed
    one came back. Each ``Index`` holds its own lock file handle, as a second process does."""
    first, second, third = (make_pdf(tmp_path / f"{n}.pdf", 2, n) for n in ("first", "second", "third"))
    add(fast, [first], store)
    early = open_index(fast, store)  # opened before the next commit, like a server started earlier
    writer = open_index(fast, store)
    with writer.writing():
        with pytest.raises(IndexBusyError, match="being changed by another writer"):
            Indexer(early, show_progress=False).add([second])
        with pytest.raises(IndexBusyError):
            early.remove_source(str(first))
    Indexer(writer, show_progress=False).add([second])
    writer.close()
    Indexer(early, show_progress=False).add([third])
    early.close()
    assert sorted(state(fast)) == sorted(map(str, (first, second, third))), "no writer undid another's commit"


def test_a_commit_of_writes_made_before_another_process_committed_is_refused(fast, tmp_path):
    add(fast, [make_pdf(tmp_path / "a.pdf", 2, "a")])
    stale = open_index(fast)
    add(fast, [make_pdf(tmp_path / "b.pdf", 2, "b")])
    with pytest.raises(IndexBusyError, match="changed by another process after these writes began"):
        stale.commit({})
    stale.close()
    assert len(state(fast)) == 2


def test_opening_an_index_under_its_first_build_leaves_the_build_alone(fast, tmp_path):
    """Before its first commit an index has a store folder and no pointer: left by a killed run, it is deleted on
    opening; but another process's ``info`` or search deleted it under a live first build, which then failed."""
    building = open_index(fast)
    store = fast.index_dir / "store"
    with building.writing():
        store.mkdir(exist_ok=True)
        (store / "segment").write_text("being written")
        open_index(fast).close()  # another process opens the index meanwhile
        assert (store / "segment").is_file(), "a build in progress keeps its files"
    building.close()
    open_index(fast).close()  # no writer now: an uncommitted store is a killed run's, and goes
    assert not (store / "segment").exists()
