"""An upload answered "already indexed, unchanged" at once must be so: a removal of that source (DELETE /sources)
running meanwhile left nothing indexed while the client was told it was. The look and the answer take the index's
write lock; while a write holds it, the upload is indexed as any, after it. Hashing encoder."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pathatlas.retrieval.index import Index
from pathatlas.ui.api import duplicates
from pathatlas.ui.api.indexing import UNCHANGED, Jobs
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import AUTH, book_service, indexed, sources, upload


@pytest.fixture
def client(tmp_path, atlas):
    """A service on an index of one two-page book, and atlas.pdf uploaded to it."""
    with book_service(tmp_path, "osteoid") as served:
        assert indexed(served, "atlas.pdf", atlas)["status"] == "done"
        yield served


@pytest.fixture
def atlas(tmp_path) -> bytes:
    """The bytes of atlas.pdf (each made anew differs: it holds the time it was made)."""
    return make_pdf(tmp_path / "atlas.pdf", 2, "haversian").read_bytes()


def held_removals(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Each source removal waits, once started, until the second event is set: (started, go)."""
    started, go = threading.Event(), threading.Event()
    remove_source = Index.remove_source

    def held(self, key):
        started.set()
        assert go.wait(30)
        return remove_source(self, key)

    monkeypatch.setattr(Index, "remove_source", held)
    return started, go


def test_the_same_pdf_sent_while_its_source_is_removed_is_indexed_after_the_removal(client, atlas, monkeypatch):
    started, go = held_removals(monkeypatch)
    with ThreadPoolExecutor(1) as pool:
        removal = pool.submit(client.delete, f"/sources/{sources(client)['atlas.pdf']}", headers=AUTH)
        assert started.wait(30), "the removal runs"
        again = upload(client, "atlas.pdf", atlas)
        go.set()
        assert removal.result(30).status_code == 200
    assert again.status_code == 202, again.text
    job = job_ended(client, again.json()["id"])
    assert job["status"] == "done" and not any(UNCHANGED in note for note in job["notes"]), job
    assert "atlas.pdf" in sources(client), "indexed, as its job says"


def test_no_write_comes_between_the_look_at_an_unchanged_upload_and_its_answer(client, atlas, monkeypatch):
    lock = client.app.state.jobs.writer.lock
    held: list[str] = []
    unchanged_source, unchanged = duplicates.unchanged_source, Jobs.unchanged

    def looked(*args):
        held.append(f"look {lock.locked()}")
        return unchanged_source(*args)

    def answered(self, *args):
        held.append(f"answer {lock.locked()}")
        return unchanged(self, *args)

    monkeypatch.setattr(duplicates, "unchanged_source", looked)
    monkeypatch.setattr(Jobs, "unchanged", answered)
    job = upload(client, "atlas.pdf", atlas).json()
    assert job["status"] == "done" and UNCHANGED in job["notes"][0], job
    assert held == ["look True", "answer True"], "under the write lock that removals and jobs take"
    assert not lock.locked(), "released"
