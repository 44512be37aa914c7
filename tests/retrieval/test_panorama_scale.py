"""A long panorama (a 12000 x 224 strip of micrographs) is cut into square tiles at its own scale, not into eight
tiles squashed 6.7x across, and an index reads it at the scale a query does, not thumbnailed to 1024 x 19. Ordinary
images (atlas screenshots about 4:3, tiles 1:1) and strips up to 8:1 are read and cut exactly as before."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.encoders.towers import ImagePass
from pathatlas.retrieval.images import (
    PANORAMA_TILES,
    indexed_view,
    open_image,
    panorama_tiles,
    thumbnail,
)

SIDE = 224
PIXELS = 100_000_000


def micrograph(seed: int, width: int = SIDE, height: int = SIDE) -> Image.Image:
    """A textured RGB image: smooth random blobs, different per seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BICUBIC)


def strip(count: int, side: int = SIDE, vertical: bool = False) -> Image.Image:
    """``count`` square micrographs (seeds 0, 1, ...) side by side, or one above the other."""
    canvas = Image.new("RGB", (side, side * count) if vertical else (side * count, side))
    for n in range(count):
        canvas.paste(micrograph(n, side, side), (0, n * side) if vertical else (n * side, 0))
    return canvas


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


EVERY_OTHER = 2 * (PANORAMA_TILES - 1) + 1
"""A strip of this many micrographs has its ``PANORAMA_TILES`` squares on every other one (0, 2, 4 ...)."""


@pytest.mark.parametrize("vertical", [False, True])
def test_a_long_strip_is_cut_into_squares_at_its_own_scale(vertical):
    panorama = strip(EVERY_OTHER, vertical=vertical)
    tiles = panorama_tiles(panorama)
    assert len(tiles) == PANORAMA_TILES
    assert all(same(tile, micrograph(2 * n)) for n, tile in enumerate(tiles))


def test_a_12000_by_224_strip_gives_squares_from_end_to_end():
    panorama = micrograph(5, 12000, SIDE)
    tiles = panorama_tiles(panorama)
    assert len(tiles) == PANORAMA_TILES and {tile.size for tile in tiles} == {(SIDE, SIDE)}
    assert same(tiles[0], panorama.crop((0, 0, SIDE, SIDE)))
    assert same(tiles[-1], panorama.crop((12000 - SIDE, 0, 12000, SIDE)))


@pytest.mark.parametrize(
    ("size", "widths"), [((1600, 200), [200] * 8), ((700, 200), [175] * 4), ((660, 300), [330] * 2)]
)
def test_strips_up_to_eight_tiles_are_cut_end_to_end_as_before(size, widths):
    assert [tile.width for tile in panorama_tiles(micrograph(1, *size))] == widths


@pytest.mark.parametrize("size", [(400, 300), (992, 744), (224, 224), (600, 300), (300, 600)])
def test_images_up_to_two_to_one_are_left_whole(size):
    image = micrograph(2, *size)
    assert panorama_tiles(image) == [image]


def test_the_encoder_sees_each_micrograph_of_a_long_strip_as_drawn():
    """Through the recipe's pass (``towers.ImagePass``): before, each input was 1/8 of the strip squashed into 224."""
    inputs = ImagePass(panoramas=True).images(strip(EVERY_OTHER))
    assert len(inputs) == PANORAMA_TILES
    assert all(same(part, micrograph(2 * n)) for n, part in enumerate(inputs))


@pytest.mark.parametrize("size", [(992, 744), (744, 992), (224, 224), (2048, 1024), (3000, 2000)])
def test_ordinary_images_are_indexed_as_before(size):
    image = micrograph(3, *size)
    assert same(indexed_view(image, 1024), thumbnail(image, 1024))


@pytest.mark.parametrize("size", [(12000, 224), (5000, 300), (300, 5000), (9000, 900)])
def test_a_panorama_is_indexed_at_the_scale_a_query_reads_it(size):
    data = png(micrograph(4, *size))
    as_query = open_image(data, PIXELS, query=True)
    assert same(indexed_view(open_image(data, PIXELS), 1024), as_query)
    assert min(as_query.size) >= min(min(size), 448)  # the tiles keep their detail: 1024 x 19 before


def test_a_case_folder_indexes_a_panorama_at_the_scale_a_query_reads_it(tmp_path, settings):
    """Through the case folder's reader (``indexer.sources.cases``), which thumbnailed every image to 1024."""
    folder = tmp_path / "cases"
    folder.mkdir()
    panorama, screenshot = micrograph(6, 12000, SIDE), micrograph(7, 992, 744)
    panorama.save(folder / "strip.png")
    screenshot.save(folder / "shot.png")
    rows = [{"image": "strip.png", "case": "S"}, {"image": "shot.png", "case": "T"}]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    read = {case.case_id: case.images[0][1] for case in CaseFolderSource(folder, settings).records()}
    assert same(read["S"], open_image(folder / "strip.png", PIXELS, query=True))
    assert same(read["T"], screenshot)
