"""Indexing throughput on a real PDF, the unchanged re-run that should skip everything, and an upgrade after a
reader change that should encode only what reads differently."""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources import SOURCES
from pathatlas.indexer.sources.fingerprints import hashed_as
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.ocr import TesseractReader, WordReader
from pathatlas.settings import Settings

TALLIED = {"texts": "encoded", "images": "encoded", "thumbnails": "made"}
"""What ``Indexer.tally`` counts, each with its word for made anew (beside "reused")."""


def warm_up(index: Index) -> None:
    """Load the encoder's models (they load on first use) so the timed run measures indexing only."""
    encoder = index.encoder
    if encoder.text_spaces:
        encoder.encode_text(["warm up"])
    if encoder.image_spaces:
        encoder.encode_image([Image.new("RGB", (64, 64))])


def stage_seconds(indexer: Indexer) -> dict[str, float]:
    """The indexer's wall seconds per stage, longest first."""
    return {stage: round(seconds, 2) for stage, seconds in indexer.stage_seconds.most_common()}


def newer_reader() -> AbstractContextManager[None]:
    """Sources fingerprinted as a reader of a records version newer than every built-in reader's fingerprints them, as
    ``as_indexed`` hashes them as an older one's: every PDF and case folder of an index reads as changed, so ``index``
    takes the very path of an upgrade after a release whose readers changed (each source read again, its records
    replaced at its commit), while the records are this version's, the same as the index holds: what an upgrade can
    reuse, it finds."""
    return hashed_as(1 + max(reader.records_version for reader in SOURCES.values()))


def bench_upgrade(index_dir: Path, copy: Path, settings: Settings, reader: WordReader | None) -> dict[str, Any]:
    """``pathatlas index --index COPY`` (every source the index holds) timed on a copy of the index at ``index_dir``,
    as after a reader change (``newer_reader``): its wall seconds, its CPU seconds (all threads: steadier than wall on
    a shared machine), stage seconds and what it encoded, made and reused (``Indexer.tally``). ``reader`` reads
    figures' printed words from the first run's cache, as a user's upgrade does."""
    shutil.copytree(index_dir, copy)
    index = Index.open(copy, settings.model_copy(update={"index": copy}))
    indexer = Indexer(index, show_progress=False, word_reader=reader)
    started, cpu_started = time.perf_counter(), time.process_time()
    with newer_reader():
        report = indexer.add_held()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if report.failed:
        raise RuntimeError(report.failed[0].problems[0])
    if any(source.status != "indexed" for source in report.sources):  # read as unchanged: no upgrade was timed
        raise RuntimeError(f"the upgrade read no source again: {[source.status for source in report.sources]}")
    counts = {
        what: {"reused": indexer.tally[what, "reused"], made: indexer.tally[what, made]}
        for what, made in TALLIED.items()
    }
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "stage_seconds": stage_seconds(indexer),
        **counts,
    }


def bench_index(
    pdf: Path, settings: Settings, workdir: Path | None = None, keep: Path | None = None, upgrade: bool = False
) -> dict[str, Any]:
    """Index one PDF into a fresh index, then again unchanged; the second run measures the skip path. With
    ``upgrade``, then an upgrade of a copy of the index as after a reader change (``bench_upgrade``).

    With ``keep`` the index is built there and kept (for ``bench retrieval`` and ``bench qa``), as the first run
    left it. Figure OCR, when on, starts from an empty cache of its own, so every run reads every figure.
    """
    if keep is not None and keep.exists():
        raise BadInputError(f"{keep} already exists: --keep needs a new folder")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = settings.model_copy(update={"index": keep or Path(tmp) / "index"})
        index = Index.open(local.index_dir, local, create=True)
        warm_up(index)  # model loading is not timed
        reader = TesseractReader(Path(tmp) / "cache") if local.figure_ocr else None
        indexer = Indexer(index, word_reader=reader)
        started = time.perf_counter()
        report = indexer.add([pdf])
        seconds = time.perf_counter() - started
        if report.failed:
            raise RuntimeError(report.failed[0].problems[0])
        kinds = index.stats()["kinds"]
        started = time.perf_counter()
        Indexer(Index.open(local.index_dir, local), show_progress=False).add([pdf])
        reindex = time.perf_counter() - started
        upgraded = bench_upgrade(local.index_dir, Path(tmp) / "upgraded", local, reader) if upgrade else None
    pages, figures = kinds.get("page", 0), kinds.get("figure", 0)
    result = {
        "pdf": str(pdf),
        "pages": pages,
        "figures": figures,
        "figure_ocr": local.figure_ocr,
        "ocr_engine": reader.name if reader else None,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2),
        "figures_per_s": round(figures / seconds, 2),
        "reindex_seconds": round(reindex, 3),
        "stage_seconds": stage_seconds(indexer),
    }
    return {**result, "upgrade": upgraded} if upgrade else result
