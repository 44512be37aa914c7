"""Search latency, build time, memory and incremental updates at synthetic scale: complete searches, models warm
(``bench search``); and latency on an index you built, with real query images (``bench queries``).

Synthetic records: 1000 per source; every record has a text vector and word-salad text for BM25, a
quarter are figures with a visual and a joint vector too. Vectors are clustered (unit noise around
1000 centres per space) so approximate indexes face a realistic neighbourhood structure; they are
generated per chunk from a fixed seed, so exact top-10 for recall is recomputed chunk by chunk
instead of keeping a float32 copy of everything.
"""

from __future__ import annotations

import gc
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders import l2_normalise
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import percentile_ms
from pathatlas.retrieval.progress import progress, progress_note
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.search import PRINTED, SPECIMEN, Query, Searcher
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
WORDS = 40
"""Words of text per record (BM25)."""
CENTRES = 1000
NOISE = 0.6
"""Per-dimension noise relative to a centre's; neighbours are near but not trivially so."""


def noise_image(rng: np.random.Generator, size: int = 256) -> Image.Image:
    """A random RGB query image; latency does not depend on what it shows."""
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


class Synthetic:
    """Deterministic synthetic records: chunk ``i`` is always the same. Generation is vectorised per chunk."""

    def __init__(self, dims: dict[str, int], seed: int = 0):
        rng = np.random.default_rng(seed)
        self.dims = dims
        self.seed = seed
        self.centres = {s: l2_normalise(rng.normal(size=(CENTRES, d)).astype(np.float32)) for s, d in dims.items()}
        self.vocab = " ".join(TEXT_QUERIES).split() + [f"term{i}" for i in range(2000)]

    def vectors(self, space: str, n: int, rng: np.random.Generator) -> np.ndarray:
        d = self.dims[space]
        centre = self.centres[space][rng.integers(0, CENTRES, n)]
        return l2_normalise(centre + (NOISE / np.sqrt(d)) * rng.standard_normal((n, d), dtype=np.float32))

    def arrays(self, start: int, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per space, (record numbers, vectors) of records ``start .. start+n``: text for all, other spaces for
        figures (every fourth record) when the index has text, for all otherwise."""
        rng = np.random.default_rng([self.seed, start])
        numbers = np.arange(start, start + n)
        figures = numbers[numbers % 4 == 0]
        out = {}
        for space in self.dims:
            rows = numbers if space == "text" or "text" not in self.dims else figures
            out[space] = (rows, self.vectors(space, len(rows), rng))
        return out

    def chunk(self, start: int, n: int) -> list[StoredVectors]:
        """Records ``start .. start+n`` (``start`` a multiple of the source size), one source per 1000."""
        arrays = self.arrays(start, n)
        words = np.random.default_rng([self.seed, start, 1]).integers(0, len(self.vocab), (n, WORDS)).tolist()
        vocab = self.vocab
        out = []
        for i in range(n):
            number = start + i
            source = number // SOURCE_SIZE
            payload = {
                "kind": "figure" if number % 4 == 0 else "page",
                "source": source_name(source),
                "fingerprint": f"synthetic-{source}",
                "page": number % 997 + 1,
                "text": " ".join([vocab[w] for w in words[i]]),
            }
            out.append(StoredVectors(f"syn{number}", payload, {}))
        for space, (rows, vectors) in arrays.items():
            for row, vector in zip((rows - start).tolist(), vectors, strict=True):
                out[row].vectors[space] = vector
        return out

    def exact_top(self, probes: dict[str, np.ndarray], records: int, k: int = 10) -> dict[str, list[set[str]]]:
        """Exact top-``k`` ids by inner product per space, regenerating the vectors chunk by chunk."""
        best = {s: (np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)) for s, q in probes.items()}
        step = 20 * SOURCE_SIZE
        for start in progress(range(0, records, step), desc="exact top-10", leave=False):
            for space, (rows, vectors) in self.arrays_span(start, min(step, records - start)).items():
                if space not in probes or not len(rows):
                    continue
                scores = np.concatenate([best[space][0], probes[space] @ vectors.T], axis=1)
                numbers = np.concatenate([best[space][1], np.broadcast_to(rows, (len(scores), len(rows)))], axis=1)
                if scores.shape[1] > k:
                    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                    scores, numbers = np.take_along_axis(scores, top, 1), np.take_along_axis(numbers, top, 1)
                best[space] = (scores, numbers)
        return {space: [{f"syn{n}" for n in row} for row in numbers.tolist()] for space, (_, numbers) in best.items()}

    def arrays_span(self, start: int, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``arrays`` of several sources joined (each source is generated alone, as ``chunk`` does)."""
        parts = [self.arrays(s, min(SOURCE_SIZE, start + n - s)) for s in range(start, start + n, SOURCE_SIZE)]
        return {
            space: (np.concatenate([p[space][0] for p in parts]), np.concatenate([p[space][1] for p in parts]))
            for space in self.dims
        }


def source_name(number: int) -> str:
    return f"synthetic-{number}.pdf"


def manifest_entry(number: int, records: int | None = None) -> dict[str, Any]:
    """What the indexer records for a source; the synthetic records carry the same fingerprint. Of ``records`` in all,
    the last source holds what is left (a commit refuses a source whose store holds fewer records than it lists)."""
    entries = SOURCE_SIZE if records is None else min(SOURCE_SIZE, records - number * SOURCE_SIZE)
    return {"id": f"syn{number}", "fingerprint": f"synthetic-{number}", "kind": "pdf", "entries": entries}


def rss_bytes() -> dict[str, int]:
    """Resident memory, all of it and the anonymous part (an mmapped store's file pages are page cache)."""
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle if line.startswith(("VmRSS", "RssAnon")))
    return {name: int(value.split()[0]) * 1024 for name, value in fields.items()}


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _timed(searcher: Searcher, queries: list[Query], repeats: int = 1) -> dict[str, float]:
    timings = []
    for _ in range(repeats):
        for query in queries:
            started = time.perf_counter()
            searcher.search(query)
            timings.append(time.perf_counter() - started)
    return {"p50_ms": round(percentile_ms(timings, 50), 1), "p95_ms": round(percentile_ms(timings, 95), 1)}


IMAGE_FILES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")


def image_files(paths: list[Path], limit: int) -> list[Path]:
    """The first ``limit`` images among files and folders (a folder's images in name order, recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_FILES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise BadInputError(f"no image or folder at {path}")
    return found[:limit]


def bench_queries(index: Index, texts: list[str], images: list[Path], repeats: int = 3) -> dict[str, Any]:
    """p50/p95 of complete searches on a real index, models warm: the given text queries, and real images as image
    queries (on an index with case keypoints these include same-specimen verification, which synthetic records and
    noise images never reach). Each kind's queries run once untimed (warming the models, counting the queries with
    a hit verified as the same specimen, and those whose printed words found a hit), then ``repeats`` timed
    rounds."""
    searcher = Searcher(index)
    opened = [open_image(path, index.settings.max_image_pixels) for path in images]
    kinds = {"text": [Query(text=t) for t in texts], "image": [Query(image=i) for i in opened]}
    result: dict[str, Any] = {
        "index": index.path.name,
        "records": index.store.count(),
        "keypoints": index.has_keypoints(),
        "query_ocr": index.settings.query_ocr,
        "ocr_engine": getattr(searcher.word_reader, "name", None) if index.settings.query_ocr else None,
        "repeats": repeats,
    }
    for kind, queries in kinds.items():
        if queries:
            matched = [set().union(*(h.matched_by for h in searcher.search(q))) for q in queries]
            result[kind] = {
                "n": len(queries),
                **_timed(searcher, queries, repeats),
                "same_specimen_found": sum(SPECIMEN in m for m in matched),
                "printed_words_found": sum(PRINTED in m for m in matched),
            }
    return result


def image_latency(searcher: Searcher, images: list[Image.Image], texts: list[str]) -> dict[str, dict[str, float]]:
    """p50/p95 of image searches, alone, with a kind filter and with a word typed beside (after one untimed search
    that loads the image models). Only for an encoder that searches by image: a text-only one's rows show "-" for
    them, and its text figures are still measured."""
    searcher.search(Query(image=images[0]))
    worded = [Query(image=i, text=t.split()[0]) for i, t in zip(images, texts, strict=True)]
    return {
        "image": _timed(searcher, [Query(image=i) for i in images]),
        "image_kind": _timed(searcher, [Query(image=i, filters={"kind": "figure"}) for i in images]),
        "image_words": _timed(searcher, worded),
    }


def _files_bytes(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


def _build(index: Index, data: Synthetic, records: int, label: str) -> tuple[dict[str, float], dict[str, float]]:
    """Upsert the synthetic sources, then one commit listing them all (BM25 included).

    Returns wall seconds and this process's CPU seconds per phase: on a shared machine the CPU time is
    close to what the wall time would be alone (less where FAISS or Qdrant use several threads).
    """
    wall = {"generate": 0.0, "upsert": 0.0}
    cpu = dict(wall)
    for start in progress(range(0, records, SOURCE_SIZE), desc=f"{label}: upsert", unit="source", leave=False):
        started, cpu_started = time.perf_counter(), time.process_time()
        chunk = data.chunk(start, min(SOURCE_SIZE, records - start))
        wall["generate"] += time.perf_counter() - started
        cpu["generate"] += time.process_time() - cpu_started
        started, cpu_started = time.perf_counter(), time.process_time()
        index.store.upsert(chunk)
        wall["upsert"] += time.perf_counter() - started
        cpu["upsert"] += time.process_time() - cpu_started
    started, cpu_started = time.perf_counter(), time.process_time()
    progress_note(f"{label}: commit (ANN training, snapshot, BM25 of {records:,} records)")
    index.commit({source_name(n): manifest_entry(n, records) for n in range(-(-records // SOURCE_SIZE))})
    wall["commit"] = time.perf_counter() - started
    cpu["commit"] = time.process_time() - cpu_started
    return {k: round(v, 1) for k, v in wall.items()}, {k: round(v, 1) for k, v in cpu.items()}


def bench_search(
    records: int,
    store: str,
    settings: Settings,
    queries: int = 50,
    workdir: Path | None = None,
    recall_queries: int = 100,
    media: bool = False,
) -> dict[str, Any]:
    """Build time, memory, recall@10 against exact, query latency with and without filters (and an image with one word
    typed beside it, which puts every record holding it first: ``held_first``), incremental updates;
    with ``media``, also what keeping the media folder costs (``media_upkeep``)."""
    label = f"{store} {settings.faiss_index if store == 'faiss' else ''} {records:,}".replace("  ", " ")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = settings.model_copy(update={"index": Path(tmp) / "index"})
        index = Index.open(local.index_dir, local, create=True, store=store)
        data = Synthetic(index.meta.dims)
        one_source = {"source": source_name(min(3, (records - 1) // SOURCE_SIZE))}  # one that exists: else refused
        seconds, grown = measured_build(index, data, records, label)
        footprint = store_footprint(index.path / "store", records)
        progress_note(f"{label}: recall against exact, latency")
        cpu_started = time.process_time()
        probes = probe_vectors(index, data, recall_queries)
        recall = recall_at_10(index, data, probes, records)
        store_p95 = store_latency(index, probes["text"][:queries], settings.candidates, one_source)
        searched = search_latency(index, queries, one_source, settings.candidates)
        seconds["phases_cpu_seconds"]["measure"] = round(time.process_time() - cpu_started, 1)
        updated = add_and_remove_source(index, data, records, label, media)
        index.close()
    return {
        "store": store,
        "faiss_index": settings.faiss_index if store == "faiss" else None,
        "records": records,
        **seconds,
        **footprint,
        **grown,
        "peak_rss_gib": round(peak_rss_bytes() / 2**30, 2),
        "recall@10": recall,
        "store_p95_ms": store_p95,
        **searched,
        **updated,
    }


def measured_build(index: Index, data: Synthetic, records: int, label: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Build the index (``_build``): its seconds (upsert and commit, then wall and CPU seconds per phase), and what it
    grew this process's resident memory by per record, all of it and the anonymous part (garbage collected before
    and after)."""
    gc.collect()
    before = rss_bytes()
    wall, cpu = _build(index, data, records, label)
    gc.collect()
    after = rss_bytes()
    seconds = {
        "build_seconds": round(wall["upsert"] + wall["commit"], 1),
        "phases_seconds": wall,
        "phases_cpu_seconds": cpu,
    }
    grown = {
        "rss_bytes_per_record": round((after["VmRSS"] - before["VmRSS"]) / records),
        "rss_anon_bytes_per_record": round((after["RssAnon"] - before["RssAnon"]) / records),
    }
    return seconds, grown


def store_footprint(store_dir: Path, records: int) -> dict[str, int | None]:
    """Bytes per record of the store's files: in memory, FAISS indexes (and the keys of re-ranking vectors); on disk,
    read through the page cache, ivf-sq4-rerank's fp16 vectors (None where a store has no such files); all of them."""
    vector_bytes = _files_bytes(store_dir, "*.faiss") + _files_bytes(store_dir, "*.rerank-keys.npy")
    rerank_bytes = _files_bytes(store_dir, "*.rerank.npy")
    return {
        "vector_bytes_per_record": round(vector_bytes / records) if vector_bytes else None,
        "rerank_disk_bytes_per_record": round(rerank_bytes / records) if rerank_bytes else None,
        "store_bytes_per_record": round(_files_bytes(store_dir) / records),
    }


def probe_vectors(index: Index, data: Synthetic, n: int) -> dict[str, np.ndarray]:
    """``n`` query vectors for text, and for visual where the index has it: the same for every run."""
    spaces = ("text",) + (("visual",) if "visual" in index.meta.dims else ())
    return {s: data.vectors(s, n, np.random.default_rng(99)) for s in spaces}


def recall_at_10(index: Index, data: Synthetic, probes: dict[str, np.ndarray], records: int) -> dict[str, float]:
    """Per space, the share of the exact top 10 that the store's (approximate) search finds."""
    exact = data.exact_top(probes, records)
    recall = {}
    for space, vectors in probes.items():
        found = index.store.search(space, vectors, k=10)
        overlap = [len(e & {r for r, _ in f}) / 10 for e, f in zip(exact[space], found, strict=True)]
        recall[space] = round(float(np.mean(overlap)), 3)
    return recall


def store_latency(index: Index, vectors: np.ndarray, candidates: int, one_source: dict) -> dict[str, float]:
    """p95 ms of the store alone, one query vector a search and as many candidates as search asks: unfiltered, and
    filtered by kind and by source."""
    latency = {}
    for name, filters in (("text", None), ("text_kind", {"kind": "figure"}), ("text_source", one_source)):
        timings = []
        for vector in vectors:
            started = time.perf_counter()
            index.store.search("text", vector, k=candidates, filters=filters)
            timings.append(time.perf_counter() - started)
        latency[name] = round(percentile_ms(timings, 95), 2)
    return latency


def search_latency(index: Index, queries: int, one_source: dict, candidates: int) -> dict[str, Any]:
    """p50/p95 of ``queries`` complete searches, models warm: text, filtered by kind and by source, and image ones
    where the encoder searches by image (``image_latency``); the p95 of a text search's parts (``text_parts``); the
    ms of one batch of 32 text searches."""
    searcher = Searcher(index)
    rng = np.random.default_rng(1)
    images = [noise_image(rng) for _ in range(queries)]
    texts = [TEXT_QUERIES[i % len(TEXT_QUERIES)] + f" {i}" for i in range(queries)]
    searcher.search(Query(text=texts[0]))  # warm up
    searcher.search(Query(text=texts[0], filters={"kind": "figure"}))
    parts = text_parts(searcher, index, texts, candidates)
    latency = {
        "text": _timed(searcher, [Query(text=t) for t in texts]),
        "text_kind": _timed(searcher, [Query(text=t, filters={"kind": "figure"}) for t in texts]),
        "text_source": _timed(searcher, [Query(text=t, filters=one_source) for t in texts]),
        **(image_latency(searcher, images, texts) if index.encoder.image_spaces else {}),
    }
    batch = [Query(text=t) for t in texts[:32]]
    started = time.perf_counter()
    searcher.search_many(batch)
    batched_ms = (time.perf_counter() - started) * 1000
    return {**latency, "text_parts": parts, "batch32_text_ms": round(batched_ms, 1)}


def text_parts(searcher: Searcher, index: Index, texts: list[str], candidates: int) -> dict[str, float]:
    """p95 ms of a complete text search's parts: query encoding (not the store's), BM25, and all but encoding."""
    encode, bm25, complete = [], [], []
    for text in texts:
        started = time.perf_counter()
        index.encoder.encode_query([text])
        encode.append(time.perf_counter() - started)
        started = time.perf_counter()
        index.lexical.search([text], candidates)
        bm25.append(time.perf_counter() - started)
        started = time.perf_counter()
        searcher.search(Query(text=text))
        complete.append(time.perf_counter() - started)
    return {
        "encode_p95_ms": round(percentile_ms(encode, 95), 1),
        "bm25_p95_ms": round(percentile_ms(bm25, 95), 1),
        "without_encoding_p95_ms": round(percentile_ms([c - e for c, e in zip(complete, encode, strict=True)], 95), 1),
    }


def add_and_remove_source(index: Index, data: Synthetic, records: int, label: str, media: bool) -> dict[str, Any]:
    """Seconds to add one more source of ``SOURCE_SIZE`` records (upsert and commit) and to remove it, as the indexer
    does; with ``media``, an empty thumbnail per record first, and the media chores at this size (``media_upkeep``)
    while the source is there."""
    progress_note(f"{label}: add and remove one {SOURCE_SIZE}-record source")
    extra = -(-records // SOURCE_SIZE)
    chunk = data.chunk(extra * SOURCE_SIZE, SOURCE_SIZE)
    if media:
        progress_note(f"{label}: an empty thumbnail per record")
        empty_thumbnails(index, [f"syn{n}" for n in range(records)] + [r.id for r in chunk])
    started = time.perf_counter()
    index.store.upsert(chunk)
    index.commit({**index.manifest, source_name(extra): manifest_entry(extra)})
    add_seconds = time.perf_counter() - started
    upkeep = {"media_upkeep": media_upkeep(index, chunk, extra)} if media else {}
    started = time.perf_counter()
    index.remove_source(source_name(extra))
    remove_seconds = time.perf_counter() - started
    return {"add_source_seconds": round(add_seconds, 2), "remove_source_seconds": round(remove_seconds, 2), **upkeep}


def empty_thumbnails(index: Index, record_ids: list[str]) -> None:
    """An empty file where indexing writes each record's thumbnail: what pruning lists and deletes."""
    index.media_dir.mkdir(parents=True, exist_ok=True)
    for record_id in record_ids:
        index.thumbnail_path(record_id).touch()


def media_upkeep(index: Index, source: list[StoredVectors], number: int) -> dict[str, float]:
    """Seconds of each media chore at this size, in the order a user meets them: pruning after a commit that
    replaced nothing; replacing ``source`` (just committed) by a new version, its commit, then the pruning that
    deletes the old version's files; the full sweep that follows a killed run; the store check each ``index`` run
    starts with."""

    def timed(work) -> tuple[Any, float]:
        started = time.perf_counter()
        result = work()
        return result, round(time.perf_counter() - started, 3)

    _, nothing = timed(index.prune_media)
    fingerprint = f"synthetic-{number}-v2"
    version = [StoredVectors(f"{r.id}-v2", {**r.payload, "fingerprint": fingerprint}, r.vectors) for r in source]
    empty_thumbnails(index, [r.id for r in version])
    index.store.upsert(version)
    entry = {**manifest_entry(number), "fingerprint": fingerprint}
    _, commit = timed(lambda: index.commit({**index.manifest, source_name(number): entry}))
    deleted, replaced = timed(index.prune_media)
    _, sweep = timed(lambda: index.prune_media(everything=True))
    _, check = timed(index.collect_garbage)
    return {
        "prune_after_commit_s": nothing,
        "replace_commit_s": commit,
        "prune_replaced_s": replaced,
        "files_deleted": deleted,
        "full_sweep_s": sweep,
        "collect_garbage_s": check,
    }


MEDIA_COLUMNS = ("prune_after_commit_s", "prune_replaced_s", "full_sweep_s")


def table_row(run: dict[str, Any]) -> dict[str, str]:
    """One run as the columns ``bench search`` prints (latencies in ms)."""
    recall = run["recall@10"]
    return {
        "store": f"{run['store']} {run['faiss_index'] or ''}".strip(),
        "records": f"{run['records']:,}",
        "build s": str(run["build_seconds"]),
        "B/rec vectors in RAM (+ on disk) / store / RSS anon": f"{run['vector_bytes_per_record'] or '-'}"
        + (f" (+{run['rerank_disk_bytes_per_record']})" if run.get("rerank_disk_bytes_per_record") else "")
        + f" / {run['store_bytes_per_record']} / {run['rss_anon_bytes_per_record']}",
        "recall@10 text / visual": f"{recall.get('text', '-')} / {recall.get('visual', '-')}",
        "text p95 / +kind / +source": " / ".join(str(run[k]["p95_ms"]) for k in ("text", "text_kind", "text_source")),
        "text p95: encoding / BM25 / all but encoding": " / ".join(
            str(run["text_parts"][k]) for k in ("encode_p95_ms", "bm25_p95_ms", "without_encoding_p95_ms")
        ),
        "image p95 / +kind / +a word": " / ".join(
            str(run[k]["p95_ms"]) if k in run else "-" for k in ("image", "image_kind", "image_words")
        ),
        "add / remove source s": f"{run['add_source_seconds']} / {run['remove_source_seconds']}",
        **(
            {"media s: prune / replaced / sweep": " / ".join(str(upkeep[k]) for k in MEDIA_COLUMNS)}
            if (upkeep := run.get("media_upkeep"))
            else {}
        ),
    }
