"""Two REST loose ends: a HEAD of a rendered page, a case image or a source PDF answers as its GET without rendering,
decoding or reading anything; an upload recorded under a moved home's uploads is this home's upload where its folder
is here, and removing or replacing it cleans this home's folder only. Hashing encoder and tiny files throughout."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import media
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, upload

COMPARED = ("etag", "cache-control", "content-type", "content-security-policy", "last-modified", "content-disposition")
"""The headers a HEAD must answer as its GET does (X-Request-ID differs per request)."""


def same_answer(client: TestClient, url: str, headers: dict[str, str] | None = None) -> None:
    """A HEAD of ``url`` answered with its GET's status and ``COMPARED`` headers, no body, and either the GET's
    Content-Length or none (never an empty body's 0)."""
    got, head = client.get(url, headers=headers), client.head(url, headers=headers)
    assert head.status_code == got.status_code, (url, head.status_code, got.text)
    assert {name: head.headers.get(name) for name in COMPARED} == {name: got.headers.get(name) for name in COMPARED}
    assert head.content == b""
    assert head.headers.get("content-length") in (None, got.headers.get("content-length")), url


def case_folder(folder: Path) -> Path:
    """A case folder of two images: a.jpg (served as stored) and b.tif (browsers show no TIFF: sent as PNG)."""
    folder.mkdir(parents=True)
    for name, kind in (("a.jpg", "JPEG"), ("b.tif", "TIFF")):
        Image.effect_noise((64, 64), 40).convert("RGB").save(folder / name, kind)
    (folder / "labels.csv").write_text("image,case,diagnosis\na.jpg,C-1,granuloma\nb.tif,C-2,fibrosis\n")
    return folder


@pytest.fixture
def library(tmp_path):
    """A service over a two-page book (``tmp_path/library/book.pdf``) and ``case_folder``."""
    settings = api_settings(tmp_path)
    library = tmp_path / "library"
    index_new(settings, make_pdf(library / "book.pdf", 2, "thyroid"), case_folder(library / "cases"))
    with TestClient(create_app(settings)) as client:
        yield client


def hits(client: TestClient, kind: str, text: str) -> list[dict]:
    return client.post("/search", json={"text": text, "k": 10, "filters": {"kind": kind}}).json()["hits"]


@pytest.fixture
def renders(monkeypatch) -> list[int]:
    """Each page rasterised from now on (``media.render``), its dpi; no earlier render is reused (``render_page``'s
    cache emptied)."""
    rendered: list[int] = []
    real = media.render

    def counted(page, dpi, max_pixels):
        rendered.append(dpi)
        return real(page, dpi, max_pixels)

    media.render_page.cache_clear()
    monkeypatch.setattr(media, "render", counted)
    return rendered


def test_a_head_of_a_page_renders_nothing_and_answers_as_its_get(library, renders):
    url = hits(library, "page", "thyroid page")[0]["page_url"]
    head = library.head(url)
    assert (head.status_code, renders) == (200, []), "a HEAD renders nothing"
    got = library.get(url)
    assert got.content.startswith(b"\x89PNG") and renders == [110], "the GET renders once"
    same_answer(library, url)  # the GET's render is cached by now: only headers are compared
    same_answer(library, url, {"If-None-Match": got.headers["etag"]})
    assert library.head(url, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    same_answer(library, f"/media/pages/{'0' * 24}")
    assert library.head(f"/media/pages/{'0' * 24}").status_code == 404
    assert renders == [110]


def test_a_head_of_a_page_whose_pdf_is_gone_is_410_as_its_get(library, tmp_path, renders):
    url = hits(library, "page", "thyroid page")[0]["page_url"]
    (tmp_path / "library" / "book.pdf").unlink()
    same_answer(library, url)
    assert library.head(url).status_code == 410 and renders == []


def test_a_head_of_a_case_image_decodes_nothing_and_answers_as_its_get(library, monkeypatch):
    engine = library.app.state.engine
    decoded: list[Path] = []
    real = engine.open_image

    def counted(data, name=None):
        decoded.append(data)
        return real(data, name)

    monkeypatch.setattr(engine, "open_image", counted)
    url = next(h["case_image_url"] for h in hits(library, "case", "fibrosis") if h["citation"]["image"] == "b.tif")
    assert library.head(url).status_code == 200 and decoded == [], "a HEAD decodes nothing"
    assert library.get(url).content.startswith(b"\x89PNG") and len(decoded) == 1, "the GET decodes the TIFF once"
    same_answer(library, url)


def test_a_head_of_a_served_file_reads_none_of_it(library, monkeypatch):
    """The source PDF (a book may be hundreds of megabytes), a thumbnail and a case image stored as browsers show it:
    the GET's headers, Content-Length included (from the file's stat), and the file never opened."""
    page = hits(library, "page", "thyroid page")[0]
    case = next(h for h in hits(library, "case", "granuloma") if h["citation"]["image"] == "a.jpg")
    urls = (f"/records/{page['id']}/pdf", page["thumbnail_url"], case["case_image_url"])
    for url in urls:
        same_answer(library, url)
    opened: list[str] = []
    real = media.FileResponse.__call__

    async def counted(self, scope, receive, send):
        opened.append(str(self.path))
        await real(self, scope, receive, send)

    monkeypatch.setattr(media.FileResponse, "__call__", counted)
    for url in urls:
        head = library.head(url)
        assert head.status_code == 200 and int(head.headers["content-length"]) > 0, url
    assert opened == [], "no file was sent to be thrown away"


# -- 2. a moved home's uploads ---------------------------------------------------------------------------------------
def uploaded_and_indexed(client: TestClient, name: str, pdf: Path) -> None:
    """``pdf`` uploaded as ``name`` and its job's thread ended (its record saved, its upload's claim released)."""
    sent = upload(client, name, pdf.read_bytes()).json()
    assert job_ended(client, sent["id"])["status"] == "done"
    for thread in threading.enumerate():
        if thread.name == f"index-{sent['id']}":
            thread.join()


@pytest.fixture
def restored(tmp_path):
    """x.pdf uploaded to a home, which is then copied elsewhere as a backup is restored, the old home left in place
    (the index, outside both, records the upload under the old one): (the old home's upload folder, the settings of
    the restored home)."""
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        uploaded_and_indexed(client, "x.pdf", make_pdf(tmp_path / "sent.pdf", 2, "thyroid"))
    (old,) = (settings.home / "uploads").glob("*/x.pdf")
    home = shutil.copytree(settings.home, tmp_path / "restored", symlinks=True)
    return old.parent, settings.model_copy(update={"home": home})


def test_a_moved_homes_upload_is_this_homes_and_its_removal_cleans_only_this_homes_folder(restored):
    old, settings = restored
    here = settings.home / "uploads" / old.name
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine
        (key,) = engine.index.manifest
        assert Path(key).parent == old.resolve(), "the index records the upload under the old home"
        upload_of = client.app.state.jobs.uploads.uploaded(key)
        assert (upload_of.folder, upload_of.name, upload_of.unpacked) == (old.name, "x.pdf", False)
        (source,) = client.get("/sources").json()
        assert source["source"] == "x.pdf"
        assert client.delete(f"/sources/{source['id']}", headers=AUTH).status_code == 200
    assert not here.exists(), "this home's folder of the removed upload is removed"
    assert (old / "x.pdf").is_file(), "nothing outside this home's uploads is touched"


def test_uploading_a_moved_homes_upload_again_replaces_it(restored, tmp_path):
    old, settings = restored
    with TestClient(create_app(settings)) as client:
        uploaded_and_indexed(client, "x.pdf", make_pdf(tmp_path / "newer.pdf", 3, "goitre"))
        (key,) = client.app.state.engine.index.manifest
        (source,) = client.get("/sources").json()
    assert Path(key).parent.parent == (settings.home / "uploads").resolve() and source["entries"] > 0
    assert [folder.name for folder in (settings.home / "uploads").iterdir()] == [Path(key).parent.name]
    assert (old / "x.pdf").is_file(), "the old home's copy is not this service's to remove"


def test_a_key_climbing_out_of_an_uploads_folder_is_no_upload(restored):
    _, settings = restored
    uploads = settings.home / "uploads"
    with TestClient(create_app(settings)) as client:
        uploads_of = client.app.state.jobs.uploads
        for key in (f"{uploads.resolve()}/../jobs/x.pdf", "/elsewhere/uploads/../jobs/x.pdf"):
            assert (uploads / ".." / "jobs").is_dir()
            assert uploads_of.uploaded(key) is None, key  # removing its source would have removed the home's jobs
