"""Near-duplicate images (a tile and its turned or mirrored copy, as LC25000 made its tiles) found by pixels alone,
and what the image benchmark does with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pathatlas.retrieval.datasets import ImageItem, near_duplicate_groups


def texture(seed: int, side: int = 224) -> Image.Image:
    """A tissue-like texture: random blobs smoothed, in colour."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC)


def save(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def test_a_tile_and_its_turned_and_mirrored_copies_group_and_unrelated_tiles_do_not(tmp_path):
    tile, other = texture(1), texture(2)
    paths = [
        save(tile, tmp_path / "tile.png"),
        save(texture(3), tmp_path / "unrelated.png"),
        save(tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT), tmp_path / "mirror.png"),
        save(
            tile.transpose(Image.Transpose.ROTATE_90).rotate(10, resample=Image.Resampling.BILINEAR),
            tmp_path / "turned.png",
        ),
        save(other, tmp_path / "other.png"),
        save(other.transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("L"), tmp_path / "other-grey-flipped.jpg"),
        save(Image.new("RGB", (224, 224), "white"), tmp_path / "blank.png"),
        save(Image.new("RGB", (224, 224), "white"), tmp_path / "blank-too.png"),
    ]
    groups = near_duplicate_groups([ImageItem(path, ["t"], path.stem) for path in paths])
    assert groups == [0, 1, 0, 0, 4, 4, 6, 7]  # blank images show no tissue: nothing to call the same
    assert near_duplicate_groups(paths[:2]) == [0, 1]  # paths will do as well as items
    assert near_duplicate_groups([]) == []
