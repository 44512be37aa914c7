"""A lecturer's PDFs exported from PowerPoint: pictures with transparency, photos turned where they are drawn, pages
turned by /Rotate. A figure's image is what the page shows, as a viewer renders it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.records import Figure, Page
from pathatlas.indexer.sources.pdf import PdfSource
from tests.helpers import hashing_settings

BLOCKS = np.array([[(230, 30, 30), (30, 160, 30), (30, 30, 230)], [(240, 200, 20), (20, 20, 20), (200, 40, 200)]])
"""Six colours in a 2 x 3 grid: any turn or mirror of the picture moves some of them."""


def picture(alpha: bool = False) -> bytes:
    """A 180 x 120 PNG of ``BLOCKS``; with ``alpha``, its corners transparent, hiding black."""
    pixels = np.kron(BLOCKS, np.ones((60, 60, 1))).astype(np.uint8)
    image = Image.fromarray(pixels)
    if alpha:
        yy, xx = np.mgrid[:120, :180]
        inside = ((xx - 90) / 90) ** 2 + ((yy - 60) / 60) ** 2 <= 1
        image = Image.fromarray(np.where(inside[..., None], pixels, 0).astype(np.uint8))
        image.putalpha(Image.fromarray((inside * 255).astype(np.uint8)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def shown(page: pymupdf.Page, bbox: tuple[float, ...], size: tuple[int, int]) -> np.ndarray:
    """The figure's box as a viewer shows the page (turned by its /Rotate), at ``size``."""
    zoom = 2
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom))
    rendered = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    box = (pymupdf.Rect(bbox) * page.rotation_matrix * zoom).irect
    return np.asarray(rendered.crop(tuple(box)).resize(size), dtype=float)


def figures_and_renders(path: Path, tmp_path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each figure's image beside what the page shows in its box."""
    figures = [r for r in PdfSource(path, hashing_settings(tmp_path)).records() if isinstance(r, Figure)]
    pairs = []
    with pymupdf.open(path) as doc:
        for figure in figures:
            image = np.asarray(figure.image.convert("RGB"), dtype=float)
            pairs.append((image, shown(doc[figure.page - 1], figure.bbox, figure.image.size)))
    return pairs


@pytest.mark.parametrize(("turn", "page_rotation"), [(90, 0), (180, 0), (270, 0), (0, 90), (0, 270), (90, 90)])
def test_a_figure_drawn_turned_is_shown_as_the_page_shows_it(turn, page_rotation, tmp_path):
    """PowerPoint keeps a phone photo's pixels as taken and turns the frame it is drawn in; a scanner's PDF turns
    pages by /Rotate. The figure's thumbnail was the pixels as stored: on its side, upside down."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=400)
    page.insert_text((40, 40), "Slide: granuloma", fontsize=20)
    page.insert_image(pymupdf.Rect(50, 80, 350, 380), stream=picture(), rotate=turn)
    page.set_rotation(page_rotation)
    doc.save(tmp_path / "slides.pdf")
    ((image, render),) = figures_and_renders(tmp_path / "slides.pdf", tmp_path)
    assert np.abs(image - render).mean() < 12, "the figure's colours stand where the page shows them"


def test_a_transparent_picture_is_over_white_as_on_the_slide(tmp_path):
    """A PNG with transparent parts is stored with a separate soft mask: its figure showed the black they hide."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_image(pymupdf.Rect(50, 50, 350, 250), stream=picture(alpha=True))
    doc.save(tmp_path / "logo.pdf")
    ((image, render),) = figures_and_renders(tmp_path / "logo.pdf", tmp_path)
    assert image[0, 0].tolist() == [255, 255, 255] and image[-1, -1].tolist() == [255, 255, 255]
    assert np.abs(image - render).mean() < 12


def scan(tmp_path: Path, title: str | None = None) -> list:
    """The records of a one-page PDF whose page is a picture filling it (a scanner's, or a slide exported whole), with
    a text layer holding ``title`` where one is given."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=500)
    page.insert_image(pymupdf.Rect(10, 10, 390, 490), stream=picture(), keep_proportion=False)
    if title:
        page.insert_text((40, 40), title, fontsize=20)
    doc.save(tmp_path / "scan.pdf")
    return list(PdfSource(tmp_path / "scan.pdf", hashing_settings(tmp_path, figure_ocr=False)).records())


def test_a_scanned_page_is_one_page_record_not_a_page_and_a_figure_of_it(tmp_path):
    """Each page of a scanned PDF was also a "figure" of itself: a figure search listed the book's text pages, an image
    query found every page twice, and tesseract read each page a second time as a figure."""
    records = scan(tmp_path)
    (page,) = [r for r in records if isinstance(r, Page)]
    assert [r for r in records if isinstance(r, Figure)] == []
    assert page.scanned and page.entries()[0].image is page.image, "the page is found by its image"
    read = Page(page.source, page.fingerprint, 1, "Caseating granuloma", page.image, scanned=True)
    (entry,) = read.entries()
    assert entry.text == "Caseating granuloma" and entry.image is page.image, "what OCR read adds to its image"


def test_a_picture_filling_a_page_with_a_text_layer_is_still_a_figure(tmp_path):
    records = scan(tmp_path, title="Granuloma")
    assert len([r for r in records if isinstance(r, Figure)]) == 1
    assert not next(r for r in records if isinstance(r, Page)).scanned
