"""A slide master's images (a deck's logo or background), a figure only on the first page showing them."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pathatlas.indexer.sources.pdf.images import placed_images
from pathatlas.indexer.sources.pdf.scans import fills

if TYPE_CHECKING:
    import pymupdf

TEMPLATE_PAGES = 3
"""The fewest pages an image is on (besides half of the document's) to be a slide master's (``template_images``)."""
MASTER_MARGIN = 0.25
"""The share of a page's width (and of its height) on each side that is its margin: a slide master draws its logo, a
banner or a side strip there, clear of the middle (the central half of each side), where a slide shows its content."""


def drawn_as_master(page: pymupdf.Page, info: dict) -> bool:
    """Whether an image's placement ``info`` (``get_image_info``, unrotated points) is drawn as a slide master draws
    its images: across the page (a background: ``fills``) or in its margins, clear of its middle (``MASTER_MARGIN``: a
    logo in a corner, a banner along an edge). A slide's own picture reaches into the middle, however often a deck
    shows it (a quiz's question, hint and answer)."""
    import pymupdf

    width, height = page.cropbox.width, page.cropbox.height
    middle = pymupdf.Rect(
        MASTER_MARGIN * width, MASTER_MARGIN * height, (1 - MASTER_MARGIN) * width, (1 - MASTER_MARGIN) * height
    )
    return fills(page, info) or not pymupdf.Rect(info["bbox"]).intersects(middle)


def first_pages_of_repeated(pages: list[set[Hashable]]) -> dict[Hashable, int]:
    """Each item found on at least ``TEMPLATE_PAGES`` of ``pages`` and at least half of them, to the first (1-based)
    page holding it."""
    counts = Counter(item for page in pages for item in page)
    first: dict[Hashable, int] = {}
    for number, page in enumerate(pages, 1):
        for item in page:
            first.setdefault(item, number)
    return {item: first[item] for item, n in counts.items() if n >= TEMPLATE_PAGES and 2 * n >= len(pages)}


def stream_identity(doc: pymupdf.Document, xref: int) -> Hashable:
    """An image by its stored bytes, so that an exporter copying the master's image onto each slide stores one image;
    by its xref where they cannot be read (a damaged image is skipped as a figure later, with the problem noted)."""
    try:
        return hashlib.blake2b(doc.xref_stream_raw(xref), digest_size=16).digest()
    except Exception:
        return xref


@dataclass(frozen=True)
class SlideMasters:
    """What ``template_images`` finds in a document."""

    first_pages: dict[int, int]
    """A slide master's images, by xref, each to the (1-based) first page showing it."""
    placements: dict[int, list[dict]]
    """The pages' placements (``placed_images``) it read, by 0-based page number: each page's records reuse them, as
    reading them draws the page."""


def template_images(doc: pymupdf.Document) -> SlideMasters:
    """The images of a slide master (a PowerPoint deck's logo or background, on every slide), by xref, each to the
    first page showing it: an image (one xref, or the same bytes) drawn as a master draws it (``drawn_as_master``: in
    the page's margins or across it) on at least ``TEMPLATE_PAGES`` pages and at least half of the document's. Each
    would be a figure of every slide, filling figure and image searches with logos; it is a figure on that first page
    (so an image search for it still finds its deck), and on another page only where a caption ("Figure ...") makes
    it one there. Reuse alone is not the sign: the A&P book prints one image as Figure 4.18 and 10.2, two pages of
    998, each captioned, and both stay figures; a short handout showing one diagram on two pages of two keeps both
    (fewer than three pages); a quiz deck showing one micrograph on its question, hint and answer slides, three of
    five, keeps it on each, as it fills the middle of each. Only pages holding an image repeated that often
    (``get_images``, quick) have their images placed (``placed_images``, which draws the page)."""
    pages = [{image[0] for image in page.get_images()} for page in doc]
    identities = {xref: stream_identity(doc, xref) for xref in set().union(*pages)}
    repeated = first_pages_of_repeated([{identities[xref] for xref in page} for page in pages])
    placements = {
        page.number: placed_images(page)
        for page, xrefs in zip(doc, pages, strict=True)
        if any(identities[xref] in repeated for xref in xrefs)
    }
    drawn = [
        {
            identities[info["xref"]]
            for info in placements.get(page.number, [])
            if identities.get(info["xref"]) in repeated and drawn_as_master(page, info)
        }
        for page in doc
    ]
    firsts = first_pages_of_repeated(drawn)
    return SlideMasters(
        {xref: firsts[identity] for xref, identity in identities.items() if identity in firsts}, placements
    )
