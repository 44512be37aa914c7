"""Retrieval between images and captions, and between images.

- text_to_image: a figure's caption to the figure image, among every figure image of the file.
- image_to_text: a figure image to its caption, among every caption of the file.
- image_to_image_case: an image to the other images of its case.
- image_to_image_label: an image to images of the same diagnosis (precision@10).

Image tasks encode the dataset's own images into an in-memory exact index (the same inner products a
FAISS flat index computes). Queries come from the validation part (``is_validation``) unless ``split`` is
"all" (items without any description, which training never sees, are held out too); the gallery is
always the whole file, so training images stay in as distractors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pathatlas.retrieval.bench.common import chance, summarise
from pathatlas.retrieval.datasets import ImageItem, is_validation
from pathatlas.retrieval.encoders import Encoder
from pathatlas.retrieval.fusion import reciprocal_rank_fusion
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.metrics import first_relevant_rank, precision_at_k
from pathatlas.settings import Settings


class ImageSet:
    """A dataset's images encoded once, with the image spaces the encoder fills."""

    def __init__(self, items: list[ImageItem], encoder: Encoder, settings: Settings, split: str):
        self.items = items
        images = (open_image(i.path, settings.max_image_pixels) for i in items)
        chunks: dict[str, list[np.ndarray]] = {}
        batch: list = []
        for image in tqdm(images, total=len(items), desc="encode images", leave=False):
            batch.append(image)
            if len(batch) == 64:
                self._add(chunks, encoder.encode_image(batch))
                batch = []
        if batch:
            self._add(chunks, encoder.encode_image(batch))
        self.vectors = {space: np.concatenate(parts) for space, parts in chunks.items()}
        # Held out: validation groups, and items with no description (training never sees those).
        self.queries = [n for n, i in enumerate(items) if split == "all" or is_validation(i.group) or not i.texts]

    @staticmethod
    def _add(chunks, embeddings):
        for space, array in embeddings.items():
            chunks.setdefault(space, []).append(array)


def rank_all(scores: np.ndarray, is_relevant: Callable[[int, int], bool], exclude_self: bool) -> list[int | None]:
    """First relevant rank per query row; with ``exclude_self`` column q is not a candidate for query q."""
    ranks = []
    for row, order in enumerate(np.argsort(-scores, axis=1)):
        order = [c for c in order if not (exclude_self and c == row)]
        ranks.append(first_relevant_rank(order, lambda c, row=row: is_relevant(row, c)))
    return ranks


def cross_modal(figures: list[ImageItem], images: ImageSet, encoder: Encoder) -> dict[str, Any]:
    """text_to_image and image_to_text over one figures file, in every space both modalities share."""
    shared = [s for s in encoder.text_spaces if s in encoder.image_spaces]
    captions = [i.texts[0] for i in figures]
    text_vectors = encoder.encode_text(captions)
    same_caption = [[captions[c] == captions[q] for c in range(len(figures))] for q in range(len(figures))]
    queries = images.queries
    out: dict[str, Any] = {}
    for task in ("text_to_image", "image_to_text"):
        methods: dict[str, Any] = {}
        for space in shared:
            if task == "text_to_image":
                scores = text_vectors[space][queries] @ images.vectors[space].T
            else:
                scores = images.vectors[space][queries] @ text_vectors[space].T
            methods[space] = summarise(rank_all(scores, lambda r, c: same_caption[queries[r]][c], False))
        counts = [sum(same_caption[q]) for q in queries]
        methods["chance"] = chance(len(figures), counts)
        out[task] = {"n": len(queries), "methods": methods}
    return out


def image_to_image(images: ImageSet, relevant: Callable[[ImageItem, ImageItem], bool]) -> dict[str, Any]:
    """Same-case (or same-label) retrieval in each image space, their RRF fusion, and chance."""
    items = images.items
    queries = [q for q in images.queries if any(relevant(items[q], items[c]) for c in range(len(items)) if c != q)]
    per_space: dict[str, np.ndarray] = {s: v[queries] @ v.T for s, v in images.vectors.items()}
    for scores, q in ((s, q) for s in per_space.values() for q in range(len(queries))):
        scores[q, queries[q]] = -np.inf  # a query never retrieves itself
    methods: dict[str, Any] = {}
    flags_by_method: dict[str, list[list[bool]]] = {}
    orders: dict[str, list[list[int]]] = {
        s: [list(np.argsort(-row))[: len(items) - 1] for row in scores] for s, scores in per_space.items()
    }
    if len(orders) > 1:
        fused = []
        for r in range(len(queries)):
            rankings = {s: [(str(c), 0.0) for c in orders[s][r][:200]] for s in orders}
            fused.append([int(rid) for rid, _, _ in reciprocal_rank_fusion(rankings, {})])
        orders["+".join(orders)] = fused
    for name, ranked in orders.items():
        flags = [[relevant(items[queries[r]], items[c]) for c in ranked[r]] for r in range(len(queries))]
        ranks = [first_relevant_rank(range(len(f)), f.__getitem__) for f in flags]
        methods[name] = {**summarise(ranks), "precision@10": precision_at_k(flags, 10)}
        flags_by_method[name] = flags
    counts = [sum(relevant(items[q], items[c]) for c in range(len(items)) if c != q) for q in queries]
    methods["chance"] = {
        **chance(len(items) - 1, counts),
        "precision@10": float(np.mean([c / (len(items) - 1) for c in counts])) if counts else 0.0,
    }
    return {"n": len(queries), "methods": methods}
