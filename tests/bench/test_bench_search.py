"""``bench search`` end to end at a tiny size: what it reports, and that its recall is measured against exact."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.bench.speed import SOURCE_SIZE, Synthetic, bench_search


def test_synthetic_records_are_deterministic_per_source():
    data = Synthetic({"text": 8, "visual": 4})
    first, again = data.chunk(SOURCE_SIZE, 10), data.chunk(SOURCE_SIZE, 10)
    assert [r.id for r in first] == [r.id for r in again] == [f"syn{SOURCE_SIZE + i}" for i in range(10)]
    assert all((a.vectors["text"] == b.vectors["text"]).all() for a, b in zip(first, again, strict=True))
    assert {r.payload["source"] for r in first} == {"synthetic-1.pdf"}
    assert [set(r.vectors) for r in first[:2]] == [{"text", "visual"}, {"text"}]  # a quarter are figures


def test_bench_search_reports_every_figure(settings, tmp_path):
    run = bench_search(2000, "faiss", settings, queries=2, workdir=tmp_path, recall_queries=10)
    assert run["records"] == 2000 and run["store"] == "faiss"
    assert run["recall@10"]["text"] == 1.0  # below the HNSW threshold search is exact
    for kind in ("text", "text_kind", "text_source", "image", "image_kind", "image_words"):
        assert 0 < run[kind]["p50_ms"] <= run[kind]["p95_ms"]
    assert run["vector_bytes_per_record"] > 384 * 4  # float32 text vectors at least
    # RSS growth is reported, not bounded: a long-lived process (the test suite) reuses memory it freed, 0 in CI
    assert isinstance(run["rss_anon_bytes_per_record"], int) and set(run["phases_cpu_seconds"]) >= {"upsert", "commit"}
    assert run["add_source_seconds"] > 0 and run["remove_source_seconds"] > 0
    assert set(run["store_p95_ms"]) == {"text", "text_kind", "text_source"}
    parts = run["text_parts"]  # the query encoder's share of a complete text search, reported apart
    assert min(parts["encode_p95_ms"], parts["bm25_p95_ms"], parts["without_encoding_p95_ms"]) > 0
    assert run["rerank_disk_bytes_per_record"] is None
    assert "media_upkeep" not in run  # the thumbnails are written only when asked for


@pytest.mark.parametrize("store", ["faiss", "qdrant"])
def test_bench_search_times_media_upkeep_on_real_files(settings, tmp_path, store):
    """With ``media`` every record gets a thumbnail file; replacing a source deletes exactly its old version's."""
    run = bench_search(2000, store, settings, queries=1, workdir=tmp_path, recall_queries=2, media=True)
    upkeep = run["media_upkeep"]
    assert upkeep["files_deleted"] == SOURCE_SIZE
    assert set(upkeep) >= {"prune_after_commit_s", "replace_commit_s", "prune_replaced_s", "full_sweep_s"}
    assert all(seconds >= 0 for seconds in upkeep.values()) and run["remove_source_seconds"] > 0


def test_bench_search_rerank_counts_codes_in_memory_and_fp16_vectors_on_disk(settings, tmp_path):
    config = settings.model_copy(update={"faiss_index": "ivf-sq4-rerank", "hnsw_threshold": 100})
    run = bench_search(2000, "faiss", config, queries=2, workdir=tmp_path, recall_queries=10)
    assert run["recall@10"]["text"] >= 0.85  # 2 records per synthetic centre here; 0.99+ at 100k (BENCHMARKS.md)
    assert run["rerank_disk_bytes_per_record"] >= 2 * 384  # fp16 text vectors for every record
    assert run["rerank_disk_bytes_per_record"] >= 2 * (384 + (1280 + 384) / 4)  # ... and the figures' other spaces
    assert run["vector_bytes_per_record"] < 600  # in memory: 4-bit codes (400 B for 800 dimensions) and ids
