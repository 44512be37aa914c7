"""Retrieval between images and captions, and between images.

- text_to_image: a figure's caption to the figure image, among every figure image of the file.
- image_to_text: a figure image to its caption, among every caption of the file.
- image_to_image_case: an image to the other images of its case.
- image_to_image_label: an image to images of the same diagnosis (precision@10).

Image tasks encode the dataset's own images into an in-memory exact index (the same inner products a
FAISS flat index computes); the gallery is the whole file, so training images stay in as distractors, less a
query's own near duplicates (below). Every task names its ``default`` method and its ``baselines``: ``chance``
everywhere, and for image to image ``plain-knn``: cosine kNN on EfficientNet-Lite0 features of the whole image
squashed to 224 x 224 (ImageNet mean/std, mean pooled; ``towers.RECIPES["plain"]``). The default is what search does
for that query, but in an image-to-image task over every query of a file the heads trained on: there it is search's
fusion without the learned spaces, and its ``default_label`` and notes say so.

A run of tied scores (identical images; two hits whose ranks in two equally weighted spaces are swapped; captions
holding the same printed words) counts at its expected value over the run's orders (``tied_figures``), in figures and
paired tests, and a TREC run gives it one score: the order argsort or record ids left it in decides nothing. Where
nothing ties (``holding_ties``) the figures are the ranking's own.

Queries: ``split="val"`` takes the held-out part (``is_validation`` groups, and items without any
description, which training never sees). ``split="all"`` takes every query (e.g. all atlas images with a case
partner, every caption of a figures file); for an encoder with trained heads (PathAtlas's ``joint``) that task has
the methods that learned nothing from the data (``visual``, ``plain-knn``, OCR's BM25, chance), and the methods with
trained heads (``joint`` and its fusions) are reported on held-out queries only, in the ``...:held-out`` task, so no
row ever scores images or captions the heads were trained on, and every encoder is scored over the same queries. A
task whose held-out queries are fewer than all it could score says how many in its ``notes`` (``split_notes``,
``held_out_note``).

Tiles (images without a case of their own: LC25000 turned, mirrored and zoomed 250 originals per class into its
tiles) are grouped by ``near_duplicate_groups``: a tile is held out only if no copy of it is among the items the heads
trained on, and a query's copies are left out of its gallery for every method and chance alike (a copy of the query is
not another image of its diagnosis). The tasks' ``near_duplicates`` and notes say how many.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.retrieval.bench.common import (
    SIGNIFICANCE_METRICS,
    Tie,
    chance,
    chapter_folds,
    compare_runs,
    cut_through_ties,
    holding_ties,
    per_question,
    ruled_ranking,
    tied_figures,
    ties_record,
    touched_runs,
    unzipped,
)
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.datasets import NEAR_DUPLICATE_CORRELATION, ImageItem, is_validation, near_duplicate_groups
from pathatlas.retrieval.encoders import Encoder, l2_normalise
from pathatlas.retrieval.encoders.default import DefaultEncoder
from pathatlas.retrieval.encoders.features import recipe_views
from pathatlas.retrieval.encoders.towers import VISUAL
from pathatlas.retrieval.fusion import (
    MAJORITY,
    MAJORITY_KEEP,
    MAJORITY_WINDOW,
    diagnosis_key,
    majority_next,
    reciprocal_rank_fusion,
)
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.local import Keypoints, cached_keypoints, inliers, same_specimen
from pathatlas.retrieval.metrics import expected_recall_and_mrr, first_rank_chances, tie_runs, tied_runs
from pathatlas.retrieval.ocr import TesseractReader, query_text
from pathatlas.retrieval.progress import progress
from pathatlas.retrieval.search import SPECIMEN, ranker_weight, verified_first
from pathatlas.settings import Settings

PLAIN = "plain-knn"


class ImageSet:
    """A dataset's images encoded once, with the image spaces the encoder fills; or, ``vectors`` given (an index's
    own: ``stored.StoredImages``), those, a row per item in each space."""

    def __init__(
        self,
        items: list[ImageItem],
        encoder: Encoder,
        settings: Settings,
        split: str,
        vectors: dict[str, np.ndarray] | None = None,
    ):
        self.items = items
        self.settings = settings
        self.learned: tuple[str, ...] = ("joint",) if isinstance(encoder, DefaultEncoder) else ()
        """Spaces made by heads trained on these datasets (PathAtlas's own): scored on held-out queries only."""
        if vectors is not None:
            self.vectors = vectors
        elif isinstance(encoder, DefaultEncoder):  # backbone features cached per file, heads applied afresh
            views = recipe_views([i.path for i in items], VISUAL, settings)
            self.vectors = encoder.embed_image_features(views.mean(axis=1))
        else:
            self.vectors = self._encode(encoder)
        self.copies = copies_of(items, settings)
        """Each item's near-duplicate group among the tiles, named by its first member; any other item is its own."""
        validation = [is_validation(i.group) or not i.texts for i in items]
        trained = {self.copies[n] for n, held in enumerate(validation) if not held}
        self.held_out = [n for n, held in enumerate(validation) if held and self.copies[n] not in trained]
        self.trained_copy = sum(validation) - len(self.held_out)
        """Items of the held-out split left out of it: a copy of theirs is among the items the heads trained on."""
        self.queries = list(range(len(items))) if split == "all" else self.held_out
        self.split = split
        self.inliers: dict[tuple[int, int], int] = {}

    def _encode(self, encoder: Encoder) -> dict[str, np.ndarray]:
        images = (open_image(i.path, self.settings.max_image_pixels) for i in self.items)
        chunks: dict[str, list[np.ndarray]] = {}
        batch: list = []
        for image in progress(images, total=len(self.items), desc="encode images", leave=False):
            batch.append(image)
            if len(batch) == 64:
                self._add(chunks, encoder.encode_image(batch))
                batch = []
        if batch:
            self._add(chunks, encoder.encode_image(batch))
        return {space: np.concatenate(parts) for space, parts in chunks.items()}

    @staticmethod
    def _add(chunks, embeddings):
        for space, array in embeddings.items():
            chunks.setdefault(space, []).append(array)

    @cached_property
    def keypoints(self) -> list[Keypoints]:
        """Each image's keypoints as indexing takes them for a case image (cached per image file)."""
        return cached_keypoints([i.path for i in self.items], self.settings)

    def specimen(self, query: int, candidates: list[int]) -> list[int]:
        """What search's ``specimen`` ranker gives for these candidates (inlier counts kept across tasks)."""
        new = [c for c in candidates if (query, c) not in self.inliers]
        for c, count in zip(new, inliers(self.keypoints[query], [self.keypoints[c] for c in new]), strict=True):
            self.inliers[query, c] = count
        counts = {str(c): self.inliers[query, c] for c in candidates}
        return [int(rid) for rid, _ in same_specimen(counts, self.settings.verify_inliers)]

    @cached_property
    def ids(self) -> list[str]:
        """Each image as TREC files name it: its path below the folder holding every image (a path listed twice
        gets its row number after an ``@``, so each item keeps its own id)."""
        paths = [i.path.resolve() for i in self.items]
        root = Path(os.path.commonpath([p.parent for p in paths]))
        names = [p.relative_to(root).as_posix() for p in paths]
        repeated = {name for name, count in Counter(names).items() if count > 1}
        return [f"{name}@{row}" if name in repeated else name for row, name in enumerate(names, start=1)]

    @cached_property
    def plain(self) -> np.ndarray:
        """The plain baseline's vectors (cached like every backbone feature)."""
        return l2_normalise(recipe_views([i.path for i in self.items], "plain", self.settings)[:, 0])


def copies_of(items: list[ImageItem], settings: Settings) -> list[int]:
    """``ImageSet.copies``: tiles (``ImageItem.tile``) grouped by ``near_duplicate_groups``, each group named by its
    first member's position among ``items``; every other item is its own group."""
    tiles = [n for n, item in enumerate(items) if item.tile]
    copies = list(range(len(items)))
    for n, first in zip(
        tiles, near_duplicate_groups([items[n] for n in tiles], max_pixels=settings.max_image_pixels), strict=True
    ):
        copies[n] = tiles[first]
    return copies


DIRECTIONS = ("text_to_image", "image_to_text")


def cross_modal(
    figures: list[ImageItem], images: ImageSet, encoder: Encoder, runs: Path | None = None, suffix: str = ""
) -> dict[str, Any]:
    """text_to_image and image_to_text (each name followed by ``suffix``) over one figures file, in every space both
    modalities share; with ``figure_ocr`` on, also BM25 between captions and the words printed in the images, alone and
    fused. The queries are ``images.queries``; with split "all" and an encoder with learned spaces, as in
    ``image_to_image``, every caption is scored without them and the held-out captions with them (``...:held-out``),
    so an encoder's figures compare with another's over the same captions. ``runs``: a folder for each task's TREC
    files (``write_runs``; a caption is named by its figure's image)."""
    shared = tuple(s for s in encoder.text_spaces if s in encoder.image_spaces)
    ranked = caption_rankings(figures, images, encoder, shared)
    out: dict[str, Any] = {}
    for direction, rankings in ranked.items():
        task = direction + suffix
        if images.split != "all" or not images.learned:
            body = caption_task(direction, rankings, shared, images, images.queries, runs, task)
            split = "all" if images.split == "all" else "val"
            out[task] = {**body, "split": split, **noted(split_notes(body["n"], len(figures)))}
            continue
        held_out = f"{task}:held-out"
        free = tuple(s for s in shared if s not in images.learned)
        every = caption_task(direction, rankings, free, images, images.queries, runs, task)
        held = caption_task(direction, rankings, shared, images, images.held_out, runs, held_out)
        out[task] = {
            **every,
            "split": "all",
            "default_label": without_learned(images),
            "notes": [learned_note(every, held, images, held_out)],
        }
        out[held_out] = {**held, "split": "val", "notes": [held_out_note(held["n"], every["n"])]}
    return out


Rankings = tuple[dict[str, list[list[int]]], dict[str, list[list[int]]]]
"""Each method's ranking of every figure per query figure, and its runs of tied scores (``runs_of``), by name."""


def caption_rankings(
    figures: list[ImageItem], images: ImageSet, encoder: Encoder, spaces: tuple[str, ...]
) -> dict[str, Rankings]:
    """Each direction's rankings (``Rankings``) for every figure as a query: each space's, and with figure or query OCR
    on, BM25's between captions and the words printed in the images (``OCR``)."""
    captions = [i.texts[0] for i in figures]
    text_vectors = encoder.encode_text(captions)
    settings = images.settings
    words = printed_words(figures, settings) if settings.figure_ocr or settings.query_ocr else None
    ranked: dict[str, Rankings] = {}
    for direction in DIRECTIONS:
        orders: dict[str, list[list[int]]] = {}
        ties: dict[str, list[list[int]]] = {}
        for space in spaces:
            if direction == "text_to_image":
                scores = text_vectors[space] @ images.vectors[space].T
            else:
                scores = images.vectors[space] @ text_vectors[space].T
            orders[space] = [np.argsort(-row).tolist() for row in scores]
            ties[space] = runs_of(scores, orders[space])
        if words is not None:
            if direction == "text_to_image":
                texts, targets = captions, words
            else:  # an image query's words count as search counts them
                texts, targets = [query_text(w.split()) for w in words], captions
            orders[OCR], ties[OCR] = bm25_orders(texts, targets)
        ranked[direction] = orders, ties
    return ranked


def caption_task(
    direction: str,
    rankings: Rankings,
    spaces: tuple[str, ...],
    images: ImageSet,
    queries: list[int],
    runs: Path | None,
    task: str,
) -> dict[str, Any]:
    """One caption task over ``queries`` (positions among the figures) with the methods of ``spaces`` and OCR: each
    alone, their fusion (what search does with the query, the default) and chance."""
    orders = {name: order for name, order in rankings[0].items() if name in (*spaces, OCR)}
    ties = {name: runs for name, runs in rankings[1].items() if name in orders}
    captions = [i.texts[0] for i in images.items]
    gold = [{c for c, caption in enumerate(captions) if caption == captions[q]} for q in queries]
    settings = images.settings
    searched_by_ocr = settings.figure_ocr if direction == "text_to_image" else settings.query_ocr
    default = spaces[0] if spaces else OCR if OCR in orders and searched_by_ocr else "chance"
    fused: dict[str, Any] = {}
    if OCR in orders and default in spaces:
        fused["fusion"] = fuse_with_ocr(orders, ties, default, images, queries, gold)
        # search fuses BM25 over captions and printed words with the spaces (figure_ocr), and an image query's own
        # printed words with its image spaces (query_ocr)
        if searched_by_ocr:
            default = f"{default}+{OCR}"
    asked = {name: [order[q] for q in queries] for name, order in orders.items()}
    held = holding_ties({name: [runs[q] for q in queries] for name, runs in ties.items()})
    methods: dict[str, Any] = {name: tied_figures(ranked, gold, held.get(name)) for name, ranked in asked.items()}
    methods["chance"] = chance(len(captions), [len(relevant) for relevant in gold])
    body = {
        "n": len(queries),
        "methods": methods,
        "default": default,
        "baselines": ["chance"],
        **fused,
        **ties_shown(held),
        "per_question": per_question([images.ids[q] for q in queries], gold, asked, held, images.ids),
    }
    if runs is not None:
        body["runs"] = write_runs(runs, task, images, queries, gold, asked, held)
    if len(orders) > 1 and default in orders:
        cut, cut_ties = cut_through_ties(asked, held, CUTOFF)
        metrics = (*SIGNIFICANCE_METRICS, "recall@10")
        body["significance"] = compare_runs(
            [str(q) for q in queries], gold, cut, default, metrics=metrics, ties=cut_ties
        )
    return body


def image_to_image(
    images: ImageSet,
    relevant: Callable[[ImageItem, ImageItem], bool],
    task: str,
    default_spaces: tuple[str, ...],
    runs: Path | None = None,
    headline: str | None = None,
) -> dict[str, Any]:
    """The task on held-out queries with every method; with split "all", also on every query without the
    learned spaces (``task`` over all queries, ``task:held-out`` over held-out ones). ``runs``: a folder for each
    task's TREC files (``write_runs``). ``headline``: the metric the task is judged by, where no recall curve shows
    it (the plot draws it beside the curves)."""
    shown = {"headline": headline} if headline else {}
    if images.split != "all" or not images.learned:  # the queries are the held-out ones unless split is "all"
        body = ranked_methods(images, images.queries, relevant, default_spaces, runs=runs, task=task)
        every = with_partner(images.items, range(len(images.items)), relevant, images.copies)
        split = "all" if images.split == "all" else "val"
        return {task: annotated({**body, "split": split, **shown}, images, split_notes(body["n"], len(every)))}
    training_free = {s: v for s, v in images.vectors.items() if s not in images.learned}
    held_out = f"{task}:held-out"
    every = ranked_methods(images, images.queries, relevant, tuple(training_free), training_free, runs=runs, task=task)
    held = ranked_methods(images, images.held_out, relevant, default_spaces, runs=runs, task=held_out)
    learned = learned_note(every, held, images, held_out)
    without = {"default_label": without_learned(images)}
    return {
        task: annotated({**every, "split": "all", **without, **shown}, images, [learned]),
        held_out: annotated({**held, "split": "val", **shown}, images, [held_out_note(held["n"], every["n"])]),
    }


def without_learned(images: ImageSet) -> str:
    """The ``default_label`` of a task over every query of an encoder with learned spaces: its default is search's
    without them."""
    return f"default without {'+'.join(images.learned)}"


def learned_note(every: dict[str, Any], held: dict[str, Any], images: ImageSet, held_out: str) -> str:
    """The note of a task over every query of an encoder with learned spaces (``every``), naming its twin ``held_out``
    (``held``) and how many queries each scores."""
    return (
        f"{every['default']} is search's {without_learned(images)}, whose heads trained on some of these "
        f"{every['n']} queries; {held_out} scores search's default itself on the {held['n']} held out"
    )


def held_out_note(n: int, total: int) -> str:
    """The note of a ``...:held-out`` task: how many of the ``total`` queries its twin scores are held out, the only
    ones the learned spaces are scored on."""
    return f"held-out split: {n} of {total} queries, those the learned heads never trained on"


def annotated(body: dict[str, Any], images: ImageSet, notes: Iterable[str] = ()) -> dict[str, Any]:
    """``body`` with its ``notes``: those given, then what the tiles' near duplicates changed, also counted in its
    ``near_duplicates``: the queries whose copies left their galleries (``ranked_methods``) and, on held-out queries
    (split "val"), the tiles the held-out split lost (``ImageSet.trained_copy``)."""
    counts, notes = dict(body.get("near_duplicates", {})), list(notes)
    if copied := counts.get("queries_with_copies"):
        notes.append(
            f"{copied} of {body['n']} queries have turned, mirrored or zoomed copies among the tiles (pixel "
            f"correlation >= {NEAR_DUPLICATE_CORRELATION}, near_duplicate_groups), left out of their galleries for "
            "every method and chance: a copy of the query is no other image of its diagnosis"
        )
    if body["split"] == "val" and images.trained_copy:
        counts["held_out_with_trained_copy"] = images.trained_copy
        notes.append(
            f"{images.trained_copy} tiles of the held-out split are not counted held out: a copy of theirs is in the "
            "training split (the tiles PathAtlas's heads trained on)"
        )
    return {**body, **({"near_duplicates": counts} if counts else {}), **noted(notes)}


def split_notes(n: int, total: int) -> list[str]:
    """A task's note where the held-out split (``is_validation``, meant for the data PathAtlas's heads were trained
    on) left queries out, which a user's own images do not need; none where it left none."""
    return [f"held-out split: {n} of {total} queries; --split all for all"] if n < total else []


def noted(notes: list[str]) -> dict[str, Any]:
    """A task's ``notes`` key: absent when there are none."""
    return {"notes": notes} if notes else {}


def with_partner(
    items: list[ImageItem],
    candidates: Iterable[int],
    relevant: Callable[[ImageItem, ImageItem], bool],
    copies: list[int],
) -> list[int]:
    """The candidates with another item relevant to them, not a copy of theirs (``ImageSet.copies``): the queries a
    task can score."""
    return [
        q for q in candidates if any(relevant(items[q], items[c]) for c in range(len(items)) if copies[c] != copies[q])
    ]


def fuse(
    orders: dict[str, list[int]], weights: dict[str, float], k: int, depth: int = 200
) -> tuple[list[int], list[int]]:
    """What search does with an image query: weighted RRF of each space's top ``depth`` (the settings' weights
    and constant, so the benchmark's default row is the configured search), verified candidates first; with the
    lengths of its runs of tied fused scores (``tie_runs``: two hits whose ranks in two equally weighted spaces are
    swapped tie), a verified candidate tied with none that is not."""
    rankings = {space: [(str(c), 0.0) for c in order[:depth]] for space, order in orders.items()}
    fused = verified_first(reciprocal_rank_fusion(rankings, weights, k=k))
    return [int(rid) for rid, _, _ in fused], tie_runs([(SPECIMEN in ranks, score) for _, score, ranks in fused])


def runs_of(scores: np.ndarray, orders: list[list[int]]) -> list[list[int]]:
    """Each ranking's runs of tied scores (``tie_runs``): ``scores`` holds a row per ranking, ``orders`` its items."""
    return [tie_runs(row[order].tolist()) for row, order in zip(scores, orders, strict=True)]


def ties_shown(held: dict[str, list[list[int]]]) -> dict[str, Any]:
    """A task's ``ties`` key (``ties_record``) where a method ranks some query with tied scores; absent where none
    does, the figures then being the ranking's own."""
    return {"ties": ties_record(held)} if held else {}


def ranked_methods(
    images: ImageSet,
    candidates: list[int],
    relevant: Callable[[ImageItem, ImageItem], bool],
    default_spaces: tuple[str, ...],
    vectors: dict[str, np.ndarray] | None = None,
    runs: Path | None = None,
    task: str = "",
) -> dict[str, Any]:
    """Each image space, their RRF fusion (what search does with an image query), plain kNN and chance; with
    ``runs``, the task's TREC files there, named by ``task`` (``write_runs``)."""
    items = images.items
    spaces = {s: v for s, v in (vectors or images.vectors).items() if s in default_spaces}
    queries = with_partner(items, candidates, relevant, images.copies)
    copies = np.asarray(images.copies)
    own = copies[queries][:, None] == copies[None, :]  # each query and its copies
    gallery = len(items) - own.sum(axis=1)
    copied = int(np.sum(gallery < len(items) - 1))
    orders: dict[str, list[list[int]]] = {}
    ties: dict[str, list[list[int]]] = {}
    for name, vecs in {**spaces, PLAIN: images.plain}.items():
        scores = vecs[queries] @ vecs.T
        scores[own] = -np.inf  # a query never retrieves itself nor a copy of itself
        orders[name] = [np.argsort(-row)[:size].tolist() for row, size in zip(scores, gallery, strict=True)]
        ties[name] = runs_of(scores, orders[name])
    default = "+".join(spaces)
    settings = images.settings
    weights = {f"{s}:image": ranker_weight(f"{s}:image", settings.fusion_weights()) for s in spaces}
    weights[SPECIMEN] = ranker_weight(SPECIMEN, settings.fusion_weights())
    per_query = [{f"{s}:image": orders[s][r] for s in spaces} for r in range(len(queries))]
    if len(spaces) > 1:
        orders[default], ties[default] = unzipped([fuse(rankings, weights, settings.rrf_k) for rankings in per_query])
    if settings.verify_depth and default in orders:  # what search adds for an image query
        base, base_ties, default = orders[default], ties[default], f"{default}+{SPECIMEN}"
        verified = []
        for r, q in enumerate(queries):
            found = images.specimen(q, base[r][: settings.verify_depth])
            rankings = {**per_query[r], SPECIMEN: found}
            verified.append(fuse(rankings, weights, settings.rrf_k) if found else (base[r], base_ties[r]))
        orders[default], ties[default] = unzipped(verified)
    gold = [
        {c for c in range(len(items)) if not own[r, c] and relevant(items[q], items[c])} for r, q in enumerate(queries)
    ]
    if settings.diagnosis_vote and default in orders:  # then the nearest hits' diagnosis vote, as search does
        labels = [item.label for item in items]
        voted = f"{default}+{MAJORITY}"
        orders[voted], ties[voted] = unzipped(
            [
                voted_ranking(order, runs, labels, relevant, settings.diagnosis_vote)
                for order, runs, relevant in zip(orders[default], ties[default], gold, strict=True)
            ]
        )
        default = voted
    held = holding_ties(ties)
    methods = {name: tied_figures(ranked, gold, held.get(name), precision_at=(10,)) for name, ranked in orders.items()}
    cut, cut_ties = cut_through_ties(orders, held, CUTOFF)
    metrics = (*SIGNIFICANCE_METRICS, "precision@10")
    significance = compare_runs([str(q) for q in queries], gold, cut, default, metrics=metrics, ties=cut_ties)
    counts = [len(g) for g in gold]
    methods["chance"] = chance(gallery.tolist(), counts, precision_at=(10,))
    written = {"runs": write_runs(runs, task, images, queries, gold, orders, held)} if runs is not None else {}
    return {
        "n": len(queries),
        "methods": methods,
        "default": default,
        "baselines": [PLAIN, "chance"],
        "significance": significance,
        **({"near_duplicates": {"queries_with_copies": copied}} if copied else {}),
        **ties_shown(held),
        "per_question": per_question([images.ids[q] for q in queries], gold, orders, held, images.ids),
        **written,
    }


def voted_ranking(
    order: list[int], sizes: list[int], labels: list[str | None], gold: set[int], voters: int
) -> tuple[list[int], Tie]:
    """An image query's hits after the diagnosis vote of its ``voters`` nearest (``majority_next``), as search shows
    them, with their runs of tied scores. A run of tied hits the vote can read or move (among the first it reads and
    its window) whose hits differ in diagnosis or relevance counts over every order of it (``ruled_ranking``): which
    tied hit is nearer decides which votes, which the vote keeps in place and which of two it moves up."""
    signatures = [(diagnosis_key(labels[c]), c in gold) for c in order]
    reach = max(voters, MAJORITY_KEEP + MAJORITY_WINDOW)
    touched = touched_runs(signatures, sizes, lambda start, _: start < reach)

    def vote(positions: list[int]) -> list[tuple[int, None]]:
        moved = majority_next([labels[order[p]] for p in positions], voters)[0]
        return [(positions[j], None) for j in moved]

    return ruled_ranking(order, sizes, signatures, touched, vote)


def write_runs(
    folder: Path,
    task: str,
    images: ImageSet,
    queries: list[int],
    gold: list[set[int]],
    ranked: dict[str, list[list[int]]],
    ties: dict[str, list[Tie]] | None = None,
) -> list[str]:
    """The task's qrels (``gold``: each query's relevant items, as its figures count them) and one TREC run per
    method (``ranked``: each query's items, as deep as the task ranks them; chance, a tie of every item, has none),
    every item named by its image (``ImageSet.ids``), so a reader recomputes the task's figures; ``ties``: a method's
    runs of tied scores by name, each written with one score (``run_text``)."""
    ids = images.ids
    written = write_trec(
        folder,
        [ids[q] for q in queries],
        [{ids[c] for c in relevant} for relevant in gold],
        {name: [[ids[c] for c in order] for order in lists] for name, lists in ranked.items()},
        task=task,
        ties=ties,
    )
    return [str(path) for path in written]


OCR = "ocr-bm25"
OCR_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
"""Weights of the OCR ranker against the image space's 1 that the fusion chooses from (64: OCR's order, the image
space only among documents OCR ranks alike and after those it ranks at all)."""
OCR_FOLDS = 5
CUTOFF = 100
"""Ranks kept for the significance test (recall@10 and MRR need no more)."""


def printed_words(figures: list[ImageItem], settings: Settings, batch: int = 32) -> list[str]:
    """Each figure image's printed words (cached per image, so a second run reads no image twice)."""
    reader = TesseractReader(settings.cache_dir)
    words: list[str] = []
    for start in progress(range(0, len(figures), batch), desc="figure OCR", unit="batch", leave=False):
        chunk = [open_image(i.path, settings.max_image_pixels) for i in figures[start : start + batch]]
        words += [" ".join(w) for w in reader.read(chunk)]
    return words


def bm25_orders(queries: list[str], documents: list[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Document positions by decreasing BM25 for each query (documents without a query word are left out), and the
    lengths of each ranking's runs of tied scores (``tie_runs``: documents printing the same words tie)."""
    lexical = LexicalIndex.build((str(n), {"source": "bench", "text": d}) for n, d in enumerate(documents))
    found = lexical.search(queries, len(documents))
    return [[int(i) for i, _ in hits] for hits in found], [tie_runs([score for _, score in hits]) for hits in found]


def fuse_with_ocr(
    orders: dict[str, list[list[int]]],
    ties: dict[str, list[list[int]]],
    space: str,
    images: ImageSet,
    queries: list[int],
    gold: list[set[int]],
) -> dict[str, Any]:
    """Weighted RRF of ``space`` and the OCR ranker; the fused orders join ``orders`` and their runs of tied scores
    ``ties``.

    The joint heads learned the training modules' captions, so a weight tuned there favours the joint space
    (it scores far better on them than on unseen modules). The weight is chosen on held-out modules instead:
    the queries' modules are dealt into folds, and each fold is ranked with the weight that gives the best
    recall@1 + recall@5 + recall@10 + MRR on the other folds (ties: the smaller weight; each query's at its expected
    value over the orders of its tied scores); no query is ranked by a weight it helped choose.
    """
    k = images.settings.rrf_k
    fused = {
        w: [fuse({space: orders[space][q], OCR: orders[OCR][q]}, {space: 1.0, OCR: w}, k) for q in queries]
        for w in OCR_WEIGHTS
    }
    gain = {
        w: [query_gain(*pair, relevant) for pair, relevant in zip(rows, gold, strict=True)] for w, rows in fused.items()
    }
    fold_of = chapter_folds([images.items[q].group for q in queries], OCR_FOLDS)
    chosen: list[float] = []
    ranked: dict[int, tuple[list[int], list[int]]] = {}
    for fold in sorted(set(fold_of)):
        tuning = [i for i, f in enumerate(fold_of) if f != fold] or list(range(len(queries)))
        weight = max(OCR_WEIGHTS, key=lambda w: (float(np.mean([gain[w][i] for i in tuning])), -w))
        chosen.append(weight)
        ranked.update({queries[i]: fused[weight][i] for i, f in enumerate(fold_of) if f == fold})
    name = f"{space}+{OCR}"
    orders[name], ties[name] = unzipped([ranked.get(q, ([], [])) for q in range(len(images.items))])
    return {"weights": chosen, "tuned_on": f"the other folds of {len(chosen)} module folds of the task's queries"}


def query_gain(ranked: list[int], runs: list[int], gold: set[int]) -> float:
    """One ranking's recall@1 + recall@5 + recall@10 + reciprocal rank, at their expected values over the orders of
    its tied scores (``runs``, as ``tie_runs`` gives them): what the OCR weight is chosen by."""
    chances = first_rank_chances(tied_runs(ranked, runs, gold), len(ranked))
    return sum(expected_recall_and_mrr([chances]).values())
