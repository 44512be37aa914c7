"""Which picture owns which caption where a figure at a page's foot could take the caption opening the next page. A
figure whose page prints its caption just above it (a caption-above book) keeps that caption: it took the next page's
opening caption instead when that named more parts than the next page had pictures ("A, aorta; B, bronchus; C,
carina" under one picture), and both figures carried one label. The next page's caption stays a foot figure's where
its page prints none of its own above it: a sentence naming the figure ("Figure 1.4 summarizes ...") is no caption, and
a caption printed under the picture above is that picture's."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pathatlas.indexer.records import Figure
from pathatlas.indexer.sources.pdf.captions import caption_block
from pathatlas.indexer.sources.pdf.source import PdfSource
from pathatlas.retrieval.records import Payload
from tests.helpers import hashing_settings
from tests.indexer.test_caption_box import picture
from tests.indexer.test_caption_next_page import AT_FOOT, BODY, printed_box

TOP = pymupdf.Rect(150, 72, 450, 297)
UNDER_TOP = pymupdf.Rect(150, 335, 450, 560)
"""A picture just under the caption of the picture at ``TOP``, nothing under it: at its page's foot."""
OWN_ABOVE = "Figure 1.2 The heart: its four chambers seen from the front."
PARTS = "Figure 1.3 A, aorta; B, bronchus; C, carina."
MENTION = "Figure 1.4 summarizes the chambers of the heart and the vessels that leave them."
CARRIED = "Figure 1.4. Chambers of the heart: the atria receive blood and the ventricles pump it."
TOP_CAPTION = "Figure 1.5. Valves of the heart: four valves keep the blood flowing one way."
CARRIED_UNDER = "Figure 1.6. Coronary vessels: the heart's own arteries and veins."


def write_book(path: Path) -> Path:
    """Six pages: p. 1 a foot figure with its caption just above it; p. 2 a picture with a caption under it naming
    three parts (so it may be carried to p. 1); p. 3 a foot figure under a sentence naming Figure 1.4, whose caption
    opens p. 4; p. 5 a picture captioned under it and a foot figure just under that caption, whose own opens p. 6."""
    doc = pymupdf.open()
    first = doc.new_page(width=612, height=792)
    first.insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
    first.insert_textbox(pymupdf.Rect(150, 465, 450, 495), OWN_ABOVE, fontsize=9)
    first.insert_image(AT_FOOT, stream=picture(120))
    second = doc.new_page(width=612, height=792)
    second.insert_image(TOP, stream=picture(140))
    second.insert_textbox(pymupdf.Rect(150, 305, 450, 335), PARTS, fontsize=9)
    second.insert_textbox(pymupdf.Rect(72, 360, 540, 420), BODY, fontsize=11)
    third = doc.new_page(width=612, height=792)
    third.insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
    third.insert_textbox(pymupdf.Rect(72, 450, 540, 495), MENTION, fontsize=11)
    third.insert_image(AT_FOOT, stream=picture(160))
    fourth = doc.new_page(width=612, height=792)
    fourth.insert_textbox(pymupdf.Rect(72, 72, 540, 110), CARRIED, fontsize=9)
    fourth.insert_textbox(pymupdf.Rect(72, 130, 540, 200), BODY, fontsize=11)
    fifth = doc.new_page(width=612, height=792)
    fifth.insert_image(TOP, stream=picture(180))
    fifth.insert_textbox(pymupdf.Rect(150, 300, 450, 330), TOP_CAPTION, fontsize=9)
    fifth.insert_image(UNDER_TOP, stream=picture(200))
    sixth = doc.new_page(width=612, height=792)
    sixth.insert_textbox(pymupdf.Rect(72, 72, 540, 110), CARRIED_UNDER, fontsize=9)
    sixth.insert_textbox(pymupdf.Rect(72, 130, 540, 200), BODY, fontsize=11)
    doc.save(path)
    doc.close()
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return write_book(tmp_path_factory.mktemp("book") / "book.pdf")


@pytest.fixture(scope="module")
def figures(book, tmp_path_factory) -> list[Payload]:
    """The book's figures, top to bottom page by page."""
    read = PdfSource(book, hashing_settings(tmp_path_factory.mktemp("read"))).records()
    payloads = [r.entries()[0].payload for r in read if isinstance(r, Figure)]
    return sorted(payloads, key=lambda p: (p.page, p.bbox[1]))


def test_each_figure_takes_its_own_caption(figures):
    assert [(p.page, p.figure, p.caption_page) for p in figures] == [
        (1, "Figure 1.2", None),
        (2, "Figure 1.3", None),
        (3, "Figure 1.4", 4),
        (5, "Figure 1.5", None),
        (5, "Figure 1.6", 6),
    ]


def test_a_foot_figure_keeps_the_caption_printed_just_above_it(book, figures):
    foot, next_pages = figures[0], figures[1]
    assert (foot.text, foot.caption_page) == (OWN_ABOVE, None), "not p. 2's caption naming three parts"
    assert foot.caption_bbox == pytest.approx(printed_box(book, 1, "Figure 1.2"), abs=0.06)
    assert (next_pages.text, next_pages.caption_page) == (PARTS, None), "p. 2's caption stays its own picture's"


def test_a_sentence_naming_a_figure_above_a_foot_figure_is_no_caption(book, figures):
    foot = figures[2]
    assert (foot.text, foot.caption_page) == (CARRIED, 4), "the caption opening p. 4, as before"
    assert foot.caption_bbox == pytest.approx(printed_box(book, 4, "Figure 1.4."), abs=0.06)


def test_the_caption_under_the_picture_above_is_not_the_foot_figures(figures):
    above, foot = figures[3], figures[4]
    assert (above.text, above.caption_page) == (TOP_CAPTION, None)
    assert (foot.text, foot.caption_page) == (CARRIED_UNDER, 6), "the caption opening p. 6, as before"


FOOT = (50.0, 600.0, 300.0, 780.0)
OPENING_NEXT = ((50.0, 40.0, 300.0, 70.0), "Figure 4 Cirrhosis of the liver")
BODY_BLOCK = ((50.0, 100.0, 300.0, 500.0), "Some body text about the liver.")


@pytest.mark.parametrize(
    ("above", "own"),
    [
        ("Figure 3 Normal liver, low power", True),
        ("Figure 3 normal liver, low power", True),  # a caption in lower case is still one
        ("Fig. 3 hematoxylin and eosin stain", True),
        ("Figure 3 (below) shows normal liver at low power, as the next page explains.", False),  # a sentence
        ("Figure 3 summarizes the lobules of the liver.", False),
    ],
)
def test_a_foot_figure_keeps_the_caption_above_it_and_not_a_sentence_naming_it(above, own):
    """A caption set above a foot figure is its own whatever its case; a body sentence naming the figure, its verb
    after the label, is none: the figure takes the next page's opening caption."""
    caption = caption_block(FOOT, [BODY_BLOCK, ((50.0, 560.0, 300.0, 590.0), above)], OPENING_NEXT, [FOOT])
    assert (caption.text, caption.next_page) == ((above, False) if own else (OPENING_NEXT[1], True))
