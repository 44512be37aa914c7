"""Media files (thumbnails, keypoints) follow the records: a replaced or removed source's go, files of ids the new
version still holds stay, a killed run's are swept by the next run, and a commit never lists the media folder."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from pathatlas.errors import UnknownSourceError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import MEDIA_PENDING, Index
from pathatlas.retrieval.records import StoredVectors
from pathatlas.settings import Settings
from pathatlas.ui.bench_crash import make_pdf

STORES = ["faiss", "qdrant"]


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the run's own error handling catches it."""


def open_index(settings: Settings, store: str) -> Index:
    return Index.open(settings.index_dir, settings, create=True, store=store)


def media_ids(index: Index) -> set[str]:
    return {f.name.split(".", 1)[0] for f in index.media_dir.iterdir()}


def pages(index: Index, source: Path | None = None) -> set[str]:
    """Ids of committed page records (these PDFs' pages have thumbnails, their passages none)."""
    filters = {"kind": "page", **({"source": str(source)} if source else {})}
    return {rid for rid, _ in index.store.scan(filters)}


def fail_at(monkeypatch, label: str, error: BaseException) -> None:
    def point(step: str) -> None:
        if step == label:
            raise error

    monkeypatch.setattr("pathatlas.retrieval.index.crash_point", point)


@pytest.mark.parametrize("store", STORES)
def test_replacing_and_removing_sources_delete_exactly_their_media(fast, tmp_path, store):
    one, two = make_pdf(tmp_path / "one.pdf", 3, "v0"), make_pdf(tmp_path / "two.pdf", 2, "v0")
    index = open_index(fast, store)
    Indexer(index, show_progress=False).add([one, two])
    assert media_ids(index) == pages(index) and len(pages(index)) == 5
    old = pages(index, one)

    make_pdf(one, 3, "v1")
    assert [s.status for s in Indexer(index, show_progress=False).add([one, two]).sources] == ["indexed", "unchanged"]
    assert len(pages(index, one)) == 3 and not old & pages(index, one)
    assert media_ids(index) == pages(index), "the old version's thumbnails go, the other book's stay"

    index.remove_source(str(two))
    assert media_ids(index) == pages(index, one) == pages(index)
    assert not (index.path / MEDIA_PENDING).exists()
    index.close()


@pytest.mark.parametrize("store", STORES)
def test_an_id_the_new_version_still_holds_keeps_its_files(fast, store):
    """Ids name their content: a record unchanged across versions keeps its id, and its files must stay."""
    index = open_index(fast, store)
    source = "/books/atlas.pdf"

    def version(fingerprint: str, ids: list[str]) -> None:
        vector = {"text": np.eye(16, dtype=np.float32)[0]}
        payload = {"kind": "page", "source": source, "fingerprint": fingerprint}
        with index.changing_media():
            index.store.upsert([StoredVectors(rid, payload, vector) for rid in ids])
            index.media_dir.mkdir(exist_ok=True)
            for rid in ids:
                index.thumbnail_path(rid).touch()
                index.keypoints_path(rid).touch()
            index.commit({source: {"id": "a", "fingerprint": fingerprint, "kind": "pdf", "entries": len(ids)}})

    version("v1", ["a", "b"])
    version("v2", ["b", "c"])
    assert sorted(f.name for f in index.media_dir.iterdir()) == ["b.jpg", "b.sift.npz", "c.jpg", "c.sift.npz"]
    index.close()


@pytest.mark.parametrize("store", STORES)
def test_replacing_or_removing_a_source_never_lists_the_media_folder(fast, tmp_path, store, monkeypatch):
    """Pruning costs what changed: at a million records, listing the folder and scanning every record took seconds
    after every commit (PRUNE-BENCH.md)."""
    books = [make_pdf(tmp_path / f"b{i}.pdf", 2, "v0") for i in range(3)]
    index = open_index(fast, store)
    Indexer(index, show_progress=False).add(books)
    stale = pages(index, books[0])
    full_scans, listings = [], []
    scan, iterdir = index.raw_store.scan, Path.iterdir

    def counted_scan(filters=None):
        full_scans.extend([] if filters else [1])
        return scan(filters)

    def counted_iterdir(path):
        listings.extend([path] if path == index.media_dir else [])
        return iterdir(path)

    monkeypatch.setattr(index.raw_store, "scan", counted_scan)
    monkeypatch.setattr(Path, "iterdir", counted_iterdir)

    make_pdf(books[0], 2, "v1")
    report = Indexer(index, show_progress=False).add(books)
    assert [s.status for s in report.sources] == ["indexed", "unchanged", "unchanged"]
    before_removal = len(full_scans)
    assert before_removal == 0, "counts per fingerprint come from FAISS's field codes or Qdrant's facets"
    index.remove_source(str(books[1]))
    assert not listings, "no commit lists the media folder"
    assert len(full_scans) == before_removal, "a removal reads only the removed version's records"
    monkeypatch.undo()
    assert not stale & media_ids(index) and media_ids(index) == pages(index) and len(pages(index)) == 4
    index.close()


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("next_command", ["index", "remove"])
def test_a_killed_run_leaves_files_that_the_next_command_sweeps(fast, tmp_path, store, next_command, monkeypatch):
    book = make_pdf(tmp_path / "book.pdf", 3, "v0")
    first = book.read_bytes()
    index = open_index(fast, store)
    Indexer(index, show_progress=False).add([book])
    committed = pages(index)

    make_pdf(book, 3, "v1")
    fail_at(monkeypatch, "store commit", Killed())
    with pytest.raises(Killed):
        Indexer(index, show_progress=False).add([book])
    monkeypatch.undo()
    index.close()
    reopened = open_index(fast, store)
    assert pages(reopened) == committed and committed < media_ids(reopened), "v1's thumbnails were written"
    assert (reopened.path / MEDIA_PENDING).exists()

    if next_command == "index":
        book.write_bytes(first)  # back to the committed version: nothing to index, the leftovers still go
        assert Indexer(reopened, show_progress=False).add([book]).sources[0].status == "unchanged"
    else:
        with pytest.raises(UnknownSourceError):  # even a removal that fails
            reopened.remove_source("no-such-book.pdf")
    assert media_ids(reopened) == committed and not (reopened.path / MEDIA_PENDING).exists()
    reopened.close()


@pytest.mark.parametrize("store", STORES)
def test_a_source_that_fails_after_writing_thumbnails_leaves_none(fast, tmp_path, store, monkeypatch):
    book = make_pdf(tmp_path / "book.pdf", 3, "v0")
    index = open_index(fast, store)
    Indexer(index, show_progress=False).add([book])
    committed = pages(index)
    make_pdf(book, 3, "v1")
    fail_at(monkeypatch, "store commit", OSError(errno.ENOSPC, "No space left on device"))
    assert Indexer(index, show_progress=False).add([book]).sources[0].status == "failed"
    monkeypatch.undo()
    assert pages(index) == committed == media_ids(index)
    assert not (index.path / MEDIA_PENDING).exists()
    index.close()
