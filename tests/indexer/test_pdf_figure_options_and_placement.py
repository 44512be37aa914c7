"""A reviewer's findings on reading PDFs: a page's figures take their options by name, and a deck's pages have their
images placed once."""

from __future__ import annotations

import inspect
from collections import Counter

import numpy as np
import pymupdf
from PIL import Image

from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf import source as pdf_source
from pathatlas.indexer.sources.pdf import templates as pdf_templates
from pathatlas.indexer.sources.pdf.images import placed_images
from tests.helpers import hashing_settings, png_bytes

# -- 4. a PDF's figures: options by name, each page's images placed once ---------------------------------------------


def test_a_pages_figure_options_are_given_by_name():
    """Eleven positional parameters: two strings or two flags given in each other's place went unnoticed."""
    figures = inspect.signature(PdfSource._figures).parameters
    options = ["page_label", "scanned", "templates", "plate", "sections", "placements"]
    assert all(figures[name].kind is inspect.Parameter.KEYWORD_ONLY for name in options)
    records = inspect.signature(PdfSource._page_records).parameters
    assert [name for name, p in records.items() if p.kind is not inspect.Parameter.KEYWORD_ONLY] == [
        "self",
        "page",
        "blocks",
    ]


def test_a_decks_pages_are_placed_once(tmp_path, monkeypatch):
    """Each slide showing the master's logo had its images placed (``placed_images``) twice: once to find the
    master's images, once for its figures."""
    logo, micrograph = (
        png_bytes(Image.fromarray(np.random.default_rng(seed).integers(0, 256, (90, 120, 3), dtype=np.uint8)))
        for seed in (1, 2)
    )
    doc = pymupdf.open()
    for n in range(1, 5):
        page = doc.new_page(width=720, height=540)
        page.insert_text((60, 70), f"Granulomas, part {n}", fontsize=28)
        page.insert_image(pymupdf.Rect(620, 460, 700, 520), stream=logo)  # the master's, in a corner
        if n == 2:
            page.insert_image(pymupdf.Rect(160, 120, 560, 420), stream=micrograph)
    doc.save(tmp_path / "deck.pdf")

    placed: Counter[int] = Counter()
    real = placed_images

    def counted(page, *args, **kwargs):
        placed[page.number] += 1
        return real(page, *args, **kwargs)

    monkeypatch.setattr(pdf_source, "placed_images", counted)  # a page's records
    monkeypatch.setattr(pdf_templates, "placed_images", counted)  # pages a master may be on
    records = list(PdfSource(tmp_path / "deck.pdf", hashing_settings(tmp_path)).records())
    assert placed == {n: 1 for n in range(4)}
    figures = [(r.page, r.caption) for r in records if type(r).__name__ == "Figure"]
    assert figures == [(1, ""), (2, "Granulomas, part 2")], "the logo on its first slide, the micrograph on its own"
