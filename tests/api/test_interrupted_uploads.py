"""An upload is indexed whole or not at all, across a kill too: a restart rolls back what a job cut short had committed
from its upload. The killed run is simulated as it leaves the index, the upload folder and the job record. Hashing
encoder."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient
from filelock import FileLock

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import INTERRUPTED, Job, JobRecords, claimed
from pathatlas.ui.api.upload_folder import claim_upload
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.servers import job_ended
from tests.uploads import api_settings, upload


def killed_mid_upload(settings, name: str, claim: bool = False) -> Job:
    """What a server killed during an upload's job leaves: the job's record saying it runs, its upload folder (a zip
    unpacked into two books) with the first book committed to the index and the second not. ``claim``: the folder is
    still claimed (``job.claim`` holds it), as by another server process whose job runs."""
    folder = settings.home / "uploads" / name
    claim_held = claim_upload(folder, settings.index_dir)
    if not claim:
        claim_held.release()
    books = folder / "atlas"
    committed = make_pdf(books / f"{name}-first.pdf", 2, name)
    make_pdf(books / f"{name}-second.pdf", 2, f"{name} two")
    index_new(settings, committed)
    job = Job(name.ljust(12, "0"), "atlas.zip", [], status="running", done=0, total=8, upload=folder, claim=claim_held)
    JobRecords(settings.home / "jobs", settings.index_dir).save(job)
    return job


def listed(client) -> list[str]:
    return sorted(source["source"] for source in client.get("/sources").json())


def test_a_restart_rolls_back_what_a_killed_upload_job_had_committed(tmp_path):
    settings = api_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "kept.pdf", 2, "kept"))  # indexed in place: no upload's
    job = killed_mid_upload(settings, "aaaaaa")
    with TestClient(create_app(settings)) as client:
        assert listed(client) == ["kept.pdf"]
        answer = client.get(f"/jobs/{job.id}").json()
    assert not job.upload.exists()
    assert (answer["status"], answer["error"]) == ("interrupted", INTERRUPTED)
    assert answer["notes"] == [
        "rolled back at restart: the server stopped before this job ended, so what it had indexed of the upload was "
        "removed (aaaaaa-first.pdf); upload it again"
    ]
    with TestClient(create_app(settings)) as client:  # nothing more to roll back: the record stays as it is
        assert client.get(f"/jobs/{job.id}").json() == answer


def test_a_job_another_server_still_runs_and_an_ended_upload_are_left_alone(tmp_path):
    settings = api_settings(tmp_path)
    running = killed_mid_upload(settings, "bbbbbb", claim=True)
    edited = Job("dddddd000000", "atlas.zip", [], status="running", upload=tmp_path)  # not an upload's folder
    JobRecords(settings.home / "jobs", settings.index_dir).save(edited)
    with TestClient(create_app(settings)) as client:
        kept = upload(client, "kept.pdf", make_pdf(tmp_path / "k.pdf", 2, "k").read_bytes())
        assert job_ended(client, kept.json()["id"])["status"] == "done"
    with TestClient(create_app(settings)) as client:
        assert listed(client) == ["bbbbbb-first.pdf", "kept.pdf"]
        assert client.get(f"/jobs/{running.id}").json()["status"] == "running"
    assert running.upload.is_dir()


def test_an_index_another_writer_holds_is_rolled_back_at_a_later_start(tmp_path, caplog):
    settings = api_settings(tmp_path)
    job = killed_mid_upload(settings, "cccccc")
    caplog.set_level(logging.INFO, logger="pathatlas")
    with FileLock(settings.index_dir / "write.lock"), TestClient(create_app(settings)) as client:
        assert listed(client) == ["cccccc-first.pdf"]
    assert job.upload.is_dir()
    assert any("not rolled back" in record.getMessage() for record in caplog.records), caplog.text
    with TestClient(create_app(settings)) as client:
        assert listed(client) == []
    assert not job.upload.exists()


def test_a_job_s_end_is_recorded_before_its_upload_is_released(tmp_path, monkeypatch):
    """A server starting meanwhile reads an unclaimed upload whose record says running as cut short by a kill, and
    rolls it back: the record must say the job ended first."""
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        records = client.app.state.jobs.records
        saves = []
        save = records.save

        def save_seeing_the_claim(job: Job) -> None:
            saves.append((job.status, claimed(job.upload)))
            save(job)

        monkeypatch.setattr(records, "save", save_seeing_the_claim)
        done = upload(client, "book.pdf", make_pdf(tmp_path / "book.pdf", 2, "b").read_bytes()).json()
        assert job_ended(client, done["id"])["status"] == "done"
    assert saves[-1] == ("done", True), saves
