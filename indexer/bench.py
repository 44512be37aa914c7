"""Indexing throughput on a real PDF, and the unchanged re-run that should skip everything."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings


def bench_index(pdf: Path, settings: Settings, workdir: Path | None = None, keep: Path | None = None) -> dict[str, Any]:
    """Index one PDF into a fresh index, then again unchanged; the second run measures the skip path.

    With ``keep`` the index is built there and kept (for ``bench retrieval`` and ``bench qa``).
    """
    if keep is not None and keep.exists():
        raise BadInputError(f"{keep} already exists: --keep needs a new folder")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = settings.model_copy(update={"index": keep or Path(tmp) / "index"})
        index = Index.open(local.index_dir, local, create=True)  # model loading is not timed
        started = time.perf_counter()
        report = Indexer(index).add([pdf])
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
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2),
        "figures_per_s": round(figures / seconds, 2),
        "reindex_seconds": round(reindex, 3),
    }
