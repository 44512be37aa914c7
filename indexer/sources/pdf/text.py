"""The words of a PDF's text blocks: cleaned up and spelled as the document spells them, its page labels, and
blocks grouped into passages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pathatlas.retrieval.records import BBox
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
