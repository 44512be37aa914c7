"""A section filter names a section by its number alone ("6.3" of "Chapter 6: Bone Tissue > 6.3 Bone Structure"), as
a chapter filter names a chapter by its number and the README names a section "whole or by its last parts, number
optional", where the number names one section. ``--filter section=6.3`` was refused, and the refusal offered that very
section as the closest. A number several books' sections hold is refused, listing them, as "Introduction" is; beside a
source or chapter filter, a section is named among that source's or chapter's sections (it was refused as naming
several, the filter telling them apart looked at only after)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pymupdf
import pytest

from pathatlas.errors import UnknownSourceError
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import CLOSEST, Query, Searcher, resolve_filters
from tests.bench.test_question_files_and_labels import BOOKMARKS, STRUCTURE
from tests.helpers import hashing_settings, index_new, one_error_line, run_cli

JOINTS = [
    (1, "Chapter 9: Joints", "Joints connect bones."),
    (2, "9.3 Synovial Joints", "Synovial joints have a joint cavity filled with synovial fluid."),
    (2, "6.3 Cartilage", "Bone ends in synovial joints are covered by articular cartilage."),
]
"""A second book, one of whose sections has the number of the first's "6.3 Bone Structure"."""
CARTILAGE = "Chapter 9: Joints > 6.3 Cartilage"
BONE_INTRODUCTION = "Chapter 6: Bone Tissue > Introduction"


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


def resolved_filters(root: Path, index: str, filters: dict[str, str]) -> dict[str, object]:
    opened = Index.open(root / index, hashing_settings(root, index=root / index))
    try:
        return resolve_filters(filters, opened)
    finally:
        opened.close()


def resolved(root: Path, index: str, section: str) -> object:
    return resolved_filters(root, index, {"section": section})["section"]


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


def test_a_number_two_books_hold_names_the_one_of_the_source_asked_for(root):
    joints = resolved_filters(root, "both", {"section": "6.3", "source": "joints.pdf"})
    assert joints["section"] == CARTILAGE
    assert resolved_filters(root, "both", {"section": " 6.3 ", "source": "bone.pdf"})["section"] == STRUCTURE
    index = Index.open(root / "both", hashing_settings(root, index=root / "both"))
    hits = Searcher(index).search(Query(text="bone cartilage", filters={"section": "6.3", "source": "joints.pdf"}))
    index.close()
    assert hits and {(hit.payload.source, hit.payload.section) for hit in hits} == {(joints["source"], CARTILAGE)}
    filters = ["--filter", "section=6.3", "--filter", "source=bone.pdf"]
    found = run_cli("search", "bone", "--index", root / "both", *filters, "--json", home=root / "home")
    assert found.exit_code == 0, found.output
    assert {hit["section"] for hit in json.loads(found.output)} == {STRUCTURE}


def test_a_title_each_chapter_holds_names_the_one_of_the_chapter_asked_for(root):
    in_chapter = resolved_filters(root, "bone", {"chapter": "6", "section": "Introduction"})
    assert in_chapter == {"section": [BONE_INTRODUCTION]}
    asked = {"chapter": "Chapter 6", "section": "introduction", "source": "bone.pdf"}
    assert resolved_filters(root, "both", asked)["section"] == [BONE_INTRODUCTION]
    index = Index.open(root / "bone", hashing_settings(root, index=root / "bone"))
    hits = Searcher(index).search(Query(text="bone tissue", filters={"chapter": "6", "section": "Introduction"}))
    index.close()
    assert hits and {hit.payload.section for hit in hits} == {BONE_INTRODUCTION}
    with pytest.raises(UnknownSourceError) as refused:
        resolved_filters(root, "both", {"section": "Introduction", "source": "bone.pdf"})  # both chapters' are its
    assert str(refused.value) == (
        f"section 'Introduction' names 2 sections in source 'bone.pdf' in index {root / 'both'}: 'Chapter 1: Cells > "
        f"Introduction', '{BONE_INTRODUCTION}'; give its whole path"
    )


def test_a_section_outside_the_source_or_chapter_asked_for_is_refused_naming_theirs(root):
    """Beside the joints book, "1.2" (the bone book's "1.2 Cell Structure") found nothing, silently, as did a section
    beside a chapter it does not lie in: refused now, naming the sections there."""
    with pytest.raises(UnknownSourceError) as refused:
        resolved_filters(root, "both", {"section": "1.2", "source": "joints.pdf"})
    refusal = str(refused.value)
    assert refusal.startswith(f"no section '1.2' in source 'joints.pdf' in index {root / 'both'}; it has 'Chapter 9")
    assert CARTILAGE in refusal and "Cells" not in refusal
    with pytest.raises(UnknownSourceError) as refused:
        resolved_filters(root, "bone", {"section": STRUCTURE, "chapter": "1"})
    assert str(refused.value).startswith(f"no section '{STRUCTURE}' in chapter '1' in index {root / 'bone'}; closest: ")
    filters = ["--filter", "section=Bone Structure", "--filter", "chapter=9", "--filter", "source=joints.pdf"]
    searched = run_cli("search", "bone", "--index", root / "both", *filters, home=root / "home")
    one_error_line(searched, "no section 'Bone Structure' in chapter '9' of source 'joints.pdf' in index")


@pytest.mark.parametrize(("source", "where"), [({}, ""), ({"source": "bone.pdf"}, r"source 'bone\.pdf' in ")])
def test_one_book_s_sections_are_named_alike_with_or_without_its_source(root, source, where):
    assert resolved_filters(root, "bone", {"section": "6.3", **source})["section"] == STRUCTURE
    with pytest.raises(UnknownSourceError, match=rf"^section 'Introduction' names 2 sections in {where}index "):
        resolved_filters(root, "bone", {"section": "Introduction", **source})
    with pytest.raises(UnknownSourceError, match=rf"^no section '6\.9' in {where}index "):
        resolved_filters(root, "bone", {"section": "6.9", **source})


def test_a_chapter_s_heading_on_the_page_of_its_first_section_is_of_its_source(tmp_path):
    """A page holds its last bookmark, so the text under a chapter's heading above its first section on the same page
    is a passage of the chapter's own section alone: beside a source filter, chapter 6 left that section out (a
    source's sections were read from its pages), and a section filter naming it would be refused."""
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=300)
    page.insert_textbox(pymupdf.Rect(20, 20, 280, 100), "Chapter 6: Bone Tissue\nBone is a connective tissue.")
    page.insert_textbox(pymupdf.Rect(20, 150, 280, 280), "6.1 Introduction\nBone tissue stores calcium.")
    doc.set_toc([[1, "Chapter 6: Bone Tissue", 1], [2, "6.1 Introduction", 1]])
    doc.save(tmp_path / "bone.pdf")
    settings = hashing_settings(tmp_path)
    index_new(settings, tmp_path / "bone.pdf")
    index = Index.open(settings.index_dir, settings)
    chapter = resolve_filters({"chapter": "6", "source": "bone.pdf"}, index)["section"]
    heading = resolve_filters({"section": "Chapter 6: Bone Tissue", "source": "bone.pdf"}, index)["section"]
    index.close()
    assert chapter == ["Chapter 6: Bone Tissue", "Chapter 6: Bone Tissue > 6.1 Introduction"]
    assert heading == "Chapter 6: Bone Tissue"


def test_a_chapter_outside_the_source_asked_for_is_refused_naming_that_source(root):
    """Beside ``source=bone.pdf``, chapter 9 (the joints book's) was refused as "no chapter '9' in index", which holds
    one, listing the bone book's chapters as the index's."""
    with pytest.raises(UnknownSourceError) as refused:
        resolved_filters(root, "both", {"chapter": "9", "source": "bone.pdf"})
    assert str(refused.value).startswith(f"no chapter '9' in source 'bone.pdf' in index {root / 'both'} (or several")
    assert str(refused.value).endswith("its chapters: Chapter 1: Cells; Chapter 6: Bone Tissue")
    with pytest.raises(UnknownSourceError, match=rf"^no chapter '9' in index {re.escape(str(root / 'bone'))} "):
        resolved_filters(root, "bone", {"chapter": "9"})


@pytest.mark.parametrize("beside", [{"chapter": ["1", "6"] * 500}, {"source": ["bone.pdf"] * 1000}])
def test_a_refusal_names_a_few_of_the_chapters_or_sources_asked_for(root, beside):
    """A refusal echoed every value of a long chapter or source filter: 1,000 sources made 12 KB of one line."""
    with pytest.raises(UnknownSourceError) as refused:
        resolved_filters(root, "bone", {"section": "6.9", **beside})
    name, values = next(iter(beside.items()))
    where = f"{name} {', '.join(map(repr, values[:CLOSEST]))} (+997 more) in index {root / 'bone'}"
    assert str(refused.value).startswith(f"no section '6.9' in {where}; ")
    with pytest.raises(UnknownSourceError) as refused:
        resolved_filters(root, "bone", {"section": "Introduction", **beside})
    assert str(refused.value).startswith(f"section 'Introduction' names 2 sections in {where}: ")
