"""A copy of indexed lecture notes is not indexed beside them: the command line skips it in one line naming the removal
that indexes it there instead (as it skips a copied PDF), POST /jobs refuses it alone (409, worded for notes) and
leaves a zip's copies of indexed PDFs and notes out, naming each twin in the job's notes, where every page or slide
would have been found twice. A zip member in a folder the walk does not enter (``README.md/``) is not unpacked but
named, and a PDF with bytes before its header sent as notes is refused at once (415). Hashing encoder, tiny files."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes.library import UPLOAD_TYPES_HINT
from pathatlas.ui.api.uploads import extract_zip, skipped_notes, type_problem
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new, one_error_line, run_cli
from tests.servers import job_ended
from tests.ui.test_cli_hints import between, hits_of, index_json, pasted
from tests.uploads import api_settings, held_upload, upload, zipped


def deck(word: str) -> bytes:
    """A two-slide deck whose second slide holds ``word``."""
    return f"## Granulomas\n\n- Langhans giant cells\n\n## Birds\n\n- the {word} is a bird\n".encode()


# -- 1. a copy of indexed notes, from the command line -----------------------------------------------------------------
def test_a_copied_notes_file_is_skipped_in_one_line_naming_the_removal_that_indexes_it_there(tmp_path):
    home, index = tmp_path / "home", tmp_path / "idx"
    mine = tmp_path / "week1.qmd"
    mine.write_bytes(deck("toucan"))
    assert index_json(mine, index=index, home=home)[0] == 0
    copy = tmp_path / "copies" / "copy-of-week1.qmd"
    copy.parent.mkdir()
    shutil.copy(mine, copy)

    refused = run_cli("index", copy.parent, "--index", index, home=home, COLUMNS="400")
    line = one_error_line(refused, f"{copy} is the same notes file as {mine}, already indexed: skipped")
    assert hits_of(index, home, "toucan bird") == ["week1.qmd p1", "week1.qmd p2"]  # each slide once

    removed = pasted(between(line, "instead, '", "' first"), home)
    assert removed.exit_code == 0, removed.output
    code, (report,) = index_json(copy, index=index, home=home)
    assert (code, report["status"]) == (0, "indexed"), report


@pytest.mark.parametrize("force", [False, True], ids=["unchanged", "forced"])
def test_notes_read_again_with_their_own_content_are_not_refused(tmp_path, force):
    home, index = tmp_path / "home", tmp_path / "idx"
    mine = tmp_path / "week1.qmd"
    mine.write_bytes(deck("toucan"))
    assert index_json(mine, index=index, home=home)[0] == 0
    code, (report,) = index_json(mine, index=index, home=home, force=force)
    assert (code, report["status"]) == (0, "indexed" if force else "unchanged"), report


# -- 2. notes whose bytes are indexed, uploaded alone or in a zip ------------------------------------------------------
@pytest.fixture
def client(tmp_path):
    """A service on an index of ``book.pdf`` and ``week1.qmd``, indexed from disk: (the client, the book's bytes)."""
    settings = api_settings(tmp_path)
    book, notes = make_pdf(tmp_path / "book.pdf", 1, "osteoid"), tmp_path / "week1.qmd"
    notes.write_bytes(deck("toucan"))
    index_new(settings, book, notes)
    with TestClient(create_app(settings)) as served:
        yield served, book.read_bytes()


def source_ids(client) -> dict[str, str]:
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def indexed(client, name: str, data: bytes) -> dict:
    response = upload(client, name, data)
    assert response.status_code == 202, response.text
    return job_ended(client, response.json()["id"])


def test_an_uploaded_copy_of_indexed_notes_is_refused_in_the_words_of_notes(client):
    client, _ = client
    refused = upload(client, "copy.qmd", deck("toucan"))
    notes_id = source_ids(client)["week1.qmd"]
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"copy.qmd is the same notes file as week1.qmd (id {notes_id}), already indexed: its slides would appear "
        f"twice; to index this upload in its place, remove that source first (DELETE /sources/{notes_id})",
    )


def test_a_zip_leaves_out_its_copies_of_indexed_pdfs_and_notes_and_of_its_own_files_naming_each_twin(client):
    client, book = client
    members = [
        ("course/handouts/book-copy.pdf", book),
        ("course/notes/w1-copy.qmd", deck("toucan")),
        ("course/week2.qmd", deck("hornbill")),
        ("course/week3.qmd", deck("hornbill")),
    ]
    job = indexed(client, "course.zip", zipped(*members))
    ids = source_ids(client)
    assert job["status"] == "done", job
    assert sorted(ids) == ["book.pdf", "week1.qmd", "week2.qmd"]
    assert job["notes"] == [
        f"left out course/handouts/book-copy.pdf: book-copy.pdf is the same file as book.pdf (id {ids['book.pdf']}), "
        f"already indexed: its pages would appear twice; to index the zip's copy instead, remove that source "
        f"(DELETE /sources/{ids['book.pdf']}) and send the zip again",
        f"left out course/notes/w1-copy.qmd: w1-copy.qmd is the same notes file as week1.qmd (id {ids['week1.qmd']}), "
        f"already indexed: its slides would appear twice; to index the zip's copy instead, remove that source "
        f"(DELETE /sources/{ids['week1.qmd']}) and send the zip again",
        "left out course/week3.qmd: week3.qmd is the same notes file as course/week2.qmd of this zip: its slides "
        "would appear twice",
    ]
    birds = [hit["citation"]["label"] for hit in client.post("/search", json={"text": "bird", "k": 10}).json()["hits"]]
    assert sorted(label for label in birds if label.endswith("slide 2")) == ["week1.qmd, slide 2", "week2.qmd, slide 2"]


def test_a_zip_sent_again_under_its_name_keeps_its_own_files(client):
    client, _ = client
    assert indexed(client, "course.zip", zipped(("course/week2.qmd", deck("hornbill"))))["status"] == "done"
    again = indexed(client, "course.zip", zipped(("course/week2.qmd", deck("hornbill"))))
    assert (again["status"], again["notes"]) == (
        "done",
        [  # its own file is no copy of another source: the same bytes again are left as indexed, not read again
            "course.zip: already indexed, unchanged: the earlier upload of this name is kept as it was, nothing read "
            "again (week2.qmd)"
        ],
    )
    assert sorted(source_ids(client)) == ["book.pdf", "week1.qmd", "week2.qmd"]


def test_a_zip_leaves_out_its_copy_of_an_upload_not_yet_indexed(tmp_path, monkeypatch):
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        job_id, go = held_upload(client, tmp_path, monkeypatch)
        try:
            atlas = (tmp_path / "atlas.pdf").read_bytes()
            sent = upload(client, "course.zip", zipped(("c/atlas.pdf", atlas), ("c/week2.qmd", deck("kiwi"))))
        finally:
            go.set()
        assert sent.status_code == 202, sent.text
        assert sent.json()["notes"] == [
            f"left out c/atlas.pdf: atlas.pdf is the same file as atlas.pdf (job {job_id}), not yet indexed: its "
            "pages would appear twice"
        ]


# -- 3. a zip's folder the walk does not enter; a PDF named as notes ---------------------------------------------------
def test_a_zip_member_in_a_folder_named_readme_md_is_not_unpacked_but_named(tmp_path):
    archive = tmp_path / "course.zip"
    members = [("course/README.md/slides.pdf", b"%PDF-1.7\n"), ("course/README.md/build.txt", b"make")]
    archive.write_bytes(zipped(*members, ("course/week1.qmd", deck("toucan"))))
    skipped = extract_zip(archive, tmp_path / "course", 1 << 20, 10, api_settings(tmp_path))
    assert skipped == ["course/README.md/slides.pdf", "course/README.md/build.txt"]
    assert not (tmp_path / "course" / "course" / "README.md").exists()
    assert skipped_notes(skipped) == [
        "course/README.md/slides.pdf, course/README.md/build.txt: not indexed, being in a folder named as a README, "
        "licence or Quarto partial, which a folder's walk does not enter; rename the folder to index what it holds"
    ]


@pytest.mark.parametrize("junk", [66, 2000], ids=["in-the-first-kilobyte", "past-it"])
def test_a_pdf_behind_other_bytes_named_md_is_refused_at_once_in_one_line(tmp_path, junk):
    book = make_pdf(tmp_path / "book.pdf", 1, "osteoid").read_bytes()
    with TestClient(create_app(api_settings(tmp_path))) as client:
        refused = upload(client, "slides.md", b"X" * (junk - 2) + b"\r\n" + book)
    assert (refused.status_code, refused.json()["detail"]) == (
        415,
        f"slides.md is not Markdown or Quarto text (it is a PDF after {junk} bytes of other data): {UPLOAD_TYPES_HINT}",
    )
    assert not list((tmp_path / "home" / "uploads").glob("*/*")), "nothing of it is kept"


def test_notes_that_name_the_pdf_header_in_their_words_are_taken(tmp_path):
    notes = tmp_path / "formats.md"
    notes.write_bytes(b"## File formats\n\n- a PDF begins with `%PDF-1.7` and ends with `%%EOF`\n")
    assert type_problem(notes, "formats.md") is None
