"""``bench search`` end to end at a tiny size: what it reports, and that its recall is measured against exact."""

from __future__ import annotations

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
    for kind in ("text", "text_kind", "text_source", "image", "image_kind"):
        assert 0 < run[kind]["p50_ms"] <= run[kind]["p95_ms"]
    assert run["vector_bytes_per_record"] > 384 * 4  # float32 text vectors at least
    assert run["rss_anon_bytes_per_record"] > 0 and set(run["phases_cpu_seconds"]) >= {"upsert", "commit"}
    assert run["add_source_seconds"] > 0 and run["remove_source_seconds"] > 0
    assert set(run["store_p95_ms"]) == {"text", "text_kind", "text_source"}
