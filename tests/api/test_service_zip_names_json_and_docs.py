"""Second review of the REST service's operations: a zip member named too long for the file system, JSON sent without
a Content-Type, a claim whose owner mark cannot be written, a start-up sweep an OS error stops, /docs serving only
what it loads (or missing), and the root path logged once. Hashing encoder."""

from __future__ import annotations

import errno
import json
import logging
import os
import pathlib
import sys

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock, Timeout

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api import upload_folder
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.upload_folder import CLAIM_FILE, OWNER_FILE, claim_upload
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import api_settings, upload, zipped


def leftovers(root: pathlib.Path) -> list[pathlib.Path]:
    uploads = root / "home" / "uploads"
    return sorted(uploads.iterdir()) if uploads.exists() else []


# -- 1. a member name the file system refuses ------------------------------------------------------------------------
def test_a_zip_member_named_too_long_for_the_file_system_is_that_members_400_line(tmp_path):
    name = "case/" + "肝" * 90 + ".jpg"  # 270 bytes in UTF-8: ENAMETOOLONG
    with TestClient(create_app(api_settings(tmp_path, api_token="t0ken"))) as client:
        listed = f"image,case\n{name[5:]},C-1\n".encode()
        refused = upload(client, "cases.zip", zipped(("case/labels.csv", listed), (name, b"x")))
    assert refused.status_code == 400, refused.text
    assert refused.json() == {"detail": f"zip member {name!r} cannot be unpacked: {os.strerror(errno.ENAMETOOLONG)}"}
    assert leftovers(tmp_path) == []


# -- 2. JSON without a Content-Type ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "route, body, status",
    [("/search", {"text": "page", "k": 1}, 200), ("/ask", {"question": "Which page?"}, 404)],  # 404: nothing indexed
)
def test_a_json_body_sent_without_a_content_type_is_read_as_json(tmp_path, route, body, status):
    """Read as JSON, each is answered as its route answers an empty index: a search with no hits, a question refused
    for want of evidence (the body read and validated first)."""
    with TestClient(create_app(api_settings(tmp_path))) as client:
        answered = client.post(route, content=json.dumps(body))  # as requests.post(url, data=json.dumps(body))
        assert "content-type" not in answered.request.headers
        assert answered.status_code == status, answered.text
        declared = client.post(route, content=json.dumps(body), headers={"content-type": "text/plain"})
        assert declared.status_code == 415, declared.text
        assert declared.json()["detail"] == (
            "send the body as JSON with Content-Type: application/json, not text/plain"
        )


# -- 3. a claim whose owner mark cannot be written -------------------------------------------------------------------
def test_a_claim_whose_owner_mark_cannot_be_written_is_released(tmp_path, monkeypatch):
    written = pathlib.Path.write_text

    def no_room_for_the_mark(path, *args, **kwargs):
        if path.name == OWNER_FILE:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return written(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", no_room_for_the_mark)
    folder = tmp_path / "uploads" / "ab12"
    with pytest.raises(OSError) as failed:
        claim_upload(folder, tmp_path / "index")
    again = FileLock(folder / CLAIM_FILE, thread_local=False)
    try:
        again.acquire(timeout=0)  # a leaked claim (its lock held by a handle nobody closes) refuses this
    except Timeout:
        pytest.fail("the claim's lock is still held after claim_upload failed")
    again.release()
    assert failed.value.errno == errno.ENOSPC  # the failure (and its frames) kept alive up to here


# -- 4. a start-up sweep an OS error stops ---------------------------------------------------------------------------
def indexed(root: pathlib.Path) -> Settings:
    settings = api_settings(root, api_token="t0ken")
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([make_pdf(root / "book.pdf", 1, "b")]).failed
    index.close()
    return settings


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS], ids=["another user's claim", "a read-only home"])
def test_a_sweep_an_os_error_stops_is_one_warning_and_the_service_serves(tmp_path, monkeypatch, caplog, error):
    settings = indexed(tmp_path)
    uploads = settings.home / "uploads"
    claim_upload(uploads / "left", settings.index_dir).release()  # a killed job's upload: swept at start

    class Unclaimable(FileLock):
        def acquire(self, *args, **kwargs):
            if pathlib.Path(self.lock_file).name == CLAIM_FILE:
                raise OSError(error, os.strerror(error), self.lock_file)
            return super().acquire(*args, **kwargs)

    monkeypatch.setattr(upload_folder, "FileLock", Unclaimable)
    caplog.set_level(logging.INFO, logger="pathatlas")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("upload folders not swept: "), warnings
    assert (uploads / "left").is_dir()


# -- 5. /docs serves what it loads, and starts without swagger-ui-py --------------------------------------------------
def test_docs_assets_serve_only_the_files_docs_loads(tmp_path):
    with TestClient(create_app(api_settings(tmp_path))) as client:
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
            assert client.get(f"/docs/assets/{name}").status_code == 200, name
        for name in (
            "oauth2-redirect.html",
            "swagger-initializer.js",
            "swagger-editor-bundle.js",
            "index.css",
            "LICENSE",
        ):
            assert client.get(f"/docs/assets/{name}").status_code == 404, name


def test_without_swagger_ui_py_the_service_starts_without_docs_saying_so_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "swagger_ui", None)  # import swagger_ui raises ModuleNotFoundError
    caplog.set_level(logging.INFO, logger="pathatlas")
    with TestClient(create_app(api_settings(tmp_path))) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/docs").status_code == 404
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["no /docs: the swagger-ui-py package is not installed (pip install 'pathatlas[ui]')"]


# -- 6. the root path, logged once -----------------------------------------------------------------------------------
def test_the_root_path_is_logged_once_at_the_first_request(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="pathatlas")
    app = create_app(api_settings(tmp_path))
    with TestClient(app, root_path="/atlas") as client:
        assert client.get("/atlas/health").status_code == 200
        assert TestClient(app, root_path="/other").get("/other/health").status_code == 200
        assert client.get("/atlas/health").status_code == 200
    lines = [r.getMessage() for r in caplog.records if "root path" in r.getMessage()]
    assert lines == ["requests come in under the root path /atlas"]
