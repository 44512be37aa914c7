"""Encoder registry: one ``create_encoder(name)`` for every backend, loaded once per process.

Names: ``default``; open_clip's ``hf-hub:ORG/REPO`` and ``local-dir:PATH``; ``st:PATH`` for a
sentence-transformers text model; or ``py:package.module.Class`` for your own ``Encoder`` subclass
(constructed as ``Class(settings)``).
"""

from __future__ import annotations

import threading

from pathatlas.errors import UnknownNameError
from pathatlas.plugins import import_plugin, started
from pathatlas.retrieval.encoders.base import Embeddings, Encoder, l2_normalise
from pathatlas.settings import Settings

_cache: dict[tuple, Encoder] = {}
_lock = threading.Lock()


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _build(name: str, settings: Settings, device: str) -> Encoder:
    if name == "default":
        from pathatlas.retrieval.encoders.default import DefaultEncoder

        return DefaultEncoder(settings)
    if name.startswith(("hf-hub:", "local-dir:")):
        from pathatlas.retrieval.encoders.open_clip_encoder import OpenClipEncoder

        return OpenClipEncoder(name, settings, device)
    if name.startswith("st:"):
        from pathatlas.retrieval.encoders.sentence_transformers_encoder import SentenceTransformerEncoder

        return SentenceTransformerEncoder(name, name[3:], settings, device)
    if name.startswith("py:"):
        plugin = import_plugin(name, Encoder, "encoder")
        return started(name, "encoder", lambda: plugin(settings))
    raise UnknownNameError(
        f"unknown encoder {name!r}: use 'default', 'hf-hub:ORG/REPO', 'local-dir:PATH', 'st:PATH' or 'py:module.Class'"
    )


def create_encoder(name: str, settings: Settings) -> Encoder:
    """The encoder of that name, built on first use and shared afterwards (models are heavy) by every index whose
    settings it reads alike: indexes on different model caches or joint heads in one process each get their own (a
    shared one would write and read its ONNX export in the first index's cache, so the same search would score
    differently in a process that had opened another index first)."""
    device = resolve_device(settings.device)
    if device != settings.device:  # encoders read settings.device: hand them the resolved one, never "auto"
        settings = settings.model_copy(update={"device": device})
    key = (name, device, settings.cache_dir, settings.joint_heads, settings.batch_size)
    with _lock:
        if key not in _cache:
            _cache[key] = _build(name, settings, device)
        return _cache[key]


__all__ = ["Embeddings", "Encoder", "create_encoder", "l2_normalise", "resolve_device"]
