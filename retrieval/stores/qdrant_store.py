"""Qdrant: named vectors per space, keyword payload indexes for filters.

Two engines behind one class:

- embedded (``qdrant-edge-py``): the Qdrant engine in process, an on-disk shard at ``location`` that one process at a
  time holds (below). Its WAL is off, so nothing is durable before ``commit`` (a flush); ``commit`` then runs the
  optimisers, which do work only past Qdrant's own thresholds (``indexing_threshold`` from
  ``qdrant_indexing_threshold_kb``, ``deleted_threshold``), not on every commit. A flush is not
  atomic across Qdrant segments: a crash during ``commit`` can keep part of that commit.
- server or cluster (``qdrant-client``): when ``PATHATLAS_QDRANT_URL`` is set and the index folder holds no shard of
  its own (``remote_of``): an ``http(s)://`` URL, ``:memory:`` (qdrant-client's in-process twin, used by the tests) or
  a folder (the twin persisted there, which one process at a time opens: ``LocalCopyBusyError``). Every acknowledged
  write is durable on the server. A copy of the index folder (``cp -a``, a backup restored) names the same collection
  but not its records, so each commit stamps a new token on the folder (``WRITTEN_FILE``) and on the collection (its
  metadata), and a folder whose stamp is not the collection's is refused before it reads or writes
  (``CopiedIndexError``).

Filters are Qdrant's own (keyword payload indexes on ``FILTER_FIELDS``), which match a payload list by any of its
items as ``matches`` does; a value of a field ``matches`` compares whatever its case (``FOLDED_FIELDS``) first
becomes the spellings the field holds (``QdrantStore.exact``), read once per state of the store (as the counts of a
field's values are, ``value_counts``): each write through it starts a new one, as does a write through another store of
the process on the same embedded shard (``Writes``), and what another process commits is served by a store opened again
(the generation pointer changed; until then the index hides those records anyway). A batch of queries is one
``query_batch`` call. Per-source revisions (for BM25 updates) live in ``revisions.json`` beside the shard, written
before the flush, so after a crash they can only claim more change than happened.

Qdrant point ids must be integers or UUIDs, so each record id maps to a UUID5 and the record id
travels in the payload as ``_id``; every read skips points without it.

An embedded shard is held by one process at a time (``HOLDER_LOCK``; another is refused in one line,
``ShardHeldError``). qdrant-edge keeps a loaded shard's whole state in its process and writes it back when it closes,
flushes or is dropped, even where it only read: a second holder loaded before a commit and dropped after it undid that
commit (the next opener zeroed its vectors for good), and one opened and closed between two commits of a writer failed
the second. In the process, every store open on the folder uses one loaded shard (``hold``), closed when the last store
is closed or garbage-collected: a store open before another (a second ``Index.open``: ``pathatlas remove`` run in
process, a service's reopened index) wrote sees those writes at once, less the records its index's generation does not
list, and no longer finds a record deleted since (where a FAISS index read before a commit still does). A child forked
from a process holding a shard (a ``fork`` multiprocessing pool, a pre-forking server's workers) neither uses nor closes
it (``forget_inherited``).

The embedded engine writes its files through memory maps, where a full disk is a SIGBUS that kills the process, not an
error: each write (and each opening on tmpfs, where reading a mapped file takes room) first checks the free space
(``require_room``) and is refused as a full disk, in the line FAISS gives, before the engine maps a page. It opens its
files for writing even to search, so a read-only disk is refused in one line naming the remedy (``ReadOnlyShardError``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import logging
import os
import re
import shlex
import shutil
import threading
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial, wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import orjson
from filelock import FileLock, Timeout

from pathatlas.errors import IndexBusyError, IndexMissingError, PathAtlasError
from pathatlas.paths import expanded
from pathatlas.retrieval.durable import write_atomic
from pathatlas.retrieval.index import EMBEDDED_SHARD, unwritable
from pathatlas.retrieval.records import FILTER_FIELDS, StoredVectors
from pathatlas.retrieval.stores.base import FOLDED_FIELDS, Filters, ScoredIds, VectorStore, fold
from pathatlas.settings import Settings, without_credentials

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("6f0c2a52-6d1e-4c55-9d0e-3f4b1f5a2b7c")
SCROLL_PAGE = 1024
REMOTE_FILE = "remote.json"
"""Beside the shard's files: the server (its URL without credentials: ``recorded_url``) or twin folder, and the
collection the store's vectors are in."""
WRITTEN_FILE = "written.json"
"""Beside ``REMOTE_FILE``: the token this folder's last commit stamped on its collection (``commit``), and the one the
collection had before (``previous``): written first, so a crash before the collection's stamp leaves that one there."""
COMMIT_KEY, FOLDER_KEY = "pathatlas_commit", "pathatlas_folder"
"""The collection's metadata: the token of the last commit into it, and the index folder that made it."""
FACET_LIMIT = 100_000
"""Values one facet call counts (a field with more, e.g. fingerprints of that many sources, is scanned instead)."""
MMAP_CHUNK = 32 * 2**20
"""The embedded engine's mmap chunk: it grows its vector and payload files in sparse chunks of this size, and fills them
through the mapping. Every write needs its own bytes free and one chunk more (the pages its payload indexes, id
tracker and flags take), as does making a new shard."""
FILLED_ON_READ = {"tmpfs"}
"""File systems where reading a hole of a mapped file takes a page: the engine reads its mapped files whole when it
opens them (``MADV_POPULATE_READ``), so there opening fills every hole of the shard's sparse files."""
OPTIMISER_FULL = "Not enough space available for optimization"
"""How the engine's optimiser refuses a rebuild the disk has no room for ("..., needed: 73.09 MiB, available: 7.42")."""
ON_DEMAND = "payload_storage"
"""A segment's folder of payloads, which the engine maps without reading them whole (they stay on disk)."""
HOLDER_LOCK = "holder.lock"
"""In the embedded shard's folder: locked (an OS file lock) by the one process that has the shard loaded, from before
it loads it until after it closes it (``hold``)."""
PANIC = "PanicException"
"""pyo3's exception for a panic of the engine (opening a shard whose status file is cut short): a BaseException whose
class is made when first raised, so it is known by this name."""
Fact = TypeVar("Fact")


@dataclass
class Writes:
    """Writes (``QdrantStore._writing``) this process made to one embedded shard, through whichever of its stores, or
    through one store's client: each starts a new state, for which ``per_state`` keeps what it read."""

    count: int = 0


def per_state(read: Callable[[QdrantStore, str], Fact]) -> Callable[[QdrantStore, str], Fact]:
    """``read(store, field)`` asked once per state of the store (``Writes``) and kept until a write through it or,
    on an embedded shard, through any store of the process: repeated searches and counts make no round trip for what
    only a write changes."""

    @wraps(read)
    def kept(store: QdrantStore, field: str) -> Fact:
        state = store.engine.writes.count
        if (cached := store._per_state.get((read.__name__, field))) is not None and cached[0] == state:
            return cached[1]
        fact = read(store, field)
        store._per_state[(read.__name__, field)] = (state, fact)
        return fact

    return kept


def remote_of(location: Path, settings: Settings) -> tuple[str, str] | None:
    """(URL, collection) of the server a store is on, None for the embedded shard: ``PATHATLAS_QDRANT_URL`` (and
    ``_COLLECTION``) when set, else what a commit through a server recorded beside the shard (``pathatlas export``
    writes such an index folder), so that the folder searches its collection without further settings. With the URL
    alone set, the collection is still the recorded one (the server moved, not the collection's name); the index
    folder's name only names a collection nothing recorded. An index folder whose vectors are in its embedded shard
    keeps them there whatever the URL says (``holds_own_shard``): a URL set for another index made its reads create an
    empty collection there, and its ``index`` runs encode every source again into it."""
    if holds_own_shard(location):
        return None
    if settings.qdrant_url:
        url = settings.qdrant_url
        if not url.startswith(("http://", "https://")) and url != ":memory:":  # a twin's folder: from anywhere
            url = str(expanded(url).resolve())
        recorded = None if settings.qdrant_collection else recorded_remote(location)
        return url, settings.qdrant_collection or (recorded and recorded[1]) or location.parent.name or "pathatlas"
    return recorded_remote(location)


def holds_own_shard(location: Path) -> bool:
    """Whether the store at ``location`` is an embedded shard that no commit moved to a server (``REMOTE_FILE``)."""
    return (location / EMBEDDED_SHARD).is_file() and not (location / REMOTE_FILE).is_file()


@cache
def warn_url_ignored(location: Path, url: str) -> None:
    """Say once per process (a service opens its index's store again after each commit another process makes) that
    ``PATHATLAS_QDRANT_URL`` does not apply to the embedded index at ``location``: set for another index, it silently
    took this one over."""
    log.warning(
        "index %s keeps its vectors in its embedded Qdrant store; PATHATLAS_QDRANT_URL (%s) is not used for it (to "
        "search them on that Qdrant, copy them there into a new index folder: pathatlas export --index %s --to URL)",
        location.parent, without_credentials(url), shlex.quote(str(location.parent)),
    )  # fmt: skip


def placement(remote: tuple[str, str] | None) -> str:
    """Where a Qdrant store's vectors are, as ``info`` says it (a URL without its credentials)."""
    if remote is None:
        return "qdrant (embedded, in the index folder)"
    url, collection = remote
    if url == ":memory:":
        return f"qdrant in memory (qdrant-client), collection {collection}"
    if url.startswith(("http://", "https://")):
        return f"qdrant server {without_credentials(url)}, collection {collection}"
    return f"qdrant local copy {url}, collection {collection}"


def recorded_url(url: str) -> str:
    """``url`` as ``REMOTE_FILE`` records it: a server's without the user, password and query, which qdrant-client does
    not send (it connects to the scheme, host, port and path; the API key is ``PATHATLAS_QDRANT_API_KEY``) and anyone
    reading the index folder would read there; a twin's folder as it is."""
    if not url.startswith(("http://", "https://")):
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def recorded_remote(location: Path) -> tuple[str, str] | None:
    """(URL, collection) that a commit recorded in ``REMOTE_FILE``; None where none did."""
    recorded = location / REMOTE_FILE
    if not recorded.is_file():
        return None
    try:
        document = orjson.loads(recorded.read_bytes())
        return str(document["url"]), str(document["collection"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PathAtlasError(f"{recorded} is damaged ({exc}); set PATHATLAS_QDRANT_URL and _COLLECTION") from exc


def read_revisions(path: Path) -> dict[str, str] | None:
    """The per-source revisions a commit wrote; None where none did (a store older than them) or the file is damaged:
    every source then counts as changed and BM25 is read again from the store, where refusing would have the index
    re-created for a file it can do without."""
    if not path.is_file():
        return None
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        log.warning("%s is damaged (%s): BM25 is read again from the store", path, exc)
        return None


def read_written(location: Path) -> dict[str, str | None]:
    """The tokens ``WRITTEN_FILE`` records; empty where no commit stamped one (an index from before stamps, or one whose
    uncommitted store folder was dropped)."""
    written = location / WRITTEN_FILE
    if not written.is_file():
        return {}
    try:
        document = orjson.loads(written.read_bytes())
        return {"commit": document["commit"], "previous": document.get("previous")}
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PathAtlasError(f"{written} is damaged ({exc}); restore the index folder from a copy") from exc


class CopiedIndexError(IndexBusyError):
    """An index folder that did not make the last commit into its collection: a copy of it (or another index naming
    that collection) wrote it since, deleting or replacing records this folder lists. Its reads would miss them without
    a word, and its writes would delete the other's records as strays. An ``IndexBusyError`` (REST answers 409): the
    index's state, not the request, is at fault."""


def index_folder(location: Path) -> str:
    """The index folder of the store at ``location`` as a collection's stamp names it (symbolic links resolved)."""
    return str(location.parent.resolve())


def copied_index(url: str, collection: str, location: Path, writer: str | None) -> CopiedIndexError:
    other = "another copy of this folder" if writer == index_folder(location) else f"index folder {writer}"
    return CopiedIndexError(
        f"index {location.parent} is not the folder that last wrote the Qdrant collection {collection!r} at "
        f"{without_credentials(url)}: {other} has written it since (copies of an index folder share its collection, "
        "not its records), so records this folder lists may be gone; use the folder that wrote it last, or index the "
        "sources into a new --index with a collection of its own (to write two copies apart, first `pathatlas export "
        "--to` one into a new collection)"
    )


class MissingCollectionError(IndexMissingError):
    """The collection an index's commits put its vectors in is not where ``REMOTE_FILE`` (or the settings) say."""


def missing_collection(url: str, collection: str, location: Path, why: str = "") -> MissingCollectionError:
    return MissingCollectionError(
        f"the Qdrant collection {collection!r} at {without_credentials(url)} does not exist{why}: index "
        f"{location.parent} keeps its vectors there ({REMOTE_FILE} records it), so an empty one is not made in its "
        "place; set PATHATLAS_QDRANT_URL (and PATHATLAS_QDRANT_COLLECTION) to where they are now, or index into a new "
        "--index"
    )


class LocalCopyBusyError(IndexBusyError):
    """qdrant-client's local copy (a folder, ``pathatlas export --to FOLDER``) is open in another process: its client
    locks the folder for one process at a time, as the embedded shard is held (``ShardHeldError``); a server serves
    many."""


def local_client(folder: str) -> Any:
    """qdrant-client's local mode on ``folder``; a folder another client holds is one line instead of its RuntimeError
    (and the CLI's 200-line traceback)."""
    from qdrant_client import QdrantClient

    try:
        return QdrantClient(path=folder)
    except RuntimeError as exc:
        from portalocker.exceptions import LockException  # imported by then: the client locks with it

        if not isinstance(exc.__context__, LockException):
            raise
        raise LocalCopyBusyError(
            f"the local Qdrant copy at {folder} is open in another process (a server, a search) and serves one "
            "process at a time: stop that one, or for shared access export the index to a Qdrant server (pathatlas "
            "export --to http://host:6333) or index its sources into a new index in a FAISS store, which many "
            "processes read at once (pathatlas index PATHS --index NEW --store faiss)"
        ) from exc


def is_dashed_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID as ``str(uuid.UUID(...))`` writes it."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


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


def scrolled(fetch: Callable[[Any], tuple[list[Any], Any]]) -> Iterator[tuple[dict, dict]]:
    """Every (payload, vectors) pair of a scroll, page after page: ``fetch(offset)`` is one page's records and the
    next page's offset, None after the last (the embedded shard's ``scroll`` and the client's alike)."""
    offset = None
    while True:
        records, offset = fetch(offset)
        yield from ((r.payload or {}, r.vector or {}) for r in records)
        if offset is None:
            return


class ReadOnlyShardError(IndexBusyError):
    """The embedded shard is on a read-only disk (or its folder is not this user's to write): qdrant-edge has no
    read-only mode and opens its files for writing even to search. An ``IndexBusyError``, as a read-only FAISS index's
    write is: the index's place, not the request, is at fault."""


def refuse_read_only(path: Path) -> None:
    """Refuse a shard folder this process cannot write in one line naming the cause and the remedy, where the engine
    would say "Failed to open mmap payload storage: Read-only file system (os error 30)"."""
    if os.access(path, os.W_OK):
        return
    read_only = hasattr(os, "statvfs") and os.statvfs(path).f_flag & os.ST_RDONLY
    cause = "on a read-only disk" if read_only else f"without write permission on {path}"
    raise ReadOnlyShardError(
        f"index {path.parent}: the embedded Qdrant store cannot be opened {cause} (it opens its files for writing, "
        "even to search): copy the index to a writable disk, or index into a FAISS store (--store faiss), which "
        "searches read-only"
    )


def unfilled(folder: Path) -> int:
    """Bytes of holes in the files under ``folder`` (their size past the blocks they take) that the engine reads whole
    when it opens them: every mapped file but the payloads' (``ON_DEMAND``). It makes its files sparse, a 32 MiB chunk
    of a few vectors taking a few pages."""
    holes = 0
    for root, _, files in os.walk(folder):
        if Path(root).name == ON_DEMAND:
            continue
        for name in files:
            try:
                found = os.stat(os.path.join(root, name))
            except FileNotFoundError:  # an optimiser's file replaced meanwhile
                continue
            holes += max(0, found.st_size - found.st_blocks * 512)
    return holes


def file_system(path: Path) -> str:
    """The type of the file system holding ``path`` ("ext4", "tmpfs"): its longest mount point in /proc/self/mounts;
    "" where that is not there (not Linux)."""
    try:
        mounts = Path("/proc/self/mounts").read_text()
    except OSError:
        return ""
    resolved, kind, longest = str(path.resolve()), "", -1
    for line in mounts.splitlines():
        _, point, fs_type, *_ = line.split()
        point = re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), point)  # "\040": a space
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= longest:  # a later mount on the same point hides an earlier one
            kind, longest = fs_type, len(point)
    return kind


def require_room(path: Path, needed: int, action: str = "written") -> None:
    """Refuse, as a full disk, a write to the shard at ``path`` (or its opening, as ``action`` says) that may map
    ``needed`` bytes the disk does not have: the engine would die of SIGBUS writing them. A file system that reports no
    size (ramfs) is not checked."""
    usage = shutil.disk_usage(path)
    if usage.total and usage.free < needed:
        need, free = -(-needed // 2**20), usage.free // 2**20  # rounded apart: the need shows above what is free
        raise disk_full(path, f"the Qdrant store may map {need} MiB, {free} MiB are free", action)


def disk_full(path: Path, why: str, action: str = "written") -> PathAtlasError:
    """The line a full disk is under the index holding the shard at ``path``, as FAISS's failed write gives it; a
    search or ``info`` that cannot open the shard reads "cannot be opened" (``action``)."""
    return unwritable(path.parent, OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: {why}"), action)


def room_to_open(path: Path, has_data: bool) -> int:
    """Bytes opening the shard at ``path`` may map: its holes where reading them takes space (tmpfs), and a chunk
    where it makes a new shard."""
    return (unfilled(path) if file_system(path) in FILLED_ON_READ else 0) + (0 if has_data else MMAP_CHUNK)


def written_bytes(points: list[tuple[str, dict, dict]]) -> int:
    """What upserting ``points`` adds to the shard: their vectors and their payloads as JSON."""
    return sum(
        sum(np.asarray(v).nbytes for v in vectors.values()) + len(orjson.dumps(payload, default=str))
        for _, vectors, payload in points
    )


class ShardHeldError(IndexBusyError):
    """The embedded shard is loaded by another process. qdrant-edge keeps a loaded shard's whole state in its process
    and writes it back when it closes, flushes or is dropped, even where it only read: a second process holding it
    undid the first's commits (their vectors zeroed for good), or made its next commit fail."""


def shard_held(path: Path) -> ShardHeldError:
    return ShardHeldError(
        f"index {path.parent} is open in another process (a `pathatlas serve` or `ui`, an `index` run, a search): its "
        "embedded Qdrant store is held by one process at a time; stop that one and run again, or, for several "
        "processes at once, index into a FAISS store (--store faiss), which many processes read at once, or copy the "
        f"index to a Qdrant server (pathatlas export --index {shlex.quote(str(path.parent))} --to http://host:6333)"
    )


@dataclass
class LoadedShard:
    """A shard this process loaded, with its folder's ``HOLDER_LOCK``, how many open stores use it (``engines``: those
    not collected yet), and the writes they made to it."""

    shard: Any
    holder: FileLock
    users: int = 0
    engines: weakref.WeakSet[_EdgeEngine] = dataclasses.field(default_factory=weakref.WeakSet)
    writes: Writes = dataclasses.field(default_factory=Writes)


LOADED: dict[Path, LoadedShard] = {}
"""This process's loaded shards by resolved folder: every store open on a folder uses its one shard, so none keeps a
copy that another's commit made stale."""
LOADING = threading.RLock()
"""Around ``LOADED``'s changes. Reentrant: a store garbage-collected unclosed lets go of its shard (``let_go``) in
whatever thread the collector runs, which may be inside ``hold``."""


class InheritedShard:
    """What a forked child's engines use in place of the shard its parent holds (``forget_inherited``): each call is
    refused in one line, where the engine would wait for ever on threads that stayed in the parent."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __getattr__(self, name: str) -> Any:
        raise shard_held(self.folder)


def forget_inherited() -> None:
    """In a child just forked from this process: forget the shards it holds, which stay the parent's. Closing the
    child's copy of one, or dropping it (collected, or at the child's exit), writes the parent's state back from before
    the parent's later commits, zeroing their vectors for good, and an older filelock's release in the child unlocks
    the parent's ``HOLDER_LOCK``: so each is kept to the child's end (a reference nothing drops, exit included) and its
    engines are refused. The child, as any other process, is refused the folder (``ShardHeldError``)."""
    global LOADING
    LOADING = threading.RLock()  # a thread that stayed in the parent may have held it
    for folder, loaded in LOADED.items():
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(loaded))
        for engine in loaded.engines:
            engine.shard = InheritedShard(folder)
    LOADED.clear()


@cache
def forget_when_forked() -> None:
    """Once per process, before it first loads a shard: ``forget_inherited`` in its forked children."""
    if hasattr(os, "register_at_fork"):  # no fork without it (Windows)
        os.register_at_fork(after_in_child=forget_inherited)


def hold(folder: Path, load: Callable[[], Any]) -> LoadedShard:
    """The shard at ``folder`` (resolved): the one this process loaded, else ``load()``'s, under ``HOLDER_LOCK`` (taken
    first: another process holding it is refused, ``ShardHeldError``). Each call is matched by one ``let_go``."""
    with LOADING:
        loaded = LOADED.get(folder)
        if loaded is None:
            forget_when_forked()
            holder = FileLock(folder / HOLDER_LOCK, thread_local=False)  # let go in whichever thread closes last
            try:
                holder.acquire(timeout=0)
            except Timeout:
                raise shard_held(folder) from None
            try:
                loaded = LoadedShard(load(), holder)
            except BaseException:
                holder.release()
                raise
            LOADED[folder] = loaded
        loaded.users += 1
        return loaded


def let_go(folder: Path, loaded: LoadedShard) -> None:
    """A store of this process is done with ``loaded``, the shard at ``folder``: the last one closes it (which writes it
    back), then releases ``HOLDER_LOCK`` for other processes. One a forked child inherited is left as it is."""
    with LOADING:
        if LOADED.get(folder) is not loaded:
            return  # the parent's (forget_inherited)
        loaded.users -= 1
        if loaded.users:
            return
        del LOADED[folder]
        try:
            loaded.shard.close()
        finally:
            loaded.holder.release()


def load_shard(path: Path, dims: Mapping[str, int], settings: Settings) -> Any:
    """The shard at ``path``, made there (with its payload indexes) where the folder holds none."""
    import qdrant_edge as qe

    config = qe.EdgeConfig(
        vectors={s: qe.EdgeVectorParams(size=d, distance=qe.Distance.Dot) for s, d in dims.items()},
        hnsw_config=qe.HnswIndexConfig(
            m=settings.qdrant_hnsw_m, ef_construct=settings.qdrant_ef_construct, full_scan_threshold=10_000
        ),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=settings.qdrant_indexing_threshold_kb),
        wal_enabled=False,
    )
    has_data = any(entry.name != HOLDER_LOCK for entry in path.iterdir())
    require_room(path, room_to_open(path, has_data), "opened" if has_data else "written")
    try:
        shard = qe.EdgeShard.load(str(path), config) if has_data else qe.EdgeShard.create(str(path), config)
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != PANIC:
            raise  # Ctrl-C
        advice = "; restore it from a backup or re-create the index" if has_data else ""
        raise PathAtlasError(f"cannot open the Qdrant shard at {path}: {exc}{advice}") from exc
    if not has_data:
        for field in FILTER_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
    return shard


class _EdgeEngine:
    def __init__(self, path: Path, dims: Mapping[str, int], settings: Settings):
        import qdrant_edge as qe

        self.qe = qe
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        refuse_read_only(path)
        folder = path.resolve()
        loaded = hold(folder, partial(load_shard, path, dims, settings))
        loaded.engines.add(self)
        self.shard = loaded.shard
        self.writes = loaded.writes
        self._let_go = weakref.finalize(self, let_go, folder, loaded)
        """Once: at ``close``, or where the store is never closed, when it is garbage-collected (a service's index
        swapped out) or at exit."""
        self.ef = settings.hnsw_ef_search

    def upsert(self, points: list[tuple[str, dict, dict]]) -> None:
        qe = self.qe
        require_room(self.path, written_bytes(points) + MMAP_CHUNK)
        self.shard.update(
            qe.UpdateOperation.upsert_points(
                [qe.Point(pid, vectors, payload) for pid, vectors, payload in points]  # numpy arrays as they are
            )
        )

    def delete(self, filters: Filters) -> None:
        require_room(self.path, MMAP_CHUNK)  # deleted flags and payload indexes are mapped too
        self.shard.update(self.qe.UpdateOperation.delete_points_by_filter(build_filter(self.qe, filters)))

    def query(self, space: str, vectors: np.ndarray, k: int, filters: Filters | None) -> list[list[tuple[dict, float]]]:
        qe = self.qe
        condition = build_filter(qe, filters)
        requests = [
            qe.QueryRequest(
                limit=k,
                query=qe.Query.Nearest(vector.tolist(), using=space),
                filter=condition,
                with_payload=["_id"],
                params=qe.SearchParams(hnsw_ef=self.ef),
            )
            for vector in vectors
        ]
        found = self.shard.query_batch(qe.QueryBatchRequest(requests))
        return [[(p.payload or {}, p.score) for p in points] for points in found]

    def scroll(self, filters: Filters | None, vectors: bool = False) -> Iterator[tuple[dict, dict]]:
        condition = build_filter(self.qe, filters)
        return scrolled(
            lambda offset: self.shard.scroll(
                self.qe.ScrollRequest(
                    offset=offset, limit=SCROLL_PAGE, filter=condition, with_payload=True, with_vector=vectors
                )
            )
        )

    def retrieve(self, pids: list[str]) -> list[dict]:
        return [r.payload or {} for r in self.shard.retrieve(pids, with_payload=True, with_vector=False)]

    def retrieve_vectors(self, pids: list[str]) -> list[tuple[dict, dict]]:
        return [
            (r.payload or {}, r.vector or {}) for r in self.shard.retrieve(pids, with_payload=["_id"], with_vector=True)
        ]

    def count(self, space: str | None, filters: Filters | None = None) -> int:
        qe = self.qe
        condition = build_filter(qe, filters) or qe.Filter(must=[])
        if space is not None:
            condition = qe.Filter(must=[*condition.must, qe.HasVectorCondition(space)])
        return self.shard.count(qe.CountRequest(exact=True, filter=condition if condition.must else None))

    def facet(self, field: str, limit: int) -> list[tuple[Any, int]]:
        qe = self.qe
        return [(h.value, h.count) for h in self.shard.facet(qe.FacetRequest(field, limit=limit, exact=True)).hits]

    def commit(self) -> None:
        require_room(self.path, MMAP_CHUNK)
        self.shard.flush()
        try:
            optimized = self.shard.optimize()  # a no-op unless a segment passed an optimiser threshold
        except Exception as exc:  # it checks the room a segment's rebuild takes itself, and says so in its own words
            if OPTIMISER_FULL not in str(exc):
                raise
            raise disk_full(self.path, str(exc)) from exc
        if optimized:
            self.shard.flush()

    def close(self) -> None:
        self._let_go()


class _ClientEngine:
    def __init__(
        self,
        url: str,
        collection: str,
        dims: Mapping[str, int],
        settings: Settings,
        shards: int | None = None,
        replication_factor: int | None = None,
        missing: Callable[[str], MissingCollectionError] | None = None,
    ):
        """``missing``: the error to raise, given why, where the collection (or the twin's folder) is missing and may
        not be created; None creates it."""
        from qdrant_client import QdrantClient, models

        self.models = models
        self.url, self.collection = url, collection
        self._unstamped = False
        """A stamp was refused (a server without collection metadata): said once."""
        remote = url.startswith(("http://", "https://"))
        if url == ":memory:":
            self.client = QdrantClient(":memory:")
        elif remote:
            self.client = QdrantClient(url=url, api_key=settings.qdrant_api_key)
        elif not Path(url).is_dir() and missing is not None:  # the twin's client would make the folder
            raise missing(" (no such folder)")
        else:
            self.client = local_client(url)
        self._let_go = weakref.finalize(self, self.client.close)
        """Once: at ``close``, or where the store is never closed, when it is garbage-collected or at exit, before
        the interpreter tears its modules down (the client's own ``__del__`` then printed "Exception ignored ...
        ImportError: sys.meta_path is None"). It holds the client, not this engine, so it keeps no store alive."""
        try:
            exists = self.exists()
        except PathAtlasError:
            self._let_go()
            raise
        if not exists and missing is not None:
            self._let_go()  # a twin's client holds its folder's lock
            raise missing("")
        self.created = not exists
        if not exists:
            self.client.create_collection(
                collection,
                vectors_config={s: models.VectorParams(size=d, distance=models.Distance.DOT) for s, d in dims.items()},
                shard_number=shards,
                replication_factor=replication_factor,
            )
            if remote:  # the local twin scans; payload indexes only warn there
                for field in FILTER_FIELDS:
                    self.client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
        self.params = models.SearchParams(hnsw_ef=settings.hnsw_ef_search) if remote else None  # the twin is exact
        self.remote = remote
        self.writes = Writes()  # through this client only: another store's on a server's collection is not counted

    def exists(self) -> bool:
        """Whether the collection is there; a server that cannot be reached is one line."""
        try:
            return self.client.collection_exists(self.collection)
        except Exception as exc:
            shown = without_credentials(self.url)
            raise PathAtlasError(f"cannot reach Qdrant at {shown}: {str(exc).splitlines()[0]}") from exc

    def written_by(self) -> tuple[str | None, str | None]:
        """(token, index folder) of the last commit stamped on the collection; Nones where none was (a collection from
        before stamps, a server that keeps no collection metadata)."""
        metadata = self.client.get_collection(self.collection).config.metadata or {}
        return metadata.get(COMMIT_KEY), metadata.get(FOLDER_KEY)

    def stamp(self, token: str, folder: str) -> None:
        """The commit's token on the collection. A server that refuses collection metadata (Qdrant before 1.16 may
        answer 400 to the field) keeps none: the commit stands, copies of the folder are not told apart there, and the
        log says so once per store."""
        from qdrant_client.http.exceptions import UnexpectedResponse

        try:
            self.client.update_collection(self.collection, metadata={COMMIT_KEY: token, FOLDER_KEY: folder})
        except UnexpectedResponse as exc:
            if exc.status_code not in (400, 422):
                raise
            if not self._unstamped:
                log.warning("Qdrant at %s keeps no collection metadata (%s): copies of an index folder writing "
                            "collection %r are not told apart; use Qdrant 1.16 or later", without_credentials(self.url),
                            exc.reason_phrase, self.collection)  # fmt: skip
            self._unstamped = True

    def upsert(self, points: list[tuple[str, dict, dict]]) -> None:
        structs = [
            self.models.PointStruct(id=pid, vector={s: v.tolist() for s, v in vectors.items()}, payload=payload)
            for pid, vectors, payload in points
        ]
        self.client.upsert(self.collection, structs, wait=True)

    def delete(self, filters: Filters) -> None:
        self.client.delete(self.collection, build_filter(self.models, filters), wait=True)

    def query(self, space: str, vectors: np.ndarray, k: int, filters: Filters | None) -> list[list[tuple[dict, float]]]:
        models = self.models
        condition = build_filter(models, filters)
        requests = [
            models.QueryRequest(
                query=vector.tolist(),
                using=space,
                limit=k,
                filter=condition,
                with_payload=["_id"],
                params=self.params,
            )
            for vector in vectors
        ]
        responses = self.client.query_batch_points(self.collection, requests)
        return [[(p.payload or {}, p.score) for p in response.points] for response in responses]

    def scroll(self, filters: Filters | None, vectors: bool = False) -> Iterator[tuple[dict, dict]]:
        condition = build_filter(self.models, filters)
        return scrolled(
            lambda offset: self.client.scroll(
                self.collection,
                scroll_filter=condition,
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=vectors,
            )
        )

    def retrieve(self, pids: list[str]) -> list[dict]:
        return [r.payload or {} for r in self.client.retrieve(self.collection, pids, with_payload=True)]

    def retrieve_vectors(self, pids: list[str]) -> list[tuple[dict, dict]]:
        found = self.client.retrieve(self.collection, pids, with_payload=["_id"], with_vectors=True)
        return [(r.payload or {}, r.vector or {}) for r in found]

    def count(self, space: str | None, filters: Filters | None = None) -> int:
        models = self.models
        must = list(build_filter(models, filters).must) if filters else []
        if space is not None:
            must.append(models.HasVectorCondition(has_vector=space))
        condition = models.Filter(must=must) if must else None
        return self.client.count(self.collection, count_filter=condition, exact=True).count

    def facet(self, field: str, limit: int) -> list[tuple[Any, int]] | None:
        """None where the values may not be as stored: the twin's facet writes each value ``uuid.UUID`` reads (a 32-hex
        fingerprint, an upper-case or braced UUID) as a dashed UUID, and counts such spellings of one UUID together.
        A server's keyword index gives its values as stored, but a URL does not tell a server from the twin behind it
        (the tests' "server"), where every fingerprint was counted 0; a server's field of dashed UUIDs costs a scan."""
        hits = [(h.value, h.count) for h in self.client.facet(self.collection, field, limit=limit, exact=True).hits]
        return None if any(map(is_dashed_uuid, (value for value, _ in hits))) else hits

    def commit(self) -> None:
        """The server persists each acknowledged write."""

    def close(self) -> None:
        self._let_go()


class _ClosedEngine:
    """The engine of a closed store: each call is one line saying so (the embedded shard's own is "Service runtime
    error: Shard is not initialized"); closing again does nothing."""

    def __init__(self, location: Path):
        self.location = location

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        raise PathAtlasError(f"the Qdrant store at {self.location} is closed; open the index again")


class QdrantStore(VectorStore):
    kind = "qdrant"
    opens_twice = False
    exact_vectors = True  # float32 under the Dot distance, unquantised

    def __init__(
        self,
        location: Path,
        dims: Mapping[str, int],
        settings: Settings,
        shards: int | None = None,
        replication_factor: int | None = None,
    ):
        super().__init__(location, dims, settings)
        self.remote = remote_of(location, settings)
        if self.remote is None and settings.qdrant_url:
            warn_url_ignored(location, settings.qdrant_url)
        # Once a commit recorded where the vectors are, their collection must be there: opening (a search, info, a
        # server) never creates it, nor an empty twin folder in place of a moved one. Only a store not committed yet
        # (a new index, an export) creates its collection.
        missing = None
        if self.remote is not None and (location / REMOTE_FILE).is_file():
            missing = partial(missing_collection, *self.remote, location)
        if self.remote is None:
            self.engine: _EdgeEngine | _ClientEngine | _ClosedEngine = _EdgeEngine(location, dims, settings)
        elif settings.qdrant_url:
            self.engine = _ClientEngine(*self.remote, dims, settings, shards, replication_factor, missing)
        else:  # a server the index folder names: the API key goes only to the server the settings name
            keyless = settings.model_copy(update={"qdrant_api_key": None})
            try:
                self.engine = _ClientEngine(*self.remote, dims, keyless, shards, replication_factor, missing)
            except (MissingCollectionError, LocalCopyBusyError):
                raise
            except PathAtlasError as exc:
                raise PathAtlasError(
                    f"{exc} (the index folder names this server; to send it PATHATLAS_QDRANT_API_KEY, set "
                    "PATHATLAS_QDRANT_URL too)"
                ) from exc
        try:
            self._owned()
        except PathAtlasError:
            self.engine.close()  # a twin's client holds its folder's lock
            raise
        self._revisions = read_revisions(location / "revisions.json")
        if self._revisions is None and not self.engine.count(None):
            self._revisions = {}
        self._revisions_dirty = False
        self._per_state: dict[tuple[str, str], tuple[int, Any]] = {}

    @contextmanager
    def _writing(self) -> Iterator[str | None]:
        """Around a write: refused first where another folder committed into the collection since (``_owned``, whose
        token it yields), as a server's job or a long run may find; the state after it (or after its failure part-way)
        is a new one, whose spellings and value counts are read again. Counted when the write ends, so what was read
        while it ran is kept for the state before it."""
        token = self._owned()
        try:
            yield token
        finally:
            self.engine.writes.count += 1

    @property
    def placement(self) -> str:
        """Where the vectors are: the embedded shard, a server, a local copy (``info`` says which)."""
        return placement(self.remote)

    def _shared(self) -> bool:
        """Whether the collection outlives this process, so that a copy of the index folder can name it too."""
        return isinstance(self.engine, _ClientEngine) and self.engine.url != ":memory:"

    def _owned(self) -> str | None:
        """The collection's commit token where this folder made that commit, or the collection holds no stamp (one made
        before stamps, a server without collection metadata); else ``CopiedIndexError``. A folder that records no token
        owns a stamp naming its own path: its first build was killed between the stamp and its pointer, and the
        uncommitted store folder was dropped with its token (``Index._drop_uncommitted_store``)."""
        if not self._shared():
            return None
        token, writer = self.engine.written_by()
        written = read_written(self.location)
        if token is None or token in written.values() or (not written and writer == index_folder(self.location)):
            return token
        raise copied_index(*self.remote, self.location, writer)

    def _stamp(self, previous: str | None) -> None:
        """Stamp a new commit token on this folder, then on the collection: a crash between them leaves ``previous``
        on the collection, which this folder's ``WRITTEN_FILE`` still names."""
        if not self._shared():
            return
        token = uuid.uuid4().hex
        write_atomic(self.location / WRITTEN_FILE, orjson.dumps({"commit": token, "previous": previous}))
        self.engine.stamp(token, index_folder(self.location))

    def _facet(self, field: str) -> list[tuple[Any, int]] | None:
        """The values of ``field`` with their counts from its keyword index; None where the field has none (a shard or
        collection made without one), more values than one call returns, or values the engine may not give as stored
        (``_ClientEngine.facet``). A value counted 0 is left out: the shard keeps a deleted one in its index until it
        is opened again."""
        try:
            hits = self.engine.facet(field, FACET_LIMIT)
        except Exception:
            return None
        if hits is None or len(hits) >= FACET_LIMIT:
            return None
        return [(value, count) for value, count in hits if count]

    def exact(self, filters: Filters | None) -> Filters | None:
        """``filters`` as Qdrant's exact keyword match takes them: in ``FOLDED_FIELDS`` each text value becomes every
        spelling the field holds that ``matches`` takes for it ("Lung" becomes "lung" and "LUNG"); a value no record
        holds is kept (it matches nothing, as in every store)."""
        if not filters or not FOLDED_FIELDS & filters.keys():
            return filters
        resolved = dict(filters)
        for field in FOLDED_FIELDS & filters.keys():
            wanted = filters[field]
            accepted = list(wanted) if isinstance(wanted, list | tuple | set) else [wanted]
            by_fold = self._spelled(field)
            spellings = sorted({s for v in accepted if isinstance(v, str) for s in by_fold.get(fold(field, v), ())})
            resolved[field] = [v for v in accepted if not isinstance(v, str) or not spellings] + spellings
        return resolved

    @per_state
    def _spelled(self, field: str) -> dict[str, list[str]]:
        """The text values ``field`` holds (items of lists included: its facet, else every payload's) by their ``fold``;
        read and folded once per state of the store, so repeated filtered searches fold only their own values."""
        hits = self._facet(field)
        if hits is None:
            values = (p.get(field) for p, _ in self.engine.scroll(None))
            found = {v for value in values for v in (value if isinstance(value, list) else [value])}
        else:
            found = {value for value, _ in hits}
        by_fold: dict[str, list[str]] = {}
        for spelling in found:
            if isinstance(spelling, str):
                by_fold.setdefault(fold(field, spelling), []).append(spelling)
        return by_fold

    def _known_revisions(self) -> dict[str, str]:
        """Revisions, first made up for a shard written before they existed (every source counts as changed)."""
        if self._revisions is None:
            self._revisions = {str(p.get("source")): "unknown" for p, _ in self.engine.scroll(None)}
        return self._revisions

    def _touch(self, sources: set[Any]) -> None:
        self._known_revisions()
        for source in sources:
            self._revisions[str(source)] = uuid.uuid4().hex
        self._revisions_dirty = True

    def upsert(self, records: list[StoredVectors]) -> None:
        if records:
            pids = [point_id(r.id) for r in records]
            replaced = {p.get("source") for p in self.engine.retrieve(pids)}
            points = [(pid, r.vectors, {**r.payload, "_id": r.id}) for pid, r in zip(pids, records, strict=True)]
            with self._writing():
                self.engine.upsert(points)
            self._touch(replaced | {r.payload.get("source") for r in records})

    def delete(self, filters: Filters) -> int:
        filters = self.exact(filters)
        sources = [p.get("source") for p, _ in self.engine.scroll(filters)]
        if sources:
            with self._writing():
                self.engine.delete(filters)
            self._touch(set(sources))
            for source in set(sources):
                if not self.engine.count(None, {"source": source}):
                    self._known_revisions().pop(str(source), None)
        return len(sources)

    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if space not in self.dims or k <= 0:
            return [[] for _ in queries]
        found = self.engine.query(space, queries, k, self.exact(filters))
        return [[(p["_id"], float(score)) for p, score in hits if "_id" in p] for hits in found]

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
        for payload, _ in self.engine.scroll(self.exact(filters)):
            if "_id" in payload:
                yield payload.pop("_id"), payload

    def records(self, batch: int = 1000) -> Iterator[list[StoredVectors]]:
        chunk: list[StoredVectors] = []
        for payload, vectors in self.engine.scroll(None, vectors=True):
            if "_id" not in payload:
                continue
            record_id = payload.pop("_id")
            chunk.append(StoredVectors(record_id, payload, {s: np.asarray(v, np.float32) for s, v in vectors.items()}))
            if len(chunk) == batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def count(self, space: str | None = None) -> int:
        return self.engine.count(space)

    def value_counts(self, field: str) -> Counter[Any]:
        return self._counted(field).copy()  # the caller's to change

    @per_state
    def _counted(self, field: str) -> Counter[Any]:
        """Exact counts from the field's keyword index (Qdrant's facets) instead of reading every payload: at a
        million records the scan is what each ``index`` run would wait for. Records without the field count under
        ``None``; a field without an index, or with more values than one call returns, is scanned. Asked once per
        state of the store: every search filtered by chapter asks for the sections' counts (and its index for the
        fingerprints')."""
        hits = self._facet(field) if field in FILTER_FIELDS else None
        if hits is None:
            return super().value_counts(field)
        counts = Counter(dict(hits))
        if (missing := self.count() - sum(counts.values())) > 0:
            counts[None] = missing
        return counts

    def copy_from(self, source: VectorStore, batch: int = 1000, progress: Callable[[int], None] | None = None) -> int:
        """Every record of ``source`` with its vectors and its per-source revisions (so BM25 stays valid)."""
        copied = 0
        for records in source.records(batch):
            self.upsert(records)
            copied += len(records)
            if progress is not None:
                progress(len(records))
        self._revisions = dict(source.source_revisions() or {})
        self._revisions_dirty = True
        return copied

    def source_revisions(self) -> dict[str, str] | None:
        return None if self._revisions is None else dict(self._revisions)

    def commit(self) -> None:
        with self._writing() as token:  # a new committed state
            if self._revisions_dirty:  # before the flush: after a crash it can only over-claim a change
                self.location.mkdir(parents=True, exist_ok=True)
                write_atomic(self.location / "revisions.json", orjson.dumps(self._known_revisions()))
                self._revisions_dirty = False
            self._record_remote()
            self._stamp(token)
            self.engine.commit()

    def _record_remote(self) -> None:
        """Write where the vectors are (``REMOTE_FILE``) once a commit puts them on a server or in a twin's folder,
        without the URL's credentials (``recorded_url``): a record an older version wrote with them is read as it is,
        and written again without them by the next commit."""
        if self.remote is None or self.remote[0] == ":memory:":
            return
        document = orjson.dumps({"url": recorded_url(self.remote[0]), "collection": self.remote[1]})
        recorded = self.location / REMOTE_FILE
        if not recorded.is_file() or recorded.read_bytes() != document:
            self.location.mkdir(parents=True, exist_ok=True)
            write_atomic(recorded, document)

    def check(self) -> None:
        """A collection on a server (or in a twin) can be deleted by its other clients while this store is open, a
        server can stop answering, and a copy of the index folder can commit into it."""
        if isinstance(self.engine, _ClientEngine) and not self.engine.exists():
            raise missing_collection(*self.remote, self.location, " any more")
        self._owned()

    def discard(self) -> None:
        """Delete the collection this store created on a server or in a twin (an export that failed part-way); a
        collection it found is left as it was."""
        if isinstance(self.engine, _ClientEngine) and self.engine.created:
            self.engine.client.delete_collection(self.engine.collection)

    def close(self) -> None:
        self.engine.close()
        self.engine = _ClosedEngine(self.location)
