"""pathatlas-joint-v2: small trained heads that put EfficientNet image features and MiniLM sentence
vectors into one ``joint`` space (LiT-style: both towers frozen, only the heads learn).

The text head is a linear map initialised at identity, so the joint space starts as MiniLM's own; the
image head is an MLP from 1280-d pooled features (computed by the image recipe the config names) into it.
Weights are a few MB of safetensors with a JSON config: the release ships one set in ``weights/`` (see
its model card); ``pathatlas train-joint`` writes new ones to ``<home>/models/<name>/`` and
``PATHATLAS_JOINT_HEADS`` points the default encoder at them. This torch module is what training fits and saves;
encoding runs the saved weights in numpy (``inference_heads.InferenceHeads``), so no query imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pathatlas.retrieval.encoders.heads_config import MODEL_NAME, WEIGHTS_DIR, HeadsConfig

__all__ = ["MODEL_NAME", "WEIGHTS_DIR", "HeadsConfig", "JointHeads"]


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

    def embed_images(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image(features), dim=-1)

    def embed_texts(self, vectors: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text(vectors), dim=-1)

    def save(self, folder: Path, name: str = MODEL_NAME) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, folder / f"{name}.safetensors")
        (folder / f"{name}.json").write_text(json.dumps(asdict(self.config), indent=2))
