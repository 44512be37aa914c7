"""A query image with a border around it (a screenshot's margin, a picture pasted onto a slide) also puts the records
its view without the border finds first to the same-specimen check: padded with 40 px of white, an atlas screenshot
found itself at rank 57, and with a wide black border not in the first 100. Quadrant-mean fake encoder
(``PixelEncoder``): no model to load."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pathatlas.retrieval.images import border_trimmed
from pathatlas.retrieval.search import Query, Searcher, nominees
from tests.helpers import hashing_settings
from tests.indexer.test_incremental_cases import ENCODER, run, slide, write_labels


def patches(seed: int) -> Image.Image:
    """A picture of its own: four coloured blocks (what the quadrant-mean encoder tells apart) over a texture of its
    own (what SIFT finds keypoints on)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(60, 200, (2, 2, 3)).repeat(96, axis=0).repeat(96, axis=1)
    texture = np.asarray(slide(seed), dtype=np.int64) - 128
    return Image.fromarray((blocks + texture // 3).clip(0, 255).astype(np.uint8))


def framed(image: Image.Image, width: int, colour: str) -> Image.Image:
    canvas = Image.new("RGB", (image.width + 2 * width, image.height + 2 * width), colour)
    canvas.paste(image, (width, width))
    return canvas


def test_a_uniform_border_is_trimmed_and_nothing_else():
    picture = patches(0)
    assert border_trimmed(picture) is None  # corners of four colours: no border
    assert np.array_equal(np.asarray(border_trimmed(framed(picture, 40, "white"))), np.asarray(picture))
    assert np.array_equal(np.asarray(border_trimmed(framed(picture, 200, "black"))), np.asarray(picture))
    assert border_trimmed(framed(picture, 1, "white")) is None  # a frame line, under BORDER_SHARE of a side
    assert border_trimmed(Image.new("RGB", (300, 300), "white")) is None  # nothing but border
    assert border_trimmed(framed(Image.new("RGB", (20, 20), "red"), 100, "white")) is None  # less than a query


def test_nominees_are_each_ranking_s_first_records_once():
    rankings = [[("a", 0.9), ("b", 0.5), ("x", 0.1)], [("b", 0.8), ("c", 0.7)]]
    assert nominees(rankings, 2) == [("a", 0.9), ("b", 0.5), ("c", 0.7)]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("borders")
    folder = root / "cases"
    folder.mkdir()
    diagnoses = {f"img{i}.png": f"diagnosis {i}" for i in range(24)}
    for i, name in enumerate(diagnoses):
        patches(i).save(folder / name)
    write_labels(folder, diagnoses)
    return run(hashing_settings(root, encoder=ENCODER, case_keypoints=True, verify_depth=3), folder)[0]


@pytest.mark.parametrize(("width", "colour"), [(40, "white"), (150, "black"), (0, "white")])
def test_a_picture_with_a_border_finds_itself_first(indexed, width, colour):
    """Its view without the border finds it; the same-specimen check, given only the first three fused candidates
    (``verify_depth``), confirms it."""
    found = Searcher(indexed).search_many([Query(image=framed(patches(i), width, colour), k=1) for i in range(24)])
    assert [hits[0].payload.image for hits in found] == [f"img{i}.png" for i in range(24)]
    assert all("specimen" in hits[0].matched_by for hits in found)
