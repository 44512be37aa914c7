"""Registry of sources and discovery of what a user's paths contain.

Built-in kinds are ``pdf``, ``cases`` and ``notes`` (Markdown or Quarto lecture notes);
``PATHATLAS_SOURCES='["py:package.module.Class"]'`` adds your own ``Source`` subclasses, which are asked first whether
they accept a path.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path, PurePath

from pathatlas.errors import BadInputError
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.cases import METADATA_FILES, CaseFolderSource
from pathatlas.indexer.sources.fingerprints import reader_name
from pathatlas.indexer.sources.notes import NOTE_SUFFIXES, PARTIAL_PREFIX, NotesSource, left_out_of_folders
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.paths import expanded
from pathatlas.plugins import import_plugin, started
from pathatlas.retrieval.datasets import as_on_disk
from pathatlas.settings import Settings

SOURCES: dict[str, type[Source]] = {"pdf": PdfSource, "cases": CaseFolderSource, "notes": NotesSource}


def source_types(settings: Settings) -> list[type[Source]]:
    """Plugin sources named in settings first, then the built-in ones."""
    plugins = [import_plugin(name, Source, "source") for name in settings.sources]
    return plugins + list(SOURCES.values())


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
    """The sources ``discover`` found, in order, and the paths that held none: ``failed`` maps each to the one line
    saying why, and the run goes on without it, as it does past a corrupt PDF. ``walked``: the keys of those found
    walking a folder, none named itself, of which a notes file with nothing to index (``notes.NoWordsError``, a Quarto
    website's ``index.qmd``) is left out, where one named fails."""

    def __init__(self, sources: list[Source], failed: dict[Path, str], walked: frozenset[str] = frozenset()):
        super().__init__(sources)
        self.failed = failed
        self.walked = walked


class NothingToIndexError(BadInputError):
    """No path given holds anything to index; ``failed`` says why for each (as ``Discovered.failed``)."""

    def __init__(self, failed: dict[Path, str]):
        self.failed = failed
        super().__init__("; ".join(failed.values()))


def discover(paths: Paths, settings: Settings) -> Discovered:
    """Expand user paths (``as_paths``) into sources: a PDF, a notes file (``NotesSource``), a case folder, or a folder
    searched for them, each PDF and notes file in it a source of its own (not notes in a ``_`` folder below it:
    ``unrendered_notes``). A path with nothing to index (missing, none of these, a folder holding none) fails alone,
    in ``failed``; when every path fails, ``NothingToIndexError`` says why for each."""
    found: list[Source] = []
    failed: dict[Path, str] = {}
    named: set[Path] = set()
    types = source_types(settings)
    for path in as_paths(paths):
        try:
            path = as_on_disk(path)
            if not path.exists():
                raise BadInputError(f"no such file or folder: {path}")
            sources = _discover_one(path, settings, types)
            if not sources:
                raise BadInputError(f"no PDFs, lecture notes or case folders found in {path} ({FOLDER_HINT})")
        except BadInputError as exc:
            failed[path] = str(exc)
            continue
        except OSError as exc:  # a folder this user cannot list
            failed[path] = f"cannot read {path}: {exc.strerror or exc}"
            continue
        found.extend(sources)
        named.add(path.resolve())
    if failed and not found:
        raise NothingToIndexError(failed)
    return Discovered(found, failed, frozenset(source.key for source in found if source.path not in named))


def loops_back(child: Path, folder: Path) -> bool:
    """Whether ``child`` of the real folder ``folder`` is a link to it or to a folder above it."""
    return child.is_symlink() and child.is_dir() and child.resolve() in (folder, *folder.parents)


WALK_TOP = PurePath()
"""Where a walk's paths below the folder it was given start (``_discover_one``'s ``inside``)."""


def unrendered_notes(inside: PurePath) -> bool:
    """Whether ``inside`` (a path below the folder a walk was given) is a notes file in a folder Quarto renders nothing
    of, its name beginning with ``PARTIAL_PREFIX`` (``_partials/``, ``_extensions/``, its ``_book/`` output): included
    by decks elsewhere or a copy, never a deck, its slide numbers meaningless alone. A walk leaves it out; the PDFs and
    case folders there are indexed as anywhere."""
    folders = inside.parts[:-1]
    return inside.suffix.lower() in NOTE_SUFFIXES and any(folder.startswith(PARTIAL_PREFIX) for folder in folders)


def _discover_one(
    path: Path,
    settings: Settings,
    types: list[type[Source]],
    walked: set[Path] | None = None,
    inside: PurePath = WALK_TOP,
) -> list[Source]:
    """The sources at ``path`` (``inside``: its path below the folder the walk was given); a folder is walked once
    (``walked``: the real folders seen), and a link inside it to itself or a folder above it is not followed
    (``loops_back``): followed, ``ln -s .. up`` would read one PDF 41 times, and a link to ``/`` would walk the whole
    disk."""
    for source_type in types:
        if source_type.accepts(path):
            name = reader_name(source_type)
            if name.startswith("py:"):  # a plug-in's constructor failing is one line naming it
                return [started(name, "source", functools.partial(source_type, path, settings))]
            return [source_type(path, settings)]
    if path.is_dir():
        walked = set() if walked is None else walked
        if (real := path.resolve()) in walked:
            return []
        walked.add(real)
        sources: list[Source] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith(".") or loops_back(child, real) or left_out_of_folders(child):
                continue
            below = inside / child.name
            if child.is_dir() or (not unrendered_notes(below) and any(s.accepts(child) for s in types)):
                sources.extend(_discover_one(child, settings, types, walked, below))
        return sources
    if path.name in METADATA_FILES:  # the case list, not its folder: the images are beside it
        raise BadInputError(f"{path} is a case folder's case list: index its folder, {path.absolute().parent}")
    raise BadInputError(
        f"{path} is neither a PDF nor a case folder (a folder with cases.jsonl or labels.csv), nor lecture notes "
        f"({', '.join(NOTE_SUFFIXES)})"
    )
