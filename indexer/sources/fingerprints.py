"""How a source's files are told apart and told unchanged, helpers of the ``Source`` contract (``base.py``).

Fingerprints (``hash_files``: what ``index`` compares and record ids derive from), content hashes (``content_hash``:
a source wherever it lies), stat signatures (``stat_signature``: changed since indexed, without reading it), the
checks built on them (``on_disk``, ``same_content``), and the reader names and versions a manifest entry records.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.retrieval.index import META_FILE
from pathatlas.settings import Settings

if TYPE_CHECKING:
    from pathatlas.indexer.sources.base import Source

DEFAULT_RECORDS_VERSION = 14
"""The records version ``hash_files`` hashes for a reader that passes none, and ``Source.records_version``'s default.
The number is history: every reader's fingerprint hashed 14 while all readers shared one version, so a plug-in's
sources indexed then keep their fingerprints and are not read again. A reader of that time declaring its own version
starts above it (15), so that ``info`` counts its earlier sources as read by an older reader."""


_HASHED_VERSION: ContextVar[object] = ContextVar("hashed_records_version", default=None)
"""The records version ``hash_files`` hashes where not the one its reader gives: ``same_content`` asks for a source's
fingerprint as the reader that indexed it made it."""


_STOP_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("stop_check", default=None)
"""What ``may_stop`` calls: set by ``stoppable`` around a source's look, None elsewhere."""
HASH_BLOCK = 1 << 20
"""Bytes a file is hashed by at a time: ``may_stop`` is asked between blocks (about a millisecond each)."""


@contextmanager
def stoppable(check: Callable[[], None] | None) -> Iterator[None]:
    """Within the block, ``check`` is called wherever a long look at a source may stop (``may_stop``): between the
    files and megabytes a fingerprint or a content hash reads, and between a case folder's steps. A folder of many or
    large images takes minutes to hash, and a caller that stops a run (an index job's cancel: ``check`` raising) would
    otherwise wait for all of it. ``Source.fingerprint`` takes no arguments, as plug-ins implement it, so ``check``
    comes as ``hashed_as`` gives the records version: with the context, in the thread that set it and in threads started
    in a copy of its context (the indexer's reading thread, a job's preparing thread). None sets no check, so an
    ``Indexer`` given no ``on_look`` keeps a caller's own around it."""
    if check is None:
        yield
        return
    token = _STOP_CHECK.set(check)
    try:
        yield
    finally:
        _STOP_CHECK.reset(token)


def may_stop() -> None:
    """A place where a look at a source may stop: the check ``stoppable`` set, if any, is called (and may raise)."""
    if (check := _STOP_CHECK.get()) is not None:
        check()


def hash_into(digest: Any, path: Path) -> None:
    """``path``'s bytes added to ``digest`` a ``HASH_BLOCK`` at a time, ``may_stop`` asked before each."""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            may_stop()
            digest.update(block)


def hash_files(
    paths: list[Path], reading: Mapping[str, object] | None = None, records_version: int = DEFAULT_RECORDS_VERSION
) -> str:
    """A source version's fingerprint: where its files are, what they hold, in the given order, and how they
    are read (``reading``: settings away from their defaults; ``records_version``: its reader's, which a reader
    passes, or bumping it reads nothing again).

    The manifest compares these to skip unchanged sources, and record ids derive from them, so the same
    PDF at two paths gives two sources with distinct ids, and a changed file or a changed setting gives new
    ids (the old version's records go when the new one commits).
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"records-v{_HASHED_VERSION.get() or records_version}".encode())
    for name, value in sorted((reading or {}).items()):
        digest.update(f"{name}={value!r}\0".encode())
    for path in paths:
        digest.update(utf8_name(path.resolve()).encode() + b"\0")
        hash_into(digest, path)
    return digest.hexdigest()


def content_hash(path: Path) -> str | None:
    """What a file holds, or every file of a folder by its name within it (``every_file``), wherever it lies (a
    fingerprint hashes the path too): a source's own reader says what it is made of (``Source.content_hash``); this is
    an upload's, before any reader reads it. None where a file cannot be read."""
    return hash_held(path, every_file(path))


CONTENT_VERSION = 2
"""What ``content_hash`` covers, recorded beside it in a manifest entry (``content_version``): 2 since the thirty-ninth
session, a case folder's metadata file and the images it lists (``Source.held``); before, none recorded, every file in
it. An entry of an earlier version is hashed anew when its source is next found unchanged."""


def earlier_contents(source: Source, entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The content hash ``source`` has as the first ``content_hash`` covered it (every file of a folder), where
    ``entries`` (a manifest's) hold one of its kind recorded so: a case folder indexed before and copied since is still
    told a copy. Empty for a reader that holds every file (``Source.held``: the same either way), or without such an
    entry; otherwise it reads every file of the folder, unlisted ones too, so only then."""
    from pathatlas.indexer.sources.base import Source  # base imports this module

    if type(source).held is Source.held:
        return []
    if not any(e.get("kind") == source.kind and e.get("content_version") is None for e in entries):
        return []
    return [content] if (content := hash_held(source.path, every_file(source.path))) else []


def every_file(path: Path) -> Iterator[tuple[Path, bool]]:
    """A file source's file, or a folder's files in sorted order, hidden ones aside as ``discover`` passes them by and
    those of an index folder inside it (``is_index_folder``), each to be read (``Source.held``)."""
    files = [path] if path.is_file() else sorted(path.rglob("*"))
    indexes = {file.parent for file in files if is_index_folder(file.parent, [file.name], path)}
    for file in files:
        inside = file.relative_to(path)
        if file.is_file() and not any(part.startswith(".") for part in inside.parts) and not indexes & {*file.parents}:
            yield file, True


def hash_held(path: Path, held: Iterable[tuple[Path, bool]]) -> str | None:
    """The content hash of the source at ``path`` of the files it is made of (``held``): each by its name within it and
    its bytes, or its size where its reader leaves it unread; None where a file cannot be read, or the source (its
    metadata file) is refused."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        for file, read in held:
            if read:
                hashed = hashlib.blake2b()
                hash_into(hashed, file)
                held_as = hashed.digest()
            else:
                held_as = f"size={file.stat().st_size}".encode()
            digest.update(os.fsencode(file.relative_to(path)) + b"\0" + held_as)
    except (OSError, PathAtlasError):
        return None
    return digest.hexdigest()


def utf8_name(path: Path) -> str:
    """``path`` as text, or a one-line refusal where its name is not UTF-8 (a Latin-1 name from an old disk, a USB
    stick or a zip): a source is named by its path in the manifest, the stores, the API and ``--json``, which all
    hold text, so such a name could be indexed only under a spelling that no longer leads back to the file. Renamed,
    it indexes; the other sources of the run index meanwhile."""
    try:
        str(path).encode()
    except UnicodeEncodeError:
        raise BadInputError(f"{shown(path)}: the name is not valid UTF-8 (shown as \ufffd); rename it") from None
    return str(path)


def shown(path: Path | str) -> str:
    """A path as text any terminal and JSON parser takes: bytes of its name that are not UTF-8 as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _files(path: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(name relative to ``path``, stat) of a file source's own file, or of every file under a folder source that is
    not hidden (as ``discover`` passes hidden entries by) nor in an index folder (``is_index_folder``), in a fixed
    order."""
    if not path.is_dir():
        yield "", path.stat()
        return
    for root, folders, names in os.walk(path):
        if is_index_folder(Path(root), names, path):
            folders.clear()
            continue
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            file = Path(root, name)
            with suppress(FileNotFoundError):  # deleted meanwhile, or a broken link: not a file of the source
                yield str(file.relative_to(path)), file.stat()


def is_index_folder(folder: Path, names: list[str], source: Path) -> bool:
    """Whether a folder inside a folder source (``names``: its files) is a PathAtlas index (``pathatlas index .
    --index idx``): none of the source's, and written at each run, so counting its files would change the source at
    every run."""
    return META_FILE in names and folder != source


def _included_files(included: Iterable[str]) -> Iterator[tuple[str, os.stat_result | None]]:
    """(path, stat) of each file a source includes from outside its path (``Source.included``), None for one not
    there: a deck naming a partial not yet written changes once it is."""
    for file in included:
        try:
            yield file, os.stat(file)
        except (FileNotFoundError, NotADirectoryError):
            yield file, None


def stat_signature(path: Path, included: Iterable[str] = ()) -> str | None:
    """A source's files as the system describes them, without reading them: names, sizes and modification times, of
    the files it includes from outside its path too (``Source.included``, by absolute path: a deck's partials, or
    that one is not there). The manifest records it when the source is indexed (``stat``, with ``included``), so that
    serving a page of it, or ``pathatlas info``, tells in a few ``stat`` calls whether it changed since (the
    fingerprint hashes every byte: seconds for a large book). A folder counts every file in it, read or not: an
    ``index`` run that finds the source unchanged records its new state. None when the path is gone or unreadable."""
    digest = hashlib.blake2b(digest_size=12)
    try:
        for name, found in chain(_files(path), _included_files(included)):
            state = "absent" if found is None else f"{found.st_size}\0{found.st_mtime_ns}"
            digest.update(os.fsencode(name) + f"\0{state}\0".encode())
    except OSError:
        return None
    return digest.hexdigest()


SourceState = Literal["ok", "changed", "missing", "unknown"]


def on_disk(key: str, entry: Mapping[str, Any], settings: Settings) -> SourceState:
    """Whether the source a manifest entry describes is on disk as it was indexed: ``ok``; ``changed`` (its records,
    pages and highlights are of another version: re-index it); ``missing`` (moved or deleted: indexing the new place
    adds it again beside this one, so remove this one); ``unknown`` (nothing recorded to compare with). An entry
    indexed before ``stat`` was recorded counts as changed when a file of it was modified after it was indexed.

    Files whose sizes or times differ from those recorded are changed only if what they hold differs too
    (``same_content``): a ``labels.csv`` saved again as it was is the same source, as ``index`` finds it, and so is a
    source an older reader indexed (``info`` tells that apart). ``settings`` are the caller's (the command's, the
    server's): a source without its content recorded is read as ``index`` with them would read it. The files it
    includes (``included``: none in entries older versions wrote) count as its own: one edited, deleted or
    written changes it."""
    path = Path(key)
    if not path.exists():
        return "missing"
    signature = stat_signature(path, entry.get("included", ()))
    if (recorded := entry.get("stat")) is not None:
        if signature == recorded:
            return "ok"
    else:
        indexed = entry.get("indexed_at")
        if not isinstance(indexed, int | float):
            return "unknown"
        try:
            newest = max((found.st_mtime for _, found in _files(path)), default=0.0)
        except OSError:
            return "missing"
        if newest <= indexed:
            return "ok"
    if signature is None:
        return "changed"
    if unloaded_reader(entry, settings):  # no reader to compare with: indexing it again would fail as well
        return "unknown"
    return "ok" if same_content(key, entry, signature, settings) else "changed"


def reader_name(source_type: type[Source]) -> str:
    """How settings name a ``Source`` class: a built-in by its kind, a plug-in by the ``py:`` name that loads it (what
    ``PATHATLAS_SOURCES`` takes). The manifest records it per source (``reader``)."""
    module = source_type.__module__
    if module.startswith(f"{__package__}."):
        return source_type.kind
    return f"py:{module}.{source_type.__qualname__}"


def loaded_readers(settings: Settings) -> list[type[Source]]:
    """The ``Source`` classes ``settings`` load (``source_types``), or the built-ins alone where a plug-in they name
    does not import: ``info`` and the service still describe an index then (``index`` refuses to start)."""
    from pathatlas.indexer.sources import SOURCES, source_types  # the registry imports this module

    try:
        return source_types(settings)
    except PathAtlasError:
        return list(SOURCES.values())


def reader_versions(settings: Settings) -> dict[str, int]:
    """Each loaded reader's ``records_version`` by its name (``reader_name``), as manifest entries name their reader:
    what ``Index.upgrade`` and ``older_reader`` compare an entry's ``records_version`` with (the retrieval layer does
    not import the indexer)."""
    return {reader_name(reader): reader.records_version for reader in loaded_readers(settings)}


def unloaded_reader(entry: Mapping[str, Any], settings: Settings) -> str | None:
    """The one line saying that the source plug-in which read a manifest entry's source is not loaded with
    ``settings``, which therefore cannot tell whether it changed nor index it again; None when it is, or when the entry
    names none (a built-in kind, a manifest written before readers were recorded)."""
    reader = entry.get("reader")
    if not isinstance(reader, str) or not reader.startswith("py:"):
        return None
    if reader in {reader_name(source_type) for source_type in loaded_readers(settings)}:
        return None
    return f"source plug-in {reader} not loaded (set PATHATLAS_SOURCES)"


@dataclass
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    """Threads holding or waiting for ``lock``: at 0 the entry goes, so locks never outnumber the threads asking."""


class KeyLocks:
    """One lock per key (a source's), made when a thread first asks for it and dropped when the last one leaves: work
    on one key waits only for work on the same key, and nothing accumulates over a server's life."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, _KeyLock] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        with self._guard:
            held = self._locks.setdefault(key, _KeyLock())
            held.users += 1
        try:
            with held.lock:
                yield
        finally:
            with self._guard:
                held.users -= 1
                if not held.users:
                    del self._locks[key]


_SAME_CONTENT: dict[tuple[str, ...], bool] = {}
"""``same_content``'s answers by source, stat signature, what was indexed (content, fingerprint, records version) and
settings read with."""
_HASHING = KeyLocks()
SAME_CONTENT_KEPT = 1024


def same_content(key: str, entry: Mapping[str, Any], signature: str, settings: Settings) -> bool:
    """Whether a source whose files' sizes or times changed still holds what it was indexed from (``as_indexed``).
    That reads every byte (seconds for a large book or folder), so each answer is kept by the files' stat
    ``signature``: one hash per state of the files, not one per page or image served. Under the source's own lock: the
    images a page viewer asks for at once wait for one hash instead of each making its own, and those of another
    source do not wait for it.

    A source that cannot be read as indexed (a file gone or unreadable meanwhile, a metadata file now refused, a
    plug-in no longer installed: ``OSError`` or a ``PathAtlasError``) is not the same; any other error is a bug and
    is raised."""
    try:
        source = _source_of(Path(key), entry.get("kind"), settings)
        if source is None:
            return False
        indexed = (entry.get("content"), entry.get("fingerprint"), entry.get("records_version"))
        known = (key, signature, *map(str, indexed), repr(sorted(source.reading().items())))
        with _HASHING.holding(key):
            if (same := _SAME_CONTENT.get(known)) is None:
                same = as_indexed(source, entry)
                if len(_SAME_CONTENT) >= SAME_CONTENT_KEPT:
                    _SAME_CONTENT.clear()
                _SAME_CONTENT[known] = same
        return same
    except (OSError, PathAtlasError):  # as ``index`` would say: this source fails to read
        return False


@contextmanager
def hashed_as(version: object) -> Iterator[None]:
    """Fingerprints (``hash_files``) hashed within the block as the reader of records ``version`` hashed them (None:
    as each reader's own ``records_version``): ``as_indexed`` asks as an older reader, ``bench index --upgrade`` as a
    newer one."""
    hashed = _HASHED_VERSION.set(version)
    try:
        yield
    finally:
        _HASHED_VERSION.reset(hashed)


def as_indexed(source: Source, entry: Mapping[str, Any]) -> bool:
    """Whether ``source`` holds what its manifest ``entry`` was indexed from: its content hash where recorded (what
    its records are made of, whichever reader version read them: ``Source.content_hash``, with the source's settings,
    so a slide over their byte cap is not read), else its fingerprint (what ``index`` compares) as the reader that
    indexed it hashed it (the fingerprint hashes its reader's ``records_version``: hashed as this one's, a source
    indexed before an upgrade and copied or touched since would count as changed, its pages and images refused). The
    fingerprint also decides where the content differs only in what the source does not read (notes beside cases),
    or was recorded with other settings."""
    if (content := entry.get("content")) and source.content_hash() == content:
        return True
    with hashed_as(entry.get("records_version")):
        return source.fingerprint() == entry.get("fingerprint")


def _source_of(path: Path, kind: object, settings: Settings) -> Source | None:
    """The source of ``kind`` at ``path`` as ``index`` would read it; None when no such kind accepts it now."""
    from pathatlas.indexer.sources import source_types  # the registry imports this module

    for source_type in source_types(settings):
        if source_type.kind == kind and source_type.accepts(path):
            return source_type(path, settings)
    return None
