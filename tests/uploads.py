"""What the REST guard tests share: a token, settings with the hashing encoder and a 1 MB upload cap, zips built in
memory, and an upload through a test client."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pathatlas.settings import Settings
from pathatlas.ui.api.jobs import claimed
from tests.helpers import hashing_settings
from tests.servers import job_ended

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def api_settings(root: Path, **extra) -> Settings:
    """Home and index under ``root``, the hashing encoder, uploads up to 1 MB; ``extra`` adds or overrides."""
    return hashing_settings(root, **{"max_upload_mb": 1, **extra})


@contextmanager
def book_service(root: Path, words: str, **extra) -> Iterator:
    """A service (a TestClient) on a two-page book of ``words`` indexed under ``root`` (``extra``: settings)."""
    from fastapi.testclient import TestClient

    from pathatlas.ui.api.app import create_app
    from pathatlas.ui.bench_crash import make_pdf
    from tests.helpers import index_new

    settings = api_settings(root, **extra)
    index_new(settings, make_pdf(root / "book.pdf", 2, words))
    with TestClient(create_app(settings)) as served:
        yield served


def zipped(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    """A deflated zip of (name or ZipInfo, data) members, in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def upload(client, name: str, data: bytes, headers=AUTH):
    """POST one file to ``/jobs`` (with the token unless ``headers`` say otherwise)."""
    return client.post("/jobs", files={"file": (name, data)}, headers=headers)


def indexed(client, name: str, data: bytes) -> dict:
    """Upload one file as a job and wait for its end, and for its upload's claim to go: a job's end is published before
    its claim is released, and an upload of a name whose earlier upload is still claimed is indexed as any
    (``namesake_in_flight``), never answered "unchanged"."""
    response = upload(client, name, data)
    assert response.status_code == 202, response.text
    ended = job_ended(client, response.json()["id"])
    deadline = time.monotonic() + 30
    while any(claimed(folder) for folder in client.app.state.jobs.uploads.path.iterdir()):
        assert time.monotonic() < deadline, "an upload stays claimed"
        time.sleep(0.01)
    return ended


def sources(client) -> dict[str, str]:
    """The indexed sources' ids by source (GET /sources)."""
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def held_upload(client, folder: Path, monkeypatch) -> tuple[str, threading.Event]:
    """A PDF uploaded as a job that stays running (its indexing replaced by a wait) until the returned event is set,
    then ends cancelled if a cancel was taken, else done: (its id, the event)."""
    from pathatlas.ui.bench_crash import make_pdf

    started, go = threading.Event(), threading.Event()

    def held(job):
        job.status = "running"
        started.set()
        go.wait(30)
        return ("cancelled", None) if job.cancel_requested else ("done", None)

    monkeypatch.setattr(client.app.state.jobs, "_index_job", held)
    job_id = upload(client, "atlas.pdf", make_pdf(folder / "atlas.pdf", 2, "c").read_bytes()).json()["id"]
    assert started.wait(30)
    return job_id, go


def counted_body(head: bytes, tail: bytes, count: int, read: list[int]) -> Iterator[bytes]:
    """A streamed request body: ``head``, ``count`` chunks of 256 KB, each counted in ``read`` as it is sent, then
    ``tail``; how far a refusal let it be read."""
    yield head
    for _ in range(count):
        read.append(1)
        yield b"x" * (256 << 10)
    yield tail
