"""Registry of sources and discovery of what a user's paths contain.

Built-in kinds are ``pdf``, ``cases`` and ``notes`` (Markdown or Quarto lecture notes);
``PATHATLAS_SOURCES='["py:package.module.Class"]'`` adds your own ``Source`` subclasses, which are asked first whether
they accept a path; one that fails is one line naming it (``guarded_source``) and fails alone (``Walk``).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath
from typing import Any

from pathatlas.errors import BadInputError, PathAtlasError, first_few
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.cases import METADATA_FILES, CaseFolderSource
from pathatlas.indexer.sources.fingerprints import reader_name, unloaded_reader
from pathatlas.indexer.sources.notes import NOTE_SUFFIXES, PARTIAL_PREFIX, NotesSource, left_out_of_folders
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.paths import expanded
from pathatlas.plugins import cause, guarded, import_plugin, started
from pathatlas.retrieval.datasets import as_on_disk
from pathatlas.settings import Settings

SOURCES: dict[str, type[Source]] = {"pdf": PdfSource, "cases": CaseFolderSource, "notes": NotesSource}


def source_types(settings: Settings) -> list[type[Source]]:
    """Plugin sources named in settings first (``guarded_source``), then the built-in ones."""
    plugins = [guarded_source(import_plugin(name, Source, "source")) for name in settings.sources]
    return plugins + list(SOURCES.values())


class UndecidedError(PathAtlasError):
    """A plug-in source's ``accepts`` raised: it cannot tell whether it reads a path. ``discover`` goes on without it
    for the path given, the built-ins still asked."""


@functools.cache
def guarded_source(source_type: type[Source]) -> type[Source]:
    """The plug-in ``source_type`` whose failures are each one line naming it and the path it was at
    (``UndecidedError`` from ``accepts``, ``guarded_call`` for the other calls), as a damaged PDF's line names the
    PDF: "RuntimeError: parser exploded" alone said neither. ``plugins.guarded``, the subclass it makes for stores: its
    ``kind``, its ``reader_name`` and ``isinstance`` stay as they are. It pickles as the plug-in's own class (named
    alike, the subclass is "not the same object" to pickle), so a plug-in may send itself to a process pool."""
    name = reader_name(source_type)
    accepts = source_type.accepts

    def guarded_accepts(cls: type[Source], path: Path) -> bool:
        try:
            return accepts(path)
        except Exception as exc:  # noqa: BLE001 - whatever a plug-in raises, the user reads one line naming it
            raise UndecidedError(f"source {name!r} failed to tell whether it reads {path}: {cause(exc)}") from exc

    return guarded(
        source_type,
        Source,
        lambda call: lambda source, *_: f"source {name!r}: {call}() of {source.key}",
        accepts=classmethod(guarded_accepts),
        __reduce_ex__=lambda self, protocol: (unguarded, (source_type, self.__dict__)),
    )


def unguarded(source_type: type[Source], state: dict[str, Any]) -> Source:
    """A plug-in source as its own class makes it, from a guarded one's attributes (``guarded_source``'s pickling)."""
    source = source_type.__new__(source_type)
    source.__dict__.update(state)
    return source


FOLDER_HINT = "a case folder needs cases.jsonl or labels.csv"

PathLike = str | os.PathLike[str]
Paths = PathLike | Iterable[PathLike]
"""What a caller from Python may give to index: one path or several, as strings or ``Path`` objects."""


def as_paths(paths: Paths) -> list[Path]:
    """``paths`` as a list of ``Path`` objects, with ``~`` expanded: one path (a string is one path, not its letters)
    or several."""
    many = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    return [expanded(path) for path in many]


class Discovered(list[Source]):
    """The sources ``discover`` found, in order, and the paths that held none or where a plug-in source failed to tell
    whether it reads them: ``failed`` maps each to the one line saying why, and the run goes on without it, as it does
    past a corrupt PDF. ``walked``: the keys of those found walking a folder, none named itself, of which a notes file
    with nothing to index (``notes.NoWordsError``, a Quarto website's ``index.qmd``) is left out, where one named
    fails. ``undecided``: a source's key to the lines of plug-ins that failed to tell whether they read where it was
    found, which the other readers read whole (``Walk.settle_undecided``): said in its row, not failed."""

    def __init__(
        self,
        sources: list[Source],
        failed: dict[Path, str],
        walked: frozenset[str] = frozenset(),
        undecided: dict[str, list[str]] | None = None,
    ):
        super().__init__(sources)
        self.failed = failed
        self.walked = walked
        self.undecided = undecided or {}


class NothingToIndexError(BadInputError):
    """No path given holds anything to index; ``failed`` says why for each (as ``Discovered.failed``)."""

    def __init__(self, failed: dict[Path, str]):
        self.failed = failed
        super().__init__("; ".join(failed.values()))


def discover(paths: Paths, settings: Settings) -> Discovered:
    """Expand user paths (``as_paths``) into sources: a PDF, a notes file (``NotesSource``), a case folder, or a folder
    searched for them, each PDF and notes file in it a source of its own (not notes in a ``_`` folder below it:
    ``unrendered_notes``). A path with nothing to index (missing, none of these, a folder holding none) fails alone,
    in ``failed``, as does one where a plug-in source failed to tell whether it reads a path (``Walk``: what the
    built-ins find there is still read); when every path fails, ``NothingToIndexError`` says why for each."""
    found: list[Source] = []
    failed: dict[Path, str] = {}
    undecided: dict[str, list[str]] = {}
    named: set[Path] = set()
    types = source_types(settings)
    for path in as_paths(paths):
        walk = Walk(settings, types)
        try:
            path = as_on_disk(path)
            sources = walk.found(path)
        except BadInputError as exc:
            walk.failures.append(str(exc))
        except OSError as exc:  # a folder this user cannot list
            walk.failures.append(f"cannot read {path}: {exc.strerror or exc}")
        else:
            found.extend(sources)
            named.add(path.resolve())
            for key, lines in walk.undecided_read.items():  # a path given twice says its lines once
                undecided[key] = list(dict.fromkeys([*undecided.get(key, []), *lines]))
        if walk.failures:
            failed[path] = "; ".join(walk.failures)
    if failed and not found:
        raise NothingToIndexError(failed)
    walked = frozenset(source.key for source in found if source.path not in named)
    return Discovered(found, failed, walked, undecided)


def loops_back(child: Path, folder: Path) -> bool:
    """Whether ``child`` of the real folder ``folder`` is a link to it or to a folder above it."""
    return child.is_symlink() and child.is_dir() and child.resolve() in (folder, *folder.parents)


WALK_TOP = PurePath()
"""Where a walk's paths below the folder it was given start (``Walk.sources``' ``inside``)."""


def unrendered_notes(inside: PurePath) -> bool:
    """Whether ``inside`` (a path below the folder a walk was given) is a notes file in a folder Quarto renders nothing
    of, its name beginning with ``PARTIAL_PREFIX`` (``_partials/``, ``_extensions/``, its ``_book/`` output): included
    by decks elsewhere or a copy, never a deck, its slide numbers meaningless alone. A walk leaves it out; the PDFs and
    case folders there are indexed as anywhere."""
    folders = inside.parts[:-1]
    return inside.suffix.lower() in NOTE_SUFFIXES and any(folder.startswith(PARTIAL_PREFIX) for folder in folders)


class Walk:
    """The look for sources at one path a user gave. ``readers``: the source types asked, in order; a plug-in whose
    ``accepts`` raises (``UndecidedError``) is asked no more at or below the path it failed on (``undecided``: the
    reader, the path, its one line), its line in ``failures``, and the others read on: a broken plug-in, asked first,
    would otherwise stop every path, a PDF beside it included. The folders beside that path are still asked of it: one
    unreadable folder dropped the plug-in for the whole walk, so an edit in a sibling folder went unindexed.
    ``walked``: the real folders seen; ``unread``: the files no reader took, whose suffixes say why a folder holds
    nothing to index (``nothing_found``); ``taken``: each source found, with the path the walk met it at;
    ``undecided_read``: a source's key to the lines ``settle_undecided`` moved out of ``failures`` to its row."""

    def __init__(self, settings: Settings, readers: list[type[Source]]):
        self.settings = settings
        self.readers = list(readers)
        self.undecided: list[tuple[type[Source], Path, str]] = []
        self.failures: list[str] = []
        self.walked: set[Path] = set()
        self.unread: list[Path] = []
        self.taken: list[tuple[Path, Source]] = []
        self.undecided_read: dict[str, list[str]] = {}

    def found(self, path: Path) -> list[Source]:
        """The sources at ``path``; a ``BadInputError`` saying why where it holds none and no plug-in failed."""
        if not path.exists():
            raise BadInputError(f"no such file or folder: {path}")
        sources = self.sources(path)
        self.settle_undecided()
        if not sources and not self.failures:
            raise BadInputError(self.nothing_found(path))
        return sources

    def settle_undecided(self) -> None:
        """A plug-in's failure to tell whether it reads a path that the other readers read whole (``read_instead``) is
        no failure of that path: its line moves from ``failures`` to the row of the first source read there, said
        once. The PDF a broken plug-in was asked about first got a failed row beside its indexed one."""
        for _, at, line in self.undecided:
            if (source := self.read_instead(at)) is not None:
                self.failures.remove(line)
                self.undecided_read.setdefault(source.key, []).append(line)

    def read_instead(self, at: Path) -> Source | None:
        """The first source found at or below ``at``, where no file the walk met there went unread; else None: a file
        no reader took (a folder's ``.txt`` notes) may be what the plug-in would have read."""
        if any(file.is_relative_to(at) for file in self.unread):
            return None
        return next((source for path, source in self.taken if path.is_relative_to(at)), None)

    def reader(self, path: Path) -> type[Source] | None:
        """The first reader that accepts ``path``, if any."""
        for reader in self.readers:
            if any(reader is failed and path.is_relative_to(at) for failed, at, _ in self.undecided):
                continue
            try:
                if reader.accepts(path):
                    return reader
            except UndecidedError as exc:
                self.undecided.append((reader, path, str(exc)))
                self.failures.append(str(exc))
        return None

    def sources(self, path: Path, inside: PurePath = WALK_TOP) -> list[Source]:
        """The sources at ``path`` (``inside``: its path below the folder the walk was given); a folder is walked once
        (``walked``), and a link inside it to itself or a folder above it is not followed (``loops_back``): followed,
        ``ln -s .. up`` would read one PDF 41 times, and a link to ``/`` would walk the whole disk."""
        if (reader := self.reader(path)) is not None:
            source = self.built(reader, path)
            self.taken.append((path, source))
            return [source]
        if not path.is_dir():
            self.unread.append(path)
            return []
        if (real := path.resolve()) in self.walked:
            return []
        self.walked.add(real)
        sources: list[Source] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith(".") or loops_back(child, real) or left_out_of_folders(child):
                continue
            below = inside / child.name
            if child.is_dir() or not unrendered_notes(below):
                sources.extend(self.sources(child, below))
        return sources

    def built(self, reader: type[Source], path: Path) -> Source:
        """The source ``reader`` makes of ``path``."""
        name = reader_name(reader)
        if name.startswith("py:"):  # a plug-in's constructor failing is one line naming it
            return started(name, "source", functools.partial(reader, path, self.settings))
        return reader(path, self.settings)

    def nothing_found(self, path: Path) -> str:
        """Why ``path``, walked, holds no source; a folder's line names the suffixes of its files no loaded reader
        takes: a folder of plug-in material (``.txt`` notes) indexed without ``PATHATLAS_SOURCES`` is no case folder
        missing its list."""
        if path.is_dir():
            return f"no PDFs, lecture notes or case folders found in {path} ({FOLDER_HINT}{self.read_by_none()})"
        if path.name in METADATA_FILES:  # the case list, not its folder: the images are beside it
            return f"{path} is a case folder's case list: index its folder, {path.absolute().parent}"
        return (
            f"{path} is neither a PDF nor a case folder (a folder with cases.jsonl or labels.csv), nor lecture notes "
            f"({', '.join(NOTE_SUFFIXES)})"
        )

    def read_by_none(self) -> str:
        """What ``nothing_found`` adds of the files the walk met that no reader took: their most common suffixes."""
        counted = Counter(file.suffix.lower() for file in self.unread)
        if not (suffixes := [suffix for suffix, _ in counted.most_common() if suffix]):
            return ""
        return f"; its {first_few(suffixes)} files are read by no loaded source: PATHATLAS_SOURCES adds plug-in ones"


def unloaded_readers_at(path: Path, manifest: Mapping[str, Mapping[str, Any]], settings: Settings) -> list[str]:
    """The source plug-ins that read what ``manifest`` holds at or below ``path`` and that ``settings`` do not load
    (``unloaded_reader``), by name: why a path that held sources when indexed holds none now, as the index recorded
    it, not guessed from its files."""
    real = path.resolve()
    held = (entry for key, entry in manifest.items() if Path(key).is_relative_to(real))
    return sorted({entry["reader"] for entry in held if unloaded_reader(entry, settings)})
