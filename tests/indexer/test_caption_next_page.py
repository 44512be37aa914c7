"""A figure at a page's foot whose caption opens the next page (17 figures of the A&P book) records that page and the
caption's box on it (``caption_page``, ``caption_bbox``), and its citation names both places: its picture on its
page, its caption on the next. It kept the caption's words but no place for them, so a reader opening the citation
saw the picture alone and could not tell where its caption was printed."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from pathatlas.indexer.records import Figure
from pathatlas.indexer.sources.pdf.source import PdfSource
from pathatlas.retrieval.records import BBox, Citation, Payload
from tests.helpers import hashing_settings
from tests.indexer.test_caption_box import picture

AT_FOOT = pymupdf.Rect(150, 500, 450, 725)
BESIDE = pymupdf.Rect(150, 250, 450, 475)
NEXT_PAGE_CAPTION = "Figure 2.1. Osteon: Concentric lamellae ring a central canal of compact bone."
SAME_PAGE_CAPTION = "Figure 2.2. Spongy bone: Trabeculae follow the lines of stress."
BODY = "Bone is a connective tissue whose matrix is hardened by calcium phosphate crystals."


def write_book(path: Path) -> Path:
    """Two pages: text, then a figure at the foot of p. 1 with nothing under it; p. 2 opens with that figure's caption,
    then text, then a figure captioned under it on p. 2 itself."""
    doc = pymupdf.open()
    first = doc.new_page(width=612, height=792)
    first.insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
    first.insert_image(AT_FOOT, stream=picture(120))
    second = doc.new_page(width=612, height=792)
    second.insert_textbox(pymupdf.Rect(72, 72, 540, 110), NEXT_PAGE_CAPTION, fontsize=9)
    second.insert_textbox(pymupdf.Rect(72, 130, 540, 200), BODY, fontsize=11)
    second.insert_image(BESIDE, stream=picture(200))
    second.insert_textbox(pymupdf.Rect(150, 485, 450, 535), SAME_PAGE_CAPTION, fontsize=9)
    doc.save(path)
    doc.close()
    return path


def printed_box(path: Path, page: int, opening: str) -> BBox:
    """The box of the text block opening with ``opening`` on ``page`` (1-based), as MuPDF gives it."""
    with pymupdf.open(path) as doc:
        blocks = doc[page - 1].get_text("blocks")
    return next(tuple(block[:4]) for block in blocks if block[4].startswith(opening))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return write_book(tmp_path_factory.mktemp("book") / "book.pdf")


@pytest.fixture(scope="module")
def figures(book, tmp_path_factory) -> dict[str, Payload]:
    """The book's figures by label, stored and read back as an index gives them."""
    read = PdfSource(book, hashing_settings(tmp_path_factory.mktemp("read"))).records()
    stored = [r.entries()[0].payload.to_payload() for r in read if isinstance(r, Figure)]
    return {p["figure"]: Payload.from_payload(json.loads(json.dumps(p))) for p in stored}


def test_a_caption_opening_the_next_page_is_placed_on_that_page(book, figures):
    figure = figures["Figure 2.1"]
    assert (figure.page, figure.bbox, figure.text) == (1, tuple(AT_FOOT), NEXT_PAGE_CAPTION), "as before"
    assert figure.caption_page == 2
    assert figure.caption_bbox == pytest.approx(printed_box(book, 2, "Figure 2.1"), abs=0.06)
    with pymupdf.open(book) as doc:
        assert doc[1].rect.contains(pymupdf.Rect(figure.caption_bbox)), "inside the caption's page"
    assert figure.captioned_bbox == figure.bbox, "no outline joins a box on p. 1 to one on p. 2"


def test_a_caption_printed_under_its_figure_is_placed_as_before(book, figures):
    figure = figures["Figure 2.2"]
    assert (figure.page, figure.text, figure.caption_page) == (2, SAME_PAGE_CAPTION, None)
    assert figure.caption_bbox == pytest.approx(printed_box(book, 2, "Figure 2.2"), abs=0.06)
    assert "caption_page" not in figure.to_payload(), "its stored record as before"
    citation = Citation.of(figure)
    assert (citation.caption_page, citation.caption_bbox) == (None, None)
    assert citation.label() == "book.pdf, p. 2, Figure 2.2" and citation.to_dict()["caption_page"] is None


def test_the_citation_names_the_figures_page_and_its_captions(figures):
    figure = figures["Figure 2.1"]
    citation = Citation.of(figure)
    assert (citation.page, citation.bbox) == (1, tuple(AT_FOOT)), "the picture where it is printed"
    assert (citation.caption_page, citation.caption_bbox) == (2, figure.caption_bbox), "its caption where it is"
    assert citation.label() == "book.pdf, p. 1, Figure 2.1 (caption on p. 2)"
    cited = citation.to_dict()
    assert (cited["caption_page"], cited["caption_bbox"]) == (2, list(figure.caption_bbox))
    assert Citation.from_dict(cited).to_dict() == cited, "read back as given"
    numbered = Citation.of(Payload.from_payload({**figure.to_payload(), "page_label": "170"}))
    assert numbered.label() == "book.pdf, p. 170 (PDF p. 1), Figure 2.1 (caption on PDF p. 2)", "a PDF page, as given"
