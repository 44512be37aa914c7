"""One shared suite that every VectorStore must pass, plus FAISS/Qdrant congruence and crash safety."""

from __future__ import annotations

import numpy as np
import pytest

from pathatlas.errors import UnknownNameError
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import open_store, store_class

DIMS = {"text": 16, "visual": 8}
STORES = ["faiss", "qdrant-edge", "qdrant-memory"]


def make_store(kind: str, location, settings):
    if kind == "qdrant-memory":
        settings = settings.model_copy(update={"qdrant_url": ":memory:"})
    return open_store("faiss" if kind == "faiss" else "qdrant", location, DIMS, settings)


def unit(rng, n, d):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def records(rng, n=60):
    text, visual = unit(rng, n, DIMS["text"]), unit(rng, n, DIMS["visual"])
    out = []
    for i in range(n):
        vectors = {"text": text[i]}
        if i % 2 == 0:  # half the records have an image too
            vectors["visual"] = visual[i]
        payload = {
            "kind": "case" if i % 3 == 0 else "page",
            "source": f"src{i % 2}",
            "organ": "lung" if i < 30 else "skin",
        }
        out.append(StoredVectors(f"r{i}", payload, vectors))
    return out


@pytest.fixture(params=STORES)
def store_kind(request):
    return request.param


def test_search_filter_count_delete_persist(store_kind, settings, tmp_path):
    rng = np.random.default_rng(0)
    data = records(rng)
    store = make_store(store_kind, tmp_path / "store", settings)
    store.upsert(data)
    assert store.count() == 60 and store.count("text") == 60 and store.count("visual") == 30

    (hits,) = store.search("text", data[7].vectors["text"], k=5)
    assert hits[0][0] == "r7" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)

    (hits,) = store.search("visual", data[8].vectors["visual"], k=50)
    assert len(hits) == 30 and all(int(rid[1:]) % 2 == 0 for rid, _ in hits)

    (hits,) = store.search("text", data[7].vectors["text"], k=100, filters={"kind": "case", "organ": "lung"})
    expected = {f"r{i}" for i in range(30) if i % 3 == 0}
    assert {rid for rid, _ in hits} == expected
    (hits,) = store.search("text", data[7].vectors["text"], k=100, filters={"organ": ["skin", "nowhere"]})
    assert {rid for rid, _ in hits} == {f"r{i}" for i in range(30, 60)}

    assert store.payloads(["r3", "missing"])["r3"]["organ"] == "lung"
    assert store.delete({"source": "src1"}) == 30
    assert store.count() == 30 and {p["source"] for _, p in store.scan()} == {"src0"}

    store.upsert(
        [StoredVectors("r0", {"kind": "page", "source": "src0", "organ": "bone"}, {"text": data[5].vectors["text"]})]
    )
    assert store.count() == 30 and store.count("visual") == 29  # replaced, and the new r0 has no image
    (hits,) = store.search("text", data[5].vectors["text"], k=1)
    assert hits[0][0] == "r0"

    store.commit()
    if store_kind != "qdrant-memory":  # the in-memory twin has nothing to reopen
        store.close()
        reopened = make_store(store_kind, tmp_path / "store", settings)
        assert reopened.count() == 30 and reopened.payloads(["r0"])["r0"]["organ"] == "bone"
        (hits,) = reopened.search("text", data[5].vectors["text"], k=1)
        assert hits[0][0] == "r0"
        reopened.close()


def test_faiss_and_qdrant_agree_on_top_k(settings, tmp_path):
    rng = np.random.default_rng(1)
    data = records(rng, n=200)
    queries = unit(rng, 10, DIMS["text"])
    results = {}
    for kind in ("faiss", "qdrant-edge"):
        store = make_store(kind, tmp_path / kind, settings)
        store.upsert(data)
        store.commit()
        results[kind] = [[rid for rid, _ in hits] for hits in store.search("text", queries, k=10)]
        store.close()
    assert results["faiss"] == results["qdrant-edge"]


def test_faiss_uses_hnsw_above_threshold_with_high_recall(settings, tmp_path):
    rng = np.random.default_rng(2)
    data = [
        StoredVectors(f"r{i}", {"source": "s", "kind": "page"}, {"text": v}) for i, v in enumerate(unit(rng, 3000, 16))
    ]
    small = settings.model_copy(update={"hnsw_threshold": 1000})
    store = open_store("faiss", tmp_path / "hnsw", DIMS, small)
    store.upsert(data)
    store.commit()
    assert (tmp_path / "hnsw" / "v000001" / "text.faiss").is_file()
    queries = unit(rng, 50, 16)
    exact = np.argsort(-(np.stack([d.vectors["text"] for d in data]) @ queries.T), axis=0)[:10].T
    found = store.search("text", queries, k=10)
    recall = np.mean(
        [len({f"r{i}" for i in e} & {rid for rid, _ in f}) / 10 for e, f in zip(exact, found, strict=True)]
    )
    assert recall >= 0.9


def test_faiss_crash_before_or_during_commit_keeps_last_commit(settings, tmp_path):
    rng = np.random.default_rng(3)
    data = records(rng, n=20)
    store = open_store("faiss", tmp_path / "s", DIMS, settings)
    store.upsert(data[:10])
    store.commit()
    store.upsert(data[10:])  # never committed: the process "dies" here
    (tmp_path / "s" / "v000002").mkdir()  # and a half-written snapshot is left behind
    (tmp_path / "s" / "v000002" / "payloads.sqlite").write_bytes(b"garbage")
    reopened = open_store("faiss", tmp_path / "s", DIMS, settings)
    assert reopened.count() == 10
    reopened.upsert(data[10:])
    reopened.commit()  # the leftover is replaced, not trusted
    assert open_store("faiss", tmp_path / "s", DIMS, settings).count() == 20


def test_unknown_store_name_is_refused():
    with pytest.raises(UnknownNameError, match="unknown store 'milvus'"):
        store_class("milvus")
    with pytest.raises(UnknownNameError, match="not a VectorStore"):
        store_class("py:pathlib.Path")
