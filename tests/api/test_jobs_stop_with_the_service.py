"""A service stopped while an index job encodes (its lifespan's end: uvicorn on SIGTERM) stops the job at its next batch
and waits for its thread: none is left in a model's native code for the process's exit to tear down under it
("terminate called without an active exception"). The upload is indexed whole or not at all, so what the job had
committed of it is rolled back, and its record reads "interrupted", as after a kill. Hashing encoder."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import httpx
from fastapi.testclient import TestClient

from pathatlas.indexer import pipeline
from pathatlas.retrieval.index import Index
from pathatlas.ui.api import indexing
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import Job, JobRecords
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.uploads import AUTH, api_settings, upload, zipped

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


def test_a_stop_while_a_job_counts_its_sources_waits_for_the_count(tmp_path, monkeypatch):
    """The count (``_prepared``'s thread) in a step that looks for no stop (a PDF opened by MuPDF, a plug-in's
    ``size_hint``) as the service stops: the job ends after it, so it neither outlives the stop nor sees its upload
    deleted under it."""
    settings = api_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "book.pdf", 2, "kept"))
    counting, stopping, upload_there = threading.Event(), threading.Event(), []
    abandon = indexing.Jobs.abandon

    def stop(jobs):
        stopping.set()
        abandon(jobs)

    def slow_count(jobs, paths):
        counting.set()
        assert stopping.wait(30)
        time.sleep(0.5)  # a job that does not wait for it ends meanwhile, its upload deleted
        upload_there.append(all(path.exists() for path in paths))
        return {}

    monkeypatch.setattr(indexing.Jobs, "abandon", stop)
    monkeypatch.setattr(indexing.Jobs, "size_hints", slow_count)
    with TestClient(create_app(settings)) as client:
        job_id = upload(client, "a.pdf", make_pdf(tmp_path / "a.pdf", 2, "a").read_bytes()).json()["id"]
        assert counting.wait(30)
    left = [thread.name for thread in threading.enumerate() if thread.name.endswith(job_id)]
    assert left == [], "the stop waited for the count"
    assert upload_there == [True], "the upload was kept while it was counted"
    assert client.app.state.jobs.records.load(job_id).status == "interrupted"


def test_a_running_record_read_before_the_job_ended_is_not_written_after_its_end(tmp_path):
    """The stop (``abandon``, for a job still running after its wait) or the watcher (``keep_current``) saves a job as
    its thread publishes its end: the record says the end, not "running" (read as interrupted at the next start, the
    finished upload rolled back). The other save is held at the records' lock until the end is written."""
    records = JobRecords(tmp_path / "jobs", tmp_path / "index")
    job = Job("0123456789ab", "atlas.pdf", [], status="running")
    at_lock, ended = threading.Event(), threading.Event()

    class HeldLock:
        """The records' lock, where the thread named "stop" waits for the job's end to be saved."""

        def __init__(self):
            self.lock = threading.Lock()

        def __enter__(self):
            if threading.current_thread().name == "stop":
                at_lock.set()
                assert ended.wait(30)
            self.lock.acquire()

        def __exit__(self, *raised):
            self.lock.release()

    records._saving = HeldLock()
    stop = threading.Thread(target=records.save, args=(job,), name="stop")
    stop.start()
    assert at_lock.wait(30)
    job.status, job.ended = "done", time.time()
    records.save(job)
    ended.set()
    stop.join(30)
    assert records.load(job.id).status == "done"


def test_the_stop_waits_for_the_jobs_off_the_event_loop(tmp_path, monkeypatch, caplog):
    """The lifespan's end waits for the jobs' threads and the engine's in a worker thread: the event loop, which
    answers requests and stops the server, runs meanwhile. The job's batch here waits for a callback of the loop that
    runs once the stop lets the loop run; a stop that waited on the loop gave the job up after its wait."""
    settings = api_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "book.pdf", 2, "kept"))
    with Index.open(settings.index_dir, settings) as index:
        committed = index.manifest
    encoding, loop_ran = threading.Event(), threading.Event()
    encode = pipeline.Indexer.encode

    def waiting_for_the_loop(indexer, batch, earlier):
        encoding.set()
        loop_ran.wait(30)
        return encode(indexer, batch, earlier)

    monkeypatch.setattr(pipeline.Indexer, "encode", waiting_for_the_loop)
    monkeypatch.setattr(indexing, "CLOSE_WAIT", 2.0)  # a stop holding the loop gives the job up after 2 s
    app = create_app(settings)
    pdf = make_pdf(tmp_path / "a.pdf", 2, "a").read_bytes()

    async def serve_then_stop() -> str:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                job_id = (await client.post("/jobs", files={"file": ("a.pdf", pdf)}, headers=AUTH)).json()["id"]
            assert await asyncio.to_thread(encoding.wait, 30)
            asyncio.get_running_loop().call_soon(loop_ran.set)  # runs once the lifespan's end lets the loop run
        return job_id

    with caplog.at_level(logging.WARNING, logger=indexing.__name__):
        job_id = asyncio.run(serve_then_stop())
    assert [thread.name for thread in threading.enumerate() if thread.name == f"index-{job_id}"] == []
    abandoned = [record.getMessage() for record in caplog.records if job_id in record.getMessage()]
    assert len(abandoned) == 1 and abandoned[0].endswith("stopped, what it committed was rolled back"), abandoned
    with Index.open(settings.index_dir, settings) as index:
        assert index.manifest == committed
