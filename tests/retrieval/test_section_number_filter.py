"""A section filter names a section by its number alone ("6.3" of "Chapter 6: Bone Tissue > 6.3 Bone Structure"), as
a chapter filter names a chapter by its number and the README names a section "whole or by its last parts, number
optional", where the number names one section. ``--filter section=6.3`` was refused, and the refusal offered that very
section as the closest. A number several books' sections hold is refused, listing them, as "Introduction" is."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from pathatlas.errors import UnknownSourceError
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher, resolve_filters
from tests.bench.test_question_files_and_labels import BOOKMARKS, STRUCTURE
from tests.helpers import hashing_settings, index_new, one_error_line, run_cli

JOINTS = [
    (1, "Chapter 9: Joints", "Joints connect bones."),
    (2, "9.3 Synovial Joints", "Synovial joints have a joint cavity filled with synovial fluid."),
    (2, "6.3 Cartilage", "Bone ends in synovial joints are covered by articular cartilage."),
]
"""A second book, one of whose sections has the number of the first's "6.3 Bone Structure"."""


def write_book(path: Path, bookmarks: list[tuple[int, str, str]]) -> Path:
    """A page per bookmark, each holding its text."""
    doc = pymupdf.open()
    for _, _, text in bookmarks:
        doc.new_page(width=300, height=300).insert_textbox(pymupdf.Rect(20, 20, 280, 280), text)
    doc.set_toc([[level, title, page] for page, (level, title, _) in enumerate(bookmarks, start=1)])
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Two indexes under it: ``bone`` of the bone book alone, ``both`` of it and the joints book."""
    root = tmp_path_factory.mktemp("sections")
    bone, joints = write_book(root / "bone.pdf", BOOKMARKS), write_book(root / "joints.pdf", JOINTS)
    index_new(hashing_settings(root, index=root / "bone"), bone)
    index_new(hashing_settings(root, index=root / "both"), bone, joints)
    return root


def resolved(root: Path, index: str, section: str) -> object:
    opened = Index.open(root / index, hashing_settings(root, index=root / index))
    try:
        return resolve_filters({"section": section}, opened)["section"]
    finally:
        opened.close()


@pytest.mark.parametrize("name", ["6.3", " 6.3 ", "Chapter 6: Bone Tissue > 6.3"])
def test_a_section_is_named_by_its_number(root, name):
    assert resolved(root, "bone", name) == STRUCTURE


def test_a_search_filtered_by_a_section_s_number_finds_its_pages(root):
    index = Index.open(root / "bone", hashing_settings(root, index=root / "bone"))
    hits = Searcher(index).search(Query(text="bone", filters={"section": "6.3"}))
    index.close()
    assert hits and {hit.payload.section for hit in hits} == {STRUCTURE}
    found = run_cli("search", "bone", "--index", root / "bone", "--filter", "section=6.3", "--json", home=root / "home")
    assert found.exit_code == 0, found.output
    assert {hit["section"] for hit in json.loads(found.output)} == {STRUCTURE}


def test_a_number_several_books_sections_hold_is_refused_listing_them(root):
    assert resolved(root, "both", "9.3") == "Chapter 9: Joints > 9.3 Synovial Joints", "one book's alone"
    with pytest.raises(UnknownSourceError) as refused:
        resolved(root, "both", "6.3")
    assert str(refused.value) == (
        f"section '6.3' names 2 sections in index {root / 'both'}: '{STRUCTURE}', 'Chapter 9: Joints > 6.3 "
        "Cartilage'; give its whole path"
    )
    searched = run_cli("search", "bone", "--index", root / "both", "--filter", "section=6.3", home=root / "home")
    one_error_line(searched, "section '6.3' names 2 sections", "give its whole path")


def test_a_number_no_section_holds_is_refused_as_before(root):
    with pytest.raises(UnknownSourceError, match=r"^no section '6\.9' in index"):
        resolved(root, "bone", "6.9")
    assert resolved(root, "bone", "Bone Structure") == STRUCTURE, "a title still names its section"
