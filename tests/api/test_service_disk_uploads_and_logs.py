"""What an ops engineer found running the REST service: a disk with no room for an upload, a moved source PDF,
uploads a crashed job left, zips full of what no source reads, /docs offline, and thin logs. Hashing encoder."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import pathlib
import re
import resource
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.upload_folder import claim_upload
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, upload, zipped

LIMIT_BYTES = 256 << 10
"""The file size limit a test sets (``ulimit -f``): uploads over it fail while they are written."""


@pytest.fixture
def root(tmp_path) -> pathlib.Path:
    return tmp_path


@pytest.fixture
def client(root):
    with TestClient(create_app(api_settings(root, api_token="t0ken", max_upload_mb=4))) as test_client:
        yield test_client


def leftovers(root: pathlib.Path) -> list[pathlib.Path]:
    uploads = root / "home" / "uploads"
    return sorted(uploads.iterdir()) if uploads.exists() else []


# -- 1. no room for an upload ----------------------------------------------------------------------------------------
@pytest.fixture
def file_size_limit():
    """Files this process writes stop at ``LIMIT_BYTES`` (EFBIG: Python ignores SIGXFSZ), as under ``ulimit -f``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, hard))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@pytest.mark.parametrize(
    "name, data",
    [
        ("big.pdf", b"%PDF-1.7\n" + os.urandom(2 * LIMIT_BYTES)),
        ("cases.zip", zipped(("c/a.png", bytes(2 * LIMIT_BYTES)))),  # small zipped, too big unpacked
    ],
    ids=["saving a pdf", "unpacking a zip"],
)
def test_an_upload_over_the_machines_file_size_limit_is_a_507_line_leaving_nothing(
    client, root, file_size_limit, name, data
):
    refused = upload(client, name, data)
    assert refused.status_code == 507, refused.text
    assert refused.json() == {"detail": "the server has no room to store this: File too large (EFBIG); tell its admin"}
    assert leftovers(root) == []


def test_a_full_disk_while_saving_is_a_507_line_leaving_nothing(client, root, monkeypatch):
    """A write's ENOSPC names no file (as the kernel gives it to ``write``)."""
    opened = pathlib.Path.open

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, _data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.handle.close()

    def full_under_uploads(path, mode="r", *args, **kwargs):
        handle = opened(path, mode, *args, **kwargs)
        return FullDisk(handle) if "w" in mode and "uploads" in path.parts else handle

    monkeypatch.setattr(pathlib.Path, "open", full_under_uploads)
    refused = upload(client, "book.pdf", b"%PDF-1.7\n" + bytes(1000))
    assert refused.status_code == 507, refused.text
    assert refused.json()["detail"].startswith("the server has no room to store this: No space left on device (ENOSPC)")
    assert leftovers(root) == []


# -- 2. a source PDF moved away --------------------------------------------------------------------------------------
def indexed_library(root: pathlib.Path) -> Settings:
    """A two-page PDF and a one-image case folder, indexed with the hashing encoder."""
    settings = api_settings(root, api_token="t0ken")
    cases = root / "library" / "cases"
    cases.mkdir(parents=True)
    Image.effect_noise((64, 64), 40).convert("RGB").save(cases / "a.png")
    (cases / "labels.csv").write_text("image,case,diagnosis\na.png,C-1,granuloma\n")
    index = Index.open(settings.index_dir, settings, create=True)
    report = Indexer(index, show_progress=False).add([make_pdf(root / "library" / "book.pdf", 2, "b"), cases])
    assert not report.failed, report.failed
    index.close()
    return settings


def record_of(client, kind: str) -> str:
    return client.post("/search", json={"text": "granuloma page", "filters": {"kind": kind}}).json()["hits"][0]["id"]


def test_the_pdf_of_a_source_moved_away_is_gone_with_410_and_no_pdf_source_stays_404(root):
    with TestClient(create_app(indexed_library(root))) as client:
        page, case = record_of(client, "page"), record_of(client, "case")
        assert client.get(f"/records/{page}/pdf").status_code == 200
        (root / "library" / "book.pdf").rename(root / "library" / "moved.pdf")
        for url in (f"/records/{page}/pdf", f"/media/pages/{page}"):
            gone = client.get(url)
            assert gone.status_code == 410, (url, gone.text)
        assert client.get(f"/records/{page}/pdf").json() == {"detail": "the source PDF is no longer on disk"}
        for record in (case, "0" * 32, "nope"):
            assert client.get(f"/records/{record}/pdf").status_code == 404, record


# -- 3. uploads a killed job left, and jobs a restart forgot -------------------------------------------------------
KILLED_MID_UPLOAD = """
import os, signal, sys
from pathlib import Path
from pathatlas.ui.api.upload_folder import claim_upload
folder = Path(sys.argv[1])
claim_upload(folder, Path(sys.argv[2]))
(folder / "big10.pdf").write_bytes(b"%PDF-1.7 half")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_restart_sweeps_this_indexs_unclaimed_upload_folders_no_source_uses(root):
    settings = api_settings(root, api_token="t0ken")
    with TestClient(create_app(settings)) as client:
        job = upload(client, "kept.pdf", make_pdf(root / "kept.pdf", 2, "k").read_bytes()).json()
        assert job_ended(client, job["id"])["status"] == "done"
    uploads = settings.home / "uploads"
    (kept,) = uploads.iterdir()
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_UPLOAD, uploads / "killed", settings.index_dir])
    assert killed.returncode == -signal.SIGKILL
    claimed = claim_upload(uploads / "claimed", settings.index_dir)  # a job of another server on this index
    claim_upload(uploads / "other-index", root / "other-index").release()  # another index sharing the home
    (uploads / "unmarked").mkdir()  # made before uploads were marked
    with TestClient(create_app(settings)):
        pass
    assert sorted(f.name for f in uploads.iterdir()) == sorted([kept.name, "claimed", "other-index", "unmarked"])
    claimed.release()
    with FileLock(settings.index_dir / "write.lock"), TestClient(create_app(settings)):  # another writer: no sweep
        assert (uploads / "claimed").is_dir()
    with TestClient(create_app(settings)) as client:
        assert not (uploads / "claimed").exists()
        assert client.get("/sources").json()[0]["source"] == "kept.pdf"


def test_a_job_nobody_ran_is_a_404_that_says_how_long_records_are_kept(client):
    kept = "no job 510220eb22c8 of this index (job records are kept for 7 days): "
    looked_up, cancelled = client.get("/jobs/510220eb22c8"), client.delete("/jobs/510220eb22c8", headers=AUTH)
    assert looked_up.status_code == cancelled.status_code == 404, (looked_up.text, cancelled.text)
    assert looked_up.json()["detail"] == (
        kept + "GET /jobs lists those kept; an older job's upload is in GET /sources if it was indexed"
    )
    assert cancelled.json()["detail"] == kept + "nothing to cancel; give the job id that POST /jobs answered"


# -- 4. zips keep what a source reads -----------------------------------------------------------------------------
def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def test_a_zip_keeps_only_what_sources_read_and_the_job_notes_the_rest(client, root):
    junk = [("c/zeros.bin", bytes(8 << 20)), ("c/notes.txt", b"x"), ("c/.DS_Store", b"x"), ("__MACOSX/c/._a.png", b"x")]
    members = [("c/labels.csv", b"image,case\na.png,C-1\n"), ("c/a.png", png_bytes()), *junk]
    job = upload(client, "bomb.zip", zipped(*members)).json()
    ended = job_ended(client, job["id"])
    assert ended["status"] == "done", ended
    assert ended["notes"][0] == (
        "4 zip member(s) left out, being no PDF, notes file (.md, .qmd, .markdown), case image or cases.jsonl or "
        "labels.csv: "
        "c/zeros.bin, c/notes.txt, c/.DS_Store, __MACOSX/c/._a.png"
    )
    (folder,) = leftovers(root)
    unpacked = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert unpacked == {"bomb/c/labels.csv", "bomb/c/a.png", ".index", ".claim"}
    assert client.get("/sources").json()[0]["kind"] == "cases"


# -- 5. /docs offline ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("root_path", ["", "/atlas"])
def test_docs_load_nothing_from_outside_the_service(root, root_path):
    with TestClient(create_app(api_settings(root)), root_path=root_path) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        assert not re.findall(r"https?://[^\s\"'<>]+", page.text), "a URL outside the service"
        assert client.get("/redoc").status_code == 404, "ReDoc loads from a CDN: not served"
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: '([^']+)'", page.text)
        assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css", "openapi.json"}
        for asset in assets:
            assert asset.startswith(f"{root_path}/"), asset
            assert client.get(asset).status_code == 200, asset  # as uvicorn passes it: the root path in front


# -- 6. logs an operator can read, and JSON routes that say the content type is wrong -----------------------------
def test_the_log_says_what_is_served_when_ready_the_root_path_and_each_removal(root, caplog):
    caplog.set_level(logging.INFO, logger="pathatlas")
    settings = indexed_library(root).model_copy(update={"cors_origins": ["http://localhost:8501"]})
    with TestClient(create_app(settings), root_path="/atlas") as client:
        deadline = time.monotonic() + 60
        while client.get("/atlas/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        book = next(s for s in client.get("/atlas/sources").json() if s["source"] == "book.pdf")
        assert client.delete(f"/atlas/sources/{book['id']}", headers=AUTH).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("pathatlas.ui.api")]
    assert lines[0] == (
        "serving index index (faiss, 5 records); writes need the bearer token; CORS origins: http://localhost:8501"
    ), lines
    assert any(re.fullmatch(r"ready in \d+\.\d s: models loaded", line) for line in lines), lines
    assert "requests come in under the root path /atlas" in lines
    assert f"source {root / 'library' / 'book.pdf'} removed: 4 records" in lines, lines


@pytest.mark.parametrize(
    "route, body, form, status, image_said",
    [
        ("/search", {"text": "page"}, {"k": "1"}, 200, "cannot search by image"),
        ("/ask", {"question": "Which page?"}, {}, 404, "nothing is indexed at index yet: add sources to it, then ask"),
    ],
)
def test_json_routes_refuse_another_content_type_with_415_and_multipart_routes_still_answer(
    client, route, body, form, status, image_said
):
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        refused = client.post(route, content=json.dumps(body), headers={"content-type": content_type})
        assert refused.status_code == 415, (content_type, refused.text)
        assert refused.json()["detail"].startswith("send the body as JSON with Content-Type: application/json")
    assert client.post(route, json=body).status_code == status  # read as JSON: a search, or "nothing is indexed"
    with_image = client.post(f"{route}/image", files={"image": ("a.png", png_bytes())}, data={**form, **body})
    assert with_image.json()["detail"].endswith(image_said), "the form was read, up to the encoder or the agent"
