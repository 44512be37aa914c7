"""Two figures stacked in one column each take their own caption, whichever side their book prints it. In a book that
prints captions above its figures, the upper figure took the lower one's caption (the nearest labelled block under
it), and both figures carried one label. A caption whose label goes on with a plural noun ("Figure 5 cells of the
proximal tubule") was read as a sentence naming the figure ("Figure 5 shows ..."), so not as a caption printed above
its figure."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pathatlas.indexer.records import Figure
from pathatlas.indexer.sources.pdf.captions import caption_block, printed_above
from pathatlas.indexer.sources.pdf.source import PdfSource
from pathatlas.retrieval.records import Payload
from tests.helpers import hashing_settings
from tests.indexer.test_caption_box import picture
from tests.indexer.test_caption_next_page import BODY

UPPER = pymupdf.Rect(150, 100, 450, 300)
LOWER = pymupdf.Rect(150, 360, 450, 560)
"""Two pictures stacked in one column, room between them for a caption over the lower one or under the upper one."""
CAPTIONED_ABOVE = {
    2: ("Figure 4.1 Proximal tubule: a brush border lines its cells.", "Figure 4.2 Distal tubule: no brush border."),
    3: ("Figure 5 cells of the proximal tubule, brush border PAS positive.", "Figure 6 glomeruli of a normal kidney."),
}
"""Per page of the book, the captions of its upper and lower picture, each printed just above its picture: titled (p.
2), and going on in lower case with a plural noun (p. 3)."""
CAPTIONED_BELOW = ("Figure 7.1 Normal liver: lobules around central veins.", "Figure 7.2 Cirrhosis: nodules in scars.")
"""The captions of p. 4's upper and lower picture, each printed just under its picture."""


def write_book(path: Path) -> Path:
    """Four pages: text (p. 1); two stacked pictures, each under its caption (pp. 2 and 3), text under them; two
    stacked pictures, each over its caption (p. 4)."""
    doc = pymupdf.open()
    doc.new_page(width=612, height=792).insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
    for page_number, (upper, lower) in CAPTIONED_ABOVE.items():
        page = doc.new_page(width=612, height=792)
        page.insert_textbox(pymupdf.Rect(150, 72, 450, 96), upper, fontsize=9)
        page.insert_image(UPPER, stream=picture(100 + page_number))
        page.insert_textbox(pymupdf.Rect(150, 332, 450, 356), lower, fontsize=9)
        page.insert_image(LOWER, stream=picture(150 + page_number))
        page.insert_textbox(pymupdf.Rect(72, 600, 540, 680), BODY, fontsize=11)
    page = doc.new_page(width=612, height=792)
    page.insert_image(UPPER, stream=picture(200))
    page.insert_textbox(pymupdf.Rect(150, 304, 450, 328), CAPTIONED_BELOW[0], fontsize=9)
    page.insert_image(LOWER, stream=picture(210))
    page.insert_textbox(pymupdf.Rect(150, 564, 450, 588), CAPTIONED_BELOW[1], fontsize=9)
    doc.save(path)
    doc.close()
    return path


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[int, list[Payload]]:
    """The book's figures by page, top to bottom."""
    book = write_book(tmp_path_factory.mktemp("book") / "book.pdf")
    read = PdfSource(book, hashing_settings(tmp_path_factory.mktemp("read"))).records()
    payloads = sorted((r.entries()[0].payload for r in read if isinstance(r, Figure)), key=lambda p: p.bbox[1])
    return {page: [p for p in payloads if p.page == page] for page in (2, 3, 4)}


@pytest.mark.parametrize("page", [2, 3])
def test_stacked_figures_under_their_captions_each_take_their_own(figures, page):
    upper, lower = CAPTIONED_ABOVE[page]
    assert [(p.text, p.figure, p.caption_page) for p in figures[page]] == [
        (upper, " ".join(upper.split()[:2]), None),
        (lower, " ".join(lower.split()[:2]), None),
    ], "the upper figure took the caption printed between the two, over the lower one"


def test_stacked_figures_over_their_captions_each_take_their_own(figures):
    assert [(p.text, p.figure) for p in figures[4]] == [
        (CAPTIONED_BELOW[0], "Figure 7.1"),
        (CAPTIONED_BELOW[1], "Figure 7.2"),
    ]


TOP_PICTURE = (150.0, 100.0, 450.0, 300.0)
UNDER_PICTURE = (150.0, 340.0, 450.0, 540.0)
BETWEEN = ((150.0, 317.0, 450.0, 323.0), "Figure 2 Distal tubule")
"""A caption as near the picture over it as the one under it (17 points each)."""
OVER_TOP = ((150.0, 80.0, 450.0, 95.0), "Figure 1 Proximal tubule")
UNDER_BOTTOM = ((150.0, 545.0, 450.0, 560.0), "Figure 3 Collecting duct")


@pytest.mark.parametrize(
    ("others", "upper", "lower"),
    [
        ([OVER_TOP], OVER_TOP, BETWEEN),  # the page prints its captions above: the one between is the lower one's
        ([UNDER_BOTTOM], BETWEEN, UNDER_BOTTOM),  # below: the upper one's
        ([OVER_TOP, UNDER_BOTTOM], BETWEEN, UNDER_BOTTOM),  # one each way (a caption run over atop): as under
        ([], BETWEEN, BETWEEN),  # nothing tells: the upper one's, as a caption under its figure, and the lower's too
    ],
)
def test_a_caption_as_near_both_stacked_pictures_goes_by_the_pages_other_captions(others, upper, lower):
    blocks = [*others, BETWEEN]
    pictures = [TOP_PICTURE, UNDER_PICTURE]
    assert [caption_block(box, blocks, None, pictures).text for box in pictures] == [upper[1], lower[1]]


FOOT = (50.0, 600.0, 300.0, 780.0)
OPENING_NEXT = ((50.0, 40.0, 300.0, 70.0), "Figure 4 Cirrhosis of the liver")
BODY_BLOCK = ((50.0, 100.0, 300.0, 500.0), "Some body text about the liver.")


@pytest.mark.parametrize(
    ("above", "own"),
    [
        ("Figure 5 cells of the proximal tubule, brush border stained", True),  # a plural noun, no verb
        ("Figure 5 features of acute tubular injury", True),  # a noun a figure could also do, before "of"
        ("Fig. 5 nuclei and mitochondria", True),
        ("Figure 5 shows the cells of the proximal tubule.", False),  # a sentence naming the figure
        ("Figure 5 features the cells of the proximal tubule.", False),
        ("Figure 5 (below) illustrates the brush border.", False),
        ("Figure 5 is a section of the kidney.", False),
        ("(Figure 5) The cells of the proximal tubule have a brush border.", False),  # a label in brackets
    ],
)
def test_a_caption_above_a_foot_figure_may_go_on_in_lower_case_and_a_sentence_stays_none(above, own):
    """Just above a foot figure, a block opening with a label and going on with a plural noun is its caption; one
    going on with a verb is a sentence naming it, and the figure takes the next page's opening caption."""
    block = ((50.0, 560.0, 300.0, 590.0), above)
    assert printed_above(FOOT, block, [FOOT]) is own
    caption = caption_block(FOOT, [BODY_BLOCK, block], OPENING_NEXT, [FOOT])
    assert (caption.text, caption.next_page) == ((above, False) if own else (OPENING_NEXT[1], True))
