"""The ``Source`` protocol: a file or folder that yields typed records."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pathatlas.indexer.records import Record
from pathatlas.settings import Settings


def hash_files(paths: list[Path]) -> str:
    """Content hash of files, in the given order; the manifest compares these to skip unchanged sources."""
    digest = hashlib.blake2b(digest_size=16)
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class Source(ABC):
    """A file or folder that yields records.

    Subclasses set ``kind``, say whether they ``accept`` a path, compute a content ``fingerprint``
    cheaply, and stream ``records()``. Problems with single items (a damaged image inside a case
    folder) go to ``problems`` and the rest continues; a source that cannot be read at all raises
    ``BadInputError`` from ``records()``.
    """

    kind: ClassVar[str]

    def __init__(self, path: Path, settings: Settings):
        self.path = path.resolve()
        self.settings = settings
        self.problems: list[str] = []

    @property
    def key(self) -> str:
        """The source's name in the index: its absolute path."""
        return str(self.path)

    @classmethod
    @abstractmethod
    def accepts(cls, path: Path) -> bool: ...

    @abstractmethod
    def fingerprint(self) -> str: ...

    @abstractmethod
    def size_hint(self) -> int:
        """Roughly how many progress units ``records()`` will go through (pages, images)."""

    @abstractmethod
    def records(self) -> Iterator[Record]: ...
