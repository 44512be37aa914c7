"""pathatlas-joint-v2: small trained heads that put EfficientNet image features and MiniLM sentence
vectors into one ``joint`` space (LiT-style: both towers frozen, only the heads learn).

The text head is a linear map initialised at identity, so the joint space starts as MiniLM's own; the
image head is an MLP from 1280-d pooled features (computed by the image recipe the config names) into it.
Weights are a few MB of safetensors with a JSON config: the release ships one set in ``weights/`` (see
its model card); ``pathatlas train-joint`` writes new ones to ``<home>/models/<name>/`` and
``PATHATLAS_JOINT_HEADS`` points the default encoder at them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pathatlas.errors import BadInputError

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODEL_NAME = "pathatlas-joint-v2"


@dataclass
class HeadsConfig:
    image_dim: int = 1280
    text_dim: int = 384
    joint_dim: int = 384
    hidden: int = 256
    """Width of the image head's hidden layer; 0 makes the image head linear."""
    dropout: float = 0.5
    image_recipe: str = "whole+flips"
    """The ``towers.RECIPES`` entry whose features the image head was trained on (v1: centre-crop)."""


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

        weights, config = folder / f"{name}.safetensors", folder / f"{name}.json"
        if not (weights.is_file() and config.is_file()):
            return None
        fields = {"image_recipe": "centre-crop", **json.loads(config.read_text())}  # v1 configs predate the field
        heads = cls(HeadsConfig(**fields))
        heads.load_state_dict(load_file(weights))
        heads.revision = f"{name} {hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"
        return heads.eval()

    @classmethod
    def from_folder(cls, folder: Path) -> JointHeads:
        """The one set of heads in a folder ``pathatlas train-joint`` wrote (a clear error otherwise)."""
        found = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        if len(found) != 1:
            what = "no folder" if not folder.is_dir() else f"{len(found)} .safetensors files (need exactly one)"
            raise BadInputError(f"joint heads {folder}: {what}; point PATHATLAS_JOINT_HEADS at a train-joint output")
        heads = cls.load(folder, found[0].stem)
        if heads is None:
            raise BadInputError(f"joint heads {found[0]} have no {found[0].stem}.json config beside them")
        return heads


def load_heads(joint_heads: Path | None) -> JointHeads | None:
    """Heads from the user's folder when one is set (PATHATLAS_JOINT_HEADS), else the shipped ones."""
    return JointHeads.from_folder(joint_heads) if joint_heads is not None else JointHeads.load()
