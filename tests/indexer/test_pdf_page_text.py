"""A page's text leaves out its running headers, footers and page numbers, as its passages do: it is the page's snippet
(``/pages``), what its vector encodes (the "meaning" ranker) and what MCP ``get_page`` returns. The A&P book's page
texts opened "Anatomy and Physiology 2e | Chapter 6: ..." and closed with their number, so a search for the book's
title found a page by its header."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from pathatlas.indexer.records import Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource

TITLE = "Atlas of Liver Pathology"
BODY = "Copper accumulates in hepatocytes, then in the brain and the cornea; serum ceruloplasmin is low. " * 3
SEPARATOR = 6
"""The book's blank separator page: its running header and its number, nothing else."""


def liver_atlas(folder: Path) -> Path:
    """A cover printing ``TITLE`` large at its top; pages 2-5 print it small as their running header over their text,
    their number at their foot; page 6 prints only those two."""
    doc = pymupdf.open()
    doc.new_page(width=612, height=792).insert_text((72, 45), TITLE, fontsize=30)
    for number in range(2, SEPARATOR + 1):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 30), TITLE, fontsize=9)
        page.insert_text((300, 770), str(number), fontsize=9)
        if number != SEPARATOR:
            page.insert_textbox(pymupdf.Rect(72, 80, 540, 400), BODY, fontsize=11)
    path = folder / "atlas.pdf"
    doc.save(path)
    return path


def test_a_pages_text_is_its_body_without_running_header_or_number_a_covers_title_kept(tmp_path, fast):
    records = list(PdfSource(liver_atlas(tmp_path), fast).records())
    pages = {record.page: record.text for record in records if isinstance(record, Page)}
    passage_words: dict[int, list[str]] = {}
    for record in (record for record in records if isinstance(record, Passage)):
        passage_words.setdefault(record.page, []).extend(record.text.split())
    assert pages[1] == TITLE, "the cover's title heads its page: it is no running header there"
    for number in range(2, SEPARATOR):
        assert TITLE not in pages[number], pages[number]
        assert str(number) not in pages[number].split("\n"), pages[number]
        assert "ceruloplasmin" in pages[number]
        assert pages[number].split() == passage_words[number], "the page reads what its passages read, in order"


def test_a_separator_page_printing_only_running_lines_has_no_text_and_is_found_by_its_image(tmp_path, fast):
    """Even where an earlier reading drew the pages alike (a page found by its text is not rendered again), the
    separator is rendered: without text, its image is all its vector can encode."""
    path = liver_atlas(tmp_path)
    first = PdfSource(path, fast)
    list(first.records())
    again = PdfSource(path, fast)
    again.recall({"drawing": first.drawing}, {number: f"thumb-{number}" for number in range(1, SEPARATOR + 1)})
    pages = {record.page: record for record in again.records() if isinstance(record, Page)}
    assert pages[2].image is None and pages[2].thumbnail_hash == "thumb-2", "a text page reuses its earlier render"
    separator = pages[SEPARATOR]
    assert separator.text == ""
    assert separator.image is not None and separator.thumbnail_hash is None
    [entry] = separator.entries()
    assert entry.image is not None, "encoded by its image"
