"""A finished upload whose end could not be recorded (a full home) is kept across a restart: its stale "running"
record made the next start roll it back as a job a kill cut short, its upload folder deleted. Hashing encoder."""

from __future__ import annotations

import errno

import orjson
import pytest
from fastapi.testclient import TestClient

from pathatlas.retrieval import durable
from pathatlas.ui.api import jobs
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import api_settings, indexed


def home_full_for_ends(path, data: bytes) -> None:
    """``write_atomic`` as on a home that filled up while a job ran: a record saying the job ended is not written."""
    if orjson.loads(data)["status"] not in ("queued", "running"):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    durable.write_atomic(path, data)


@pytest.mark.parametrize("space_back_before_stop", [False, True])
def test_a_finished_upload_whose_end_was_not_recorded_survives_a_restart(tmp_path, monkeypatch, space_back_before_stop):
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        monkeypatch.setattr(jobs, "write_atomic", home_full_for_ends)
        job = indexed(client, "book.pdf", make_pdf(tmp_path / "book.pdf", 2, "koilocytes").read_bytes())
        assert job["status"] == "done"
        (folder,) = client.app.state.jobs.uploads.path.iterdir()
        if space_back_before_stop:
            monkeypatch.undo()
    with TestClient(create_app(settings)) as client:
        assert [source["source"] for source in client.get("/sources").json()] == ["book.pdf"]
        answer = client.get(f"/jobs/{job['id']}")
    assert folder.is_dir()
    if space_back_before_stop:  # its end, saved again at the stop
        assert answer.json()["status"] == "done"
    else:  # its stale record deleted: nothing to read as interrupted
        assert answer.status_code == 404
