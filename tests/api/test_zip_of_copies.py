"""POST /jobs with a zip whose PDFs and notes files are all copies of what the index or another upload holds is refused
at once (409, one line naming each twin, nothing of it kept, its claim released), as a lone copy is, where its job
could only fail; a left-out member's note says to remove the indexed source and send the zip again. The files a zip
keeps are marked while it is indexed, so that a lone copy of one sent meanwhile is refused as the other order is;
those marks neither outlive the job for a member removed since nor change what the upload token may replace.
Hashing encoder, tiny files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from pathatlas.indexer.sources.fingerprints import content_hash
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import library
from pathatlas.ui.api.uploads import CONTENT_MARK
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.indexer.test_notes_copies import deck, source_ids
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, upload, zipped

STUDENT = {"Authorization": "Bearer stud3nt"}


@pytest.fixture
def client(tmp_path):
    """A service on an index of ``book.pdf`` and ``week1.qmd``, indexed from disk, with the lecturer's and an upload
    token: (the client, the book's bytes)."""
    settings = api_settings(tmp_path, api_token=TOKEN, upload_token="stud3nt")
    book, notes = make_pdf(tmp_path / "book.pdf", 1, "osteoid"), tmp_path / "week1.qmd"
    notes.write_bytes(deck("toucan"))
    index_new(settings, book, notes)
    with TestClient(create_app(settings)) as served:
        yield served, book.read_bytes()


@contextmanager
def jobs_held(client, monkeypatch) -> Iterator[None]:
    """Index jobs sent meanwhile wait, their uploads claimed, until the block is left, and are then indexed."""
    jobs, go = client.app.state.jobs, threading.Event()
    index_job = jobs._index_job

    def held(job):
        go.wait(30)
        return index_job(job)

    monkeypatch.setattr(jobs, "_index_job", held)
    try:
        yield
    finally:
        go.set()


def taken(response) -> dict:
    assert response.status_code == 202, response.text
    return response.json()


def indexed(client, name: str, data: bytes, headers: dict = AUTH) -> dict:
    return job_ended(client, taken(upload(client, name, data, headers))["id"])


# -- 1. a zip of nothing but copies ------------------------------------------------------------------------------------
def test_a_zip_of_nothing_but_copies_is_refused_at_once_naming_each_twin_and_keeps_nothing(client, monkeypatch):
    client, book = client
    claims, claim_upload = [], library.claim_upload
    monkeypatch.setattr(library, "claim_upload", lambda *args: claims.append(claim_upload(*args)) or claims[-1])
    ids = source_ids(client)
    refused = upload(client, "only.zip", zipped(("c/book-copy.pdf", book), ("c/w1.qmd", deck("toucan"))))
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"nothing left to index in only.zip: left out c/book-copy.pdf: book-copy.pdf is the same file as book.pdf "
        f"(id {ids['book.pdf']}), already indexed: its pages would appear twice; to index the zip's copy instead, "
        f"remove that source (DELETE /sources/{ids['book.pdf']}) and send the zip again; left out c/w1.qmd: w1.qmd is "
        f"the same notes file as week1.qmd (id {ids['week1.qmd']}), already indexed: its slides would appear twice; to "
        f"index the zip's copy instead, remove that source (DELETE /sources/{ids['week1.qmd']}) and send the zip again",
    )
    assert [claim.is_locked for claim in claims] == [False]
    assert list(client.app.state.jobs.uploads.path.iterdir()) == []
    assert client.get("/jobs").json() == []
    assert source_ids(client) == ids


def test_a_zip_with_one_new_file_beside_its_copies_is_taken(client):
    client, book = client
    job = indexed(client, "course.zip", zipped(("c/book-copy.pdf", book), ("c/week2.qmd", deck("hornbill"))))
    assert (job["status"], len(job["notes"])) == ("done", 1), job
    assert sorted(source_ids(client)) == ["book.pdf", "week1.qmd", "week2.qmd"]


# -- 2. what a member's note says -----------------------------------------------------------------------------------
def test_a_left_out_members_note_says_to_remove_the_source_and_send_the_zip_again_which_indexes_it(client):
    client, book = client
    archive = zipped(("c/book-copy.pdf", book), ("c/week2.qmd", deck("hornbill")))
    book_id = source_ids(client)["book.pdf"]
    assert indexed(client, "course.zip", archive)["notes"] == [
        f"left out c/book-copy.pdf: book-copy.pdf is the same file as book.pdf (id {book_id}), already indexed: its "
        f"pages would appear twice; to index the zip's copy instead, remove that source (DELETE /sources/{book_id}) "
        "and send the zip again"
    ]
    assert client.delete(f"/sources/{book_id}", headers=AUTH).status_code == 200
    again = indexed(client, "course.zip", archive)
    assert again["status"] == "done", again
    assert sorted(source_ids(client)) == ["book-copy.pdf", "week1.qmd", "week2.qmd"]


# -- 3. a zip's files while it is indexed, and after ------------------------------------------------------------------
def test_a_copy_of_a_file_of_a_zip_being_indexed_is_told_of_that_zip_alone_or_zipped(client, tmp_path, monkeypatch):
    client, _ = client
    atlas = make_pdf(tmp_path / "atlas.pdf", 2, "glomerulus").read_bytes()
    with jobs_held(client, monkeypatch):
        course = taken(upload(client, "course.zip", zipped(("c/atlas.pdf", atlas), ("c/week2.qmd", deck("kiwi")))))
        alone = upload(client, "atlas.pdf", atlas)
        other = taken(upload(client, "other.zip", zipped(("d/atlas.pdf", atlas), ("d/week3.qmd", deck("emu")))))
    twin = f"the same file as a file of course.zip (job {course['id']}), not yet indexed: its pages would appear twice"
    assert (alone.status_code, alone.json()["detail"]) == (409, f"atlas.pdf is {twin}")
    assert other["notes"] == [f"left out d/atlas.pdf: atlas.pdf is {twin}"]
    assert [job_ended(client, job["id"])["status"] for job in (course, other)] == ["done", "done"]
    assert sorted(source_ids(client)) == ["atlas.pdf", "book.pdf", "week1.qmd", "week2.qmd", "week3.qmd"]


def test_a_file_removed_from_an_indexed_zip_may_be_uploaded_alone(client, tmp_path):
    """The zip's folder stays for its other sources: its mark of the removed file must not name them."""
    client, _ = client
    atlas = make_pdf(tmp_path / "atlas.pdf", 2, "glomerulus").read_bytes()
    course = indexed(client, "course.zip", zipped(("c/atlas.pdf", atlas), ("c/week2.qmd", deck("kiwi"))))
    assert course["status"] == "done", course
    assert client.delete(f"/sources/{source_ids(client)['atlas.pdf']}", headers=AUTH).status_code == 200
    alone = indexed(client, "atlas.pdf", atlas)
    assert alone["status"] == "done", alone
    assert sorted(source_ids(client)) == ["atlas.pdf", "book.pdf", "week1.qmd", "week2.qmd"]


def test_the_upload_token_replaces_a_zip_uploaded_before_its_files_were_marked_with_the_same_zip(client, tmp_path):
    """Such a zip's folder holds its bytes' mark alone; the same zip sent again replaces it as before, not failing at
    its job's end for marks the earlier one lacks (``UploadFolder.replacement_refusal``). (A deck of it removed since:
    the zip is read again, not found unchanged.)"""
    client, _ = client
    archive = tmp_path / "course.zip"
    archive.write_bytes(zipped(("c/week2.qmd", deck("kiwi")), ("c/week3.qmd", deck("emu"))))
    assert indexed(client, "course.zip", archive.read_bytes(), STUDENT)["status"] == "done"
    [folder] = client.app.state.jobs.uploads.path.iterdir()
    for mark in folder.glob(".*-*"):
        if mark.name != f"{CONTENT_MARK}{content_hash(archive)}":
            mark.rmdir()
    assert client.delete(f"/sources/{source_ids(client)['week3.qmd']}", headers=AUTH).status_code == 200
    again = indexed(client, "course.zip", archive.read_bytes(), STUDENT)
    assert (again["status"], again["notes"]) == (
        "done",
        ["course.zip: replaced the earlier upload of this name (read again from this upload: week2.qmd)"],
    )


def test_a_course_sent_again_says_which_decks_were_read_again_and_which_it_no_longer_holds(client):
    """Replacing an earlier upload said "removed: week2.qmd, week3.qmd" where both were read again from the new zip."""
    client, _ = client
    assert (
        indexed(client, "course.zip", zipped(("c/week2.qmd", deck("kiwi")), ("c/week3.qmd", deck("emu"))))["notes"]
        == []
    )
    again = indexed(client, "course.zip", zipped(("c/week2.qmd", deck("kea"))))
    assert (again["status"], again["notes"]) == (
        "done",
        [
            "course.zip: replaced the earlier upload of this name (read again from this upload: week2.qmd; removed, "
            "not in this upload: week3.qmd)"
        ],
    )
    assert sorted(source_ids(client)) == ["book.pdf", "week1.qmd", "week2.qmd"]
