"""A lecturer's slide decks and non-English books: a slide master's logo is not a figure of every slide, a picture
without a caption is captioned by its slide's title, and a figure keeps its label as the book prints it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from pathatlas.indexer.records import Figure
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.records import Citation, Payload
from tests.helpers import hashing_settings, png_bytes, run_cli

SLIDE = pymupdf.Rect(0, 0, 720, 540)


def picture(seed: int) -> bytes:
    """A 120 x 90 PNG of noise: each seed another picture."""
    pixels = np.random.default_rng(seed).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    return png_bytes(Image.fromarray(pixels))


LOGO, MICROGRAPH = picture(1), picture(2)


def slide(doc: pymupdf.Document, title: str, logo: bool = True) -> pymupdf.Page:
    """A slide with its ``title`` at the top and, as its master draws it, the ``LOGO`` in the top right corner."""
    page = doc.new_page(width=SLIDE.width, height=SLIDE.height)
    page.insert_text((60, 70), title, fontsize=28)
    if logo:
        page.insert_image(pymupdf.Rect(620, 460, 700, 520), stream=LOGO)
    return page


def figures(path: Path, tmp_path: Path) -> list[Figure]:
    return [r for r in PdfSource(path, hashing_settings(tmp_path)).records() if isinstance(r, Figure)]


def test_a_slide_masters_logo_is_a_figure_of_its_first_slide_only(tmp_path):
    """A PowerPoint export draws the master's logo on every slide: each slide had a logo figure, so figure and image
    searches filled with logos."""
    doc = pymupdf.open()
    for n in range(1, 5):
        page = slide(doc, f"Granulomas, part {n}")
        if n in (2, 4):  # slide 2 shows a micrograph (the logo finds its caption above it), slide 4 the logo itself
            page.insert_image(pymupdf.Rect(160, 120, 560, 420), stream=MICROGRAPH if n == 2 else LOGO)
            page.insert_text((160, 440), f"Figure {n // 2}. {'Caseating granuloma' if n == 2 else 'Our logo'}.")
    doc.save(tmp_path / "deck.pdf")
    found = [(f.page, f.label) for f in figures(tmp_path / "deck.pdf", tmp_path)]
    assert found == [(1, None), (2, "Figure 1"), (4, "Figure 2")], "with a caption of its own it is a figure there"


def test_a_logo_stored_again_on_each_slide_is_one_image(tmp_path):
    """Some exporters store the master's image anew on each slide: the same bytes under another xref."""
    doc = pymupdf.open()
    for n in range(1, 4):
        one = pymupdf.open()
        slide(one, f"Slide {n}")
        doc.insert_pdf(one)
    doc.save(tmp_path / "deck.pdf")
    with pymupdf.open(tmp_path / "deck.pdf") as saved:
        assert len({image[0] for page in saved for image in page.get_images()}) == 3
    assert [f.page for f in figures(tmp_path / "deck.pdf", tmp_path)] == [1]


def test_an_image_reused_as_two_captioned_figures_or_on_few_pages_stays_a_figure_each_time(tmp_path):
    """The A&P book prints one image as Figure 4.18 and Figure 10.2: reuse alone makes no template."""
    doc = pymupdf.open()
    for n in range(1, 4):
        page = slide(doc, f"Slide {n}", logo=False)
        page.insert_image(pymupdf.Rect(160, 120, 560, 420), stream=MICROGRAPH)
        page.insert_text((160, 440), f"Figure {n}. The same granuloma.", fontsize=12)
    doc.save(tmp_path / "captioned.pdf")
    assert [f.label for f in figures(tmp_path / "captioned.pdf", tmp_path)] == ["Figure 1", "Figure 2", "Figure 3"]

    doc = pymupdf.open()
    for n in range(1, 6):
        page = slide(doc, f"Slide {n}", logo=False)
        if n in (2, 4):  # on two pages of five: not a master's
            page.insert_image(pymupdf.Rect(160, 120, 560, 420), stream=MICROGRAPH)
    doc.save(tmp_path / "reused.pdf")
    assert [f.page for f in figures(tmp_path / "reused.pdf", tmp_path)] == [2, 4]


def test_a_slides_picture_without_a_caption_is_captioned_by_the_slides_title(tmp_path):
    """A slide names its picture in its title, not in a "Figure" caption: the figure's caption was empty, so only its
    printed words found it. Its label stays its place ("p1-img1"): a title is no figure number."""
    doc = pymupdf.open()
    slide(doc, "Caseating granuloma in the lung", logo=False).insert_image(
        pymupdf.Rect(160, 120, 560, 420), stream=MICROGRAPH
    )
    page = slide(doc, "Hepatic steatosis", logo=False)
    page.insert_image(pymupdf.Rect(160, 120, 560, 420), stream=LOGO)
    page.insert_text((160, 440), "Figure 2. Fatty liver, H&E.", fontsize=12)
    doc.save(tmp_path / "deck.pdf")
    titled, captioned = figures(tmp_path / "deck.pdf", tmp_path)
    assert (titled.caption, titled.caption_from_title, titled.label) == ("Caseating granuloma in the lung", True, None)
    (entry,) = titled.entries()
    assert entry.text == entry.payload.text == "Caseating granuloma in the lung" and entry.payload.caption_from_title
    assert entry.payload.figure == "p1-img1"
    assert (captioned.caption, captioned.caption_from_title) == ("Figure 2. Fatty liver, H&E.", False)
    assert "caption_from_title" not in captioned.entries()[0].payload.to_payload()


def test_a_pages_opening_paragraph_or_a_slide_masters_logo_takes_no_title(tmp_path):
    """A book page's first block is a paragraph, not its title; a logo on every slide is not what each title names."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(72, 72, 540, 200), "The granuloma is a focal collection of macrophages. " * 5)
    page.insert_image(pymupdf.Rect(160, 240, 460, 460), stream=MICROGRAPH)
    doc.save(tmp_path / "book.pdf")
    assert [f.caption for f in figures(tmp_path / "book.pdf", tmp_path)] == [""]

    doc = pymupdf.open()
    for n in range(1, 4):
        slide(doc, f"Granulomas, part {n}")
    doc.save(tmp_path / "deck.pdf")
    assert [(f.page, f.caption) for f in figures(tmp_path / "deck.pdf", tmp_path)] == [(1, "")]


def test_a_figure_is_cited_by_its_label_as_the_book_prints_it(tmp_path):
    """A German book's "Abb. 1" was cited as "Figure 1", a Spanish "Figura 2" as "Figure 2"."""
    doc = pymupdf.open()
    for n, caption in enumerate(["Abb. 1 Leberzirrhose.", "Figura 2. Cirrosis hepática.", "Figure 3. Cirrhosis."]):
        page = doc.new_page(width=612, height=792)
        page.insert_image(pymupdf.Rect(160, 100, 460, 320), stream=picture(10 + n))
        page.insert_text((160, 340), caption, fontsize=12)
    doc.save(tmp_path / "leber.pdf")
    home = tmp_path / "home"
    assert run_cli("index", tmp_path / "leber.pdf", "--index", tmp_path / "index", home=home).exit_code == 0
    cited = {}
    for query in ("Leberzirrhose", "Cirrosis hepática", "Cirrhosis"):
        result = run_cli("search", query, "--index", tmp_path / "index", "--filter", "kind=figure", "--json", home=home)
        hit = json.loads(result.stdout)[0]
        cited[query] = (hit["citation"]["figure"], hit["citation"]["label"], hit["payload"]["figure"])
    assert cited == {
        "Leberzirrhose": ("Abb. 1", "leber.pdf, p. 1, Abb. 1", "Figure 1"),
        "Cirrosis hepática": ("Figura 2", "leber.pdf, p. 2, Figura 2", "Figure 2"),
        "Cirrhosis": ("Figure 3", "leber.pdf, p. 3, Figure 3", "Figure 3"),
    }, "the payload keeps the label every book shares"


def test_a_figure_indexed_before_printed_labels_were_kept_is_still_cited_as_figure_n():
    stored = {"kind": "figure", "source": "/books/leber.pdf", "page": 1, "figure": "Figure 1"}
    assert Citation.of(Payload.from_payload(stored)).label() == "leber.pdf, p. 1, Figure 1"
    printed = Payload.from_payload({**stored, "figure_printed": "Abb. 1"})
    assert Citation.of(printed).label() == "leber.pdf, p. 1, Abb. 1"
    assert printed.to_payload() == {**stored, "figure_printed": "Abb. 1"}
