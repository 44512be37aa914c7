"""A picture a deck shows on several slides (a quiz's question, hint and answer) is each slide's content, not the slide
master's: it stays a figure on each, captioned by that slide's title, while a master's logo, banner or background (in
the margins, or across the page) is still a figure of its first slide only; and a page's figures are numbered among
its figures, so a slide's one micrograph is "img1" though a logo was drawn before it."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf

from tests.helpers import run_cli
from tests.indexer.test_slides_figures import LOGO, MICROGRAPH, figures, picture

WIDTH, HEIGHT = 960, 540
"""A 16:9 slide, as PowerPoint exports it."""
CORNER_LOGO = pymupdf.Rect(WIDTH - 130, 10, WIDTH - 10, 58)
PICTURE = pymupdf.Rect(200, 100, 700, 475)
"""Where a quiz deck shows its micrograph: the middle of the slide."""


def quiz_slide(doc: pymupdf.Document, title: str, image: bytes | None, logo: bool = True) -> None:
    """A slide with its ``title`` at the top, the ``LOGO`` in the top right corner and ``image`` below the title."""
    page = doc.new_page(width=WIDTH, height=HEIGHT)
    if logo:
        page.insert_image(CORNER_LOGO, stream=LOGO)
    page.insert_textbox(pymupdf.Rect(30, 20, WIDTH - 150, 80), title, fontsize=26)
    if image is not None:
        page.insert_image(PICTURE, stream=image)


QUIZ = [
    ("Quiz 3: what is this lesion?", MICROGRAPH),
    ("Hint: look at the cytoplasm", MICROGRAPH),
    ("Answer: granular cell tumour (Abrikossoff)", MICROGRAPH),
    ("Quiz 4: and this one?", picture(3)),
    ("Answer: intestinal lymphangiectasia", picture(3)),
]


def quiz_deck(path: Path, logo: bool = True) -> Path:
    doc = pymupdf.open()
    for title, image in QUIZ:
        quiz_slide(doc, title, image, logo)
    doc.save(path)
    return path


def test_a_picture_shown_on_several_slides_is_a_figure_of_each_captioned_by_its_title(tmp_path):
    """A micrograph on three slides of five (question, hint, answer) counted as the master's image: only the question
    slide kept it, and a figure search for the answer never found the answer slide."""
    deck = quiz_deck(tmp_path / "Quiz GI.pdf", logo=False)
    found = [(f.page, f.caption, f.caption_from_title) for f in figures(deck, tmp_path)]
    assert found == [(n, title, True) for n, (title, _) in enumerate(QUIZ, 1)]

    home = tmp_path / "home"
    assert run_cli("index", deck, "--index", tmp_path / "index", home=home).exit_code == 0
    result = run_cli(
        "search", "granular cell tumour", "--index", tmp_path / "index", "--filter", "kind=figure", "--json", home=home
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["citation"]["page"] == 3


def test_a_masters_logo_banner_and_background_stay_figures_of_the_first_slide_only(tmp_path):
    """The pictures in the middle are each slide's; the logo in a corner, a banner along the top edge and a background
    across the page are the master's, however large."""
    doc = pymupdf.open()
    banner, background = picture(4), picture(5)
    for title, image in QUIZ:
        page = doc.new_page(width=WIDTH, height=HEIGHT)
        page.insert_image(page.rect, stream=background, keep_proportion=False)  # stretched, as PowerPoint does
        page.insert_image(pymupdf.Rect(0, 0, WIDTH, 80), stream=banner, keep_proportion=False)
        page.insert_image(CORNER_LOGO, stream=LOGO)
        page.insert_textbox(pymupdf.Rect(30, 20, WIDTH - 150, 80), title, fontsize=26)
        page.insert_image(PICTURE, stream=image)
    doc.save(tmp_path / "mastered.pdf")
    found = [(f.page, f.caption) for f in figures(tmp_path / "mastered.pdf", tmp_path)]
    master = [(1, "")] * 3  # background, banner, logo: a figure of the first slide, taking no title
    assert sorted(found) == sorted(master + [(n, title) for n, (title, _) in enumerate(QUIZ, 1)])


def test_a_slides_figures_are_numbered_among_its_figures_not_its_images(tmp_path):
    """The logo, drawn first, was "img1" of every slide, though a figure of the first only: a slide whose one figure is
    its micrograph labelled it "p2-img2"."""
    deck = quiz_deck(tmp_path / "Quiz GI.pdf")
    labels = [(f.page, f.entries()[0].payload.figure) for f in figures(deck, tmp_path)]
    assert labels == [(1, "p1-img1"), (1, "p1-img2"), *((n, f"p{n}-img1") for n in range(2, 6))]
    assert len({f.id for f in figures(deck, tmp_path)}) == 6
