"""The ``Source`` protocol: a file or folder that yields typed records."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pathatlas.indexer.records import Record
from pathatlas.settings import Settings

RECORDS_VERSION = 2
"""Bump when the records a source yields change for the same file, so indexed sources get new ids."""


def hash_files(paths: list[Path]) -> str:
    """A source version's fingerprint: where its files are, what they hold, in the given order.

    The manifest compares these to skip unchanged sources, and record ids derive from them, so the same
    PDF at two paths gives two sources with distinct ids, and a changed file gives new ids.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"records-v{RECORDS_VERSION}".encode())
    for path in paths:
        digest.update(str(path.resolve()).encode() + b"\0")
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
