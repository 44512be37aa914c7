"""Vector store registry. ``py:package.module.Class`` plugs in your own ``VectorStore``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pathatlas.errors import UnknownNameError
from pathatlas.plugins import import_plugin, started
from pathatlas.retrieval.stores.base import Filters, VectorStore, matches
from pathatlas.settings import Settings


def _faiss() -> type[VectorStore]:
    from pathatlas.retrieval.stores.faiss_store import FaissStore

    return FaissStore


def _qdrant() -> type[VectorStore]:
    from pathatlas.retrieval.stores.qdrant_store import QdrantStore

    return QdrantStore


STORES = {"faiss": _faiss, "qdrant": _qdrant}


def store_class(name: str) -> type[VectorStore]:
    if name in STORES:
        return STORES[name]()
    if name.startswith("py:"):
        return import_plugin(name, VectorStore, "store")
    raise UnknownNameError(f"unknown store {name!r}: use one of {', '.join(STORES)} or 'py:module.Class'")


def open_store(
    name: str, location: Path, dims: Mapping[str, int], settings: Settings, version: str | None = None
) -> VectorStore:
    """The store at ``location``; ``version`` reopens an earlier commit of a store with snapshots."""
    cls = store_class(name)

    def build() -> VectorStore:
        return (
            cls(location, dims, settings, version=version)
            if version and cls.snapshots
            else cls(location, dims, settings)
        )

    return started(name, "store", build) if name.startswith("py:") else build()


__all__ = ["Filters", "VectorStore", "matches", "open_store", "store_class"]
