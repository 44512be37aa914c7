"""Whether a page is a scan: an image filling it (whole or in strips), under an OCR tool's invisible text, or a
render whose ink tesseract's words hold (not a plate's picture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from pathatlas.retrieval.records import BBox

if TYPE_CHECKING:
    import pymupdf

    from pathatlas.retrieval.ocr import Paragraph

INK_SCALE = 4
"""A scan's render (``SCAN_DPI``) is judged for ink at a quarter of its size (75 dpi, a sixteenth of the pixels), where
a letter's strokes still show: 0.06-0.15 s an A4 page, beside tesseract's seconds."""
INK_NEIGHBOURHOOD = 7
"""Pixels across (at 75 dpi, 2.4 mm: wider than a letter's stroke) around a pixel whose lightest is its paper, so that
a photographed page's shading is paper, not ink."""
INK_CONTRAST = 64
"""Grey levels below its paper at which a pixel is ink: a letter's stroke, a nucleus, a drawn line."""
WORDS_INK = 0.5
"""The share of a scanned page's ink inside the paragraphs tesseract read from which it is a page of words (a scan);
below it the ink is a picture's (a plate: a micrograph, a labelled diagram)."""


def words_hold_ink(image: Image.Image, paragraphs: list[Paragraph]) -> bool:
    """Whether the paragraphs tesseract read on a page's render (boxed in its pixels) hold ``WORDS_INK`` of its ink: a
    scan of a page of words, however few, rather than a picture with its labels. A blank page shows no picture."""
    from PIL import ImageChops, ImageDraw, ImageFilter

    small = image.convert("L").reduce(INK_SCALE)
    paper = small.filter(ImageFilter.MaxFilter(INK_NEIGHBOURHOOD))
    ink = ImageChops.subtract(paper, small).point(lambda v: 255 if v > INK_CONTRAST else 0, mode="1")
    words = Image.new("1", small.size, 0)
    draw = ImageDraw.Draw(words)
    for (x0, y0, x1, y1), _ in paragraphs:
        draw.rectangle((x0 / INK_SCALE, y0 / INK_SCALE, x1 / INK_SCALE, y1 / INK_SCALE), fill=1)
    total = ink.histogram()[255]
    return total == 0 or ImageChops.logical_and(ink, words).histogram()[255] >= WORDS_INK * total


PAGE_FILLED = 0.8
"""The share of a page an image covers to be the page, on a page without a text layer or under an OCR tool's: a
scanner's image, inset by a margin or not."""


def fills(page: pymupdf.Page, info: dict) -> bool:
    """Whether an image's placement ``info`` (``get_image_info``, unrotated points) covers ``PAGE_FILLED`` of the
    page."""
    import pymupdf

    page_box = pymupdf.Rect(0, 0, page.cropbox.width, page.cropbox.height)
    return abs(pymupdf.Rect(info["bbox"]) & page_box) >= PAGE_FILLED * abs(page_box)


def covered(page: pymupdf.Page, boxes: list[BBox]) -> float:
    """The share of the page (its unrotated cropbox, as ``fills`` takes it) that the union of ``boxes`` covers: each
    box marks the cells it spans in a grid cut at every box's edges, so overlaps count once."""
    import numpy as np

    width, height = page.cropbox.width, page.cropbox.height
    clipped = [
        (max(0.0, x0), max(0.0, y0), min(width, x1), min(height, y1)) for x0, y0, x1, y1 in boxes if x1 > 0 and y1 > 0
    ]
    clipped = [box for box in clipped if box[2] > box[0] and box[3] > box[1]]
    if not clipped or width * height <= 0:
        return 0.0
    xs = np.unique([v for box in clipped for v in (box[0], box[2])])
    ys = np.unique([v for box in clipped for v in (box[1], box[3])])
    inside = np.zeros((len(ys) - 1, len(xs) - 1), dtype=bool)
    for x0, y0, x1, y1 in clipped:
        inside[np.searchsorted(ys, y0) : np.searchsorted(ys, y1), np.searchsorted(xs, x0) : np.searchsorted(xs, x1)] = 1
    return float((np.outer(np.diff(ys), np.diff(xs)) * inside).sum() / (width * height))


def scan_parts(page: pymupdf.Page, placements: list[dict]) -> list[dict]:
    """The image placements that are a scan of the page, on a page without a text layer or under an OCR tool's: one
    that ``fills`` it; else the strips across it (``spans``) where together they cover ``PAGE_FILLED`` of it (a scanner
    or PDF tool that stores a page as eight strips, each of which was a figure cut through the page's lines); else none.
    A picture pasted over a scan, narrower than the page, is no strip: it stays a figure, as an inset scan does."""
    whole = [info for info in placements if fills(page, info)]
    if whole:
        return whole
    strips = [info for info in placements if spans(page, info)]
    return strips if covered(page, [info["bbox"] for info in strips]) >= PAGE_FILLED else []


def spans(page: pymupdf.Page, info: dict) -> bool:
    """Whether an image's placement (unrotated points) reaches across ``PAGE_FILLED`` of the page's width or down as
    much of its height: a strip of a scan, not a picture placed on the page."""
    x0, y0, x1, y1 = info["bbox"]
    width, height = page.cropbox.width, page.cropbox.height
    across = min(x1, width) - max(x0, 0.0)
    down = min(y1, height) - max(y0, 0.0)
    return across >= PAGE_FILLED * width or down >= PAGE_FILLED * height


OCR_LAYER = 0.5
"""The share of a page's characters drawn invisible from which its text is an OCR tool's layer (ocrmypdf, tesseract's
own PDF), not the page's own: a line a library stamps on its scans ("Digitised by ...") is visible, and fewer."""


def behind_ocr_layer(page: pymupdf.Page) -> bool:
    """Whether at least ``OCR_LAYER`` of the page's characters are invisible (text render mode 3, MuPDF's "ignore"
    type): on a page an image fills, that image is a scan and its words the OCR layer over it, which a scanned book
    has on every page. A born-digital page shows its text."""
    shown = unseen = 0
    for span in page.get_texttrace():
        if span["type"] == 3:
            unseen += len(span["chars"])
        else:
            shown += len(span["chars"])
    return unseen > 0 and unseen >= OCR_LAYER * (shown + unseen)
