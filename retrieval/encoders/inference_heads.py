"""The saved joint heads' forward pass in numpy: encoding (an image query, indexing) never imports torch, which only
training needs (``joint_heads.JointHeads``, the same weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathatlas.retrieval.encoders.base import l2_normalise
from pathatlas.retrieval.encoders.heads_config import HeadsConfig, read_config, revision
from pathatlas.retrieval.encoders.minilm import erf


class InferenceHeads:
    """The saved joint heads as ``JointHeads`` computes them in eval mode, in numpy from the same safetensors:
    image side LayerNorm -> Linear -> GELU (exact) -> Linear (dropout is off), text side Linear, both L2-normalised."""

    LAYER_NORM_EPS = np.float32(1e-5)  # torch.nn.LayerNorm's default, which JointHeads uses

    def __init__(self, config: HeadsConfig, weights: dict[str, np.ndarray], revision: str):
        self.config = config
        self.weights = weights
        self.revision = revision
        """Name and weights hash of the heads as loaded: what an index built with them records."""
        # The image head's Linear layers in order ("image.<n>.weight" for n > 0; "image.0" is its LayerNorm).
        self.image_layers = sorted({int(key.split(".")[1]) for key in weights if key.startswith("image.")} - {0})

    @classmethod
    def load(cls, folder: Path, name: str) -> InferenceHeads | None:
        """The heads saved under ``name`` in ``folder``, or None when they are absent."""
        from safetensors.numpy import load_file

        config = read_config(folder, name)
        if config is None:
            return None
        return cls(config, load_file(folder / f"{name}.safetensors"), revision(folder, name))

    def linear(self, x: np.ndarray, layer: str) -> np.ndarray:
        return x @ self.weights[f"{layer}.weight"].T + self.weights[f"{layer}.bias"]

    def embed_images(self, features: np.ndarray) -> np.ndarray:
        """(n, image_dim) raw ``visual`` features to (n, joint_dim) unit vectors."""
        x = np.asarray(features, dtype=np.float32)
        centred = x - x.mean(axis=-1, keepdims=True)
        x = centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + self.LAYER_NORM_EPS)
        x = x * self.weights["image.0.weight"] + self.weights["image.0.bias"]
        for n, layer in enumerate(self.image_layers):
            if n:  # GELU between the Linear layers
                x = x * (1 + erf(x * np.float32(1 / np.sqrt(2)))) / 2
            x = self.linear(x, f"image.{layer}")
        return l2_normalise(x)

    def embed_texts(self, vectors: np.ndarray) -> np.ndarray:
        """(n, text_dim) MiniLM vectors to (n, joint_dim) unit vectors."""
        return l2_normalise(self.linear(np.asarray(vectors, dtype=np.float32), "text"))
