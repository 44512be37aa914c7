"""The ``Source`` protocol: a file or folder that yields typed records (``indexer/records.py``).

A new kind of material needs one ``Source`` subclass; its contract is the class docstring below. The hashing, stat and
lock helpers behind it live in ``fingerprints.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pathatlas.indexer.records import Record
from pathatlas.indexer.sources.fingerprints import DEFAULT_RECORDS_VERSION, every_file, hash_files, hash_held, shown
from pathatlas.settings import Settings

__all__ = ["Source", "hash_files"]
"""What a plug-in imports from here: the protocol, and the helper its ``fingerprint`` hashes its files with."""

STORED_SETTINGS = ("thumbnail_px",)
"""Settings that change what the index stores of every source's records, whichever reader yields them, so that every
source's ``reading`` holds them. A changed one gives the source new fingerprint and record ids, so the next ``index``
writes the new media files (thumbnails at the new size) beside those of the version still committed, which go only
when it commits: none is overwritten in place, and a run killed at any moment leaves the last commit whole. The
records' vectors are reused (``pipeline.Earlier``), so nothing is encoded again."""


class Source(ABC):
    """A file or folder that yields records (``indexer/records.py``): one subclass per kind of material, a plug-in
    loaded by ``PATHATLAS_SOURCES='["py:pkg.mod.Class"]'`` and asked before the built-ins.

    A subclass writes five things: ``kind`` (its name, recorded per source), ``accepts(path)`` (a cheap look: a
    suffix, a file inside a folder), ``fingerprint()`` (``hash_files(files, self.reading(), self.records_version)``:
    what ``index`` compares to skip an unchanged source, and what record ids derive from), ``size_hint()`` (the
    progress units ``records()`` goes through: pages, case images) and ``records()``, the stream of records. Problems
    with single items (a damaged image inside a case folder) go to ``problems`` and the rest continues; a source that
    cannot be read at all raises ``BadInputError`` from ``records()``. The rest has defaults: ``records_version``,
    ``reads_settings``, ``held``, ``included``, ``recall`` and ``remembered``.

    Every record is the source's own: its ``source`` is ``self.key`` (the whole file or folder, never one file
    inside it: ``remove`` and ``info`` find records by it) and its ``fingerprint`` is ``self.fingerprint()``. Its id
    (from fingerprint, kind, page and index, or case id and image) is unique within the source: give each ``Page`` its
    own number, each ``Passage`` and ``Figure`` of a page its own index. ``index`` refuses a source breaking either rule
    in one line naming it, and keeps its previous version.

    Words are found in ``Passage`` records: a ``Page`` is found by its text vector (and, without a text
    layer, its image), but BM25 does not read its entry, so a source yielding pages yields their text as
    passages too (same ``source``, ``fingerprint`` and ``page``), as ``pdf`` does.

    A ``bbox`` is where a passage or figure is printed on its page, in PDF points (``retrieval.records.BBox``): every
    citation carries it and the page viewer outlines it. A source without a page layout (a folder of text files) gives
    ``Passage.bbox`` None, and its citations hold no box; a made-up one such as (0, 0, 0, 0) would be passed on as a
    place on the page. It still yields a ``Page`` per part (a file), numbered from 1 and named by ``section``, with
    ``image`` None: a passage's hit is shown under its page's id. ``tests/indexer/test_text_source_plugin.py`` is such
    a source.
    """

    kind: ClassVar[str]
    records_version: ClassVar[int] = DEFAULT_RECORDS_VERSION
    """The version of what this reader yields. Raise it by one whenever its records change for the same files and
    settings (new fields, other text or boxes): the fingerprint hashes it
    (``hash_files(paths, self.reading(), self.records_version)``; a fingerprint of your own must hash it too), so the
    next ``index`` reads this reader's sources again, under new ids, and only checks the other readers' sources; until
    then ``pathatlas info`` counts them as read by an older reader. A new reader leaves the default; its value (14) is
    history (``DEFAULT_RECORDS_VERSION``) and means nothing of its own."""
    reads_settings: ClassVar[tuple[str, ...]] = ()
    """Settings that change the records this source yields; ``reading`` gives those set away from their default, and
    those of ``STORED_SETTINGS``."""

    def __init__(self, path: Path, settings: Settings):
        self.path = path.resolve()
        self.settings = settings
        self.problems: list[str] = []

    @property
    def key(self) -> str:
        """The source's name in the index: its absolute path (``shown``: a path whose name is not UTF-8 is refused
        by ``utf8_name``, and reported under this name)."""
        return shown(self.path)

    def reading(self) -> dict[str, object]:
        """For the fingerprint: switching ``PATHATLAS_FIGURE_OCR``, the passage sizes or the thumbnail size
        (``STORED_SETTINGS``) re-reads the source on the next ``index``, without ``--force``; an index made with the
        defaults keeps its fingerprints. A default resolved when settings load (``figure_ocr``: whether tesseract is
        installed) counts as off."""
        reading = {}
        for name in (*STORED_SETTINGS, *self.reads_settings):
            default = type(self.settings).model_fields[name].default
            if (value := getattr(self.settings, name)) != (False if default is None else default):
                reading[name] = value
        return reading

    def recall(self, entry: Mapping[str, Any] | None, page_thumbnails: Mapping[int, str]) -> None:
        """Before ``records``: what the index holds of this source's committed reading, its manifest ``entry`` (None
        for a new source) and the thumbnail key (``Payload.thumbnail_hash``) of each page whose thumbnail it holds at
        the size asked now (none on a forced run), so that a reader may skip work an earlier reading did alike (a PDF
        renders no page it drew alike). Nothing by default."""
        return None

    def remembered(self) -> dict[str, Any]:
        """What this reading keeps in the source's manifest entry for the next reading's ``recall`` (a PDF's drawing
        key); nothing by default."""
        return {}

    def included(self) -> tuple[Path, ...]:
        """The files outside the source's path that it reads, or would read were they there (a deck's Quarto
        includes, a missing one too); its ``fingerprint`` hashes those it reads. The manifest records them
        (``included``) so that the stat signature, which tells ``pathatlas info`` and the page viewer whether the
        source changed without reading it, covers them too: a partial edited, deleted or written changes its deck.
        None by default."""
        return ()

    def held(self) -> Iterable[tuple[Path, bool]]:
        """The files the source's records are made of, for its ``content_hash``: each with whether its bytes count
        (else its size). By default every file of it (``every_file``), read; a reader that reads only some files of a
        folder, or leaves some unread, says so (``CaseFolderSource``), so a 5 GB slide it never opens costs no read."""
        return every_file(self.path)

    def content_hash(self) -> str | None:
        """What the source holds wherever it lies (``content_hash``), as its reader and settings read it."""
        return hash_held(self.path, self.held())

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
