"""pathatlas-joint-v2: small trained heads that put EfficientNet image features and MiniLM sentence
vectors into one ``joint`` space (LiT-style: both towers frozen, only the heads learn).

The text head is a linear map initialised at identity, so the joint space starts as MiniLM's own; the
image head is an MLP from 1280-d pooled features (computed by the image recipe the config names) into it.
Weights are a few MB of safetensors with a JSON config: the release ships one set in ``weights/`` (see
its model card); ``pathatlas train-joint`` writes new ones to ``<home>/models/<name>/`` and
``PATHATLAS_JOINT_HEADS`` points the default encoder at them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pathatlas.retrieval.encoders.heads_config import (
    MODEL_NAME,
    WEIGHTS_DIR,
    HeadsConfig,
    heads_location,
    read_config,
    revision,
)

__all__ = ["MODEL_NAME", "WEIGHTS_DIR", "HeadsConfig", "JointHeads", "load_heads"]


class JointHeads(nn.Module):
    def __init__(self, config: HeadsConfig):
        super().__init__()
        self.config = config
        hidden = (
            [nn.Linear(config.image_dim, config.hidden), nn.GELU(), nn.Dropout(config.dropout)]
            if config.hidden
            else [nn.Dropout(config.dropout)]
        )
        last = config.hidden or config.image_dim
        self.image = nn.Sequential(nn.LayerNorm(config.image_dim), *hidden, nn.Linear(last, config.joint_dim))
        self.text = nn.Linear(config.text_dim, config.joint_dim)
        with torch.no_grad():  # start from MiniLM's space: identity (when sizes agree), no bias
            self.text.weight.copy_(torch.eye(config.joint_dim, config.text_dim))
            self.text.bias.zero_()
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
        self.revision = "unsaved"
        """Name and weights hash of the heads as loaded: what an index built with them records."""

    def embed_images(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image(features), dim=-1)

    def embed_texts(self, vectors: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text(vectors), dim=-1)

    def save(self, folder: Path, name: str = MODEL_NAME) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, folder / f"{name}.safetensors")
        (folder / f"{name}.json").write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, folder: Path = WEIGHTS_DIR, name: str = MODEL_NAME) -> JointHeads | None:
        """The heads saved under ``name`` in ``folder``, or None when they are absent."""
        from safetensors.torch import load_file

        config = read_config(folder, name)
        if config is None:
            return None
        weights = folder / f"{name}.safetensors"
        heads = cls(config)
        heads.load_state_dict(load_file(weights))
        heads.revision = revision(folder, name)
        return heads.eval()

    @classmethod
    def from_folder(cls, folder: Path) -> JointHeads:
        """The one set of heads in a folder ``pathatlas train-joint`` wrote (a clear error otherwise)."""
        return cls.load(*heads_location(folder))


def load_heads(joint_heads: Path | None) -> JointHeads | None:
    """Heads from the user's folder when one is set (PATHATLAS_JOINT_HEADS), else the shipped ones."""
    return JointHeads.load(*heads_location(joint_heads))
