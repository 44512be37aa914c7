"""Retrieval benchmarks in every direction (``pathatlas bench retrieval``) and search latency (``bench search``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.common import component_notes, few_queries_warning, splits_used
from pathatlas.retrieval.bench.images import ImageSet, cross_modal, image_to_image
from pathatlas.retrieval.bench.labels import label_lookups
from pathatlas.retrieval.bench.names import short_searches
from pathatlas.retrieval.bench.pages import text_to_page
from pathatlas.retrieval.bench.stored import StoredImages
from pathatlas.retrieval.bench.terms import term_searches
from pathatlas.retrieval.bench.words import image_words
from pathatlas.retrieval.datasets import check_images, read_cases, read_figures
from pathatlas.retrieval.encoders import Encoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import INTERVALS
from pathatlas.settings import Settings

RANX_KERNELS = r".*[\\/]ranx[\\/]"
"""Where numba places the warnings of ranx's kernels: a ``warnings`` module pattern matching their files' paths."""


@contextmanager
def quiet_numba_casts() -> Iterator[None]:
    """Benches that score with ranx, without numba's ``NumbaTypeSafetyWarning`` ("unsafe cast from uint64 to int64")
    on the user's terminal: numba says it when it compiles ranx's kernels (the first run after an install; its cache
    keeps them), of a parallel loop's index read as a list's, which no bench's count of questions comes near
    overflowing. Only that category from ranx's files is silenced, and only while the bench runs."""
    from numba.core.errors import NumbaTypeSafetyWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning, module=RANX_KERNELS)
        yield


def warned(body: dict[str, Any]) -> dict[str, Any]:
    """A task with its ``warnings`` (``few_queries_warning``), the task unchanged where it has none."""
    found = few_queries_warning(body["n"])
    return {**body, "warnings": found} if found else body


def from_stored(body: dict[str, Any], stored: StoredImages | None, count: int) -> dict[str, Any]:
    """An image task measured on an index's stored vectors (``stored``), saying so (``vectors_from`` and a note of
    ``count`` images); the task unchanged where its images were encoded."""
    if stored is None:
        return body
    return {**body, "vectors_from": str(stored.index.path), "notes": [*body.get("notes", []), stored.note(count)]}


def file_suffix(path: Path, paths: list[Path]) -> str:
    """What follows a task's name: nothing for the one file of its kind, else the file's folder name (each file of
    several gives its own tasks: ``image_to_image_case:atlas``)."""
    return f":{path.parent.name}" if len(paths) > 1 else ""


@quiet_numba_casts()
def run_retrieval_bench(
    encoder: Encoder,
    settings: Settings,
    figures: list[Path] = (),
    cases: list[Path] = (),
    mcq: Path | None = None,
    index: Index | None = None,
    split: str = "val",
    folds: int = 0,
    runs: Path | None = None,
    names: bool = False,
    image_words_folds: int = 0,
    image_words_phrasing: str = "diagnosis",
    stored: StoredImages | None = None,
    labels: bool = False,
    terms: Path | None = None,
) -> dict[str, Any]:
    """Every task the inputs give, keyed by name; each says the queries it used (``split``), and so does the result
    as a whole (``splits_used``), and notes where its default scores below a method it fuses (``component_notes``).
    ``runs``: a folder for every task's TREC qrels and runs (``write_trec``). ``names``: the index's own short
    searches (``short_searches``); those it has no queries for are in ``left_out``, with why. ``image_words_folds``:
    the index's images searched with words beside them (``image_words``), the words' weight chosen on this many
    folds by diagnosis, its words typed as ``image_words_phrasing`` says (``words.PHRASINGS``); 0: not run.
    ``stored``: the case images an index holds, whose stored vectors ``cases`` measure instead of encoding them (each
    such task says so in its ``notes`` and names the index in ``vectors_from``). ``labels``: each figure label the
    index prints, typed as users type it, to its figures (``label_lookups``). ``terms``: a file of short searches, each
    to the records holding every word of it (``term_searches``). Every figure has its 95% interval (``ci95``, as
    ``intervals`` says), and a task of few queries its ``warnings``."""
    tasks: dict[str, Any] = {}
    left_out: dict[str, str] = {}
    for path in figures:
        items = read_figures(path)
        check_images(items, path)
        images = ImageSet(items, encoder, settings, split)
        tasks.update(cross_modal(items, images, encoder, runs, suffix=file_suffix(path, figures)))
    for path in cases:
        items = read_cases(path, diagnosed_only=False)
        check_images(items, path)
        same_case = any(sum(j.group == i.group for j in items) > 1 for i in items)
        if not same_case and not any(i.label for i in items):
            raise BadInputError(f"{path}: no two images share a case and none has a diagnosis or label to match")
        spaces = encoder.image_spaces
        vectors = stored.vectors(items, spaces, path.parent) if stored is not None else None
        images = ImageSet(items, encoder, settings, split, vectors)
        suffix = file_suffix(path, cases)
        found: dict[str, Any] = {}
        if same_case:
            same_group = lambda a, b: a.group == b.group  # noqa: E731
            found |= image_to_image(images, same_group, "image_to_image_case" + suffix, spaces, runs)
        if any(i.label for i in items):
            same_label = lambda a, b: a.label is not None and a.label == b.label  # noqa: E731
            task = "image_to_image_label" + suffix
            found |= image_to_image(images, same_label, task, spaces, runs, headline="precision@10")
        tasks.update({name: from_stored(body, stored, len(items)) for name, body in found.items()})
    if mcq is not None:
        if index is None:
            raise ValueError("text_to_page needs --index: an index of the book the questions cite")
        # every question with gold pages: --split picks image queries only (folds hold chapters out instead)
        tasks["text_to_page"] = {**text_to_page(index, mcq, folds=folds, runs=runs), "split": "all"}
    if names:
        if index is None:
            raise ValueError("--names needs --index: the index whose diagnoses and sections are searched for")
        found, left_out = short_searches(index, runs)
        tasks.update(found)
    if labels:
        if index is None:
            raise ValueError("--labels needs --index: the index whose figures are asked for by their labels")
        tasks.update(label_lookups(index, runs))
    if terms is not None:
        if index is None:
            raise ValueError("--terms needs --index: the index its terms are searched in")
        tasks.update(term_searches(index, terms, runs))
    if image_words_folds:
        if index is None:
            raise ValueError("--image-words needs --index: the index whose diagnosed images are searched")
        tasks.update(image_words(index, image_words_folds, runs, image_words_phrasing))
    tasks = {task: warned(component_notes(body)) for task, body in tasks.items()}
    return {
        "encoder": encoder.name,
        "split": splits_used(tasks),
        "intervals": INTERVALS,
        "tasks": tasks,
        **({"left_out": left_out} if left_out else {}),
    }
