"""Textbook PDFs: one ``Page`` per page, its ``Passage``s, and one ``Figure`` per embedded image, with its caption."""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from PIL import Image

from pathatlas import tesseract
from pathatlas.errors import BadInputError, MissingProgramError
from pathatlas.indexer.records import Figure, Page, Passage, Record
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.fingerprints import hash_files
from pathatlas.retrieval.images import on_white, open_image, thumbnail, too_large
from pathatlas.retrieval.records import BBox, book_title, union_box
from pathatlas.retrieval.text import folded, normalise

if TYPE_CHECKING:
    import pymupdf

    from pathatlas.retrieval.ocr import Paragraph
    from pathatlas.settings import Settings

T = TypeVar("T")
CAPTION_START = re.compile(r"^\s*(fig(?:ure|ura)?\.?|abb(?:ildung|\.))\s*(\d+[\w.\-]*)", re.IGNORECASE)
"""A figure's label opening a block: "Figure 1.", "Fig. 2", Spanish, Italian and Portuguese "Figura 3", German "Abb. 4"
and "Abbildung 5"."""
MAX_CAPTION_GAP = 72.0
"""Points between an image and the block below it beyond which that block is not its caption."""
CAPTION_TIE = 6.0
"""Points within which two labelled blocks are as near an image as each other (half a caption line)."""

TextBlock = tuple[BBox, str]
COLUMN_WIDTH = 0.3
"""A block of two lines or more at least this share of the text's width is column text (a table's cells and a
figure's labels are narrower or single lines): one in each half, side by side, make a page of two columns."""
SCAN_DPI = 300
"""A page without a text layer is rendered at this resolution for tesseract to read (its own recommendation)."""
SCAN_GROUP = 16
"""Scanned pages read in one call (spread over tesseract's workers); 16 grey A4 pages at 300 dpi hold 140 MB."""
END_OF_FILE = b"%%EOF"
"""The marker a PDF ends with; MuPDF repairs a file that lost its end, and what it lost (pages, bookmarks) is gone."""

TITLE_WORDS = 20
"""The most words of a page's title (``page_title``); a paragraph opening a page is longer."""
TEMPLATE_PAGES = 3
"""The fewest pages an image is on (besides half of the document's) to be a slide master's (``template_images``)."""

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

LINE_BREAK_HYPHEN = re.compile(r"(\w+)[-\u2010][ \t]*\n(\w+)")
"""A word split at a line break: by "-" or the Unicode hyphen (U+2010, which some typesetters print), spaces after it
allowed (a line that ends "physi- " still continues its word)."""
PAGE_WORD = re.compile(r"^(?:(?:pages?|seite|página)(?:\s+|(?=\d))|(?:pp?|pg|pág|s)\.\s*)", re.IGNORECASE)
"""A page label's own word for "page" ("p. 1", "Page 1", "S. 1"): a citation says "p." itself ("p. p. 1" otherwise)."""


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
            text = LINE_BREAK_HYPHEN.sub(" ", normalise(text).lower().replace("\u2010", "-"))
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
    """Unicode-normalised (``text.normalise``: ligatures expanded, soft hyphens dropped); a hyphen at a line break
    is joined, or kept where the document's ``spelling`` shows it belongs to the word."""
    text = normalise(text)

    def rejoin(match: re.Match[str]) -> str:
        left, right = match.groups()
        return f"{left}-{right}" if spelling is not None and spelling.keeps_hyphen(left, right) else left + right

    text = LINE_BREAK_HYPHEN.sub(rejoin, text)
    return re.sub(r"[ \t]+", " ", text).strip()


def caption_block(image_box: BBox, blocks: list[TextBlock], continued: str | None = None) -> tuple[BBox | None, str]:
    """The image's caption and the box of the block printing it on the image's page (None for none, or for the next
    page's): the closest block starting with Figure/Fig. below it; else ``continued``, the caption opening the next
    page, when no text follows the image on its own (the caption ran over the page break); else the closest labelled
    block above it; else the closest block just below it; else ``(None, "")``. Among labelled blocks about as near as
    the nearest (``CAPTION_TIE``), one in the image's column comes first: two figures side by side each have their
    caption under them, at the same distance (a caption set left of a centred image is still its own)."""

    def overlaps_horizontally(box: BBox) -> bool:
        return min(box[2], image_box[2]) - max(box[0], image_box[0]) > 0

    labelled = [(box, text) for box, text in blocks if CAPTION_START.match(text)]

    def nearest(gaps: list[tuple[float, BBox, str]]) -> TextBlock:
        closest = min(gap for gap, _, _ in gaps)
        tied = [
            (not overlaps_horizontally(box), gap, text, box) for gap, box, text in gaps if gap <= closest + CAPTION_TIE
        ]
        *_, text, box = min(tied)
        return box, text

    below = [(box[1] - image_box[3], box, text) for box, text in labelled if box[1] - image_box[3] >= -2]
    if below:
        return nearest(below)
    if continued is not None and not any(box[1] >= image_box[3] - 2 for box, _ in blocks):
        return None, continued
    above = [(image_box[1] - box[3], box, text) for box, text in labelled]
    if above:
        return nearest(above)
    near = [
        (box[1] - image_box[3], text, box)
        for box, text in blocks
        if -2 <= box[1] - image_box[3] <= MAX_CAPTION_GAP and overlaps_horizontally(box)
    ]
    if not near:
        return None, ""
    _, text, box = min(near)
    return box, text


def page_title(blocks: list[TextBlock], image_box: BBox) -> str:
    """The page's title where it stands above the image, else "": its first block (``blocks`` are its body, in
    reading order) when that ends above the image's top, has at most ``TITLE_WORDS`` words and is no figure caption.
    A slide's picture has no caption: the slide's title is what says what it shows."""
    if not blocks:
        return ""
    box, text = blocks[0]
    fits = box[3] <= image_box[1] + 2 and len(text.split()) <= TITLE_WORDS
    return text if fits and not CAPTION_START.match(text) else ""


def body_blocks(blocks: list[TextBlock], page_height: float, running: RunningLines) -> list[TextBlock]:
    """The page's blocks less its running headers, footers and page numbers (``running``, its document's)."""
    return [block for block, run in zip(blocks, running.on_page(blocks, page_height), strict=True) if not run]


def opening_caption(blocks: list[TextBlock], page_height: float) -> str | None:
    """The page's first text below its margins' short lines (``is_running_line``: a running header or a heading,
    either way above it) when it is a figure caption: the caption of an image at the previous page's foot, carried
    over the page break."""
    body = [(box, text) for box, text in blocks if not is_running_line(box, text, page_height)]
    return body[0][1] if body and CAPTION_START.match(body[0][1]) else None


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


def printed_label(page: pymupdf.Page) -> str | None:
    """The number printed on the page, where the PDF's page labels give one other than its place in the file ("xiv",
    "A-3"; ``without_page_word``); else None."""
    label = without_page_word(page.get_label())
    return label if label and label != str(page.number + 1) else None


def without_page_word(label: str) -> str:
    """A page label without its word for "page" (``PAGE_WORD``): "p. 1" is "1", "Page iv" "iv"; a label that is only
    such a word stays as it is."""
    label = label.strip()
    return PAGE_WORD.sub("", label).strip() or label


def unrotated_height(page: pymupdf.Page) -> float:
    """The page's height in the space of its text and image boxes, which pymupdf gives unrotated (``page.rect`` is
    rotated: a /Rotate 90 page's is its width)."""
    return page.cropbox.height


def column_sides(blocks: list[TextBlock], page_height: float, running: RunningLines | None = None) -> list[str]:
    """Per block (top to bottom): "left" or "right" where it belongs to a stretch of the page set in two columns, else
    "". Blocks across the middle of the text's extent (a title, a wide caption, running lines: ``running``, the
    document's; without, the page's numbers) end one stretch and begin the next; a stretch is in two columns when
    column text (two lines or more, ``COLUMN_WIDTH`` wide, not a caption) stands in each half, side by side. A table's
    short cells, a figure's labels and two figures' captions side by side do not make columns, and a page without such
    a stretch reads as before."""
    running = running or RunningLines()
    runs = running.on_page(blocks, page_height)
    body = [box for (box, _), run in zip(blocks, runs, strict=True) if not run]
    sides = [""] * len(blocks)
    if len(body) < 2:
        return sides
    left_edge, right_edge = min(b[0] for b in body), max(b[2] for b in body)
    middle, width = (left_edge + right_edge) / 2, right_edge - left_edge
    halves = [
        "" if run or box[0] < middle < box[2] else "left" if box[2] <= middle else "right"
        for (box, _), run in zip(blocks, runs, strict=True)
    ]

    def column_text(n: int) -> bool:
        box, text = blocks[n]
        return "\n" in text.strip() and box[2] - box[0] >= COLUMN_WIDTH * width and not CAPTION_START.match(text)

    start = 0
    for end in [*(n for n, half in enumerate(halves) if not half), len(blocks)]:
        stretch = range(start, end)
        left = [blocks[n][0] for n in stretch if halves[n] == "left" and column_text(n)]
        right = [blocks[n][0] for n in stretch if halves[n] == "right" and column_text(n)]
        if any(min(a[3], b[3]) > max(a[1], b[1]) for a in left for b in right):
            sides[start:end] = halves[start:end]
        start = end + 1
    return sides


def reading_order(blocks: list[TextBlock], page_height: float, running: RunningLines | None = None) -> list[TextBlock]:
    """Blocks (sorted top to bottom) in reading order: a stretch in two columns (``column_sides``) reads its left
    column top to bottom, then its right; everything else keeps its place."""
    ordered: list[TextBlock] = []
    left: list[TextBlock] = []
    right: list[TextBlock] = []
    for block, side in zip(blocks, column_sides(blocks, page_height, running), strict=True):
        if side == "left":
            left.append(block)
        elif side == "right":
            right.append(block)
        else:
            ordered += [*left, *right, block]
            left, right = [], []
    return ordered + left + right


def column_runs(blocks: list[TextBlock], page_height: float, sections: list[str]) -> list[tuple[str, list[TextBlock]]]:
    """The page's body (``body_blocks``, reading order) cut where a column begins or ends, so that no passage joins
    two columns (nor a column and the text across both), and where a section begins (``sections``, each block's), so
    that none joins two sections; each run with its section. One run on a page without columns or bookmarks."""
    runs: list[tuple[str, list[TextBlock]]] = []
    before = None
    for block, side, section in zip(blocks, column_sides(blocks, page_height), sections, strict=True):
        if (side, section) != before:
            runs.append((section, []))
        runs[-1][1].append(block)
        before = side, section
    return runs


@dataclass(frozen=True)
class PageSections:
    """A page's bookmark paths ("Chapter 4 > 4.2 Epithelial Tissue"): the one in force at its top, and those its
    bookmarks start, each with the point it leads to (unrotated points, top-left origin; the top-left corner for a
    bookmark to the whole page)."""

    above: str = ""
    starts: tuple[tuple[str, float, float], ...] = ()
    """Path, x and y of each bookmark to the page, in the bookmarks' order."""

    @property
    def last(self) -> str:
        """The page's section: the last bookmark to it, else the one in force (the next page's ``above``)."""
        return self.starts[-1][0] if self.starts else self.above

    def of_blocks(self, blocks: list[TextBlock]) -> list[str]:
        """Each block's section (``blocks`` in reading order): a bookmark's begins where its title is printed
        (``prints_title``) from its point on, else at the first block ending below its point and reaching right of it
        (a heading of the right column begins after the left column), and holds until the next one's; blocks before
        the page's first keep the one in force above it. A book's bookmarks may all lead to its pages' tops (the A&P
        book's 226 lead to (72, 36)): by their points alone a chapter's introduction fell under the section printed
        below it. Bookmarks to the same block (or to the whole page) whose titles are not printed give it the last. A
        bookmark begins no earlier than the one before it, and one whose title is not printed begins on no block after
        one whose title is (its point, the page's top, would put it above its predecessor; it holds from the next page,
        ``last``): the page's sections stay in the bookmarks' order."""
        begins: dict[int, str] = {}
        floor, titled = 0, False
        for path, x, y in self.starts:
            below = [n for n, (box, _) in enumerate(blocks) if n >= floor and box[3] > y and box[2] > x]
            title = path.rsplit(" > ", 1)[-1]
            printed = next((n for n in below if prints_title(blocks[n][1], title)), None)
            if printed is not None or (below and not titled):
                floor, titled = (printed, True) if printed is not None else (below[0], False)
                begins[floor] = path
        sections, current = [], self.above
        for n in range(len(blocks)):
            current = begins.get(n, current)
            sections.append(current)
        return sections

    def of_image(self, box: BBox, blocks: list[TextBlock]) -> str:
        """The section of an image at ``box`` on the page (``blocks``, its body in reading order, ``of_blocks``): that
        of the first block ending below the image's top and overlapping it across, its caption under it or the text
        it stands in; else the page's ``last`` (an image at the page's foot, a plate). An introduction's figure above
        the chapter's first section is the introduction's."""
        sections = self.of_blocks(blocks)
        beside = (
            section
            for (block, _), section in zip(blocks, sections, strict=True)
            if block[3] > box[1] and min(block[2], box[2]) > max(block[0], box[0])
        )
        return next(beside, self.last)


def title_words(text: str) -> str:
    """A title's words as a reader compares them (``folded``), its punctuation and spacing aside: the bookmark
    "Chapter 6: Bone Tissue" is the heading printed "CHAPTER 6" over "Bone Tissue"."""
    return " ".join(folded(word) for word in re.findall(r"\w+", text))


def prints_title(text: str, title: str) -> bool:
    """Whether a block's first lines print ``title`` whole (``title_words``), the heading of the block or the block
    itself: a title wrapped over two lines is found, a paragraph merely starting with its words ("Introduction of
    ...") is not."""
    wanted, printed = title_words(title), ""
    for line in text.splitlines() if wanted else ():
        printed = f"{printed} {title_words(line)}".strip()
        if printed == wanted:
            return True
        if not wanted.startswith(f"{printed} "):
            return False
    return False


def sections_by_page(toc: list[list], page_count: int) -> dict[int, PageSections]:
    """The bookmarks of each 1-based page, from pymupdf's ``get_toc(simple=False)`` rows [level, title, page,
    destination]."""
    path: list[str] = []
    starts: dict[int, list[tuple[str, float, float]]] = {}
    for level, title, page, destination in toc:
        path = [*path[: level - 1], clean_text(title)]
        if 1 <= page <= page_count:
            point = destination.get("to") or (0.0, 0.0)
            starts.setdefault(page, []).append((" > ".join(path), point[0], point[1]))
    sections, current = {}, PageSections()
    for page in range(1, page_count + 1):
        current = PageSections(current.last, tuple(starts.get(page, ())))
        sections[page] = current
    return sections


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


_quiet = {"readers": 0, "shown": True}
_quiet_lock = threading.Lock()
_mupdf_lock = threading.RLock()
"""Held by every MuPDF call of a PDF's reading: MuPDF gathers its warnings for the whole process, so while one
reading gathers them (``mupdf_said``) no other may add to them or erase them (a server reads PDFs at once)."""


@contextlib.contextmanager
def quiet_mupdf() -> Iterator[None]:
    """MuPDF's errors kept off the terminal ("MuPDF error: format error: ...") while a PDF is read (``mupdf_said``
    takes what it said). The setting is the process's: the last reader to finish (a server may read two PDFs at once)
    puts it back."""
    import pymupdf

    with _quiet_lock:
        if _quiet["readers"] == 0:
            _quiet["shown"] = pymupdf.TOOLS.mupdf_display_errors()
            pymupdf.TOOLS.mupdf_display_errors(False)
        _quiet["readers"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["readers"] -= 1
            if _quiet["readers"] == 0:
                pymupdf.TOOLS.mupdf_display_errors(_quiet["shown"])


def mupdf_said(read: Callable[[], T]) -> tuple[T, str]:
    """What ``read()`` returns, and the warnings and errors MuPDF gave while it ran, in one line (for a problem or a
    refusal)."""
    import pymupdf

    with _mupdf_lock:
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        result = read()
        return result, one_line_warnings(pymupdf.TOOLS.mupdf_warnings(reset=True))


def one_at_a_time(steps: Iterator[T]) -> Iterator[T]:
    """``steps``, each run holding ``_mupdf_lock``: what the consumer does with an item (embedding a page, its figures'
    OCR) runs beside other readings, and so does a step's own work without MuPDF (``mupdf_let_go``)."""
    try:
        while True:
            with _mupdf_lock:
                try:
                    item = next(steps)
                except StopIteration:
                    return
            yield item
    finally:
        with _mupdf_lock:
            steps.close()  # a reading stopped early closes its document


@contextlib.contextmanager
def mupdf_let_go() -> Iterator[None]:
    """Inside a reading's step (``one_at_a_time``), around work that calls no MuPDF (tesseract reading rendered scans,
    seconds a group): other readings and page renders run meanwhile. Outside a step it does nothing."""
    try:
        _mupdf_lock.release()
    except RuntimeError:  # not held by this thread: nothing to let go
        yield
        return
    try:
        yield
    finally:
        _mupdf_lock.acquire()


@contextlib.contextmanager
def mupdf_alone() -> Iterator[None]:
    """Around MuPDF calls that no reading's ``one_at_a_time`` holds (a PDF's page count, a page rendered for the
    viewer): while they run no reading gathers MuPDF's warnings (``_mupdf_lock``), and MuPDF's errors stay off the
    terminal (``quiet_mupdf``), as ``pymupdf.open`` turns that setting off and back on itself: beside a reading it
    would put back what ``quiet_mupdf`` had turned off."""
    with quiet_mupdf(), _mupdf_lock:
        yield


def one_line_warnings(warnings: str, limit: int = 200) -> str:
    """MuPDF's warnings, each once, in one line of at most ``limit`` characters."""
    lines = dict.fromkeys(line.strip() for line in warnings.splitlines() if line.strip() and line[:3] != "...")
    text = "; ".join(lines)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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


def page_as_pdf(content: bytes, page: int) -> bytes:
    """Page ``page`` (1-based, counted as the indexer counts them: ``recount_pages``) of the PDF ``content`` as a PDF of
    its own: what the web UI's "Download page" gives, which for a PDF miscounting its pages was another page."""
    import pymupdf

    with mupdf_alone(), pymupdf.open(stream=content, filetype="pdf") as book, pymupdf.open() as one:
        recount_pages(book)
        one.insert_pdf(book, from_page=page - 1, to_page=page - 1)
        return one.tobytes(garbage=3, deflate=True)


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


def figure_label(caption: str, printed: bool = False) -> str | None:
    """The label of the figure the caption opens: "Figure N" whatever the book prints, the name every book shares;
    with ``printed``, as the book prints it ("Abb. 3", "Figura 2", "Fig. 1"), which its citation shows."""
    match = CAPTION_START.match(caption)
    return f"{match.group(1) if printed else 'Figure'} {match.group(2).rstrip('.:')}" if match else None


class PdfSource(Source):
    kind = "pdf"
    records_version = 17
    """3: a hyphenated word keeps its hyphen at a line break; 4: a figure at a page's foot takes the caption that opens
    the next page, not the previous figure's; 5: page labels, two-column reading order and scanned pages read by OCR,
    text without invisible format characters; 6: a figure's image turned and masked as its page shows it, a scanned
    page's own image no figure; 7: a slide master's image a figure only on its first page, a figure without a caption
    captioned by its page's title, a figure's label as printed; 8: a plate (a born-digital PDF's page that is one
    picture) a figure, captioned by its bookmark's title without a caption, a scan under an OCR tool's invisible text
    layer a scanned page, found by its image and no figure; 10: a short line in a page's margin is dropped as a running
    header only where it repeats or is a page number, so a slide's title keeps its words and captions its picture, and a
    passage takes the bookmark in force where it starts on the page; 12: a PDF whose page tree states the wrong number
    of pages is read page by page as the tree holds them, and a scan stored as strips is its page's own image, no
    figures; a figure carries its page's section, so chapter and section filters find it; 13: a page label's word for
    page left out, "p. 1" cited as p. 1, a word split by U+2010 or "- " at a line break joined, a page over 20 inches
    tall keeps its headings, its margins at most 1.5 inches, a scanned page fed upside down or sideways is read upright,
    a page over 3:1 tall thumbnailed by its top; 14: a line a PDF repeats in its top margin is kept on a page it heads,
    a cover's title that later pages print small as their running header; 15: a page's text leaves out its running
    headers, footers and page numbers, as its passages do; 16: a bookmark's section begins where its title is printed
    on its page, not where the bookmark leads (the A&P book's all lead to its pages' tops: a chapter's introduction was
    filed under its first section), each figure takes the section where it stands, not its page's last, and a
    record's book is the title its citation names (``book_title``: no "Microsoft Word - x.docx"), else none; 17: a
    figure records where its caption is printed, so a caption quoted is outlined with its figure. Up to 14 the version
    every built-in reader shared (``Source.records_version``): the numbers not named here changed case folders only."""
    reads_settings = (
        "passage_min_words",
        "passage_max_words",
        "passage_vectors",
        "min_figure_px",
        "page_render_dpi",
        "max_page_pixels",  # caps the page renders of huge pages
        "max_image_pixels",  # a figure over it is skipped: raised, the PDF is read again for its figures
        "figure_ocr",  # its figures get their printed words, and its pages without text are told plate or scan
    )

    def __init__(self, path: Path, settings: Settings):
        super().__init__(path, settings)
        self._hashed: str | None = None
        """The fingerprint ``fingerprint`` last found, until ``records`` reads the PDF by it."""
        self.earlier: EarlierRenders | None = None
        """What the index's committed reading of this PDF rendered (``recall``): pages it drew alike are not rendered
        again."""
        self.drawing: str | None = None
        """This reading's ``drawing_key``, once ``records`` opened the PDF: kept for the next one (``remembered``)."""

    def recall(self, entry: Mapping[str, Any] | None, page_thumbnails: Mapping[int, str]) -> None:
        self.earlier = EarlierRenders((entry or {}).get("drawing"), page_thumbnails)

    def remembered(self) -> dict[str, Any]:
        return {"drawing": self.drawing} if self.drawing else {}

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".pdf"

    def fingerprint(self) -> str:
        """The PDF's path, bytes and reading settings (``hash_files``), kept for ``records``: an ``index`` run hashes
        a book once, not once for the fingerprint and again for its records (as ``CaseFolderSource`` keeps its
        look)."""
        self._hashed = hash_files([self.path], self.reading(), self.records_version)
        return self._hashed

    def size_hint(self) -> int:
        try:
            with mupdf_alone(), self._open() as doc:
                return doc.page_count
        except Exception:  # records() reports the real problem
            return 0

    def _open(self) -> pymupdf.Document:
        """The document, its pages counted as its page tree holds them (``recount_pages``, noted once in
        ``problems``), or a one-line ``BadInputError`` (with what MuPDF said while opening it)."""
        import pymupdf  # here, not at import: finding an unchanged PDF needs no reader (half a second)

        try:
            doc, said = mupdf_said(lambda: pymupdf.open(self.path, filetype="pdf"))
        except Exception as exc:
            if self.path.is_file() and self.path.stat().st_size == 0:  # MuPDF: "Cannot open empty file: filename=..."
                raise BadInputError(f"{self.path} is empty (0 bytes): copy or download the PDF again") from exc
            raise BadInputError(f"{self.path} is not a readable PDF: {exc}") from exc
        if not doc.is_pdf:  # MuPDF reads by content whatever the type says: HTML, SVG, images named .pdf
            doc.close()
            raise BadInputError(f"{self.path} is not a PDF")
        if doc.is_repaired and not ends_whole(self.path):  # cut short: MuPDF rebuilt what it could find
            doc.close()
            raise self._damaged(f"it ends early (MuPDF: {said or 'repaired'})")
        if doc.needs_pass:
            doc.close()
            raise BadInputError(
                f"{self.path} is encrypted: it needs a password; save an unlocked copy first "
                "(e.g. qpdf --password=PASSWORD --decrypt in.pdf out.pdf)"
            )
        if (recounted := recount_pages(doc)) and (problem := f"{self.path}: {recounted}") not in self.problems:
            self.problems.append(problem)
        if doc.page_count == 0:
            doc.close()
            raise BadInputError(f"{self.path} has no pages")
        if (pages := doc.page_count) > self.settings.max_pdf_pages:
            doc.close()
            raise BadInputError(
                f"{self.path} has {pages} pages, over PATHATLAS_MAX_PDF_PAGES={self.settings.max_pdf_pages}"
            )
        return doc

    def _damaged(self, why: str) -> BadInputError:
        return BadInputError(f"{self.path} is damaged: {why}; download or export it again")

    def records(self) -> Iterator[Record]:
        return one_at_a_time(self._records())

    def _records(self) -> Iterator[Record]:
        """The PDF's records, carrying the fingerprint ``fingerprint`` last found (a hash of its own where it was not
        asked), which ``index`` compares them with."""
        fingerprint, self._hashed = self._hashed or self.fingerprint(), None
        with quiet_mupdf(), self._open() as doc:
            for xref, (number, why) in set_aside_damaged_images(doc).items():
                self.problems.append(f"{self.path} page {number}: skipped an image (object {xref} is damaged: {why})")
            self.drawing = drawing_key(self.content_hash(), doc, self.settings)
            same = self.earlier is not None and self.drawing is not None and self.earlier.drawing == self.drawing
            kept = self.earlier.thumbnails if same else {}  # no key (a file that could not be hashed): rendered
            book = book_title((doc.metadata or {}).get("title"), self.key) or ""
            sections = sections_by_page(doc.get_toc(simple=False), doc.page_count)
            masters = template_images(doc)
            without_text: set[int] = set()
            plates: set[int] = set()
            running = RunningLines()
            for page, blocks, continued in self._read(doc, without_text, plates, running):
                yield from self._page_records(
                    page,
                    blocks,
                    fingerprint=fingerprint,
                    book=book,
                    running=running,
                    sections=sections[page.number + 1],
                    continued=continued,
                    scanned=page.number in without_text,
                    templates=masters.first_pages,
                    plate=page.number in plates,
                    placements=masters.placements.get(page.number),
                    drawn=kept.get(page.number + 1),
                )

    def _read(
        self,
        doc: pymupdf.Document,
        without_text: set[int] | None = None,
        plates: set[int] | None = None,
        running: RunningLines | None = None,
    ) -> Iterator[tuple[pymupdf.Page, list[TextBlock], str | None]]:
        """Each readable page, its text blocks as the book spells them in reading order, and the caption opening the
        next page; ``without_text`` gets the (0-based) numbers of the pages without a text layer, whatever tesseract
        reads of them, ``plates`` those of them that are pictures, not scans (each before its page comes), and
        ``running`` the lines in the pages' margins (every page with a text layer before the first comes, a scan's
        when tesseract read it).

        A page without a text layer is a plate (a full-page micrograph, an atlas's figure page) in a born-digital
        document, where at least half the pages have a text layer, unless tesseract read it as a page of words
        (``words_hold_ink``: a scan inserted among them). Where tesseract does not read it (figure OCR off, tesseract
        missing) nothing tells words from a picture, and such a page is most often a picture placed whole: a plate.
        In a scanned document (most pages without a text layer) every such page is a scan, as before.

        Every page's text is read first (3 s for the 998-page book): the spelling is the whole book's, a
        figure at a page's foot may find its caption on the next, and a document MuPDF had to repair is refused before
        any record when reading it went wrong (a damaged file must not replace the copy indexed before). Pages without
        a text layer are read by tesseract where figure OCR is on, a group at a time as they come."""
        raw, said = mupdf_said(lambda: [self._read_blocks(page) for page in doc])
        if said:
            if doc.is_repaired:
                raise self._damaged(f"MuPDF repaired it and then failed to read it ({said})")
            self.problems.append(f"{self.path}: MuPDF reported problems reading it ({said})")
        spelling = Spelling.of("".join(text for _, text in blocks or []) for blocks in raw)
        heights = [unrotated_height(page) for page in doc]
        cleaned = [None if b is None else [(box, clean_text(text, spelling)) for box, text in b] for b in raw]
        running = RunningLines() if running is None else running
        for n, blocks in enumerate(cleaned):
            running.add(n, blocks or [], heights[n])
        pages = [
            None if blocks is None else reading_order(blocks, height, running)
            for blocks, height in zip(cleaned, heights, strict=True)
        ]
        bare = {n for n, blocks in enumerate(raw) if blocks == []}
        if without_text is not None:
            without_text.update(bare)
        born_digital = len(bare) <= sum(1 for blocks in raw if blocks)
        scans = ScannedPages(self, doc, pages, spelling, running, judge=born_digital and plates is not None)
        for page in doc:
            n = page.number
            scans.read_from(n)
            if plates is not None and born_digital and n in bare and n not in scans.of_words:
                plates.add(n)
            blocks, following = pages[n], pages[n + 1] if n + 1 < len(pages) else None
            if blocks is not None:
                yield page, blocks, opening_caption(following, heights[n + 1]) if following else None
        if not born_digital:  # a scan's pages hold words: say where none were read (a plate's picture holds none)
            self.problems += scans.unread()

    def _read_blocks(self, page: pymupdf.Page) -> list[TextBlock] | None:
        """The page's text blocks, top to bottom (None, with the problem noted, when the page cannot be read)."""
        try:
            return [(tuple(b[:4]), b[4]) for b in page.get_text("blocks", sort=True) if b[6] == 0 and b[4].strip()]
        except Exception as exc:
            self.problems.append(f"{self.path} page {page.number + 1}: cannot be read ({exc})")
            return None

    def _page_records(
        self,
        page: pymupdf.Page,
        blocks: list[TextBlock],
        *,
        fingerprint: str,
        book: str,
        running: RunningLines,
        sections: PageSections,
        continued: str | None = None,
        scanned: bool = False,
        templates: Mapping[int, int] | None = None,
        plate: bool = False,
        placements: list[dict] | None = None,
        drawn: str | None = None,
    ) -> Iterator[Record]:
        """The page, its passages and its figures. The page is filed under its last section (``PageSections.last``),
        each passage and figure under its own. ``running`` are its document's running lines, left out of its text (its
        snippet and what its vector encodes: the body its passages read, captions included), its passages and captions;
        a page printing nothing else (a blank separator's number) has no text, and is found by its image.
        ``placements`` are its ``placed_images`` where ``template_images`` read them already. ``drawn`` is the
        thumbnail key of the page's render by an earlier reading of the same drawing (``EarlierRenders``): a page found
        by its text is then not rendered again."""
        number = page.number + 1
        try:
            rendered = None if drawn else self._rendered(page)  # a page drawn alike before renders now as well
        except Exception as exc:
            self.problems.append(f"{self.path} page {number}: cannot be read ({exc})")
            return
        body = body_blocks(blocks, unrotated_height(page), running)
        text = "\n".join(text for _, text in body)
        printed = printed_label(page)
        if placements is None:
            placements = placed_images(page)
        # an OCR tool's scan keeps its text layer (the page's words) but is a scan all the same; checked only where an
        # image (or strips of one) fills the page, so a book's other pages cost nothing more
        scanned = scanned or (bool(scan_parts(page, placements)) and behind_ocr_layer(page))
        if rendered is None and (scanned or not text.strip()):  # found by its image, whose pixels are encoded
            rendered, drawn = self._rendered(page), None
        yield Page(self.key, fingerprint, number, text, rendered, book, sections.last, printed, scanned, drawn)
        yield from self._passages(page, body, fingerprint, book, sections, printed)
        yield from self._figures(
            page,
            body,
            fingerprint,
            book,
            continued,
            page_label=printed,
            scanned=scanned,
            templates=templates,
            plate=plate,
            sections=sections,
            placements=placements,
        )

    def _rendered(self, page: pymupdf.Page) -> Image.Image:
        """The page as its thumbnail shows it (``render`` at ``page_render_dpi``)."""
        pixmap = render(page, self.settings.page_render_dpi, self.settings.max_page_pixels)
        return Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)

    def _passages(
        self,
        page: pymupdf.Page,
        body: list[TextBlock],
        fingerprint: str,
        book: str,
        sections: PageSections,
        page_label: str | None = None,
    ) -> Iterator[Passage]:
        """The passages of the page's ``body`` (``body_blocks``), each within one column and one section."""
        min_words, max_words = self.settings.passage_min_words, self.settings.passage_max_words
        groups = [
            (section, group)
            for section, run in column_runs(body, unrotated_height(page), sections.of_blocks(body))
            for group in merge_blocks(run, min_words, max_words)
        ]
        for index, (section, group) in enumerate(groups):
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
                page_label=page_label,
            )

    def _figures(
        self,
        page: pymupdf.Page,
        body: list[TextBlock],
        fingerprint: str,
        book: str,
        continued: str | None,
        *,
        page_label: str | None = None,
        scanned: bool = False,
        templates: Mapping[int, int] | None = None,
        plate: bool = False,
        sections: PageSections = PageSections(),
        placements: list[dict] | None = None,
    ) -> Iterator[Figure]:
        """The page's embedded images over ``min_figure_px``, each with its caption among the page's ``body``
        (``body_blocks``); on a ``scanned`` page (without a text layer, or under an OCR tool's), the image filling it
        (or the strips filling it together: ``scan_parts``) is the page itself (its ``Page`` carries it), not a figure
        too, unless the page is a ``plate`` (``_read``: a picture, which a figure search must list); a slide master's
        image (``templates``, from ``template_images``) only on its first page or with a caption of its own. An image
        the page gives no caption (a slide's picture) takes the page's title (``page_title``), and a plate's picture,
        above which the page prints nothing, the last title of its bookmark path (``sections``: each figure is filed
        under ``PageSections.of_image``); a master's image takes neither: a logo is not what each slide's title names.
        Figures are numbered top to bottom among the page's figures (``Figure.index``, whence an unlabelled one's
        "p6-img1"), not among its images: a logo left out takes no number. ``placements`` are the page's
        ``placed_images``, where the caller has them (placing them draws the page)."""
        import pymupdf

        number = page.number + 1
        doc = page.parent
        templates = templates or {}
        seen: set[int] = set()
        shown: list[tuple[dict, BBox, BBox | None, str]] = []  # placement, box, caption's box, caption
        if placements is None:
            placements = placed_images(page)
        placements = sorted(placements, key=lambda info: (info["bbox"][1], info["bbox"][0]))
        scan = scan_parts(page, placements) if scanned and not plate else []
        for info in placements:
            xref = info.get("xref", 0)
            if not xref or xref in seen:
                continue
            seen.add(xref)
            small = min(info["width"], info["height"]) < self.settings.min_figure_px
            if small or info in scan:
                continue
            bbox: BBox = tuple(round(v, 1) for v in info["bbox"])
            shown.append((info, bbox, *caption_block(bbox, body, continued)))
        # a master's image owns a caption no other image takes: a logo under a slide's figure finds that one's above it
        claimed = {caption for info, _, _, caption in shown if info["xref"] not in templates}
        index = 0
        for info, bbox, caption_box, caption in shown:
            xref = info["xref"]
            if templates.get(xref, number) != number and (caption in claimed or not CAPTION_START.match(caption)):
                continue
            section = sections.of_image(bbox, body)
            heading = section.rsplit(" > ", 1)[-1] if plate and fills(page, info) else ""  # sections_by_page's path
            title = "" if caption or xref in templates else page_title(body, bbox) or heading
            label, printed = figure_label(caption), figure_label(caption, printed=True)
            try:
                image = embedded_image(doc, xref, self.settings.max_image_pixels, f"{self.path} p.{number} image")
            except Exception as exc:  # one damaged image must not lose the page
                self.problems.append(f"{self.path} page {number}: skipped an image ({exc})")
                continue
            image = as_shown(thumbnail(image, 1024), pymupdf.Matrix(info["transform"]) * page.rotation_matrix)
            yield Figure(
                self.key,
                fingerprint,
                number,
                index,
                bbox,
                caption or title,
                image,
                label=label,
                book=book,
                page_label=page_label,
                caption_from_title=bool(title),
                printed_label=printed if printed != label else None,
                section=section,
                caption_bbox=tuple(round(v, 1) for v in caption_box) if caption_box else None,
            )
            index += 1


class ScannedPages:
    """The pages of one document without a text layer, read by tesseract (``scan_reader``) where figure OCR is on:
    their paragraphs become their text blocks, so they are searched and quoted like any page. ``SCAN_GROUP`` pages
    are read in one call, as the reading reaches them (a scanned book's first pages come without waiting for its
    last), and the lines in their margins count towards the document's ``running`` lines. In a born-digital document
    (``judge``) each page read is also told a scan from a plate (``of_words``)."""

    def __init__(
        self,
        source: PdfSource,
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
