"""A figure's caption among its page's text blocks, its label, and the page title that names a picture without one."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from itertools import takewhile
from string import ascii_lowercase
from typing import NamedTuple

from pathatlas.indexer.sources.pdf.text import TextBlock
from pathatlas.retrieval.records import BBox

CAPTION_START = re.compile(r"^\s*(fig(?:ure|ura)?\.?|abb(?:ildung|\.))\s*(\d+[\w.\-]*)", re.IGNORECASE)
"""A figure's label opening a block: "Figure 1.", "Fig. 2", Spanish, Italian and Portuguese "Figura 3", German "Abb. 4"
and "Abbildung 5"."""
VERBS_TAKING_OF = "consists|comprises|speaks|reminds"
"""Verbs ending in -s that a sentence naming a figure may go on with "of" from ("Figure 5 consists of three panels"):
any other lower-case -s word before "of" after a label is a plural noun of its caption ("Figure 5 cells of ...")."""
LINKING_ADVERBS = "also|further|again|then|now|here|thus|therefore|likewise|similarly|clearly|below|above"
"""Adverbs a sentence naming a figure may put between its label and its verb ("Figure 5 also shows ..."): a caption's
title does not open with one."""
MENTION = re.compile(
    rf"(?i:{CAPTION_START.pattern})[,.]?(?:\s+\([^)]*\))?\s+(?:(?:{LINKING_ADVERBS})\s+)?"
    rf"(?:is|are|was|were|can|may|will|has|have|{VERBS_TAKING_OF}|[a-z]*[a-hj-rtv-z]s\b(?!\s+of\b))\b"
)
"""A figure's label that a sentence goes on from with a verb ("Figure 24.21 summarizes ...", "Figure 3 (below) shows
...", "Figure 5 also shows ...", "Figure 5 is composed of ...", "Figure 5 consists of ..."): the body text naming a
figure, not its caption, which goes on with a title, a part or a noun ("Figure 1.2 The heart", "Figure 6.2 a: ...",
"Figure 3 normal liver, low power", "Figure 5 cells of ...", "Figure 5 features of ...": a lower-case -s word before
"of" is a noun unless one of ``VERBS_TAKING_OF``; "Figure 2 necrosis", "Figure 2 fibrous tissue", "Figure 2 abscess":
no verb ends in -is, -us or -ss). A plural noun with no "of" ("Figure 2 neutrophils in a smear") still reads as a
verb: no word list tells them apart."""
MAX_CAPTION_GAP = 72.0
"""Points between an image and the block below it (or above it: ``printed_above``) beyond which that block is not its
caption."""
CAPTION_TIE = 6.0
"""Points within which two labelled blocks are as near an image as each other (half a caption line)."""
TITLE_WORDS = 20
"""The most words of a page's title (``page_title``); a paragraph opening a page is longer."""
PART_START = r"(?:^\s*|[.!?;:]\s+)"
"""Where a caption may name a part without brackets: its start (after its label), a sentence's, or after a colon or
semicolon. Elsewhere a letter and a comma are words ("Vitamin A, the ...", "type B, C and D cells"), and a capital "A"
without a comma, colon, ")" or full stop after it is an article ("A section through the liver")."""
PART_LETTERS = r"[a-z](?:\s*(?:,?\s*and|,|&|[–—-])\s*[a-z])*"
"""One or more parts' letters: "A", "A and B", "A, B", "A, B, and C", "A–C"."""
LETTERED_PART = re.compile(
    rf"\(({PART_LETTERS})\)|{PART_START}({PART_LETTERS})(?:[,:)]|\.(?=\s+[a-z]{{2}}))", re.IGNORECASE
)
"""Parts a caption names by letter: "(a)", "(B)", "(A–C)", "(A, B)" anywhere (OpenStax); at a part start
(``PART_START``) "A, gross ...", "A and B, ...", "A–C, ..." (Robbins and many pathology books), "a) ...", "a: ..." and
"A. Normal. B. Fibrosis.": a letter and a full stop only before a word, as an initial before another is not ("credit:
A. B. Smith")."""
PART_PLACES = r"(?:top|bottom)(?:\s+(?:left|right))?|left|right|middle|cent(?:er|re)"
"""A part's place in its figure: "Left", "Top", "Bottom right", "Middle"."""
PLACED_PART = re.compile(rf"{PART_START}({PART_PLACES})[,:]", re.IGNORECASE)
"""Parts a caption names by place at a part start (``PART_START``): "Left, ... Right, ...", "Top left: ..."."""


class Caption(NamedTuple):
    """A figure's caption: the box of the block printing it (None for none) and its words, and whether that block
    opens the next page (a caption run over the page break), whose box is then on that page."""

    box: BBox | None
    text: str
    next_page: bool = False


def caption_block(
    image_box: BBox,
    blocks: list[TextBlock],
    continued: TextBlock | None = None,
    pictures: Sequence[BBox] = (),
) -> Caption:
    """The image's caption among its page's ``blocks``, leaving out those printed just above another of its
    ``pictures`` (``printed_above``: on a page printing captions above its figures, the caption under the upper of two
    stacked figures is the lower one's): the closest block starting with Figure/Fig. below it; else ``continued``, the
    caption block opening the next page (``opening_caption``), when no text follows the image on its own (the caption
    ran over the page break) and its page prints no caption of its own just above it; else the closest labelled block
    above it; else the closest block just below it; else none (``Caption(None, "")``). Among labelled blocks about as
    near as the nearest (``CAPTION_TIE``), one in the image's column comes first: two figures side by side each have
    their caption under them, at the same distance (a caption set left of a centred image is still its own)."""
    side = page_side(pictures, blocks)
    own = [block for block in blocks if not heads_another(image_box, block, pictures, side)]
    labelled = [(box, text) for box, text in own if CAPTION_START.match(text)]

    def nearest(gaps: list[tuple[float, BBox, str]]) -> TextBlock:
        closest = min(gap for gap, _, _ in gaps)
        tied = [
            (not same_column(box, image_box), gap, text, box) for gap, box, text in gaps if gap <= closest + CAPTION_TIE
        ]
        *_, text, box = min(tied)
        return box, text

    below = [(box[1] - image_box[3], box, text) for box, text in labelled if box[1] - image_box[3] >= -2]
    if below:
        return Caption(*nearest(below))
    ends_page = not any(box[1] >= image_box[3] - 2 for box, _ in blocks)
    heads_image = any(printed_above(image_box, block, pictures, side) for block in labelled)
    if continued is not None and ends_page and not heads_image:
        return Caption(*continued, next_page=True)
    above = [(image_box[1] - box[3], box, text) for box, text in labelled]
    if above:
        return Caption(*nearest(above))
    near = [(gap_under(image_box, box), text, box) for box, text in own if gap_under(image_box, box) <= MAX_CAPTION_GAP]
    if not near:
        return Caption(None, "")
    _, text, box = min(near)
    return Caption(box, text)


def printed_above(image_box: BBox, block: TextBlock, pictures: Sequence[BBox], side: int = 0) -> bool:
    """Whether a block is the image's caption printed just above it: labelled and no mention (``MENTION``), in the
    image's column, ending at most ``MAX_CAPTION_GAP`` above it, and no caption under another of the page's
    ``pictures`` printed over it. A block between the two goes by the side of their pictures the page's other captions
    take (``side``, ``page_side``): over the lower picture where they stand above theirs, under the upper one where
    they stand under theirs; where the page tells nothing, over the lower one only where plainly nearer it
    (``plainly_nearer``), as the caption under a figure may be set tight above the next one."""
    box, text = block
    gap = gap_under(box, image_box)
    if MENTION.match(text) or not (CAPTION_START.match(text) and gap <= MAX_CAPTION_GAP):
        return False
    over = min((gap_under(picture, box) for picture in pictures), default=math.inf)
    if over > MAX_CAPTION_GAP or not side:
        return plainly_nearer(gap, over)
    return side > 0


def heads_another(image_box: BBox, block: TextBlock, pictures: Sequence[BBox], side: int) -> bool:
    """Whether a block is the caption printed just above another of the page's ``pictures`` (``printed_above``)."""
    return any(printed_above(picture, block, pictures, side) for picture in pictures if picture != image_box)


def page_side(pictures: Sequence[BBox], blocks: list[TextBlock]) -> int:
    """Which side of their pictures the page prints its captions on, by those whose place tells it (``told_side``):
    above where positive, under where negative, untold at 0. A caption between two stacked pictures tells none, so
    it is settled by the page's other captions (``printed_above``)."""
    return sum(told_side(block, pictures) for block in blocks)


def told_side(block: TextBlock, pictures: Sequence[BBox]) -> int:
    """1 for a caption (labelled, no ``MENTION``) with one of the ``pictures`` within ``MAX_CAPTION_GAP`` under it and
    none over it, -1 the other way round, else 0."""
    box, text = block
    if not CAPTION_START.match(text) or MENTION.match(text):
        return 0
    under = any(gap_under(box, picture) <= MAX_CAPTION_GAP for picture in pictures)
    over = any(gap_under(picture, box) <= MAX_CAPTION_GAP for picture in pictures)
    return under - over


def plainly_nearer(gap: float, other: float) -> bool:
    """Whether a caption ``gap`` points from a picture (at most ``MAX_CAPTION_GAP``) is nearer it than ``other`` points
    from another by more than ``CAPTION_TIE``."""
    return gap <= MAX_CAPTION_GAP and other > gap + CAPTION_TIE


def gap_under(upper: BBox, lower: BBox) -> float:
    """Points from ``upper``'s foot down to ``lower``'s top, where ``lower`` stands under it in its column (2 points of
    overlap allowed), else infinity."""
    gap = lower[1] - upper[3]
    return gap if gap >= -2 and same_column(upper, lower) else math.inf


def same_column(box: BBox, other: BBox) -> bool:
    """Whether two boxes overlap horizontally, one over the other in a column."""
    return min(box[2], other[2]) - max(box[0], other[0]) > 0


def named_parts(caption: str) -> int:
    """How many parts of its figure a caption names, by letter (``LETTERED_PART``) a run from "a", none left out, so
    that a "(c)" alone (a copyright sign) names none, or by place (``PLACED_PART``), each place one: the more."""
    text = CAPTION_START.sub("", caption, count=1)
    letters = {letter for names in LETTERED_PART.findall(text) for letter in part_letters("".join(names))}
    places = {" ".join(place.casefold().split()) for place in PLACED_PART.findall(text)}
    return max(sum(1 for _ in takewhile(letters.__contains__, ascii_lowercase)), len(places))


def part_letters(names: str) -> Iterator[str]:
    """The letters, in lower case, that one name of parts (``PART_LETTERS``) covers: "A and B" two, "A–C" three."""
    for first, last in re.findall(r"\b([a-z])\b(?:\s*[–—-]\s*([a-z])\b)?", names.casefold()):
        yield from map(chr, range(ord(first), ord(last or first) + 1))


def carried_over(caption: TextBlock, pictures: list[BBox]) -> bool:
    """Whether the caption block opening a page (``opening_caption``) may be that of a figure at the previous page's
    foot: no picture of its page (``pictures``, their boxes) ends above it, or it names more parts (``named_parts``)
    than end there, the rest being the part printed before the page break (the A&P book's Figures 4.7 and 22.24,
    each shared by the pictures on both pages). A caption under pictures of its own, naming no more parts than they
    are, is theirs: the previous page's figure took it too, and a search for its label found two figures."""
    box, text = caption
    above = sum(1 for picture in pictures if picture[3] <= box[1] + 2)
    return not above or named_parts(text) > above


def page_title(blocks: list[TextBlock], image_box: BBox) -> str:
    """The page's title where it stands above the image, else "": its first block (``blocks`` are its body, in
    reading order) when that ends above the image's top, has at most ``TITLE_WORDS`` words and is no figure caption.
    A slide's picture has no caption: the slide's title is what says what it shows."""
    if not blocks:
        return ""
    box, text = blocks[0]
    fits = box[3] <= image_box[1] + 2 and len(text.split()) <= TITLE_WORDS
    return text if fits and not CAPTION_START.match(text) else ""


def figure_label(caption: str, printed: bool = False) -> str | None:
    """The label of the figure the caption opens: "Figure N" whatever the book prints, the name every book shares;
    with ``printed``, as the book prints it ("Abb. 3", "Figura 2", "Fig. 1"), which its citation shows."""
    match = CAPTION_START.match(caption)
    return f"{match.group(1) if printed else 'Figure'} {match.group(2).rstrip('.:')}" if match else None
