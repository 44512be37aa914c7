"""A book is cited by its title, as a reader cites it: the A&P book's hits said "book.pdf, p. 13" although its PDF
names it "Anatomy and Physiology 2e". Titles PDF writers leave by default ("Microsoft Word - L04.docx") are no
titles."""

from __future__ import annotations

import json

import pymupdf
import pytest

from pathatlas.retrieval.records import Citation, book_title
from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Anatomy and Physiology 2e", "Anatomy and Physiology 2e"),
        ("  Robbins   Basic Pathology ", "Robbins Basic Pathology"),
        ("Microsoft Word - L04_final.docx", None),
        ("Untitled", None),
        ("Slide 1", None),
        ("lecture4.pptx", None),
        ("L04 notes", None),  # the file's name again
        ("", None),
        (None, None),
        ("x" * 400, None),
    ],
)
def test_a_metadata_title_is_shown_only_where_it_tells_more_than_the_file(title, shown):
    assert book_title(title, "/srv/books/L04_notes.pdf") == shown


def lecture(root, name: str, title: str | None):
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 400), "Koilocytes in cervical epithelium.", fontsize=11)
    if title is not None:
        doc.set_metadata({"title": title})
    doc.save(root / name)
    result = run_cli("index", root / name, "--index", root / "idx", home=root / "home")
    assert result.exit_code == 0, result.output


def searched(root) -> dict:
    result = run_cli("search", "koilocytes", "--index", root / "idx", "--json", home=root / "home")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)[0]["citation"]


def test_a_titled_book_is_cited_by_its_title_and_its_file(tmp_path):
    lecture(tmp_path, "book.pdf", "Atlas of Gynecologic Pathology")
    citation = searched(tmp_path)
    assert citation["label"].startswith("Atlas of Gynecologic Pathology (book.pdf), p. 1")
    assert citation["book"] == "Atlas of Gynecologic Pathology"
    assert citation["source"] == "book.pdf"
    assert Citation.from_dict(citation).to_dict() == citation


def test_an_untitled_lecture_is_cited_by_its_file_as_before(tmp_path):
    lecture(tmp_path, "L04.pdf", "Microsoft Word - L04.docx")
    citation = searched(tmp_path)
    assert citation["label"].startswith("L04.pdf, p. 1")
    assert citation["book"] is None
