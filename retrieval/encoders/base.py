"""The ``Encoder`` protocol: texts and images to L2-normalised float32 vectors in named spaces.

Spaces are named by what their vectors mean, so callers never guess:

- ``text``: a text embedding (pages, captions, case descriptions; text queries).
- ``visual``: raw image features (image-to-image similarity).
- ``joint``: one space for both images and texts (text-to-image and image-to-text).

An encoder says which spaces its ``encode_text`` and ``encode_image`` fill; vectors of one space
from either modality are comparable.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image

from pathatlas.retrieval.progress import progress

if TYPE_CHECKING:
    import torch

    from pathatlas.settings import Settings

Embeddings = dict[str, np.ndarray]
"""Space name to an (n, dim) float32 array, rows L2-normalised."""

T = TypeVar("T")
R = TypeVar("R")


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def run_batched(
    items: Sequence[T], batch_size: int, encode: Callable[[Sequence[T]], Embeddings], label: str
) -> Embeddings:
    """Encode in batches, concatenating per space, with a progress bar when there are many batches."""
    chunks: dict[str, list[np.ndarray]] = {}
    starts = range(0, len(items), batch_size)
    for start in progress(starts, desc=label, unit="batch", disable=len(starts) < 8, leave=False):
        for space, array in encode(items[start : start + batch_size]).items():
            chunks.setdefault(space, []).append(array)
    return {space: np.concatenate(parts) for space, parts in chunks.items()}


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the system has one (a container's share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def map_threads(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[work(item) for item in items]`` on the cores one model call may use (``OMP_NUM_THREADS``, which the service
    divides among its lanes; else every core this process may run on). For preparing images: decoding, resizing and
    normalising release the GIL, and on a GPU they are all the wait there is (an H200 runs the backbone at 4,900 images
    a second, but prepares them one at a time at 49: BENCHMARKS.md)."""
    from pathatlas.retrieval.encoders.onnx_cache import threads_per_call

    workers = min(len(items), threads_per_call() or usable_cores())
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="pathatlas-prepare") as pool:
        return list(pool.map(work, items))


def in_fixed_chunks(run: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, size: int) -> torch.Tensor:
    """``run(batch)`` on chunks of exactly ``size`` rows, the last padded with zeros (rows of an eval-mode model never
    meet). For CUDA: cuDNN picks its convolution kernels per input shape, about 2 s for each new batch size on an H200
    (then 6-12 ms a call), so a run whose batches vary in size (each source's last, panorama tiles) spent more time
    picking kernels than encoding."""
    import torch

    outputs = []
    for start in range(0, len(batch), size):
        chunk = batch[start : start + size]
        if missing := size - len(chunk):
            chunk = torch.cat([chunk, chunk.new_zeros((missing, *chunk.shape[1:]))])
        outputs.append(run(chunk)[: size - missing])
    return torch.cat(outputs)


class Encoder(ABC):
    """Maps texts and images into named vector spaces.

    What a plug-in writes, and no more: ``name`` (how errors and benchmarks call it; an index records the registry
    name it was built with, e.g. ``py:pkg.mod.Class``, and reopens with that), ``dims`` (space to dimension), the
    spaces each modality fills (``text_spaces``, ``image_spaces``), ``encode_text`` and ``encode_image``. Both take a
    batch and return ``Embeddings`` with one row per input, even for empty input (``empty(spaces)``: what a modality
    it does not encode returns). A ``py:`` plug-in is built as ``Class(settings)`` (``pathatlas.settings.Settings``),
    which this ``__init__`` keeps as ``self.settings``; write one only to read what you need (a model's folder).
    Rows are meant to be L2-normalised; one that is not is scaled to unit length where every call's vectors are
    checked (``pathatlas.plugins.checked_vectors``).
    """

    name: str
    dims: dict[str, int]
    text_spaces: tuple[str, ...] = ()
    image_spaces: tuple[str, ...] = ()

    def __init__(self, settings: Settings | None = None):
        self.settings = settings

    def text_query_spaces(self) -> tuple[str, ...]:
        """Spaces a text *query* searches (default: all of ``text_spaces``). An encoder leaves out a space whose
        text side is known to hurt ranking; its records are still encoded there for image queries."""
        return self.text_spaces

    def revisions(self) -> dict[str, str]:
        """What decides the vectors beyond ``name`` (per space: the model, the image recipe, head weights).

        An index records it when it is created and refuses an encoder whose revisions differ, so vectors of
        two models never mix. Must not load a model. Default: nothing beyond the name."""
        return {}

    def for_revisions(self, recorded: dict[str, str]) -> Encoder:
        """The encoder to search and extend an index whose ``revisions`` are ``recorded``: an encoder that can still
        make an earlier revision's vectors (an image recipe changed since) returns one that does, so an index built
        before an upgrade keeps working, unmixed. Default: itself (any other revision is refused)."""
        return self

    @abstractmethod
    def encode_text(self, texts: Sequence[str]) -> Embeddings: ...

    @abstractmethod
    def encode_image(self, images: Sequence[Image.Image]) -> Embeddings: ...

    def encode_query(self, texts: Sequence[str]) -> Embeddings:
        """Text queries in the spaces they search (``text_query_spaces``): an encoder may skip the others' work."""
        spaces = self.text_query_spaces()
        return {space: vectors for space, vectors in self.encode_text(texts).items() if space in spaces}

    def empty(self, spaces: Sequence[str]) -> Embeddings:
        return {space: np.zeros((0, self.dims[space]), dtype=np.float32) for space in spaces}
