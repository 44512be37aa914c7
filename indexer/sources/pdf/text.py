"""The words of a PDF's text blocks: cleaned up and spelled as the document spells them, its page labels, and
blocks grouped into passages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pathatlas.retrieval.records import BBox, union_box
from pathatlas.retrieval.text import normalise

if TYPE_CHECKING:
    import pymupdf

TextBlock = tuple[BBox, str]
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


Line = tuple[BBox, str]
"""A printed line of a text block: its box and its words as the PDF holds them."""
Word = tuple[float, float, float, float, str, int, int, int]
"""A word as pymupdf's ``get_text("words")`` gives it: its box, text, and the numbers of its block, line and word."""


def printed_lines(words: Sequence[Word], box: BBox) -> list[Line]:
    """The lines of the text block at ``box``, in the PDF's order, from its page's ``words``: those whose centre lies in
    the box, of the block most of them belong to (a neighbour's word reaching in is left out)."""
    inside = [w for w in words if box[0] <= (w[0] + w[2]) / 2 <= box[2] and box[1] <= (w[1] + w[3]) / 2 <= box[3]]
    if not inside:
        return []
    block = Counter(w[5] for w in inside).most_common(1)[0][0]
    lines: dict[int, list[Word]] = {}
    for word in inside:
        if word[5] == block:
            lines.setdefault(word[6], []).append(word)
    return [(union_box([w[:4] for w in line]), " ".join(w[4] for w in line)) for line in lines.values()]


def line_spans(lines: Sequence[Line], words: int) -> list[tuple[BBox, int, int]]:
    """Each line's box and the range of its block's ``words`` (as ``clean_text`` reads them) it prints; a word split
    across two lines ("physi-/ology") is in both. Empty where the lines do not hold those words (an OCR'd paragraph,
    whose page has no words to read)."""
    spans = []
    for n, (box, text) in enumerate(lines):
        end = len(clean_text("\n".join(t for _, t in lines[: n + 1])).split())
        spans.append((box, end - len(clean_text(text).split()), end))
    return spans if spans and spans[-1][2] == words else []


def split_long(block: TextBlock, max_words: int, lines: Sequence[Line] = ()) -> list[TextBlock]:
    """A block over ``max_words`` becomes near-equal word runs (the encoder truncates), each boxed by the ``lines`` it
    is printed on, so that its outline holds its own words, not the whole paragraph's; by the block's box where its
    lines are not known."""
    box, text = block
    words = text.split()
    if len(words) <= max_words:
        return [block]
    parts = -(-len(words) // max_words)
    size = -(-len(words) // parts)
    spans = line_spans(lines, len(words))
    return [(run_box(spans, i, i + size, box), " ".join(words[i : i + size])) for i in range(0, len(words), size)]


def run_box(spans: Sequence[tuple[BBox, int, int]], start: int, end: int, block: BBox) -> BBox:
    """The union of the boxes of the lines (``line_spans``) printing words ``start`` to ``end``; ``block`` where
    there are none."""
    boxes = [box for box, first, last in spans if first < end and last > start]
    return union_box(boxes) if boxes else block


def merge_blocks(
    blocks: list[TextBlock], min_words: int, max_words: int, lines: Mapping[BBox, Sequence[Line]] | None = None
) -> list[list[TextBlock]]:
    """Group consecutive blocks (reading order) until a group reaches ``min_words``, never past ``max_words``.

    Short blocks (headings, labels) join the text after them; a short tail joins the group before it
    when that stays within ``max_words``. A block over ``max_words`` is split (``split_long``), its pieces boxed by its
    printed ``lines`` where given (by block box).
    """
    lines = lines or {}
    groups: list[list[TextBlock]] = []
    current: list[TextBlock] = []
    count = 0
    for piece in (p for block in blocks for p in split_long(block, max_words, lines.get(block[0], ()))):
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
