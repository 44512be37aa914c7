"""Lecture notes (``.md``, ``.qmd``, ``.markdown``) are uploaded through ``POST /jobs`` as a PDF is: one file a source,
cited by file and slide, replaced by an upload of its name (the upload token only with the same bytes), refused at
once (415) where the file is binary; a zip's notes are indexed beside its PDFs, its README and licence
left out as a folder's walk leaves them out. Hashing encoder, tiny files."""

from __future__ import annotations

import codecs

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes.library import UPLOAD_TYPES_HINT
from pathatlas.ui.api.uploads import extract_zip, skipped_notes
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import png_bytes
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, upload, zipped

STUDENT = {"Authorization": "Bearer stud3nt"}
PNG = png_bytes(Image.new("RGB", (8, 8), (150, 40, 90)))


def deck(word: str) -> bytes:
    """A two-slide deck whose second slide holds ``word``."""
    return f"## Granulomas\n\n- Langhans giant cells\n\n## Birds\n\n- the {word} is a bird\n".encode()


@pytest.fixture
def client(tmp_path):
    settings = api_settings(tmp_path, api_token=TOKEN, upload_token="stud3nt")
    with TestClient(create_app(settings)) as served:
        yield served


def indexed(client, name: str, data: bytes, headers: dict = AUTH) -> dict:
    response = upload(client, name, data, headers)
    assert response.status_code == 202, response.text
    return job_ended(client, response.json()["id"])


def top_label(client, words: str) -> str:
    found = client.post("/search", json={"text": words, "k": 3})
    assert found.status_code == 200, found.text
    return found.json()["hits"][0]["citation"]["label"]


def sources(client) -> list[tuple[str, str]]:
    return sorted((source["source"], source["kind"]) for source in client.get("/sources").json())


def test_an_uploaded_qmd_is_indexed_and_found_citing_its_slide(client):
    assert indexed(client, "week1.qmd", deck("toucan"))["status"] == "done"
    assert sources(client) == [("week1.qmd", "notes")]
    assert top_label(client, "toucan bird") == "week1.qmd, slide 2"
    assert top_label(client, "Langhans giant cells") == "week1.qmd, slide 1"


def test_a_notes_file_sent_again_under_its_name_replaces_it(client):
    indexed(client, "week1.md", deck("toucan"))
    again = indexed(client, "week1.md", deck("hornbill"))
    assert again["status"] == "done", again
    replaced = "week1.md: replaced the earlier upload of this name (read again from this upload: week1.md)"
    assert replaced in again["notes"]
    assert sources(client) == [("week1.md", "notes")]
    hit = client.post("/search", json={"text": "bird", "k": 1}).json()["hits"][0]
    assert "hornbill" in hit["snippet"] and "toucan" not in hit["snippet"]


def test_the_same_notes_under_another_name_are_refused_as_a_pdf_is(client):
    indexed(client, "week1.qmd", deck("toucan"))
    refused = upload(client, "copy.qmd", deck("toucan"))
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("copy.qmd is the same notes file as week1.qmd (id ")
    assert "its slides would appear twice" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (PNG, "is not Markdown or Quarto text (it begins as a PNG image does)"),
        (zipped(("week1.md", b"## A\n\nwords\n")), "is not Markdown or Quarto text (it begins as a zip file does)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is a PDF, not Markdown or Quarto text"),
        (
            b"## A\n\nwords\x00\x01\x02",
            "is not Markdown or Quarto text (it holds binary data: a NUL byte in its first ",
        ),
        (b"", "is empty (0 bytes), not Markdown or Quarto text"),
    ],
    ids=["png", "zip", "pdf", "nul", "empty"],
)
def test_a_binary_file_named_md_is_refused_at_once_in_one_line(client, tmp_path, content, said):
    refused = upload(client, "slides.md", content)
    assert refused.status_code == 415, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"slides.md {said}") and detail.endswith(f": {UPLOAD_TYPES_HINT}")
    assert "\n" not in detail
    assert not list((tmp_path / "home" / "uploads").glob("*/*")), "nothing of it is kept"


def test_utf16_notes_are_taken_and_their_job_says_the_readers_line(client):
    """UTF-16 text holds NUL bytes, but is text: the notes reader says how to save it."""
    failed = indexed(client, "week1.md", codecs.BOM_UTF16_LE + "## A\n\nwords\n".encode("utf-16-le"))
    assert (failed["status"], failed["error"]) == ("failed", "week1.md is UTF-16 text: save it as UTF-8")


def test_a_zipped_course_folder_indexes_its_notes_and_pdfs_and_leaves_out_its_readme(client, tmp_path):
    book = make_pdf(tmp_path / "book.pdf", 1, "osteoid").read_bytes()
    members = [
        ("course/README.md", b"## About\n\n- how to build the kingfisher course\n"),
        ("course/LICENSE.md", b"## Licence\n\n- kingfisher licence words\n"),
        ("course/_partial.qmd", b"## Part\n\n- kingfisher partial words\n"),
        ("course/week1.qmd", deck("toucan") + b"\n{{< include _partial.qmd >}}\n"),
        ("course/handouts/book.pdf", book),
    ]
    job = indexed(client, "course.zip", zipped(*members))
    assert job["status"] == "done", job
    assert sources(client) == [("book.pdf", "pdf"), ("week1.qmd", "notes")]
    assert top_label(client, "toucan bird") == "week1.qmd, slide 2"
    assert job["notes"] == [
        "course/README.md, course/LICENSE.md: not indexed, being a folder's README or licence, which a folder's walk "
        "leaves out; upload one on its own to index it"
    ]
    hits = client.post("/search", json={"text": "kingfisher", "k": 5}).json()["hits"]
    assert [(hit["citation"]["label"], hit["snippet"]) for hit in hits if "kingfisher" in hit["snippet"]] == [
        ("week1.qmd, slide 3", "Part · kingfisher partial words")
    ], "the partial is read where week1.qmd includes it, and alone nowhere"


def test_a_zipped_quarto_project_reads_its_decks_includes_from_the_project_root(client):
    """A deck in ``slides/`` including ``/_part.qmd`` and ``../_more.qmd`` reads them from the folder holding
    ``_quarto.yml``, as Quarto does: the project file is unpacked with the zip (it was left out as unread)."""
    members = [
        ("course/_quarto.yml", b"project:\n  type: website\n"),
        ("course/_part.qmd", b"## Part\n\n- kingfisher partial words\n"),
        ("course/_more.qmd", b"## More\n\n- hornbill partial words\n"),
        ("course/slides/week1.qmd", deck("toucan") + b"\n{{< include /_part.qmd >}}\n\n{{< include ../_more.qmd >}}\n"),
    ]
    job = indexed(client, "course.zip", zipped(*members))
    assert (job["status"], job["notes"]) == ("done", []), job
    assert top_label(client, "kingfisher partial") == "week1.qmd, slide 3"
    assert top_label(client, "hornbill partial") == "week1.qmd, slide 4"


def test_notes_inside_a_zipped_case_folder_are_left_out_as_its_pdfs_are(tmp_path):
    archive = tmp_path / "atlas.zip"
    case = [("cases/labels.csv", b"image,case\na.png,C-1\n"), ("cases/a.png", PNG)]
    archive.write_bytes(zipped(*case, ("cases/week1.qmd", deck("toucan")), ("week2.markdown", deck("hornbill"))))
    skipped = extract_zip(archive, tmp_path / "atlas", 1 << 20, 10, api_settings(tmp_path))
    assert skipped == ["cases/week1.qmd"]
    assert (tmp_path / "atlas" / "week2.markdown").is_file()
    assert skipped_notes(skipped) == [
        "cases/week1.qmd: a notes file inside a case folder is not indexed; upload it on its own"
    ]


def test_the_upload_token_replaces_notes_only_with_the_same_bytes(client):
    indexed(client, "week1.qmd", deck("toucan"))
    refused = upload(client, "week1.qmd", deck("hornbill"), STUDENT)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(
        "week1.qmd is the name of an indexed upload: replacing it needs the lecturer's token"
    )
    assert indexed(client, "week1.qmd", deck("toucan"), STUDENT)["status"] == "done", "the same file sent again"
    assert indexed(client, "week2.qmd", deck("hornbill"), STUDENT)["status"] == "done", "a new name adds"
    assert sources(client) == [("week1.qmd", "notes"), ("week2.qmd", "notes")]


def test_a_zipped_quarto_course_leaves_out_its_front_matter_only_index_and_indexes_the_rest(client):
    """A Quarto course holds an ``index.qmd`` of front matter alone: it failed the whole zip, where ``pathatlas index``
    of the folder fails that file alone."""
    members = (("course/index.qmd", b"---\ntitle: Pathology 101\n---\n"), ("course/week1.qmd", deck("toucan")))
    job = indexed(client, "quarto.zip", zipped(*members))
    assert job["status"] == "done", job["error"]
    assert any(note.startswith("left out course/index.qmd: index.qmd holds no words") for note in job["notes"])
    assert top_label(client, "toucan bird") == "week1.qmd, slide 2"
