"""A slide-viewer screenshot of an indexed case: the verified same specimen ranks first, and the viewer's own words
(its title bar, scale bar and buttons) are no printed words of the picture."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.ocr import query_text, without_viewer_words
from pathatlas.retrieval.search import PRINTED, SPECIMEN, Query, Searcher, verified_first

VIEWER_TEXT = "Scale bar 100 um   Rotate Image   Home"
BOOK_TEXT = "Folate deficiency causes megaloblastic anaemia; the marrow shows megaloblasts."


class ScriptedReader:
    """Stands in for tesseract: every image 'prints' ``words``."""

    def __init__(self, words: list[str]):
        self.words = words

    def read(self, images):
        return [list(self.words) for _ in images]


def case_image(seed: int) -> Image.Image:
    """A micrograph of its own outline on white glass (keypoints are taken on tissue only)."""
    canvas = Image.new("RGB", (640, 480), (246, 246, 246))
    tissue = draw_pattern("keratin-pearls", seed).resize((440, 400))
    rng = np.random.default_rng(seed)
    outline = Image.new("L", tissue.size, 0)
    ImageDraw.Draw(outline).polygon([tuple(p) for p in rng.uniform([0, 0], [440, 400], (7, 2))], fill=255)
    ImageDraw.Draw(outline).ellipse([*rng.uniform(0, 80, 2), *rng.uniform(340, 400, 2)], fill=255)
    canvas.paste(tissue, (100, 40), outline)
    return canvas


def screenshot(image: Image.Image) -> Image.Image:
    """The tester's screenshot: a dark title bar, a crop of the case image zoomed in, the viewer's words below it."""
    canvas = Image.new("RGB", (800, 610), (240, 240, 240))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([0, 0, 800, 50], fill=(50, 50, 60))
    draw.text((20, 16), "PathAtlas slide viewer - case.jpg   zoom 20x", fill="white", font=ImageFont.load_default(16))
    canvas.paste(image.crop((120, 60, 520, 360)).resize((600, 450), Image.Resampling.BICUBIC), (100, 80))
    draw.text((100, 560), VIEWER_TEXT, fill="black", font=ImageFont.load_default(18))
    return canvas


@pytest.fixture
def atlas_and_book(settings, tmp_path):
    """Three cases (keypoints taken) and a one-page book whose words a screenshot's reading may match."""
    import pymupdf

    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index

    cases = tmp_path / "cases"
    (cases / "images").mkdir(parents=True)
    images = {name: case_image(seed) for name, seed in (("A", 21), ("B", 22), ("C", 23))}
    for name, image in images.items():
        image.save(cases / "images" / f"{name}.jpg", quality=92)
    rows = [{"image": f"images/{name}.jpg", "case": name, "diagnosis": "squamous cell carcinoma"} for name in images]
    (cases / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    book = pymupdf.open()
    book.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 400), BOOK_TEXT + " " + VIEWER_TEXT, fontsize=11)
    book.save(tmp_path / "book.pdf")
    index = Index.open(tmp_path / "index", settings.model_copy(update={"query_ocr": True}), create=True)
    report = Indexer(index, show_progress=False).add([cases, tmp_path / "book.pdf"])
    assert not report.failed, report.failed
    return index, images


def test_the_verified_case_ranks_above_what_the_printed_words_found(atlas_and_book):
    """Printed words weigh 256 and the same specimen 100 in the RRF, so before the verified case came second."""
    index, images = atlas_and_book
    reader = ScriptedReader(["Folate", "megaloblastic", "anaemia"])  # three words the book holds
    found = Searcher(index, word_reader=reader).find(Query(image=screenshot(images["A"]), k=3))
    first, second = found.hits[:2]
    assert first.payload.case == "A" and first.matched_by.get(SPECIMEN) == 1
    assert second.kind == "page" and second.matched_by.get(PRINTED) == 1  # the words still count, after it


def test_a_specimen_weight_of_0_verifies_nothing_first(atlas_and_book):
    index, images = atlas_and_book
    index.settings = index.settings.model_copy(update={"weight_specimen": 0.0})
    reader = ScriptedReader(["Folate", "megaloblastic", "anaemia"])
    hits = Searcher(index, word_reader=reader).search(Query(image=screenshot(images["A"]), k=3))
    assert hits[0].kind == "page" and all(SPECIMEN not in h.matched_by for h in hits)


def test_verified_candidates_come_first_in_their_fused_order():
    fused = [("page", 4.2, {PRINTED: 1}), ("b", 1.7, {SPECIMEN: 2}), ("c", 0.5, {"visual:image": 1})]
    fused.insert(2, ("a", 1.6, {SPECIMEN: 1}))
    assert [rid for rid, _, _ in verified_first(fused)] == ["b", "a", "page", "c"]
    assert verified_first(fused[:1]) == fused[:1] and verified_first([]) == []


def test_a_slide_viewers_words_are_not_the_pictures():
    assert query_text(["Scale", "bar", "Folate", "Image"]) == ""  # the tester's screenshot, as tesseract read it
    assert query_text(["Scale", "Rotate", "Home"]) == ""  # the drawn one below ("bar" too short to read surely)
    assert query_text(["Rotate", "Image", "native", "resolution", "zoom", "Koilocytes"]) == ""
    assert without_viewer_words(["HOME", "Osteon", "Rotate", "image"]) == ["Osteon"]  # in any case
    labels = ["Left", "visual", "field", "Integrated", "image", "native", "scale"]  # a diagram's words stay
    assert query_text(labels) == " ".join(labels)


@pytest.mark.skipif(not tesseract.installed(), reason=f"needs tesseract ({tesseract.INSTALL_HINT})")
def test_tesseract_reads_the_viewer_and_the_case_ranks_first(atlas_and_book):
    """Tesseract reads the drawn viewer's words; none is the picture's, so none is searched, and no book page that
    prints them ranks above the case."""
    index, images = atlas_and_book
    found = Searcher(index).find(Query(image=screenshot(images["A"]), k=3))
    assert found.image_words == "" and all(PRINTED not in h.matched_by for h in found.hits)
    assert found.hits[0].payload.case == "A" and found.hits[0].matched_by.get(SPECIMEN) == 1


def test_the_image_benchmark_pins_a_verified_candidate_first_as_search_does():
    """``bench retrieval``'s image rows fuse as search does; without the pin they would score another search than the
    one shipped as soon as some weight outweighed ``specimen``'s."""
    from pathatlas.retrieval.bench.images import fuse

    orders = {"visual:image": [1, 2, 3], SPECIMEN: [3]}
    assert fuse(orders, {"visual:image": 1000.0, SPECIMEN: 1.0}, k=60)[0] == [3, 1, 2]
