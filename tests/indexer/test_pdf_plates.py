"""A plate (a page of a born-digital PDF that is one full-page picture: a micrograph, an atlas's figure page) is a
figure that a figure search lists; a scan of a page of words inserted among typed pages stays a page only, and so does
a scan under an OCR tool's invisible text layer (ocrmypdf's), whose words are its text."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.errors import MissingProgramError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Figure, Page
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf import ocr as pdf_ocr
from pathatlas.indexer.sources.pdf.scans import words_hold_ink
from pathatlas.retrieval.index import Index
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
SCAN_POINTS = A4[0] / 1240
"""Points per pixel of ``scan``'s image filling an A4 page."""


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


def ocr_layer(page: pymupdf.Page) -> None:
    """What ocrmypdf adds over ``scan``'s image: its lines as invisible text (render mode 3) where the image prints
    them, so that they are selected and searched but not seen."""
    writer = pymupdf.TextWriter(page.rect)
    for row, line in enumerate(SCAN_LINES):
        writer.append((120 * SCAN_POINTS, (185 + 90 * row) * SCAN_POINTS), line, fontsize=40 * SCAN_POINTS)
    writer.write_text(page, render_mode=3)


def build(path: Path, pages: list[str], bookmarks: list[list] | None = None) -> Path:
    """A PDF of ``pages``: "typed" (a text layer), "plate" (``micrograph`` filling the page), "scan" (``scan`` filling
    it), "ocr" (``scan`` under ocrmypdf's ``ocr_layer``), or any other string: a typed page opening with it."""
    doc = pymupdf.open()
    for kind in pages:
        page = doc.new_page(width=A4[0], height=A4[1])
        if kind in ("plate", "scan", "ocr"):
            page.insert_image(page.rect, stream=micrograph() if kind == "plate" else scan(), keep_proportion=False)
            if kind == "ocr":
                ocr_layer(page)
        else:
            text = kind if kind != "typed" else "Necrosis is the death of cells in a living tissue."
            page.insert_textbox(pymupdf.Rect(60, 60, 535, 780), text, fontsize=12)
    if bookmarks:
        doc.set_toc(bookmarks)
    doc.save(path)
    return path


def read(path: Path, settings) -> tuple[list[Page], list[Figure]]:
    records = list(PdfSource(path, settings).records())
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
    monkeypatch.setattr(pdf_ocr, "scan_reader", NoTesseract if ocr == "missing" else lambda settings: WordsAt())
    path = build(tmp_path / "atlas.pdf", ["typed", "plate", "typed"])
    source = PdfSource(path, hashing_settings(tmp_path, figure_ocr=ocr != "off"))
    records = list(source.records())
    (figure,) = [r for r in records if isinstance(r, Figure)]
    assert figure.page == 2 and figure.bbox == (0.0, 0.0, *map(float, A4))
    assert [r.scanned for r in records if isinstance(r, Page)] == [False, True, False], "the page keeps its image"
    if ocr == "missing":
        assert any("pages without text were not read" in problem for problem in source.problems)


def test_a_scanned_page_of_words_among_typed_pages_stays_a_page_only(tmp_path, monkeypatch):
    """Tesseract reads the scan's words where all its ink is; the plate's ink lies outside them: one figure."""
    monkeypatch.setattr(pdf_ocr, "scan_reader", lambda settings: WordsAt())
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
    assert words_hold_ink(scan_render, words) and not words_hold_ink(plate_render, words)
    assert not words_hold_ink(scan_render, []), "words tesseract did not read are ink outside its words"
    assert words_hold_ink(Image.new("L", (2480, 3508), 240), []), "a blank page is no picture"


class Unread:
    """Stands in for tesseract, and fails a test that has it read a page."""

    def read_pages(self, images, dpi):
        raise AssertionError("a page with a text layer was read by OCR again")


@pytest.mark.parametrize("pages", [["ocr", "ocr", "ocr"], ["typed", "ocr", "typed"]], ids=["book", "inserted"])
def test_a_scan_under_an_ocr_tools_invisible_text_is_a_page_not_a_figure(pages, tmp_path, monkeypatch):
    """A scanned book run through ocrmypdf has a text layer on every page, so each page's scan was a figure: a figure
    search listed every page. The layer's words stay its text, found without reading the page again."""
    monkeypatch.setattr(pdf_ocr, "scan_reader", lambda settings: Unread())
    path = build(tmp_path / "ocred.pdf", pages)
    pages_read, figures = read(path, hashing_settings(tmp_path, figure_ocr=True))
    assert figures == []
    scan_pages = [p for p, kind in zip(pages_read, pages, strict=True) if kind == "ocr"]
    assert all(p.scanned and p.entries()[0].image is p.image for p in scan_pages), "found by its image, as a scan"
    assert all("Coagulative necrosis preserves the outline" in p.text for p in scan_pages)
    assert not any(p.scanned for p, kind in zip(pages_read, pages, strict=True) if kind == "typed")


@pytest.mark.parametrize("hidden", ["", "Alternative text of the micrograph"])
def test_a_born_digital_page_showing_its_text_over_a_full_page_picture_keeps_its_figure(hidden, tmp_path):
    """Visible text over a picture filling the page (a slide's photo, an atlas's captioned plate) is the page's own,
    and a little invisible text beside it makes no OCR layer: the picture stays a figure."""
    path = tmp_path / "slide.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(page.rect, stream=micrograph(), keep_proportion=False)
    page.insert_textbox(pymupdf.Rect(60, 700, 535, 800), "Figure 3. Caseating granuloma of the lung, H&E.", fontsize=14)
    if hidden:
        page.insert_text((60, 60), hidden, fontsize=8, render_mode=3)
    doc.save(path)
    (page_read,), (figure,) = read(path, hashing_settings(tmp_path, figure_ocr=False))
    assert figure.label == "Figure 3" and figure.bbox == (0.0, 0.0, *map(float, A4))
    assert not page_read.scanned


def test_a_scan_whose_ocr_layer_is_beside_a_visible_stamp_is_still_a_scan(tmp_path):
    """A library prints a line on each page it scanned ("Digitised by ..."): the OCR layer's words are most."""
    path = build(tmp_path / "ocred.pdf", ["ocr"])
    doc = pymupdf.open(path)
    doc[0].insert_text((60, 830), "Digitised by the medical library", fontsize=7)
    doc.save(tmp_path / "stamped.pdf")
    (page,), figures = read(tmp_path / "stamped.pdf", hashing_settings(tmp_path, figure_ocr=False))
    assert figures == [] and page.scanned and "Digitised" in page.text


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract program, whose PDF is an OCR tool's")
def test_tesseracts_own_searchable_pdf_is_a_scan_not_a_figure(tmp_path):
    """The real thing: tesseract's PDF output (which ocrmypdf builds on) draws the scan and its words invisible."""
    Image.open(io.BytesIO(scan())).save(tmp_path / "scan.png", dpi=(150, 150))
    subprocess.run(["tesseract", tmp_path / "scan.png", tmp_path / "scan", "pdf"], check=True, capture_output=True)
    (page,), figures = read(tmp_path / "scan.pdf", hashing_settings(tmp_path, figure_ocr=False))
    assert figures == [] and page.scanned and "Coagulative necrosis" in page.text


PLATES_BEFORE = 7
"""The records version of the reader before plates and OCR layers."""


def test_an_index_made_before_plates_reads_the_pdf_again(tmp_path, monkeypatch):
    """A plain ``index`` re-reads a PDF whose records the reader before plates made (no plate a figure, every page of
    an OCR'd scan one), not "unchanged"."""
    settings = hashing_settings(tmp_path, figure_ocr=False)
    path = build(tmp_path / "atlas.pdf", ["typed", "plate", "typed"])
    with Index.open(settings.index_dir, settings, create=True) as index:
        with monkeypatch.context() as older:
            older.setattr(PdfSource, "records_version", PLATES_BEFORE)
            assert [s.status for s in Indexer(index, show_progress=False).add(path).sources] == ["indexed"]
        assert [s.status for s in Indexer(index, show_progress=False).add(path).sources] == ["indexed"]
