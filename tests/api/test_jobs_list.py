"""``GET /jobs``: a client that lost a job's id finds its upload among this process's jobs and the records earlier
processes left, newest first, each as ``GET /jobs/{id}`` answers it. Hashing encoder; index jobs held by a fake where
their indexing is not the point."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import get_args

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import STATUSES, Job, JobRecords
from pathatlas.ui.api.schemas import MOST_JOBS_LISTED, JobStatus
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import api_settings, held_upload, upload


def test_jobs_of_this_process_and_of_earlier_ones_are_listed_newest_first(tmp_path, monkeypatch):
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        pdf = make_pdf(tmp_path / "kept.pdf", 2, "k").read_bytes()
        done = job_ended(client, upload(client, "kept.pdf", pdf).json()["id"])
        failed = job_ended(client, upload(client, "broken.pdf", b"%PDF-1.7 not really").json()["id"])
    with TestClient(create_app(settings)) as client:  # a restart: the two are known by their records only
        running, go = held_upload(client, tmp_path, monkeypatch)
        listed = client.get("/jobs").json()
        assert [job["id"] for job in listed] == [running, failed["id"], done["id"]]
        assert listed == [client.get(f"/jobs/{job['id']}").json() for job in listed]
        assert listed[0]["status"] == "running" and listed[1:] == [failed, done]
        go.set()
        job_ended(client, running)


def test_the_listing_is_filtered_by_status_and_limited(tmp_path):
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        ids = [job_ended(client, upload(client, f"broken{n}.pdf", b"%PDF-1.7 no").json()["id"])["id"] for n in range(3)]
        assert [job["id"] for job in client.get("/jobs", params={"limit": 2}).json()] == ids[:0:-1]
        assert client.get("/jobs", params={"status": "failed"}).json() == client.get("/jobs").json()
        assert client.get("/jobs", params={"status": "done"}).json() == []
        either = client.get("/jobs", params=[("status", "failed"), ("status", "done")]).json()  # not the last alone
        assert [job["id"] for job in either] == ids[::-1]
        for bad in ({"status": "paused"}, {"limit": 0}, {"limit": MOST_JOBS_LISTED + 1}, {"stauts": "failed"}):
            refused = client.get("/jobs", params=bad)
            assert refused.status_code == 422, bad
            assert refused.json()["detail"][0]["loc"][:2] == ["query", next(iter(bad))]


def test_the_status_filter_takes_every_status_a_job_reads():
    assert set(get_args(JobStatus)) == {*STATUSES, "interrupted"}


def test_only_this_index_s_well_formed_records_are_listed_and_those_without_a_time_come_last(tmp_path):
    settings = api_settings(tmp_path)
    folder = settings.home / "jobs"
    ours = JobRecords(folder, settings.index_dir)
    for n in range(1, 5):
        ours.save(Job(f"aaaaaaaaaaa{n}", "book.pdf", [], status="done", submitted=100.0))
    for job_id, age_s in (("aaaaaaaaaaa2", 50), ("aaaaaaaaaaa3", 20)):  # written before the time was kept
        record = folder / f"{job_id}.json"
        record.write_text(json.dumps({k: v for k, v in json.loads(record.read_text()).items() if k != "submitted"}))
        os.utime(record, (time.time() - age_s,) * 2)
    edited = folder / "aaaaaaaaaaa4.json"  # by hand, into a count that is no number: no job, not a server error
    edited.write_text(json.dumps({**json.loads(edited.read_text()), "done": "two"}))
    JobRecords(folder, tmp_path / "another-index").save(Job("bbbbbbbbbbbb", "theirs.pdf", [], status="done"))
    (folder / "not-a-job.json").write_text("{}")
    with TestClient(create_app(settings)) as client:
        listed = client.get("/jobs").json()
        assert client.get("/jobs/aaaaaaaaaaa4").status_code == 404
    assert [(job["id"], job["submitted"]) for job in listed] == [
        ("aaaaaaaaaaa1", "1970-01-01T00:01:40Z"),
        ("aaaaaaaaaaa3", None),
        ("aaaaaaaaaaa2", None),
    ]


@pytest.mark.parametrize(
    "edit",
    [{"status": "paused"}, {"source": None}, {"total": 2.5}, {"error": 404}, {"notes": "x"}, {"submitted": "today"}],
)
def test_a_record_edited_into_what_no_version_writes_is_no_job(tmp_path, edit):
    settings = api_settings(tmp_path)
    records = JobRecords(settings.home / "jobs", settings.index_dir)
    records.save(Job("aaaaaaaaaaaa", "book.pdf", [], status="done"))
    record = settings.home / "jobs" / "aaaaaaaaaaaa.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), **edit}))
    assert records.load("aaaaaaaaaaaa") is None and records.load_all() == []


def test_the_listing_is_read_without_the_token_off_the_event_loop(tmp_path, monkeypatch):
    """Reading a job needs no token (only index and delete do), so reading the list needs none either; every record
    is a file read, so it never runs on the event loop that serves searches."""
    settings = api_settings(tmp_path, api_token="t0ken")
    with TestClient(create_app(settings)) as client:
        jobs = client.app.state.jobs
        all_jobs = jobs.all_jobs
        on_loop = []

        def recorded():
            try:
                asyncio.get_running_loop()
                on_loop.append(True)
            except RuntimeError:  # a worker thread runs no loop
                on_loop.append(False)
            return all_jobs()

        monkeypatch.setattr(jobs, "all_jobs", recorded)
        assert client.get("/jobs").status_code == 200 and on_loop == [False]
        operation = client.get("/openapi.json").json()["paths"]["/jobs"]["get"]
    assert operation["operationId"] == "list_jobs"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["items"] == {"$ref": "#/components/schemas/JobOut"}
