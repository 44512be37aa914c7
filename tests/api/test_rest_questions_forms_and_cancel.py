"""REST rough edges: a pasted question without a word refused as one typed alone (/ask: 422), a form's bad
fields named beside its unknown ones, a cancel seen while a job's sources are counted and before each is read, and an
uploaded zip keeping no image that no source reads. Hashing encoder: no model is the point."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.indexer.sources.cases import CaseFolderSource
from tests.helpers import png_bytes
from tests.servers import job_ended
from tests.uploads import AUTH, book_service, upload, zipped

PASTED_OPTIONS = "\nA. Koilocytes\nB. Mitosis"
NO_WORD = "the question has no word to look for: type two letters or digits in a row, or a CJK character"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A service on a two-page book."""
    with book_service(tmp_path_factory.mktemp("s37"), "rest") as served:
        yield served


def png(colour: str | tuple[int, int, int]) -> bytes:
    return png_bytes(Image.new("RGB", (48, 48), colour))


def two_cases_zip(*extra: tuple[str, bytes]) -> bytes:
    """A zipped case folder ``atlas/`` of two listed images, c0.png and c1.png, and ``extra`` members."""
    labels = b"image,case,diagnosis\nc0.png,C-1,granuloma\nc1.png,C-2,fibrosis\n"
    return zipped(("atlas/labels.csv", labels), ("atlas/c0.png", png("red")), ("atlas/c1.png", png("blue")), *extra)


def errors_of(response) -> list[tuple[str, list, str]]:
    assert response.status_code == 422, response.text
    return [(error["type"], error["loc"], error["msg"]) for error in response.json()["detail"]]


# -- 1. a pasted question without a word ---------------------------------------------------------------------------
@pytest.mark.parametrize("stem", ["?", "x", "what is it"])
def test_a_pasted_question_without_a_word_is_refused_as_that_question_typed_alone(client, stem):
    """ "?\\nA. Koilocytes\\nB. Mitosis" was a 400 once its option lines were split, where "?" is a 422."""
    alone = errors_of(client.post("/ask", json={"question": stem, "options": ["Koilocytes", "Mitosis"]}))
    pasted = client.post("/ask", json={"question": stem + PASTED_OPTIONS})
    assert errors_of(pasted) == alone
    assert pasted.json()["detail"][0]["input"] == stem + PASTED_OPTIONS, "the question as it was sent"


def test_a_pasted_question_without_a_word_about_an_image_is_refused_as_one_typed_before_the_image_is_read(client):
    """/ask/image refuses "x" typed (422, in the doors' words) before it reads the image; "?" pasted with its option
    lines was refused only once the image had been read (an unreadable one answered first)."""
    image = {"image": ("slide.png", b"not read before the question")}
    typed = client.post("/ask/image", data={"question": "x"}, files=image)
    assert errors_of(typed) == [("unsearchable_text", ["body", "question"], NO_WORD)]
    pasted = client.post("/ask/image", data={"question": "?" + PASTED_OPTIONS}, files=image)
    assert errors_of(pasted) == errors_of(typed)
    blank = client.post("/ask/image", data={"question": "", "options": '["a", "b"]'}, files=image)
    assert "not a readable image" in blank.json()["detail"], "a blank question asks what the image shows"


# -- 2. a form's bad fields beside its unknown ones ------------------------------------------------------------------
def test_a_form_with_an_unknown_field_names_its_bad_known_fields_too(client):
    searched = client.post("/search/image", data={"k": "abc", "txet": "cells"}, files={"image": ("a.png", png("red"))})
    assert [(kind, loc) for kind, loc, _ in errors_of(searched)] == [
        ("int_parsing", ["body", "k"]),
        ("extra_forbidden", ["body", "txet"]),
    ]
    asked = client.post("/ask/image", data={"image": "a file sent as text", "option": '["a", "b"]'})
    assert [loc for _, loc, _ in errors_of(asked)] == [["body", "image"], ["body", "option"]]
    sent = client.post("/jobs", data={"file": "a file sent as text", "k": "1"}, headers=AUTH)
    assert [loc for _, loc, _ in errors_of(sent)] == [["body", "file"], ["body", "k"]]


def test_the_bad_field_alone_is_refused_as_it_was_beside_an_unknown_one(client):
    """The errors named beside an unknown field are FastAPI's own, word for word."""
    alone = errors_of(client.post("/search/image", data={"k": "0"}, files={"image": ("a.png", png("red"))}))
    beside = errors_of(client.post("/search/image", data={"k": "0", "x": "1"}, files={"image": ("a.png", png("red"))}))
    assert beside == [*alone, ("extra_forbidden", ["body", "x"], "Extra inputs are not permitted")]


# -- 3. a cancel while a job's sources are counted, and before each is read ----------------------------------------
def test_a_cancel_asked_while_a_case_folder_is_counted_stops_the_job_at_once(client, monkeypatch):
    """The count of a case folder's rows (tens of seconds for 200,000) held the cancel until it ended."""
    counting, go = threading.Event(), threading.Event()
    counted = CaseFolderSource.size_hint

    def slow_count(source):
        counting.set()
        go.wait(60)
        return counted(source)

    monkeypatch.setattr(CaseFolderSource, "size_hint", slow_count)
    try:
        job_id = upload(client, "atlas.zip", two_cases_zip()).json()["id"]
        assert counting.wait(30)
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 202
        assert job_ended(client, job_id, timeout=10)["status"] == "cancelled", "while the count still runs"
    finally:
        go.set()


def test_a_cancel_asked_once_the_sources_are_counted_stops_before_a_case_folder_is_read(client, monkeypatch):
    """A cancel asked after the count (while the index opened) was seen only after the folder's metadata was read and
    its images hashed (its fingerprint), at the first progress report."""
    jobs = client.app.state.jobs
    counted, go, looked = threading.Event(), threading.Event(), []
    count, fingerprint = jobs._prepared, CaseFolderSource.fingerprint

    def count_then_hold(job):
        units = count(job)
        counted.set()
        go.wait(60)
        return units

    def looked_at(source):
        looked.append(source.path.name)
        return fingerprint(source)

    monkeypatch.setattr(jobs, "_prepared", count_then_hold)
    monkeypatch.setattr(CaseFolderSource, "fingerprint", looked_at)
    try:
        job_id = upload(client, "atlas.zip", two_cases_zip()).json()["id"]
        assert counted.wait(30)
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 202
    finally:
        go.set()
    assert job_ended(client, job_id)["status"] == "cancelled"
    assert looked == []


# -- 4. what an uploaded zip holds that no source reads --------------------------------------------------------------
def uploaded_files(client) -> list[str]:
    """The files under the uploads, below each upload's folder ("atlas/atlas/c0.png"), its marks aside."""
    uploads = client.app.state.jobs.uploads.path
    files = (path.relative_to(uploads) for path in uploads.rglob("*") if path.is_file())
    return sorted(Path(*path.parts[1:]).as_posix() for path in files if not path.name.startswith("."))


def test_an_uploaded_zip_keeps_no_image_that_no_case_folder_lists(client):
    """stray.png (in the folder, listed by no row) and loose.png (outside every case folder) stayed under the uploads
    for ever; an image a row names in another letter case (sub/C3.PNG, found as sub/c3.png) stays, as the problem
    that names it says where it was found."""
    labels = b"image,case,diagnosis\nc0.png,C-1,granuloma\nc1.png,C-2,fibrosis\nsub/C3.PNG,C-3,fibrosis\n"
    data = zipped(
        ("atlas/labels.csv", labels),
        ("atlas/c0.png", png("red")),
        ("atlas/c1.png", png("blue")),
        ("atlas/sub/c3.png", png("yellow")),
        ("atlas/stray.png", png("green")),
        ("atlas/notes.txt", b"notes"),
        ("loose.png", png("white")),
    )
    job = job_ended(client, upload(client, "junk.zip", data).json()["id"])
    assert job["status"] == "done", job
    assert uploaded_files(client) == [
        "junk/atlas/c0.png",
        "junk/atlas/c1.png",
        "junk/atlas/labels.csv",
        "junk/atlas/sub/c3.png",
    ]
    left_out = [
        "1 image(s) left out, not listed by the metadata file a case folder is read by: atlas/stray.png",
        "1 image(s) left out, in no case folder (a folder with cases.jsonl or labels.csv) and shown by no notes file: "
        "loose.png",
    ]
    assert all(note in job["notes"] for note in left_out), job["notes"]
    assert any("found 'sub/c3.png' (names differ in letter case)" in note for note in job["notes"]), "kept: it is named"
    hits = client.post("/search", json={"text": "granuloma fibrosis", "filters": {"kind": "case"}}).json()["hits"]
    assert sorted(hit["citation"]["image"] for hit in hits) == ["c0.png", "c1.png"]
    assert [client.get(hit["case_image_url"]).status_code for hit in hits] == [200, 200], "what records point to stays"
    source = next(s for s in client.get("/sources").json() if s["source"] == "atlas")
    assert client.delete(f"/sources/{source['id']}", headers=AUTH).status_code == 200


def test_a_zip_member_leaving_its_folder_is_still_refused_before_anything_is_kept(client, tmp_path):
    uploads = client.app.state.jobs.uploads.path
    before = sorted(uploads.iterdir()) if uploads.is_dir() else []
    refused = upload(client, "escape.zip", two_cases_zip(("../x.png", png("red")), ("atlas/stray.png", png("green"))))
    assert (refused.status_code, refused.json()["detail"]) == (400, "zip member '../x.png' leaves the archive")
    assert sorted(uploads.iterdir()) == before
    assert not (uploads / "x.png").exists() and not (uploads.parent / "x.png").exists()


def test_an_upload_is_answered_before_its_unread_images_go_and_a_cancel_stops_that(client, monkeypatch):
    """Reading every case folder's metadata to find the images no row lists ran inside the upload's request (1.4 s at
    50,000 rows) before any job existed to cancel: the job does it now, where a cancel is seen."""
    from pathatlas.ui.api import indexing

    pruning, go = threading.Event(), threading.Event()
    prune = indexing.remove_unread_images

    def slow_prune(folder, settings):
        pruning.set()
        go.wait(60)
        return prune(folder, settings)

    monkeypatch.setattr(indexing, "remove_unread_images", slow_prune)
    try:
        job_id = upload(client, "slow.zip", two_cases_zip(("atlas/stray.png", png("green")))).json()["id"]
        assert pruning.wait(30), "the job prunes the upload"
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 202
        assert job_ended(client, job_id, timeout=10)["status"] == "cancelled", "while the pruning still runs"
    finally:
        go.set()
