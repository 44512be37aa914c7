"""POST /jobs refuses the bytes of another upload not yet indexed (409) as it refuses those of an indexed source, also
for two uploads of them sent at the same moment; a case-folder zip sent again under another name is refused as a PDF
is; a PDF with junk before its header past the first kilobyte is taken when MuPDF opens it. Hashing encoder."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from pathatlas.ui.api import duplicates, uploads
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import book_service, held_upload, upload

HINT = "upload a .pdf, lecture notes (.md, .qmd, .markdown), or a .zip of them or of a case folder"


@pytest.fixture
def client(tmp_path):
    """A service on an index of one two-page book, indexed from disk."""
    with book_service(tmp_path, "osteoid") as served:
        yield served


def sources(client) -> dict[str, str]:
    """Each source's name, with its id."""
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def case_zip(*folders: str) -> bytes:
    """A zip of case folders, each a ``cases.jsonl`` listing one image."""
    image = io.BytesIO()
    Image.new("RGB", (48, 48), (150, 40, 90)).save(image, "PNG")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder in folders:
            archive.writestr(f"{folder}/cases.jsonl", json.dumps({"image": "a.png", "diagnosis": "sarcoidosis"}))
            archive.writestr(f"{folder}/a.png", image.getvalue())
    return buffer.getvalue()


# -- 1. the bytes of an upload not yet indexed ------------------------------------------------------------------------
def test_two_uploads_of_one_book_sent_at_once_are_taken_once(client, tmp_path, monkeypatch):
    """Both are hashed before either is looked for (a barrier), and the first to look waits there for the other: the
    look and the mark are one step, so the other never comes and the wait ends (half a second)."""
    book = make_pdf(tmp_path / "notes.pdf", 2, "haversian").read_bytes()
    hashed, looking = threading.Barrier(2, timeout=30), threading.Barrier(2, timeout=0.5)
    content_hash, marked_uploads = duplicates.content_hash, uploads.marked_uploads

    def hashed_together(path):
        hashed.wait()
        return content_hash(path)

    def looking_together(*args):
        found = marked_uploads(*args)
        with contextlib.suppress(threading.BrokenBarrierError):
            looking.wait()
        return found

    monkeypatch.setattr(duplicates, "content_hash", hashed_together)
    monkeypatch.setattr(duplicates, "marked_uploads", looking_together)
    names = ["week1.pdf", "week1 (1).pdf"]
    with ThreadPoolExecutor(2) as pool:
        answers = dict(zip(names, pool.map(lambda name: upload(client, name, book), names), strict=True))
    codes = {name: answer.status_code for name, answer in answers.items()}
    assert sorted(codes.values()) == [202, 409], {name: answer.text for name, answer in answers.items()}
    [taken] = [name for name, code in codes.items() if code == 202]
    [refused] = [name for name, code in codes.items() if code == 409]
    detail = answers[refused].json()["detail"]
    assert detail.startswith(f"{refused} is the same file as ") and detail.endswith(": its pages would appear twice")
    assert job_ended(client, answers[taken].json()["id"])["status"] == "done"
    assert sorted(sources(client)) == ["book.pdf", taken]


def test_a_book_sent_while_its_twin_is_being_indexed_is_refused_until_that_job_is_cancelled(
    client, tmp_path, monkeypatch
):
    job_id, go = held_upload(client, tmp_path, monkeypatch)
    book = (tmp_path / "atlas.pdf").read_bytes()
    refused = upload(client, "atlas (1).pdf", book)
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"atlas (1).pdf is the same file as atlas.pdf (job {job_id}), not yet indexed: its pages would appear twice",
    )
    assert client.delete(f"/jobs/{job_id}").status_code == 202
    go.set()
    assert job_ended(client, job_id)["status"] == "cancelled"
    taken = upload(client, "atlas (1).pdf", book)
    assert taken.status_code == 202, taken.text


# -- 2. a case-folder zip sent twice -----------------------------------------------------------------------------------
def test_a_case_zip_sent_again_under_another_name_is_refused_naming_its_sources(client):
    cases = case_zip("myc", "sarc")
    assert job_ended(client, upload(client, "atlas.zip", cases).json()["id"])["status"] == "done"
    ids = sources(client)
    refused = upload(client, "atlas (1).zip", cases)
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"atlas (1).zip is the same file as the zip of myc (id {ids['myc']}), sarc (id {ids['sarc']}), already "
        "indexed: each of its sources would appear twice; to index this upload in its place, remove those sources "
        "first (DELETE /sources/{id} for each)",
    )
    again = upload(client, "atlas.zip", cases)  # under its own name it replaces that upload
    assert job_ended(client, again.json()["id"])["status"] == "done"
    assert sorted(sources(client)) == ["book.pdf", "myc", "sarc"]
    for name in ("myc", "sarc"):
        assert client.delete(f"/sources/{sources(client)[name]}").status_code == 200
    assert job_ended(client, upload(client, "atlas (1).zip", cases).json()["id"])["status"] == "done"


# -- 3. junk before %PDF- -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("junk", [1 << 10, 4 << 10, 64 << 10], ids=["1KiB", "4KiB", "64KiB"])
def test_a_pdf_with_junk_before_its_header_past_the_first_kilobyte_is_indexed_as_written(client, tmp_path, junk):
    """MuPDF reads such a file only by repairing it, warning of every stream (the indexer refuses it as damaged): the
    junk is cut, and the PDF left is the book as written, known as the twin of its clean copy."""
    book = make_pdf(tmp_path / "mailed.pdf", 2, "trabecular").read_bytes()
    mailed = (b"X-Mailer: gateway\r\n" * junk)[:junk] + book
    job = job_ended(client, upload(client, "mailed.pdf", mailed).json()["id"])
    assert job["status"] == "done", job
    assert job["notes"] == [f"the {junk} bytes before its %PDF- header (a mail gateway's or a server's) were left out"]
    refused = upload(client, "clean.pdf", book)
    assert refused.status_code == 409 and "is the same file as mailed.pdf" in refused.json()["detail"]


@pytest.mark.parametrize(
    "data",
    [b"Lecture 4: bone\n" * 100 + b"a PDF starts with %PDF-1.7\n", b"X-Mailer: gateway\r\n" * 400],
    ids=["text-naming-the-header", "header-past-the-look"],
)
def test_a_file_named_pdf_without_a_pdf_mupdf_opens_is_refused_in_one_line(client, tmp_path, monkeypatch, data):
    """The second is a PDF whose header lies past ``JUNK_BYTES`` (made small here)."""
    monkeypatch.setattr(uploads, "JUNK_BYTES", 4096)
    book = make_pdf(tmp_path / "notes.pdf", 2, "haversian").read_bytes()
    refused = upload(client, "notes.pdf", data if data.startswith(b"Lecture") else data + book)
    assert (refused.status_code, refused.json()["detail"]) == (
        415,
        f"notes.pdf is not a PDF (no %PDF- header in its first 1024 bytes): {HINT}",
    )
