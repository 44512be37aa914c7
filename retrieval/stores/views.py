"""What an ``Index`` reads in place of its store: nothing before it is on disk, else only what its commits name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores.base import Filters, ScoredIds, VectorStore, stored_vectors

if TYPE_CHECKING:
    from pathatlas.retrieval.index import Index


class EmptyStore(VectorStore):
    """The store of an index not on disk yet (``Index.open(defer=True)``): it holds nothing. Opening the real one
    would create it (a Qdrant shard's folder, a server's collection) before a write has chosen it."""

    kind = "empty"
    snapshots = True  # read as it is, not through a generation

    def upsert(self, records: list[StoredVectors]) -> None:
        raise PathAtlasError(f"index {self.location.parent} is not on disk yet: write inside Index.writing()")

    def delete(self, filters: Filters) -> int:
        return 0

    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]:
        return [[] for _ in queries]

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {}

    def vectors(self, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
        return {}

    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        return iter(())

    def count(self, space: str | None = None) -> int:
        return 0

    def commit(self) -> None:
        """Nothing to make durable."""

    def source_revisions(self) -> dict[str, str]:
        return {}


class VisibleStore(VectorStore):
    """A store that writes durably at once, read through the committed generation.

    Only records whose ``fingerprint`` belongs to a source version of the committed generation are found,
    so a running index job, a killed one, or a removal not yet collected never shows a partial source.
    """

    def __init__(self, inner: VectorStore, index: Index):
        self.inner = inner
        self.index = index
        self.location, self.dims, self.settings = inner.location, inner.dims, inner.settings
        self.kind, self.opens_twice, self.exact_vectors = inner.kind, inner.opens_twice, inner.exact_vectors

    @property
    def placement(self) -> str:
        return self.inner.placement

    def _filters(self, filters: Filters | None) -> dict[str, Any]:
        live = self.index.generation.fingerprints()
        wanted = dict(filters or {})
        if "fingerprint" in wanted:
            asked = wanted["fingerprint"]
            asked = asked if isinstance(asked, list | tuple | set) else [asked]
            live = [fp for fp in live if fp in asked]
        wanted["fingerprint"] = live or ["-"]  # an empty generation shows nothing
        return wanted

    def upsert(self, records: list[StoredVectors]) -> None:
        self.inner.upsert(records)

    def delete(self, filters: Filters) -> int:
        return self.inner.delete(filters)

    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]:
        return self.inner.search(space, queries, k, self._filters(filters))

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        live = set(self.index.generation.fingerprints())
        return {rid: p for rid, p in self.inner.payloads(ids).items() if p.get("fingerprint") in live}

    def vectors(self, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
        live = self.payloads(ids)
        return stored_vectors(self.inner, list(live))

    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        return self.inner.scan(self._filters(filters))

    def records(self, batch: int = 1000) -> Iterator[list[StoredVectors]]:
        live = set(self.index.generation.fingerprints())
        for records in self.inner.records(batch):
            if visible := [r for r in records if r.payload.get("fingerprint") in live]:
                yield visible

    def value_counts(self, field: str) -> Counter[Any]:
        """The inner store's counts (field codes, facets) when it holds live versions only, as it does between
        runs; a scan of the live records while a run's or a crash's other versions are stored beside them."""
        if set(self.inner.value_counts("fingerprint")) <= set(self.index.generation.fingerprints()):
            return self.inner.value_counts(field)
        return super().value_counts(field)

    def count(self, space: str | None = None) -> int:
        if space is None:
            return sum(entry["entries"] for entry in self.index.generation.sources.values())
        return self.inner.count(space)

    def commit(self) -> None:
        self.inner.commit()

    def close(self) -> None:
        self.inner.close()
