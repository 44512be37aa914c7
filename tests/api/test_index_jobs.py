"""REST index jobs as an operator runs them: a zip of several case folders counted and its problems noted, uploads
over 1 MB on a machine without room, a service stopped during a job, and a job submitted while another process
writes the index. Hashing encoder."""

from __future__ import annotations

import errno
import io
import json
import logging
import threading
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock
from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.ui.api import indexing, jobs
from pathatlas.ui.api.app import create_app, no_room
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import api_settings, upload


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


def two_case_folders() -> bytes:
    """A zip of two case folders: "Winter" lists four images, one missing and one not an image, and holds one it does
    not list (the upload keeps it not, and says so); "Sommer" lists and holds two."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder, images in (("Winter", ("a", "b", "missing", "fake")), ("Sommer", ("c", "d"))):
            rows = [{"image": f"{name}.png", "case": f"{folder}-{name}", "diagnosis": "granuloma"} for name in images]
            archive.writestr(f"{folder}/cases.jsonl", "\n".join(map(json.dumps, rows)))
            for n, name in enumerate(images):
                if name != "missing":
                    archive.writestr(f"{folder}/{name}.png", b"not a png" if name == "fake" else png((40 * n, 90, 60)))
        archive.writestr("Winter/unlisted.png", png((200, 10, 10)))
    return buffer.getvalue()


def test_a_zip_of_several_case_folders_counts_all_of_them_and_notes_what_each_skipped(tmp_path):
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job = job_ended(client, upload(client, "kurs.zip", two_case_folders()).json()["id"])
        listed = {source["source"]: source["problems"] for source in client.get("/sources").json()}
    assert job["status"] == "done"
    assert (job["done"], job["total"]) == (4, 4), "the images read, over both folders (6 listed): a job ends complete"
    winter = [note for note in job["notes"] if note.startswith("Winter")]
    assert len(winter) == len(listed["Winter"]) == 2, job["notes"]
    for name in ("missing.png", "fake.png"):
        assert sum(name in note for note in winter) == 1, (name, job["notes"])
    left_out = [note for note in job["notes"] if note.startswith("1 image(s) left out")]
    assert len(left_out) == 1 and "Winter/unlisted.png" in left_out[0], "the image no row lists: not kept, and said"
    assert not any(str(tmp_path) in note for note in job["notes"]), "no server path"
    assert listed["Sommer"] == []


def test_an_upload_over_a_megabyte_on_a_machine_without_room_is_507_not_a_bad_body(tmp_path, monkeypatch, caplog):
    """Starlette spools a file part over 1 MB to TMPDIR before the route runs; here that write meets a full disk."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux) to fail a write with ENOSPC")
    monkeypatch.setattr("tempfile.TemporaryFile", lambda *args, **kwargs: open("/dev/full", "w+b"))  # noqa: SIM115
    caplog.set_level(logging.ERROR, logger="pathatlas")
    with TestClient(create_app(api_settings(tmp_path, max_upload_mb=3))) as client:
        refused = upload(client, "book.pdf", b"%PDF-1.7\n" + bytes(3 << 19))
    assert refused.status_code == 507
    assert refused.json()["detail"] == no_room(OSError(errno.ENOSPC, "No space left on device"))
    assert any("TMPDIR" in record.getMessage() for record in caplog.records), "the admin learns where it was written"


@pytest.fixture
def held_job(tmp_path, monkeypatch):
    """A service whose index job of a 5-page PDF holds after its second page until the test ends or the service stops:
    yields (the job's id, settings, a call that stops the service). The job is cancelled then, and its thread
    awaited."""
    reached, go = threading.Event(), threading.Event()

    class HeldIndexer(indexing.Indexer):
        def __init__(self, *args, on_progress, **kwargs):
            def progress(source: str, done: int, total: int) -> None:
                on_progress(source, done, total)
                if done == 2:
                    reached.set()
                    while not go.wait(0.05):  # a long step that looks for a stop, as the indexer's do
                        on_progress(source, done, total)

            super().__init__(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(indexing, "Indexer", HeldIndexer)
    monkeypatch.setattr(pipeline, "ENTRY_BATCH", 1)  # progress counts encoded batches: one entry each, page by page
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.0, raising=False)
    settings = api_settings(tmp_path)
    pdf = make_pdf(tmp_path / "atlas.pdf", 5, "held").read_bytes()
    with ExitStack() as service:
        client = service.enter_context(TestClient(create_app(settings)))
        job_id = upload(client, "atlas.pdf", pdf).json()["id"]
        job = client.app.state.jobs.by_id[job_id]
        assert reached.wait(30), "the job did not start"
        try:
            yield job_id, settings, service.close
        finally:
            job.cancel_requested = True
            go.set()
            for thread in threading.enumerate():
                if thread.name == f"index-{job_id}":
                    thread.join(30)


def recorded(settings, job_id: str) -> dict:
    return json.loads((settings.home / "jobs" / f"{job_id}.json").read_text())


def test_a_running_job_s_record_keeps_its_progress(held_job):
    """What a restart after a kill reads: the record of a job that ran, with how far it got."""
    job_id, settings, _ = held_job
    deadline = time.monotonic() + 10
    while (record := recorded(settings, job_id))["done"] != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (record["status"], record["done"], record["total"]) == ("running", 2, 5)


def test_a_service_stopped_during_a_job_logs_it_and_records_its_progress(held_job, caplog):
    job_id, settings, stop = held_job
    caplog.set_level(logging.WARNING, logger="pathatlas")
    stop()  # as a SIGTERM stops the service: uvicorn ends the lifespan while the job runs
    abandoned = [r.getMessage() for r in caplog.records if job_id in r.getMessage()]
    assert len(abandoned) == 1 and "abandoned at shutdown" in abandoned[0], abandoned
    assert "atlas.pdf" in abandoned[0] and "2/5" in abandoned[0]
    record = recorded(settings, job_id)
    assert (record["status"], record["done"], record["total"]) == ("running", 2, 5)


def test_a_job_is_refused_up_front_while_another_process_writes_the_index(tmp_path):
    """As ``flock INDEX/write.lock`` (README's backup recipe) or a second server's job holds it: 409 in the words a
    removal gets, and nothing of the upload kept; once the lock is free, the same upload is taken."""
    settings = api_settings(tmp_path)
    pdf = make_pdf(tmp_path / "atlas.pdf", 2, "busy").read_bytes()
    again = make_pdf(tmp_path / "again.pdf", 2, "busy again").read_bytes()
    with TestClient(create_app(settings)) as client:
        assert job_ended(client, upload(client, "atlas.pdf", pdf).json()["id"])["status"] == "done"
        source = client.get("/sources").json()[0]["id"]
        uploads = sorted((settings.home / "uploads").iterdir())
        with FileLock(settings.index_dir / "write.lock"):
            refused = upload(client, "again.pdf", again)
            removal = client.delete(f"/sources/{source}")
        assert refused.status_code == removal.status_code == 409
        assert refused.json()["detail"] == removal.json()["detail"]
        assert sorted((settings.home / "uploads").iterdir()) == uploads
        assert job_ended(client, upload(client, "again.pdf", again).json()["id"])["status"] == "done"


def test_a_job_submitted_while_this_service_writes_waits_its_turn(tmp_path):
    """This service's own writer (a job, a removal) holds the lock too: a new job queues behind it, never 409."""
    settings = api_settings(tmp_path)
    pdf = make_pdf(tmp_path / "atlas.pdf", 2, "queued").read_bytes()
    again = make_pdf(tmp_path / "again.pdf", 2, "queued again").read_bytes()
    with TestClient(create_app(settings)) as client:
        assert job_ended(client, upload(client, "atlas.pdf", pdf).json()["id"])["status"] == "done"
        writer = client.app.state.jobs.writer
        with writer.lock, FileLock(settings.index_dir / "write.lock"):  # as this process's writer holds them
            queued = upload(client, "again.pdf", again)
        assert queued.status_code == 202
        assert job_ended(client, queued.json()["id"])["status"] == "done"
