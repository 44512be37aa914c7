"""Qdrant: named vectors per space, keyword payload indexes for filters.

Two engines behind one class:

- embedded (``qdrant-edge-py``): the Qdrant engine in process, an on-disk shard with a WAL and
  HNSW at ``location``; durable after ``commit`` (flush plus optimise).
- server or cluster (``qdrant-client``): when ``PATHATLAS_QDRANT_URL`` is set (``:memory:`` gives
  qdrant-client's in-process twin, used by the tests).

Qdrant point ids must be integers or UUIDs, so each record id maps to a UUID5 and the record id
travels in the payload as ``_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.records import FILTER_FIELDS, StoredVectors
from pathatlas.retrieval.stores.base import Filters, ScoredIds, VectorStore
from pathatlas.settings import Settings

NAMESPACE = uuid.UUID("6f0c2a52-6d1e-4c55-9d0e-3f4b1f5a2b7c")
SCROLL_PAGE = 1024


def point_id(record_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, record_id))


def build_filter(models: Any, filters: Filters | None) -> Any:
    """A Qdrant filter from ``Filters``; ``models`` is qdrant_client.models or the qdrant_edge module."""
    if not filters:
        return None
    conditions = []
    for field, wanted in filters.items():
        if isinstance(wanted, list | tuple | set):
            match = models.MatchAny(any=list(wanted))
        else:
            match = models.MatchValue(value=wanted)
        conditions.append(models.FieldCondition(key=field, match=match))
    return models.Filter(must=conditions)


class _EdgeEngine:
    def __init__(self, path: Path, dims: Mapping[str, int], settings: Settings):
        import qdrant_edge as qe

        self.qe = qe
        path.mkdir(parents=True, exist_ok=True)
        config = qe.EdgeConfig(
            vectors={s: qe.EdgeVectorParams(size=d, distance=qe.Distance.Dot) for s, d in dims.items()},
            hnsw_config=qe.HnswIndexConfig(m=settings.hnsw_m, ef_construct=100, full_scan_threshold=10_000),
        )
        has_data = any(path.iterdir())
        try:
            self.shard = qe.EdgeShard.load(str(path), config) if has_data else qe.EdgeShard.create(str(path), config)
        except Exception as exc:
            raise PathAtlasError(f"cannot open the Qdrant shard at {path}: {exc}") from exc
        if not has_data:
            for field in FILTER_FIELDS:
                self.shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
        self.ef = settings.hnsw_ef_search

    def upsert(self, points: list[tuple[str, dict, dict]]) -> None:
        qe = self.qe
        self.shard.update(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(pid, {s: v.tolist() for s, v in vectors.items()}, payload)
                    for pid, vectors, payload in points
                ]
            )
        )

    def delete(self, filters: Filters) -> None:
        self.shard.update(self.qe.UpdateOperation.delete_points_by_filter(build_filter(self.qe, filters)))

    def query(self, space: str, vector: np.ndarray, k: int, filters: Filters | None) -> list[tuple[dict, float]]:
        qe = self.qe
        request = qe.QueryRequest(
            limit=k,
            query=qe.Query.Nearest(vector.tolist(), using=space),
            filter=build_filter(qe, filters),
            with_payload=["_id"],
            params=qe.SearchParams(hnsw_ef=self.ef),
        )
        return [(p.payload or {}, p.score) for p in self.shard.query(request)]

    def scroll(self, filters: Filters | None) -> Iterator[dict]:
        offset = None
        while True:
            records, offset = self.shard.scroll(
                self.qe.ScrollRequest(
                    offset=offset,
                    limit=SCROLL_PAGE,
                    filter=build_filter(self.qe, filters),
                    with_payload=True,
                    with_vector=False,
                )
            )
            yield from (r.payload or {} for r in records)
            if offset is None:
                return

    def retrieve(self, pids: list[str]) -> list[dict]:
        return [r.payload or {} for r in self.shard.retrieve(pids, with_payload=True, with_vector=False)]

    def retrieve_vectors(self, pids: list[str]) -> list[tuple[dict, dict]]:
        return [
            (r.payload or {}, r.vector or {}) for r in self.shard.retrieve(pids, with_payload=["_id"], with_vector=True)
        ]

    def count(self, space: str | None) -> int:
        qe = self.qe
        condition = None if space is None else qe.Filter(must=[qe.HasVectorCondition(space)])
        return self.shard.count(qe.CountRequest(exact=True, filter=condition))

    def commit(self) -> None:
        self.shard.flush()
        self.shard.optimize()

    def close(self) -> None:
        self.shard.close()


class _ClientEngine:
    def __init__(self, url: str, collection: str, dims: Mapping[str, int], settings: Settings):
        from qdrant_client import QdrantClient, models

        self.models = models
        self.collection = collection
        self.client = (
            QdrantClient(":memory:") if url == ":memory:" else QdrantClient(url=url, api_key=settings.qdrant_api_key)
        )
        try:
            exists = self.client.collection_exists(collection)
        except Exception as exc:
            raise PathAtlasError(f"cannot reach Qdrant at {url}: {str(exc).splitlines()[0]}") from exc
        if not exists:
            self.client.create_collection(
                collection,
                vectors_config={s: models.VectorParams(size=d, distance=models.Distance.DOT) for s, d in dims.items()},
            )
            for field in FILTER_FIELDS:
                self.client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
        self.ef = settings.hnsw_ef_search

    def upsert(self, points: list[tuple[str, dict, dict]]) -> None:
        structs = [
            self.models.PointStruct(id=pid, vector={s: v.tolist() for s, v in vectors.items()}, payload=payload)
            for pid, vectors, payload in points
        ]
        self.client.upsert(self.collection, structs, wait=True)

    def delete(self, filters: Filters) -> None:
        self.client.delete(self.collection, build_filter(self.models, filters), wait=True)

    def query(self, space: str, vector: np.ndarray, k: int, filters: Filters | None) -> list[tuple[dict, float]]:
        response = self.client.query_points(
            self.collection,
            query=vector.tolist(),
            using=space,
            limit=k,
            query_filter=build_filter(self.models, filters),
            with_payload=["_id"],
            search_params=self.models.SearchParams(hnsw_ef=self.ef),
        )
        return [(p.payload or {}, p.score) for p in response.points]

    def scroll(self, filters: Filters | None) -> Iterator[dict]:
        offset = None
        while True:
            records, offset = self.client.scroll(
                self.collection,
                scroll_filter=build_filter(self.models, filters),
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=False,
            )
            yield from (r.payload or {} for r in records)
            if offset is None:
                return

    def retrieve(self, pids: list[str]) -> list[dict]:
        return [r.payload or {} for r in self.client.retrieve(self.collection, pids, with_payload=True)]

    def retrieve_vectors(self, pids: list[str]) -> list[tuple[dict, dict]]:
        found = self.client.retrieve(self.collection, pids, with_payload=["_id"], with_vectors=True)
        return [(r.payload or {}, r.vector or {}) for r in found]

    def count(self, space: str | None) -> int:
        condition = None
        if space is not None:
            condition = self.models.Filter(must=[self.models.HasVectorCondition(has_vector=space)])
        return self.client.count(self.collection, count_filter=condition, exact=True).count

    def commit(self) -> None:
        """The server persists each acknowledged write."""

    def close(self) -> None:
        self.client.close()


class QdrantStore(VectorStore):
    kind = "qdrant"

    def __init__(self, location: Path, dims: Mapping[str, int], settings: Settings):
        super().__init__(location, dims, settings)
        if settings.qdrant_url:
            self.engine: _EdgeEngine | _ClientEngine = _ClientEngine(
                settings.qdrant_url, settings.qdrant_collection or location.parent.name or "pathatlas", dims, settings
            )
        else:
            self.engine = _EdgeEngine(location, dims, settings)

    def upsert(self, records: list[StoredVectors]) -> None:
        if records:
            self.engine.upsert([(point_id(r.id), r.vectors, {**r.payload, "_id": r.id}) for r in records])

    def delete(self, filters: Filters) -> int:
        removed = sum(1 for _ in self.engine.scroll(filters))
        if removed:
            self.engine.delete(filters)
        return removed

    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if space not in self.dims or k <= 0:
            return [[] for _ in queries]
        return [[(p["_id"], float(score)) for p, score in self.engine.query(space, q, k, filters)] for q in queries]

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = self.engine.retrieve([point_id(rid) for rid in ids])
        return {p.pop("_id"): p for p in found if "_id" in p}

    def vectors(self, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
        found = self.engine.retrieve_vectors([point_id(rid) for rid in ids])
        return {
            p["_id"]: {s: np.asarray(v, dtype=np.float32) for s, v in vectors.items()}
            for p, vectors in found
            if "_id" in p
        }

    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        for payload in self.engine.scroll(filters):
            record_id = payload.pop("_id")
            yield record_id, payload

    def count(self, space: str | None = None) -> int:
        return self.engine.count(space)

    def commit(self) -> None:
        self.engine.commit()

    def close(self) -> None:
        self.engine.close()
