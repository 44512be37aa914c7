"""Encoder throughput on this machine: texts and images a second through the configured encoder on the configured
device (``PATHATLAS_DEVICE``: cpu, cuda, auto), models loaded and warm. Images are opened first, as indexing opens
them (decoded, checked, turned upright), and that is timed apart: on a GPU, opening and preparing images is most of
the wait (BENCHMARKS.md)."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pathatlas.retrieval.encoders import create_encoder, resolve_device
from pathatlas.retrieval.encoders.base import usable_cores
from pathatlas.retrieval.encoders.onnx_cache import threads_per_call
from pathatlas.retrieval.images import open_image
from pathatlas.settings import Settings

T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    return work(), time.perf_counter() - started


def rate(n: int, seconds: float) -> dict[str, float]:
    return {"n": n, "seconds": round(seconds, 3), "per_s": round(n / max(seconds, 1e-9), 1)}


def device_name(device: str) -> str:
    """The GPU's name for a CUDA device, else the processor's (torch is loaded by then for a GPU)."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def bench_encode(texts: Sequence[str], images: Sequence[Path], settings: Settings) -> dict[str, Any]:
    """Texts and images a second (each encoded once after a warm-up batch that loads the models)."""
    device = resolve_device(settings.device)
    encoder = create_encoder(settings.encoder, settings)
    result: dict[str, Any] = {
        "encoder": settings.encoder,
        "device": device,
        "device_name": "",
        "batch_size": settings.batch_size,
        "prepare_threads": threads_per_call() or usable_cores(),
    }
    if texts:
        encoder.encode_text(list(texts[: 2 * settings.batch_size]))
        result["texts"] = rate(len(texts), timed(lambda: encoder.encode_text(list(texts)))[1])
    if images:
        opened, seconds = timed(lambda: [open_image(path, settings.max_image_pixels) for path in images])
        encoder.encode_image(opened[: settings.batch_size])
        result["images"] = rate(len(opened), timed(lambda: encoder.encode_image(opened))[1])
        result["images"]["open_per_s"] = round(len(opened) / max(seconds, 1e-9), 1)
    result["device_name"] = device_name(device)
    return result
