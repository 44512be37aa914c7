"""Index jobs answer after a restart: each job's record (``<home>/jobs/<id>.json``) says how it ended, or that the
server stopped before it did. Hashing encoder."""

from __future__ import annotations

import json
import os
import time

from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import INTERRUPTED, Job, JobRecords
from pathatlas.ui.api.upload_folder import claim_upload
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, upload


def test_a_restarted_service_says_how_an_earlier_job_ended(tmp_path):
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        job = upload(client, "kept.pdf", make_pdf(tmp_path / "kept.pdf", 2, "k").read_bytes()).json()
        ended = job_ended(client, job["id"])
        failed = job_ended(client, upload(client, "broken.pdf", b"%PDF-1.7 not really").json()["id"])
    with TestClient(create_app(settings)) as client:  # a new process would start alike
        assert client.get(f"/jobs/{job['id']}").json() == ended and ended["status"] == "done"
        again = client.get(f"/jobs/{failed['id']}").json()
        assert again == failed and again["status"] == "failed" and "broken.pdf" in again["error"]
        ended = client.delete(f"/jobs/{job['id']}", headers=AUTH)  # nothing to cancel
        assert ended.status_code == 409 and ended.json()["detail"].endswith("already ended (done): nothing to cancel")


def recorded_running(settings, claim: bool) -> Job:
    """A job record an earlier process left saying the job runs, its upload folder claimed (``job.claim`` holds it)
    or not."""
    folder = settings.home / "uploads" / "cut-short"
    job = Job("0123456789ab", "atlas.zip", [], status="running", done=3, total=10, upload=folder)
    job.claim = claim_upload(folder, settings.index_dir)
    if not claim:
        job.claim.release()
    JobRecords(settings.home / "jobs", settings.index_dir).save(job)
    return job


def test_a_job_a_restart_cut_short_is_interrupted(tmp_path):
    settings = api_settings(tmp_path)
    job = recorded_running(settings, claim=False)
    with TestClient(create_app(settings)) as client:
        answer = client.get(f"/jobs/{job.id}").json()
    assert answer["status"] == "interrupted" and answer["error"] == INTERRUPTED
    assert (answer["source"], answer["done"], answer["total"]) == ("atlas.zip", 3, 10)


def test_a_job_another_process_still_runs_is_running_and_not_cancelled_here(tmp_path):
    settings = api_settings(tmp_path, api_token="t0ken")
    job = recorded_running(settings, claim=True)
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/jobs/{job.id}").json()["status"] == "running"
        refused = client.delete(f"/jobs/{job.id}", headers=AUTH)
    assert refused.status_code == 409 and "another server process" in refused.json()["detail"]


def test_records_are_read_by_their_own_index_and_by_job_name_only(tmp_path):
    settings = api_settings(tmp_path)
    job = recorded_running(settings, claim=False)
    other = JobRecords(settings.home / "jobs", tmp_path / "another-index")
    assert other.load(job.id) is None  # another index sharing the home
    records = JobRecords(settings.home / "jobs", settings.index_dir)
    assert records.load(job.id).status == "interrupted"
    # A record-shaped file outside the folder is never read for a name a client wrote.
    (settings.home / "secret.json").write_bytes((settings.home / "jobs" / f"{job.id}.json").read_bytes())
    assert records.load("../secret") is None and records.load("0123456789AB") is None
    # A record this version did not write (edited by hand) is no job, not a server error.
    record = settings.home / "jobs" / f"{job.id}.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "status": "paused"}))
    assert records.load(job.id) is None


def test_records_older_than_a_week_are_deleted_at_start(tmp_path):
    settings = api_settings(tmp_path)
    records = settings.home / "jobs"
    records.mkdir(parents=True)
    for name, age_days in (("aaaaaaaaaaaa", 8), ("bbbbbbbbbbbb", 6)):
        (records / f"{name}.json").write_text(json.dumps({"id": name}))
        stamp = time.time() - age_days * 86400
        os.utime(records / f"{name}.json", (stamp, stamp))
    with TestClient(create_app(settings)):
        pass
    assert [p.name for p in records.iterdir()] == ["bbbbbbbbbbbb.json"]
