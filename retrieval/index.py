"""An index folder: which encoder built it, its vector store, BM25, the manifest of sources, thumbnails.

Layout::

    pathatlas.json    encoder name, vector sizes, store kind (written at creation, or by the first write); the
                      ``format`` of the last commit
    manifest.json     the generation pointer: generation number, the store snapshot and the BM25 folder of
                      that generation, its sources (path -> id, fingerprint, kind, entry count), and the PathAtlas
                      version that committed it (``writer``)
    store/            the vector store (FAISS snapshots or a Qdrant shard)
    lexical/          BM25 per source: immutable segment files, and gNNNNNN.json naming generation N's
    media/            thumbnails, one JPEG per entry id; case images' keypoints, one ``.sift.npz`` per entry id
                      (the files of records a commit replaced or removed are deleted after indexing and removal)
    media.pending     present while an indexing run or a removal is under way (``Index.changing_media``)
    write.lock        locked (an OS file lock) by the one process changing the index (``Index.writing``)

``pathatlas.json`` and ``manifest.json`` are read forward-compatibly: fields this version does not know are ignored
(a newer minor version may add some), a ``format`` this version cannot read is refused in one line naming it, and a
manifest that lacks a field it needs is one line naming the file and the field. Every commit stamps this version's
``format`` first, so that a PathAtlas older than the files the commit writes refuses the index in one line (versions
before this one fail on any field of ``pathatlas.json`` they do not know, calling the file damaged: new fields go in
``manifest.json``); reading (a search, ``info``) never writes, so an index keeps its format until a write. A folder
that cannot be written (a read-only mount, no permission, a full disk) stays searchable; a write is refused in one line
(``IndexUnwritableError``).

One commit makes one generation: the store's writes are made durable (FAISS: a new state, the previous
one kept), then the generation's BM25 (only the segments of changed sources) is written and fsynced, then
``manifest.json`` is replaced atomically
(file and folder fsynced). Until that rename the previous pointer names a whole previous generation, so a
crash at any moment leaves the index as one commit or the other, never a mix. Stores that write durably at
once (Qdrant) are read through the pointer: records of a source version it does not list (their
``fingerprint``) are invisible, and are deleted once the pointer has moved on.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shlex
import shutil
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from filelock import FileLock, Timeout

from pathatlas import __version__
from pathatlas.errors import (
    BadInputError,
    EncoderMismatchError,
    IndexBusyError,
    IndexMissingError,
    PathAtlasError,
    UnknownSourceError,
)
from pathatlas.paths import expanded
from pathatlas.retrieval.durable import crash_point, write_atomic
from pathatlas.retrieval.encoders import Encoder, create_encoder
from pathatlas.retrieval.lexical import LexicalIndex, SavedTerms, printed_words
from pathatlas.retrieval.local import Keypoints
from pathatlas.retrieval.records import source_id
from pathatlas.retrieval.stores import VectorStore, open_store, store_class
from pathatlas.retrieval.stores.views import EmptyStore, VisibleStore
from pathatlas.retrieval.terms import TERMS_VERSION
from pathatlas.retrieval.text import composed
from pathatlas.retrieval.upgrade import FORMAT_VERSION, READ_FORMATS, Upgrade, entry_reader, older_reader
from pathatlas.settings import ENVIRONMENT_ERRORS, NAMES, PLUGIN, Settings

META_FILE = "pathatlas.json"
POINTER_FILE = "manifest.json"
MEDIA_PENDING = "media.pending"
"""Marks work that writes media files or replaces records: found by the next such work, that one was killed, and its
files (of records never committed, or replaced but not yet deleted) are found only by listing the media folder."""
KEPT_FOLDERS = ("store", "lexical", "media")
"""The folders an index keeps in its own and cleans (files no commit names are deleted): a folder that is no index
yet holds one is refused (``Index.open``), where a first run deleted a user's ``media/holiday.jpg``."""
WRITE_LOCK = "write.lock"
"""Locked by the process changing the index: a second writer is refused in one line, where it would otherwise commit
a generation built on the one it opened, silently undoing the first writer's commit."""
KEYPOINTS_CACHED = 512
"""Case images whose keypoints stay in memory (about 35 KB each): an image query verifies its top 50."""
PAYLOAD_BATCH = 1000
"""Ids per store lookup when checking which released records the store still holds."""

SOURCE_FIELDS = ("fingerprint", "kind", "entries")
"""What every source entry of a manifest must hold (``id``, ``indexed_at``, ``problems``, ``stat``,
``records_version`` may be missing)."""

Manifest = dict[str, dict[str, Any]]
log = logging.getLogger(__name__)


class IndexUnwritableError(IndexBusyError):
    """The index folder cannot be written: a read-only mount or folder, or a full disk. Commits are atomic, so the index
    is as its last commit left it, and can still be searched. An ``IndexBusyError``: REST answers 409, since the
    index's state, not the request, is at fault."""


EMBEDDED_SHARD = "edge_config.json"
"""In ``store/``, the file marking an embedded Qdrant shard, which opens its files for writing even to search."""


def unwritable(path: Path, exc: OSError, action: str = "written") -> IndexUnwritableError | None:
    """``exc`` as the one line a user reads when it says the index folder at ``path`` cannot be written (or, as
    ``action`` says, opened: an embedded Qdrant shard maps its files to open them); None for any other error, and for
    one about a file elsewhere (an unreadable source PDF is that source's own problem)."""
    kind = ENVIRONMENT_ERRORS.get(exc.errno)
    if kind not in ("read-only", "full"):
        return None
    where = ""
    if isinstance(exc.filename, str | bytes | os.PathLike):
        named = Path(os.fsdecode(exc.filename))
        inside = next(
            (
                named_form.relative_to(folder)
                for named_form, folder in ((named.absolute(), path.absolute()), (named.resolve(), path.resolve()))
                if named_form.is_relative_to(folder)
            ),
            None,
        )
        if inside is None:
            return None
        where = f": {inside}" if inside.parts else ""
    cause = f"{exc.strerror or os.strerror(exc.errno)}{where}"
    if kind == "read-only":
        searched = (
            "it can be neither changed nor searched until write permission is restored (its embedded Qdrant store "
            "opens its files for writing, even to search)"
            if (path / "store" / EMBEDDED_SHARD).is_file()
            else "it can be searched but not changed"
        )
        return IndexUnwritableError(
            f"index {path} is read-only ({cause}): {searched}; make it writable for this user, or index into another "
            "--index"
        )
    room = "a file size limit is reached" if exc.errno == errno.EFBIG else "the disk is full"
    return IndexUnwritableError(
        f"index {path} cannot be {action}: {room} ({cause}); the index is as its last commit left it: free space (or "
        "raise the limit), then run again"
    )


def json_object(path: Path) -> dict[str, Any]:
    """An index file's JSON object; a damaged one (not JSON, not an object) is one line naming it."""
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexMissingError(f"{path} is damaged ({exc}); re-create the index") from exc
    if not isinstance(document, dict):
        raise IndexMissingError(f"{path} is damaged (not a JSON object); re-create the index")
    return document


@dataclass
class IndexMeta:
    encoder: str
    dims: dict[str, int]
    store: str
    format: int = FORMAT_VERSION
    created: float = field(default_factory=time.time)
    revisions: dict[str, str] = field(default_factory=dict)
    """``Encoder.revisions()`` at creation (empty in indexes made before it was recorded: not checked)."""

    @classmethod
    def read(cls, path: Path) -> IndexMeta:
        """``META_FILE`` of the index at ``path``. Fields this version does not know are ignored (a newer minor version
        may add some); a ``format`` it does not read (or one not a whole number) is refused in one line naming it."""
        meta_path = path / META_FILE
        document = json_object(meta_path)
        written = document.get("format", 1)
        readable = str(written).strip() in map(str, READ_FORMATS)  # "1" is format 1: a hand-edited file
        if not readable:
            writer = last_writer(path)
            by = f"PathAtlas {writer}" if writer else "another PathAtlas version"
            raise PathAtlasError(
                f"index {path} was written by {by} (format {written!r}); this one reads formats "
                f"{', '.join(map(str, READ_FORMATS))}: use that version or a newer one, or index into a new --index"
            )
        known = {name: document[name] for name in cls.__dataclass_fields__ if name in document}
        if missing := [name for name in ("encoder", "dims", "store") if name not in known]:
            raise IndexMissingError(
                f"{meta_path} lacks {', '.join(map(repr, missing))} (damaged, or written by another PathAtlas version)"
            )
        return cls(**{**known, "format": int(str(written).strip())})


@dataclass
class Generation:
    """What ``manifest.json`` says is committed."""

    number: int = 0
    store_version: str | None = None
    lexical: str = "."
    """Folder of this generation's BM25 under ``lexical/`` ("." for indexes written before generations)."""
    sources: Manifest = field(default_factory=dict)
    writer: str | None = None
    """The PathAtlas version (``pathatlas --version``) that committed it; None before versions were recorded."""

    @classmethod
    def read(cls, path: Path) -> Generation:
        """The committed generation; fields this version does not know are ignored, and one it needs that is missing
        is one line naming the file and the field (a source entry's: ``checked``)."""
        if not path.is_file():
            return cls()
        document = json_object(path)
        if not GENERATION_FIELDS.keys() & document.keys():  # an index written before generations: the manifest alone
            generation = cls(sources=document)
        else:
            if missing := [name for name in GENERATION_FIELDS if name not in document]:
                raise IndexMissingError(
                    f"{path} is malformed: it lacks {', '.join(map(repr, missing))} (damaged, or written by another "
                    "PathAtlas version)"
                )
            if wrong := [name for name, right in GENERATION_FIELDS.items() if not right(document[name])]:
                raise IndexMissingError(f"{path} is malformed: {', '.join(map(repr, wrong))} has the wrong type")
            writer = document.get("writer") if isinstance(document.get("writer"), str) else None
            generation = cls(*(document[name] for name in GENERATION_FIELDS), writer)
        return generation

    def checked(self, path: Path) -> Generation:
        """This generation, refused in one line naming ``path`` (its manifest) and the field when a source entry lacks
        one that opening an index reads (``SOURCE_FIELDS``)."""
        for key, entry in self.sources.items():
            lacks = [name for name in SOURCE_FIELDS if name not in entry] if isinstance(entry, dict) else SOURCE_FIELDS
            if lacks:
                raise IndexMissingError(
                    f"{path} is malformed: its source {key!r} lacks {', '.join(map(repr, lacks))} (damaged, or written "
                    "by another PathAtlas version)"
                )
        return self

    def to_json(self) -> bytes:
        document = {
            "generation": self.number,
            "store_version": self.store_version,
            "lexical": self.lexical,
            "sources": self.sources,
            "writer": self.writer,
        }
        return json.dumps(document, indent=1).encode()

    def fingerprints(self) -> list[str]:
        return [entry["fingerprint"] for entry in self.sources.values()]


GENERATION_FIELDS = {
    "generation": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "store_version": lambda v: v is None or isinstance(v, str),
    "lexical": lambda v: isinstance(v, str),
    "sources": lambda v: isinstance(v, dict),
}
"""The fields of ``manifest.json`` (in ``Generation``'s order) and whether a value has the right type."""


class AmbiguousSourceError(PathAtlasError):
    """A file name several sources share. ``ids`` maps each one's path to its id, so a caller that must not show
    server paths (the REST API) can name the ids instead."""

    def __init__(self, name: str, ids: dict[str, str]):
        self.ids = ids
        shown = ", ".join(f"{key} (id {source})" for key, source in ids.items())
        super().__init__(f"{name!r} matches several sources: {shown}; give the full path or the id")


def check_revisions(path: Path, recorded: dict[str, str], encoder: Encoder) -> None:
    """Refuse an encoder whose models differ from those that built the index (vectors would silently mix)."""
    current = encoder.revisions()
    if not recorded or recorded == current:
        return
    changed = "; ".join(
        f"{space}: {recorded.get(space, 'none')!r} now {current.get(space, 'none')!r}"
        for space in sorted(recorded.keys() | current.keys())
        if recorded.get(space) != current.get(space)
    )
    raise EncoderMismatchError(
        f"index {path} was built with other models than encoder {encoder.name!r} has now ({changed}): "
        "use the models it was built with (e.g. PATHATLAS_JOINT_HEADS) or re-index into a new --index"
    )


def named_by(settings: Settings, recorded: str) -> bool:
    """Whether the ``py:`` encoder the settings name calls itself ``recorded``: indexes made before the name the user
    gave was recorded hold a plug-in's own ``name``, and reopen with the ``py:`` path that built them."""
    return settings.encoder.startswith("py:") and create_encoder(settings.encoder, settings).name == recorded


def chosen(settings: Settings, name: str) -> str | None:
    """The encoder or store (``name``) the user chose: an option, a variable or a caller's value. None where the
    setting is left at its default, so that an index opens with its own: one built with a plug-in was refused until
    its ``py:`` path was set again, as "not 'default'" though nobody had asked for that."""
    return getattr(settings, name) if name in settings.model_fields_set else None


def other_than_asked(path: Path, name: str, recorded: str, asked: str) -> str:
    """The one line refusing an index opened with another encoder or store (``name``) than it records, and how to use
    its own: naming none, or naming it where it is used only once named (``names_code``: naming none was refused)."""
    if recorded in OPENED_UNASKED[name]:
        own = f"name none (no --{name}, PATHATLAS_{name.upper()} unset) to use the index's own"
    else:
        own = f"to use the index's own, trust it by naming it ({option(name, recorded)}, or {setting(name, recorded)})"
    return f"index {path} was built with {name} {recorded!r}, not {asked!r} as asked: {own}, or use another --index"


OPENED_UNASKED = {"encoder": ("default",), "store": tuple(name for name in NAMES["store"] if name != PLUGIN)}
"""What an index may name and be opened with unasked: the shipped encoder and the built-in stores."""


def setting(name: str, value: str) -> str:
    """The variable naming ``value`` as the encoder or store (``name``), as a shell takes it."""
    return f"PATHATLAS_{name.upper()}={shlex.quote(value)}"


def option(name: str, value: str) -> str:
    """The option naming ``value`` as the encoder or store (``name``) of ``pathatlas index``, as a shell takes it."""
    return f"--{name} {shlex.quote(value)}"


def untrusted(name: str, recorded: str, asked: str | None) -> bool:
    """Whether the encoder or store (``name``) an index records is used only once asked for (``names_code``)."""
    return asked is None and recorded not in OPENED_UNASKED[name]


def what_is_named(recorded: str) -> str:
    """How a refusal calls what an index records: a ``py:`` path is code, any other name a model it does not hold."""
    return "code" if recorded.startswith("py:") else "a model outside it"


def names_code(path: Path, name: str, recorded: str, asked: str | None, *beside: tuple[str, str, str | None]) -> None:
    """Refuse an encoder or store (``name``) that the index at ``path`` merely records and nobody ``asked`` for, unless
    it is one ``OPENED_UNASKED``: an index is data, shared and downloaded, and opening one never runs code it names
    (``py:``) nor fetches or reads a model it does not hold (``hf-hub:``, ``st:``, ``local-dir:``). The refusal also
    names each of ``beside`` (name, recorded, asked: the encoder, beside the store) that would be refused next, so
    that one try says all there is to trust."""
    if not untrusted(name, recorded, asked):
        return
    others = [(other, named) for other, named, wanted in beside if untrusted(other, named, wanted)]
    also = "".join(f", and {what_is_named(r)} ({n} {r!r}) with {setting(n, r)}" for n, r in others)
    options = " ".join(option(n, r) for n, r in [(name, recorded), *others])
    raise PathAtlasError(
        f"index {path} names {what_is_named(recorded)} ({name} {recorded!r}); trust it explicitly with "
        f"{setting(name, recorded)}{also} (or 'pathatlas index {options}')"
    )


def last_writer(path: Path) -> str | None:
    """The PathAtlas version that made the last commit of the index at ``path``, as its pointer records it; None when
    it records none (or cannot be read: what needs it whole reads it with ``Generation.read``)."""
    with suppress(OSError, PathAtlasError):
        return Generation.read(path / POINTER_FILE).writer
    return None


def pointer_state(path: Path) -> tuple[int, int, int] | None:
    """What changes when a commit replaces the pointer file of the index at ``path`` (it is renamed into place: a new
    inode), read with one ``stat``; None while there is none (an index never committed)."""
    try:
        found = os.stat(path / POINTER_FILE)
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def lexical_file(name: str) -> str:
    """The BM25 manifest of the generation whose ``lexical`` is ``name`` ("." before generations)."""
    return f"{name}.json" if name != "." else "segments.json"


def url_ignored(kind: str) -> str:
    """The line for a new index that gets the default store ``kind`` while ``PATHATLAS_QDRANT_URL`` is set: the URL
    does not choose the store (``Settings.store``), so the vectors silently stayed out of that Qdrant."""
    return (
        f"PATHATLAS_QDRANT_URL is set, but a new index's store is {kind} (the default), so it is not used: for the "
        "vectors to go to that Qdrant, name --store qdrant (or set PATHATLAS_STORE=qdrant)"
    )


def read_meta(path: Path, settings: Settings, store: str | None) -> IndexMeta:
    """The index's ``META_FILE``, with the encoder the settings name, else its own (``chosen``); refused when the
    encoder, or the store (``store``, else the settings'), asked for is not the one it records."""
    meta = IndexMeta.read(path)
    encoder = chosen(settings, "encoder")
    if encoder is not None and encoder != meta.encoder and not named_by(settings, meta.encoder):
        raise EncoderMismatchError(other_than_asked(path, "encoder", meta.encoder, encoder))
    asked_store = store or chosen(settings, "store")
    if asked_store is not None and asked_store != meta.store:
        raise PathAtlasError(other_than_asked(path, "store", meta.store, asked_store))
    names_code(path, "store", meta.store, asked_store, ("encoder", meta.encoder, encoder))
    meta.encoder = encoder or meta.encoder  # the name that builds it: a plug-in's own ``name`` may differ
    return meta


def not_a_folder(path: Path) -> BadInputError:
    """The one line for a file given as the index (``Index.open``, and the CLI before it says what the folder lacks)."""
    return BadInputError(f"{path} is a file, not an index folder; give a folder with --index")


def cannot_create(path: Path, exc: OSError) -> BadInputError:
    return BadInputError(f"cannot create an index at {path}: {exc.strerror or exc}")


def written_version(entry: Mapping[str, Any]) -> tuple[str, float | None]:
    """A manifest entry's version as its records were written: the fingerprint, and when (``indexed_at``, which a
    source read again as it was renews and an entry given a new ``stat`` keeps; none in a bench's synthetic ones)."""
    return entry["fingerprint"], entry.get("indexed_at")


class FirstWrite:
    """What the first write into an index not yet on disk made: its folder (and any missing above it), or, in a
    folder that was there, the entries it added. Undone when that write commits nothing."""

    def __init__(self, path: Path):
        self.path = path
        self.folders = [folder for folder in (path, *path.parents) if not folder.exists()]
        """Created here, deepest first."""
        self.before = set(path.iterdir()) if not self.folders else set()
        try:
            path.mkdir(parents=True, exist_ok=True)  # for the lock file; the meta is written holding it
        except OSError as exc:
            raise cannot_create(path, exc) from exc

    def undo(self) -> None:
        """Under the write lock, so no other writer is in the folder; its lock file goes last, where the system lets a
        locked file be deleted (elsewhere the folder stays, empty)."""
        with suppress(OSError):
            for entry in sorted(set(self.path.iterdir()) - self.before, key=lambda e: e.name == WRITE_LOCK):
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            for folder in self.folders:
                folder.rmdir()


class Index:
    def __init__(
        self,
        path: Path,
        meta: IndexMeta,
        encoder: Encoder | None,
        settings: Settings,
        unwritten: bool = False,
        store: VectorStore | None = None,
    ):
        self.path = path
        self.meta = meta
        self._encoder = encoder
        self.settings = settings
        self.lock = threading.RLock()
        self.unwritten = unwritten
        """Not on disk yet (``open(defer=True)``): empty until ``writing`` makes it."""
        self._pointer = pointer_state(path)  # before reading it: a commit meanwhile shows in ``changed_on_disk``
        self.generation = Generation.read(path / POINTER_FILE).checked(path / POINTER_FILE)
        if not (path / POINTER_FILE).is_file() and (path / "store").exists():
            self._drop_uncommitted_store()
        self._attach_store(store)
        self._lexical: LexicalIndex | None = None
        self._released: set[str] = set()
        """Ids of records replaced, removed or never committed: their media files go unless the store still holds
        the id (ids name their content, so a page unchanged across versions keeps its file)."""
        self._changing_media = False
        self._write_lock: FileLock | None = None
        self._keypoints = lru_cache(maxsize=KEYPOINTS_CACHED)(lambda rid: Keypoints.load(self.keypoints_path(rid)))
        self._keypoints_known: dict[int, bool] = {}
        self._printed_words = LexicalIndex(text_of=printed_words, languages=settings.languages)
        self._printed_words_at: int | None = None  # the generation it was synced to
        self._printed_words_lock = threading.Lock()  # not ``lock``: an indexing run holds that one for its length

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        settings: Settings,
        create: bool = False,
        store: str | None = None,
        defer: bool = False,
    ) -> Index:
        """Open the index at ``path`` (made absolute: its thumbnails stay found after a change of the current folder);
        with ``create``, make it if absent using the configured encoder (without, one whose store lost every record is
        refused: ``check_store``). ``with Index.open(...) as index:`` closes it.

        ``defer`` makes it on disk at its first write (``writing``) instead of now: until then it is empty and its
        folder untouched, so serving a new folder fixes no store, and a first run that commits nothing leaves none.
        It opens with the encoder and store it records; another one asked for (``store=`` here, or set in the settings)
        is refused, and one it records other than the shipped encoder and the built-in stores is used only when asked
        for by that name (``names_code``).
        """
        path = expanded(path).absolute()
        if path.exists() and not path.is_dir():
            raise not_a_folder(path)
        if (path / META_FILE).is_file():
            index = cls(path, read_meta(path, settings, store), None, settings)
            if not create:
                index.check_store()
            return index
        if not create:
            named = "" if settings.index is None else f" --index {shlex.quote(str(path))}"  # to paste, the folder too
            hint = f"run 'pathatlas index PATH{named}' first" if not path.exists() else "the folder is not an index"
            raise IndexMissingError(f"no PathAtlas index at {path}: {hint}")
        if held := [name for name in KEPT_FOLDERS if (path / name).exists()]:
            raise BadInputError(
                f"{path} is not a PathAtlas index, yet holds {', '.join(held)}: an index empties such folders of "
                "files it did not write; give a new or empty folder with --index"
            )
        encoder = create_encoder(settings.encoder, settings)
        store_class(store or settings.store)  # an unknown store is refused before the folder names it
        kind = store or settings.store
        if settings.qdrant_url and kind != "qdrant" and (store or chosen(settings, "store")) is None:
            log.warning(url_ignored(kind))
        meta = IndexMeta(settings.encoder, dict(encoder.dims), kind, revisions=encoder.revisions())
        index = cls(path, meta, encoder, settings, unwritten=True)
        if not defer:
            index._create()
        return index

    @classmethod
    def over(cls, path: Path, settings: Settings, store: VectorStore) -> Index:
        """The index at ``path`` over ``store``, already open: ``pathatlas export`` fills a collection it made with the
        shards and replicas asked for, then commits through this index so that the copy is written as this version
        writes one (its format, BM25 of this terms version), whatever version wrote the index it copies."""
        return cls(path, read_meta(path, settings, store.kind), None, settings, store=store)

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def encoder(self) -> Encoder:
        """The index's encoder, built (models still load lazily) the first time a search or write needs it."""
        if self._encoder is None:
            names_code(self.path, "encoder", self.meta.encoder, chosen(self.settings, "encoder"))
            encoder = create_encoder(self.meta.encoder, self.settings).for_revisions(self.meta.revisions)
            if dict(encoder.dims) != self.meta.dims:
                raise EncoderMismatchError(
                    f"index {self.path} has vector sizes {self.meta.dims} but encoder {encoder.name!r} gives "
                    f"{encoder.dims}"
                )
            check_revisions(self.path, self.meta.revisions, encoder)
            self._encoder = encoder
        return self._encoder

    def _create(self) -> None:
        """Put the index on disk (its folder and ``META_FILE``) and open its store. When another process created it
        meanwhile, its meta is taken instead (refused if it records another store or encoder)."""
        meta_path = self.path / META_FILE
        if meta_path.is_file():
            self.meta, self._encoder = read_meta(self.path, self.settings, self.meta.store), None
        else:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                write_atomic(meta_path, json.dumps(self.meta.__dict__, indent=2).encode())
            except OSError as exc:
                raise cannot_create(self.path, exc) from exc
        self._reattach(unwritten=False)

    def _reattach(self, unwritten: bool) -> None:
        self.raw_store.close()
        self.unwritten = unwritten
        self._attach_store()
        self._lexical = None

    def _drop_uncommitted_store(self) -> None:
        """A store folder with no committed generation beside it was written by a run killed before its first commit,
        unless a writer is building it right now (it holds ``WRITE_LOCK``): only then is it deleted. Any process
        opening the index (``info``, a search, a refused writer) deleted it under a first build, which then failed."""
        try:
            lock = self._try_write_lock()
        except IndexUnwritableError:  # a read-only folder: nobody writes it, and this process cannot delete it
            return
        if lock is None:
            return
        try:
            shutil.rmtree(self.path / "store")
        finally:
            lock.release()

    def _try_write_lock(self) -> FileLock | None:
        """The index folder's ``WRITE_LOCK``, held, or None when another process holds it (never waits). A folder this
        process cannot write (a read-only mount, no permission) raises ``IndexUnwritableError``."""
        lock = FileLock(self.path / WRITE_LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        except OSError as exc:
            if (error := unwritable(self.path, exc)) is None:
                raise
            raise error from exc
        return lock

    def check_writable(self) -> None:
        """Refuse, in one line, an index this process cannot write (a read-only mount, a folder without write
        permission for this user) before work that ends in a write: an upload, which would be accepted, then fail.
        Asks the system (``access``), so it neither writes nor waits; a full disk shows only when a write fails."""
        folder = next((p for p in (self.path, *self.path.parents) if p.exists()), None)
        if folder is None:
            return
        parts = (
            [folder]
            if folder != self.path
            else [folder, *(folder / n for n in (WRITE_LOCK, "store", "lexical", "media"))]
        )
        for part in parts:
            if part.exists() and not os.access(part, os.W_OK):
                read_only = hasattr(os, "statvfs") and os.statvfs(part).f_flag & os.ST_RDONLY
                code = errno.EROFS if read_only else errno.EACCES
                named = str(part) if part.is_relative_to(self.path) else None  # the folder it would be made in: unnamed
                raise unwritable(self.path, OSError(code, os.strerror(code), named))

    def _attach_store(self, store: VectorStore | None = None) -> None:
        """Open the store (or take ``store``, open); searches read it through the committed generation
        (``VisibleStore``) unless it keeps snapshots, whose committed state the generation names."""
        self.raw_store = self._open_store() if store is None else store
        self.store: VectorStore = self.raw_store if self.raw_store.snapshots else VisibleStore(self.raw_store, self)

    def check_store(self) -> None:
        """Refuse, in one line, a committed generation whose store holds no records: its ``store`` folder was deleted
        or replaced (an embedded Qdrant shard is then made anew, empty), and every search would find nothing. Readers
        check it on opening; an ``index`` run (``open(create=True)``) indexes the sources again instead, as it does
        any source whose records the store lacks."""
        listed = sum(entry["entries"] for entry in self.generation.sources.values())
        if listed and not self.raw_store.count():
            self.raw_store.close()
            raise PathAtlasError(
                f"index {self.path} lists {len(self.generation.sources)} source(s) of {listed} records, but its store "
                "holds none (its store/ folder was deleted or replaced): restore the index folder from a copy, or run "
                "`pathatlas index PATHS` with their paths to index them again"
            )

    def _open_store(self) -> VectorStore:
        if self.unwritten:
            return EmptyStore(self.path / "store", self.meta.dims, self.settings)
        return open_store(
            self.meta.store, self.path / "store", self.meta.dims, self.settings, self.generation.store_version
        )

    @property
    def lexical(self) -> LexicalIndex:
        """The committed generation's BM25, loaded on first use: info and remove need none."""
        if self._lexical is None:
            with self.lock:
                if self._lexical is None:
                    self._lexical = self._load_lexical()
        return self._lexical

    @lexical.setter
    def lexical(self, lexical: LexicalIndex) -> None:
        self._lexical = lexical

    def _load_lexical(self) -> LexicalIndex:
        """The committed generation's BM25. The one place that handles BM25 files this version cannot use: segments it
        cannot read (another ``TERMS_VERSION``, other languages than ``PATHATLAS_LANGUAGES``, an index from before
        per-source BM25), or files missing or damaged (a generation manifest or a segment the pointer names, lost from
        a copy or a backup). They are re-read from the store and kept in memory, never saved here: a search must not
        write the index (an older PathAtlas would then fail on what it wrote). The next commit saves them (``commit``;
        an ``index`` run that changed nothing makes one for them, ``needs_rewrite``)."""
        try:
            lexical = LexicalIndex.load(
                self.path / "lexical", lexical_file(self.generation.lexical), self.settings.languages
            )
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:  # orjson's: ValueError
            log.warning("BM25 of index %s is unreadable (%s): rebuilt from the store", self.path, exc)
            lexical = LexicalIndex(languages=self.settings.languages)
        if not lexical.segments and self.generation.sources:
            started = time.perf_counter()
            lexical.sync(self.raw_store, self.generation.fingerprints())
            if self._write_lock is None and (older := self.older_terms()) is not None:  # a write saves it: no news
                log.info(  # as LexicalIndex.load tells of other languages; the service warns at start (upgrade_notice)
                    "index %s: its BM25 (terms version %s; this PathAtlas's is %s) was read again from the store in "
                    "%.1f s, as at each open until the index is upgraded: `%s` gives the command",
                    self.path,
                    older,
                    TERMS_VERSION,
                    time.perf_counter() - started,
                    shlex.join(["pathatlas", "info", "--index", str(self.path)]),
                )
        return lexical

    def older_terms(self) -> int | None:
        """The terms version of the committed generation's saved BM25 where an older PathAtlas's: each open reads that
        BM25 again from the store (``_load_lexical``). None where it is this version's or none was saved."""
        saved = SavedTerms.read(self.path / "lexical", lexical_file(self.generation.lexical))
        return saved.version if saved is not None and saved.version < TERMS_VERSION else None

    def upgrade(self, reader_versions: Mapping[str, int]) -> Upgrade | None:
        """What of this index an older PathAtlas wrote, as ``Upgrade`` says; None where nothing is.
        ``reader_versions``: each reader's records version by name, the indexer's ``reader_versions`` (the retrieval
        layer does not import the indexer), so that a source is older only where its own reader changed."""
        older = {key: entry for key, entry in self.generation.sources.items() if older_reader(entry, reader_versions)}
        older_sources = {key: entry.get("records_version", 0) for key, entry in older.items()}
        readers = sorted({entry_reader(entry) for entry in older.values()})
        older_readers = {reader: reader_versions[reader] for reader in readers}
        older_format = self.meta.format if self.meta.format < FORMAT_VERSION else None
        terms = self.older_terms()
        if not older_sources and terms is None and older_format is None:
            return None
        gone = [key for key in self.generation.sources if not Path(key).exists()]
        rewritten = terms is not None or older_format is not None or any(key not in gone for key in older_sources)
        command = self._upgrade_command(gone) if rewritten else None
        gone_older = [key for key in gone if key in older_sources]
        return Upgrade(terms, older_sources, older_readers, older_format, command, gone_older)

    def _upgrade_command(self, gone: list[str]) -> str | None:
        """The ``pathatlas index`` run that rewrites this index: without paths (every source it holds) where every
        source is on disk, else naming those that are (the plain form would fail the others, exit 1); None where none
        is."""
        if len(gone) == len(self.generation.sources):
            return None
        named = [key for key in self.generation.sources if key not in gone] if gone else []
        return shlex.join(["pathatlas", "index", *named, "--index", str(self.path)])

    def needs_rewrite(self) -> bool:
        """Whether the committed files are not as this version writes them: another PathAtlas version's commit (or
        one's that did not record its version), or BM25 read again from the store (``_load_lexical``: loaded here to
        know, a fraction of a second for a book). An ``index`` run then commits once even when no source changed,
        stamping this format and saving that BM25, so that later opens read its files instead of the store."""
        if not self.generation.sources:
            return False
        upgraded = (self.meta.format, self.generation.writer) == (FORMAT_VERSION, __version__)
        return not upgraded or bool(self.lexical.dirty)

    def _stamp_format(self) -> None:
        """Record this version's format in ``META_FILE`` before a commit writes files an older PathAtlas would misread:
        that one then refuses the index in one line. Its other fields stay as they are."""
        if self.meta.format == FORMAT_VERSION:
            return
        stamped = {**json_object(self.path / META_FILE), "format": FORMAT_VERSION}
        write_atomic(self.path / META_FILE, json.dumps(stamped, indent=2).encode())
        self.meta.format = FORMAT_VERSION

    # -- manifest and commit -----------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        """Sources of the committed generation (read-only: change them through ``commit``)."""
        return self.generation.sources

    @property
    def media_dir(self) -> Path:
        return self.path / "media"

    def thumbnail_path(self, record_id: str) -> Path:
        return self.media_dir / f"{record_id}.jpg"

    def keypoints_path(self, record_id: str) -> Path:
        return self.media_dir / f"{record_id}.sift.npz"

    def keypoints(self, record_id: str) -> Keypoints | None:
        """A case image's stored keypoints (None for records without), kept in memory for the next queries: an id
        names its content, so a loaded file never goes stale."""
        return self._keypoints(record_id)

    def has_keypoints(self) -> bool:
        """Whether a case folder of the committed generation was indexed with keypoints (one record of each folder
        looked at, once per generation): image queries then take their own while the dense search runs."""
        generation = self.generation.number
        if generation not in self._keypoints_known:
            folders = [key for key, entry in self.manifest.items() if entry.get("kind") == "cases"]
            self._keypoints_known = {generation: any(self._folder_has_keypoints(key) for key in folders)}
        return self._keypoints_known[generation]

    def printed_words(self) -> LexicalIndex:
        """BM25 over the words printed in figures (figure OCR), in memory, brought level with the committed
        generation on first use after a commit (changed sources only, as the main BM25 is). A field apart from the
        caption: figure searches add its scores to the caption's, while pages stay ranked by their own text (a
        page did not become a better answer through its figures' labels: held out, text to page lost 3 questions
        at rank 1 and fell below BM25 on one fold's MRR)."""
        with self._printed_words_lock:
            generation = self.generation
            if self._printed_words_at != generation.number:
                self._printed_words = self._printed_words.sync(self.raw_store, generation.fingerprints())
                self._printed_words_at = generation.number
            return self._printed_words

    def _folder_has_keypoints(self, key: str) -> bool:
        first = next(iter(self.store.scan({"source": key})), None)
        return first is not None and self.keypoints_path(first[0]).is_file()

    def stale_versions(self, sources: Manifest) -> list[tuple[str, str]]:
        """(source, fingerprint) of committed versions that ``sources`` replaces or drops."""
        return [
            (key, entry["fingerprint"])
            for key, entry in self.generation.sources.items()
            if key not in sources or sources[key]["fingerprint"] != entry["fingerprint"]
        ]

    @contextmanager
    def writing(self, catch_up: bool = True) -> Iterator[None]:
        """Around every change (an indexing run, a removal, a commit): this process's lock, and the index folder's
        ``WRITE_LOCK``, so that no other process changes the index meanwhile; a second writer gets one line.
        Entered at the start of a run (``catch_up``), it first reads the generation another process may have
        committed since this index was opened, so the run builds on it. A commit outside a run has writes built
        on the older one, and is refused instead (the work that made them can simply run again)."""
        with self.lock:
            if self._write_lock is not None:  # a commit or a removal inside a run that holds it
                yield
                return
            first = FirstWrite(self.path) if self.unwritten else None
            lock = self._try_write_lock()
            if lock is None:
                raise IndexBusyError(
                    f"index {self.path} is being changed by another writer (an index run, a removal or a server's "
                    "job, in this process or another); try again when it has finished"
                )
            self._write_lock = lock
            try:
                if first is not None:
                    if (self.path / META_FILE).is_file():
                        first = None  # another process created it meanwhile: not ours to undo
                    self._create()
                self._follow_pointer(catch_up)
                yield
            except OSError as exc:  # a full disk, a folder made read-only meanwhile: one line, the last commit stands
                if (error := unwritable(self.path, exc)) is None:
                    raise
                raise error from exc
            finally:
                try:
                    if first is not None and not self.generation.number:  # nothing committed: as if never written
                        self._reattach(unwritten=True)
                        first.undo()
                finally:  # released even when the undo fails: a lock held by no run would refuse every writer
                    self._write_lock = None
                    lock.release()

    def changed_on_disk(self) -> bool:
        """Whether another process committed since this index last read its pointer: one ``stat``."""
        state = pointer_state(self.path)
        return state is not None and state != self._pointer

    def refresh(self) -> bool:
        """Catch up with what another process committed since this index was opened (a notebook's index beside a
        ``pathatlas index`` or ``remove``): its sources, store and BM25 as committed now; whether it changed. One
        ``stat`` when nothing did. In place, so not under searches of other threads: a service opens a new ``Index``
        instead (``Engine.refresh``). Inside a write of this process it does nothing (the write follows the pointer)."""
        if not self.changed_on_disk():
            return False
        with self.lock:
            if self._write_lock is not None:
                return False
            before = self.generation.number
            if self.unwritten and (self.path / META_FILE).is_file():  # made on disk by another process since
                self._create()
            self._follow_pointer(catch_up=True)
            return self.generation.number != before

    def _follow_pointer(self, catch_up: bool) -> None:
        pointer = pointer_state(self.path)  # before reading it, as at opening
        current = Generation.read(self.path / POINTER_FILE).checked(self.path / POINTER_FILE)
        if current.number == self.generation.number:
            self._pointer = pointer
            return
        if not catch_up:
            raise IndexBusyError(
                f"index {self.path} was changed by another process after these writes began; nothing was "
                "committed: run again"
            )
        self.generation, self._pointer = current, pointer
        held = self.raw_store
        self._attach_store()  # FAISS: the committed snapshot; embedded Qdrant: the process's one shard, still held
        held.close()  # after: closing first let go of the shard's lock for a moment, which another process could take
        self._lexical = None

    def commit(self, sources: Manifest | None = None) -> None:
        """Make the store's writes and ``sources`` the next generation, atomically; on failure keep the last.

        The records of the versions it replaces or drops are released (``prune_media`` deletes their files)."""
        with self.writing(catch_up=False):
            sources = dict(self.generation.sources if sources is None else sources)
            stale = self.stale_versions(sources)
            replaced = {rid for key, fp in stale for rid, _ in self.raw_store.scan({"source": key, "fingerprint": fp})}
            try:
                self._stamp_format()
                if self.raw_store.snapshots:  # the snapshot and the pointer move together
                    self._delete_versions(stale)
                crash_point("store commit")
                self.raw_store.commit()
                self._check_held(sources)
                number = self.generation.number + 1
                name = f"g{number:06d}"
                next_generation = Generation(number, self.raw_store.version, name, sources, __version__)
                lexical = self.lexical.sync(self.raw_store, {e["fingerprint"] for e in sources.values()})
                self._save_lexical(lexical, name)
                write_atomic(self.path / POINTER_FILE, next_generation.to_json())
                self._pointer = pointer_state(self.path)
            except BaseException:
                self.rollback()
                raise
            self.generation, self.lexical = next_generation, lexical
            self._released |= replaced
            self._prune_lexical(name)
            if not self.raw_store.snapshots and stale:  # invisible since the pointer moved; now delete them
                self._delete_versions(stale)
                self._persist_deletes()

    def _check_held(self, sources: Manifest) -> None:
        """Refuse, between the store's commit and the pointer's, a commit whose store holds fewer records of a source
        version it writes than that source's entry lists: a plug-in store whose ``upsert`` kept nothing was committed as
        indexed, its records missing from every search until the next run read the source again. Counted as that run
        counts them (``record_counts``, one count per fingerprint), once the store has committed: a store may hold its
        writes until then. The commit then rolls back, so the source's earlier version, if any, stays. A version is
        its fingerprint and ``indexed_at``: one read again as it was (forced, or its records missing) writes too, where
        a fingerprint alone let a store losing them say "indexed" on every run. Only a plug-in store is counted: the
        built-in ones are tested, a replica of a Qdrant cluster may answer a count before it holds a write just made,
        which would refuse a sound source, and qdrant-client's local copy counts by reading every payload."""
        if not self.meta.store.startswith("py:"):
            return
        committed = {written_version(entry) for entry in self.generation.sources.values()}
        written = {key: entry for key, entry in sources.items() if written_version(entry) not in committed}
        if not written:
            return
        held = self.record_counts()
        lost = [
            f"{entry['entries'] - held[entry['fingerprint']]} of the {entry['entries']} records written for {key} "
            f"(it holds {held[entry['fingerprint']]} once committed)"
            for key, entry in written.items()
            if held[entry["fingerprint"]] < entry["entries"]
        ]
        if lost:
            raise PathAtlasError(f"store {self.meta.store!r} lost {'; '.join(lost)}: this version was not committed")

    def rollback(self) -> None:
        """Drop uncommitted writes: back to the store state and BM25 the pointer names."""
        with self.lock:
            if self.raw_store.snapshots:
                self.raw_store.close()
                self.raw_store = self.store = self._open_store()
            else:
                self.collect_garbage()
            self._lexical = None  # reloaded from the pointer on next use

    def collect_garbage(self) -> int:
        """Delete what a crash left: records of source versions the committed generation does not list (how many
        versions), and, when a run that changed media was killed (``MEDIA_PENDING``), every media file of a record
        the store does not hold. Each ``index`` run starts here: the check reads counts per fingerprint, which a
        store with field codes (FAISS) gives without reading a million payloads."""
        with self.writing():
            live = set(self.generation.fingerprints())
            stray: set[tuple[Any, Any]] = set()
            if not set(self.raw_store.value_counts("fingerprint")) <= live:
                stray_ids: set[str] = set()
                for record_id, payload in self.raw_store.scan():
                    if payload.get("fingerprint") not in live:
                        stray_ids.add(record_id)
                        stray.add((payload.get("source"), payload.get("fingerprint")))
                self._delete_versions(sorted(stray, key=str))
                self._persist_deletes()
                self.release_media(stray_ids)
            if self._interrupted():
                self.prune_media(everything=True)
                (self.path / MEDIA_PENDING).unlink(missing_ok=True)
            return len(stray)

    def _interrupted(self) -> bool:
        """Whether a run that changed media was killed (the marker of a run in progress here does not count)."""
        return not self._changing_media and (self.path / MEDIA_PENDING).exists()

    @contextmanager
    def changing_media(self) -> Iterator[None]:
        """Around an indexing run or a removal: ``MEDIA_PENDING`` stays while it runs; at its end the files of the
        records it released are deleted and the marker with them. Killed (or raising), it leaves the marker, and
        the next ``collect_garbage`` lists the whole media folder, once, instead of every commit doing so."""
        with self.writing():
            if self._changing_media:  # inside a run that already keeps the marker
                yield
                return
            if self._interrupted():
                self.collect_garbage()
            (self.path / MEDIA_PENDING).touch()  # not fsynced: losing it to a power cut costs orphan files, no more
            self._changing_media = True
            try:
                yield
            finally:
                self._changing_media = False
            self.prune_media()
            (self.path / MEDIA_PENDING).unlink(missing_ok=True)

    def release_media(self, record_ids: Iterable[str]) -> None:
        """Records whose media files may be orphaned (e.g. written by a run that failed before its commit)."""
        with self.lock:
            self._released.update(record_ids)

    def media_paths(self, record_id: str) -> list[Path]:
        return [self.thumbnail_path(record_id), self.keypoints_path(record_id)]

    def prune_media(self, everything: bool = False) -> int:
        """Delete the thumbnails and keypoints of released records the store no longer holds: a cost proportional to
        what changed. ``everything``: of any record it does not hold, by listing the folder (a killed run's files,
        whose ids were never recorded). Under the lock, so no writer is between its files and its commit."""
        with self.lock:
            released, self._released = sorted(self._released), set()
            if everything:
                if not self.media_dir.is_dir():
                    return 0
                live = {record_id for record_id, _ in self.raw_store.scan()}
                files = [f for f in self.media_dir.iterdir() if f.name.split(".", 1)[0] not in live]
            else:
                held: set[str] = set()
                for start in range(0, len(released), PAYLOAD_BATCH):
                    held.update(self.raw_store.payloads(released[start : start + PAYLOAD_BATCH]))
                files = [path for rid in released if rid not in held for path in self.media_paths(rid)]
            deleted = 0
            for file in files:
                try:
                    file.unlink()
                    deleted += 1
                except FileNotFoundError:  # a record without keypoints, or without a thumbnail
                    pass
            return deleted

    def _persist_deletes(self) -> None:
        """Make deletes of records the pointer does not list durable (a new snapshot needs a new pointer)."""
        if self.raw_store.snapshots:
            self.commit()
        else:
            crash_point("store commit (collect)")
            self.raw_store.commit()

    def _delete_versions(self, versions: list[tuple[str, str]]) -> None:
        for key, fingerprint in versions:
            self.raw_store.delete({"source": key, "fingerprint": fingerprint})

    def _save_lexical(self, lexical: LexicalIndex, name: str) -> None:
        crash_point("lexical")
        lexical.save(self.path / "lexical", lexical_file(name))  # fsyncs the segments and the manifest

    def _prune_lexical(self, live: str) -> None:
        """Generation manifests other than the live one; segment files are pruned by ``save``."""
        for child in (self.path / "lexical").iterdir():
            if child.suffix == ".json" and child.stem != live:
                child.unlink()
            elif child.is_dir() and child.name.startswith("g"):  # per-generation folders of older versions
                shutil.rmtree(child)

    def record_counts(self) -> Counter[str]:
        """Stored records per fingerprint, visible or not: a re-run compares them with the manifest."""
        return self.raw_store.value_counts("fingerprint")

    # -- sources -----------------------------------------------------------------------------
    def resolve_source(self, name: str) -> str:
        """A manifest key from a source id, a full path, a relative path, a unique file name or the last folders and
        file name that tell it apart from a namesake, as its citations name it ("year2/notes.pdf"), in either Unicode
        form (a name typed composed finds the file a Mac named decomposed)."""
        if name in self.manifest:
            return name
        by_id = [key for key, entry in self.manifest.items() if entry.get("id", source_id(key)) == name]
        if by_id:
            return by_id[0]
        try:
            resolved = str(expanded(name).resolve())
        except (ValueError, OSError):  # a NUL byte, a path the system cannot resolve: not a source then
            resolved = None
        if resolved in self.manifest:
            return resolved
        by_name = [key for key in self.manifest if composed(Path(key).name) == composed(name)]  # as a Mac spells it
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise AmbiguousSourceError(name, {key: self.manifest[key].get("id", source_id(key)) for key in by_name})
        tail = "/" + composed(name.strip("/"))  # the name citations give it beside a namesake: "year2/notes.pdf"
        by_tail = [key for key in self.manifest if "/" in tail[1:] and composed(key).endswith(tail)]
        if len(by_tail) == 1:
            return by_tail[0]
        raise UnknownSourceError(f"no source {name!r} in index {self.path}; 'pathatlas info' lists them")

    def remove_source(self, name: str) -> int:
        """Remove a source; a name the manifest lacks but stored records carry (orphans) is removed too."""
        with self.writing():
            if self._interrupted():  # a killed run's leftovers go even when this name is unknown
                self.collect_garbage()
            try:
                key = self.resolve_source(name)
            except UnknownSourceError:
                names = {name, str(expanded(name).resolve())}
                orphans = {rid: p.get("source") for rid, p in self.raw_store.scan() if p.get("source") in names}
                if not orphans:
                    if folder := self._folder_holding(name):
                        raise UnknownSourceError(self._part_of_folder(name, folder)) from None
                    raise
                with self.changing_media():
                    removed = sum(self.raw_store.delete({"source": key}) for key in set(orphans.values()))
                    self._persist_deletes()
                    self.release_media(orphans)
                return removed
            removed = self.manifest[key]["entries"]
            with self.changing_media():
                self.commit({k: v for k, v in self.manifest.items() if k != key})
            return removed

    def _folder_holding(self, name: str) -> str | None:
        """The indexed folder (a case folder) that the file ``name`` lies in, whichever Unicode form either is
        written in; None when it lies in none."""
        try:
            path = Path(composed(str(expanded(name).resolve())))
        except (ValueError, OSError):
            return None
        folders = {key: Path(composed(key)) for key in self.manifest}
        return next((key for key, folder in folders.items() if path.is_relative_to(folder) and path != folder), None)

    def _part_of_folder(self, name: str, folder: str) -> str:
        """Why ``remove`` takes no file of an indexed folder, and how that file leaves the index: a folder is one
        source, read again whole."""
        row = " (and its row in labels.csv or cases.jsonl)" if self.manifest[folder].get("kind") == "cases" else ""
        return (
            f"{name!r} is a file in {folder}, which is indexed as one source: to drop it, delete the file{row} and run "
            f"`pathatlas index {shlex.quote(folder)}` again (`pathatlas remove {shlex.quote(folder)}` drops the whole "
            "folder)"
        )

    def stats(self) -> dict[str, Any]:
        kinds = {("?" if kind is None else kind): n for kind, n in self.store.value_counts("kind").items()}
        return {
            "index": str(self.path),
            "encoder": self.meta.encoder,
            "store": self.meta.store,
            "dims": self.meta.dims,
            "revisions": self.meta.revisions,
            "format": self.meta.format,
            "written_by": self.generation.writer,
            "generation": self.generation.number,
            "records": self.store.count(),
            "vectors": {space: self.store.count(space) for space in self.meta.dims},
            "kinds": kinds,
            "sources": self.manifest,
        }

    def close(self) -> None:
        self.raw_store.close()


Held = TypeVar("Held")


@dataclass
class _Computation(Generic[Held]):
    """One function's value for one generation of one index, computed by the first caller while the others wait."""

    generation: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Held | None = None

    def value_of(self, compute: Callable[[Index], Held], index: Index) -> Held:
        """The value, computed under ``lock`` unless a caller before has: a raising ``compute`` leaves it undone, so
        the next caller tries again."""
        if not self.done:
            with self.lock:
                if not self.done:  # false for a caller that waited while another computed it
                    self.value = compute(index)
                    self.done = True
        return self.value


def per_generation(compute: Callable[[Index], Held]) -> Callable[[Index], Held]:
    """``compute(index)`` once per committed generation of each open index: a service answers many queries between
    commits, and reading an index's words again takes up to half a second a book. Callers meeting a value not yet
    computed wait for one computation of it (a class's first typos after a start reach REST's threads together);
    callers for other indexes or generations do not wait on it."""
    computations: WeakKeyDictionary[Index, _Computation[Held]] = WeakKeyDictionary()
    lock = threading.Lock()

    def computation(index: Index) -> _Computation[Held]:
        generation = index.generation.number  # read first: a commit meanwhile makes the next call compute again
        with lock:
            held = computations.get(index)
            if held is None or held.generation != generation:
                held = computations[index] = _Computation(generation)
            return held

    @wraps(compute)
    def cached(index: Index) -> Held:
        return computation(index).value_of(compute, index)

    return cached
