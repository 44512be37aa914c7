"""Retrieval quality in every direction, on any dataset in the shared formats.

- text_to_page: MCQ question (plus options) to its gold textbook pages, through a real index.
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
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agent.benchmarks.metrics import first_relevant_rank, precision_at_k, recall_and_mrr
from indexer.datasets import ImageItem, is_validation, read_cases, read_figures, read_mcq
from indexer.images import open_image
from retrieval.encoders import Encoder
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.index import Index
from retrieval.search import Query, Searcher
from retrieval.settings import Settings

METHODS: dict[str, tuple[str, ...]] = {"bm25": ("bm25",), "dense": ("dense",), "hybrid": ("bm25", "dense")}
CURVE_K = 20
CHANCE_DRAWS = 50


def ranked_pages(hits) -> list[int]:
    pages: list[int] = []
    for hit in hits:
        if hit.citation.page is not None and hit.citation.page not in pages:
            pages.append(hit.citation.page)
    return pages


def summarise(first_ranks: list[int | None]) -> dict[str, Any]:
    """Recall@1/5/10 and MRR, plus the recall@k curve the plot draws."""
    out: dict[str, Any] = recall_and_mrr(first_ranks)
    out["curve"] = [recall_and_mrr(first_ranks, cutoffs=(k,))[f"recall@{k}"] for k in range(1, CURVE_K + 1)]
    return out


def text_to_page(index: Index, mcq_path: Path, k: int = 10) -> dict[str, Any]:
    """Is a page of the question's gold range among the top k pages? Query: question plus options."""
    items = [q for q in read_mcq(mcq_path) if q.gold_pages]
    searcher = Searcher(index)
    methods: dict[str, dict[str, Any]] = {}
    batch = 32  # questions are encoded a batch at a time
    for name, use in METHODS.items():
        ranks = []
        for start in tqdm(range(0, len(items), batch), desc=f"text->page {name}", leave=False):
            chunk = items[start : start + batch]
            results = searcher.search_many([Query(text=item.search_text(), k=k, use=use) for item in chunk])
            ranks += [
                first_relevant_rank(ranked_pages(hits), item.gold_pages.__contains__)
                for item, hits in zip(chunk, results, strict=True)
            ]
        methods[name] = summarise(ranks)
    return {"n": len(items), "methods": methods}


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


def chance(n_candidates: int, relevant_counts: list[int], seed: int = 0) -> dict[str, Any]:
    """The same metrics for random rankings, averaged over fixed-seed draws."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(CHANCE_DRAWS):
        ranks = []
        for count in relevant_counts:
            positions = rng.permutation(n_candidates)[:count] if count else []
            ranks.append(int(min(positions)) + 1 if count else None)
        draws.append(summarise(ranks))
    return {
        key: (
            np.mean([d[key] for d in draws], axis=0).tolist()
            if key == "curve"
            else float(np.mean([d[key] for d in draws]))
        )
        for key in draws[0]
    }


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


def run_retrieval_bench(
    encoder: Encoder,
    settings: Settings,
    figures: list[Path] = (),
    cases: list[Path] = (),
    mcq: Path | None = None,
    index: Index | None = None,
    split: str = "val",
) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for path in figures:
        items = read_figures(path)
        tasks.update(cross_modal(items, ImageSet(items, encoder, settings, split), encoder))
    for path in cases:
        items = read_cases(path, diagnosed_only=False)
        images = ImageSet(items, encoder, settings, split)
        # One case file gives the plain task names; several are told apart by their folder names.
        suffix = f":{path.parent.name}" if len(cases) > 1 else ""
        if any(sum(j.group == i.group for j in items) > 1 for i in items):
            tasks["image_to_image_case" + suffix] = image_to_image(images, lambda a, b: a.group == b.group)
        if any(i.label for i in items):
            tasks["image_to_image_label" + suffix] = image_to_image(
                images, lambda a, b: a.label is not None and a.label == b.label
            )
    if mcq is not None:
        if index is None:
            raise ValueError("text_to_page needs --index: an index of the book the questions cite")
        tasks["text_to_page"] = text_to_page(index, mcq)
    return {"encoder": encoder.name, "split": split, "tasks": tasks}


def plot_curves(result: dict[str, Any], path: Path) -> None:
    """Recall@k curves, one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, (task, body) in zip(axes[0], tasks.items(), strict=True):
        for method, metrics in body["methods"].items():
            ks = range(1, len(metrics["curve"]) + 1)
            ax.plot(ks, metrics["curve"], label=method, linestyle="--" if method == "chance" else "-")
        ax.set_title(f"{task} (n={body['n']})", fontsize=9)
        ax.set_xlabel("k")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("recall@k")
    fig.suptitle(f"PathAtlas retrieval, encoder {result['encoder']}, {result['split']} queries", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
