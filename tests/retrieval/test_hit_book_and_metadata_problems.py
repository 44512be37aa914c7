"""A hit names its book as its citation does: an untitled PDF's hit said "book": "L04" (its file's stem, or a
placeholder title) beside ``citation.book`` null."""

from __future__ import annotations

import json

import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import read_case_metadata
from tests.helpers import run_cli
from tests.indexer.test_case_metadata_spreadsheets import cases_of, folder
from tests.retrieval.test_citation_titles import lecture


@pytest.mark.parametrize(
    ("title", "book"),
    [
        (None, None),
        ("Microsoft Word - L04.docx", None),
        ("Atlas of Gynecologic Pathology", "Atlas of Gynecologic Pathology"),
    ],
)
def test_a_hits_book_is_its_citations(tmp_path, title, book):
    lecture(tmp_path, "L04.pdf", title)
    result = run_cli("search", "koilocytes", "--index", tmp_path / "idx", "--json", home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    hit = json.loads(result.output)[0]
    assert hit["book"] == hit["citation"]["book"] == book


def test_a_case_folders_misnamed_columns_are_among_its_problems(tmp_path):
    """A sheet headed "Case ID" and "Organs" was read as two cases labelled so, silently: the folder's problems
    (``pathatlas index``'s list, ``info --problems``) now name each column once."""
    path = folder(
        tmp_path / "sheet",
        "labels.csv",
        "Image,Case ID,Diagnosis,Organs\na.jpg,BS1,angiosarcoma,spleen\nb.jpg,BS1,angiosarcoma,spleen\n",
        ("a.jpg", "b.jpg"),
    )
    _, problems = cases_of(path, tmp_path)
    assert [p.split(": ", 1)[1] for p in problems if "did you mean" in p] == [
        "column 'Case ID' kept as a label; did you mean 'case'?",
        "column 'Organs' kept as a label; did you mean 'organ'?",
    ]


def test_a_bad_byte_on_a_first_line_with_excels_byte_order_mark_is_the_one_named(tmp_path):
    """Counted past the mark ("CSV UTF-8" writes it), the offset named the byte three further on: "0x61" for an "a"."""
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbfimage,case\xff\na.jpg,C1\n")
    with pytest.raises(BadInputError, match=r"is not UTF-8 text \(line 1, byte 0xff\)"):
        read_case_metadata(path)
