"""Indexing throughput on a real PDF, and the unchanged re-run that should skip everything."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.ocr import TesseractReader
from pathatlas.settings import Settings


def warm_up(index: Index) -> None:
    """Load the encoder's models (they load on first use) so the timed run measures indexing only."""
    encoder = index.encoder
    if encoder.text_spaces:
        encoder.encode_text(["warm up"])
    if encoder.image_spaces:
        encoder.encode_image([Image.new("RGB", (64, 64))])


def bench_index(pdf: Path, settings: Settings, workdir: Path | None = None, keep: Path | None = None) -> dict[str, Any]:
    """Index one PDF into a fresh index, then again unchanged; the second run measures the skip path.

    With ``keep`` the index is built there and kept (for ``bench retrieval`` and ``bench qa``). Figure OCR, when
    on, starts from an empty cache of its own, so every run reads every figure.
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
    pages, figures = kinds.get("page", 0), kinds.get("figure", 0)
    return {
        "pdf": str(pdf),
        "pages": pages,
        "figures": figures,
        "figure_ocr": local.figure_ocr,
        "ocr_engine": reader.name if reader else None,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2),
        "figures_per_s": round(figures / seconds, 2),
        "reindex_seconds": round(reindex, 3),
        "stage_seconds": {stage: round(s, 2) for stage, s in indexer.stage_seconds.most_common()},
    }
