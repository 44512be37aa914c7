"""A page's reading order: stretches set in two columns read left column first."""

from __future__ import annotations

from pathatlas.indexer.sources.pdf.captions import CAPTION_START
from pathatlas.indexer.sources.pdf.running import RunningLines
from pathatlas.indexer.sources.pdf.text import TextBlock

COLUMN_WIDTH = 0.3
"""A block of two lines or more at least this share of the text's width is column text (a table's cells and a
figure's labels are narrower or single lines): one in each half, side by side, make a page of two columns."""


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
