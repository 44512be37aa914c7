"""A plate (a page of a born-digital PDF that is one full-page picture: a micrograph, an atlas's figure page) is a
figure that a figure search lists; a scan of a page of words inserted among typed pages stays a page only."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.errors import MissingProgramError
from pathatlas.indexer.records import Figure, Page
from pathatlas.indexer.sources import pdf
from tests.helpers import hashing_settings

A4 = (595, 842)
SCAN_LINES = [
    "Coagulative necrosis preserves the outline",
    "of dead cells for several days, while",
    "liquefactive necrosis digests them into",
    "a viscous mass, as in a brain infarct",
    "or an abscess full of neutrophils.",
]
SCAN_WORDS = (200.0, 250.0, 2300.0, 1300.0)
"""Where ``scan``'s lines stand in a page's render at ``pdf.SCAN_DPI`` (its 1240 px across 595 pt: twice as large)."""


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def micrograph() -> bytes:
    """A drawn H&E field: dark purple nuclei over pink tissue and pale spaces, filling the picture."""
    rng = random.Random(7)
    image = Image.new("RGB", (600, 850), (232, 170, 200))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y, r = rng.randrange(600), rng.randrange(850), rng.randrange(20, 60)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 245, 248))
    for _ in range(900):
        x, y, r = rng.randrange(600), rng.randrange(850), rng.randrange(4, 9)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(70, 30, 110))
    return png(image)


def scan() -> bytes:
    """A scanner's image of a page of printed words (grey paper, dark type), 150 dpi on A4."""
    image = Image.new("L", (1240, 1754), 238)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for row, line in enumerate(SCAN_LINES):
        draw.text((120, 150 + 90 * row), line, font=font, fill=25)
    return png(image)


def build(path: Path, pages: list[str], bookmarks: list[list] | None = None) -> Path:
    """A PDF of ``pages``: "typed" (a text layer), "plate" (``micrograph`` filling the page), "scan" (``scan`` filling
    it), or any other string: a typed page opening with it."""
    doc = pymupdf.open()
    for kind in pages:
        page = doc.new_page(width=A4[0], height=A4[1])
        if kind in ("plate", "scan"):
            page.insert_image(page.rect, stream=micrograph() if kind == "plate" else scan(), keep_proportion=False)
        else:
            text = kind if kind != "typed" else "Necrosis is the death of cells in a living tissue."
            page.insert_textbox(pymupdf.Rect(60, 60, 535, 780), text, fontsize=12)
    if bookmarks:
        doc.set_toc(bookmarks)
    doc.save(path)
    return path


def read(path: Path, settings) -> tuple[list[Page], list[Figure]]:
    records = list(pdf.PdfSource(path, settings).records())
    return [r for r in records if isinstance(r, Page)], [r for r in records if isinstance(r, Figure)]


class WordsAt:
    """Stands in for tesseract: every page 'reads' the scan's lines where ``scan`` prints them."""

    def read_pages(self, images, dpi):
        return [[(SCAN_WORDS, "\n".join(SCAN_LINES))] for _ in images]


class NoTesseract:
    def __init__(self, settings):
        raise MissingProgramError("tesseract is not installed")


@pytest.mark.parametrize("ocr", ["off", "missing", "read"])
def test_a_full_page_picture_among_typed_pages_is_a_figure(ocr, tmp_path, monkeypatch):
    """The plate was dropped as a scan's own image: its page kept its image, but a figure search never listed it."""
    monkeypatch.setattr(pdf, "scan_reader", NoTesseract if ocr == "missing" else lambda settings: WordsAt())
    path = build(tmp_path / "atlas.pdf", ["typed", "plate", "typed"])
    source = pdf.PdfSource(path, hashing_settings(tmp_path, figure_ocr=ocr != "off"))
    records = list(source.records())
    (figure,) = [r for r in records if isinstance(r, Figure)]
    assert figure.page == 2 and figure.bbox == (0.0, 0.0, *map(float, A4))
    assert [r.scanned for r in records if isinstance(r, Page)] == [False, True, False], "the page keeps its image"
    if ocr == "missing":
        assert any("pages without text were not read" in problem for problem in source.problems)


def test_a_scanned_page_of_words_among_typed_pages_stays_a_page_only(tmp_path, monkeypatch):
    """Tesseract reads the scan's words where all its ink is; the plate's ink lies outside them: one figure."""
    monkeypatch.setattr(pdf, "scan_reader", lambda settings: WordsAt())
    path = build(tmp_path / "lecture.pdf", ["typed", "scan", "plate", "typed"])
    pages, figures = read(path, hashing_settings(tmp_path, figure_ocr=True))
    assert [f.page for f in figures] == [3], "the plate is a figure, the scan is not"
    assert "Coagulative necrosis" in pages[1].text and pages[1].scanned


def test_the_same_picture_in_a_scanned_document_is_a_page_only(tmp_path):
    """Most pages without a text layer: a scanned book, whose every page is its own image, as before; the same picture
    among typed pages is a plate."""
    settings = hashing_settings(tmp_path, figure_ocr=False)
    _, scanned_book = read(build(tmp_path / "scanned.pdf", ["scan", "plate", "scan"]), settings)
    _, typed_book = read(build(tmp_path / "typed.pdf", ["typed", "plate", "typed"]), settings)
    assert scanned_book == [] and [f.page for f in typed_book] == [2]


def test_a_plate_takes_the_caption_opening_the_next_page(tmp_path):
    """An atlas prints a plate's legend on the page after it."""
    legend = "Figure 7. Caseating granuloma of the lung, H&E."
    path = build(tmp_path / "atlas.pdf", ["typed", "plate", legend])
    _, (figure,) = read(path, hashing_settings(tmp_path, figure_ocr=False))
    assert (figure.caption, figure.label, figure.caption_from_title) == (legend, "Figure 7", False)


def test_a_plate_without_a_caption_takes_its_bookmarks_title(tmp_path):
    """Nothing on the page says what the picture shows; the outline's title of its place does."""
    bookmarks = [[1, "Chapter 2. Necrosis", 1], [2, "Caseous necrosis", 2]]
    path = build(tmp_path / "atlas.pdf", ["typed", "plate", "typed"], bookmarks)
    _, (figure,) = read(path, hashing_settings(tmp_path, figure_ocr=False))
    assert (figure.caption, figure.label, figure.caption_from_title) == ("Caseous necrosis", None, True)
    assert figure.entries()[0].payload.figure == "p2-img1"


@pytest.mark.skipif(not tesseract.installed(), reason=f"needs tesseract ({tesseract.INSTALL_HINT})")
def test_tesseract_tells_the_scan_from_the_plate(tmp_path):
    """The real reading: the scan's words are its text and it is no figure; the micrograph is one."""
    path = build(tmp_path / "lecture.pdf", ["typed", "scan", "plate", "typed"])
    pages, figures = read(path, hashing_settings(tmp_path, figure_ocr=True))
    assert [f.page for f in figures] == [3]
    assert "necrosis" in pages[1].text.lower()


def test_words_hold_a_scans_ink_not_a_pictures():
    scan_render = Image.open(io.BytesIO(scan())).resize((2480, 3508))
    plate_render = Image.open(io.BytesIO(micrograph())).convert("L").resize((2480, 3508))
    words = [(SCAN_WORDS, "Coagulative necrosis")]
    assert pdf.words_hold_ink(scan_render, words) and not pdf.words_hold_ink(plate_render, words)
    assert not pdf.words_hold_ink(scan_render, []), "words tesseract did not read are ink outside its words"
    assert pdf.words_hold_ink(Image.new("L", (2480, 3508), 240), []), "a blank page is no picture"
