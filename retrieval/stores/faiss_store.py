"""FAISS on local disk, written incrementally: a base snapshot plus one small delta per commit.

Every record gets an int64 key (never reused). Each space is one FAISS index holding keys: exact
(``IndexIDMap2`` over ``IndexFlatIP``) up to ``hnsw_threshold`` vectors, then the ANN index that
``faiss_index`` names (HNSW over float32, fp16 or SQ8 codes, or IVF with SQ8 or PQ codes; or IVF with
4-bit codes whose shortlist of ``faiss_rerank_factor`` x k is re-ranked exactly from fp16 vectors kept
in a memory-mapped file of the snapshot, so memory holds half a byte per dimension). Adds go
straight into the index (HNSW grows without a rebuild); removals use ``remove_ids`` where the index
supports it, and otherwise become tombstones hidden by an ``IDSelector`` until they pass
``faiss_rebuild_fraction`` of the space, when that space alone is rebuilt.

Filters never loop in Python: each filter field keeps an int32 code per key, a filter becomes a
bitmap over keys (cached until the next write) and FAISS applies it through ``IDSelectorBitmap``;
when few records match, they are scored exactly instead.

Reads share the store (``_ReadWriteLock``): FAISS searches a built index from many threads at once, outside the GIL,
so a service's text and image lanes search together; a write waits for the reads in flight and holds the store alone,
so no read meets it half applied.

Layout of ``location``::

    CURRENT            the live state (JSON: base, deltas, revisions), replaced atomically
    base-000003/       a full snapshot: records.json and <space>.faiss (and, for ivf-sq4-rerank,
                       <space>.rerank.npy and <space>.rerank-keys.npy: fp16 vectors and their keys)
    delta-000004.npz   one commit's changes: upserted records, removed keys, added vectors

``commit`` writes a delta (or, once deltas pass ``faiss_compact_fraction`` of the base, a new
base), fsyncs it and its folder, then replaces ``CURRENT``; a crash at any point leaves the
previous state. Files that neither the live nor the previous state names are removed afterwards
(the previous state stays readable for one more commit, for an index that switches generations).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import threading
import uuid
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.durable import fsync_dir, write_atomic, write_file
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores.base import (
    FieldCodes,
    Filters,
    ScoredIds,
    VectorStore,
    filter_key,
    grow,
    matches,
)
from pathatlas.settings import ENVIRONMENT_ERRORS, Settings

try:
    import faiss
except ImportError:  # pragma: no cover - depends on the install
    faiss = None


EXACT_FRACTION = 0.02
"""A filter matching at most this share of an ANN space is scored exactly (ANN recall drops there)."""


MASK_CACHE = 16
"""Filter bitmaps kept between writes (one byte per key each)."""


UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RuntimeError, sqlite3.Error)
"""What reading a damaged store file raises: orjson's and numpy's ValueError, a delta cut short (BadZipFile; EOFError
when empty) or missing an array (KeyError), faiss's RuntimeError, a legacy snapshot's sqlite3.Error."""


FAISS_WHERE = re.compile(r"^Error in .*? at \S+:\d+: (Error: '.*?' failed: )?")
"""What leads faiss's error: its C++ function, source line and failed check ("Error in void faiss::read_xb_vector(...)
at /project/faiss/impl/index_read.cpp:276: Error: 'ret == (size)' failed: ")."""


class _ReadWriteLock:
    """Reads together, each write alone. A waiting write goes before reads that come after it: a service's searches
    arriving all the time would otherwise keep it waiting for good. Not reentrant."""

    def __init__(self):
        self._turn = threading.Condition()
        self._reads = 0
        self._writing = False
        self._writes_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._turn:
            self._turn.wait_for(lambda: not (self._writing or self._writes_waiting))
            self._reads += 1
        try:
            yield
        finally:
            with self._turn:
                self._reads -= 1
                self._turn.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._turn:
            self._writes_waiting += 1
            try:
                self._turn.wait_for(lambda: not (self._writing or self._reads))
            finally:
                self._writes_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._turn:
                self._writing = False
                self._turn.notify_all()


def _bitmap(mask: np.ndarray):
    bits = np.packbits(mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    selector.bits = bits  # keep the buffer alive as long as the selector
    return selector


class _Space:
    """One space: its FAISS index, which keys are live in it, and its tombstones."""

    def __init__(self, dim: int, settings: Settings):
        self.dim = dim
        self.settings = settings
        self.index = None
        self.kind = "flat"
        self.present = np.zeros(0, dtype=bool)
        self.live = 0
        self.tombstones = 0
        self.trained = 0  # vectors an IVF index was trained on: it is retrained once the space grows 8x
        self.rebuilt = False  # since the last snapshot: the next commit must write one
        self.full: _FullVectors | None = None  # ivf-sq4-rerank: exact vectors that re-rank the shortlist

    # -- building -------------------------------------------------------------------------------
    def _new_flat(self):
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _new_ann(self, vectors: np.ndarray):
        name, d, n = self.settings.faiss_index, self.dim, len(vectors)
        ip = faiss.METRIC_INNER_PRODUCT
        if name.startswith("ivf"):
            nlist = int(max(1, min(2 * np.sqrt(n), n // 39)))
            quantizer = faiss.IndexFlatIP(d)
            if name == "ivf-pq":
                m = max(m for m in range(1, d // 4 + 1) if d % m == 0 and m <= max(1, d // 8))
                index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, ip)
            else:
                bits = faiss.ScalarQuantizer.QT_4bit if name == "ivf-sq4-rerank" else faiss.ScalarQuantizer.QT_8bit
                index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, bits, ip)
            index.own_fields = True
            quantizer.this.disown()
            index.cp.niter = 10  # k-means converges well before faiss's default 25 here; training is the build's cost
            index.cp.min_points_per_centroid = 32
            sample = vectors[np.random.default_rng(0).permutation(n)[: max(nlist * 32, 10_000)]]
            index.train(sample)
            if name != "ivf-sq4-rerank":  # re-ranking reads its own vectors: no id -> code map (24+ B a vector)
                index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.nprobe = self.settings.ivf_nprobe
            self.kind, self.trained = "ivf", n
            return index
        if name == "hnsw":
            inner = faiss.IndexHNSWFlat(d, self.settings.hnsw_m, ip)
        else:
            qtype = {"hnsw-sq8": faiss.ScalarQuantizer.QT_8bit, "hnsw-fp16": faiss.ScalarQuantizer.QT_fp16}[name]
            inner = faiss.IndexHNSWSQ(d, qtype, self.settings.hnsw_m, ip)
            inner.train(vectors)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = self.settings.hnsw_ef_search
        self.kind = "hnsw"
        return faiss.IndexIDMap2(inner)

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        """Live keys and their vectors (decoded, for quantised indexes; a flat index lends its own, uncopied)."""
        if self.kind == "flat" and self.index is not None:  # removals are physical: every stored vector is live
            flat = faiss.downcast_index(self.index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * self.dim).reshape(flat.ntotal, self.dim)
            return faiss.vector_to_array(self.index.id_map).astype(np.int64), vectors
        keys = np.flatnonzero(self.present).astype(np.int64)
        return keys, self.vectors_of(keys)

    def vectors_of(self, keys: np.ndarray) -> np.ndarray:
        """Float32 vectors of present ``keys``: the re-ranking copy where there is one, else from the index."""
        if not len(keys):
            return np.zeros((0, self.dim), np.float32)
        return self.full.get(keys) if self.full is not None else self.index.reconstruct_batch(keys)

    def rebuild(self) -> None:
        """A fresh index of the live vectors: flat while small, ANN above the threshold."""
        keys, vectors = self._all()  # may point into the current index: it is replaced only at the end
        self.kind = "flat"
        index = self._new_ann(vectors) if len(keys) > self.settings.hnsw_threshold else self._new_flat()
        if len(keys):
            index.add_with_ids(vectors, keys)
        rerank = self.kind == "ivf" and self.settings.faiss_index == "ivf-sq4-rerank"
        self.full = _FullVectors(self.dim, keys, vectors) if rerank else None  # in memory until the snapshot
        self.index = index
        self.tombstones = 0
        self.rebuilt = True

    # -- writes ---------------------------------------------------------------------------------
    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if self.index is None:
            self.index = self._new_flat()
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys)
        if self.full is not None:
            self.full.add(keys, vectors)
        self.present = grow(self.present, int(keys.max()) + 1)
        self.present[keys] = True
        self.live += len(keys)

    def unsettled(self) -> bool:
        """Whether the space is due to switch to the ANN index, or to retrain an IVF that grew 8x (``settle``)."""
        return (self.kind == "flat" and self.live > self.settings.hnsw_threshold) or (
            self.kind == "ivf" and self.live > 8 * self.trained
        )

    def settle(self) -> None:
        """Switch to the ANN index, or retrain an IVF that grew 8x, if due.

        Called at commit and search, not per add: a bulk load of any size trains once, on the exact
        vectors of the flat index, instead of retraining on vectors decoded from quantised codes.
        """
        if self.unsettled():
            self.rebuild()

    def remove(self, keys: np.ndarray) -> None:
        keys = keys[keys < len(self.present)]
        keys = keys[self.present[keys]]
        if not len(keys):
            return
        self.present[keys] = False
        self.live -= len(keys)
        if self.kind == "hnsw":  # HNSW cannot remove: hide, and rebuild past the threshold
            self.tombstones += len(keys)
            if self.tombstones > self.settings.faiss_rebuild_fraction * (self.live + self.tombstones):
                self.rebuild()
        elif self.kind == "ivf" and self.full is None:  # the IVF direct map removes by an explicit list of ids
            keys = np.ascontiguousarray(keys, dtype=np.int64)
            self.index.remove_ids(faiss.IDSelectorArray(len(keys), faiss.swig_ptr(keys)))
        else:
            self.index.remove_ids(faiss.IDSelectorBatch(keys))

    # -- reads ----------------------------------------------------------------------------------
    def _params(self, selector, k: int):
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.settings.hnsw_ef_search, k))
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.settings.ivf_nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, keys) per query; ``allowed`` is a bool mask over keys (filters), or None."""
        if allowed is None and not self.tombstones:
            return self._ann(queries, min(k, self.live), None)
        mask = self.present if allowed is None else self.present & allowed[: len(self.present)]
        count = int(np.count_nonzero(mask))
        k = min(k, count)
        if k == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self.kind != "flat" and count <= EXACT_FRACTION * self.live:
            keys = np.flatnonzero(mask).astype(np.int64)
            scores = queries @ self.vectors_of(keys).T
            best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            best = np.take_along_axis(best, np.argsort(-np.take_along_axis(scores, best, 1), axis=1), 1)
            return np.take_along_axis(scores, best, 1), keys[best]
        return self._ann(queries, k, _bitmap(mask))

    def _ann(self, queries: np.ndarray, k: int, selector) -> tuple[np.ndarray, np.ndarray]:
        """The index's top ``k``; with a re-ranking copy, a shortlist of ``faiss_rerank_factor * k`` re-ranked."""
        if self.full is None:
            return self.index.search(queries, k, params=self._params(selector, k))
        shortlist = k * self.settings.faiss_rerank_factor
        _, candidates = self.index.search(queries, shortlist, params=self._params(selector, shortlist))
        scores = np.full((len(queries), k), -np.inf, np.float32)
        keys = np.full((len(queries), k), -1, np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
            found = found[found >= 0]
            exact = self.full.get(found) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(best)], keys[row, : len(best)] = exact[best], found[best]
        return scores, keys


class _FullVectors:
    """fp16 vectors by key that re-rank an ivf-sq4-rerank shortlist: a snapshot's memory-mapped file (only the
    rows a search touches are read, into the page cache) plus, in memory, the rows added since that snapshot."""

    def __init__(self, dim: int, keys: np.ndarray, rows: np.ndarray):
        if len(keys) > 1 and not np.all(keys[1:] > keys[:-1]):
            order = np.argsort(keys)
            keys, rows = keys[order], np.asarray(rows)[order]
        self.dim = dim
        self.keys = keys.astype(np.int64, copy=False)
        self.rows = rows if rows.dtype == np.float16 else rows.astype(np.float16)  # a memmap stays one
        self.added = np.zeros((0, dim), np.float16)  # rows of keys past ``len(self.rows)`` in ``self.keys``

    @classmethod
    def open(cls, folder: Path, space: str, dim: int) -> _FullVectors:
        return cls(
            dim, np.load(folder / f"{space}.rerank-keys.npy"), np.load(folder / f"{space}.rerank.npy", mmap_mode="r")
        )

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Rows for new keys (keys only grow, so they sort after every key held)."""
        if len(self.keys) and int(keys.min()) <= int(self.keys[-1]):
            raise ValueError("re-ranking vectors are added in key order")
        self.keys = np.concatenate([self.keys, keys.astype(np.int64)])
        self.added = np.concatenate([self.added, np.asarray(vectors, dtype=np.float16)])

    def get(self, keys: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self.keys, keys)
        out = np.empty((len(keys), self.dim), np.float32)
        stored = position < len(self.rows)
        out[stored] = self.rows[position[stored]]
        out[~stored] = self.added[position[~stored] - len(self.rows)]
        return out

    def write(self, folder: Path, space: str, keys: np.ndarray, chunk: int = 65_536) -> None:
        """The rows of ``keys`` (sorted) as ``<space>.rerank.npy``, written in chunks, fsynced, then mapped from
        there (the in-memory rows of a bulk load are freed)."""
        rows_path = folder / f"{space}.rerank.npy"
        rows = np.lib.format.open_memmap(rows_path, mode="w+", dtype=np.float16, shape=(len(keys), self.dim))
        for start in range(0, len(keys), chunk):
            rows[start : start + chunk] = self.get(keys[start : start + chunk])
        rows.flush()
        del rows
        with (folder / f"{space}.rerank-keys.npy").open("wb") as handle:
            np.save(handle, keys.astype(np.int64))
        for path in (rows_path, folder / f"{space}.rerank-keys.npy"):
            fsync_dir(path)  # fsync works on a file as on a folder
        reopened = _FullVectors.open(folder, space, self.dim)
        self.keys, self.rows, self.added = reopened.keys, reopened.rows, reopened.added


class FaissStore(VectorStore):
    kind = "faiss"
    snapshots = True
    opens_twice = True

    def __init__(self, location: Path, dims: Mapping[str, int], settings: Settings, version: str | None = None):
        if faiss is None:
            raise PathAtlasError("the faiss store needs faiss: pip install 'pathatlas[cpu]' (or [gpu])")
        super().__init__(location, dims, settings)
        self.exact_vectors = settings.faiss_index == "hnsw"
        """A space past ``hnsw_threshold`` (which any commit may pass) keeps 8-bit, 4-bit or PQ codes, or fp16
        vectors, unless ``faiss_index`` is ``hnsw``."""
        self._lock = _ReadWriteLock()
        self._ids: list[str | None] = []  # key -> record id, None once removed
        self._keys: dict[str, int] = {}
        self._payloads: dict[str, dict[str, Any]] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._fields = FieldCodes()
        self._spaces = {space: _Space(dim, settings) for space, dim in self.dims.items()}
        self._revisions: dict[str, str] = {}
        self._masks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._state: dict[str, Any] = {"version": 0, "base": None, "deltas": [], "delta_records": 0, "base_records": 0}
        self._pending = _Delta()
        self._pending_count = 0  # records upserted or removed since the last commit
        try:
            self._load(version)
        except UNREADABLE as exc:
            if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRORS:
                raise  # no permission is no damage: the CLI and the server say so in one line (os_problem)
            raise PathAtlasError(
                f"FAISS store at {self.location} is damaged: {self._fault(exc)}; restore it from a backup or "
                "re-create the index"
            ) from exc

    def _fault(self, exc: BaseException) -> str:
        """A damaged file's fault in a few words: the file (``_reading`` notes it) and the first line of what its
        reader said (an OS error's words without the path)."""
        said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        said = (said or type(exc).__name__).splitlines()[0]
        named = getattr(exc, "__notes__", [])
        return f"{os.path.relpath(named[-1], self.location)}: {said}" if named else said

    @property
    def version(self) -> str | None:
        """The committed state this store holds; ``FaissStore(..., version=)`` reopens it until the next commit."""
        return str(self._state["version"]) if self._state["version"] else None

    # -- the in-memory state --------------------------------------------------------------------
    def _put(self, records: list[tuple[str, int, dict[str, Any]]]) -> None:
        """(id, key, payload) rows into the in-memory state, a column at a time (a snapshot has millions)."""
        if not records:
            return
        ids, keys, payloads = zip(*records, strict=True)
        rows = np.fromiter(keys, dtype=np.int64, count=len(keys))
        size = int(rows.max()) + 1
        self._ids.extend([None] * (size - len(self._ids)))
        if len(self._ids) == size and np.array_equal(rows, np.arange(size - len(rows), size)):
            self._ids[size - len(rows) :] = ids  # keys run in order to the end: the usual case
        else:
            for record_id, key in zip(ids, keys, strict=True):
                self._ids[key] = record_id
        self._keys.update(zip(ids, keys, strict=True))
        self._payloads.update(zip(ids, payloads, strict=True))
        self._alive = grow(self._alive, size)
        self._alive[rows] = True
        self._fields.put(rows, payloads)

    def _drop(self, keys: np.ndarray) -> None:
        for key in keys.tolist():
            record_id = self._ids[key]
            if record_id is not None and self._keys.get(record_id) == key:
                del self._keys[record_id]
                del self._payloads[record_id]
            self._ids[key] = None
        self._alive[keys] = False
        for state in self._spaces.values():
            if state.index is not None:
                state.remove(keys)

    def _apply(self, delta: _Delta) -> None:
        """Upserts, then vectors, then removals: keys are never reused, so this order is always right."""
        self._put(delta.records)
        for space, (keys, vectors) in delta.vectors.items():
            if space in self._spaces and len(keys):
                self._spaces[space].add(keys, vectors)
        if len(delta.removed):
            self._drop(delta.removed)
        self._masks.clear()

    def _mask(self, filters: Filters) -> np.ndarray:
        """Live keys matching ``filters``, as a bool array over keys; cached until the next write."""
        cache_key = filter_key(filters)
        mask = self._masks.get(cache_key)
        if mask is not None:
            return mask
        mask = self._alive.copy()
        for field, wanted in filters.items():
            field_mask = self._fields.mask(field, wanted, len(mask))
            if field_mask is None:  # a field without codes: the slow path, still exact
                field_mask = np.zeros_like(mask)
                field_mask[[self._keys[rid] for rid, p in self._payloads.items() if matches(p, {field: wanted})]] = True
            mask &= field_mask
        if len(self._masks) >= MASK_CACHE:  # e.g. BM25 reading 1000 sources one by one: keep memory bounded
            self._masks.popitem(last=False)  # one step, as reads sharing the cache need
        self._masks[cache_key] = mask
        return mask

    def _touch(self, sources: set[Any]) -> None:
        for source in sources:
            self._revisions[str(source)] = uuid.uuid4().hex

    # -- writes ---------------------------------------------------------------------------------
    def upsert(self, records: list[StoredVectors]) -> None:
        if not records:
            return
        with self._lock.writing():
            latest = {record.id: record for record in records}  # the last of duplicate ids wins
            replaced = np.array([self._keys[rid] for rid in latest if rid in self._keys], dtype=np.int64)
            touched = {p.get("source") for p in (self._payloads[self._ids[k]] for k in replaced.tolist())}
            start = len(self._ids)
            delta = _Delta(removed=replaced)
            for offset, record in enumerate(latest.values()):
                delta.records.append((record.id, start + offset, record.payload))
                touched.add(record.payload.get("source"))
            for space in self.dims:
                rows = [(start + i, r.vectors[space]) for i, r in enumerate(latest.values()) if space in r.vectors]
                if rows:
                    keys = np.array([k for k, _ in rows], dtype=np.int64)
                    delta.vectors[space] = (keys, np.stack([v for _, v in rows]).astype(np.float32))
            self._apply(delta)
            self._stage(delta)
            self._touch(touched)

    def delete(self, filters: Filters) -> int:
        with self._lock.writing():
            keys = np.flatnonzero(self._mask(filters)).astype(np.int64)
            if not len(keys):
                return 0
            touched = {self._payloads[self._ids[k]].get("source") for k in keys.tolist()}
            delta = _Delta(removed=keys)
            self._apply(delta)
            self._stage(delta)
            self._touch(touched)
            present = self._present_sources()
            for source in touched:
                if str(source) not in present:
                    self._revisions.pop(str(source), None)
            return len(keys)

    def _present_sources(self) -> set[str]:
        return {str(v) for v in self._fields.values_of("source", np.flatnonzero(self._alive))}

    # -- persistence ----------------------------------------------------------------------------
    def _base_due(self) -> bool:
        """Whether the next commit writes a full snapshot (first commit, or deltas past the compact fraction)."""
        state = self._state
        return state["base"] is None or (
            state["delta_records"] + self._pending_count
            > self.settings.faiss_compact_fraction * max(state["base_records"], 1)
        )

    def _stage(self, delta: _Delta) -> None:
        """Keep ``delta`` for the next commit's delta file; not once that commit will write a snapshot anyway
        (a bulk load then holds its vectors once, in the index, not twice)."""
        self._pending_count += len(delta.records) + len(delta.removed)
        if self._base_due():
            self._pending = _Delta()
        else:
            self._pending.extend(delta)

    def commit(self) -> None:
        with self._lock.writing():
            if not self._pending_count:
                return
            self.location.mkdir(parents=True, exist_ok=True)
            previous = dict(self._state)
            version = previous["version"] + 1
            state = {**previous, "version": version, "revisions": self._revisions, "next_key": len(self._ids)}
            for space in self._spaces.values():
                space.settle()
            if self._base_due() or any(space.rebuilt for space in self._spaces.values()):
                state.update(base=self._write_base(version), deltas=[], delta_records=0, base_records=len(self._keys))
            else:
                state.update(
                    deltas=[*previous["deltas"], self._write_delta(version, self._pending.joined())],
                    delta_records=previous["delta_records"] + self._pending_count,
                )
            document = orjson.dumps(state)
            write_atomic(self.location / _state_file(version), document)  # reopened by version
            write_atomic(self.location / "CURRENT", document)
            self._state = state
            self._pending, self._pending_count = _Delta(), 0
            self._prune(previous, state)

    def _write_base(self, version: int) -> str:
        """A full snapshot in ``base-<version>``; one whose writing fails is deleted (a full disk: its part took the
        room the next try needs), as no state names it yet."""
        name = f"base-{version:06d}"
        folder = self.location / name
        shutil.rmtree(folder, ignore_errors=True)  # leftovers of a crashed commit
        folder.mkdir()
        try:
            self._fill_base(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return name

    def _fill_base(self, folder: Path) -> None:
        records = [(rid, key, self._payloads[rid]) for rid, key in self._keys.items()]
        write_file(folder / "records.json", orjson.dumps(records))
        for space, state in self._spaces.items():
            if state.index is not None and state.live:
                if state.tombstones:
                    state.rebuild()
                _write_index(state.index, folder / f"{space}.faiss")  # no in-memory copy
                fsync_dir(folder / f"{space}.faiss")  # fsync works on a file as on a folder
                if state.full is not None:
                    state.full.write(folder, space, np.flatnonzero(state.present).astype(np.int64))
            state.rebuilt = False
        fsync_dir(folder)
        fsync_dir(self.location)

    def _write_delta(self, version: int, pending: _Delta) -> str:
        name = f"delta-{version:06d}.npz"
        arrays = {
            "records": np.frombuffer(orjson.dumps(pending.records), dtype=np.uint8),
            "removed": pending.removed,
        }
        for space, (keys, vectors) in pending.vectors.items():
            arrays[f"keys.{space}"], arrays[f"vectors.{space}"] = keys, vectors
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            write_file(self.location / name, buffer.getvalue())
        except BaseException:
            (self.location / name).unlink(missing_ok=True)  # as a base's (``_write_base``)
            raise
        fsync_dir(self.location)
        return name

    def _prune(self, previous: dict[str, Any], state: dict[str, Any]) -> None:
        keep = {previous["base"], state["base"], *previous["deltas"], *state["deltas"], "CURRENT"}
        keep |= {_state_file(previous["version"]), _state_file(state["version"])}
        for child in self.location.iterdir():
            if child.name not in keep and (
                child.name.startswith(("base-", "delta-", "state-", "v0")) or child.suffix == ".tmp"
            ):
                shutil.rmtree(child) if child.is_dir() else child.unlink()

    def _load(self, version: str | None) -> None:
        pointer = self.location / "CURRENT"
        if version is not None and not version.startswith("v0"):
            pointer = self.location / _state_file(int(version))
            if not pointer.is_file():
                raise PathAtlasError(f"FAISS store at {self.location} no longer holds version {version}")
        if not pointer.is_file():
            return
        text = pointer.read_bytes()
        if text.strip().startswith(b"v0"):
            self._load_legacy(self.location / text.decode().strip())
            return
        with _reading(pointer):
            state = orjson.loads(text)
        base = self.location / state["base"]
        if not (base / "records.json").is_file():
            raise PathAtlasError(f"FAISS store at {self.location} points at a missing snapshot {base.name}")
        with _reading(base / "records.json") as path:
            self._put(orjson.loads(path.read_bytes()))
        self._ids.extend([None] * (state["next_key"] - len(self._ids)))
        for space, space_state in self._spaces.items():
            path = base / f"{space}.faiss"
            if path.is_file():
                with _reading(path):
                    space_state.index = _read_index(path)
                space_state.kind = _kind_of(space_state.index)
                keys = _index_keys(space_state.index)
                space_state.present = grow(space_state.present, int(keys.max(initial=-1)) + 1)
                space_state.present[keys] = True
                space_state.live = space_state.trained = len(keys)
                if (base / f"{space}.rerank.npy").is_file():
                    with _reading(base / f"{space}.rerank.npy"):
                        space_state.full = _FullVectors.open(base, space, space_state.dim)
        for name in state["deltas"]:
            with _reading(self.location / name) as path, np.load(path) as arrays:
                records = [tuple(r) for r in orjson.loads(arrays["records"].tobytes())]
                vectors = {
                    f.split(".", 1)[1]: (arrays[f], arrays["vectors." + f.split(".", 1)[1]])
                    for f in arrays.files
                    if f.startswith("keys.")
                }
                self._apply(_Delta(records, arrays["removed"], vectors))
        self._revisions = dict(state.get("revisions", {}))
        self._state = state

    def _load_legacy(self, snapshot: Path) -> None:
        """Read a store written before deltas (``v000001/`` snapshots); the next commit rewrites it."""
        with sqlite3.connect(snapshot / "payloads.sqlite") as db:
            payloads = {rid: json.loads(p) for rid, p in db.execute("SELECT id, payload FROM records")}
        vectors: dict[str, dict[str, np.ndarray]] = {rid: {} for rid in payloads}
        for space in self.dims:
            if (snapshot / f"{space}.npy").is_file():
                ids = json.loads((snapshot / f"{space}.ids.json").read_text())
                for rid, vector in zip(ids, np.load(snapshot / f"{space}.npy"), strict=True):
                    vectors[rid][space] = vector
        self.upsert([StoredVectors(rid, payload, vectors[rid]) for rid, payload in payloads.items()])

    # -- reads ----------------------------------------------------------------------------------
    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]:
        queries = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
        state = self._spaces.get(space)
        if state is not None and state.unsettled():  # grown past its index since the last commit: rebuilt alone
            with self._lock.writing():
                state.settle()
        with self._lock.reading():
            if state is None or not state.live or k <= 0:
                return [[] for _ in queries]
            scores, keys = state.search(queries, k, self._mask(filters) if filters else None)
            ids = self._ids
            return [
                [(ids[key], float(score)) for score, key in zip(s_row, k_row, strict=True) if key >= 0]
                for s_row, k_row in zip(scores.tolist(), keys.tolist(), strict=True)
            ]

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._lock.reading():
            return {rid: self._payloads[rid] for rid in ids if rid in self._payloads}

    def vectors(self, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
        with self._lock.reading():
            keys = {rid: self._keys[rid] for rid in ids if rid in self._keys and rid in self._payloads}
            found: dict[str, dict[str, np.ndarray]] = {rid: {} for rid in keys}
            for space, state in self._spaces.items():
                have = [(rid, k) for rid, k in keys.items() if k < len(state.present) and state.present[k]]
                if state.index is None or not have:
                    continue
                vectors = state.vectors_of(np.array([k for _, k in have], dtype=np.int64))
                for (rid, _), vector in zip(have, vectors, strict=True):
                    found[rid][space] = vector
        return found

    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock.reading():
            if filters:
                ids = [self._ids[key] for key in np.flatnonzero(self._mask(filters)).tolist()]
                items = [(rid, self._payloads[rid]) for rid in ids]
            else:
                items = list(self._payloads.items())
        return iter(items)

    def records(self, batch: int = 1000) -> Iterator[list[StoredVectors]]:
        with self._lock.reading():
            keys = np.array(sorted(self._keys.values()), dtype=np.int64)
        for start in range(0, len(keys), batch):
            with self._lock.reading():
                chunk = keys[start : start + batch]
                chunk = chunk[self._alive[chunk]]
                out = {int(k): StoredVectors(self._ids[k], self._payloads[self._ids[k]], {}) for k in chunk.tolist()}
                for space, state in self._spaces.items():
                    if state.index is None:
                        continue
                    have = chunk[chunk < len(state.present)]
                    have = have[state.present[have]]
                    if len(have):
                        for key, vector in zip(have.tolist(), state.vectors_of(have), strict=True):
                            out[key].vectors[space] = vector
            yield list(out.values())

    def count(self, space: str | None = None) -> int:
        if space is None:
            return len(self._payloads)
        state = self._spaces.get(space)
        return state.live if state else 0

    def value_counts(self, field: str) -> Counter[Any]:
        if field not in self._fields.codes:
            return super().value_counts(field)
        with self._lock.reading():
            return self._fields.counts(field, np.flatnonzero(self._alive))

    def source_revisions(self) -> dict[str, str]:
        with self._lock.reading():
            return dict(self._revisions)


class _Delta:
    """One commit's changes (or the pending ones): upserted records, added vectors, removed keys."""

    def __init__(self, records=None, removed=None, vectors=None):
        self.records: list[tuple[str, int, dict[str, Any]]] = records if records is not None else []
        self.removed: np.ndarray = removed if removed is not None else np.zeros(0, dtype=np.int64)
        self.vectors: dict[str, tuple[np.ndarray, np.ndarray]] = vectors if vectors is not None else {}
        self.more: list[_Delta] = []  # later changes, joined once at commit (joining per write is quadratic)

    def extend(self, other: _Delta) -> None:
        self.more.append(other)

    def joined(self) -> _Delta:
        parts = [self, *self.more]
        vectors = {}
        for space in {space for d in parts for space in d.vectors}:
            chunks = [d.vectors[space] for d in parts if space in d.vectors]
            vectors[space] = (np.concatenate([k for k, _ in chunks]), np.concatenate([v for _, v in chunks]))
        removed = np.concatenate([d.removed for d in parts]).astype(np.int64)
        return _Delta([r for d in parts for r in d.records], removed, vectors)


def _state_file(version: int) -> str:
    return f"state-{version:06d}.json"


def _write_index(index, path: Path) -> None:
    """``faiss.write_index``, whose failed write (a full disk) is a RuntimeError naming the system's reason: raised as
    the ``OSError`` it is, naming the file, so the index says it in one line."""
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        code = next((c for c in ENVIRONMENT_ERRORS if os.strerror(c) in str(exc)), None)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from exc


def _read_index(path: Path):
    """``faiss.read_index``, whose error on a damaged file (``FAISS_WHERE`` and then "read error in PATH: 0 != 1") is
    raised as a ValueError of its first words ("read error")."""
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise ValueError(FAISS_WHERE.sub("", str(exc)).replace(f" in {path}", "").split(": ")[0]) from exc


@contextmanager
def _reading(path: Path) -> Iterator[Path]:
    """Around reading ``path``: what a damaged file raises notes it, so the store's one line names the file."""
    try:
        yield path
    except UNREADABLE as exc:
        exc.add_note(str(path))
        raise


def _kind_of(index) -> str:
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"


def _index_keys(index) -> np.ndarray:
    if isinstance(index, faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    invlists = index.invlists
    return np.concatenate(
        [faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy() for i in range(index.nlist)]
        or [np.zeros(0, np.int64)]
    ).astype(np.int64)
