"""The box a reader sees outlined is the passage's own: a piece of a long paragraph boxed by its own lines, a passage
around a figure outlined block by block, and a turned page's outline and strip where the page shows the passage."""

from __future__ import annotations

import io
import re

import numpy as np
import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.sources.pdf.text import clean_text, split_long
from pathatlas.ui.api.app import create_app
from pathatlas.ui.web_viewer import READING_DPI, around_box
from tests.helpers import hashing_settings, index_new, png_bytes

WORDS = ("epithelium", "basement", "membrane", "collagen", "keratin", "squamous", "columnar", "cilia", "mucus")
PICTURE = pymupdf.Rect(150, 170, 450, 420)
"""Where the figure between two paragraphs is printed."""
TURNED_TEXT = pymupdf.Rect(40, 270, 360, 470)
"""Where the paragraph of the page turned by /Rotate 270 is printed, in its unrotated points."""


def prose(count: int, start: int = 0) -> str:
    return " ".join(f"{WORDS[n % len(WORDS)]}{n}" for n in range(start, start + count))


def long_paragraph(path):
    """One page printing a 300-word paragraph: over ``passage_max_words`` (200), it is split into two passages."""
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(60, 60, 550, 760), prose(300), fontsize=10)
    doc.save(path)
    return path


def figure_between_paragraphs(path):
    """A paragraph, a picture, two paragraphs 3 points apart (as a book prints them): too short apart (30, 20 and 20
    words), they make one passage."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(60, 60, 550, 160), prose(30), fontsize=10)
    page.insert_image(PICTURE, stream=png_bytes(Image.new("RGB", (300, 250), (40, 60, 200))))
    below = page.insert_textbox(pymupdf.Rect(60, 440, 550, 520), prose(20, 30), fontsize=10)
    page.insert_textbox(pymupdf.Rect(60, 520 - below + 2, 550, 600), prose(20, 50), fontsize=10)
    doc.save(path)
    return path


def turned_page(path):
    """A 400 x 500 point page turned by /Rotate 270 (shown landscape), one 70-word paragraph in its lower part."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=500)
    page.insert_textbox(TURNED_TEXT, prose(70), fontsize=9)
    page.set_rotation(270)
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A client of the service on the three PDFs, indexed with the hashing encoder, and the folder holding them."""
    root = tmp_path_factory.mktemp("boxes")
    books = root / "books"
    books.mkdir()
    long_paragraph(books / "long.pdf")
    figure_between_paragraphs(books / "figure.pdf")
    turned_page(books / "turned.pdf")
    settings = hashing_settings(root)
    index_new(settings, books)
    with TestClient(create_app(settings)) as client:
        yield client, books


def records(client, name: str, kind: str) -> list[tuple[str, dict]]:
    """(id, payload) of the records of one kind of the source ``name``, in reading order."""
    index = client.app.state.engine.index
    key = next(key for key in index.manifest if key.endswith(f"/{name}"))
    found = index.store.scan({"kind": kind, "source": key})
    return sorted(found, key=lambda row: (row[1]["page"], row[1].get("passage") or 0))


def letters(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def rendered(client, record_id: str) -> bytes:
    shown = client.get(f"/media/pages/{record_id}", params={"dpi": READING_DPI})
    assert shown.status_code == 200, shown.text
    return shown.content


def red(picture: Image.Image | bytes) -> np.ndarray:
    """Where a picture holds the outline's red."""
    image = Image.open(io.BytesIO(picture)) if isinstance(picture, bytes) else picture
    rgb = np.asarray(image.convert("RGB")).astype(int)
    return (rgb[..., 0] > 180) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)


def test_each_piece_of_a_long_paragraph_is_boxed_by_its_own_lines(library):
    client, books = library
    passages = records(client, "long.pdf", "passage")
    assert len(passages) == 2
    with pymupdf.open(books / "long.pdf") as doc:
        for _, payload in passages:
            inside = doc[0].get_text("text", clip=pymupdf.Rect(payload["bbox"]) + (-1, -1, 1, 1))
            assert letters(payload["text"]) in letters(inside), "the passage's words lie in its box"
            assert len(letters(inside)) < 1.2 * len(letters(payload["text"])), "and not the rest of the paragraph"
    (_, first), (_, second) = passages
    assert first["bbox"][3] < second["bbox"][3] and first["bbox"][1] < second["bbox"][1]


def test_a_word_split_across_two_lines_boxes_each_piece_holding_it_by_both():
    lines = [((0, 0, 90, 10), "alpha beta physi-"), ((0, 12, 90, 22), "ology gamma delta"), ((0, 24, 90, 34), "eta")]
    text = clean_text("\n".join(line for _, line in lines))
    pieces = split_long(((0, 0, 100, 34), text), 4, lines)
    assert pieces == [((0, 0, 90, 22), "alpha beta physiology"), ((0, 12, 90, 34), "gamma delta eta")]
    unknown = split_long(((0, 0, 100, 34), text), 4, lines[:2])
    assert [box for box, _ in unknown] == [(0, 0, 100, 34)] * 2, "lines not holding its words: the block's box"


def test_a_passage_around_a_figure_is_outlined_around_its_text_not_the_figure(library):
    client, _ = library
    ((passage, payload),) = records(client, "figure.pdf", "passage")
    assert len(payload["blocks"]) == 3 and payload["bbox"][1] < PICTURE.y0 < PICTURE.y1 < payload["bbox"][3]
    scale = READING_DPI / 72
    outlined = red(rendered(client, passage))
    assert outlined.any(), "the passage is outlined"
    beside_the_figure = outlined[round(PICTURE.y0 * scale) : round(PICTURE.y1 * scale)]
    assert not beside_the_figure.any(), "no outline runs beside the figure, nor round it"
    blocks = [[round(c * scale) for c in block] for block in payload["blocks"]]
    assert not any(outlined[y0:y1, x0:x1].any() for x0, y0, x1, y1 in blocks), "none crosses the letters"


def test_a_turned_pages_strip_holds_its_outline(library):
    client, _ = library
    ((passage, payload),) = records(client, "turned.pdf", "passage")
    whole = Image.open(io.BytesIO(rendered(client, passage))).convert("RGB")
    assert whole.width > whole.height, "the page is shown turned"
    strip = around_box(whole, payload["bbox"], READING_DPI)
    assert red(whole).sum() > 1000
    assert red(strip).sum() == red(whole).sum(), "the strip holds the whole outline"
