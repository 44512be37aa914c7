"""The ``VectorStore`` protocol: records with named vectors per space and a payload."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pathatlas.retrieval.records import StoredVectors
from pathatlas.settings import Settings

Filters = Mapping[str, Any]
"""Payload field to a value, or to a list of accepted values; all fields must match."""

ScoredIds = list[tuple[str, float]]


def matches(payload: Mapping[str, Any], filters: Filters | None) -> bool:
    """Equality filter shared by every store and the lexical index, so they agree exactly."""
    if not filters:
        return True
    for field, wanted in filters.items():
        value = payload.get(field)
        accepted = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if value not in accepted:
            return False
    return True


class VectorStore(ABC):
    """A persistent collection of records, each with vectors in some of the index's spaces.

    Contract for implementations (the shared suite in ``tests/test_stores.py`` checks it):

    - ``upsert`` replaces a record with the same id; a record may lack some spaces.
    - ``search`` takes a batch of query vectors for one space and returns, per query, up to ``k``
      (id, score) pairs by decreasing inner product, only among records matching ``filters``.
    - Changes are visible to searches at once and are durable after ``commit``.
    - ``snapshots = True``: a crash before ``commit`` leaves the last committed state readable, ``version``
      names it and the constructor's ``version=`` reopens it (the previous commit is kept until the next).
      ``snapshots = False`` (Qdrant writes durably at once): the index hides records of source versions its
      generation pointer does not list, by their ``fingerprint`` payload field, and deletes them later.
    """

    kind: ClassVar[str]
    snapshots: ClassVar[bool] = False
    version: str | None = None

    def __init__(self, location: Path, dims: Mapping[str, int], settings: Settings):
        self.location = location
        self.dims = dict(dims)
        self.settings = settings

    @abstractmethod
    def upsert(self, records: list[StoredVectors]) -> None: ...

    @abstractmethod
    def delete(self, filters: Filters) -> int:
        """Remove every record matching ``filters`` (e.g. ``{"source": path}``); returns how many."""

    @abstractmethod
    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]: ...

    @abstractmethod
    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (id, payload), for rebuilding derived indexes and for listings."""

    @abstractmethod
    def count(self, space: str | None = None) -> int:
        """Records in total, or records that have a vector in ``space``."""

    @abstractmethod
    def commit(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and handles."""
