"""A caption opening the next page goes to the figure at the previous page's foot only where it is not another
picture's: printed under a picture of the next page's own, it is that picture's (r23: both figures were labelled
"Figure 2.2", and the foot figure's citation outlined the other picture's caption), unless it names more parts than
the pictures above it, the rest of a figure continued over the page break (the A&P book's Figures 4.7 and 22.24)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pathatlas.indexer.records import Figure
from pathatlas.indexer.sources.pdf.captions import carried_over, named_parts
from pathatlas.indexer.sources.pdf.source import PdfSource
from pathatlas.retrieval.records import Citation, Payload
from tests.helpers import hashing_settings
from tests.indexer.test_caption_box import picture
from tests.indexer.test_caption_next_page import AT_FOOT, BODY, printed_box

TOP = pymupdf.Rect(150, 72, 450, 280)
OWN_CAPTION = "Figure 2.2. Spongy bone: Trabeculae follow the lines of stress."
PARTS_CAPTION = "Figure 2.3. Bone marrow: (a) red marrow; (b) yellow marrow."
LETTERED_CAPTION = "FIGURE 3.2 Kidney infarct. A, gross. B, microscopic."


def write_book(path: Path) -> Path:
    """Six pages, each odd one text and a figure at its foot with nothing under it, each even one opening with a
    picture and a caption under it: p. 2's names no parts (the picture's own), p. 4's two parts "(a)", "(b)" and
    p. 6's two parts "A, ... B, ..." as Robbins names them (each a figure continued from the page before)."""
    doc = pymupdf.open()
    for shade, caption in ((120, OWN_CAPTION), (160, PARTS_CAPTION), (60, LETTERED_CAPTION)):
        foot = doc.new_page(width=612, height=792)
        foot.insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
        foot.insert_image(AT_FOOT, stream=picture(shade))
        top = doc.new_page(width=612, height=792)
        top.insert_image(TOP, stream=picture(shade + 20))
        top.insert_textbox(pymupdf.Rect(150, 290, 450, 330), caption, fontsize=9)
        top.insert_textbox(pymupdf.Rect(72, 360, 540, 420), BODY, fontsize=11)
    doc.save(path)
    doc.close()
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return write_book(tmp_path_factory.mktemp("book") / "book.pdf")


@pytest.fixture(scope="module")
def figures(book, tmp_path_factory) -> dict[int, Payload]:
    """The book's figures by page (one a page)."""
    read = PdfSource(book, hashing_settings(tmp_path_factory.mktemp("read"))).records()
    payloads = [r.entries()[0].payload for r in read if isinstance(r, Figure)]
    assert sorted(p.page for p in payloads) == [1, 2, 3, 4, 5, 6]
    return {p.page: p for p in payloads}


def test_a_caption_under_the_next_pages_own_picture_is_not_the_foot_figures(book, figures):
    foot, own = figures[1], figures[2]
    assert (foot.caption_page, foot.caption_bbox) == (None, None), "no place of another picture's caption"
    assert foot.figure != "Figure 2.2" and OWN_CAPTION not in foot.text
    assert Citation.of(foot).label() == "book.pdf, p. 1, p1-img1"
    assert (own.figure, own.text, own.caption_page) == ("Figure 2.2", OWN_CAPTION, None), "as before"
    assert own.caption_bbox == pytest.approx(printed_box(book, 2, "Figure 2.2"), abs=0.06)


def test_a_figure_continued_over_the_page_break_shares_its_caption(book, figures):
    foot, rest = figures[3], figures[4]
    assert (foot.figure, foot.text, foot.caption_page) == ("Figure 2.3", PARTS_CAPTION, 4), "as before"
    assert foot.caption_bbox == pytest.approx(printed_box(book, 4, "Figure 2.3"), abs=0.06)
    assert Citation.of(foot).label() == "book.pdf, p. 3, Figure 2.3 (caption on p. 4)"
    assert (rest.figure, rest.caption_page, rest.caption_bbox) == ("Figure 2.3", None, foot.caption_bbox)


def test_a_figure_continued_over_the_page_break_with_parts_named_robbins_style(book, figures):
    foot, rest = figures[5], figures[6]
    assert (foot.figure, foot.text, foot.caption_page) == ("Figure 3.2", LETTERED_CAPTION, 6)
    assert foot.caption_bbox == pytest.approx(printed_box(book, 6, "FIGURE 3.2"), abs=0.06)
    assert (rest.figure, rest.caption_page, rest.caption_bbox) == ("Figure 3.2", None, foot.caption_bbox)


@pytest.mark.parametrize(
    ("caption", "parts"),
    [
        (OWN_CAPTION, 0),
        (PARTS_CAPTION, 2),
        ("Figure 22.24. Graphs show (a) saturation, (b) pH and (c) temperature.", 3),
        ("Figure 1.1. Micrograph (c) 2012 University of Michigan.", 0),
        ("Figure 5.4. (A) Epidermis (B) Dermis (A) again", 2),
    ],
)
def test_named_parts_counts_a_run_from_a(caption, parts):
    assert named_parts(caption) == parts


@pytest.mark.parametrize(
    ("pictures", "text", "carried"),
    [
        ([], OWN_CAPTION, True),  # nothing above: the foot figure's caption run over the break
        ([(150, 400, 450, 600)], OWN_CAPTION, True),  # a picture below the caption has a caption of its own
        ([tuple(TOP)], OWN_CAPTION, False),  # r23: the picture above it is its figure
        ([tuple(TOP)], PARTS_CAPTION, True),  # two parts, one above it: the other is before the break
        ([tuple(TOP)], LETTERED_CAPTION, True),  # the same, its parts named "A, ... B, ..."
        ([tuple(TOP)], "Figure 3.3 A section through the liver. Vitamin A, the stored form.", False),  # no parts
        ([(150, 72, 450, 170), (150, 180, 450, 280)], PARTS_CAPTION, False),  # both parts above it
    ],
)
def test_carried_over_by_the_pictures_above_the_caption(pictures, text, carried):
    assert carried_over(((150.0, 290.0, 396.1, 330.0), text), pictures) is carried
