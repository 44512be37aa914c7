"""Re-reading a PDF (a newer reader, a corrected page) encodes and thumbnails only the pictures that changed: each
figure, and each page encoded by its image (a plate, a scan), carries a hash of its decoded pixels
(``Payload.image_hash``), and takes the image vectors and thumbnail of the committed record of the same pixels. Text
pages carry none: their joint vector is their text's, which no picture may take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.indexer.records import Figure, Page, pixels_hash
from pathatlas.retrieval.index import Index
from tests.helpers import calls_to, png_bytes
from tests.indexer.test_text_reuse import assert_as_from_scratch, build, newer_reader, small_passages, upgrade

__all__ = ["newer_reader"]  # the text reuse tests' fixture, which pytest finds here by its name

CAPTIONS = ["Figure 1. Alveoli of the lung", "Figure 2. Osteoclasts on trabecular bone"]


def picture(seed: int) -> bytes:
    """A 96-pixel square PNG of seeded noise: a figure over ``min_figure_px`` whose mean colours are its own."""
    return png_bytes(Image.fromarray(np.random.default_rng(seed).integers(0, 255, (96, 96, 3), dtype=np.uint8)))


def figured_pdf(path: Path, seeds: list[int]) -> Path:
    """A born-digital PDF: a text page per seed, showing that seed's picture over its caption, then a plate (a page
    that is one picture, without a text layer: encoded by its image, and its picture a figure too)."""
    doc = pymupdf.open()
    for seed, caption in zip(seeds, CAPTIONS, strict=True):
        page = doc.new_page(width=300, height=400)
        page.insert_image(pymupdf.Rect(20, 40, 140, 160), stream=picture(seed))
        page.insert_text((20, 180), caption, fontsize=9)
        page.insert_text((20, 300), "the page's own text, far below its figure's caption", fontsize=9)
    plate = doc.new_page(width=300, height=400)
    plate.insert_image(plate.rect, stream=picture(99), keep_proportion=False)
    doc.save(path)
    doc.close()
    return path


@pytest.fixture
def settings(tmp_path):
    """The counting encoder; the words printed in figures not read (no tesseract run)."""
    return small_passages(tmp_path, figure_ocr=False)


def thumbnailed(monkeypatch) -> list[tuple]:
    """Every thumbnail made from a picture (not copied from an earlier record's), by its entry."""
    return calls_to(monkeypatch, "stored_thumbnail", pipeline)


def pictures_of(index: Index) -> dict[str, int]:
    """Kind to the count of the index's records whose image vectors their pictures gave (``image_hash``)."""
    kinds: dict[str, int] = {}
    for _, payload in index.store.scan():
        if payload.get("image_hash"):
            kinds[payload["kind"]] = kinds.get(payload["kind"], 0) + 1
    return kinds


def test_a_newer_reader_of_an_unchanged_pdf_encodes_and_thumbnails_no_picture(
    settings, tmp_path, newer_reader, monkeypatch
):
    pdf = figured_pdf(tmp_path / "book.pdf", [1, 2])
    index, _ = build(settings, pdf)
    assert pictures_of(index) == {"figure": 3, "page": 1}  # two figures, the plate's picture and the plate

    newer_reader()
    made = thumbnailed(monkeypatch)
    index, _, images, statuses = upgrade(settings)

    assert (statuses, images) == (["indexed"], 0)
    assert made == []  # the text pages take theirs by ``Payload.thumbnail_hash`` (test_upgrade_bench_and_thumbnails.py)
    assert_as_from_scratch(index, settings, pdf, tmp_path)
    scratch = Index.open(tmp_path / "scratch", settings.model_copy(update={"index": tmp_path / "scratch"}))
    for record_id, _ in index.store.scan({"kind": "figure"}):
        assert index.thumbnail_path(record_id).read_bytes() == scratch.thumbnail_path(record_id).read_bytes()


def test_a_pdf_whose_one_figure_changed_encodes_that_one(settings, tmp_path):
    pdf = figured_pdf(tmp_path / "book.pdf", [1, 2])
    build(settings, pdf)

    figured_pdf(pdf, [1, 3])
    index, _, images, statuses = upgrade(settings)

    assert (statuses, images) == (["indexed"], 1)
    assert_as_from_scratch(index, settings, pdf, tmp_path)


def test_a_forced_run_encodes_every_picture(settings, tmp_path, newer_reader):
    pdf = figured_pdf(tmp_path / "book.pdf", [1, 2])
    build(settings, pdf)

    newer_reader()
    _, _, images, statuses = upgrade(settings, force=True)

    assert (statuses, images) == (["indexed"], 4)


def test_a_text_page_carries_no_image_hash_and_a_picture_the_hash_of_its_pixels():
    """A hash lends image vectors (``Indexer._earlier_vectors``): a text page's joint vector is its text's, so it has
    none; a figure's and a scan's name their pixels and mode, not the file they came from."""
    red = Image.new("RGB", (8, 8), "red")
    text_page = Page("b.pdf", "f", 1, "alveoli", red)
    scan = Page("b.pdf", "f", 2, "alveoli", red, scanned=True)
    figure = Figure("b.pdf", "f", 1, 0, (0, 0, 8, 8), "Figure 1. Red", red)

    assert text_page.entries()[0].payload.image_hash is None
    assert scan.entries()[0].payload.image_hash == figure.entries()[0].payload.image_hash == pixels_hash(red)
    assert pixels_hash(red.convert("L")) != pixels_hash(red) != pixels_hash(Image.new("RGB", (8, 8), (255, 0, 1)))
