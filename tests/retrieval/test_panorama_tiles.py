"""Panoramas in ``visual``: an image longer than 2:1 (a strip of micrographs side by side) is cut into near-square
tiles, each encoded by the recipe and the features averaged, instead of being squashed 8x sideways into one square.
Images up to 2:1 keep their vectors bit for bit; an index built before keeps its recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pathatlas.retrieval.encoders.towers import (
    IMAGE_SIZE,
    RECIPES,
    VISUAL,
    EfficientNetTower,
    ImagePass,
    panorama_tiles,
)

OLD_VISUAL = "whole+flips"
"""The recipe ``visual`` had before panoramas were tiled: the whole image squashed, whatever its shape."""


def micrograph(seed: int, width: int = 224, height: int = 224) -> Image.Image:
    """A textured RGB image: smooth random blobs, different per seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BICUBIC)


def strip(seeds: list[int]) -> Image.Image:
    """Square micrographs side by side, left to right."""
    canvas = Image.new("RGB", (IMAGE_SIZE * len(seeds), IMAGE_SIZE))
    for n, seed in enumerate(seeds):
        canvas.paste(micrograph(seed), (n * IMAGE_SIZE, 0))
    return canvas


@pytest.fixture(scope="module")
def towers(session_home):
    """The old and the shipped ``visual`` towers, on the same ONNX export."""
    cache = session_home / "cache"
    return {name: EfficientNetTower("cpu", RECIPES[name], cache) for name in (OLD_VISUAL, VISUAL)}


@pytest.mark.parametrize(("size", "expected"), [((1600, 200), 8), ((200, 1600), 8), ((660, 300), 2), ((700, 200), 4)])
def test_a_panorama_is_cut_along_its_long_side_into_near_square_tiles(size, expected):
    image = micrograph(1, *size)
    tiles = panorama_tiles(image)
    assert len(tiles) == expected
    assert all(0.8 <= t.width / t.height <= 1.25 for t in tiles)
    if size[0] > size[1]:
        assert sum(t.width for t in tiles) == size[0] and {t.height for t in tiles} == {size[1]}
        assert np.array_equal(np.asarray(tiles[-1]), np.asarray(image)[:, -tiles[-1].width :])
    else:
        assert sum(t.height for t in tiles) == size[1] and {t.width for t in tiles} == {size[0]}


def test_a_hairline_banner_makes_no_more_than_eight_tiles():
    tiles = panorama_tiles(micrograph(3, 2000, 4))
    assert len(tiles) == 8 and {t.size for t in tiles} == {(4, 4)}  # squares spread along it (test_panorama_scale)


@pytest.mark.parametrize("size", [(400, 300), (600, 300), (300, 600), (224, 224), (602, 301)])
def test_images_up_to_two_to_one_are_left_whole(size):
    image = micrograph(2, *size)
    assert panorama_tiles(image) == [image]


def test_a_pass_squashes_each_tile_of_a_panorama_not_the_whole_strip():
    panorama = strip([3, 4, 5, 6, 7, 8, 9, 10])
    inputs = ImagePass(panoramas=True).images(panorama)
    assert len(inputs) == 8 and {i.size for i in inputs} == {(IMAGE_SIZE, IMAGE_SIZE)}
    assert np.array_equal(np.asarray(inputs[2]), np.asarray(micrograph(5)))  # each micrograph as it was drawn
    mirrored = ImagePass(flip="h", panoramas=True).images(panorama)
    assert np.array_equal(np.asarray(mirrored[2]), np.asarray(micrograph(5))[:, ::-1])
    assert len(ImagePass().images(panorama)) == 1  # a pass without it (``plain``, the baseline) squashes as before


def test_shipped_recipe_tiles_panoramas_in_every_pass():
    assert all(p.panoramas for p in RECIPES[VISUAL].passes)
    assert [p.flip for p in RECIPES[VISUAL].passes] == [p.flip for p in RECIPES[OLD_VISUAL].passes]


def test_images_up_to_two_to_one_keep_their_vectors_bit_for_bit(towers):
    images = [micrograph(11, 400, 300), micrograph(12, 600, 300), micrograph(13, 300, 600)]  # 4:3, 2:1, 1:2
    assert np.array_equal(towers[VISUAL](images), towers[OLD_VISUAL](images))


def test_a_panorama_is_the_mean_of_its_tiles_features(towers):
    seeds = [21, 22, 23, 24, 25, 26]
    tiled = towers[VISUAL]([strip(seeds)])[0]
    each = towers[OLD_VISUAL]([micrograph(s) for s in seeds])
    assert np.allclose(tiled, each.mean(axis=0), rtol=1e-4, atol=1e-5)
    squashed = towers[OLD_VISUAL]([strip(seeds)])[0]
    assert np.linalg.norm(squashed - tiled) > 0.1 * np.linalg.norm(tiled)  # what the old recipe gave differs


def test_feature_cache_keeps_tiled_and_squashed_features_apart(tmp_path):
    from pathatlas.retrieval.encoders.features import cache_file
    from pathatlas.settings import Settings

    settings = Settings(home=tmp_path / "home")
    old, new = RECIPES[OLD_VISUAL], RECIPES[VISUAL]
    files = {cache_file(settings, p, r) for r in (old, new) for p in r.passes}
    assert len(files) == 6, "a panorama's cached squashed features must never stand in for its tiled ones"


def test_an_index_built_before_keeps_its_recipe_and_another_is_refused(settings, tmp_path, towers):
    """An index built before panoramas were tiled is searched and extended with its own recipe (its stored vectors
    and new ones alike, nothing to re-index on upgrade); a new index tiles; a recipe no longer made is refused."""
    from pathatlas.errors import EncoderMismatchError
    from pathatlas.retrieval.index import META_FILE, Index

    def built_with(recipe: str) -> Index:
        folder = tmp_path / f"{recipe}-{len(list(tmp_path.iterdir()))}"
        Index.open(folder, settings, create=True)
        meta = json.loads((folder / META_FILE).read_text())
        assert meta["revisions"]["visual"] == f"efficientnet-lite0 {VISUAL}", "a new index tiles panoramas"
        meta["revisions"]["visual"] = f"efficientnet-lite0 {recipe}"  # as an index built with ``recipe`` records it
        (folder / META_FILE).write_text(json.dumps(meta))
        return Index.open(folder, settings)

    earlier = built_with(OLD_VISUAL).encoder
    assert earlier.revisions()["visual"] == f"efficientnet-lite0 {OLD_VISUAL}"
    panorama = strip([31, 32, 33, 34])
    squashed = towers[OLD_VISUAL]([panorama])[0]
    assert np.allclose(earlier.encode_image([panorama])["visual"][0], squashed / np.linalg.norm(squashed), atol=1e-6)
    assert built_with(OLD_VISUAL).encoder is earlier, "one encoder per recipe: its models load once"
    with pytest.raises(EncoderMismatchError) as info:
        _ = built_with("centre-crop").encoder
    assert "'efficientnet-lite0 centre-crop' now 'efficientnet-lite0 whole+flips+panorama-tiles'" in str(info.value)


def test_heads_trained_on_the_old_recipe_still_serve(session_home, tmp_path):
    """The shipped heads, and those ``train-joint`` writes by default, learned from ``whole+flips``: the same features
    on every image up to 2:1, so they are accepted (heads of another recipe stay refused: test_joint)."""
    from pathatlas.retrieval.encoders.default import DefaultEncoder
    from pathatlas.retrieval.encoders.heads_config import heads_location, read_config
    from pathatlas.retrieval.encoders.joint_heads import HeadsConfig, JointHeads
    from pathatlas.settings import Settings

    assert read_config(*heads_location(None)).image_recipe == OLD_VISUAL
    assert "joint" in DefaultEncoder(Settings(home=session_home)).dims
    JointHeads(HeadsConfig(hidden=16, joint_dim=8)).save(tmp_path / "mine", "mine")  # train-joint's default recipe
    assert DefaultEncoder(Settings(home=session_home, joint_heads=tmp_path / "mine")).dims["joint"] == 8
