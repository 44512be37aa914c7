"""An index folder: which encoder built it, its vector store, BM25, the manifest of sources, thumbnails.

Layout::

    pathatlas.json   encoder name, vector sizes, store kind (written once, at creation)
    store/           the vector store (FAISS snapshots or a Qdrant shard)
    lexical/         BM25, rebuilt from the store's payloads at every commit
    manifest.json    source path -> fingerprint, kind, entry count (replaced atomically)
    media/           thumbnails, one JPEG per entry id

Commit order is store, then BM25, then manifest: after a crash the manifest never claims a
source the store lacks, and a source the manifest lacks is simply indexed again.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathatlas.errors import EncoderMismatchError, IndexMissingError, PathAtlasError
from pathatlas.retrieval.encoders import Encoder, create_encoder
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.stores import VectorStore, open_store
from pathatlas.retrieval.stores.faiss_store import write_atomic
from pathatlas.settings import Settings

META_FILE = "pathatlas.json"
FORMAT_VERSION = 1


@dataclass
class IndexMeta:
    encoder: str
    dims: dict[str, int]
    store: str
    format: int = FORMAT_VERSION
    created: float = field(default_factory=time.time)


class Index:
    def __init__(
        self, path: Path, meta: IndexMeta, encoder: Encoder | None, store: VectorStore, settings: Settings
    ) -> None:
        self.path = path
        self.meta = meta
        self._encoder = encoder
        self.store = store
        self.settings = settings
        self.lexical = LexicalIndex.load(path / "lexical").sync(store)  # catches up after a crash
        self.manifest: dict[str, dict[str, Any]] = self._read_manifest()
        self.lock = threading.RLock()

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, settings: Settings, create: bool = False, store: str | None = None) -> Index:
        """Open the index at ``path``; with ``create``, make it if absent using the configured encoder."""
        path = path.expanduser()
        meta_path = path / META_FILE
        if not meta_path.is_file():
            if not create:
                hint = "run 'pathatlas index PATH' first" if not path.exists() else "the folder is not an index"
                raise IndexMissingError(f"no PathAtlas index at {path}: {hint}")
            encoder = create_encoder(settings.encoder, settings)
            meta = IndexMeta(encoder.name, dict(encoder.dims), store or settings.store)
            vector_store = open_store(meta.store, path / "store", meta.dims, settings)
            path.mkdir(parents=True, exist_ok=True)
            write_atomic(meta_path, json.dumps(meta.__dict__, indent=2).encode())
            return cls(path, meta, encoder, vector_store, settings)
        try:
            meta = IndexMeta(**json.loads(meta_path.read_text()))
        except (json.JSONDecodeError, TypeError) as exc:
            raise IndexMissingError(f"{meta_path} is damaged ({exc}); re-create the index") from exc
        if meta.format != FORMAT_VERSION:
            raise PathAtlasError(f"index {path} has format {meta.format}; this PathAtlas reads {FORMAT_VERSION}")
        if settings.encoder != meta.encoder:
            raise EncoderMismatchError(
                f"index {path} was built with encoder {meta.encoder!r}, not {settings.encoder!r}: "
                f"set PATHATLAS_ENCODER={meta.encoder} or use another --index"
            )
        if store and store != meta.store:
            raise PathAtlasError(f"index {path} uses store {meta.store!r}, not {store!r}")
        return cls(path, meta, None, open_store(meta.store, path / "store", meta.dims, settings), settings)

    @property
    def encoder(self) -> Encoder:
        """Built on first use: listing, removing and skipping unchanged sources never load a model."""
        if self._encoder is None:
            encoder = create_encoder(self.meta.encoder, self.settings)
            if dict(encoder.dims) != self.meta.dims:
                raise EncoderMismatchError(
                    f"index {self.path} has vector sizes {self.meta.dims} but encoder {encoder.name!r} "
                    f"gives {encoder.dims}"
                )
            self._encoder = encoder
        return self._encoder

    # -- manifest and commit -----------------------------------------------------------------
    @property
    def media_dir(self) -> Path:
        return self.path / "media"

    def thumbnail_path(self, record_id: str) -> Path:
        return self.media_dir / f"{record_id}.jpg"

    def _read_manifest(self) -> dict[str, dict[str, Any]]:
        path = self.path / "manifest.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def commit(self) -> None:
        with self.lock:
            self.store.commit()
            self.lexical = self.lexical.sync(self.store)
            self.lexical.save(self.path / "lexical")
            write_atomic(self.path / "manifest.json", json.dumps(self.manifest, indent=1).encode())

    def resolve_source(self, name: str) -> str:
        """A manifest key from a full path, a relative path or a unique file name."""
        if name in self.manifest:
            return name
        resolved = str(Path(name).expanduser().resolve())
        if resolved in self.manifest:
            return resolved
        by_name = [key for key in self.manifest if Path(key).name == name]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise PathAtlasError(f"{name!r} matches several sources: {', '.join(by_name)}; give the full path")
        raise PathAtlasError(f"no source {name!r} in index {self.path}; 'pathatlas info' lists them")

    def remove_source(self, name: str) -> int:
        with self.lock:
            key = self.resolve_source(name)
            removed = self.store.delete({"source": key})
            self.manifest.pop(key, None)
            self.commit()
            return removed

    def stats(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for _, payload in self.store.scan():
            kinds[payload.get("kind", "?")] = kinds.get(payload.get("kind", "?"), 0) + 1
        return {
            "index": str(self.path),
            "encoder": self.meta.encoder,
            "store": self.meta.store,
            "dims": self.meta.dims,
            "records": self.store.count(),
            "vectors": {space: self.store.count(space) for space in self.meta.dims},
            "kinds": kinds,
            "sources": self.manifest,
        }

    def close(self) -> None:
        self.store.close()
