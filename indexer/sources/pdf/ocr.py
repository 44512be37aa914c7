"""Pages without a text layer read by tesseract, a group at a time, into text blocks like any page's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PIL import Image

from pathatlas import tesseract
from pathatlas.errors import MissingProgramError
from pathatlas.indexer.sources.pdf.columns import reading_order
from pathatlas.indexer.sources.pdf.drawing import render
from pathatlas.indexer.sources.pdf.mupdf import mupdf_let_go
from pathatlas.indexer.sources.pdf.running import RunningLines, unrotated_height
from pathatlas.indexer.sources.pdf.scans import words_hold_ink
from pathatlas.indexer.sources.pdf.text import Spelling, TextBlock, clean_text

if TYPE_CHECKING:
    import pymupdf

    from pathatlas.indexer.sources.base import Source
    from pathatlas.retrieval.ocr import Paragraph
    from pathatlas.settings import Settings

SCAN_DPI = 300
"""A page without a text layer is rendered at this resolution for tesseract to read (its own recommendation)."""
SCAN_GROUP = 16
"""Scanned pages read in one call (spread over tesseract's workers); 16 grey A4 pages at 300 dpi hold 140 MB."""


class ScanReader(Protocol):
    """Reads scanned pages (``TesseractReader``): each page image's paragraphs, boxed in its pixels."""

    def read_pages(self, images: list[Image.Image], dpi: int) -> list[list[Paragraph]]: ...


def scan_reader(settings: Settings) -> ScanReader:
    """What reads pages without a text layer where figure OCR is on (raises ``MissingProgramError`` without
    tesseract)."""
    from pathatlas.retrieval.ocr import TesseractReader

    return TesseractReader(settings.cache_dir)


def scanned_blocks(page: pymupdf.Page, pixmap: pymupdf.Pixmap, paragraphs: list[Paragraph]) -> list[TextBlock]:
    """Paragraphs read on the page's render, boxed in the page's unrotated points like its text blocks."""
    import pymupdf

    scale_x, scale_y = page.rect.width / pixmap.width, page.rect.height / pixmap.height
    blocks = []
    for (x0, y0, x1, y1), text in paragraphs:
        rect = pymupdf.Rect(x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y) * page.derotation_matrix
        rect.normalize()
        blocks.append(((rect.x0, rect.y0, rect.x1, rect.y1), text))
    return blocks


class ScannedPages:
    """The pages of one document without a text layer, read by tesseract (``scan_reader``) where figure OCR is on:
    their paragraphs become their text blocks, so they are searched and quoted like any page. ``SCAN_GROUP`` pages
    are read in one call, as the reading reaches them (a scanned book's first pages come without waiting for its
    last), and the lines in their margins count towards the document's ``running`` lines. In a born-digital document
    (``judge``) each page read is also told a scan from a plate (``of_words``)."""

    def __init__(
        self,
        source: Source,
        doc: pymupdf.Document,
        pages: list[list[TextBlock] | None],
        spelling: Spelling,
        running: RunningLines,
        judge: bool = False,
    ):
        self.source, self.doc, self.pages, self.spelling, self.judge = source, doc, pages, spelling, judge
        self.running = running
        self.waiting = [n for n, blocks in enumerate(pages) if blocks == []] if source.settings.figure_ocr else []
        self.reader: ScanReader | None = None
        self.wordless: list[int] = []
        """The pages read on which tesseract found no words (0-based)."""
        self.of_words: set[int] = set()
        """With ``judge`` (a born-digital document, where a page without text may be a plate), the pages read whose
        words hold their ink (``words_hold_ink``): scans, not pictures."""

    def read_from(self, number: int) -> None:
        """Read the next group when page ``number`` (0-based) or the one after it waits (its opening caption)."""
        if not self.waiting or self.waiting[0] > number + 1:
            return
        group, self.waiting = self.waiting[:SCAN_GROUP], self.waiting[SCAN_GROUP:]
        if self.reader is None:
            try:
                self.reader = scan_reader(self.source.settings)
            except MissingProgramError as exc:
                self.source.problems.append(f"{self.source.path}: pages without text were not read ({exc})")
                self.waiting = []
                return
        renders = {}
        for n in group:
            try:
                renders[n] = render(self.doc[n], SCAN_DPI, self.source.settings.max_page_pixels, grey=True)
            except Exception as exc:  # the page is still indexed by its thumbnail, if that renders
                self.source.problems.append(f"{self.source.path} page {n + 1}: its scan was not read ({exc})")
        images = [Image.frombytes("L", (p.width, p.height), p.samples) for p in renders.values()]
        with mupdf_let_go():
            read = self.reader.read_pages(images, SCAN_DPI)
            if self.judge:
                judged = zip(renders, images, read, strict=True)
                self.of_words.update(n for n, image, paragraphs in judged if words_hold_ink(image, paragraphs))
        pages = {}
        for n, paragraphs in zip(renders, read, strict=True):
            page = self.doc[n]
            blocks = [
                (box, clean_text(text, self.spelling)) for box, text in scanned_blocks(page, renders[n], paragraphs)
            ]
            pages[n] = [b for b in blocks if b[1]]
            if not pages[n]:
                self.wordless.append(n)
            self.running.add(n, pages[n], unrotated_height(page))
        for n, blocks in pages.items():  # once the group's margins are counted
            self.pages[n] = reading_order(blocks, unrotated_height(self.doc[n]), self.running)

    def unread(self) -> list[str]:
        """The problems to note of a scanned document whose pages without a text layer no words were read from: none
        were read, figure OCR being off (or tesseract missing), or tesseract found none on some. Such a page is indexed
        by its image alone, and a word search never finds it: its user must hear so, not see it indexed as any page."""
        path, settings = self.source.path, self.source.settings
        bare = [n for n, blocks in enumerate(self.pages) if blocks == []]
        if not settings.figure_ocr and bare:
            missing = f"tesseract is not installed: {tesseract.INSTALL_HINT}"
            why = missing if settings.figure_ocr_missing else "figure OCR is off; PATHATLAS_FIGURE_OCR=1 reads them"
            return [f"{path}: no text layer on {pages_named(bare)}, not read ({why}): found by their image only"]
        if self.wordless:
            named = pages_named(self.wordless)
            return [f"{path}: no text layer on {named}, and tesseract read no words there: found by their image only"]
        return []


def pages_named(numbers: list[int]) -> str:
    """0-based page numbers as a reader names them, 1-based, runs as ranges: "page 4", "pages 1-3, 7"."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    named = ", ".join(f"{run[0] + 1}-{run[-1] + 1}" if len(run) > 1 else f"{run[0] + 1}" for run in runs)
    return f"page {named}" if len(numbers) == 1 else f"pages {named}"
