"""A page's margins: the running headers, footers and page numbers a document repeats there, left out of its
text."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from pathatlas.indexer.sources.pdf.captions import CAPTION_START
from pathatlas.indexer.sources.pdf.text import TextBlock
from pathatlas.retrieval.records import BBox

if TYPE_CHECKING:
    import pymupdf

MARGIN = 0.075
"""The share of a page's height at its top and at its foot where running headers, footers and page numbers stand."""
MAX_MARGIN = 108.0
"""Points (1.5 inches) beyond which no margin reaches, whatever the page's height: a web page printed as one long page
(6000 points and more) had 450 and more, where each case's headings stand ("Clinical history"), taken for running
lines. A3 and tabloid pages (89 and 92 points) keep ``MARGIN``; only pages over 20 inches tall are capped."""
RUNNING_PAGES = 3
"""The fewest pages whose margin prints a line for it to be a running header or footer (``RunningLines``). A book's
are on every page of a chapter (24 to 56 pages each in the A&P book), a deck's footer on each slide; a heading or a
slide's title printed that high on two pages keeps its words, as losing them costs more than keeping a header's."""
TITLE_SCALE = 1.2
"""How many times the body text's line height (``RunningLines.body_line``) a repeated margin line stands at least on a
page it heads (``heads_page``): a cover's title, a handout's heading. A running header is printed at the body's size or
smaller (the A&P book's 11 points a line over its text's 14); a single line's box is about its font's height, a line of
text its font's and its leading, so 1.2 asks for a font about a quarter larger than the text's (14 over 11 points)."""
PAGE_NUMBER = re.compile(
    r"^\W*(?:page\s*)?(?:\d+|(?=[ivxlcdm])m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3}))"
    r"(?:\s*(?:of|/)\s*\d+)?\W*$",
    re.IGNORECASE,
)
"""A block that is only a page's number: "12", "xiv", "- 3 -", "Page 3", "3 of 10", "3/10"."""


def body_blocks(blocks: list[TextBlock], page_height: float, running: RunningLines) -> list[TextBlock]:
    """The page's blocks less its running headers, footers and page numbers (``running``, its document's)."""
    return [block for block, run in zip(blocks, running.on_page(blocks, page_height), strict=True) if not run]


def opening_caption(blocks: list[TextBlock], page_height: float) -> TextBlock | None:
    """The page's first block below its margins' short lines (``is_running_line``: a running header or a heading,
    either way above it) when it is a figure caption: the caption of an image at the previous page's foot, carried
    over the page break."""
    body = [(box, text) for box, text in blocks if not is_running_line(box, text, page_height)]
    return body[0] if body and CAPTION_START.match(body[0][1]) else None


def is_running_line(box: BBox, text: str, page_height: float) -> bool:
    """Whether a block stands where running headers, footers and page numbers do: a short block in the top or bottom
    margin, but never a figure caption (one line of it may open a page, or close one). A slide's title or a heading
    may stand there too: ``RunningLines`` tells which are running lines. ``page_height`` is the unrotated page's, as
    the blocks' coordinates are (``unrotated_height``)."""
    return margin_of(box, page_height) is not None and len(text.split()) <= 15 and not CAPTION_START.match(text)


def line_count(text: str) -> int:
    """The lines of a block's text (MuPDF's blocks and a scan's paragraphs end each line with a newline)."""
    return text.strip().count("\n") + 1


def line_height(box: BBox, text: str) -> float:
    """Points per line of a block (its height over its lines): its font's size, give or take the font's and the
    leading's, which a text block does not carry (nor a scan's paragraph)."""
    return (box[3] - box[1]) / line_count(text)


def heads_page(block: TextBlock, blocks: list[TextBlock], body_line: float) -> bool:
    """Whether a block is the title of its page (``blocks``): printed ``TITLE_SCALE`` times the document's body line
    (``body_line``) or larger, and as large as any text on the page. A cover's title, or a handout's heading opening
    each of its pages, is; a running header is no larger than the body text, and a slide master's banner, however
    large, is smaller than the slide's own title."""
    height = line_height(*block)
    return height >= TITLE_SCALE * body_line and all(height >= line_height(*other) for other in blocks)


def margin_of(box: BBox, page_height: float) -> str | None:
    """Which margin a box stands in: "top" or "foot" (``MARGIN`` of the page's height, at most ``MAX_MARGIN``), else
    None."""
    margin = min(MARGIN * page_height, MAX_MARGIN)
    return "top" if box[3] <= margin else "foot" if box[1] >= page_height - margin else None


class RunningLines:
    """The running headers, footers and page numbers of one document: of the short blocks in a page's margins
    (``is_running_line``), a page number ("12", "xiv", "Page 3", "3 of 10"), and a line whose words the same margin
    of at least ``RUNNING_PAGES`` pages prints, its digits aside ("1234 Chapter 6 ..."), except on a page it heads
    (``heads_page``: a cover's title, which later pages print small as their header). A slide's title or a heading
    printed that high on one page is the page's text, in its passages and its pictures' captions. Pages count as they
    are read (``add``; a scan's once tesseract read it)."""

    def __init__(self) -> None:
        self.pages: dict[tuple[str, str], set[int]] = {}
        """The pages printing each margin's lines (by ``key``)."""
        self.lines: Counter[float] = Counter()
        """The lines of every block added, by their ``line_height`` (to a tenth of a point)."""

    def add(self, number: int, blocks: list[TextBlock], page_height: float) -> None:
        """Count the lines in the margins of page ``number`` (0-based), and every block's lines."""
        for box, text in blocks:
            self.lines[round(line_height(box, text), 1)] += line_count(text)
            if is_running_line(box, text, page_height):
                self.pages.setdefault(self.key(box, text, page_height), set()).add(number)

    @property
    def body_line(self) -> float:
        """The line height of the body text of the pages added so far: the median of their lines' (most lines are the
        body's; the A&P book's is 14 points)."""
        half, counted = self.lines.total() / 2, 0
        for height in sorted(self.lines):
            counted += self.lines[height]
            if counted >= half:
                return height
        return 0.0

    def on_page(self, blocks: list[TextBlock], page_height: float) -> list[bool]:
        """Per block of one page, whether it is a running line of the pages added so far."""
        body_line = self.body_line
        return [self._holds(block, blocks, page_height, body_line) for block in blocks]

    def _holds(self, block: TextBlock, blocks: list[TextBlock], page_height: float, body_line: float) -> bool:
        """Whether one block of the page ``blocks`` is a running line: a page number, or a line its margin repeats on
        ``RUNNING_PAGES`` pages unless it heads this one (judged among the page's blocks, against the document's
        ``body_line``)."""
        box, text = block
        if not is_running_line(box, text, page_height):
            return False
        if PAGE_NUMBER.match(text):
            return True
        printed_on = self.pages.get(self.key(box, text, page_height), ())
        return len(printed_on) >= RUNNING_PAGES and not heads_page(block, blocks, body_line)

    @staticmethod
    def key(box: BBox, text: str, page_height: float) -> tuple[str, str]:
        """A margin line by its margin and its words, case, digits and spacing aside: a book's header beside each
        page's number ("1234 Chapter 6 ...") is one line."""
        folded = " ".join(re.sub(r"\d+", "#", text.casefold()).split())
        return margin_of(box, page_height) or "", folded


def unrotated_height(page: pymupdf.Page) -> float:
    """The page's height in the space of its text and image boxes, which pymupdf gives unrotated (``page.rect`` is
    rotated: a /Rotate 90 page's is its width)."""
    return page.cropbox.height
