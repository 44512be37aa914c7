"""A course zip sent again under its name (a typo fixed in a deck, a diagnosis in the case metadata) replaces the
earlier upload in that upload's folder: what it holds unchanged keeps its source id and its records' ids (links,
``?source=`` filters), what changed is read again, what it no longer holds is removed, and a source removed since that
it still holds comes back, its job saying so ("back: X"). A job that fails, or one a kill cut short, puts the earlier
upload back. A notes file sent alone under the name of a zip's deck is refused (409), naming the zip; a student's zip
never changes how the lecturer's sources are cited. Hashing encoder, tiny files."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import display_name
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import Job, JobRecords, claimed
from pathatlas.ui.api.upload_folder import UploadFolder, claim_upload
from pathatlas.ui.api.uploads import extract_zip
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new, png_bytes
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, upload, zipped

STUDENT = {"Authorization": "Bearer stud3nt"}
PNG = png_bytes(Image.new("RGB", (48, 48), (150, 40, 90)))
REPLACED = "course.zip: replaced the earlier upload of this name"


@pytest.fixture
def settings(tmp_path):
    return api_settings(tmp_path, api_token=TOKEN, upload_token="stud3nt")


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as served:
        yield served


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> bytes:
    """One PDF's bytes for every zip: a PDF made again differs (its dates), and would be read again."""
    return make_pdf(tmp_path_factory.mktemp("book") / "book.pdf", 2, "osteoid").read_bytes()


def deck(word: str) -> bytes:
    return f"## Tuberculosis\n\n- {word} granulomas\n\n## Stains\n\n- Ziehl-Neelsen\n".encode()


def course(book: bytes, word: str = "caseatng", diagnosis: str = "tuberculossis", without: str = "") -> bytes:
    """The course zip: a book, two decks and a case folder; ``word`` and ``diagnosis`` are what a correction fixes."""
    members = {
        "book.pdf": book,
        "notes/week1.qmd": b"## Bone\n\n- osteoid is laid down first\n",
        "notes/tuberculosis.qmd": deck(word),
        "cases/cases.jsonl": json.dumps({"image": "a.png", "diagnosis": diagnosis}).encode(),
        "cases/a.png": PNG,
    }
    return zipped(*((name, data) for name, data in members.items() if name != without))


def sent(client, name: str, data: bytes, headers: dict = AUTH) -> dict:
    """An upload's job once it ended and its upload's claim went (``tests.uploads.indexed``, with ``headers``)."""
    response = upload(client, name, data, headers)
    assert response.status_code == 202, response.text
    ended = job_ended(client, response.json()["id"])
    deadline = time.monotonic() + 30
    while any(claimed(folder) for folder in upload_folders(client)):
        assert time.monotonic() < deadline, "an upload stays claimed"
        time.sleep(0.01)
    return ended


def upload_folders(client) -> list:
    return sorted(client.app.state.jobs.uploads.path.iterdir())


def source_ids(client) -> dict[str, str]:
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def record_ids(client) -> dict[str, set[str]]:
    """Each source's record ids, by its name."""
    index = client.app.state.engine.index
    return {display_name(key): {rid for rid, _ in index.store.scan({"source": key})} for key in index.manifest}


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The sources an indexer reads from here on, by name."""
    read, write = [], Indexer._write

    def counted(self, source, fingerprint):
        read.append(display_name(source.key))
        return write(self, source, fingerprint)

    monkeypatch.setattr(Indexer, "_write", counted)
    return read


# -- 1. a zip sent again replaces the earlier upload in its folder ---------------------------------------------------
def test_a_corrected_course_keeps_every_id_and_reads_again_only_what_changed(client, book, request):
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids, records, folders = source_ids(client), record_ids(client), upload_folders(client)
    reads = request.getfixturevalue("reads")
    again = sent(client, "course.zip", course(book, word="caseating", diagnosis="tuberculosis"))
    assert (again["status"], again["notes"]) == (
        "done",
        [f"{REPLACED} (read again from this upload: cases, tuberculosis.qmd; unchanged: book.pdf, week1.qmd)"],
    )
    assert again["done"] == again["total"] > 0, "the unchanged sources count as done"
    assert sorted(reads) == ["cases", "tuberculosis.qmd"]
    assert source_ids(client) == ids, "every source keeps its id"
    now = record_ids(client)
    assert {name: now[name] for name in ("book.pdf", "week1.qmd")} == {
        name: records[name] for name in ("book.pdf", "week1.qmd")
    }, "the unchanged sources keep their records"
    assert all(client.get(f"/records/{rid}").status_code == 200 for rid in records["book.pdf"])
    assert upload_folders(client) == folders, "the earlier upload's folder holds it, nothing else is left"
    hit = client.post("/search", json={"text": "caseating granulomas", "k": 1}).json()["hits"][0]
    assert hit["citation"]["source"] == "tuberculosis.qmd"


def test_a_deck_gone_from_the_course_is_removed_and_one_removed_since_comes_back_named(client, book):
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids = source_ids(client)
    assert client.delete(f"/sources/{ids['week1.qmd']}", headers=AUTH).status_code == 200
    again = sent(client, "course.zip", course(book, without="book.pdf"))
    assert (again["status"], again["notes"]) == (
        "done",
        [f"{REPLACED} (unchanged: cases, tuberculosis.qmd; back: week1.qmd; removed, not in this upload: book.pdf)"],
    )
    assert source_ids(client) == {name: ids[name] for name in ("cases", "tuberculosis.qmd", "week1.qmd")}


def test_a_corrected_course_whose_job_fails_leaves_the_earlier_upload_as_it_was(client, book, monkeypatch):
    """The deck fixed is committed before the case folder fails: read back from the earlier files, it has its earlier
    records again, and the earlier files are where they were."""
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids, records, folders = source_ids(client), record_ids(client), upload_folders(client)
    write = Indexer._write

    def failing(self, source, fingerprint):
        if display_name(source.key) == "cases":
            raise BadInputError("cases.jsonl: damaged")
        return write(self, source, fingerprint)

    monkeypatch.setattr(pipeline.Indexer, "_write", failing)
    again = sent(client, "course.zip", course(book, word="caseating", diagnosis="tuberculosis", without="book.pdf"))
    assert again["status"] == "failed" and "damaged" in again["error"], again
    assert (source_ids(client), record_ids(client)) == (ids, records)
    assert upload_folders(client) == folders
    (folder,) = folders
    assert (folder / "course" / "book.pdf").read_bytes() == book
    assert b"caseatng" in (folder / "course" / "notes" / "tuberculosis.qmd").read_bytes()


def test_a_restart_puts_back_the_earlier_upload_of_a_job_a_kill_cut_short(settings, book):
    """The killed run, as it leaves things: the new files swapped in, the fixed deck committed, its record running."""
    with TestClient(create_app(settings)) as client:
        assert sent(client, "course.zip", course(book))["status"] == "done"
        ids, (older,) = source_ids(client), upload_folders(client)
    folder = settings.home / "uploads" / "abcdef000000"
    claim = claim_upload(folder, settings.index_dir)
    (folder / "course.zip").write_bytes(course(book, word="caseating"))
    extract_zip(folder / "course.zip", folder / "course", 1 << 20, 100, settings)
    (folder / "course.zip").unlink()
    with Index.open(settings.index_dir, settings) as index:
        place = UploadFolder(settings.home / "uploads").in_place(index, folder, [folder / "course"])
        Indexer(index, show_progress=False).add([place.path / "notes" / "tuberculosis.qmd"])
    claim.release()
    job = Job("abcdef000000", "course.zip", [], status="running", upload=folder)
    JobRecords(settings.home / "jobs", settings.index_dir).save(job)
    with TestClient(create_app(settings)) as client:
        assert source_ids(client) == {name: ids[name] for name in ("book.pdf", "cases", "week1.qmd")}
        answer = client.get(f"/jobs/{job.id}").json()
    assert answer["status"] == "interrupted"
    assert answer["notes"] == [
        "rolled back at restart: the server stopped before this job ended, so what it had indexed of the upload was "
        "removed (the earlier upload of its name put back, less tuberculosis.qmd, whose earlier version was not read "
        "back); upload it again"
    ]
    assert b"caseatng" in (older / "course" / "notes" / "tuberculosis.qmd").read_bytes()
    assert not folder.exists()


def test_a_course_sent_again_while_its_last_correction_is_indexed_loses_nothing(client, book, monkeypatch):
    """The correction indexed in place keeps the marks of its files, and the earlier files aside, in its own folder: a
    zip of the name sent meanwhile replaces it, its files not left out as those of a zip not yet indexed."""
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids, swapped, go, add = source_ids(client), threading.Event(), threading.Event(), Indexer.add

    def held(self, paths, force=False):
        swapped.set()
        go.wait(30)
        return add(self, paths, force)

    monkeypatch.setattr(Indexer, "add", held)
    first = upload(client, "course.zip", course(book, word="caseating"))
    assert swapped.wait(30)
    second = upload(client, "course.zip", course(book, word="caseous"))
    go.set()
    assert (second.status_code, second.json().get("notes")) == (202, []), second.text
    assert [job_ended(client, job.json()["id"])["status"] for job in (first, second)] == ["done", "done"]
    assert source_ids(client) == ids


# -- 2. one deck sent alone under the name of a zip's ------------------------------------------------------------------
@pytest.mark.parametrize("headers", [AUTH, STUDENT], ids=["lecturer", "student"])
def test_a_deck_sent_alone_under_the_name_of_a_zips_deck_is_refused_naming_the_zip(client, book, headers):
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids, folders = source_ids(client), upload_folders(client)
    refused = upload(client, "tuberculosis.qmd", deck("caseating"), headers)
    assert refused.status_code == 409, refused.text
    held = ids["tuberculosis.qmd"]
    assert refused.json()["detail"] == (
        f"tuberculosis.qmd is the name of a source of course.zip (id {held}), already indexed: sent alone, it would be "
        f"a second source of that name, each cited otherwise; to replace it, send course.zip again holding it, or "
        f"remove that source first (DELETE /sources/{held})"
    )
    assert (source_ids(client), upload_folders(client)) == (ids, folders)


def test_a_pdf_sent_alone_under_the_name_of_a_book_indexed_from_disk_is_refused(settings, book, tmp_path):
    index_new(settings, make_pdf(tmp_path / "atlas.pdf", 1, "glomerulus"))
    with TestClient(create_app(settings)) as client:
        held = source_ids(client)["atlas.pdf"]
        refused = upload(client, "atlas.pdf", book)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        f"atlas.pdf is the name of an indexed source (id {held}): sent alone, it would be a second source of that "
        f"name, each cited otherwise; upload it under another name, or remove that source first "
        f"(DELETE /sources/{held})"
    )


def test_a_students_zip_never_changes_how_the_lecturers_sources_are_cited(client, book):
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids = source_ids(client)
    job = sent(client, "mine.zip", zipped(("tuberculosis.qmd", deck("miliary"))), STUDENT)
    assert (job["status"], job["error"]) == (
        "failed",
        "mine.zip holds tuberculosis.qmd, the name of an indexed source it does not replace: beside it, each would be "
        "cited otherwise; that needs the lecturer's token (PATHATLAS_API_TOKEN): rename it and upload again",
    )
    assert source_ids(client) == ids
