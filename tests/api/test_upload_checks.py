"""POST /jobs reads an upload before it takes it: a file that is not what its name says (a text file named .pdf, a
PDF named .zip) is refused at once (415), as an image is, and a PDF whose bytes the index already holds is refused
(409) naming that source, since its pages would appear twice. Hashing encoder."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.servers import job_ended
from tests.uploads import api_settings, upload, zipped

HINT = "upload a .pdf, lecture notes (.md, .qmd, .markdown), or a .zip of them or of a case folder"


@pytest.fixture
def shelf(tmp_path):
    """A service on an index of books/bone-ch6.pdf (two pages): yields (the client, the book's bytes, settings)."""
    settings = api_settings(tmp_path)
    book = make_pdf(tmp_path / "books" / "bone-ch6.pdf", 2, "osteoid")
    index_new(settings, book)
    with TestClient(create_app(settings)) as client:
        yield client, book.read_bytes(), settings


def uploads_left(settings) -> list[str]:
    folder = settings.home / "uploads"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize(
    ("name", "data", "refusal"),
    [
        ("notes.pdf", b"Lecture 4: bone\n" * 40, "notes.pdf is not a PDF (no %PDF- header in its first 1024 bytes)"),
        (
            "saved.pdf",
            b"<!DOCTYPE html><html><body>granuloma</body></html>",
            "saved.pdf is a web page (HTML), not a PDF",
        ),
        ("empty.pdf", b"", "empty.pdf is empty (0 bytes), not a PDF"),
        (
            "cases.zip",
            b"image,diagnosis\na.png,granuloma\n",
            "cases.zip is not a zip file (no zip directory at its end: not a zip, or cut short)",
        ),
        ("cases.zip", b"%PDF-1.7\n" + bytes(64), "cases.zip is a PDF, not a zip file"),
    ],
    ids=["text-as-pdf", "html-as-pdf", "empty-pdf", "csv-as-zip", "pdf-as-zip"],
)
def test_an_upload_that_is_not_what_its_name_says_is_refused_at_once(shelf, name, data, refusal):
    client, _, settings = shelf
    refused = upload(client, name, data)
    assert (refused.status_code, refused.json()["detail"]) == (415, f"{refusal}: {HINT}")
    assert "\n" not in refused.json()["detail"]
    assert client.get("/jobs").json() == [], "no job that could only fail"
    assert uploads_left(settings) == [], "nothing of it kept"


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("slide.png", "slide.png is a .png file"),
        ("C:\\fakepath\\Week 2 slides.PPTX", "Week 2 slides.PPTX is a .pptx file"),  # a browser's path: its name
        ("README", "README has no file type in its name"),
    ],
    ids=["image", "browser-path", "no-type"],
)
def test_an_upload_of_a_type_never_indexed_is_refused_naming_it(shelf, name, refusal):
    """The refusal said only "upload a .pdf, ...": a client sending several files could not tell which one."""
    client, _, settings = shelf
    refused = upload(client, name, b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert (refused.status_code, refused.json()["detail"]) == (415, f"{refusal}: {HINT}")
    assert str(settings.home) not in refused.text and uploads_left(settings) == []


def test_a_pdf_with_bytes_before_its_header_is_taken_as_readers_take_it(shelf, tmp_path):
    client, _, _ = shelf
    book = make_pdf(tmp_path / "mailed.pdf", 2, "trabecular").read_bytes()
    job = job_ended(client, upload(client, "mailed.pdf", b"X-Mailer: gateway\r\n" * 40 + book).json()["id"])
    assert job["status"] == "done", job


def test_a_zip_that_is_a_zip_but_holds_a_bad_member_is_still_its_400(shelf):
    client, _, _ = shelf
    refused = upload(client, "cases.zip", zipped(("../x.png", b"png")))
    assert (refused.status_code, refused.json()["detail"]) == (400, "zip member '../x.png' leaves the archive")


def test_a_book_already_indexed_is_refused_naming_it_until_it_is_removed(shelf):
    client, book, settings = shelf
    [source] = client.get("/sources").json()
    refused = upload(client, "Bone chapter 6.pdf", book)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"Bone chapter 6.pdf is the same file as bone-ch6.pdf (id {source['id']}), already indexed: its pages would "
        f"appear twice; to index this upload in its place, remove that source first (DELETE /sources/{source['id']})"
    )
    assert client.get("/sources").json() == [source] and uploads_left(settings) == []
    assert client.delete(f"/sources/{source['id']}").status_code == 200
    job = job_ended(client, upload(client, "Bone chapter 6.pdf", book).json()["id"])
    assert job["status"] == "done" and [s["source"] for s in client.get("/sources").json()] == ["Bone chapter 6.pdf"]


def test_an_uploaded_book_uploaded_again_under_another_name_is_refused(shelf, tmp_path):
    client, _, _ = shelf
    notes = make_pdf(tmp_path / "notes.pdf", 2, "haversian").read_bytes()
    assert job_ended(client, upload(client, "week1.pdf", notes).json()["id"])["status"] == "done"
    refused = upload(client, "week1 (1).pdf", notes)
    assert refused.status_code == 409 and "is the same file as week1.pdf" in refused.json()["detail"]


def test_the_same_book_under_its_own_name_replaces_its_upload(shelf, tmp_path):
    """Sent again under the name it was uploaded by, it replaces that upload (as a new version would): no twin."""
    client, _, _ = shelf
    notes = make_pdf(tmp_path / "notes.pdf", 2, "haversian").read_bytes()
    for _ in range(2):
        assert job_ended(client, upload(client, "week1.pdf", notes).json()["id"])["status"] == "done"
    assert sorted(s["source"] for s in client.get("/sources").json()) == ["bone-ch6.pdf", "week1.pdf"]


def test_a_book_whose_indexed_copy_is_gone_from_disk_is_taken_and_the_old_copy_named(shelf, tmp_path):
    """The upload restores a book whose file was moved away; the job's note says how to drop the old copy."""
    client, book, _ = shelf
    shutil.move(tmp_path / "books", tmp_path / "moved")
    job = job_ended(client, upload(client, "bone-ch6.pdf", book).json()["id"])
    assert job["status"] == "done", job
    assert any("has the same content as" in note and "missing on disk" in note for note in job["notes"]), job
