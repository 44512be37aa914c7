"""Two figures stacked in one column each take their own caption, whichever side their book prints it. In a book that
prints captions above its figures, the upper figure took the lower one's caption (the nearest labelled block under
it), and both figures carried one label; in a book printing them below, a caption set tight above the next figure went
to that one, and both took the lower one's. A caption whose label goes on with a plural noun ("Figure 5 cells of the
proximal tubule") was read as a sentence naming the figure ("Figure 5 shows ..."), so not as a caption printed above
its figure; then a sentence going on with a verb outside a closed list ("Figure 5 exemplifies ...") was read as a
caption."""

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
TIGHT_BELOW = ("Figure 1 Normal liver lobules.", "Figure 2 Cirrhotic kidney scars.")
"""The captions of p. 5's upper and lower picture, each under its picture, the upper one nearer the lower picture."""
FOOT = (50.0, 600.0, 300.0, 780.0)
OPENING_NEXT = ((50.0, 40.0, 300.0, 70.0), "Figure 4 Cirrhosis of the liver")
BODY_BLOCK = ((50.0, 100.0, 300.0, 500.0), "Some body text about the liver.")
SENTENCE_OVER_FOOT = "Figure 5 exemplifies the brush border of proximal tubule cells."
"""Body text just above p. 6's foot figure, naming it; its caption opens p. 7 (``OPENING_NEXT``)."""


def write_book(path: Path) -> Path:
    """Seven pages: text (p. 1); two stacked pictures, each under its caption (pp. 2 and 3), text under them; two
    stacked pictures, each over its caption (p. 4; p. 5 the upper one's 18 points under it and 6 over the lower one);
    text, a sentence naming the figure under it and a figure at the page's foot (p. 6), whose caption opens p. 7."""
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
    page = doc.new_page(width=612, height=792)
    page.insert_image(pymupdf.Rect(150, 100, 450, 300), stream=picture(220))
    page.insert_textbox(pymupdf.Rect(150, 318, 450, 334), TIGHT_BELOW[0], fontsize=9)
    page.insert_image(pymupdf.Rect(150, 340, 450, 540), stream=picture(230))
    page.insert_textbox(pymupdf.Rect(150, 545, 450, 565), TIGHT_BELOW[1], fontsize=9)
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(50, 100, 300, 500), BODY, fontsize=11)
    page.insert_textbox(pymupdf.Rect(50, 560, 300, 592), SENTENCE_OVER_FOOT, fontsize=9)
    page.insert_image(pymupdf.Rect(50, 600, 300, 780), stream=picture(240))
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(50, 40, 300, 70), OPENING_NEXT[1], fontsize=9)
    page.insert_textbox(pymupdf.Rect(50, 100, 540, 300), BODY, fontsize=11)
    doc.save(path)
    doc.close()
    return path


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[int, list[Payload]]:
    """The book's figures by page, top to bottom."""
    book = write_book(tmp_path_factory.mktemp("book") / "book.pdf")
    read = PdfSource(book, hashing_settings(tmp_path_factory.mktemp("read"))).records()
    payloads = sorted((r.entries()[0].payload for r in read if isinstance(r, Figure)), key=lambda p: p.bbox[1])
    return {page: [p for p in payloads if p.page == page] for page in (2, 3, 4, 5, 6)}


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


def test_stacked_figures_over_their_captions_keep_them_when_set_tight_above_the_next(figures):
    assert [(p.text, p.figure) for p in figures[5]] == [
        (TIGHT_BELOW[0], "Figure 1"),
        (TIGHT_BELOW[1], "Figure 2"),
    ], "the upper figure's caption, 6 points over the lower one, went to that one, and the upper took the lower's"


def test_a_foot_figure_under_a_sentence_naming_it_takes_the_next_pages_caption(figures):
    assert [(p.text, p.figure, p.caption_page) for p in figures[6]] == [(OPENING_NEXT[1], "Figure 4", 7)]


TOP_PICTURE = (150.0, 100.0, 450.0, 300.0)
UNDER_PICTURE = (150.0, 340.0, 450.0, 540.0)
BETWEEN = ((150.0, 317.0, 450.0, 323.0), "Figure 2 Distal tubule")
"""A caption as near the picture over it as the one under it (17 points each)."""
OVER_TOP = ((150.0, 80.0, 450.0, 95.0), "Figure 1 Proximal tubule")
UNDER_BOTTOM = ((150.0, 545.0, 450.0, 560.0), "Figure 3 Collecting duct")


@pytest.mark.parametrize("top", range(298, 337, 4))
@pytest.mark.parametrize(("other", "above"), [(OVER_TOP, True), (UNDER_BOTTOM, False)])
def test_two_stacked_pictures_with_a_caption_each_never_share_one(top, other, above):
    """Wherever the caption between the two stands, the side the page's other caption takes says whose it is."""
    between = ((150.0, float(top), 450.0, top + 4.0), "Figure 2 Distal tubule")
    pictures = [TOP_PICTURE, UNDER_PICTURE]
    texts = [caption_block(box, [other, between], None, pictures).text for box in pictures]
    assert texts == ([other[1], between[1]] if above else [between[1], other[1]])


@pytest.mark.parametrize(
    "captions",
    [
        [(206, "Figure 1 Liver"), (426, "Figure 2 Kidney"), (650, "Figure 3 Spleen")],  # under: each tight under
        [(244, "Figure 1 Liver"), (464, "Figure 2 Kidney"), (650, "Figure 3 Spleen")],  # under: tight over the next
        [(24, "Figure 1 Liver"), (206, "Figure 2 Kidney"), (426, "Figure 3 Spleen")],  # above: tight under the last
        [(24, "Figure 1 Liver"), (244, "Figure 2 Kidney"), (464, "Figure 3 Spleen")],  # above: each tight over
        [(24, "Figure 1 Liver"), (244, "Figure 2 necrosis"), (464, "Figure 3 Spleen")],  # no verb ends in -is
        [(24, "Figure 1 Liver"), (244, "Figure 2 abscess"), (464, "Figure 3 fibrous tissue")],  # nor -ss, -us
    ],
)
def test_three_stacked_pictures_each_take_their_own_caption(captions):
    """Captions between stacked pictures, wherever set, go by the side the page's only plainly placed one takes."""
    pictures = [(150.0, 40.0, 450.0, 200.0), (150.0, 260.0, 450.0, 420.0), (150.0, 480.0, 450.0, 640.0)]
    blocks = [((150.0, float(top), 450.0, top + 10.0), text) for top, text in captions]
    texts = [text for _, text in captions]
    assert [caption_block(box, blocks, None, pictures).text for box in pictures] == texts


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


@pytest.mark.parametrize(
    ("above", "own"),
    [
        ("Figure 5 cells of the proximal tubule, brush border stained", True),  # a plural noun, no verb
        ("Figure 5 features of acute tubular injury", True),  # a noun a figure could also do, before "of"
        ("Fig. 5 nuclei and mitochondria", True),
        ("Figure 5 shows the cells of the proximal tubule.", False),  # a sentence naming the figure
        ("Figure 5 features the cells of the proximal tubule.", False),
        ("Figure 5 (below) illustrates the brush border.", False),
        ("Figure 5 also shows the brush border.", False),  # an adverb before the verb
        ("Figure 5 (below) further illustrates the brush border.", False),
        ("Figure 5 is a section of the kidney.", False),
        ("(Figure 5) The cells of the proximal tubule have a brush border.", False),  # a label in brackets
        ("Figure 5 exemplifies the brush border of proximal tubule cells.", False),  # any lower-case -s word: a verb
        ("Figure 5 suggests that the cells are injured.", False),
        ("Figure 5 consists of three panels.", False),  # a verb taking "of"
        ("Figure 5 is composed of three panels.", False),
    ],
)
def test_a_caption_above_a_foot_figure_may_go_on_in_lower_case_and_a_sentence_stays_none(above, own):
    """Just above a foot figure, a block opening with a label and going on with a plural noun is its caption; one
    going on with a verb is a sentence naming it, and the figure takes the next page's opening caption."""
    block = ((50.0, 560.0, 300.0, 590.0), above)
    assert printed_above(FOOT, block, [FOOT]) is own
    caption = caption_block(FOOT, [BODY_BLOCK, block], OPENING_NEXT, [FOOT])
    assert (caption.text, caption.next_page) == ((above, False) if own else (OPENING_NEXT[1], True))
