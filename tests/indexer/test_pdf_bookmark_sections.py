"""A book whose bookmarks all lead to its pages' tops (the A&P book's 226 lead to (72, 36)): each section begins where
its title is printed, so a chapter's introduction, its objectives and its figure are the introduction's, not the first
section's printed below them. And a PDF's book is the title its citation names: never a converter's "Microsoft Word -
x.docx"."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.records import Figure, Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf.sections import PageSections, prints_title
from pathatlas.retrieval.records import Citation
from tests.helpers import png_bytes

PICTURE = png_bytes(Image.fromarray(np.random.default_rng(6).integers(0, 256, (180, 240, 3), dtype=np.uint8)))
CHAPTER = "Chapter 6: Bone Tissue and the Skeletal System"
SECTION_1 = "6.1 The Functions of the Skeletal System"
SECTION_2 = "6.2 Bone Classification by Shape and by Size"


def page_top(page: int) -> dict:
    """A bookmark's destination as the A&P book writes every one: the page's top-left corner (72, 36)."""
    return {"kind": pymupdf.LINK_GOTO, "page": page, "to": pymupdf.Point(72, 36)}


def chapter_pdf(path, title: str = "Anatomy and Physiology 2e"):
    """Page 1 opens chapter 6 (its title, "Introduction", a figure, the introduction's text, then "6.1 ..." low on
    the page); page 2 goes on with 6.1 and prints "6.2 ..." (wrapped over two lines) halfway down. Every bookmark
    leads to its page's top."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 80), "CHAPTER 6", fontsize=12)
    page.insert_text((72, 100), "Bone Tissue and the Skeletal System", fontsize=20)
    page.insert_text((72, 140), "Introduction", fontsize=16)
    page.insert_image(pymupdf.Rect(72, 150, 312, 330), stream=PICTURE)
    page.insert_textbox(pymupdf.Rect(72, 335, 540, 370), "Figure 6.1. Child Looking at Bones: bone is living tissue.")
    page.insert_textbox(pymupdf.Rect(72, 380, 540, 560), "Fossils keep the shape of bones over the ages. " * 5)
    page.insert_text((72, 600), SECTION_1, fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 610, 540, 740), "Supporting the body is the first function. " * 4)
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(72, 80, 540, 250), "Marrow in the bones makes the blood cells. " * 4)
    page.insert_textbox(pymupdf.Rect(72, 300, 300, 360), SECTION_2, fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 370, 540, 540), "Long bones are longer than they are wide. " * 4)
    doc.set_toc(
        [
            [1, CHAPTER, 1, page_top(0)],
            [2, "Introduction", 1, page_top(0)],
            [2, SECTION_1, 1, page_top(0)],
            [2, SECTION_2, 2, page_top(1)],
        ]
    )
    doc.set_metadata({"title": title})
    doc.save(path)
    return path


def test_bookmarks_to_the_page_top_begin_where_their_titles_are_printed(tmp_path, fast):
    """All three bookmarks of page 1 led to its top: the introduction's text (and page 2's text above "6.2") was
    filed under the page's last bookmark, and the figure under "6.1"."""
    records = list(PdfSource(chapter_pdf(tmp_path / "book.pdf"), fast).records())
    passages = [(r.page, r.section.rsplit(" > ", 1)[-1], r.text.split()[0]) for r in records if isinstance(r, Passage)]
    assert passages == [
        (1, CHAPTER, "CHAPTER"),
        (1, "Introduction", "Introduction"),
        (1, SECTION_1, "6.1"),
        (2, SECTION_1, "Marrow"),  # above "6.2" on its page: 6.1 goes on
        (2, SECTION_2, "6.2"),
    ]
    assert "Fossils" in next(r.text for r in records if isinstance(r, Passage) and r.section.endswith("Introduction"))
    figures = [(r.label, r.section) for r in records if isinstance(r, Figure)]
    assert figures == [("Figure 6.1", f"{CHAPTER} > Introduction")]
    pages = [(r.page, r.section) for r in records if isinstance(r, Page)]
    assert pages == [(1, f"{CHAPTER} > {SECTION_1}"), (2, f"{CHAPTER} > {SECTION_2}")], "a page: its last, as before"


@pytest.mark.parametrize(
    ("block", "title", "printed"),
    [
        ("CHAPTER 6\nBone Tissue and the Skeletal System\n", CHAPTER, True),  # case and punctuation aside
        ("6.2 Bone Classification by\nShape and by Size\n", SECTION_2, True),  # wrapped over two lines
        ("Introduction\nBones make good fossils.", "Introduction", True),  # the heading opening its block
        ("Introduction of foreign bodies\ninto bone.", "Introduction", False),  # a sentence opening with its word
        ("6.2 Bone Classification\n", SECTION_2, False),  # only the title's start
        ("Bone Tissue\n", "Bone", False),  # a title's first word is no title
        ("***\n", "***", False),  # a title without words is never found printed
    ],
)
def test_a_title_is_printed_where_a_blocks_first_lines_are_its_words(block, title, printed):
    assert prints_title(block, title) is printed


def test_a_bookmark_whose_title_is_not_printed_begins_at_its_point():
    """Bookmarks whose titles the page does not print keep the rule by their points: the first block below."""
    blocks = [((72, 80, 540, 120), "Text above."), ((72, 300, 540, 320), "Viral B"), ((72, 330, 540, 400), "More.")]
    sections = PageSections("Liver", (("Liver > Hepatitis B", 72, 290),))
    assert sections.of_blocks(blocks) == ["Liver", "Liver > Hepatitis B", "Liver > Hepatitis B"]


def test_a_bookmark_never_begins_above_the_one_before_it():
    """6.1's title is printed lower on the page; 6.2's bookmark names it otherwise than its heading: by its point 6.2
    began at the page's top, above 6.1, and the page read 6.2 before 6.1. Now 6.2 holds from the next page."""
    blocks = [
        ((72, 40, 540, 80), "Introduction text."),
        ((72, 300, 540, 320), SECTION_1),
        ((72, 330, 540, 400), "Functions."),
        ((72, 500, 540, 520), "6.2 Shapes of Bones"),
    ]
    sections = PageSections(CHAPTER, ((f"{CHAPTER} > {SECTION_1}", 72, 36), (f"{CHAPTER} > {SECTION_2}", 72, 36)))
    assert sections.of_blocks(blocks) == [CHAPTER, *[f"{CHAPTER} > {SECTION_1}"] * 3]
    assert sections.last == f"{CHAPTER} > {SECTION_2}"


@pytest.mark.parametrize(
    ("title", "book"),
    [("Microsoft Word - x.docx", None), ("Anatomy and Physiology 2e", "Anatomy and Physiology 2e"), ("", None)],
)
def test_a_pdfs_stored_book_is_the_title_its_citation_names(tmp_path, fast, title, book):
    """The stored book kept the metadata's "Microsoft Word - x.docx" (or, without a title, the file's name), which
    the citation rightly left out: hits' JSON showed it as the book."""
    records = list(PdfSource(chapter_pdf(tmp_path / "book.pdf", title), fast).records())
    payloads = [entry.payload for record in records for entry in record.entries()]
    assert {payload.book or None for payload in payloads} == {book}
    assert {Citation.of(payload).book for payload in payloads} == {book}
