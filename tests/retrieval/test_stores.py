"""The suite every VectorStore must pass; FAISS/Qdrant congruence, incremental writes, crash safety."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pathatlas.errors import UnknownNameError
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import open_store, store_class
from pathatlas.retrieval.stores.base import matches
from pathatlas.retrieval.stores.faiss_store import FaissStore
from pathatlas.settings import Settings


class BatchesOnly(FaissStore):
    """A store as strict as the ``VectorStore`` docstring: ``search`` takes a batch of queries, shape (n, dim)."""

    def search(self, space, queries, k, filters=None):
        if np.ndim(queries) != 2:
            raise ValueError(f"queries of shape {np.shape(queries)}: VectorStore.search takes a batch (n, dim)")
        return super().search(space, queries, k, filters)


DIMS = {"text": 16, "visual": 8}
STORES = [
    *("faiss", "faiss-hnsw", "faiss-hnsw-sq8", "faiss-ivf-sq8", "faiss-ivf-sq4-rerank"),
    *("qdrant-edge", "qdrant-memory", "qdrant-local", "py:tests.retrieval.test_stores.BatchesOnly"),
    *filter(None, os.environ.get("PATHATLAS_TEST_STORES", "").split(",")),
]
"""The stores the shared suite runs on; ``PATHATLAS_TEST_STORES="py:pkg.mod.Class"`` (comma-separated) adds yours."""
APPROXIMATE = {"faiss-hnsw-sq8": 0.03, "faiss-ivf-sq8": 0.03, "faiss-ivf-sq4-rerank": 0.003}
"""Stores whose scores are decoded from 8-bit codes (or fp16 vectors), and how far a score may be off."""


def make_store(kind: str, location, settings):
    updates: dict = {}
    if kind == "qdrant-memory":
        updates["qdrant_url"] = ":memory:"
    if kind == "qdrant-local":
        updates["qdrant_url"] = str(location.parent / "qdrant-local")
    if kind.startswith("faiss-"):  # every space past the threshold: the ANN index does the work
        updates.update(hnsw_threshold=10, faiss_index=kind.removeprefix("faiss-"), hnsw_ef_search=256, ivf_nprobe=64)
    return open_store(store_name(kind), location, DIMS, settings.model_copy(update=updates))


def store_name(kind: str) -> str:
    """The registry name of a store of the suite (``STORES``)."""
    return kind if kind.startswith("py:") else "faiss" if kind.startswith("faiss") else "qdrant"


def unit(rng, n, d):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def records(rng, n=60, prefix="r", sources=2):
    text, visual = unit(rng, n, DIMS["text"]), unit(rng, n, DIMS["visual"])
    out = []
    for i in range(n):
        vectors = {"text": text[i]}
        if i % 2 == 0:  # half the records have an image too
            vectors["visual"] = visual[i]
        payload = {
            "kind": "case" if i % 3 == 0 else "page",
            "source": f"src{i % sources}",
            "organ": "lung" if i < n // 2 else "skin",
        }
        out.append(StoredVectors(f"{prefix}{i}", payload, vectors))
    return out


def true_scores(data: list[StoredVectors], space: str, query: np.ndarray, filters=None) -> dict[str, float]:
    """Each record's exact score for ``query``, among those with a vector in ``space`` that match ``filters``."""
    return {r.id: float(r.vectors[space] @ query) for r in data if space in r.vectors and matches(r.payload, filters)}


def brute_force(data: list[StoredVectors], space: str, query: np.ndarray, k: int, filters=None) -> list[str]:
    scores = true_scores(data, space, query, filters)
    return sorted(scores, key=lambda rid: -scores[rid])[:k]  # stable: ties in the data's order


def off_brute_force(hits, data, space: str, query: np.ndarray, k: int, filters, tolerance: float) -> list:
    """Where ``hits`` differ from brute force's top ``k`` by more than ``tolerance``: too few or too many, an id twice
    or outside the filters, or a rank whose record's exact score (or the score given) is not brute force's there.
    Empty where they agree: a store whose scores are decoded from codes may swap records that close."""
    scores = true_scores(data, space, query, filters)
    best = sorted(scores.values(), reverse=True)[:k]
    ids = [rid for rid, _ in hits]
    if len(ids) != len(best) or len(set(ids)) != len(ids) or not scores.keys() >= set(ids):
        return [ids]
    return [
        (rank, rid, score, scores[rid], expected)
        for rank, ((rid, score), expected) in enumerate(zip(hits, best, strict=True))
        if abs(scores[rid] - expected) > tolerance or abs(score - scores[rid]) > tolerance
    ]


@pytest.fixture(params=STORES)
def store_kind(request):
    return request.param


def test_search_filter_count_delete_persist(store_kind, settings, tmp_path):
    rng = np.random.default_rng(0)
    data = records(rng)
    tolerance = APPROXIMATE.get(store_kind, 1e-4)
    store = make_store(store_kind, tmp_path / "store", settings)
    store.upsert(data)
    assert store.count() == 60 and store.count("text") == 60 and store.count("visual") == 30

    (hits,) = store.search("text", data[7].vectors["text"][None], k=5)
    assert hits[0][0] == "r7" and hits[0][1] == pytest.approx(1.0, abs=tolerance)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)

    (hits,) = store.search("visual", data[8].vectors["visual"][None], k=50)
    assert len(hits) == 30 and all(int(rid[1:]) % 2 == 0 for rid, _ in hits)

    (hits,) = store.search("text", data[7].vectors["text"][None], k=100, filters={"kind": "case", "organ": "lung"})
    expected = {f"r{i}" for i in range(30) if i % 3 == 0}
    assert {rid for rid, _ in hits} == expected
    (hits,) = store.search("text", data[7].vectors["text"][None], k=100, filters={"organ": ["skin", "nowhere"]})
    assert {rid for rid, _ in hits} == {f"r{i}" for i in range(30, 60)}
    assert store.search("text", data[7].vectors["text"][None], k=5, filters={"organ": "nowhere"}) == [[]]

    assert store.payloads(["r3", "missing"])["r3"]["organ"] == "lung"
    assert store.delete({"source": "src1"}) == 30
    assert store.delete({"source": "src1"}) == 0
    assert store.count() == 30 and {p["source"] for _, p in store.scan()} == {"src0"}
    (hits,) = store.search("text", data[9].vectors["text"][None], k=60)
    assert len(hits) == 30 and all(int(rid[1:]) % 2 == 0 for rid, _ in hits)  # deleted records never come back

    store.upsert(
        [StoredVectors("r0", {"kind": "page", "source": "src0", "organ": "bone"}, {"text": data[5].vectors["text"]})]
    )
    assert store.count() == 30 and store.count("visual") == 29  # replaced, and the new r0 has no image
    (hits,) = store.search("text", data[5].vectors["text"][None], k=1)
    assert hits[0][0] == "r0"
    assert {rid for rid, _ in store.scan({"organ": "bone"})} == {"r0"}
    assert store.value_counts("organ") == {"bone": 1, "lung": 14, "skin": 15}  # what scan would count
    assert store.value_counts("fingerprint") == {None: 30}

    store.commit()
    if store_kind != "qdrant-memory":  # the in-memory twin has nothing to reopen
        store.close()
        reopened = make_store(store_kind, tmp_path / "store", settings)
        assert reopened.count() == 30 and reopened.payloads(["r0"])["r0"]["organ"] == "bone"
        assert reopened.count("visual") == 29 and reopened.value_counts("organ")["bone"] == 1
        (hits,) = reopened.search("text", data[5].vectors["text"][None], k=1)
        assert hits[0][0] == "r0"
        exported = [r for batch in reopened.records(batch=7) for r in batch]
        assert {r.id for r in exported} == {rid for rid, _ in reopened.scan()}
        r0 = next(r for r in exported if r.id == "r0")
        assert set(r0.vectors) == {"text"} and r0.vectors["text"] @ data[5].vectors["text"] > 1 - tolerance
        reopened.close()


def test_batched_search_equals_one_query_at_a_time(store_kind, settings, tmp_path):
    rng = np.random.default_rng(4)
    store = make_store(store_kind, tmp_path / "store", settings)
    store.upsert(records(rng, n=80))
    queries = unit(rng, 6, DIMS["text"])
    batched = store.search("text", queries, k=7, filters={"kind": "page"})
    single = [store.search("text", q[None], k=7, filters={"kind": "page"})[0] for q in queries]
    assert [[rid for rid, _ in hits] for hits in batched] == [[rid for rid, _ in hits] for hits in single]
    store.close()


def test_each_store_says_truly_whether_it_gives_back_the_very_vectors_it_was_given(store_kind, settings, tmp_path):
    """``exact_vectors``: a re-index copies vectors from a store that says so rather than encode again. ``False`` is
    always allowed (the contract's safe answer for a plug-in that does not say); the built-in stores say ``True``
    wherever it holds, so that their re-index copies."""
    data = records(np.random.default_rng(0))
    store = make_store(store_kind, tmp_path / "store", settings)
    try:
        store.upsert(data)
        store.commit()
        given = store.vectors([r.id for r in data])
        kept = all(np.array_equal(given[r.id][space], r.vectors[space]) for r in data for space in r.vectors)
        assert kept or not store.exact_vectors, "exact_vectors is True, yet the vectors come back changed"
        if not store_kind.startswith("py:"):
            assert store.exact_vectors == kept
    finally:
        store.close()


def test_every_store_agrees_with_brute_force_in_every_space_with_filters(store_kind, settings, tmp_path):
    rng = np.random.default_rng(1)
    data = records(rng, n=200, sources=5)
    tolerance = APPROXIMATE.get(store_kind, 1e-4)
    store = make_store(store_kind, tmp_path / "store", settings)
    store.upsert(data)
    store.commit()
    for space in DIMS:
        queries = unit(rng, 5, DIMS[space])
        for filters in (None, {"kind": "case"}, {"source": ["src1", "src3"], "organ": "skin"}):
            found = store.search(space, queries, k=10, filters=filters)
            off = [
                off_brute_force(h, data, space, q, 10, filters, tolerance) for h, q in zip(found, queries, strict=True)
            ]
            assert not any(off), (space, filters, off)
    store.close()


@pytest.mark.parametrize("kind", ["faiss", "faiss-hnsw", "faiss-hnsw-fp16"])
def test_incremental_adds_and_removals_equal_a_rebuild(kind, settings, tmp_path):
    """Sources added, replaced and removed one commit at a time, then reopened (deltas replayed).

    Not IVF or SQ8: they are trained on the vectors present when the index is built, so an index
    grown incrementally legitimately differs from a rebuild; their recall is tested instead.
    """
    rng = np.random.default_rng(5)
    batches = [records(rng, n=120, prefix=f"b{i}-", sources=1) for i in range(5)]
    for i, batch in enumerate(batches):
        for record in batch:
            record.payload["source"] = f"s{i}"
    store = make_store(kind, tmp_path / "inc", settings)
    for batch in batches:
        store.upsert(batch)
        store.commit()
    assert store.delete({"source": "s1"}) == 120
    store.commit()
    replacement = records(rng, n=120, prefix="b3-", sources=1)  # same ids as s3, new vectors
    for record in replacement:
        record.payload["source"] = "s3"
    store.upsert(replacement)
    store.commit()
    final = batches[0] + batches[2] + replacement + batches[4]
    store.close()
    incremental = make_store(kind, tmp_path / "inc", settings)
    rebuilt = make_store(kind, tmp_path / "rebuilt", settings)
    rebuilt.upsert(final)
    assert incremental.count() == rebuilt.count() == len(final)
    queries = unit(rng, 8, DIMS["text"])
    for filters in (None, {"source": "s3"}):
        a = [[rid for rid, _ in hits] for hits in incremental.search("text", queries, k=10, filters=filters)]
        b = [[rid for rid, _ in hits] for hits in rebuilt.search("text", queries, k=10, filters=filters)]
        assert a == b
    if kind != "faiss-hnsw-fp16":  # exact, and HNSW at this size: equal to brute force too
        assert a == [brute_force(final, "text", q, 10, {"source": "s3"}) for q in queries]


def test_faiss_commit_writes_a_small_delta_and_compacts_later(settings, tmp_path):
    rng = np.random.default_rng(6)
    small = settings.model_copy(update={"faiss_compact_fraction": 0.5})
    store = open_store("faiss", tmp_path / "s", DIMS, small)
    store.upsert(records(rng, n=100, prefix="a"))
    store.commit()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["CURRENT", "base-000001", "state-000001.json"]
    store.upsert(records(rng, n=10, prefix="b"))
    store.commit()
    assert (tmp_path / "s" / "delta-000002.npz").is_file()
    store.upsert(records(rng, n=60, prefix="c"))  # deltas now past half the base: a new base
    store.commit()
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert files == [
        "CURRENT",
        "base-000001",
        "base-000003",
        "delta-000002.npz",
        "state-000002.json",
        "state-000003.json",
    ]
    previous = open_store("faiss", tmp_path / "s", DIMS, small, version="2")  # the previous state stays readable
    assert previous.count() == 110 and previous.version == "2"
    store.upsert(records(rng, n=5, prefix="d"))
    store.commit()
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert files == ["CURRENT", "base-000003", "delta-000004.npz", "state-000003.json", "state-000004.json"]
    assert open_store("faiss", tmp_path / "s", DIMS, small).count() == 175


def test_faiss_hnsw_deletions_are_hidden_then_rebuilt_past_the_threshold(settings, tmp_path):
    rng = np.random.default_rng(7)
    config = settings.model_copy(update={"hnsw_threshold": 50, "faiss_rebuild_fraction": 0.3})
    store = open_store("faiss", tmp_path / "s", DIMS, config)
    data = records(rng, n=200, sources=10)
    store.upsert(data)
    store.commit()  # past the threshold the HNSW index is built at commit (or at the first search), once
    space = store._spaces["text"]
    assert space.kind == "hnsw"
    index_before = space.index
    store.delete({"source": "src0"})  # 10% of the vectors: tombstones, same index
    assert space.index is index_before and space.tombstones == 20
    (hits,) = store.search("text", data[0].vectors["text"][None], k=200)
    assert len(hits) == 180 and "r0" not in {rid for rid, _ in hits}
    store.delete({"source": ["src1", "src2", "src3"]})  # past 30%: that space is rebuilt
    assert space.index is not index_before and space.tombstones == 0 and store.count("text") == 120


def test_faiss_commit_fsyncs_what_it_writes_and_writes_nothing_before(settings, tmp_path, monkeypatch):
    fsynced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(fd), real_fsync(fd)))
    store = open_store("faiss", tmp_path / "s", DIMS, settings)
    store.upsert(records(np.random.default_rng(3), n=10))
    assert not (tmp_path / "s").exists() and not fsynced
    store.commit()
    assert len(fsynced) >= 4  # the files, the snapshot folder, the store folder, CURRENT


FILE_STEPS = ("replace", "rename", "unlink", "rmdir")
"""The ``os`` calls by which a commit changes files (renames, deletions): a crash point is just before one."""
CRASHED, SYNCED = 70, 71
"""Exit statuses of a ``commit_dying_at`` child that died at its crash point, or where it called ``os.sync`` (which
flushes the whole machine: a commit fsyncs what it wrote)."""
FIRST = records(np.random.default_rng(3), n=20)
CHANGE = records(np.random.default_rng(4), n=10, prefix="n", sources=1)
"""Records that replace those of source ``src0`` in ``FIRST`` (``changed``)."""


def changed(store) -> None:
    """The change set of the commit a crash interrupts: one source's records deleted, others upserted for it."""
    store.delete({"source": "src0"})
    store.upsert(CHANGE)


def held(data: list[StoredVectors]) -> tuple[dict[str, str], dict[str, int]]:
    """What a store holding ``data`` lists: each record's source, and how many vectors each space has."""
    return {r.id: r.payload["source"] for r in data}, {space: sum(space in r.vectors for r in data) for space in DIMS}


LAST_COMMIT = held(FIRST)
NEW_COMMIT = held([r for r in FIRST if r.payload["source"] != "src0"] + CHANGE)


def contents(kind: str, location, settings) -> tuple[dict[str, str], dict[str, int]]:
    """``held``'s view of the store at ``location``, opened anew."""
    store = make_store(kind, location, settings)
    try:
        return {rid: payload["source"] for rid, payload in store.scan()}, {space: store.count(space) for space in DIMS}
    finally:
        store.close()


def commit_dying_at(kind: str, location: str, home: str, crash_at: int) -> None:
    """In a child process (``dying_commit``): a store at ``location`` that committed ``FIRST`` is ``changed`` and
    committed again, the process dying (``os._exit``: nothing closed, nothing flushed) just before that commit's
    ``crash_at``-th ``FILE_STEPS`` call; at 0 before the commit, past its last step just after it returns."""
    store = make_store(kind, Path(location), Settings(home=Path(home)))
    store.upsert(FIRST)
    store.commit()
    changed(store)
    steps = itertools.count(1)

    def dying(call):
        def step(*args, **kwargs):
            if next(steps) == crash_at:
                os._exit(CRASHED)
            return call(*args, **kwargs)

        return step

    for name in FILE_STEPS:
        setattr(os, name, dying(getattr(os, name)))
    os.sync = lambda: os._exit(SYNCED)
    if crash_at == 0:
        os._exit(CRASHED)
    store.commit()
    os._exit(0)


def dying_commit(kind: str, location, home, crash_at: int) -> int:
    """``commit_dying_at`` in a fresh process, which leaves the files as its death left them; its exit status."""
    call = (
        "from tests.retrieval.test_stores import commit_dying_at; "
        f"commit_dying_at{(kind, str(location), str(home), crash_at)!r}"
    )
    return subprocess.run([sys.executable, "-c", call], cwd=Path(__file__).parents[2]).returncode


def test_a_crash_at_any_step_of_a_commit_leaves_the_last_commit_or_the_new_one(store_kind, settings, tmp_path):
    """Crash points, not lucky kills: a child dies before the commit, then before each of its file steps in turn, then
    just after it returns. Reopened, the store holds the last commit or the new one, never a mix: the new one once the
    commit has returned, the last one where the commit never began, unless the store keeps no snapshots (a server
    keeps each write at once; the index shows only the versions its generation lists). Running the change again then
    ends in the new commit."""
    if store_kind == "qdrant-memory":
        pytest.skip("the in-memory twin has nothing to reopen")
    writes_at_once = not store_class(store_name(store_kind)).snapshots
    for crash_at in itertools.count():
        location = tmp_path / f"crash-{crash_at}" / "store"
        status = dying_commit(store_kind, location, settings.home, crash_at)
        assert status in (CRASHED, 0), "it called os.sync" if status == SYNCED else f"the child failed ({status})"
        allowed = (
            [NEW_COMMIT] if status == 0 else [LAST_COMMIT, NEW_COMMIT] if crash_at or writes_at_once else [LAST_COMMIT]
        )
        assert contents(store_kind, location, settings) in allowed, f"a crash before file step {crash_at}"
        store = make_store(store_kind, location, settings)
        changed(store)
        store.commit()
        store.close()
        assert contents(store_kind, location, settings) == NEW_COMMIT, f"run again after a crash at step {crash_at}"
        if status == 0:
            break


def test_qdrant_edge_uncommitted_writes_are_not_durable(settings, tmp_path):
    import subprocess
    import sys

    script = f"""
import os, numpy as np
from pathlib import Path
from pathatlas.settings import Settings
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import open_store
store = open_store("qdrant", Path({str(tmp_path / "q")!r}), {DIMS!r}, Settings(home=Path({str(tmp_path)!r})))
v = {{"text": np.ones(16, np.float32) / 4}}
store.upsert([StoredVectors(f"a{{i}}", {{"source": "a", "kind": "page"}}, v) for i in range(5)])
store.commit()
store.upsert([StoredVectors(f"b{{i}}", {{"source": "b", "kind": "page"}}, v) for i in range(7)])
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    store = make_store("qdrant-edge", tmp_path / "q", settings)
    assert store.count() == 5 and set(store.source_revisions()) == {"a"}
    store.close()


def test_source_revisions_change_only_for_touched_sources(store_kind, settings, tmp_path):
    rng = np.random.default_rng(8)
    store = make_store(store_kind, tmp_path / "store", settings)
    store.upsert(records(rng, n=30, sources=3))
    store.commit()
    before = store.source_revisions()
    if before is None and store_kind.startswith("py:"):  # the built-in stores must tell
        pytest.skip(f"{store_kind} cannot tell revisions (allowed: BM25 then rebuilds from scan)")
    assert set(before) == {"src0", "src1", "src2"}
    store.delete({"source": "src1"})
    store.upsert([StoredVectors("r2", {"kind": "page", "source": "src0"}, {"text": unit(rng, 1, 16)[0]})])
    after = store.source_revisions()
    assert set(after) == {"src0", "src2"}  # src1 is gone; r2 moved from src2 to src0: both touched
    assert after["src0"] != before["src0"] and after["src2"] != before["src2"]
    store.close()


def test_qdrant_shard_from_before_revisions_reports_unknown_then_all_sources(settings, tmp_path):
    rng = np.random.default_rng(10)
    store = make_store("qdrant-edge", tmp_path / "q", settings)
    store.upsert(records(rng, n=12, sources=3))
    store.commit()
    store.close()
    (tmp_path / "q" / "revisions.json").unlink()  # as an index written by an older PathAtlas
    store = make_store("qdrant-edge", tmp_path / "q", settings)
    assert store.source_revisions() is None  # BM25 then rebuilds from a scan instead of trusting nothing
    store.delete({"source": "src0"})
    assert set(store.source_revisions()) == {"src1", "src2"}
    store.close()


def test_quantised_faiss_options_keep_recall_against_exact(settings, tmp_path):
    rng = np.random.default_rng(9)
    centres = unit(rng, 20, 32)
    vectors = centres[rng.integers(0, 20, 3000)] + 0.3 * unit(rng, 3000, 32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data = [StoredVectors(f"r{i}", {"source": "s", "kind": "page"}, {"text": v}) for i, v in enumerate(vectors)]
    queries = vectors[rng.integers(0, 3000, 30)] + 0.05 * unit(rng, 30, 32)
    exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T
    recalls = {}
    for name in ("hnsw", "hnsw-fp16", "hnsw-sq8", "ivf-sq8", "ivf-pq", "ivf-sq4-rerank"):
        config = settings.model_copy(update={"hnsw_threshold": 500, "faiss_index": name})
        store = open_store("faiss", tmp_path / name, {"text": 32}, config)
        store.upsert(data)
        found = store.search("text", queries, k=10)
        recalls[name] = np.mean(
            [len({f"r{i}" for i in e} & {rid for rid, _ in f}) / 10 for e, f in zip(exact, found, strict=True)]
        )
    assert min(recalls["hnsw"], recalls["hnsw-fp16"], recalls["hnsw-sq8"], recalls["ivf-sq8"]) >= 0.9, recalls
    assert recalls["ivf-pq"] >= 0.3, recalls  # PQ trades recall for memory; the benchmark measures it at scale
    assert recalls["ivf-sq4-rerank"] >= 0.95, recalls  # 4-bit codes alone miss; the fp16 re-rank recovers them


def rerank_store(settings, location):
    updates = {"hnsw_threshold": 50, "faiss_index": "ivf-sq4-rerank", "ivf_nprobe": 64, "faiss_compact_fraction": 0.5}
    config = settings.model_copy(update=updates)
    return open_store("faiss", location, DIMS, config), config


def test_faiss_rerank_keeps_4_bit_codes_in_memory_and_fp16_vectors_mapped_from_the_snapshot(settings, tmp_path):
    rng = np.random.default_rng(12)
    store, config = rerank_store(settings, tmp_path / "s")
    data = records(rng, n=300, sources=6)
    store.upsert(data)
    store.commit()
    space = store._spaces["text"]
    base = tmp_path / "s" / "base-000001"
    assert isinstance(space.full.rows, np.memmap) and len(space.full.rows) == 300  # freed from memory at commit
    assert (base / "text.rerank.npy").stat().st_size >= 300 * DIMS["text"] * 2
    assert space.index.code_size == DIMS["text"] // 2 and space.index.direct_map.type == 0  # 4 bits, no id map
    extra = records(rng, n=40, prefix="x", sources=1)  # a delta: its vectors are re-ranked from memory
    store.upsert(extra)
    assert store.delete({"source": "src2"}) == 50
    store.commit()
    assert (tmp_path / "s" / "delta-000002.npz").is_file()
    live = [r for r in data if r.payload["source"] != "src2"] + extra
    reopened, _ = rerank_store(settings, tmp_path / "s")
    for target in (live[3], live[-1], live[100]):
        for candidate in (store, reopened):
            (hits,) = candidate.search("text", target.vectors["text"][None], k=5)
            assert hits[0][0] == target.id and hits[0][1] == pytest.approx(1.0, abs=0.003)
            assert [rid for rid, _ in hits] == brute_force(live, "text", target.vectors["text"], 5)
    (hits,) = reopened.search("text", data[0].vectors["text"][None], k=400)
    assert len(hits) == len(live) and not {rid for rid, _ in hits} & {
        r.id for r in data if r.payload["source"] == "src2"
    }
    exported = reopened.vectors([live[-1].id, live[5].id])
    assert np.allclose(exported[live[-1].id]["text"], live[-1].vectors["text"], atol=1e-3)


def test_faiss_rerank_crash_while_writing_its_vectors_keeps_last_commit(settings, tmp_path, monkeypatch):
    import pathatlas.retrieval.stores.faiss_store as faiss_store

    rng = np.random.default_rng(13)
    store, config = rerank_store(settings, tmp_path / "s")
    store.upsert(records(rng, n=200, sources=4))
    store.commit()
    store.upsert(records(rng, n=200, prefix="y", sources=4))  # past the compact fraction: a new snapshot

    def crash(self, folder, space, keys, chunk=0):
        raise OSError("power cut")

    monkeypatch.setattr(faiss_store._FullVectors, "write", crash)
    with pytest.raises(OSError):
        store.commit()
    monkeypatch.undo()
    reopened, _ = rerank_store(settings, tmp_path / "s")
    assert reopened.count() == 200 and reopened.count("text") == 200
    (hits,) = reopened.search(
        "text", records(np.random.default_rng(13), n=200, sources=4)[9].vectors["text"][None], k=1
    )
    assert hits[0][0] == "r9"
    reopened.upsert(records(rng, n=200, prefix="y", sources=4))
    reopened.commit()
    assert rerank_store(settings, tmp_path / "s")[0].count() == 400


def test_legacy_faiss_snapshot_is_read(settings, tmp_path):
    import json
    import sqlite3

    snapshot = tmp_path / "s" / "v000001"
    snapshot.mkdir(parents=True)
    with sqlite3.connect(snapshot / "payloads.sqlite") as db:
        db.execute("CREATE TABLE records (id TEXT PRIMARY KEY, source TEXT, kind TEXT, payload TEXT)")
        db.execute("INSERT INTO records VALUES ('a', 's', 'page', ?)", (json.dumps({"source": "s", "kind": "page"}),))
    np.save(snapshot / "text.npy", np.eye(16, dtype=np.float32)[:1])
    (snapshot / "text.ids.json").write_text('["a"]')
    (tmp_path / "s" / "CURRENT").write_text("v000001")
    store = open_store("faiss", tmp_path / "s", DIMS, settings)
    assert store.search("text", np.eye(16, dtype=np.float32)[:1], k=1) == [[("a", pytest.approx(1.0))]]
    store.commit()
    assert open_store("faiss", tmp_path / "s", DIMS, settings).count() == 1
    assert not snapshot.exists()


def test_unknown_store_name_is_refused():
    with pytest.raises(UnknownNameError, match="unknown store 'milvus'"):
        store_class("milvus")
    with pytest.raises(UnknownNameError, match="not a VectorStore"):
        store_class("py:pathlib.Path")


def test_faiss_bulk_load_trains_once_and_keeps_no_second_copy_of_its_vectors(settings, tmp_path):
    """Past the threshold the ANN index is built once, at commit or the first search, from the exact vectors."""
    rng = np.random.default_rng(11)
    config = settings.model_copy(update={"hnsw_threshold": 50, "faiss_index": "ivf-sq8", "ivf_nprobe": 64})
    store = open_store("faiss", tmp_path / "s", DIMS, config)
    data = records(rng, n=300, sources=6)
    for start in range(0, 300, 60):
        store.upsert(data[start : start + 60])
    space = store._spaces["text"]
    assert space.kind == "flat"  # not trained per add
    assert not store._pending.more  # the first commit writes a snapshot: no pending copy of the vectors
    store.commit()
    assert space.kind == "ivf" and space.trained == 300
    assert [p.name for p in (tmp_path / "s").iterdir() if p.name.startswith(("base-", "delta-"))] == ["base-000001"]
    reopened = open_store("faiss", tmp_path / "s", DIMS, config)
    (hits,) = reopened.search(
        "text", data[42].vectors["text"][None], k=1, filters={"source": data[42].payload["source"]}
    )
    assert hits[0][0] == data[42].id


def test_filter_codes_accept_many_values_like_matches():
    from pathatlas.retrieval.stores.base import FieldCodes, matches

    codes = FieldCodes(("source",))
    payloads = [{"source": f"s{i % 7}"} for i in range(50)] + [{}]
    codes.put(np.arange(len(payloads)), payloads)
    for wanted in (["s1", "s3", "s6", "nowhere"], "s2", [None], []):
        mask = codes.mask("source", wanted, len(payloads))
        assert mask.tolist() == [matches(p, {"source": wanted}) for p in payloads], wanted


def test_filter_codes_match_payload_lists_and_ignore_the_case_of_organs_like_matches():
    from pathatlas.retrieval.stores.base import FieldCodes, matches

    codes = FieldCodes(("organ", "case"))
    payloads = [{"organ": ["spleen", "Liver"], "case": "A"}, {"organ": "liver", "case": "a"}, {"organ": "LUNG"}, {}]
    rows = np.arange(len(payloads))
    codes.put(rows[:2], payloads[:2])
    codes.put(rows[2:], payloads[2:])  # a later batch without lists: the field still holds one
    for field, wanted in [("organ", "liver"), ("organ", ["Spleen"]), ("organ", "lung"), ("organ", [None])]:
        mask = codes.mask(field, wanted, len(payloads))
        assert mask.tolist() == [matches(p, {field: wanted}) for p in payloads], wanted
    assert codes.mask("organ", "LIVER", 4).tolist() == [True, True, False, False]
    assert codes.mask("case", "a", 4).tolist() == [False, True, False, False], "case ids stay exact"


def test_lists_in_payloads_and_the_case_of_diagnosis_and_organ(store_kind, settings, tmp_path):
    """A payload list (a case of two organs) matches a filter on any of its items, as Qdrant matches an array; a
    diagnosis or organ filter ignores case ("organ=Lung" found nothing where the cases say "lung"); other fields
    stay exact. Every store agrees with ``matches``, in search, scan and delete."""
    rng = np.random.default_rng(7)
    organs = [["spleen", "liver"], "lung", "Lung", "LUNG", ["Liver"], None, "skin", ["lung", "kidney"]]
    diagnoses = ["Angiosarcoma", "tuberculosis", "Tuberculosis", None, "angiosarcoma", "x", "y", "Sarcoidosis"]
    data = []
    for i, vector in enumerate(unit(rng, 40, DIMS["text"])):
        payload = {"kind": "case", "source": f"src{i % 2}", "case": f"C{i % 8}"}
        for field, value in (("organ", organs[i % 8]), ("diagnosis", diagnoses[i % 8])):
            if value is not None:
                payload[field] = value
        data.append(StoredVectors(f"r{i}", payload, {"text": vector}))
    store = make_store(store_kind, tmp_path / "store", settings)
    store.upsert(data)
    query = data[0].vectors["text"]
    for filters in (
        {"organ": "liver"},
        {"organ": "LIVER"},
        {"organ": "lung"},
        {"organ": ["Kidney", "skin"]},
        {"organ": "spleen, liver"},
        {"diagnosis": "TUBERCULOSIS"},
        {"diagnosis": ["angiosarcoma", "sarcoidosis"], "organ": "Liver"},
        {"case": "c1"},
        {"kind": "Case"},
    ):
        expected = brute_force(data, "text", query, 40, filters)
        (hits,) = store.search("text", query[None], k=40, filters=filters)
        assert {rid for rid, _ in hits} == set(expected), filters
        assert {rid for rid, _ in store.scan(filters)} == set(expected), filters
    assert len(brute_force(data, "text", query, 40, {"organ": "Lung"})) == 20
    assert brute_force(data, "text", query, 40, {"organ": "spleen, liver"}) == []
    assert brute_force(data, "text", query, 40, {"case": "c1"}) == []
    assert store.payloads(["r0"])["r0"]["organ"] == ["spleen", "liver"]
    assert store.delete({"organ": "KIDNEY"}) == 5
    assert {rid for rid, _ in store.scan()} == {f"r{i}" for i in range(40) if i % 8 != 7}
    store.close()
