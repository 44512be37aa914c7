"""Search latency at synthetic scale: complete searches, models warm."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from pathatlas.retrieval.encoders import l2_normalise
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import percentile_ms
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings

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


def noise_image(rng: np.random.Generator, size: int = 256) -> Image.Image:
    """A random RGB query image; latency does not depend on what it shows."""
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


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
        images = [noise_image(rng) for _ in range(queries)]
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
