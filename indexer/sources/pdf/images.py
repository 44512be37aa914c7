"""A page's embedded images: where it places them, each decoded within a pixel budget and turned as the page
shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.images import on_white, open_image, too_large

if TYPE_CHECKING:
    import pymupdf


def embedded_image(doc: pymupdf.Document, xref: int, max_pixels: int, label: str) -> Image.Image:
    """An embedded image as the page shows it, over white: a PDF keeps an image's transparency (a PowerPoint PNG's) as
    a separate soft mask, without which what it hides shows, often black."""
    extracted = extract_within(doc, xref, max_pixels, label)
    image = open_image(extracted["image"], max_pixels, label)
    if not extracted.get("smask"):
        return image
    mask_label = f"{label}'s mask"
    mask = open_image(extract_within(doc, extracted["smask"], max_pixels, mask_label)["image"], max_pixels, mask_label)
    image.putalpha(mask.convert("L").resize(image.size))
    return on_white(image)


def extract_within(doc: pymupdf.Document, xref: int, max_pixels: int, label: str) -> dict:
    """``extract_image``, refused (``BadInputError``) for an image whose declared size is over ``max_pixels``: MuPDF
    decodes one stored in a form it does not hand over as it is (a Flate stream, turned into a PNG) whole, gigabytes
    from a few compressed megabytes; and one over MuPDF's own limit (about a billion pixels, which a raised
    ``max_pixels`` may pass) is refused in words, not MuPDF's "Overly large image"."""
    import pymupdf

    width, height = (declared(doc, xref, key) for key in ("Width", "Height"))
    if width * height > max_pixels:
        raise BadInputError(too_large(label, width, height, max_pixels))
    try:
        return doc.extract_image(xref)
    except pymupdf.mupdf.FzErrorLimit as exc:
        raise BadInputError(f"{label} is {width}x{height} pixels, more than MuPDF will decode") from exc


def declared(doc: pymupdf.Document, xref: int, key: str) -> int:
    """An image's /Width or /Height as its dictionary states it, through a reference (0 where it states none)."""
    kind, value = doc.xref_get_key(xref, key)
    if kind == "xref":
        value = doc.xref_object(int(value.split()[0])).strip()
    return int(value) if value.isdigit() else 0


def placed_images(page: pymupdf.Page) -> list[dict]:
    """The page's image placements (``get_image_info``'s), each with the ``xref`` of the image it draws: 0 for one the
    page does not list (``get_images``: an inline image, an annotation's). Found without decoding any image, where
    ``get_image_info(xrefs=True)`` decoded each twice to pair them by their pixels' digests (6.7 s of CPU for the A&P
    book, 1.6 s now; a figure decodes its image once more), and failed the page on one over MuPDF's limit: drawing the
    page loads each image it shows into MuPDF's store, keyed by its object and kept there while the text page holds
    it, so loading a listed image again (``pdf_load_image``) finds there the very image drawn. Two images stored apart
    with the same pixels are each their own (the digests gave both the later one's xref, so one figure). An image over
    ``max_image_pixels`` is placed all the same, and skipped as a figure (``extract_within``); one MuPDF cannot load
    fails here, so a reading sets such images aside first (``set_aside_damaged_images``)."""
    import pymupdf

    mupdf = pymupdf.mupdf
    textpage = page.get_textpage(flags=pymupdf.TEXT_PRESERVE_IMAGES)
    drawn = [
        block.i_image().m_internal_value() if block.m_internal.type == mupdf.FZ_STEXT_BLOCK_IMAGE else None
        for block in textpage.this
    ]
    pdf = mupdf.pdf_document_from_fz_document(page.parent.this)
    listed = {
        mupdf.pdf_load_image(pdf, mupdf.pdf_new_indirect(pdf, xref, 0)).m_internal_value(): xref
        for xref, *_ in page.get_images()
    }
    return [{**info, "xref": listed.get(drawn[info["number"]], 0)} for info in textpage.extractIMGINFO()]


TURNS = {
    # (a > 0, d > 0) of a placement that keeps the image's rows across the page
    "across": {
        (True, True): None,
        (False, True): Image.Transpose.FLIP_LEFT_RIGHT,
        (True, False): Image.Transpose.FLIP_TOP_BOTTOM,
        (False, False): Image.Transpose.ROTATE_180,
    },
    # (b > 0, c > 0) of one that turns them a quarter, down or up the page
    "quarter": {
        (True, False): Image.Transpose.ROTATE_270,
        (False, True): Image.Transpose.ROTATE_90,
        (True, True): Image.Transpose.TRANSPOSE,
        (False, False): Image.Transpose.TRANSVERSE,
    },
}
"""How to turn an embedded image to show it as placed (``as_shown``), by the signs of its placement matrix."""


def as_shown(image: Image.Image, placement: pymupdf.Matrix) -> Image.Image:
    """The image turned as the page shows it: a PDF may keep a photo as the camera took it and turn it where it is drawn
    (PowerPoint does so with a phone photo), and a page's /Rotate turns all it holds. ``placement`` maps the image's
    square onto the shown page (its ``transform`` times the page's ``rotation_matrix``); a skew, or a turn between
    quarters, is shown at the nearest quarter."""
    a, b, c, d = placement.a, placement.b, placement.c, placement.d
    across = abs(a) + abs(d) >= abs(b) + abs(c)
    method = TURNS["across"][a > 0, d > 0] if across else TURNS["quarter"][b > 0, c > 0]
    return image if method is None else image.transpose(method)
