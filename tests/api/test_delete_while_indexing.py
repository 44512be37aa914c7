"""A removal (DELETE /sources/{id}) sent while an index job of the service writes the index is answered at once, 409
naming the job, instead of holding a server thread for the job's minutes; one sent while a short write of the service
(another removal) holds the index waits for it, as before. Hashing encoder."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pathatlas.indexer import pipeline
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.deps import JOB_RETRY_SECONDS
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import AUTH, book_service, indexed, sources, upload

AT_ONCE = 1.0
"""Seconds a refused removal may take."""


@pytest.fixture
def client(tmp_path):
    with book_service(tmp_path, "osteoid") as served:
        yield served


@pytest.fixture
def held_encoder(monkeypatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Each batch the indexer encodes waits, once started, until the second event is set: (encoding, go). Set at the
    end, so a test failing meanwhile does not leave a job waiting."""
    encoding, go = threading.Event(), threading.Event()
    encode = pipeline.Indexer.encode

    def held(indexer, entries, earlier_vectors=None):
        encoding.set()
        assert go.wait(30)
        return encode(indexer, entries, earlier_vectors)

    monkeypatch.setattr(pipeline.Indexer, "encode", held)
    yield encoding, go
    go.set()


def test_a_removal_sent_while_a_job_indexes_is_refused_at_once_naming_the_job(client, tmp_path, held_encoder):
    encoding, go = held_encoder
    book = sources(client)["book.pdf"]
    job_id = upload(client, "atlas.pdf", make_pdf(tmp_path / "atlas.pdf", 3, "haversian").read_bytes()).json()["id"]
    assert encoding.wait(30), "the job writes"
    job = client.app.state.jobs.by_id[job_id]
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        removal = pool.submit(client.delete, f"/sources/{book}", headers=AUTH)
        try:
            refused = removal.result(AT_ONCE)
        finally:
            go.set()  # a removal that waits for the job gets its answer, and the pool its thread, once the job ends
    assert time.monotonic() - started < AT_ONCE
    assert (refused.status_code, refused.headers["Retry-After"]) == (409, str(JOB_RETRY_SECONDS)), refused.text
    detail = refused.json()["detail"]
    assert "\n" not in detail
    for said in (job_id, "atlas.pdf", f"{job.done}/{job.total} done", "try again", f"GET /jobs/{job_id}"):
        assert said in detail, detail
    assert job_ended(client, job_id)["status"] == "done"
    assert "book.pdf" in sources(client), "nothing was removed"
    assert client.delete(f"/sources/{book}", headers=AUTH).status_code == 200, "taken once the job ended"
    assert "book.pdf" not in sources(client)


def test_a_removal_sent_while_another_removal_writes_waits_for_it(client, tmp_path, monkeypatch):
    atlas = make_pdf(tmp_path / "atlas.pdf", 2, "haversian").read_bytes()
    assert indexed(client, "atlas.pdf", atlas)["status"] == "done"
    ids = sources(client)
    removing, go = threading.Event(), threading.Event()
    remove_source = Index.remove_source

    def held(index, key):
        if not removing.is_set():  # the first removal holds the write until the second is sent
            removing.set()
            assert go.wait(30)
        return remove_source(index, key)

    monkeypatch.setattr(Index, "remove_source", held)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.delete, f"/sources/{ids['book.pdf']}", headers=AUTH)
        assert removing.wait(30)
        second = pool.submit(client.delete, f"/sources/{ids['atlas.pdf']}", headers=AUTH)
        time.sleep(AT_ONCE)
        assert not second.done(), "it waits for the removal, which ends in moments"
        go.set()
        assert [first.result(30).status_code, second.result(30).status_code] == [200, 200]
    assert sources(client) == {}


def test_the_openapi_document_says_a_removal_is_refused_while_a_job_indexes(client):
    operation = client.app.openapi()["paths"]["/sources/{source_id}"]["delete"]
    busy = operation["responses"]["409"]
    assert "GET /jobs/{id}" in busy["description"] and "Retry-After" in busy["headers"], busy
    assert "index job" in operation["description"]
