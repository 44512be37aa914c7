"""A moved PATHATLAS_HOME costs no upload: a start keeps every upload folder a source names, under whatever home it was
uploaded to, and says so once. An index folder deleted under a running service makes /ready 503 (one warning) until
it is back. Hashing encoder."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock

from pathatlas.retrieval.index import Index, IndexUnwritableError
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, upload


def uploaded_and_indexed(settings, pdf) -> None:
    """``pdf`` uploaded as thyroid.pdf to a service, and its job's thread ended (its record saved, its upload's claim
    released): the home may be moved then."""
    with TestClient(create_app(settings)) as client:
        sent = upload(client, "thyroid.pdf", pdf.read_bytes()).json()
        assert job_ended(client, sent["id"])["status"] == "done"
        for thread in threading.enumerate():
            if thread.name == f"index-{sent['id']}":
                thread.join()


def warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_a_moved_home_keeps_its_uploads_and_says_what_to_do(tmp_path, caplog):
    settings = api_settings(tmp_path)
    uploaded_and_indexed(settings, make_pdf(tmp_path / "sent.pdf", 2, "thyroid"))
    (uploaded,) = (settings.home / "uploads").glob("*/thyroid.pdf")
    moved = settings.model_copy(update={"home": settings.home.rename(tmp_path / "moved")})
    caplog.set_level(logging.INFO, logger="pathatlas")
    with TestClient(create_app(moved)) as client:
        (source,) = client.get("/sources").json()
    kept = moved.home / "uploads" / uploaded.parent.name / "thyroid.pdf"
    assert kept.read_bytes() == (tmp_path / "sent.pdf").read_bytes()
    (said,) = warnings(caplog)
    assert f"in {moved.home / 'uploads'} hold sources the index records under {settings.home / 'uploads'}" in said
    assert f"'ln -s {moved.home} {settings.home}'" in said and said.endswith(uploaded.parent.name)
    with TestClient(create_app(moved)) as client:  # removing its source removes its folder here, as in its own home
        assert client.delete(f"/sources/{source['id']}", headers=AUTH).status_code == 200
    assert not kept.parent.exists()


def test_a_home_linked_back_to_where_it_was_serves_its_uploads_without_a_warning(tmp_path, caplog):
    settings = api_settings(tmp_path)
    uploaded_and_indexed(settings, make_pdf(tmp_path / "sent.pdf", 2, "thyroid"))
    moved = settings.model_copy(update={"home": settings.home.rename(tmp_path / "moved")})
    settings.home.symlink_to(moved.home)
    caplog.set_level(logging.INFO, logger="pathatlas")
    with TestClient(create_app(moved)) as client:
        hit = client.post("/search", json={"text": "thyroid", "k": 1}).json()["hits"][0]
        assert client.get(f"/records/{hit['id']}/pdf").status_code == 200
    assert warnings(caplog) == []


@pytest.mark.parametrize(
    ("stop", "level"),
    [("another writer", logging.INFO), ("a read-only index", logging.WARNING)],
)
def test_a_sweep_another_writer_defers_is_info_one_a_read_only_index_stops_a_warning(
    tmp_path, monkeypatch, caplog, stop, level
):
    settings = api_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "book.pdf", 1, "b"))
    (settings.home / "uploads").mkdir(parents=True)
    if stop == "a read-only index":

        def read_only(index):
            raise IndexUnwritableError(f"index {index.path} is read-only (Read-only file system)")

        monkeypatch.setattr(Index, "_try_write_lock", read_only)
    caplog.set_level(logging.INFO, logger="pathatlas")
    held = FileLock(settings.index_dir / "write.lock") if stop == "another writer" else nullcontext()
    with held, TestClient(create_app(settings)):
        pass
    (said,) = [r for r in caplog.records if r.getMessage().startswith("uploads of interrupted jobs not rolled back")]
    assert said.levelno == level


def ready_within(client, expected: int, seconds: float = 10) -> dict:
    deadline = time.monotonic() + seconds
    while (answer := client.get("/ready")).status_code != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer.status_code == expected, answer.json()
    return answer.json()


def test_a_deleted_index_is_not_ready_and_said_once_until_it_is_back(tmp_path, caplog):
    settings = api_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "book.pdf", 2, "thyroid"))
    copy = shutil.copytree(settings.index_dir, tmp_path / "copy")
    caplog.set_level(logging.INFO, logger="pathatlas")
    with TestClient(create_app(settings)) as client:
        ready_within(client, 200)
        shutil.rmtree(settings.index_dir)
        answer = client.get("/ready")
        assert answer.status_code == 503
        assert answer.json()["problem"].startswith("index index is gone from disk")
        health = client.get("/health").json()
        assert (health["status"], health["problem"]) == ("failing", answer.json()["problem"])
        time.sleep(2.5)  # the watcher looks every second: it says so once
        assert warnings(caplog) == [
            f"index {settings.index_dir} is gone from disk: /ready answers 503 until it is back"
        ]
        shutil.copytree(copy, settings.index_dir)
        assert ready_within(client, 200)["problem"] is None
        time.sleep(1.5)
        assert client.post("/search", json={"text": "thyroid", "k": 1}).json()["hits"]
    assert len(warnings(caplog)) == 1
    assert any(r.getMessage() == f"index {settings.index_dir} is back on disk: served again" for r in caplog.records)
