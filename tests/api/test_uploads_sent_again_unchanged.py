"""An upload of the very bytes the earlier upload of its name holds, indexed unchanged (a student sending the same PDF
again after a reload), is done at once, nothing read again: its job had read the whole file and replaced the earlier
upload by its copy. Other bytes under the name still replace it; the same bytes under another name are still refused
(409); a zip whose member left out then is now indexable is read again. Hashing encoder."""

from __future__ import annotations

import pytest
from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.indexer.sources import PdfSource
from pathatlas.ui.bench_crash import make_pdf
from tests.api.test_upload_duplicates import case_zip
from tests.helpers import png_bytes
from tests.servers import job_ended
from tests.uploads import book_service, held_upload, indexed, sources, upload, zipped

REPLACED = "atlas.pdf: replaced the earlier upload of this name (read again from this upload: atlas.pdf)"
UNCHANGED = "already indexed, unchanged: the earlier upload of this name is kept as it was, nothing read again"


@pytest.fixture
def client(tmp_path):
    """A service on an index of one two-page book, indexed from disk."""
    with book_service(tmp_path, "osteoid") as served:
        yield served


def generation(client) -> int:
    return client.app.state.engine.index.generation.number


def upload_folders(client) -> list[str]:
    return sorted(folder.name for folder in client.app.state.jobs.uploads.path.iterdir())


@pytest.fixture
def nothing_read(monkeypatch):
    """Any source an indexer reads from here on fails the test."""

    def read(self, source, fingerprint):
        raise AssertionError(f"{source.key} was read again")

    monkeypatch.setattr(pipeline.Indexer, "_write", read)


def test_the_same_pdf_sent_again_under_its_name_is_done_at_once_and_keeps_the_earlier_upload(client, tmp_path, request):
    book = make_pdf(tmp_path / "atlas.pdf", 2, "haversian").read_bytes()
    assert indexed(client, "atlas.pdf", book)["status"] == "done"
    held, folders, committed = sources(client), upload_folders(client), generation(client)
    request.getfixturevalue("nothing_read")
    again = upload(client, "atlas.pdf", book)
    assert again.status_code == 202, again.text
    job = again.json()
    assert (job["status"], job["notes"]) == ("done", [f"atlas.pdf: {UNCHANGED} (atlas.pdf)"]), "answered done at once"
    assert client.get(f"/jobs/{job['id']}").json() == job, "recorded as any job"
    assert job["id"] in [listed["id"] for listed in client.get("/jobs").json()]
    assert sources(client) == held, "the same sources, ids and all"
    assert upload_folders(client) == folders, "the earlier upload stays, nothing of the new one is kept"
    assert generation(client) == committed, "nothing committed"


def test_other_bytes_under_the_name_still_replace_it(client, tmp_path):
    assert indexed(client, "atlas.pdf", make_pdf(tmp_path / "a.pdf", 2, "haversian").read_bytes())["status"] == "done"
    other = indexed(client, "atlas.pdf", make_pdf(tmp_path / "b.pdf", 2, "lacunae").read_bytes())
    assert other["notes"] == [REPLACED]


def test_the_same_bytes_under_another_name_are_still_refused(client, tmp_path):
    book = make_pdf(tmp_path / "atlas.pdf", 2, "haversian").read_bytes()
    assert indexed(client, "atlas.pdf", book)["status"] == "done"
    refused = upload(client, "atlas (1).pdf", book)
    assert refused.status_code == 409 and refused.json()["detail"].startswith("atlas (1).pdf is the same file as ")


def test_the_same_case_zip_sent_again_is_done_at_once_naming_its_case_folders(client, request):
    cases = case_zip("myc", "sarc")
    assert indexed(client, "atlas.zip", cases)["status"] == "done"
    held = sources(client)
    request.getfixturevalue("nothing_read")
    job = upload(client, "atlas.zip", cases).json()
    assert (job["status"], job["notes"]) == ("done", [f"atlas.zip: {UNCHANGED} (myc, sarc)"])
    assert sources(client) == held


def test_a_source_the_earlier_upload_lost_is_read_again(client):
    """One of the zip's case folders removed since: the zip sent again indexes it, as before."""
    cases = case_zip("myc", "sarc")
    assert indexed(client, "atlas.zip", cases)["status"] == "done"
    assert client.delete(f"/sources/{sources(client)['sarc']}").status_code == 200
    again = indexed(client, "atlas.zip", cases)
    assert again["notes"] == ["atlas.zip: replaced the earlier upload of this name (read again from this upload: myc)"]
    assert sorted(sources(client)) == ["book.pdf", "myc", "sarc"]


def test_a_member_left_out_then_and_indexable_now_is_read_again(client, tmp_path):
    """The zip's PDF was left out as a copy of an indexed book; that book removed, the same zip indexes it."""
    book = make_pdf(tmp_path / "atlas.pdf", 2, "haversian").read_bytes()
    assert indexed(client, "atlas.pdf", book)["status"] == "done"
    course = zipped(("c/atlas.pdf", book), ("c/w1.md", b"# Bone\n\nOsteoid is laid down first."))
    first = indexed(client, "course.zip", course)
    assert first["status"] == "done" and first["notes"][0].startswith("left out c/atlas.pdf: "), first
    assert client.delete(f"/sources/{sources(client)['atlas.pdf']}").status_code == 200
    again = indexed(client, "course.zip", course)
    assert again["status"] == "done" and again["notes"][0].startswith("course.zip: replaced the earlier upload"), again
    assert sorted(sources(client)) == ["atlas.pdf", "book.pdf", "w1.md"]


def test_a_pdf_a_newer_reader_reads_otherwise_is_read_again(client, tmp_path, monkeypatch):
    """``pathatlas index`` reads it again (its fingerprint hashes its reader's version), and so does its upload."""
    book = make_pdf(tmp_path / "atlas.pdf", 2, "haversian").read_bytes()
    assert indexed(client, "atlas.pdf", book)["status"] == "done"
    monkeypatch.setattr(PdfSource, "records_version", PdfSource.records_version + 1)
    again = indexed(client, "atlas.pdf", book)
    assert again["notes"] == [REPLACED]


def test_the_same_bytes_sent_while_another_upload_of_the_name_is_indexed_are_read_again(client, tmp_path, monkeypatch):
    """Whichever job ends last is kept: answered done at once, this upload would lose to the other."""
    book = make_pdf(tmp_path / "atlas.pdf", 1, "haversian").read_bytes()
    assert indexed(client, "atlas.pdf", book)["status"] == "done"
    (held := tmp_path / "held").mkdir()
    job_id, go = held_upload(client, held, monkeypatch)  # another atlas.pdf, its job running until ``go``
    again = upload(client, "atlas.pdf", book).json()
    go.set()
    assert again["status"] == "queued", again
    assert [job_ended(client, job)["status"] for job in (job_id, again["id"])] == ["done", "done"]


def test_the_problems_its_sources_were_indexed_with_are_noted_again(client):
    """As ``pathatlas index`` reports an unchanged source with the problems it was indexed with."""
    rows = b'{"image": "a.png", "diagnosis": "myc"}\n{"image": "gone.png", "diagnosis": "sarc"}\n'
    cases = zipped(("myc/cases.jsonl", rows), ("myc/a.png", png_bytes(Image.new("RGB", (48, 48), (150, 40, 90)))))
    first = indexed(client, "atlas.zip", cases)
    assert first["status"] == "done" and first["notes"], first
    again = upload(client, "atlas.zip", cases).json()
    assert again["notes"] == [f"atlas.zip: {UNCHANGED} (myc)", *first["notes"]], again
