"""Sources to entries to vectors: the one place that writes into an index."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import re
import shlex
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from operator import attrgetter
from pathlib import Path
from queue import Full, Queue
from typing import Any, TypeVar

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from pathatlas import tesseract
from pathatlas.errors import BadInputError, PathAtlasError, first_few
from pathatlas.indexer.records import Record, pixels_hash
from pathatlas.indexer.sources import (
    FOLDER_HINT,
    CaseFolderSource,
    Discovered,
    NotesSource,
    NothingToIndexError,
    Paths,
    PdfSource,
    UndecidedError,
    as_paths,
    discover,
    source_types,
    unloaded_readers_at,
)
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.fingerprints import (
    CONTENT_VERSION,
    earlier_contents,
    reader_name,
    stat_signature,
    stoppable,
    unloaded_reader,
)
from pathatlas.indexer.sources.notes import NoWordsError
from pathatlas.paths import expanded
from pathatlas.plugins import encoded
from pathatlas.retrieval.durable import crash_point
from pathatlas.retrieval.images import thumbnail
from pathatlas.retrieval.index import Index, Manifest, unwritable
from pathatlas.retrieval.local import keypoints
from pathatlas.retrieval.ocr import TesseractReader, WordReader
from pathatlas.retrieval.records import Entry, StoredVectors, display_name, distinct_names, source_id
from pathatlas.retrieval.stores.base import stored_vectors
from pathatlas.settings import Settings

ENTRY_BATCH = 64
OCR_GROUP = 32
"""Figures read together at least: each run of the tesseract program (one per core) starts it again, and on the A&P
book's figures groups of 4 cost 13 % more time per figure than groups of 80."""
FIGURE_OCR_MISSING = (
    f"note: the words printed in figures were not read (tesseract is not installed: {tesseract.INSTALL_HINT}; "
    "then index again)"
)
T = TypeVar("T")

Progress = Callable[[str, int, int], None]
"""(source name, units done, units expected), for callers that show their own progress: units read (a page rendered,
a case image decoded with its keypoints), so that it moves page by page and image by image; below the expected until
the source is committed, when both become the units it had. Called from the reading thread too (``prefetched``)."""
SourceStarted = Callable[[str, int, int], None]
"""(source name, its number from 1, the sources of the run), as each source is looked at, changed or not: a caller
that names no paths (``Indexer.add_held``) says which of the index's sources the run is at."""
Looking = Callable[[str], None]
"""(source name), again and again while a source is looked at (its fingerprint: a case folder's metadata read and
each listed image hashed, a PDF's bytes), while a case folder's records are read (its rows grouped into cases, in the
reading thread) and while its files are hashed as it is committed (``content_hash``): between rows, files and
megabytes (``sources.fingerprints.stoppable``), so that a caller that stops the run (raising ``Cancelled``)
stops it there rather than minutes later, its last commit as it was. Called per row and megabyte: keep it quick."""


@dataclass
class SourceReport:
    source: str
    status: str
    """indexed, unchanged, failed, or skipped: a notes file a folder walk found with nothing to index (a Quarto
    website's ``index.qmd``), left out as README is, its problem saying why (``unread_status``)."""
    entries: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.problems = [one_line_text(problem) for problem in self.problems]  # a copy: the source's list goes on

    def to_dict(self) -> dict[str, Any]:
        """The report as ``index --json`` prints it and ``Atlas.add`` returns it: a copy, its problems too."""
        return asdict(self)


@dataclass
class IndexReport:
    sources: list[SourceReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the user may want to change before the next run (a one-line hint each), e.g. a missing program."""
    unfound: list[str] = field(default_factory=list)
    """Paths given that hold nothing to index (missing, no PDF or case folder in them): failed sources of their own."""

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.status == "failed"]


@dataclass
class Earlier:
    """What the committed version of the source being written holds, by content (``Indexer._reusable``): each
    ``Payload.image_hash``, ``Payload.text_hash`` and ``Payload.thumbnail_hash`` to the id of a record holding it. An
    entry of the same image (``image_hash``) takes that record's image vectors and keypoints, one of the same
    ``text_key`` its text vectors, and one of the same ``thumbnail_key`` (picture, kind and size) its thumbnail,
    instead of making them again (a case folder whose one label was fixed encodes no image; a book read again by a
    newer reader encodes only the pages whose text it reads otherwise; one read again for a new thumbnail size
    encodes nothing and makes every thumbnail)."""

    images: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    thumbnails: dict[str, str] = field(default_factory=dict)
    pages: dict[int, str] = field(default_factory=dict)
    """A page's number to its ``thumbnail_hash``, for ``Source.recall``: a PDF drawn alike renders none of its pages
    found by text again."""
    case_pictures: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """A case image's path in its folder to its picture's ``image_hash`` and ``thumbnail_hash``, which that image keeps
    where its file cannot be read now (``Indexer._kept_pictures``)."""


def pictured(entry: Entry) -> bool:
    """Whether ``entry`` has a picture: decoded now, or named by its ``image_hash`` alone, an earlier record's (a case
    image whose file cannot be read now, ``Indexer._kept_pictures``), whose image vectors, keypoints and thumbnail it
    takes."""
    return entry.image is not None or entry.payload.image_hash is not None


def text_key(text: str, spaces: tuple[str, ...]) -> str:
    """What ``Payload.text_hash`` holds: a short hash of the very text an entry's text vectors encode and of the spaces
    they stay in (``Indexer.text_spaces_of``: a space its image fills holds the image's vector), so a record whose
    joint vector is its picture's lends no text vector to one whose joint vector is its text's."""
    return hashlib.blake2b("\x1f".join([*spaces, text]).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def given_all(spaces: tuple[str, ...], given: dict[str, np.ndarray] | None) -> bool:
    """Whether ``given`` holds a vector for each of ``spaces`` (true of none: nothing of such an encoding is kept)."""
    return set(spaces) <= (given or {}).keys()


def copy_atomic(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` through a temporary file, so no reader sees half of it."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


TALL_PAGE = 3
"""A page over this many times taller than wide (a web page printed whole, a scroll of notes) keeps its top as its
thumbnail (``stored_thumbnail``): shrunk whole, a 612 x 14400-point page's was 16 x 384 pixels, a grey line."""
TOP_SHAPE = 2**0.5
"""The height of a tall page's top its thumbnail shows, in widths: an A4 page's, at an ordinary page's scale."""


def stored_thumbnail(entry: Entry, longest_side: int) -> Image.Image:
    """What a hit shows of an entry: its thumbnail image shrunk to ``longest_side``; of a ``TALL_PAGE``, its top as
    tall as an A4 page would be (where a reader starts; the page viewer shows the part around a matched passage).
    Figures and case images are shown whole, as they are the picture."""
    image = entry.thumbnail
    width, height = image.size
    if entry.payload.kind == "page" and height > TALL_PAGE * width:
        image = image.crop((0, 0, width, round(width * TOP_SHAPE)))
    return thumbnail(image, longest_side)


def thumbnail_key(entry: Entry, longest_side: int) -> str | None:
    """What ``stored_thumbnail`` makes an entry's thumbnail of: its kind (a tall page keeps its top), the size asked
    and its picture (its ``image_hash``, which a figure's or case image's thumbnail is made of; a text page's rendered
    pixels, ``pixels_hash``: under a millisecond at 40 dpi), kept as ``Payload.thumbnail_hash`` so that a picture a
    newer reader decodes or renders alike takes a copy of its thumbnail: one edited, rendered otherwise, or asked at
    another size (``STORED_SETTINGS``) has another, so its earlier thumbnail is never copied at the old size. An entry
    without a thumbnail keeps the key its record gave (a page its reader did not render again: ``Page.thumbnail_hash``),
    None where it gave none."""
    if entry.thumbnail is None:
        return entry.payload.thumbnail_hash
    return f"{entry.payload.kind} {longest_side}px {entry.payload.image_hash or pixels_hash(entry.thumbnail)}"


def existing(record_id: str | None, path_of: Callable[[str], Path]) -> Path | None:
    """The media file (``path_of`` its id) of the record ``record_id``, where there is one."""
    path = path_of(record_id) if record_id is not None else None
    return path if path is not None and path.is_file() else None


class Cancelled(BaseException):
    """Raised from a progress or look callback (or a job's stop check, ``sources.fingerprints.stoppable``) to stop
    indexing; the source in progress is not committed. Not a ``PathAtlasError`` nor an ``Exception``, as
    ``KeyboardInterrupt`` and asyncio's ``CancelledError`` are not: a user stopping a run is neither bad input nor a
    failure, and the handlers of those (an unreadable metadata file keeping its folder's images, a plug-in's failure
    counting no units, a source failing while the run goes on) would take it for one, and the run would go on."""


def pathatlas_command(*words: str, index_dir: Path | None = None) -> str:
    """The ``pathatlas`` command a hint prints, to paste as it is: each word quoted for a shell where it must be ("my
    notes.pdf"), then ``--index DIR`` where ``index_dir`` names the index it is about. Without it, a pasted hint acted
    on the default index (another one, or none)."""
    return shlex.join(["pathatlas", *words, *(["--index", str(index_dir)] if index_dir is not None else [])])


def removal_name(manifest: Manifest, key: str) -> str:
    """What ``pathatlas remove`` takes to drop the source ``key`` of ``manifest``: its file or folder name, or its id
    where another source has the same name or its name is shown otherwise than it is (``display_name`` writes out bidi
    controls, which ``remove`` would not find). Never its server path (a REST job shows its notes)."""
    shown = display_name(key)
    plain = shown == key.rstrip("/").rsplit("/", 1)[-1]
    return shown if plain and key not in distinct_names(manifest) else manifest[key].get("id", source_id(key))


def indexed_copy(manifest: Manifest, content: str | None, passed_over: Callable[[str], bool]) -> str | None:
    """The source of ``manifest`` holding the same bytes (``content_hash``: ``content``) and still on disk, bar those
    ``passed_over`` (the source itself, an earlier upload of its name that it replaces); None where none does, or
    ``content`` is unknown. One missing on disk was moved or renamed: the source or upload may be it, now here, and
    its notes then say how to drop the old copy (``missing_copies``)."""
    if content is None:
        return None
    copies = (key for key, entry in manifest.items() if entry.get("content") == content and not passed_over(key))
    return next((key for key in copies if Path(key).exists()), None)


def missing_copies(manifest: Manifest, keys: list[str], index_dir: Path | None = None) -> list[str]:
    """A note for each source of ``keys`` that holds what another source of the index held (``content_hash``) which is
    missing on disk (a file renamed, a folder moved): both are searched, so its every hit comes twice. Named as
    citations name them and removed by name or id, never by server path (a REST job shows its notes); the old copy is
    not removed for the user, whose drive may only be unmounted. The command to paste names ``index_dir``, if any
    (``pathatlas_command``)."""
    held = {manifest[key]["content"]: key for key in keys if manifest.get(key, {}).get("content")}
    shared = distinct_names(manifest)
    notes = []
    for old, entry in manifest.items():
        key = held.get(entry.get("content"))
        if key is not None and old != key and not Path(old).exists():
            notes.append(
                f"{shared.get(key, display_name(key))} has the same content as {shared.get(old, display_name(old))}, "
                f"which is missing on disk (renamed or moved?): both are searched; "
                f"'{pathatlas_command('remove', removal_name(manifest, old), index_dir=index_dir)}' drops the old copy"
            )
    return notes


def gone_from_folders(
    manifest: Manifest, folders: list[Path], kept: list[str], index_dir: Path | None = None
) -> list[str]:
    """A note for each source of ``manifest`` indexed from inside one of ``folders`` (real paths, indexed again now)
    and gone from disk: its records stay searchable, and indexing the folder said nothing of it. One whose content a
    source of ``kept`` holds has ``missing_copies``'s note instead (renamed or moved). Nothing is removed for the user,
    whose file may be back after a ``git checkout``; the command to paste names ``index_dir``, if any."""
    held = {manifest[key].get("content") for key in kept if key in manifest} - {None}
    shared = distinct_names(manifest)
    notes = []
    for key, entry in manifest.items():
        path = Path(key)
        folder = next((folder for folder in folders if path.is_relative_to(folder)), None)
        if folder is not None and entry.get("content") not in held and not path.exists():
            removal = pathatlas_command("remove", removal_name(manifest, key), index_dir=index_dir)
            notes.append(
                f"{shared.get(key, display_name(key))} was indexed from {display_name(str(folder))} and is gone: "
                f"'{removal}' drops it"
            )
    return notes


def not_reindexable(manifest: Manifest, key: str, settings: Settings, index_dir: Path | None = None) -> str | None:
    """Why the index's source ``key`` cannot be read again where it was indexed from, in one line: gone from disk
    (moved, deleted, a drive not mounted), read by a source plug-in not loaded now, or no longer of its kind (a case
    folder without its metadata file, whose PDFs ``index`` would otherwise add as sources nobody named), or its
    plug-in failing to tell whether it reads it (``UndecidedError``, which stopped the whole run); None where it can.
    The command to paste names ``index_dir``, if any (``pathatlas_command``)."""
    path, kind = Path(key), manifest[key].get("kind")
    if not path.exists():
        removal = pathatlas_command("remove", removal_name(manifest, key), index_dir=index_dir)
        return (
            f"{key}: not found on disk (moved, deleted or not mounted); its records stay as indexed: index it where it "
            f"is now, then '{removal}' drops this one"
        )
    if unloaded := unloaded_reader(manifest[key], settings):
        return f"{key}: {unloaded}; its records stay as indexed"
    try:
        if not any(reader.kind == kind and reader.accepts(path) for reader in source_types(settings)):
            return f"{key}: no longer a {kind} source ({FOLDER_HINT}); its records stay as indexed"
    except UndecidedError as exc:
        return f"{key}: {exc}; its records stay as indexed"
    return None


def with_unloaded_readers(problem: str, path: Path, manifest: Manifest, settings: Settings) -> str:
    """The line of a path given that held nothing to read, with the source plug-ins not loaded now that ``manifest``
    records as having read what it holds there (``unloaded_readers_at``): its files alone cannot say which plug-in a
    folder of ``.txt`` notes wants. In the path's problems, so ``--json``, ``Atlas.add`` and REST say it too."""
    if not (readers := unloaded_readers_at(path, manifest, settings)):
        return problem
    return (
        f"{problem}; the index holds what is there as read by source plug-in {first_few(readers)}, not loaded "
        "(set PATHATLAS_SOURCES): its records stay as indexed"
    )


def unread_status(exc: Exception, walked: bool, indexed_before: bool, problems: list[str]) -> str:
    """The status of a source that ``exc`` stopped: skipped where it is a notes file with nothing to index that a
    folder walk found (``Discovered.walked``), which a zip upload leaves out too; else failed. Not one indexed before
    (emptied since: its old slides stay searchable, which the run must say) nor one whose includes were not read
    (its words may lie in a missing partial)."""
    skipped = walked and isinstance(exc, NoWordsError) and not indexed_before and not problems
    return "skipped" if skipped else "failed"


def with_undecided(report: SourceReport, lines: list[str]) -> SourceReport:
    """``report`` naming the plug-ins that failed to tell whether they read its source, which another reader read
    (``Discovered.undecided``: ``lines``): first in a row indexed or unchanged, after the reason of one failed or
    skipped, so that a path both fail on is one row naming both. In this run's report alone: its manifest entry keeps
    the problems its reader found."""
    if not lines:
        return report
    lead = 0 if report.status in ("indexed", "unchanged") else 1
    return replace(report, problems=[*report.problems[:lead], *lines, *report.problems[lead:]])


def with_included(entry: dict[str, Any], included: list[str]) -> dict[str, Any]:
    """A manifest entry recording the files its source includes (``Source.included``, which its ``stat`` covers), only
    where there are some: an entry of none keeps the form older versions wrote, so an upgrade rewrites no PDF's or case
    folder's entry."""
    kept = {key: value for key, value in entry.items() if key != "included"}
    return {**kept, "included": included} if included else kept


CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""What breaks a line, or acts on a terminal, in a problem's text: C0 and C1 controls, Unicode's line separators."""


def one_line_text(text: str) -> str:
    """A problem's ``text`` on one line, each control character shown as Python escapes it: a file named with a newline
    ("missing\\nfile.jpg", from a labels.csv row) broke the problem over two lines, which read as two problems, in
    ``index``'s table, REST jobs' notes and ``info --problems``."""
    return CONTROL_CHARACTER.sub(lambda found: repr(found[0])[1:-1], text)


def one_line(exc: BaseException) -> str:
    """An error as the one line a user reads; errors that are not ours are named by their type."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, PathAtlasError | OSError) else f"{type(exc).__name__}: {text}"


def nothing_indexed(source: Source) -> str:
    """Why a source gave no entries, in the one line a failed source is reported by: its first problem, if any."""
    if not source.problems:
        return f"nothing to index in {source.key}: it holds no records"
    more = f" (and {len(source.problems) - 1} more problems)" if len(source.problems) > 1 else ""
    return f"nothing to index in {source.key}: {one_line_text(source.problems[0])}{more}"


def own_entries(record: object, source: Source, fingerprint: str, ids: set[str]) -> list[Entry]:
    """``record``'s entries, refused in one line naming the source's reader unless they are the source's own (its key
    and the fingerprint just read) under ids no earlier record of it took (``ids``, which gains theirs): ``remove``
    finds records by their source, and a store keeps one record per id, so either mistake loses records silently."""
    reader = reader_name(type(source))
    if not isinstance(record, Record):
        raise PathAtlasError(f"source {reader!r} yielded a {type(record).__name__}, not a record (Page, Passage, ...)")
    entries = record.entries()
    for entry in entries:
        if entry.payload.source != source.key:
            raise PathAtlasError(
                f"source {reader!r} yielded a record of source {entry.payload.source!r}; a record's source must be "
                f"its Source's key, {source.key!r}"
            )
        if entry.payload.fingerprint != fingerprint:
            raise PathAtlasError(
                f"source {reader!r} yielded a record of fingerprint {entry.payload.fingerprint!r}; a record's "
                f"fingerprint must be its Source's, {fingerprint!r} (or the source changed while it was read)"
            )
        if entry.id in ids:
            raise PathAtlasError(
                f"source {reader!r} yielded two {entry.payload.kind} records of id {entry.id}; records of a source "
                "need distinct ids (pages, passage and figure indexes, case ids and images)"
            )
        ids.add(entry.id)
    return entries


def batched(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` made in a background thread, at most ``depth`` ahead, in order: reading the next pages of a PDF
    overlaps encoding the last ones (the encoders leave a core idle part of the time). An error raised while
    making an item is raised here, where the item would have come; leaving early stops the thread. The thread runs in
    a copy of the caller's context: a stop check (``stoppable``) stops the reading too."""
    end = object()
    queue: Queue = Queue(depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((end, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            offer((end, exc))

    context = contextvars.copy_context()  # the caller's stop check (``stoppable``) goes with the items it makes
    thread = threading.Thread(target=context.run, args=(produce,), name="pathatlas-read", daemon=True)
    thread.start()
    try:
        while True:
            item, error = queue.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


SAME_CONTENT = {
    PdfSource.kind: "is the same file as",
    NotesSource.kind: "is the same notes file as",
    CaseFolderSource.kind: "holds the same cases as",
}
"""The kinds of source ``Indexer._held_elsewhere`` refuses where another source holds their content
(``content_hash``), with how its line says so."""


def once_each(sources: Discovered) -> Discovered:
    """``sources`` without repeats of a key (a resolved path), each where it came first: ``index book.pdf book.pdf``,
    two links to one case folder, or a folder named beside one inside it would read and commit that source twice, and
    list it twice."""
    firsts: dict[str, Source] = {}
    for source in sources:
        firsts.setdefault(source.key, source)
    return Discovered(list(firsts.values()), sources.failed, sources.walked, sources.undecided)


def refuse_case_folder_index(index_dir: Path) -> None:
    """No index is written into a case folder (``pathatlas index . --index .`` from inside one, ``serve --index`` one
    and an upload): the folder's walk would read the index's files as its own (its thumbnails as images no row lists, so
    the folder would change at each run), and the index's ``media`` and ``store`` folders, which it empties of files it
    did not write, could be the folder's (its slides deleted after a stopped run). A folder of its own inside works
    (``is_index_folder``). Every ``Indexer`` checks it; the command line also before it opens the index."""
    folder = expanded(index_dir).absolute()
    if CaseFolderSource.accepts(folder):
        raise BadInputError(
            f"{folder} is a case folder: the index needs a folder of its own, which may be inside it "
            f"(--index {folder / 'index'})"
        )


def holds_unchanged(known: dict[str, Any] | None, fingerprint: str, stored: Counter[str]) -> bool:
    """Whether a source of ``fingerprint`` (its path, bytes, reader's version and settings) is indexed as it is, so
    not read again: the manifest's entry for it (``known``) has that fingerprint, and the store holds all its records
    (``stored``: ``Index.record_counts``, by fingerprint). ``index`` skips such a source; an upload of it is done at
    once."""
    return known is not None and known["fingerprint"] == fingerprint and stored[fingerprint] == known["entries"]


class Indexer:
    def __init__(
        self,
        index: Index,
        show_progress: bool = True,
        on_progress: Progress | None = None,
        word_reader: WordReader | None = None,
        on_source: SourceStarted | None = None,
        on_look: Looking | None = None,
        hint_index: Path | None = None,
        skip_copies: bool = False,
    ):
        refuse_case_folder_index(index.path)
        self.index = index
        self.settings = index.settings
        self.show_progress = show_progress
        self.on_progress = on_progress
        self.on_source = on_source
        self.on_look = on_look
        self.word_reader = word_reader
        """Reads figures' printed words; with ``figure_ocr`` on and none given, tesseract (checked in ``add``)."""
        self.hint_index = hint_index
        """The index folder the commands in its problems and notes name (``pathatlas_command``): the command line's
        ``--index``; None for the default index, or a door that takes no ``--index`` (REST, a notebook's Atlas)."""
        self.skip_copies = skip_copies
        """Whether a PDF, notes file or case folder whose content a source of another path on disk holds is skipped,
        failing in one line that names it (``_held_elsewhere``), as REST refuses its upload (409): the command line's.
        Not REST's job, which indexes an upload replacing the earlier one of its name, content alike, before removing
        that one."""
        self.stage_seconds: Counter[str] = Counter()
        """Wall seconds per stage (read: parsing and rendering sources, text, images, store, thumbnails, commit)."""
        self.tally: Counter[tuple[str, str]] = Counter()
        """What the run made and what it took from earlier records (``Earlier``), by entry: ("texts", "encoded" or
        "reused"), an entry's text vectors; ("images", ...), its image vectors; ("thumbnails", "made" or "reused").
        An upgrade (a newer reader) should encode and make little, which ``bench index --upgrade`` reports."""
        self._written: list[str] = []
        """Ids whose media files the source in progress wrote: released if it fails before its commit."""
        self._earlier = Earlier()
        """What the committed version of the source being written holds by content (``_reusable``)."""
        self._restat: dict[str, dict] = {}
        """Manifest entries of unchanged sources whose files' ``stat`` changed (touched, copied back), or indexed before
        their ``records_version`` was recorded: one commit at the end of the run records them, so that their pages
        are served again and ``pathatlas info`` no longer lists them as read by an older reader."""

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] += time.perf_counter() - started

    def add(self, paths: Paths, force: bool = False) -> IndexReport:
        """Index what the paths contain (one path or several, strings or ``Path`` objects); each source that changed
        commits as its own generation.

        Unchanged sources are skipped only when the store still holds all their records; records and media files
        a crash left behind are collected first. A source that fails leaves its previous version in place. Media
        files of replaced records, and those a failed source wrote, are deleted at the end. An index whose files are
        not as this version writes them (``Index.needs_rewrite``) is committed once even when nothing changed.
        """
        report = IndexReport()
        if self.settings.figure_ocr and self.word_reader is None:
            self.word_reader = TesseractReader(self.settings.cache_dir)  # no tesseract: one error before any work
        try:
            sources = once_each(discover(paths, self.settings))
        except NothingToIndexError as exc:  # every path fails, before any write: a new index is not made
            sources = Discovered([], exc.failed)
        for path, problem in sources.failed.items():  # a path with nothing to index fails alone, as a corrupt PDF does
            report.unfound.append(str(expanded(path).absolute()))
            problem = with_unloaded_readers(problem, Path(report.unfound[-1]), self.index.manifest, self.settings)
            report.sources.append(SourceReport(report.unfound[-1], "failed", problems=[problem]))
        if not sources:
            return report
        with self.index.writing():
            self.index.collect_garbage()
            stored = self.index.record_counts()
            with self.index.changing_media():
                self._restat = {}
                for number, source in enumerate(sources, 1):
                    if self.on_source:
                        self.on_source(source.key, number, len(sources))
                    with stoppable(functools.partial(self.on_look, source.key) if self.on_look else None):
                        added = self._add_source(source, force, stored, source.key in sources.walked)
                    report.sources.append(with_undecided(added, sources.undecided.get(source.key, [])))
                if self._restat or self.index.needs_rewrite():  # see ``_restat``, ``Index.needs_rewrite``
                    self.index.commit({**self.index.manifest, **self._restat})
        kept = [s.source for s in report.sources if s.status in ("indexed", "unchanged")]
        report.notes += missing_copies(self.index.manifest, kept, self.hint_index)
        folders = [path.resolve() for path in as_paths(paths) if path.is_dir()]
        report.notes += gone_from_folders(self.index.manifest, folders, kept, self.hint_index)
        indexed = {s.source for s in report.sources if s.status == "indexed"}
        if self.settings.figure_ocr_missing and any(
            s.key in indexed and "figure_ocr" in s.reads_settings for s in sources
        ):
            report.notes.append(FIGURE_OCR_MISSING)
        return report

    def add_held(self, force: bool = False) -> IndexReport:
        """Index again every source the index holds, from where it was indexed (``add``: the unchanged ones are only
        checked). A source that cannot be read there (``not_reindexable``) fails alone and keeps its records, and the
        others are still read: a lecture folder on a drive not mounted today holds back no update of the textbook.
        Reports come in the index's order of its sources."""
        manifest = self.index.manifest
        if not manifest:
            raise BadInputError(
                f"the index at {self.index.path} holds no sources yet: name the PDFs or folders to index "
                f"('{pathatlas_command('index', 'PATH', index_dir=self.index.path)}')"
            )
        unreadable = {
            key: problem
            for key in manifest
            if (problem := not_reindexable(manifest, key, self.settings, self.hint_index))
        }
        report = self.add([Path(key) for key in manifest if key not in unreadable], force=force)
        report.sources += [SourceReport(key, "failed", problems=[problem]) for key, problem in unreadable.items()]
        order = {key: number for number, key in enumerate(manifest)}
        report.sources.sort(key=lambda source: order.get(source.source, len(order)))
        return report

    def _add_source(self, source: Source, force: bool, stored: Counter[str], walked: bool) -> SourceReport:
        started = time.perf_counter()
        try:  # a stop while it is looked at (``on_look``: ``Cancelled``, no ``Exception``) writes nothing of it
            included = [str(file) for file in source.included()]  # a deck's: known once it is read
            signature = stat_signature(Path(source.key), included)  # before hashing: a change meanwhile shows
            fingerprint = source.fingerprint()
        except Exception as exc:  # an unreadable metadata file, a plug-in's bug: this source fails, the run goes on
            return SourceReport(source.key, "failed", problems=[one_line(exc)])
        known = self.index.manifest.get(source.key)
        if not force and holds_unchanged(known, fingerprint, stored):
            # the fingerprint hashes its reader's ``records_version``: the same one means this version made its records
            recorded = {**known, "records_version": source.records_version}
            if signature is not None:
                recorded = with_included({**recorded, "stat": signature}, included)
            if known.get("content_version") != CONTENT_VERSION:  # none, or hashed as an earlier version covered it
                recorded |= {"content": source.content_hash(), "content_version": CONTENT_VERSION}
            if recorded != known:
                self._restat[source.key] = recorded
            # not read again: the problems found when it was (what ``info`` counts), for every caller alike
            problems = list(known.get("problems", []))
            return SourceReport(source.key, "unchanged", entries=known["entries"], problems=problems)
        if self.skip_copies and (held := self._held_elsewhere(source, known)) is not None:
            return SourceReport(source.key, "failed", problems=[held])
        self._written = []
        try:
            self._earlier = self._reusable(source.key, known, force)
            source.recall(known, self._held_page_thumbnails())
            count, units = self._write(source, fingerprint)
            if not count:  # an empty cases.jsonl, a folder whose every image failed: not "indexed, 0 entries"
                raise BadInputError(nothing_indexed(source))
            entry = {
                "id": source_id(source.key),
                "fingerprint": fingerprint,
                "kind": source.kind,
                "entries": count,
                "indexed_at": time.time(),
                "problems": [one_line_text(problem) for problem in source.problems],
                "stat": signature,
                **with_included({}, included),
                "records_version": source.records_version,
                "reader": reader_name(type(source)),
                "content": source.content_hash(),
                "content_version": CONTENT_VERSION,
            }
            entry = {**source.remembered(), **entry}  # for the next reading's ``recall`` (a PDF's drawing key)
            with self._stage("commit"):  # store files and BM25
                self.index.commit({**self.index.manifest, source.key: entry})
        except Cancelled:
            self.index.rollback()
            self.index.release_media(self._written)
            raise
        except Exception as exc:  # torch, sqlite, pymupdf...: the source fails, the job goes on
            self.index.rollback()  # the previous version of this source stays as it was
            self.index.release_media(self._written)
            if isinstance(exc, OSError) and (error := unwritable(self.index.path, exc)) is not None:
                exc = error  # a full disk: one line naming the index folder (each source tries: space may come back)
            status = unread_status(exc, walked, known is not None, source.problems)
            return SourceReport(source.key, status, problems=[one_line(exc), *source.problems])
        self._report(source.key, units, units)  # committed: what it had, not what its listing promised (``size_hint``)
        return SourceReport(source.key, "indexed", count, time.perf_counter() - started, source.problems)

    def _held_elsewhere(self, source: Source, known: dict[str, Any] | None) -> str | None:
        """Why the PDF, notes file or case folder ``source`` (committed as ``known``, if at all) is not indexed, where
        its content is new to it and a source of another path on disk holds it (``indexed_copy``): beside it, each of
        its pages, slides or cases would be found and cited twice (``cp -r cases cases_copy`` then indexed). The user
        who meant to index it here instead is given the removal to paste. None where none does, or it is of another
        kind (a plug-in's); a source read again with its content unchanged (a newer reader, --force) is never refused,
        copies indexed before this check included; one an earlier version hashed otherwise, as it did
        (``earlier_contents``)."""
        if (same_as := SAME_CONTENT.get(source.kind)) is None:
            return None
        content, manifest = source.content_hash(), self.index.manifest
        if known and known.get("content", content) == content:  # its own content (unknown: indexed before it was kept)
            return None
        contents = [content, *earlier_contents(source, manifest.values())]
        held = (indexed_copy(manifest, c, lambda key: key == source.key) for c in contents)
        if (twin := next(filter(None, held), None)) is None:
            return None
        removal = pathatlas_command("remove", removal_name(manifest, twin), index_dir=self.hint_index)
        return f"{source.key} {same_as} {twin}, already indexed: skipped; to index it here instead, '{removal}' first"

    def _reusable(self, key: str, known: dict[str, Any] | None, force: bool) -> Earlier:
        """``_earlier`` for the source ``key`` whose committed version is ``known``: empty when forced (a forced run
        makes everything anew), and where the index's vectors may be another model's than its encoder's now (an index
        that recorded no revisions, read by an encoder that has some), so that vectors of two models never mix."""
        if force or not known or self.index.encoder.revisions() != self.index.meta.revisions:
            return Earlier()
        earlier = Earlier()
        for record_id, payload in self.index.store.scan({"source": key, "fingerprint": known["fingerprint"]}):
            if "image_hash" in payload:
                earlier.images[payload["image_hash"]] = record_id
            if "text_hash" in payload:
                earlier.texts[payload["text_hash"]] = record_id
            if "thumbnail_hash" in payload:
                earlier.thumbnails[payload["thumbnail_hash"]] = record_id
                if payload["kind"] == "page":
                    earlier.pages[payload["page"]] = payload["thumbnail_hash"]
            if payload["kind"] == "case" and "image_hash" in payload:
                earlier.case_pictures[payload["image"]] = (payload["image_hash"], payload.get("thumbnail_hash"))
        return earlier

    def _held_page_thumbnails(self) -> dict[int, str]:
        """Each page's thumbnail key where the index holds that thumbnail at the size asked now, for
        ``Source.recall``: a page a reader gives its earlier key is not rendered, so its thumbnail can only be
        copied."""
        size = f"page {self.settings.thumbnail_px}px "
        return {
            page: key
            for page, key in self._earlier.pages.items()
            if key.startswith(size) and existing(self._earlier.thumbnails[key], self.index.thumbnail_path)
        }

    def _earlier_media(self, entry: Entry, path_of: Callable[[str], Path]) -> Path | None:
        """The media file (``path_of`` its id) of the earlier record holding ``entry``'s image, where there is one."""
        return existing(self._earlier.images.get(entry.payload.image_hash), path_of)

    def _earlier_thumbnail(self, entry: Entry) -> Path | None:
        """The thumbnail of the earlier record whose thumbnail was made of the same picture at the same size
        (``Payload.thumbnail_hash``), where there is one."""
        return existing(self._earlier.thumbnails.get(entry.payload.thumbnail_hash), self.index.thumbnail_path)

    def text_spaces_of(self, entry: Entry) -> tuple[str, ...]:
        """The spaces that keep ``entry``'s text vectors: none without text, and not those its image fills (an image's
        vector wins where both fill a space, ``encode``)."""
        encoder = self.index.encoder
        if not entry.text.strip():
            return ()
        if not pictured(entry) or not encoder.image_spaces:
            return encoder.text_spaces
        return tuple(space for space in encoder.text_spaces if space not in encoder.image_spaces)

    def _text_key(self, entry: Entry) -> str | None:
        """``entry``'s ``text_key``; None where no space keeps its text's vectors."""
        spaces = self.text_spaces_of(entry)
        return text_key(entry.text, spaces) if spaces else None

    def _earlier_vectors(self, entries: list[Entry]) -> dict[str, dict[str, np.ndarray]]:
        """Entry id to the vectors earlier records hold for it: the image spaces' of the record holding its image, the
        spaces of its text (``text_spaces_of``) of the record of its ``text_key``; each only where that record holds
        all of them, and a store gives them back exactly, or the picture is the earlier record's alone (``pictured``:
        a copy from a store keeping fewer bits beats no image vectors)."""
        image_spaces = self.index.encoder.image_spaces
        exact = self.index.raw_store.exact_vectors
        wanted: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for entry in entries:
            record_id = self._earlier.images.get(entry.payload.image_hash) if pictured(entry) else None
            if image_spaces and record_id is not None and (exact or entry.image is None):
                wanted.setdefault(entry.id, []).append((record_id, image_spaces))
            if exact and (record_id := self._earlier.texts.get(self._text_key(entry))) is not None:
                wanted.setdefault(entry.id, []).append((record_id, self.text_spaces_of(entry)))
        if not wanted:
            return {}
        try:
            record_ids = sorted({record_id for found in wanted.values() for record_id, _ in found})
            stored = stored_vectors(self.index.raw_store, record_ids)
        except PathAtlasError:  # a plug-in store that cannot give its vectors back: its entries are encoded
            return {}
        given: dict[str, dict[str, np.ndarray]] = {}
        for entry_id, found in wanted.items():
            for record_id, spaces in found:
                held = stored.get(record_id, {})
                if all(space in held for space in spaces):
                    given.setdefault(entry_id, {}).update({space: held[space] for space in spaces})
        return given

    def _entries(self, source: Source, fingerprint: str, tell: Callable[[int], None]) -> Iterator[Entry]:
        """The source's entries, case images with their keypoints (``_add_keypoints``); each record's progress units
        are told (``tell``) once it is read so, before the next is read: were progress to wait for each batch's
        keypoints and encoding, an upload of 250 case images would read "0/250" for 12 s, then move 64 at a time."""
        ids: set[str] = set()
        records = source.records()
        while True:
            with self._stage("read"):
                record = next(records, None)
                entries = own_entries(record, source, fingerprint, ids) if record is not None else []
                entries = self._kept_pictures(entries, source)
            if record is None:
                return
            self._add_keypoints(entries)
            if record.progress_units:
                tell(record.progress_units)
            yield from entries

    def _kept_pictures(self, entries: list[Entry], source: Source) -> list[Entry]:
        """``entries``, each case image whose file cannot be read now (``Case.unread``: damaged, cut short, a sync
        client's placeholder) given the picture the committed version indexed from that file (``pictured``), which the
        source's problems say; one it held no picture of (a first index, a forced one) is left out."""
        kept = []
        for entry in entries:
            payload = entry.payload
            if payload.kind == "case" and entry.image is None:
                if (picture := self._earlier.case_pictures.get(payload.image)) is None:
                    continue
                payload.image_hash, payload.thumbnail_hash = picture
                if self._earlier_thumbnail(entry) is None:  # none kept (a record made before thumbnails were keyed)
                    payload.thumbnail_hash = None
                source.problems.append(
                    f"{source.key}: {payload.image!r} (case {payload.case!r}) kept as indexed before: its file cannot "
                    "be read now"
                )
            kept.append(entry)
        return kept

    def _write(self, source: Source, fingerprint: str) -> tuple[int, int]:
        """Encode and store the source's entries: (entries, progress units) stored. Progress counts units as they are
        read (``_entries``, in the reading thread), at most a few batches ahead of encoding (``prefetched``), and is
        told before its records are read (its fingerprint, a 200,000-row metadata file read, may take tens of seconds)
        and again before each batch is stored, so that a cancel (raised by the callback) stops there; a lock keeps the
        reports of both threads in order."""
        count = read = 0
        lock = threading.Lock()
        hint = source.size_hint()
        self._report(source.key, 0, hint)  # a cancel asked while the source was looked at stops before its records
        with tqdm(total=hint, desc=Path(source.key).name, unit="item", disable=not self.show_progress) as bar:

            def tell(units: int) -> None:
                nonlocal read
                with lock:
                    read += units
                    bar.update(units)
                    self._report(source.key, min(read, max(hint, 1) - 1), hint)  # complete only once committed

            batches = self._with_printed_words(batched(self._entries(source, fingerprint, tell), ENTRY_BATCH))
            for batch in prefetched(batches):
                crash_point("store upsert")
                encoded = self.encode(batch, self._earlier_vectors(batch))
                tell(0)
                with self._stage("store"):
                    self.index.store.upsert(encoded)
                with self._stage("thumbnails"):
                    self._save_thumbnails(batch)
                count += len(batch)
            bar.total = read  # what it had: listed rows it skipped are no units
            bar.refresh()
        return count, read

    def _report(self, key: str, done: int, total: int) -> None:
        if self.on_progress:
            self.on_progress(key, done, total)

    def _with_printed_words(self, batches: Iterator[list[Entry]]) -> Iterator[list[Entry]]:
        """Figures get the words printed in them (``figure_ocr``), in the reading thread (so OCR overlaps
        encoding); batches wait until they hold ``OCR_GROUP`` figures. The text vector stays the caption's: a bag
        of labels is not a sentence."""
        if not self.settings.figure_ocr:
            yield from batches
            return
        held: list[list[Entry]] = []
        figures: list[Entry] = []
        for batch in batches:
            held.append(batch)
            figures += [e for e in batch if e.payload.kind == "figure" and e.image is not None]
            if not figures or len(figures) >= OCR_GROUP:
                self._read_printed_words(figures)
                yield from held
                held, figures = [], []
        self._read_printed_words(figures)
        yield from held

    def _read_printed_words(self, figures: list[Entry]) -> None:
        if figures:
            with self._stage("ocr"):
                for entry, words in zip(figures, self.word_reader.read([e.image for e in figures]), strict=True):
                    entry.payload.ocr = " ".join(words) or None

    def _add_keypoints(self, entries: list[Entry]) -> None:
        """Case images get their SIFT keypoints (``case_keypoints``, about 0.2 s each), in the reading thread like OCR,
        record by record so that progress follows them; an image whose earlier record has them takes those
        (``_save_thumbnails``)."""
        if not self.settings.case_keypoints:
            return
        cases = [
            e
            for e in entries
            if e.payload.kind == "case"
            and e.image is not None
            and self._earlier_media(e, self.index.keypoints_path) is None
        ]
        if cases:
            with self._stage("keypoints"):
                for entry, found in zip(cases, keypoints([e.image for e in cases]), strict=True):
                    entry.keypoints = found

    def encode(
        self, entries: list[Entry], earlier_vectors: dict[str, dict[str, np.ndarray]] | None = None
    ) -> list[StoredVectors]:
        """One encoder call per modality per batch; image vectors win where both fill a space. Entries whose id
        ``earlier_vectors`` holds take those vectors: their text is not encoded where they hold every space of its
        (``text_spaces_of``), their image not where they hold every image space. Each entry's payload records its
        ``text_key`` (``Payload.text_hash``), so that the next run finds its text vectors."""
        encoder = self.index.encoder
        given = earlier_vectors or {}
        texted = [i for i, e in enumerate(entries) if not given_all(self.text_spaces_of(e), given.get(e.id))]
        imaged = [
            i
            for i, e in enumerate(entries)
            if e.image is not None and not given_all(encoder.image_spaces, given.get(e.id))
        ]
        vectors: list[dict] = [{} for _ in entries]
        name, dims = self.index.meta.encoder, encoder.dims
        modalities = (
            ("text", texted, attrgetter("text"), encoder.encode_text, encoder.text_spaces),
            ("images", imaged, attrgetter("image"), encoder.encode_image, encoder.image_spaces),
        )
        for stage, chosen, content, encode, spaces in modalities:  # images last: their vectors win a shared space
            with self._stage(stage):
                matrices = encoded(name, encode, [content(entries[i]) for i in chosen], spaces, dims)
            for space, matrix in matrices.items():
                for row, i in enumerate(chosen):
                    vectors[i][space] = matrix[row]
        self._tally_vectors(entries, texted, imaged)
        for entry, entry_vectors in zip(entries, vectors, strict=True):
            entry_vectors.update(given.get(entry.id, {}))
            entry.payload.text_hash = self._text_key(entry)
            entry.payload.thumbnail_hash = thumbnail_key(entry, self.settings.thumbnail_px)
        return [StoredVectors(e.id, e.payload.to_payload(), v) for e, v in zip(entries, vectors, strict=True)]

    def _tally_vectors(self, entries: list[Entry], texted: list[int], imaged: list[int]) -> None:
        """Counts ``encode``'s entries into ``tally``: those with text vectors (``text_spaces_of``) or image vectors
        (a picture, and image spaces to encode it in) whose vectors were encoded (``texted``, ``imaged``), and the
        others of each, which took earlier records' vectors."""
        with_text = sum(1 for entry in entries if self.text_spaces_of(entry))
        with_picture = sum(map(pictured, entries)) if self.index.encoder.image_spaces else 0
        self.tally["texts", "encoded"] += len(texted)
        self.tally["texts", "reused"] += with_text - len(texted)
        self.tally["images", "encoded"] += len(imaged)
        self.tally["images", "reused"] += with_picture - len(imaged)

    def _save_thumbnails(self, entries: list[Entry]) -> None:
        """Keypoints copied from the earlier record of the same image, thumbnails from that of the same
        ``thumbnail_key``, where it has them (its files stay until the commit replacing it); an entry's id names its
        content and the reading settings (``STORED_SETTINGS``), so a file already there is already right. Each file is
        written whole under another name, then renamed."""
        self.index.media_dir.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            keypoints = self.index.keypoints_path(entry.id)
            earlier = self._earlier_media(entry, self.index.keypoints_path) if self.settings.case_keypoints else None
            if not keypoints.exists() and (entry.keypoints is not None or earlier is not None):
                self._written.append(entry.id)
                if entry.keypoints is not None:
                    entry.keypoints.save(keypoints)
                else:
                    copy_atomic(earlier, keypoints)
            path = self.index.thumbnail_path(entry.id)
            if (entry.thumbnail is not None or entry.payload.thumbnail_hash) and not path.exists():
                self._written.append(entry.id)
                if (earlier := self._earlier_thumbnail(entry)) is not None:
                    copy_atomic(earlier, path)
                    self.tally["thumbnails", "reused"] += 1
                elif entry.thumbnail is None:  # held when the run began (``_held_page_thumbnails``), gone since
                    raise PathAtlasError(
                        f"{entry.payload.source} page {entry.payload.page}: its earlier thumbnail left "
                        f"{self.index.media_dir} while it was indexed; index again"
                    )
                else:
                    self.tally["thumbnails", "made"] += 1
                    tmp = path.with_name(f".{path.name}.tmp")
                    stored_thumbnail(entry, self.settings.thumbnail_px).save(tmp, "JPEG", quality=85)
                    tmp.replace(path)
