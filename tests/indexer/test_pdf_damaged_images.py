"""One damaged image dictionary in a PDF (width 0, an unknown colour space, a bad JPX header) failed the whole PDF with
MuPDF's error, so a book with one bad figure could not be indexed at all: placing a page's images loaded each one
(``placed_images``), and a repaired PDF was refused for the error reading its page's text gave. The image alone is
now skipped, in one line naming its page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.records import Figure, Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource
from tests.helpers import hashing_settings, png_bytes, run_cli

FIRST_PAGE = "Granulomas are collections of epithelioid histiocytes."
SECOND_PAGE = "Caseating necrosis marks tuberculosis damagedfiguretest."
GOOD_CAPTION = "Figure 2.1. A caseating granuloma."
JPX_GARBAGE = b"\x00\x00\x00\x0cjP  " + b"no JPEG 2000 codestream here" * 4

DAMAGES = {
    "width 0": ({"Width": "0"}, None, "image width is zero (or less)"),
    "unknown colour space": ({"ColorSpace": "/Nonsense"}, None, "unknown colorspace: Nonsense"),
    "bad JPX header": ({"Filter": "/JPXDecode"}, JPX_GARBAGE, "Failed to read JPX header"),
}


def micrograph(seed: int) -> bytes:
    """A random 300x200 picture as a PNG file."""
    return png_bytes(Image.fromarray(np.random.default_rng(seed).integers(0, 256, (200, 300, 3), dtype=np.uint8)))


def raw_image(doc: pymupdf.Document) -> int:
    """A new grey 200x150 image XObject of ``doc``, whole until a test damages it."""
    xref = doc.get_new_xref()
    doc.update_object(xref, "<< /Type /XObject /Subtype /Image /BitsPerComponent 8 /Width 200 /Height 150 >>")
    doc.update_stream(xref, bytes(200 * 150))
    doc.xref_set_key(xref, "ColorSpace", "/DeviceGray")
    return xref


def damage(doc: pymupdf.Document, xref: int, keys: dict[str, str], stream: bytes | None) -> None:
    """The image ``xref`` given ``keys`` and, where given, ``stream`` as its stored bytes."""
    if stream is not None:
        doc.update_stream(xref, stream, compress=False)
    for key, value in keys.items():
        doc.xref_set_key(xref, key, value)


def book(path: Path, keys: dict[str, str], stream: bytes | None = None) -> tuple[Path, int]:
    """Two pages of text; the second shows a captioned micrograph above a captioned image damaged by ``keys`` and
    ``stream``. Returns the PDF and the damaged image's xref."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), FIRST_PAGE)
    page = doc.new_page()
    page.insert_text((72, 72), SECOND_PAGE)
    page.insert_image(pymupdf.Rect(100, 120, 400, 320), stream=micrograph(1))
    page.insert_text((100, 340), GOOD_CAPTION, fontsize=9)
    bad = raw_image(doc)
    page.insert_image(pymupdf.Rect(100, 420, 400, 645), xref=bad)  # placed while whole: a width of 0 cannot be placed
    page.insert_text((100, 665), "Figure 2.2. The same granuloma, stained for acid-fast bacilli.", fontsize=9)
    damage(doc, bad, keys, stream)
    doc.save(path)
    return path, bad


def read(pdf: Path, tmp_path: Path) -> tuple[list, list[str]]:
    source = PdfSource(pdf, hashing_settings(tmp_path, figure_ocr=False))
    return list(source.records()), source.problems


def assert_only_the_image_lost(records: list, pdf: Path, problems: list[str], xref: int, why: str) -> None:
    """Both pages, their text and passages are read, the micrograph beside the damaged image is the page's one
    figure, and the damaged image is one problem naming its page."""
    assert [(r.page, r.text.splitlines()[0]) for r in records if isinstance(r, Page)] == [
        (1, FIRST_PAGE),
        (2, SECOND_PAGE),
    ]
    passages = " ".join(r.text for r in records if isinstance(r, Passage) and r.page == 2)
    assert SECOND_PAGE in passages
    assert [(r.page, r.caption, r.image.size) for r in records if isinstance(r, Figure)] == [
        (2, GOOD_CAPTION, (300, 200))
    ]
    assert problems == [f"{pdf} page 2: skipped an image (object {xref} is damaged: {why})"]


@pytest.mark.parametrize(("keys", "stream", "why"), DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_image_loses_only_itself(tmp_path, keys, stream, why):
    """The PDF failed with ``FzErrorSyntax`` (e.g. "code=8: image width is zero (or less)")."""
    pdf, xref = book(tmp_path / "book.pdf", keys, stream)
    records, problems = read(pdf, tmp_path)
    assert_only_the_image_lost(records, pdf, problems, xref, why)


def test_a_repaired_pdf_with_a_damaged_image_is_read(tmp_path):
    """A PDF MuPDF repairs (here its ``startxref`` points nowhere, as after a careless edit) was refused whole when
    reading its text gave an error: the damaged image's, each time its page was read."""
    pdf, xref = book(tmp_path / "book.pdf", {"ColorSpace": "/Nonsense"})
    pdf.write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n999999", pdf.read_bytes()))
    with pymupdf.open(pdf) as doc:
        assert doc.is_repaired
    records, problems = read(pdf, tmp_path)
    assert_only_the_image_lost(records, pdf, problems, xref, "unknown colorspace: Nonsense")


def test_a_damaged_logo_on_every_slide_is_told_once(tmp_path):
    """A deck's damaged logo, on each of its four slides: every slide is read, its picture a figure, and the logo one
    problem, on the first slide showing it."""
    doc = pymupdf.open()
    logo = raw_image(doc)
    for n in range(1, 5):
        page = doc.new_page(width=720, height=540)
        page.insert_text((60, 70), f"Granulomas, part {n}", fontsize=28)
        page.insert_image(pymupdf.Rect(620, 460, 700, 520), xref=logo)
        if n == 3:
            page.insert_image(pymupdf.Rect(160, 120, 460, 320), stream=micrograph(2))
    damage(doc, logo, {"Width": "0"}, None)
    doc.save(tmp_path / "deck.pdf")
    records, problems = read(tmp_path / "deck.pdf", tmp_path)
    assert [r.text for r in records if isinstance(r, Page)] == [f"Granulomas, part {n}" for n in range(1, 5)]
    assert [(r.page, r.caption) for r in records if isinstance(r, Figure)] == [(3, "Granulomas, part 3")]
    assert problems == [
        f"{tmp_path / 'deck.pdf'} page 1: skipped an image (object {logo} is damaged: {DAMAGES['width 0'][2]})"
    ]


def test_indexing_a_pdf_with_a_damaged_image_succeeds(tmp_path):
    """``pathatlas index`` failed the PDF, showing MuPDF's words alone; it now indexes it, names the page whose image
    it skipped, and a search finds that page."""
    pdf, xref = book(tmp_path / "book.pdf", {"Width": "0"})
    result = run_cli("index", pdf, "--index", tmp_path / "idx", home=tmp_path / "home", PATHATLAS_FIGURE_OCR=0)
    assert result.exit_code == 0, result.output
    assert f"page 2: skipped an image (object {xref} is damaged" in result.output
    assert "FzError" not in result.output and "MuPDF error" not in result.output
    found = run_cli("search", "damagedfiguretest", "--index", tmp_path / "idx", home=tmp_path / "home")
    assert found.exit_code == 0 and "book.pdf, p. 2" in found.output, found.output
