"""Pages drawn: rendered within a pixel budget, keyed by what decides their pixels (so a reading reuses an
earlier one's thumbnails), or cut out as a PDF of their own."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pathatlas.indexer.sources.pdf.damage import recount_pages
from pathatlas.indexer.sources.pdf.mupdf import mupdf_alone

if TYPE_CHECKING:
    import pymupdf

    from pathatlas.settings import Settings


def render(page: pymupdf.Page, dpi: int, max_pixels: int, grey: bool = False) -> pymupdf.Pixmap:
    """The page rendered at ``dpi``, or smaller to stay within ``max_pixels``: a few-kilobyte PDF may declare pages
    10 metres wide, gigabytes as pixels. The zoom fits (w z + 1)(h z + 1) <= max_pixels: each side may round up."""
    import pymupdf

    width, height = max(page.rect.width, 1e-3), max(page.rect.height, 1e-3)  # points
    sides = width + height
    fit = (math.sqrt(sides * sides + 4 * width * height * (max_pixels - 1)) - sides) / (2 * width * height)
    zoom = min(dpi / 72, fit)
    return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY if grey else pymupdf.csRGB)


RENDERING = 1
"""Raise when ``render`` draws a page otherwise for the same page and settings (other colours, its annotations left
out, another anti-aliasing): a page render an earlier reading made is kept (``EarlierRenders``) only under the same."""


def drawing_key(content: str | None, doc: pymupdf.Document, settings: Settings) -> str | None:
    """What decides every page render of a PDF (``render``): its bytes (``content``, its ``content_hash``), its page
    objects in the order read (a newer reader counting a broken page tree otherwise draws other pages under the same
    numbers), the render settings, MuPDF's version and ``RENDERING``. Two readings of the same key render each page
    alike, pixel for pixel. None where the file could not be hashed."""
    import pymupdf

    if content is None:
        return None
    pages = " ".join(str(doc.page_xref(number)) for number in range(doc.page_count))
    mupdf = (pymupdf.VersionBind, pymupdf.VersionFitz)
    drawn = [content, pages, settings.page_render_dpi, settings.max_page_pixels, mupdf, RENDERING]
    return hashlib.blake2b(repr(drawn).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class EarlierRenders:
    """What the committed reading of a PDF rendered (``PdfSource.earlier``): its ``drawing_key``, and the thumbnail
    key (``Payload.thumbnail_hash``) of each page whose thumbnail the index holds at the size asked now. Where this
    reading's key is the same, such a page (one found by its text) is not rendered again: its record takes that key,
    and the indexer a copy of its thumbnail (an upgrade of the A&P book rendered its 998 pages, 6 s of CPU, to hash
    the pixels it rendered before)."""

    drawing: str | None
    thumbnails: Mapping[int, str]
    """Page number (1-based) to its thumbnail key."""


def page_as_pdf(content: bytes, page: int) -> bytes:
    """Page ``page`` (1-based, counted as the indexer counts them: ``recount_pages``) of the PDF ``content`` as a PDF of
    its own: what the web UI's "Download page" gives, which for a PDF miscounting its pages was another page."""
    import pymupdf

    with mupdf_alone(), pymupdf.open(stream=content, filetype="pdf") as book, pymupdf.open() as one:
        recount_pages(book)
        one.insert_pdf(book, from_page=page - 1, to_page=page - 1)
        return one.tobytes(garbage=3, deflate=True)
