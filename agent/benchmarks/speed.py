"""Speed benchmarks: indexing throughput on a real PDF, search latency at synthetic scale."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agent.benchmarks.metrics import percentile_ms
from corpora.demo import draw_pattern
from indexer.pipeline import Indexer
from retrieval.encoders import l2_normalise
from retrieval.index import Index
from retrieval.records import StoredVectors
from retrieval.search import Query, Searcher
from retrieval.settings import Settings

TEXT_QUERIES = [
    "koilocytes in cervical epithelium",
    "granuloma with multinucleated giant cells",
    "keratin pearls",
    "glandular adenocarcinoma of the lung",
    "alveolar septa",
    "small round blue cell tumour",
    "caseating necrosis tuberculosis",
    "squamous metaplasia",
    "mitotic figures",
    "hepatic steatosis",
]
PATTERNS = ["koilocytes", "granuloma", "glands", "keratin-pearls", "alveoli", "small-blue-cells"]


def bench_index(pdf: Path, settings: Settings, workdir: Path | None = None) -> dict[str, Any]:
    """Index one PDF into a fresh index, then again unchanged; the second run measures the skip path."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = settings.model_copy(update={"index": Path(tmp) / "index"})
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


def synthetic_records(n: int, dims: dict[str, int], rng: np.random.Generator, start: int = 0) -> list[StoredVectors]:
    """Random unit vectors (a quarter with an image space) and word-salad text for BM25."""
    vocab = np.array(" ".join(TEXT_QUERIES).split() + [f"term{i}" for i in range(2000)])
    out = []
    vectors = {space: l2_normalise(rng.normal(size=(n, d)).astype(np.float32)) for space, d in dims.items()}
    for i in range(n):
        with_image = i % 4 == 0
        spaces = {s: v[i] for s, v in vectors.items() if with_image or s in ("text",)}
        if "text" not in dims:  # joint-only encoders: every record has a joint vector
            spaces = {s: v[i] for s, v in vectors.items()}
        payload = {
            "kind": "figure" if with_image else "page",
            "source": f"synthetic-{(start + i) % 50}.pdf",
            "page": (start + i) % 997 + 1,
            "text": " ".join(rng.choice(vocab, 40)),
        }
        out.append(StoredVectors(f"syn{start + i}", payload, spaces))
    return out


def bench_search(
    records: int, store: str, settings: Settings, queries: int = 50, workdir: Path | None = None
) -> dict[str, Any]:
    """Latency of complete searches (encoding, every ranker, fusion), models warm."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = settings.model_copy(update={"index": Path(tmp) / "index"})
        index = Index.open(local.index_dir, local, create=True, store=store)
        chunk = 5000
        started = time.perf_counter()
        for start in tqdm(range(0, records, chunk), desc=f"{store} {records} records", leave=False):
            index.store.upsert(synthetic_records(min(chunk, records - start), index.meta.dims, rng, start))
        index.commit()
        build_seconds = time.perf_counter() - started
        searcher = Searcher(index)
        images = [draw_pattern(PATTERNS[i % len(PATTERNS)], 500 + i) for i in range(queries)]
        texts = [TEXT_QUERIES[i % len(TEXT_QUERIES)] + f" {i}" for i in range(queries)]
        searcher.search(Query(text=texts[0]))  # warm up
        searcher.search(Query(image=images[0]))
        timings: dict[str, list[float]] = {"text": [], "image": []}
        for text, image in zip(texts, images, strict=True):
            for kind, query in (("text", Query(text=text)), ("image", Query(image=image))):
                started = time.perf_counter()
                searcher.search(query)
                timings[kind].append(time.perf_counter() - started)
        index.close()
    return {
        "store": store,
        "records": records,
        "build_seconds": round(build_seconds, 1),
        **{
            kind: {"p50_ms": round(percentile_ms(t, 50), 1), "p95_ms": round(percentile_ms(t, 95), 1)}
            for kind, t in timings.items()
        },
    }
