"""POST /jobs does its file work off the event loop: saving an upload (each write), deleting what it leaves behind (an
unpacked zip, an upload over the limit) and submitting its job (which writes the job's record) run in worker threads,
so an upload of 200 MB does not hold up every other request while it is written. Hashing encoder."""

from __future__ import annotations

import io
import pathlib
import shutil

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.jobs import Job
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import on_event_loop
from tests.servers import job_ended
from tests.uploads import api_settings, upload, zipped


class RecordedWrites:
    """A file opened for writing whose writes are recorded in ``steps``."""

    def __init__(self, handle, steps: list[tuple[str, bool]]):
        self.handle, self.steps = handle, steps

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def write(self, data):
        self.steps.append(("write", on_event_loop()))
        return self.handle.write(data)


@pytest.fixture
def steps(tmp_path, monkeypatch) -> list[tuple[str, bool]]:
    """The file work of uploads under ``tmp_path``, as (its step, whether it ran on the event loop): opening a file for
    writing, each write, unlinking a file, removing a folder, submitting a job."""
    recorded: list[tuple[str, bool]] = []
    opened, unlink, rmtree, submit = pathlib.Path.open, pathlib.Path.unlink, shutil.rmtree, Jobs.submit

    def under_uploads(path) -> bool:
        return "uploads" in pathlib.Path(path).relative_to(tmp_path).parts if path.is_relative_to(tmp_path) else False

    def recorded_open(path, mode="r", *args, **kwargs):
        handle = opened(path, mode, *args, **kwargs)
        if "w" not in mode or not under_uploads(path):
            return handle
        recorded.append(("open", on_event_loop()))
        return RecordedWrites(handle, recorded)

    def recorded_step(step: str, work):
        def run(path, *args, **kwargs):
            if under_uploads(pathlib.Path(path)):
                recorded.append((step, on_event_loop()))
            return work(path, *args, **kwargs)

        return run

    def recorded_submit(jobs, *args, **kwargs):
        recorded.append(("submit", on_event_loop()))
        return submit(jobs, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", recorded_open)
    monkeypatch.setattr(pathlib.Path, "unlink", recorded_step("unlink", unlink))
    monkeypatch.setattr(shutil, "rmtree", recorded_step("rmtree", rmtree))
    monkeypatch.setattr(Jobs, "submit", recorded_submit)
    return recorded


def png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((32, 32), 40).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "code", "expected"),
    [
        ("book.pdf", lambda root: make_pdf(root / "book.pdf", 2, "osteoid").read_bytes(), 202, {"open", "write"}),
        ("cases.zip", lambda _: zipped(("c/labels.csv", b"image,case\na.png,C-1\n"), ("c/a.png", png())), 202, set()),
        ("big.pdf", lambda _: b"%PDF-1.7\n" + bytes(1 << 20), 413, {"write", "unlink", "rmtree"}),
    ],
    ids=["a pdf, submitted", "a zip, unpacked and deleted", "a pdf over the limit, deleted with its folder"],
)
def test_an_upload_is_written_deleted_and_submitted_off_the_event_loop(tmp_path, steps, name, data, code, expected):
    with TestClient(create_app(api_settings(tmp_path))) as client:
        answer = upload(client, name, data(tmp_path))
        assert answer.status_code == code, answer.text
        if code == 202:
            job_ended(client, answer.json()["id"])
            expected |= {"submit"} | ({"unlink"} if name.endswith(".zip") else set())
    assert expected <= {step for step, _ in steps}, steps
    assert [step for step, on_loop in steps if on_loop] == [], "file work on the event loop holds up every request"


def test_old_jobs_are_forgotten_while_another_upload_submits_its_job(fast, monkeypatch):
    """Uploads submit their jobs from worker threads now, so one may be added while another's submission (or a
    listing) looks through the jobs for those to forget: the look goes through a copy, never raising "dictionary
    changed size during iteration". The other thread's submission is played at the first job looked at."""
    engine = Engine(fast)
    jobs = Jobs.around(engine)
    old = Job("old", "old.pdf", [], status="done", ended=0.0)
    jobs.by_id = {old.id: old, "kept": Job("kept", "kept.pdf", [])}
    expired = Job.expired

    def submitted_meanwhile(job: Job, now: float) -> bool:
        jobs.by_id.setdefault("new", Job("new", "new.pdf", []))
        return expired(job, now)

    monkeypatch.setattr(Job, "expired", submitted_meanwhile)
    try:
        jobs.forget_old_jobs()
    finally:
        engine.close()
    assert set(jobs.by_id) == {"kept", "new"}


def test_an_old_record_another_upload_thread_deleted_meanwhile_is_no_failure(tmp_path, monkeypatch, caplog):
    """Uploads submit from worker threads now, each forgetting old records: one's ``stat`` of a record the other had
    just deleted stopped the loop with a warning that old records were not deleted."""
    import os

    from pathatlas.ui.api.jobs import JobRecords

    records = JobRecords(tmp_path / "jobs", tmp_path / "index")
    records.folder.mkdir(parents=True)
    for name in ("a", "b"):
        (records.folder / f"{name}.json").write_text("{}")
        os.utime(records.folder / f"{name}.json", (0, 0))
    stat = pathlib.Path.stat

    def deleted_meanwhile(path, *args, **kwargs):
        if path.name == "a.json":
            path.unlink()  # the other thread was first
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", deleted_meanwhile)
    records.forget_old()
    monkeypatch.undo()
    assert not list(records.folder.glob("*.json")) and "not deleted" not in caplog.text
