"""FAISS on local disk: exact search for small spaces, HNSW above ``hnsw_threshold``.

Layout of ``location``: ``v000001/``, ``v000002/``... each a complete snapshot (``payloads.sqlite``,
``<space>.npy`` vectors, ``<space>.ids.json`` and, for HNSW spaces, ``<space>.faiss``), and
``CURRENT`` naming the live one. ``commit`` writes a new snapshot (hard-linking files of spaces
that did not change), fsyncs it and then switches ``CURRENT`` with an atomic rename, so a crash at any
point leaves the previous snapshot readable. The snapshot a store was opened at is kept until the next
commit, so an index whose generation pointer still names it (a crash before the pointer moved) opens it
with ``version=``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.durable import fsync_tree, write_atomic
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores.base import Filters, ScoredIds, VectorStore, matches
from pathatlas.settings import Settings

try:
    import faiss
except ImportError:  # pragma: no cover - depends on the install
    faiss = None


def gpu_count() -> int:
    return faiss.get_num_gpus() if faiss is not None and hasattr(faiss, "get_num_gpus") else 0


class _Space:
    """Vectors of one space, their row ids and a lazily built FAISS index."""

    def __init__(self, dim: int, vectors: np.ndarray | None = None, ids: list[str] | None = None):
        self.dim = dim
        self.vectors = vectors if vectors is not None else np.zeros((0, dim), dtype=np.float32)
        self.ids = ids or []
        self.row = {record_id: i for i, record_id in enumerate(self.ids)}
        self.index = None
        self.dirty = False

    def remove(self, ids: set[str]) -> None:
        keep = [i for i, record_id in enumerate(self.ids) if record_id not in ids]
        if len(keep) == len(self.ids):
            return
        self.vectors = self.vectors[keep]
        self.ids = [self.ids[i] for i in keep]
        self.row = {record_id: i for i, record_id in enumerate(self.ids)}
        self.index, self.dirty = None, True

    def append(self, ids: list[str], vectors: np.ndarray) -> None:
        start = len(self.ids)
        self.vectors = np.concatenate([self.vectors, vectors.astype(np.float32)])
        self.ids.extend(ids)
        self.row.update({record_id: start + i for i, record_id in enumerate(ids)})
        self.index, self.dirty = None, True


class FaissStore(VectorStore):
    kind = "faiss"
    snapshots = True

    def __init__(self, location: Path, dims: Mapping[str, int], settings: Settings, version: str | None = None):
        if faiss is None:
            raise PathAtlasError("the faiss store needs faiss: pip install 'pathatlas[cpu]' (or [gpu])")
        super().__init__(location, dims, settings)
        self._lock = threading.RLock()
        self._payloads: dict[str, dict[str, Any]] = {}
        self._spaces = {space: _Space(dim) for space, dim in self.dims.items()}
        self._payloads_dirty = False
        self._version = 0
        pointer = self.location / "CURRENT"
        if version is None and pointer.is_file():
            version = pointer.read_text().strip()
        try:
            self._load(version)
        except (OSError, ValueError, sqlite3.Error, RuntimeError) as exc:
            raise PathAtlasError(f"FAISS snapshot {self.location / str(version)} is damaged: {exc}") from exc

    @property
    def version(self) -> str | None:
        """The committed snapshot this store holds (its folder name), for an index's generation pointer."""
        return f"v{self._version:06d}" if self._version else None

    # -- persistence -------------------------------------------------------------------------
    def _current(self) -> Path | None:
        return self.location / self.version if self.version else None

    def _load(self, version: str | None) -> None:
        if not version:
            return
        snapshot = self.location / version
        if not (snapshot / "payloads.sqlite").is_file():
            raise PathAtlasError(f"FAISS store at {self.location} points at a missing snapshot {snapshot.name}")
        self._version = int(snapshot.name[1:])
        with sqlite3.connect(snapshot / "payloads.sqlite") as db:
            self._payloads = {rid: json.loads(p) for rid, p in db.execute("SELECT id, payload FROM records")}
        for space, dim in self.dims.items():
            vectors_path = snapshot / f"{space}.npy"
            if not vectors_path.is_file():
                continue
            vectors = np.load(vectors_path)
            ids = json.loads((snapshot / f"{space}.ids.json").read_text())
            state = _Space(dim, vectors, ids)
            index_path = snapshot / f"{space}.faiss"
            if index_path.is_file():
                state.index = faiss.read_index(str(index_path))
                state.index.hnsw.efSearch = self.settings.hnsw_ef_search
            self._spaces[space] = state

    def commit(self) -> None:
        with self._lock:
            if not self._payloads_dirty and not any(s.dirty for s in self._spaces.values()):
                return
            previous = self._current()
            self.location.mkdir(parents=True, exist_ok=True)
            snapshot = self.location / f"v{self._version + 1:06d}"
            shutil.rmtree(snapshot, ignore_errors=True)  # leftovers of a crashed commit
            snapshot.mkdir()
            self._write_payloads(snapshot / "payloads.sqlite")
            for space, state in self._spaces.items():
                self._write_space(space, state, snapshot, previous)
            fsync_tree(snapshot)
            write_atomic(self.location / "CURRENT", snapshot.name.encode())
            self._version += 1
            self._payloads_dirty = False
            for state in self._spaces.values():
                state.dirty = False
            self._prune(keep={snapshot.name, previous.name if previous else ""})

    def _write_payloads(self, path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE records (id TEXT PRIMARY KEY, source TEXT, kind TEXT, payload TEXT)")
            db.executemany(
                "INSERT INTO records VALUES (?, ?, ?, ?)",
                ((rid, p.get("source"), p.get("kind"), json.dumps(p)) for rid, p in self._payloads.items()),
            )
            db.execute("CREATE INDEX records_source ON records (source)")
        db.close()

    def _write_space(self, space: str, state: _Space, snapshot: Path, previous: Path | None) -> None:
        names = [f"{space}.npy", f"{space}.ids.json", f"{space}.faiss"]
        if not state.dirty and previous is not None:
            for name in names:
                if (previous / name).is_file():
                    os.link(previous / name, snapshot / name)
            return
        if not state.ids:
            return
        np.save(snapshot / names[0], state.vectors)
        (snapshot / names[1]).write_text(json.dumps(state.ids))
        if len(state.ids) > self.settings.hnsw_threshold:
            faiss.write_index(
                faiss.index_gpu_to_cpu(self._index(state)) if gpu_count() else self._index(state),
                str(snapshot / names[2]),
            )

    def _prune(self, keep: set[str]) -> None:
        for child in self.location.iterdir():
            if child.is_dir() and child.name.startswith("v") and child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, records: list[StoredVectors]) -> None:
        with self._lock:
            ids = {record.id for record in records}
            for state in self._spaces.values():
                state.remove(ids)
            for record in records:
                self._payloads[record.id] = record.payload
            for space, state in self._spaces.items():
                rows = [r for r in records if space in r.vectors]
                if rows:
                    state.append([r.id for r in rows], np.stack([r.vectors[space] for r in rows]))
            self._payloads_dirty = True

    def delete(self, filters: Filters) -> int:
        with self._lock:
            ids = {rid for rid, payload in self._payloads.items() if matches(payload, filters)}
            for rid in ids:
                del self._payloads[rid]
            for state in self._spaces.values():
                state.remove(ids)
            self._payloads_dirty = self._payloads_dirty or bool(ids)
            return len(ids)

    # -- reads -------------------------------------------------------------------------------
    def _index(self, state: _Space):
        if state.index is None:
            if len(state.ids) > self.settings.hnsw_threshold:
                index = faiss.IndexHNSWFlat(state.dim, self.settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = 80
                index.hnsw.efSearch = self.settings.hnsw_ef_search
            else:
                index = faiss.IndexFlatIP(state.dim)
                if gpu_count():
                    index = faiss.index_cpu_to_all_gpus(index)
            index.add(state.vectors)
            state.index = index
        return state.index

    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        with self._lock:
            state = self._spaces.get(space)
            if state is None or not state.ids or k <= 0:
                return [[] for _ in queries]
            if filters:
                rows = np.array(
                    [i for i, rid in enumerate(state.ids) if matches(self._payloads[rid], filters)], dtype=np.int64
                )
                if rows.size == 0:
                    return [[] for _ in queries]
                return [_top_k(state.vectors[rows] @ q, rows, state.ids, k) for q in queries]
            scores, rows = self._index(state).search(queries, min(k, len(state.ids)))
        return [
            [(state.ids[r], float(s)) for s, r in zip(score_row, row_row, strict=True) if r >= 0]
            for score_row, row_row in zip(scores, rows, strict=True)
        ]

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {rid: self._payloads[rid] for rid in ids if rid in self._payloads}

    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            items = list(self._payloads.items())
        return ((rid, p) for rid, p in items if matches(p, filters))

    def count(self, space: str | None = None) -> int:
        if space is None:
            return len(self._payloads)
        state = self._spaces.get(space)
        return len(state.ids) if state else 0


def _top_k(scores: np.ndarray, rows: np.ndarray, ids: list[str], k: int) -> ScoredIds:
    k = min(k, scores.size)
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best])]
    return [(ids[rows[i]], float(scores[i])) for i in best]
