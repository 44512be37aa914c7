"""Damaged PDFs read as far as they hold: a file cut short, a page tree miscounting its pages, images MuPDF
cannot load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pymupdf

END_OF_FILE = b"%%EOF"
"""The marker a PDF ends with; MuPDF repairs a file that lost its end, and what it lost (pages, bookmarks) is gone."""


def ends_whole(path: Path) -> bool:
    """Whether the file still ends as a PDF does (``END_OF_FILE`` in its last kilobyte)."""
    with path.open("rb") as file:
        file.seek(max(0, file.seek(0, 2) - 1024))
        return END_OF_FILE in file.read()


PAGE_TREE_DEPTH = 64
"""The deepest page tree ``page_tree_counts`` walks (a 5000-page book's is 4 or 5 levels deep): a deeper one, or one
that loops, is left to MuPDF."""
REFERENCE = re.compile(r"(\d+) \d+ R")


class _Unwalkable(Exception):
    """A page tree ``page_tree_counts`` does not count: a loop, a kid that is neither a page nor a node of pages."""


def page_tree_counts(doc: pymupdf.Document) -> dict[int, int] | None:
    """The pages under each node of the document's page tree (by xref, its root first), counted by walking its
    /Kids as MuPDF loads them (a node of /Kids, or a /Type /Page); None where there is no tree to walk, or one that
    loops, nests deeper than ``PAGE_TREE_DEPTH`` or holds another kind of object (MuPDF's own count stands)."""
    counts: dict[int, int] = {}

    def walk(xref: int, depth: int) -> int:
        kind, kids = doc.xref_get_key(xref, "Kids")
        if kind == "xref":  # the array of kids kept as an object of its own
            kind, kids = "array", doc.xref_object(int(kids.split()[0]), compressed=True)
        if kind != "array":
            if doc.xref_get_key(xref, "Type") != ("name", "/Page"):
                raise _Unwalkable
            return 1
        if xref in counts or depth > PAGE_TREE_DEPTH:
            raise _Unwalkable
        counts[xref] = 0  # visited: a kid leading back here is a loop
        counts[xref] = sum(walk(int(kid), depth + 1) for kid in REFERENCE.findall(kids))
        return counts[xref]

    kind, root = doc.xref_get_key(doc.pdf_catalog(), "Pages")
    if kind != "xref":
        return None
    try:
        walk(int(root.split()[0]), 0)
    except (_Unwalkable, ValueError, RuntimeError):  # RuntimeError: MuPDF's, for a kid that is no object
        return None
    return counts


def recount_pages(doc: pymupdf.Document) -> str | None:
    """Where a PDF's page tree states (/Count) another number of pages than its /Kids hold (a damaged or hand-edited
    file), every node's count put right in ``doc``, in memory (the file stays as it is), and the one line saying so;
    None where they agree or the tree is not walked (``page_tree_counts``). MuPDF trusts the count it is told: past
    one too low it reads no page (a 3-page file stating 1 gave page 1 alone, and no word why), and one too high shows
    at the first page read (the progress promised 10 pages of 3). Whatever opens an indexed PDF to show a page of it
    calls this too, so page 3 of such a file is the page 3 that was indexed."""
    counts = page_tree_counts(doc)
    if not counts:
        return None
    stated, held = doc.page_count, next(iter(counts.values()))
    if stated == held:
        return None
    for xref, count in counts.items():
        doc.xref_set_key(xref, "Count", str(count))
    pages = "page" if stated == 1 else "pages"
    return f"its page tree states {stated} {pages} but holds {held}; read all {held} (save it again to mend it)"


DRAWS_NOTHING = "<< /Type /XObject /Subtype /Form /BBox [0 0 0 0] >>"
"""What a damaged image becomes in a reading's document (``set_aside_damaged_images``): an empty form, which a page
draws as MuPDF drew the image it cannot load, as nothing."""


def set_aside_damaged_images(doc: pymupdf.Document) -> dict[int, tuple[int, str]]:
    """The images the pages list that MuPDF cannot load (width 0, an unknown colour space, a bad JPX header), each
    xref to the first (1-based) page listing it and MuPDF's words why, each made in ``doc``, in memory, a form that
    draws nothing (``DRAWS_NOTHING``; the file stays as it is). Loading one failed the whole PDF (``placed_images``:
    one bad figure lost a 1000-page book), and its error, repeated each time its page's text is read, refused a
    repaired PDF whole (``PdfSource._read``). Loading each image once, its pixels not decoded, takes about 0.2 s of CPU
    for the A&P book's 998 pages and 719 images."""
    damaged: dict[int, tuple[int, str]] = {}
    seen: set[int] = set()
    for page in doc:
        for xref, *_ in page.get_images():
            if xref not in seen and (why := load_error(doc, xref)):
                damaged[xref] = (page.number + 1, why)
            seen.add(xref)
    for xref in damaged:
        doc.update_object(xref, DRAWS_NOTHING)
        doc.update_stream(xref, b"")
    return damaged


def load_error(doc: pymupdf.Document, xref: int) -> str | None:
    """MuPDF's words why it cannot load the image ``xref`` (its dictionary and stream, not its pixels), or None."""
    import pymupdf

    mupdf = pymupdf.mupdf
    pdf = mupdf.pdf_document_from_fz_document(doc.this)
    try:
        mupdf.pdf_load_image(pdf, mupdf.pdf_new_indirect(pdf, xref, 0))
    except mupdf.FzErrorBase as exc:
        return exc.m_text
    return None
