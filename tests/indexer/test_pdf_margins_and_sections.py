"""A course author's PDFs: a title or heading near a page's top keeps its words (only lines its document repeats in
the margins, and page numbers, are running lines), and a passage takes the section of the bookmark above it on its
page, not the page's last."""

from __future__ import annotations

import json

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.records import Figure, Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource
from tests.helpers import png_bytes, run_cli

PICTURE = png_bytes(Image.fromarray(np.random.default_rng(7).integers(0, 256, (270, 360, 3), dtype=np.uint8)))


def passage_lines(records) -> set[str]:
    return {line for r in records if isinstance(r, Passage) for line in r.text.splitlines()}


@pytest.mark.parametrize("titles", [["Wilson disease"], ["Wilson disease", "Haemochromatosis", "Alpha-1 antitrypsin"]])
def test_a_slides_title_in_the_top_margin_is_searched_and_captions_its_picture(tmp_path, fast, titles):
    """A title at y=30 of a 540-pt slide stands in the top 7.5%: it was dropped as a running header, from the
    passages and from the picture's caption, though no other slide repeats it."""
    doc = pymupdf.open()
    for title in titles:
        page = doc.new_page(width=960, height=540)
        page.insert_text((40, 30), title, fontsize=24)
        page.insert_text((60, 120), "- Copper accumulates in hepatocytes", fontsize=20)
        page.insert_image(pymupdf.Rect(560, 100, 920, 370), stream=PICTURE)
    doc.save(tmp_path / "deck.pdf")
    records = list(PdfSource(tmp_path / "deck.pdf", fast).records())
    assert set(titles) <= passage_lines(records)
    figures = [r for r in records if isinstance(r, Figure)]
    assert [(f.caption, f.caption_from_title) for f in figures] == [(title, True) for title in titles]


def test_a_documents_repeated_header_and_page_numbers_are_dropped_its_one_off_headings_kept(tmp_path, fast):
    """Four pages: the chapter's title opens page 1, a header with the page's number in it tops pages 2-4, a roman
    page number closes each, and page 3 has a heading of its own in its top margin."""
    doc = pymupdf.open()
    for number, numeral in enumerate(["i", "ii", "iii", "iv"], start=1):
        page = doc.new_page(width=595, height=842)
        top = "Metabolic liver disease" if number == 1 else f"{120 + number} Chapter 6 | Metabolic liver disease"
        page.insert_text((72, 30), top, fontsize=10)
        if number == 3:
            page.insert_text((72, 56), "Wilson disease", fontsize=13)
        page.insert_textbox(pymupdf.Rect(72, 100, 520, 300), f"Body text of page {number} about the liver.")
        page.insert_text((290, 820), numeral, fontsize=10)
    doc.save(tmp_path / "chapter.pdf")
    lines = passage_lines(PdfSource(tmp_path / "chapter.pdf", fast).records())
    assert {"Metabolic liver disease", "Wilson disease"} <= lines, "a title or heading printed once keeps its words"
    assert not [line for line in lines if "Chapter 6" in line or line in {"i", "ii", "iii", "iv"}], lines


def liver_pdf(path):
    """Page 1: two bookmarked headings (with their points); page 2 goes on with the second section's text, then a
    third heading halfway down."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((72, 120), "Hepatitis B", fontsize=14)
    page.insert_textbox(pymupdf.Rect(72, 130, 520, 330), "Ground-glass hepatocytes contain surface antigen. " * 4)
    page.insert_text((72, 420), "Autoimmune hepatitis", fontsize=14)
    page.insert_textbox(pymupdf.Rect(72, 430, 520, 630), "Interface hepatitis with plasma cells is typical. " * 4)
    page = doc.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(72, 80, 520, 280), "Steroids bring most patients into remission. " * 4)
    page.insert_text((72, 420), "Wilson disease", fontsize=14)
    page.insert_textbox(pymupdf.Rect(72, 430, 520, 630), "Copper accumulates in hepatocytes and the brain. " * 4)

    def to(page: int, y: float) -> dict:
        return {"kind": pymupdf.LINK_GOTO, "page": page, "to": pymupdf.Point(72, y)}

    doc.set_toc(
        [
            [1, "Liver", 1],
            [2, "Hepatitis B", 1, to(0, 105)],
            [2, "Autoimmune hepatitis", 1, to(0, 405)],
            [2, "Wilson disease", 2, to(1, 405)],
        ]
    )
    doc.save(path)
    return path


def test_each_passage_takes_the_section_of_the_bookmark_above_it_on_its_page(tmp_path, fast):
    """The whole page took its last bookmark: the text under "Hepatitis B" was filed under "Autoimmune hepatitis"."""
    records = list(PdfSource(liver_pdf(tmp_path / "liver.pdf"), fast).records())
    passages = [(r.page, r.section, r.text.split()[0]) for r in records if isinstance(r, Passage)]
    assert passages == [
        (1, "Liver > Hepatitis B", "Hepatitis"),
        (1, "Liver > Autoimmune hepatitis", "Autoimmune"),
        (2, "Liver > Autoimmune hepatitis", "Steroids"),  # above the page's first bookmark: the section goes on
        (2, "Liver > Wilson disease", "Wilson"),
    ]
    pages = [(r.page, r.section) for r in records if isinstance(r, Page)]
    assert pages == [(1, "Liver > Autoimmune hepatitis"), (2, "Liver > Wilson disease")], "a page: its last, as before"


def test_the_first_of_two_bookmarks_on_a_page_is_a_section_filter(tmp_path):
    """It was refused: "no section 'Liver > Hepatitis B'" (no record held it). Wilson disease's hepatocytes stay out."""
    liver_pdf(tmp_path / "liver.pdf")
    home, index = tmp_path / "home", tmp_path / "idx"
    assert run_cli("index", tmp_path / "liver.pdf", "--index", index, home=home).exit_code == 0
    found = run_cli(
        "search", "hepatocytes", "--index", index, "--filter", "section=Liver > Hepatitis B", "--json", home=home
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)
    assert hits and {hit["section"] for hit in hits} == {"Liver > Hepatitis B"}
    assert all("Ground-glass" in hit["snippet"] for hit in hits), hits
