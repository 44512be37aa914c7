"""Search latency, build time, memory and incremental updates at synthetic scale: complete searches, models warm.

Synthetic records: 1000 per source; every record has a text vector and word-salad text for BM25, a
quarter are figures with a visual and a joint vector too. Vectors are clustered (unit noise around
1000 centres per space) so approximate indexes face a realistic neighbourhood structure; they are
generated per chunk from a fixed seed, so exact top-10 for recall is recomputed chunk by chunk
instead of keeping a float32 copy of everything.
"""

from __future__ import annotations

import os
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
SOURCE_SIZE = 1000
CENTRES = 1000
NOISE = 0.6
"""Per-dimension noise relative to a centre's; neighbours are near but not trivially so."""


def noise_image(rng: np.random.Generator, size: int = 256) -> Image.Image:
    """A random RGB query image; latency does not depend on what it shows."""
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


class Synthetic:
    """Deterministic synthetic records: chunk ``i`` is always the same."""

    def __init__(self, dims: dict[str, int], seed: int = 0):
        rng = np.random.default_rng(seed)
        self.dims = dims
        self.seed = seed
        self.centres = {s: l2_normalise(rng.normal(size=(CENTRES, d)).astype(np.float32)) for s, d in dims.items()}
        self.vocab = np.array(" ".join(TEXT_QUERIES).split() + [f"term{i}" for i in range(2000)])

    def vectors(self, space: str, n: int, rng: np.random.Generator) -> np.ndarray:
        d = self.dims[space]
        centre = self.centres[space][rng.integers(0, CENTRES, n)]
        return l2_normalise(centre + NOISE * rng.normal(size=(n, d)).astype(np.float32) / np.sqrt(d))

    def chunk(self, start: int, n: int, with_text: bool = True) -> list[StoredVectors]:
        """Records ``start .. start+n`` (``start`` a multiple of the source size)."""
        rng = np.random.default_rng([self.seed, start])
        vectors = {space: self.vectors(space, n, rng) for space in self.dims}
        words = rng.choice(self.vocab, (n, 40)) if with_text else None
        out = []
        for i in range(n):
            figure = (start + i) % 4 == 0
            spaces = {s: v[i] for s, v in vectors.items() if figure or s == "text" or "text" not in self.dims}
            payload = {
                "kind": "figure" if figure else "page",
                "source": f"synthetic-{(start + i) // SOURCE_SIZE}.pdf",
                "page": (start + i) % 997 + 1,
                "text": " ".join(words[i]) if words is not None else "",
            }
            out.append(StoredVectors(f"syn{start + i}", payload, spaces))
        return out

    def exact_top(self, probes: dict[str, np.ndarray], records: int, k: int = 10) -> dict[str, list[set[str]]]:
        """Exact top-``k`` ids by inner product per space, regenerating the records source by source."""
        best = {s: (np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), object)) for s, q in probes.items()}
        for start in range(0, records, SOURCE_SIZE):
            chunk = self.chunk(start, min(SOURCE_SIZE, records - start), with_text=False)
            for space, queries in probes.items():
                rows = [r for r in chunk if space in r.vectors]
                if not rows:
                    continue
                scores = queries @ np.stack([r.vectors[space] for r in rows]).T
                ids = np.broadcast_to(np.array([r.id for r in rows], dtype=object), scores.shape)
                all_scores = np.concatenate([best[space][0], scores], axis=1)
                all_ids = np.concatenate([best[space][1], ids], axis=1)
                top = np.argpartition(-all_scores, k - 1, axis=1)[:, :k] if all_scores.shape[1] > k else None
                if top is not None:
                    all_scores, all_ids = np.take_along_axis(all_scores, top, 1), np.take_along_axis(all_ids, top, 1)
                best[space] = (all_scores, all_ids)
        return {space: [set(row) for row in ids.tolist()] for space, (_, ids) in best.items()}


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _timed(searcher: Searcher, queries: list[Query]) -> dict[str, float]:
    timings = []
    for query in queries:
        started = time.perf_counter()
        searcher.search(query)
        timings.append(time.perf_counter() - started)
    return {"p50_ms": round(percentile_ms(timings, 50), 1), "p95_ms": round(percentile_ms(timings, 95), 1)}


def bench_search(
    records: int,
    store: str,
    settings: Settings,
    queries: int = 50,
    workdir: Path | None = None,
    recall_queries: int = 100,
) -> dict[str, Any]:
    """Build time, memory, recall@10 against exact, query latency with and without filters, incremental updates."""
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = settings.model_copy(update={"index": Path(tmp) / "index"})
        index = Index.open(local.index_dir, local, create=True, store=store)
        data = Synthetic(index.meta.dims)
        one_source = {"source": "synthetic-3.pdf"}
        rss_before = rss_bytes()
        started = time.perf_counter()
        for start in tqdm(range(0, records, SOURCE_SIZE), desc=f"{store} {records} records", leave=False):
            index.store.upsert(data.chunk(start, min(SOURCE_SIZE, records - start)))
        upserted = time.perf_counter() - started
        index.commit()
        build_seconds = time.perf_counter() - started
        rss_after = rss_bytes()
        store_dir = index.path / "store"
        vector_bytes = sum(p.stat().st_size for p in store_dir.rglob("*.faiss")) if store == "faiss" else None
        if store == "qdrant":
            vector_bytes = sum(p.stat().st_size for p in store_dir.rglob("*") if p.is_file())

        spaces = ("text",) + (("visual",) if "visual" in index.meta.dims else ())
        probes = {s: data.vectors(s, recall_queries, np.random.default_rng(99)) for s in spaces}
        exact = data.exact_top(probes, records)
        recall, store_latency = {}, {}
        for space in spaces:
            found = index.store.search(space, probes[space], k=10)
            overlap = [len(e & {r for r, _ in f}) / 10 for e, f in zip(exact[space], found, strict=True)]
            recall[space] = round(float(np.mean(overlap)), 3)
        for name, filters in (("text", None), ("text_kind", {"kind": "figure"}), ("text_source", one_source)):
            timings = []
            for vector in probes["text"][:queries]:  # the store alone: one query vector, candidates as search asks
                started = time.perf_counter()
                index.store.search("text", vector, k=settings.candidates, filters=filters)
                timings.append(time.perf_counter() - started)
            store_latency[name] = round(percentile_ms(timings, 95), 2)

        searcher = Searcher(index)
        images = [noise_image(rng) for _ in range(queries)]
        texts = [TEXT_QUERIES[i % len(TEXT_QUERIES)] + f" {i}" for i in range(queries)]
        searcher.search(Query(text=texts[0]))  # warm up
        searcher.search(Query(image=images[0]))
        searcher.search(Query(text=texts[0], filters={"kind": "figure"}))
        latency = {
            "text": _timed(searcher, [Query(text=t) for t in texts]),
            "text_kind": _timed(searcher, [Query(text=t, filters={"kind": "figure"}) for t in texts]),
            "text_source": _timed(searcher, [Query(text=t, filters=one_source) for t in texts]),
            "image": _timed(searcher, [Query(image=i) for i in images]),
            "image_kind": _timed(searcher, [Query(image=i, filters={"kind": "figure"}) for i in images]),
        }
        batch = [Query(text=t) for t in texts[:32]]
        started = time.perf_counter()
        searcher.search_many(batch)
        batched_ms = (time.perf_counter() - started) * 1000

        extra = data.chunk(records, SOURCE_SIZE)  # one more source, indexed then removed
        started = time.perf_counter()
        index.store.upsert(extra)
        index.commit()
        add_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index.store.delete({"source": extra[0].payload["source"]})
        index.commit()
        remove_seconds = time.perf_counter() - started
        index.close()
    return {
        "store": store,
        "faiss_index": settings.faiss_index if store == "faiss" else None,
        "records": records,
        "build_seconds": round(build_seconds, 1),
        "upsert_seconds": round(upserted, 1),
        "vector_bytes_per_record": round(vector_bytes / records) if vector_bytes else None,
        "rss_bytes_per_record": round((rss_after - rss_before) / records),
        "recall@10": recall,
        "store_p95_ms": store_latency,
        **latency,
        "batch32_text_ms": round(batched_ms, 1),
        "add_source_seconds": round(add_seconds, 2),
        "remove_source_seconds": round(remove_seconds, 2),
    }
