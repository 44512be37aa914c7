"""Where the default encoder's joint heads are and their config: what both their torch module (training,
``joint_heads.JointHeads``) and their numpy forward pass (encoding, ``inference_heads.InferenceHeads``) read."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

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


def read_config(folder: Path, name: str) -> HeadsConfig | None:
    """The config of the heads saved under ``name`` in ``folder``, or None when they are absent."""
    weights, config = folder / f"{name}.safetensors", folder / f"{name}.json"
    if not (weights.is_file() and config.is_file()):
        return None
    return HeadsConfig(**{"image_recipe": "centre-crop", **json.loads(config.read_text())})  # v1 lacks the field


def revision(folder: Path, name: str) -> str:
    """The heads' name and a hash of their weights: what an index records, so other weights are refused."""
    return f"{name} {hashlib.sha256((folder / f'{name}.safetensors').read_bytes()).hexdigest()[:12]}"


def heads_location(joint_heads: Path | None) -> tuple[Path, str]:
    """(folder, name) of the heads: the one set in the user's folder (PATHATLAS_JOINT_HEADS), else the shipped."""
    if joint_heads is None:
        return WEIGHTS_DIR, MODEL_NAME
    found = sorted(joint_heads.glob("*.safetensors")) if joint_heads.is_dir() else []
    if len(found) != 1:
        what = "no folder" if not joint_heads.is_dir() else f"{len(found)} .safetensors files (need exactly one)"
        raise BadInputError(f"joint heads {joint_heads}: {what}; point PATHATLAS_JOINT_HEADS at a train-joint output")
    if read_config(joint_heads, found[0].stem) is None:
        raise BadInputError(f"joint heads {found[0]} have no {found[0].stem}.json config beside them")
    return joint_heads, found[0].stem
