"""pathatlas-joint-v1: small trained heads that put EfficientNet image features and MiniLM sentence
vectors into one ``joint`` space (LiT-style: both towers frozen, only the heads learn).

The text head is a residual linear map initialised at identity, so the joint space starts as MiniLM's
own; the image head is an MLP from 1280-d pooled features into it. Weights are a few MB of safetensors
shipped in ``weights/`` with a JSON config and a model card.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODEL_NAME = "pathatlas-joint-v1"


@dataclass
class HeadsConfig:
    image_dim: int = 1280
    text_dim: int = 384
    joint_dim: int = 384
    hidden: int = 256
    dropout: float = 0.5


class JointHeads(nn.Module):
    def __init__(self, config: HeadsConfig):
        super().__init__()
        self.config = config
        self.image = nn.Sequential(
            nn.LayerNorm(config.image_dim),
            nn.Linear(config.image_dim, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.joint_dim),
        )
        self.text = nn.Linear(config.text_dim, config.joint_dim)
        with torch.no_grad():  # start from MiniLM's space: identity (when sizes agree), no bias
            self.text.weight.copy_(torch.eye(config.joint_dim, config.text_dim))
            self.text.bias.zero_()
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))

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
        """The shipped heads, or None when they are absent (the default encoder then has no joint space)."""
        from safetensors.torch import load_file

        weights, config = folder / f"{name}.safetensors", folder / f"{name}.json"
        if not (weights.is_file() and config.is_file()):
            return None
        heads = cls(HeadsConfig(**json.loads(config.read_text())))
        heads.load_state_dict(load_file(weights))
        return heads.eval()
