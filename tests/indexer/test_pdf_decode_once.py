"""Placing a PDF page's images decoded each of them twice (``get_image_info(xrefs=True)`` pairs placements with images
by their pixels' digests: 7 s of CPU for the A&P book), before the figures decoded them again: placements are now paired
without decoding, as the digests paired them."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from pathatlas.indexer.records import Figure
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf import source as pdf_source
from pathatlas.indexer.sources.pdf import templates as pdf_templates
from pathatlas.indexer.sources.pdf.images import placed_images
from tests.helpers import calls_to, hashing_settings, png_bytes


def jpeg(seed: int, size: tuple[int, int] = (120, 90)) -> bytes:
    """A random picture of ``size`` as a JPEG file (kept as it is in a PDF, as the A&P book's figures are)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def inline_image(size: tuple[int, int], at: tuple[float, float]) -> bytes:
    """Content drawing a grey image of ``size`` written inline (BI ... EI), its lower left corner ``at`` (PDF points
    from the page's foot): an image the page does not list."""
    width, height = size
    data = ("80" * (width * height * 3)).encode()
    return (
        f"q {width} 0 0 {height} {at[0]} {at[1]} cm BI /W {width} /H {height} /CS /RGB /BPC 8 /F /AHx ID ".encode()
        + data
        + b"> EI Q\n"
    )


def gallery(path: Path) -> Path:
    """A page showing one picture twice, two pictures of the same size, a picture inside a form (another PDF's page
    shown on it) and an inline image of that size too, each captioned; a second page reuses the first picture."""
    inset = pymupdf.open()
    inset.new_page(width=200, height=150).insert_image(pymupdf.Rect(0, 0, 200, 150), stream=jpeg(4, (160, 120)))
    doc = pymupdf.open()
    page = doc.new_page()
    twice = page.insert_image(pymupdf.Rect(50, 60, 290, 240), stream=jpeg(1))
    page.insert_image(pymupdf.Rect(320, 60, 560, 240), xref=twice)
    page.insert_image(pymupdf.Rect(50, 300, 290, 480), stream=jpeg(2))
    page.insert_image(pymupdf.Rect(320, 300, 560, 480), stream=png_bytes(Image.open(io.BytesIO(jpeg(3)))))
    page.show_pdf_page(pymupdf.Rect(50, 540, 250, 690), inset, 0)
    for n, y in enumerate((255, 495, 705), 1):
        page.insert_text((50, y), f"Figure 1.{n}. Granuloma, view {n}.", fontsize=9)
    contents = page.get_contents()[0]
    doc.update_stream(contents, doc.xref_stream(contents) + inline_image((120, 90), (400, 142)))
    second = doc.new_page()
    second.insert_image(pymupdf.Rect(50, 60, 290, 240), xref=twice)
    second.insert_text((50, 255), "Figure 2.1. Granuloma again.", fontsize=9)
    doc.save(path)
    return path


def two_pass(page: pymupdf.Page) -> list[dict]:
    """The placements as ``get_image_info(xrefs=True)`` pairs them (decoding each image twice), without its digests."""
    return [{k: v for k, v in info.items() if k != "digest"} for info in page.get_image_info(xrefs=True)]


def test_placements_pair_with_the_images_their_digests_paired(tmp_path):
    """The picture shown twice, the two of one size, the one in a form: each placement has the xref its pixels found;
    the inline image, of a listed picture's size, has none."""
    with pymupdf.open(gallery(tmp_path / "gallery.pdf")) as doc:
        for page in doc:
            assert placed_images(page) == two_pass(page)
        xrefs = [info["xref"] for info in sorted(placed_images(doc[0]), key=lambda i: (i["bbox"][1], i["bbox"][0]))]
    shown_twice, _, same_size, same_size_too, in_form, inline = xrefs
    assert xrefs[1] == shown_twice != 0 and inline == 0
    assert len({shown_twice, same_size, same_size_too, in_form}) == 4 and 0 not in xrefs[:5]


def test_placing_a_pages_images_decodes_none(tmp_path, monkeypatch):
    """MuPDF decoded every image of the page for its digest, and each listed image again for its own."""
    decoded = calls_to(monkeypatch, "fz_get_pixmap_from_image", pymupdf.mupdf)
    with pymupdf.open(gallery(tmp_path / "gallery.pdf")) as doc:
        placements = [placed_images(page) for page in doc]
    assert [len(p) for p in placements] == [6, 1] and decoded == []


def test_a_reading_extracts_each_figure_once_and_gives_the_figures_of_two_passes(tmp_path, monkeypatch):
    """The figures (boxes, captions, pixels) are those the two-pass pairing gave; each image is extracted once, the
    first picture once per page showing it, and none is decoded to be placed."""
    path = gallery(tmp_path / "gallery.pdf")
    settings = hashing_settings(tmp_path, figure_ocr=False)

    def figures() -> list[tuple]:
        return [
            (r.page, r.index, r.bbox, r.caption, r.image.mode, r.image.size, r.image.tobytes())
            for r in PdfSource(path, settings).records()
            if isinstance(r, Figure)
        ]

    extracted = calls_to(monkeypatch, "extract_image", pymupdf.Document)
    decoded = calls_to(monkeypatch, "fz_get_pixmap_from_image", pymupdf.mupdf)
    read = figures()
    assert decoded == [] and len(read) == 5, "the picture twice on page 1 is one figure; the inline one is no figure"
    per_image = Counter(xref for _, xref in extracted)
    assert sorted(per_image.values()) == [1, 1, 1, 2], "once a figure: the first picture on each of its two pages"
    monkeypatch.setattr(pdf_source, "placed_images", two_pass)  # a page's records
    monkeypatch.setattr(pdf_templates, "placed_images", two_pass)  # pages a master may be on
    assert figures() == read


def test_a_decks_pages_are_placed_once(tmp_path, monkeypatch):
    """The slides showing the master's logo are placed to find the master's images; their records reuse those
    placements rather than draw the page again."""
    logo, micrograph = jpeg(1), jpeg(2)
    doc = pymupdf.open()
    for n in range(1, 5):
        page = doc.new_page(width=720, height=540)
        page.insert_text((60, 70), f"Granulomas, part {n}", fontsize=28)
        page.insert_image(pymupdf.Rect(620, 460, 700, 520), stream=logo)
        if n == 2:
            page.insert_image(pymupdf.Rect(160, 120, 560, 420), stream=micrograph)
    doc.save(tmp_path / "deck.pdf")
    placed: Counter[int] = Counter()
    real = placed_images

    def counted(page: pymupdf.Page) -> list[dict]:
        placed[page.number] += 1
        return real(page)

    monkeypatch.setattr(pdf_source, "placed_images", counted)  # a page's records
    monkeypatch.setattr(pdf_templates, "placed_images", counted)  # pages a master may be on
    records = list(PdfSource(tmp_path / "deck.pdf", hashing_settings(tmp_path)).records())
    assert placed == {n: 1 for n in range(4)}
    assert [(r.page, r.caption) for r in records if isinstance(r, Figure)] == [(1, ""), (2, "Granulomas, part 2")]
