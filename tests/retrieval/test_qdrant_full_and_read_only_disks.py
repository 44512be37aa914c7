"""What a tester found with Qdrant: an exported copy (qdrant-client's twin) re-read every source on every run, as its
facets gave fingerprints as dashed UUIDs; the embedded store died of SIGBUS on a full disk (and, on tmpfs, every later
search too) where FAISS refuses in one line; and it cannot be searched on a read-only disk, which is now one line naming
the remedy. Free space and read-only disks are pretended (``shutil.disk_usage``, ``os.access``, ``os.statvfs``)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pathatlas.errors import IndexBusyError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index, IndexUnwritableError
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import qdrant_store
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import one_error_line
from tests.retrieval.test_index_folder_faults import build, run, sources_found
from tests.retrieval.test_stores import DIMS, make_store, unit

FULL_DISK = ("cannot be written: the disk is full", "the index is as its last commit left it")
MMAP_CHUNK = 32 * 2**20
"""qdrant-edge's mmap chunk (a vector chunk, a payload page): the room a write needs beyond its own bytes."""


# -- 1. an exported copy's fingerprints are counted as stored ---------------------------------------------------------


def test_an_exported_copy_indexed_again_with_the_same_source_says_unchanged(tmp_path):
    settings, books = build(tmp_path)
    twin, out = tmp_path / "twin", tmp_path / "exported"
    result = run(settings, "export", "--index", settings.index_dir, "--to", twin, "--out", out)
    assert result.exit_code == 0, result.output
    exported = Index.open(out, settings)
    try:
        statuses = {Path(s.source).name: s.status for s in Indexer(exported, show_progress=False).add(books).sources}
    finally:
        exported.close()
    assert statuses == {"alpha.pdf": "unchanged", "beta.pdf": "unchanged"}


def test_the_twin_counts_values_as_stored_where_its_facet_would_write_them_as_uuids(settings, tmp_path):
    hexed = "d4b40a29d7e94a1b8c0e1f2a3b4c5d6e"
    values = [hexed, hexed, hexed.upper(), "{d4b40a29-d7e9-4a1b-8c0e-1f2a3b4c5d6e}", "plain"]
    store = make_store("qdrant-memory", tmp_path / "store", settings)
    try:
        vectors = unit(np.random.default_rng(1), len(values), DIMS["text"])
        store.upsert(
            [
                StoredVectors(f"r{i}", {"kind": "page", "source": "s", "fingerprint": value}, {"text": vectors[i]})
                for i, value in enumerate(values)
            ]
        )
        assert store.value_counts("fingerprint") == Counter(values)
        assert store.value_counts("kind") == Counter({"page": 5})  # no UUID among them: still its facet
    finally:
        store.close()


# -- 2. a full disk: refused before the engine maps what it has no room for --------------------------------------------


@pytest.fixture
def free_space(monkeypatch):
    """``free_space(n, kind)``: every disk has ``n`` bytes free from now on, and is a ``kind`` file system (ext4: not
    tmpfs, whose opening takes room)."""
    real = shutil.disk_usage

    def pretend(free: int, kind: str = "ext4") -> None:
        monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=free))
        monkeypatch.setattr(qdrant_store, "file_system", lambda path: kind)

    return pretend


def page(record_id: str, seed: int) -> StoredVectors:
    vector = unit(np.random.default_rng(seed), 1, DIMS["text"])[0]
    return StoredVectors(record_id, {"kind": "page", "source": "s"}, {"text": vector})


def test_writes_to_the_embedded_store_without_room_for_a_chunk_are_refused_before_they_start(
    settings, tmp_path, free_space
):
    store = make_store("qdrant", tmp_path / "index" / "store", settings)
    try:
        store.upsert([page("kept", 1)])
        store.commit()
        free_space(MMAP_CHUNK - 1)
        for write in (lambda: store.upsert([page("new", 2)]), lambda: store.delete({"source": "s"}), store.commit):
            with pytest.raises(IndexUnwritableError) as refused:
                write()
            assert all(words in str(refused.value) for words in FULL_DISK), refused.value
            assert str(tmp_path / "index") in str(refused.value)
        assert [record_id for record_id, _ in store.scan()] == ["kept"]
        free_space(MMAP_CHUNK + 2**20)  # room for the chunk and the write
        store.upsert([page("new", 2)])
        assert store.count() == 2
    finally:
        store.close()


def test_an_index_run_on_a_full_disk_is_one_line_and_the_index_stays_searchable(tmp_path, free_space):
    settings, _ = build(tmp_path, store="qdrant")
    more = make_pdf(tmp_path / "lib" / "gamma.pdf", 2, "gamma")
    free_space(MMAP_CHUNK // 2)
    one_error_line(run(settings, "index", more, "--index", settings.index_dir), *FULL_DISK)
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}
    one_error_line(run(settings, "index", more, "--index", tmp_path / "new", "--store", "qdrant"), *FULL_DISK)


def test_opening_on_tmpfs_needs_room_for_the_holes_it_reads_elsewhere_none(tmp_path, free_space):
    """On tmpfs the engine's opening reads its sparse files whole, which fills their holes: a SIGBUS for this and every
    later process where the room is not there. Elsewhere a hole read takes no room, so a full disk is still searched."""
    settings, _ = build(tmp_path, store="qdrant")
    holes = qdrant_store.unfilled(settings.index_dir / "store")
    assert holes > MMAP_CHUNK  # a few records in 32 MiB chunks
    free_space(holes // 2)
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}
    free_space(holes // 2, "tmpfs")
    for command in (["search", "alpha page"], ["info"]):  # a read: opened, not written
        said = run(settings, *command, "--index", settings.index_dir)
        one_error_line(said, "cannot be opened: the disk is full", "the index is as its last commit left it")
    free_space(holes, "tmpfs")
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}


def test_holes_are_counted_in_the_files_the_engine_reads_whole(tmp_path):
    vectors, payloads = tmp_path / "segments" / "a" / "vectors", tmp_path / "segments" / "a" / qdrant_store.ON_DEMAND
    for folder in (vectors, payloads):
        folder.mkdir(parents=True)
        with open(folder / "chunk_0.mmap", "wb") as chunk:
            chunk.write(b"x" * 4096)
            chunk.truncate(MMAP_CHUNK)
    if os.stat(vectors / "chunk_0.mmap").st_blocks * 512 >= MMAP_CHUNK:
        pytest.skip("this file system keeps no sparse files")
    assert MMAP_CHUNK - 64 * 1024 <= qdrant_store.unfilled(tmp_path) < MMAP_CHUNK


@pytest.mark.skipif(not Path("/proc/self/mounts").is_file(), reason="reads Linux's /proc/self/mounts")
def test_the_file_system_of_a_path_is_its_longest_mount_points():
    assert qdrant_store.file_system(Path("/proc/self")) == "proc"
    assert qdrant_store.file_system(Path("/")) not in ("", "proc")


# -- 3. a read-only disk: one line naming the cause and the remedy ----------------------------------------------------


def pretend_unwritable(monkeypatch, folder: Path, read_only: bool) -> None:
    """``folder`` cannot be written: on a read-only mount, or without this user's write permission."""
    access, statvfs = os.access, os.statvfs
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != folder and access(path, mode, **kw))

    def flags(path):
        found = statvfs(path)
        if Path(path) != folder or not read_only:
            return found
        return os.statvfs_result((*found[:8], found.f_flag | os.ST_RDONLY, found.f_namemax))

    monkeypatch.setattr(os, "statvfs", flags)


@pytest.mark.parametrize(("read_only", "cause"), [(True, "on a read-only disk"), (False, "without write permission")])
def test_searching_the_embedded_store_on_a_read_only_disk_is_one_line_naming_the_remedy(
    tmp_path, monkeypatch, read_only, cause
):
    settings, _ = build(tmp_path, store="qdrant")
    pretend_unwritable(monkeypatch, settings.index_dir / "store", read_only)
    line = one_error_line(run(settings, "search", "alpha page", "--index", settings.index_dir))
    assert f"the embedded Qdrant store cannot be opened {cause}" in line, line
    assert "copy the index to a writable disk" in line and "--store faiss" in line, line
    with pytest.raises(IndexBusyError, match="cannot be opened"):  # REST: 409, as a read-only FAISS index's write
        Index.open(settings.index_dir, settings)
