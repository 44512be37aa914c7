"""A service stopped while an index job encodes (its lifespan's end: uvicorn on SIGTERM) stops the job at its next batch
and waits for its thread: none is left in a model's native code for the process's exit to tear down under it
("terminate called without an active exception"). The upload is indexed whole or not at all, so what the job had
committed of it is rolled back, and its record reads "interrupted", as after a kill. Hashing encoder."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from pathatlas.indexer import pipeline
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.uploads import api_settings, upload, zipped

ENCODE_SECONDS = 0.3


def test_a_job_encoding_as_the_service_stops_ends_with_it_and_the_index_keeps_its_last_commit(tmp_path, monkeypatch):
    settings = api_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "book.pdf", 2, "kept"))
    with Index.open(settings.index_dir, settings) as index:
        committed = index.manifest
    encoding = threading.Event()
    encode = pipeline.Indexer.encode

    def slow(indexer, batch, earlier):
        encoding.set()
        time.sleep(ENCODE_SECONDS)
        return encode(indexer, batch, earlier)

    monkeypatch.setattr(pipeline.Indexer, "encode", slow)
    monkeypatch.setattr(pipeline, "ENTRY_BATCH", 1)  # one entry a batch: a stop is seen page by page
    pdfs = [make_pdf(tmp_path / name, 6, name).read_bytes() for name in ("first.pdf", "second.pdf")]
    with TestClient(create_app(settings)) as client:
        job_id = upload(client, "two.zip", zipped(("first.pdf", pdfs[0]), ("second.pdf", pdfs[1]))).json()["id"]
        job = client.app.state.jobs.by_id[job_id]
        deadline = time.monotonic() + 60
        while not any(0 < done == total for done, total in list(job.units.values())):  # one source committed
            assert time.monotonic() < deadline and job.running, job
            time.sleep(0.02)
        encoding.clear()
        assert encoding.wait(30), "the other source is encoded"
    left = [thread.name for thread in threading.enumerate() if thread.name == f"index-{job_id}"]
    assert left == [], "the stop waited for the job's thread"
    with Index.open(settings.index_dir, settings) as index:
        assert index.manifest == committed, "the upload's committed source was rolled back, the book kept as it was"
    recorded = client.app.state.jobs.records.load(job_id)
    assert (recorded.status, recorded.done < recorded.total) == ("interrupted", True), vars(recorded)
    assert not job.upload.exists(), "nothing of the upload is left to roll back at the next start"
