"""A quote of a figure's caption is outlined with its figure and the caption printed beside it: the PDF reader keeps
where each figure's caption is printed on its page (``caption_bbox``), and ``quote_place`` gives such a quote the
union of both boxes. The image's box alone outlined the picture and left the quoted words outside (the A&P book's
Figure 4.2, p. 111, printed its caption under the image), and the viewer's strip around the box might not show them."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw

from pathatlas.agent.evidence import quote_place
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Figure, Page, Passage
from pathatlas.indexer.sources.pdf import source as pdf_source
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import BBox, Payload
from tests.helpers import hashing_settings, png_bytes
from tests.indexer.test_text_reuse import ENCODER as COUNTING

BELOW = "Figure 1.1. Simple squamous epithelium: A single layer of flat cells lines the alveoli of the lung."
ABOVE = "Figure 1.2. Cardiac muscle: Branching striated cells join one another at intercalated discs."
CONTINUED = "Figure 1.3. Compact bone: Concentric lamellae of osteons ring a central canal."
LABELS = [(1, "Figure 1.1"), (2, "Figure 1.2")]
"""The pages printing a figure's caption beside it, and its label."""
NEXT = (4, "Figure 1.3")
"""The page printing the caption of the figure at p. 3's foot, and its label."""
QUOTE = "A single layer of flat cells lines the alveoli of the lung."
IMAGE = pymupdf.Rect(150, 160, 450, 385)
AT_FOOT = pymupdf.Rect(150, 495, 450, 720)
BODY = "Tissues are groups of cells that share a structure and a function in the body."


def picture(shade: int) -> bytes:
    """A small drawn picture (over ``min_figure_px``), each ``shade`` its own pixels."""
    image = Image.new("RGB", (200, 150), (230, shade, 200))
    ImageDraw.Draw(image).ellipse((40, 30, 160, 120), fill=(90, 30, shade))
    return png_bytes(image)


def write_book(path: Path) -> Path:
    """Four pages: an image with its caption under it (p. 1), one with its caption above it and text below (p. 2), one
    at a page's foot (p. 3) whose caption opens the next page (p. 4)."""
    doc = pymupdf.open()
    first = doc.new_page(width=612, height=792)
    first.insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
    first.insert_image(IMAGE, stream=picture(120))
    first.insert_textbox(pymupdf.Rect(150, 395, 450, 450), BELOW, fontsize=9)
    second = doc.new_page(width=612, height=792)
    second.insert_textbox(pymupdf.Rect(150, 100, 450, 150), ABOVE, fontsize=9)
    second.insert_image(IMAGE, stream=picture(160))
    second.insert_textbox(pymupdf.Rect(72, 420, 540, 480), BODY, fontsize=11)
    third = doc.new_page(width=612, height=792)
    third.insert_textbox(pymupdf.Rect(72, 72, 540, 140), BODY, fontsize=11)
    third.insert_image(AT_FOOT, stream=picture(200))
    fourth = doc.new_page(width=612, height=792)
    fourth.insert_textbox(pymupdf.Rect(72, 72, 540, 110), CONTINUED, fontsize=9)
    fourth.insert_textbox(pymupdf.Rect(72, 130, 540, 200), BODY, fontsize=11)
    doc.save(path)
    doc.close()
    return path


def printed_box(path: Path, page: int, opening: str) -> BBox:
    """The box of the text block opening with ``opening`` on ``page`` (1-based), as MuPDF gives it."""
    with pymupdf.open(path) as doc:
        blocks = doc[page - 1].get_text("blocks")
    return next(tuple(block[:4]) for block in blocks if block[4].startswith(opening))


def inside(inner: BBox | pymupdf.Rect, outer: BBox) -> bool:
    """Whether ``inner`` lies within ``outer`` (to a tenth of a point, as boxes are kept)."""
    return (pymupdf.Rect(outer) + (-0.1, -0.1, 0.1, 0.1)).contains(pymupdf.Rect(inner))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return write_book(tmp_path_factory.mktemp("book") / "book.pdf")


@pytest.fixture(scope="module")
def read(book, tmp_path_factory) -> list:
    return list(pdf_source.PdfSource(book, hashing_settings(tmp_path_factory.mktemp("read"))).records())


def payloads(records: list, page: int) -> dict[str, Payload]:
    """The page's passages and figures by id, stored and read back as an index gives them (``records_on_pages``)."""
    on_page = [r for r in records if isinstance(r, (Passage, Figure)) and r.page == page]
    return {r.id: Payload.from_payload(json.loads(json.dumps(r.entries()[0].payload.to_payload()))) for r in on_page}


def figure_of(records: list, page: int) -> tuple[str, Payload]:
    return next((i, p) for i, p in payloads(records, page).items() if p.kind == "figure")


def test_a_figure_keeps_the_box_of_its_caption_printed_on_its_page(book, read):
    below, above, continued = (figure_of(read, page)[1] for page in (1, 2, 3))
    assert (below.figure, above.figure, continued.figure) == ("Figure 1.1", "Figure 1.2", "Figure 1.3")
    assert below.bbox == tuple(IMAGE) and continued.bbox == tuple(AT_FOOT)
    assert below.caption_bbox == pytest.approx(printed_box(book, 1, "Figure 1.1"), abs=0.06)
    assert below.caption_bbox[1] > below.bbox[3], "printed under the image"
    assert above.caption_bbox == pytest.approx(printed_box(book, 2, "Figure 1.2"), abs=0.06)
    assert above.caption_bbox[3] < above.bbox[1], "printed above the image"
    assert continued.text.startswith("Figure 1.3") and continued.caption_page == 4, "printed on the next page"
    assert continued.caption_bbox == pytest.approx(printed_box(book, 4, "Figure 1.3"), abs=0.06), "its box there"


def test_a_quoted_caption_is_outlined_with_its_figure_and_its_words(book, read):
    on_page = payloads(read, 1)
    figure_id, figure = figure_of(read, 1)
    (page,) = (r for r in read if isinstance(r, Page) and r.page == 1)
    place = quote_place(QUOTE, page.id, page.entries()[0].payload, on_page)
    assert (place.record, place.figure) == (figure_id, "Figure 1.1")
    assert inside(IMAGE, place.bbox) and inside(printed_box(book, 1, "Figure 1.1"), place.bbox)
    with pymupdf.open(book) as doc:
        quoted = doc[0].search_for(QUOTE)
    assert quoted and all(inside(rect, place.bbox) for rect in quoted), "the quoted words lie inside the outline"
    assert place.bbox == (IMAGE.x0, IMAGE.y0, IMAGE.x1, figure.caption_bbox[3]), "no larger than both together"
    own = quote_place(QUOTE, figure_id, figure, on_page)
    assert own.bbox == tuple(IMAGE), "a hit on the figure itself cites its image's box"


def test_an_index_without_caption_boxes_still_places_a_caption_on_its_figure(read):
    on_page = payloads(read, 1)
    (made,) = (r.entries()[0].payload for r in read if isinstance(r, Figure) and r.page == 1)
    assert made.to_payload()["caption_bbox"] == list(made.caption_bbox), "stored as a JSON list, as bbox is"
    stored = json.loads(json.dumps(made.to_payload()))
    assert Payload.from_payload(stored) == made, "read back as a box"
    del stored["caption_bbox"]
    older = Payload.from_payload(stored)
    assert older.caption_bbox is None and older.extra == {}
    figure_id = next(i for i, p in on_page.items() if p.kind == "figure")
    page = Payload(kind="page", page=1, text=f"{BODY}\n{BELOW}")
    place = quote_place(QUOTE, "page1", page, {**on_page, figure_id: older})
    assert (place.record, place.bbox, place.figure) == (figure_id, tuple(IMAGE), "Figure 1.1"), "its image's box"


def test_an_index_read_by_the_reader_before_gains_caption_boxes_without_encoding_again(book, tmp_path):
    """What ``pathatlas index`` does to an index records version 16 wrote: it reads the PDF again and stores each
    figure's caption box, and every text and image vector is the one it held."""
    settings = hashing_settings(tmp_path, encoder=COUNTING)
    boxed = pdf_source.caption_block
    with pytest.MonkeyPatch.context() as before:
        before.setattr(pdf_source.PdfSource, "records_version", 16)
        before.setattr(pdf_source, "caption_block", lambda *args: boxed(*args)._replace(box=None, next_page=False))
        with Index.open(settings.index_dir, settings, create=True) as index:
            images = index.encoder.images  # its one instance counts every test's
            assert [s.status for s in Indexer(index, show_progress=False).add([book]).sources] == ["indexed"]
            assert index.encoder.images - images == 3 and not any(p.get("caption_bbox") for _, p in index.store.scan())
    with Index.open(settings.index_dir, settings) as index:
        texts, images = len(index.encoder.texts), index.encoder.images
        assert [s.status for s in Indexer(index, show_progress=False).add_held().sources] == ["indexed"]
        assert (index.encoder.texts[texts:], index.encoder.images - images) == ([], 0), "all encoded before"
        boxes = {p["figure"]: p.get("caption_bbox") for _, p in index.store.scan({"kind": ["figure"]})}
    assert boxes == {label: pytest.approx(list(printed_box(book, n, label)), abs=0.06) for n, label in [*LABELS, NEXT]}
