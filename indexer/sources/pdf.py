"""Textbook PDFs: one ``Page`` per page, its ``Passage``s, and one ``Figure`` per embedded image, with its caption."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Figure, Page, Passage, Record
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.retrieval.images import open_image, thumbnail
from pathatlas.retrieval.records import BBox

if TYPE_CHECKING:
    import pymupdf

CAPTION_START = re.compile(r"^\s*(fig(?:ure)?\.?)\s*(\d+[\w.\-]*)", re.IGNORECASE)
MAX_CAPTION_GAP = 72.0
"""Points between an image and the block below it beyond which that block is not its caption."""
CAPTION_TIE = 6.0
"""Points within which two labelled blocks are as near an image as each other (half a caption line)."""

TextBlock = tuple[BBox, str]


LINE_BREAK_HYPHEN = re.compile(r"(\w+)-\n(\w+)")


@dataclass(frozen=True)
class Spelling:
    """How one document spells its words, which decides a hyphen at a line break: part of the word as printed
    ("pigment-producing", "X-rays": kept) or only a word split across lines ("physi-/ology": joined)."""

    hyphenated: frozenset[str]
    """Lower-case words the document prints with a hyphen inside a line."""
    words: frozenset[str]
    """Lower-case words it prints whole (line-broken words left out)."""

    @classmethod
    def of(cls, texts: Iterable[str]) -> Spelling:
        hyphenated: set[str] = set()
        words: set[str] = set()
        for text in texts:
            text = LINE_BREAK_HYPHEN.sub(" ", unicodedata.normalize("NFKC", text).lower())
            hyphenated.update(re.findall(r"\w+(?:-\w+)+", text))
            words.update(re.findall(r"\w+", text))
        return cls(frozenset(hyphenated), frozenset(words))

    def keeps_hyphen(self, left: str, right: str) -> bool:
        """Printed with the hyphen elsewhere: kept; printed whole: joined; neither: kept when both halves are
        words of their own ("cord-like"), joined when they are not ("granulo-/matous")."""
        left, right = left.lower(), right.lower()
        if f"{left}-{right}" in self.hyphenated:
            return True
        if left + right in self.words:
            return False
        return left in self.words and right in self.words


def clean_text(text: str, spelling: Spelling | None = None) -> str:
    """NFKC expands ligature glyphs (ﬁ -> fi) so words match queries; a hyphen at a line break is joined, or kept
    where the document's ``spelling`` shows it belongs to the word."""
    text = unicodedata.normalize("NFKC", text)

    def rejoin(match: re.Match[str]) -> str:
        left, right = match.groups()
        return f"{left}-{right}" if spelling is not None and spelling.keeps_hyphen(left, right) else left + right

    text = LINE_BREAK_HYPHEN.sub(rejoin, text)
    return re.sub(r"[ \t]+", " ", text).strip()


def find_caption(image_box: BBox, blocks: list[TextBlock], continued: str | None = None) -> str:
    """The image's caption: the closest block starting with Figure/Fig. below it; else ``continued``, the caption
    opening the next page, when no text follows the image on its own (the caption ran over the page break); else the
    closest labelled block above it; else the closest block just below it. Among labelled blocks about as near as the
    nearest (``CAPTION_TIE``), one in the image's column comes first: two figures side by side each have their
    caption under them, at the same distance (a caption set left of a centred image is still its own)."""

    def overlaps_horizontally(box: BBox) -> bool:
        return min(box[2], image_box[2]) - max(box[0], image_box[0]) > 0

    labelled = [(box, text) for box, text in blocks if CAPTION_START.match(text)]

    def nearest(gaps: list[tuple[float, BBox, str]]) -> str:
        closest = min(gap for gap, _, _ in gaps)
        tied = [(not overlaps_horizontally(box), gap, text) for gap, box, text in gaps if gap <= closest + CAPTION_TIE]
        return min(tied)[2]

    below = [(box[1] - image_box[3], box, text) for box, text in labelled if box[1] - image_box[3] >= -2]
    if below:
        return nearest(below)
    if continued is not None and not any(box[1] >= image_box[3] - 2 for box, _ in blocks):
        return continued
    above = [(image_box[1] - box[3], box, text) for box, text in labelled]
    if above:
        return nearest(above)
    near = [
        (box[1] - image_box[3], text)
        for box, text in blocks
        if -2 <= box[1] - image_box[3] <= MAX_CAPTION_GAP and overlaps_horizontally(box)
    ]
    return min(near)[1] if near else ""


def body_blocks(blocks: list[TextBlock], page_height: float) -> list[TextBlock]:
    """The page's blocks less its running headers, footers and page numbers."""
    return [(box, text) for box, text in blocks if not is_running_line(box, text, page_height)]


def opening_caption(blocks: list[TextBlock], page_height: float) -> str | None:
    """The page's first text (running lines left out) when it is a figure caption: the caption of an image at the
    previous page's foot, carried over the page break."""
    body = body_blocks(blocks, page_height)
    return body[0][1] if body and CAPTION_START.match(body[0][1]) else None


def union_box(boxes: list[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def split_long(block: TextBlock, max_words: int) -> list[TextBlock]:
    """A block over ``max_words`` becomes near-equal word runs that share its box (the encoder truncates)."""
    box, text = block
    words = text.split()
    if len(words) <= max_words:
        return [block]
    parts = -(-len(words) // max_words)
    size = -(-len(words) // parts)
    return [(box, " ".join(words[i : i + size])) for i in range(0, len(words), size)]


def merge_blocks(blocks: list[TextBlock], min_words: int, max_words: int) -> list[list[TextBlock]]:
    """Group consecutive blocks (reading order) until a group reaches ``min_words``, never past ``max_words``.

    Short blocks (headings, labels) join the text after them; a short tail joins the group before it
    when that stays within ``max_words``.
    """
    groups: list[list[TextBlock]] = []
    current: list[TextBlock] = []
    count = 0
    for piece in (p for block in blocks for p in split_long(block, max_words)):
        words = len(piece[1].split())
        if current and (count >= min_words or count + words > max_words):
            groups.append(current)
            current, count = [], 0
        current.append(piece)
        count += words
    if current:
        if groups and count < min_words and sum(len(t.split()) for _, t in groups[-1]) + count <= max_words:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def is_running_line(box: BBox, text: str, page_height: float) -> bool:
    """Running headers, footers and page numbers: short blocks in the top or bottom margin."""
    margin = 0.075 * page_height
    return len(text.split()) <= 15 and (box[3] <= margin or box[1] >= page_height - margin)


def sections_by_page(toc: list[list], page_count: int) -> dict[int, str]:
    """The bookmark path in force on each 1-based page, from pymupdf's ``get_toc()`` rows [level, title, page]."""
    path: list[str] = []
    starts: dict[int, str] = {}
    for level, title, page in toc:
        path = [*path[: level - 1], clean_text(title)]
        if 1 <= page <= page_count:
            starts[page] = " > ".join(path)
    sections, current = {}, ""
    for page in range(1, page_count + 1):
        current = starts.get(page, current)
        sections[page] = current
    return sections


def render(page: pymupdf.Page, dpi: int, max_pixels: int) -> pymupdf.Pixmap:
    """The page rendered at ``dpi``, or smaller to stay within ``max_pixels``: a few-kilobyte PDF may declare pages
    10 metres wide, gigabytes as pixels. The zoom fits (w z + 1)(h z + 1) <= max_pixels: each side may round up."""
    import pymupdf

    width, height = max(page.rect.width, 1e-3), max(page.rect.height, 1e-3)  # points
    sides = width + height
    fit = (math.sqrt(sides * sides + 4 * width * height * (max_pixels - 1)) - sides) / (2 * width * height)
    zoom = min(dpi / 72, fit)
    return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom))


def figure_label(caption: str) -> str | None:
    match = CAPTION_START.match(caption)
    return f"Figure {match.group(2).rstrip('.:')}" if match else None


class PdfSource(Source):
    kind = "pdf"
    reads_settings = (
        "passage_min_words",
        "passage_max_words",
        "passage_vectors",
        "min_figure_px",
        "page_render_dpi",
        "max_page_pixels",  # caps the page renders of huge pages
        "figure_ocr",  # its figures get their printed words
    )

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".pdf"

    def fingerprint(self) -> str:
        return hash_files([self.path], self.reading())

    def size_hint(self) -> int:
        try:
            with self._open() as doc:
                return doc.page_count
        except Exception:  # records() reports the real problem
            return 0

    def _open(self) -> pymupdf.Document:
        import pymupdf  # here, not at import: finding an unchanged PDF needs no reader (half a second)

        try:
            doc = pymupdf.open(self.path, filetype="pdf")
        except Exception as exc:
            raise BadInputError(f"{self.path} is not a readable PDF: {exc}") from exc
        if not doc.is_pdf:  # MuPDF reads by content whatever the type says: HTML, SVG, images named .pdf
            doc.close()
            raise BadInputError(f"{self.path} is not a PDF")
        if doc.needs_pass:
            doc.close()
            raise BadInputError(f"{self.path} is encrypted; decrypt it first (e.g. qpdf --decrypt)")
        if doc.page_count == 0:
            doc.close()
            raise BadInputError(f"{self.path} has no pages")
        if (pages := doc.page_count) > self.settings.max_pdf_pages:
            doc.close()
            raise BadInputError(
                f"{self.path} has {pages} pages, over PATHATLAS_MAX_PDF_PAGES={self.settings.max_pdf_pages}"
            )
        return doc

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        with self._open() as doc:
            book = (doc.metadata or {}).get("title") or self.path.stem
            sections = sections_by_page(doc.get_toc(), doc.page_count)
            for page, blocks, continued in self._read(doc):
                section = sections.get(page.number + 1, "")
                yield from self._page_records(page, blocks, fingerprint, book, section, continued)

    def _read(self, doc: pymupdf.Document) -> Iterator[tuple[pymupdf.Page, list[TextBlock], str | None]]:
        """Each readable page, its text blocks as the book spells them, and the caption opening the next page. Every
        page's text is read first (3 s for the 998-page book): the spelling is the whole book's, and a figure at a
        page's foot may find its caption on the next."""
        raw = [self._read_blocks(page) for page in doc]
        spelling = Spelling.of("".join(text for _, text in blocks or []) for blocks in raw)
        pages = [None if b is None else [(box, clean_text(text, spelling)) for box, text in b] for b in raw]
        for page, blocks in zip(doc, pages, strict=True):
            number = page.number + 1
            following = pages[number] if number < len(pages) else None
            if blocks is not None:
                yield page, blocks, opening_caption(following, doc[number].rect.height) if following else None

    def _read_blocks(self, page: pymupdf.Page) -> list[TextBlock] | None:
        """The page's text blocks in reading order (None, with the problem noted, when the page cannot be read)."""
        try:
            return [(tuple(b[:4]), b[4]) for b in page.get_text("blocks", sort=True) if b[6] == 0 and b[4].strip()]
        except Exception as exc:
            self.problems.append(f"{self.path} page {page.number + 1}: cannot be read ({exc})")
            return None

    def _page_records(
        self,
        page: pymupdf.Page,
        blocks: list[TextBlock],
        fingerprint: str,
        book: str,
        section: str = "",
        continued: str | None = None,
    ) -> Iterator[Record]:
        number = page.number + 1
        try:
            pixmap = render(page, self.settings.page_render_dpi, self.settings.max_page_pixels)
        except Exception as exc:
            self.problems.append(f"{self.path} page {number}: cannot be read ({exc})")
            return
        rendered = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
        text = "\n".join(text for _, text in blocks)
        yield Page(self.key, fingerprint, number, text, rendered, book=book, section=section)
        yield from self._passages(page, blocks, fingerprint, book, section)
        yield from self._figures(page, blocks, fingerprint, book, continued)

    def _passages(
        self, page: pymupdf.Page, blocks: list[TextBlock], fingerprint: str, book: str, section: str
    ) -> Iterator[Passage]:
        groups = merge_blocks(
            body_blocks(blocks, page.rect.height), self.settings.passage_min_words, self.settings.passage_max_words
        )
        for index, group in enumerate(groups):
            boxes = list(dict.fromkeys(box for box, _ in group))
            yield Passage(
                self.key,
                fingerprint,
                page.number + 1,
                index,
                "\n".join(text for _, text in group),
                tuple(round(v, 1) for v in union_box(boxes)),
                [tuple(round(v, 1) for v in box) for box in boxes],
                book=book,
                section=section,
                vector=self.settings.passage_vectors,
            )

    def _figures(
        self, page: pymupdf.Page, blocks: list[TextBlock], fingerprint: str, book: str, continued: str | None
    ) -> Iterator[Figure]:
        number = page.number + 1
        doc = page.parent
        body = body_blocks(blocks, page.rect.height)
        seen: set[int] = set()
        placements = sorted(page.get_image_info(xrefs=True), key=lambda info: (info["bbox"][1], info["bbox"][0]))
        for index, info in enumerate(placements):
            xref = info.get("xref", 0)
            if not xref or xref in seen:
                continue
            seen.add(xref)
            if min(info["width"], info["height"]) < self.settings.min_figure_px:
                continue
            try:
                extracted = doc.extract_image(xref)
                image = open_image(extracted["image"], self.settings.max_image_pixels, f"{self.path} p.{number} image")
            except Exception as exc:  # one damaged image must not lose the page
                self.problems.append(f"{self.path} page {number}: skipped an image ({exc})")
                continue
            image = thumbnail(image, 1024)
            bbox: BBox = tuple(round(v, 1) for v in info["bbox"])
            caption = find_caption(bbox, body, continued)
            yield Figure(
                self.key, fingerprint, number, index, bbox, caption, image, label=figure_label(caption), book=book
            )
