"""A folder walk leaves out the notes files of a folder whose name begins with ``_``, as Quarto renders none of them
(``_partials/``, ``_extensions/``, its ``_book/`` output), and indexes the PDFs and case folders there as anywhere; a
zip upload unpacks such notes for the decks including them, indexes none alone and names none as left out. Notes
teaching a PDF's structure with a whole small PDF in a code block are taken, where a PDF after other bytes named as
notes is refused. Hashing encoder, tiny files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.sources import discover
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.uploads import CHUNK, mupdf_opens, type_problem, utf8_text
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, png_bytes, run_cli
from tests.servers import job_ended
from tests.ui.test_cli_hints import index_json
from tests.uploads import api_settings, upload, zipped

DECK = b"## Granulomas\n\n- Langhans giant cells\n\n## Birds\n\n- the toucan is a bird\n"
INCLUDES = b"\n{{< include _partials/refs.qmd >}}\n\n{{< include _partials/logo.qmd >}}\n\n{{< include _logo.qmd >}}\n"
REFS = b"## References\n\n- kingfisher reference words\n"
LOGO = b"![](logo.png)\n"
"""A partial with no words of its own: a reader alone says it holds none."""


def course_files(root: Path) -> dict[str, bytes]:
    """A Quarto course's files (path in ``root``: bytes): a deck including a partial and two of ``_partials/``, notes in
    ``_`` folders no deck includes (an extension's template, a rendered copy in ``_book/``), and a PDF in ``_archive/``
    and in ``_book/``, Quarto's rendered book."""
    return {
        "week1.qmd": DECK + INCLUDES,
        "_partials/refs.qmd": REFS,
        "_partials/logo.qmd": LOGO,
        "_logo.qmd": LOGO,
        "_extensions/course/template.qmd": b"## Template\n\n- a slide template's words\n",
        "_book/week1.md": DECK,
        "_archive/old.pdf": make_pdf(root / "made" / "old.pdf", 1, "osteoid").read_bytes(),
        "_book/course.pdf": make_pdf(root / "made" / "course.pdf", 1, "chondroid").read_bytes(),
    }


CASES = {"_cases/labels.csv": b"image,case\na.png,C-1\n", "_cases/a.png": png_bytes(Image.new("RGB", (48, 48), "red"))}


def written(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def found(paths: list[Path], root: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """What ``discover`` finds in ``paths``: (its path in ``root``, its kind), sorted."""
    sources = discover(paths, hashing_settings(tmp_path))
    return sorted((source.path.relative_to(root).as_posix(), source.kind) for source in sources)


# -- 1. a folder walk --------------------------------------------------------------------------------------------------
def test_a_walk_leaves_out_notes_in_underscore_folders_and_indexes_their_pdfs_and_case_folders(tmp_path):
    course = written(tmp_path / "course", {**course_files(tmp_path), **CASES})
    assert found([course], course, tmp_path) == [
        ("_archive/old.pdf", "pdf"),
        ("_book/course.pdf", "pdf"),
        ("_cases", "cases"),
        ("week1.qmd", "notes"),
    ]


def test_notes_named_on_their_own_or_in_a_named_underscore_folder_are_indexed(tmp_path):
    """Only folders the walk enters count: the folder named, and those above it, are the user's choice."""
    terms = tmp_path / "_terms"
    course = written(terms / "course", course_files(tmp_path))
    assert found([course / "_partials" / "refs.qmd"], course, tmp_path) == [("_partials/refs.qmd", "notes")]
    assert found([course / "_partials"], course, tmp_path) == [
        ("_partials/logo.qmd", "notes"),
        ("_partials/refs.qmd", "notes"),
    ]
    from_above = found([terms], course, tmp_path)
    assert ("week1.qmd", "notes") in from_above and from_above == found([course], course, tmp_path)


def test_pathatlas_index_of_a_course_reads_a_partial_folder_only_where_a_deck_includes_it(tmp_path):
    course = written(tmp_path / "course", course_files(tmp_path))
    code, reports = index_json(course, index=tmp_path / "idx", home=tmp_path / "home")
    assert code == 0, reports
    assert sorted(Path(report["source"]).name for report in reports) == ["course.pdf", "old.pdf", "week1.qmd"]
    result = run_cli("search", "kingfisher reference", "--index", tmp_path / "idx", "--k", 1, home=tmp_path / "home")
    assert "week1.qmd, slide 3" in result.output, result.output


# -- 2. a zip upload ---------------------------------------------------------------------------------------------------
def test_a_zipped_course_unpacks_its_underscore_folders_notes_for_its_deck_and_names_none_left_out(tmp_path):
    members = {f"course/{name}": data for name, data in {**course_files(tmp_path), **CASES}.items()}
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job = job_ended(client, upload(client, "course.zip", zipped(*members.items())).json()["id"])
        assert (job["status"], job["notes"]) == ("done", []), job
        sources = sorted((source["source"], source["kind"]) for source in client.get("/sources").json())
        hit = client.post("/search", json={"text": "kingfisher reference", "k": 1}).json()["hits"][0]
    assert sources == [("_cases", "cases"), ("course.pdf", "pdf"), ("old.pdf", "pdf"), ("week1.qmd", "notes")]
    assert hit["citation"]["label"] == "week1.qmd, slide 3"


# -- 3. a PDF inside notes ---------------------------------------------------------------------------------------------
SMALL_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
TEACHING = b"## PDF internals\n\nA file begins:\n\n```\n%s```\n"
BINARY_LINE = b"%\xe2\xe3\xcf\xd3\n"
"""The comment of high bytes a PDF writer puts after the header, so that tools take the file as binary."""


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (SMALL_PDF, None),
        (SMALL_PDF.replace(b"\n", b"\n" + BINARY_LINE, 1), "it is a PDF after 38 bytes of other data"),
    ],
    ids=["text", "binary"],
)
def test_notes_holding_a_small_pdf_as_text_are_taken_and_a_binary_pdf_after_them_is_refused(tmp_path, code, problem):
    notes = tmp_path / "pdf-internals.md"
    notes.write_bytes(TEACHING % code)
    assert mupdf_opens(notes), "MuPDF opens both as a PDF"
    said = type_problem(notes, notes.name)
    assert said == (problem and f"pdf-internals.md is not Markdown or Quarto text ({problem})")


def test_an_uploaded_lesson_on_pdf_structure_is_indexed_and_found(tmp_path):
    with TestClient(create_app(api_settings(tmp_path))) as client:
        taken = upload(client, "pdf-internals.md", TEACHING % SMALL_PDF)
        assert taken.status_code == 202, taken.text
        assert job_ended(client, taken.json()["id"])["status"] == "done"
        hit = client.post("/search", json={"text": "Catalog MediaBox", "k": 1}).json()["hits"][0]
    assert hit["citation"]["label"] == "pdf-internals.md, slide 1"


@pytest.mark.parametrize(
    ("ending", "text"),
    [("é".encode(), True), ("é".encode()[:1], False), (b"\0", False)],
    ids=["a-character-across-chunks", "cut-off", "nul"],
)
def test_utf8_text_reads_the_file_a_chunk_at_a_time_as_one_text(tmp_path, ending, text):
    path = tmp_path / "notes.md"
    path.write_bytes(b"a" * (CHUNK - 1) + ending)
    assert utf8_text(path) is text
