"""Frozen EfficientNet-Lite0 features of image files, cached per image pass.

Training the joint heads and the image benchmarks encode the same ~1,800 files under several passes; the
backbone is the slow part on a CPU, so each (pass, normalisation, pooling) keeps one ``.npz`` of features
keyed by file path, size and modification time, and only files missing from it are encoded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pathatlas.retrieval.encoders.towers import EFFICIENTNET_DIM, RECIPES, EfficientNetTower, ImagePass, ImageRecipe
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.progress import progress
from pathatlas.settings import Settings

BATCH = 32


def file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def cache_file(settings: Settings, image_pass: ImagePass, recipe: ImageRecipe) -> Path:
    tiled = "-panoramas" if image_pass.panoramas else ""  # a panorama's features differ: never served the other's
    name = f"{image_pass.geometry}{image_pass.size}{image_pass.flip}{tiled}-{recipe.normalise}-{recipe.pooling}"
    return settings.cache_dir / "image-features" / f"{name}.npz"


def pass_features(paths: Sequence[Path], image_pass: ImagePass, recipe: ImageRecipe, settings: Settings) -> np.ndarray:
    """(n, 1280) features of one pass over image files, encoding only those not cached yet."""
    path = cache_file(settings, image_pass, recipe)
    keys = [file_key(p) for p in paths]
    cached: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as stored:
            cached = dict(zip(stored["keys"].tolist(), stored["features"], strict=True))
    missing = sorted({k for k in keys if k not in cached})
    if missing:
        recipe_of_pass = ImageRecipe((image_pass,), recipe.normalise, recipe.pooling)
        tower = EfficientNetTower(settings.device, recipe_of_pass, settings.cache_dir)
        by_key = dict(zip(keys, paths, strict=True))
        label = f"image features ({path.stem})"
        for start in progress(range(0, len(missing), BATCH), desc=label, unit="batch", leave=False):
            chunk = missing[start : start + BATCH]
            images = [open_image(by_key[k], settings.max_image_pixels) for k in chunk]
            cached.update(zip(chunk, tower.pass_features(images, image_pass), strict=True))
        save_atomically(path, cached)
    return np.stack([cached[k] for k in keys]) if keys else np.zeros((0, EFFICIENTNET_DIM), dtype=np.float32)


def recipe_views(paths: Sequence[Path], recipe_name: str, settings: Settings) -> np.ndarray:
    """(n, passes, 1280): each pass of a recipe; their mean is what the recipe's tower computes."""
    recipe = RECIPES[recipe_name]
    return np.stack([pass_features(paths, p, recipe, settings) for p in recipe.passes], axis=1)


def save_atomically(path: Path, features: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{hashlib.sha1(os.urandom(8)).hexdigest()[:8]}.npz")
    keys = list(features)
    np.savez(staging, keys=np.array(keys), features=np.stack([features[k] for k in keys]).astype(np.float32))
    os.replace(staging, path)
