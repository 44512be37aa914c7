"""A PDF's bookmarks as each page's sections, begun where their titles are printed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pathatlas.indexer.sources.pdf.text import TextBlock, clean_text
from pathatlas.retrieval.records import BBox
from pathatlas.retrieval.text import folded


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
