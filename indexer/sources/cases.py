"""Case folders: images plus ``cases.jsonl`` or ``labels.csv`` metadata (schema in the README)."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pathatlas.errors import BadInputError, first_few
from pathatlas.indexer.records import Case, Record
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.fingerprints import hash_files, is_index_folder, may_stop, shown
from pathatlas.retrieval.datasets import (
    MAX_METADATA_LINES,
    METADATA_FILES,
    case_ids,
    misnamed_fields,
    read_case_metadata,
)
from pathatlas.retrieval.images import (
    HEIC_HINT,
    MIN_QUERY_SIDE,
    capped_bytes,
    indexed_view,
    max_image_bytes,
    open_image,
    too_small,
)
from pathatlas.retrieval.records import image_hash
from pathatlas.retrieval.text import plain_text
from pathatlas.settings import Settings

KNOWN_FIELDS = {"image", "case", "title", "diagnosis", "organ", "description"}
CASE_FIELDS = ("diagnosis", "organ", "title", "description")
"""Fields of a case, not of one of its images: its rows must agree on them (else the first is kept, and said so)."""
LIST_FIELDS = ("organ",)
"""Fields that hold a list: a case of two organs is found by a filter on either, given as a ``cases.jsonl`` list or as
text separated by ``LIST_SEPARATORS`` (a ``labels.csv`` cell, a string as the shared atlas stores it). Elsewhere a list
reads as its items joined by ", ", and text stays whole (a diagnosis may hold a comma)."""
LIST_SEPARATORS = re.compile("[,;]")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif")
"""Raster image files a case may name: the API serves a case image back, and a file named .html or .svg, whatever it
holds, is not one to keep."""
HEIC_SUFFIXES = (".heic", ".heif")
"""An iPhone's photos (HEIF), which Pillow does not read: their problem line says how to get JPEGs instead."""
UNLISTED_SHOWN = 5
"""Unlisted images a note names before counting the rest."""
STOP_EVERY_ROWS = 1_000
"""Rows gone through between two ``may_stop`` asks (``StoppableRows``): a few milliseconds of grouping them."""
FIELD_CHARS = 1_000
"""Longest name or value a metadata row may give (a diagnosis, an organ, a stain is a line): each search hit and
``/facets`` carry them whole, so one 10 MB diagnosis made every search answer 20 MB."""
LONG_FIELD_CHARS = {"description": 20_000}
"""Fields that may run longer than ``FIELD_CHARS``: a case's description may be a few pages."""

Row = dict[str, Any]
"""A metadata row: field to text (``LIST_FIELDS`` may hold a list of texts)."""
_KEPT_ROWS: ContextVar[dict[tuple[str, int, int, int], list[Row]] | None] = ContextVar("kept_rows", default=None)
"""The rows ``CaseFolderSource.rows`` read within ``rows_read_once``, by metadata file (path, inode, size, mtime_ns);
None elsewhere."""
KEPT_ROWS_MAX = MAX_METADATA_LINES
"""Most rows ``rows_read_once`` keeps in all (200,000 take 120 MB): as many as one folder may list, so a job keeps no
more than one folder's look may take; a zip of more has its further folders read at each step, as before."""


@contextmanager
def rows_read_once() -> Iterator[None]:
    """Within the block, a case folder's metadata file is read once while it stays as it was (same path, inode, size
    and modification time): a REST job of an uploaded zip would otherwise read each folder's 200,000 rows three times,
    3.5-6 s each (removing the images no row lists, counting its sources, then its look). A thread started in a copy of
    the context (``contextvars.copy_context``) shares them. The rows are shared as read: callers must not change them.
    At most ``KEPT_ROWS_MAX`` rows are kept. Outside a block each look reads the file again (a long-running process
    must see it edited)."""
    token = _KEPT_ROWS.set({})
    try:
        yield
    finally:
        _KEPT_ROWS.reset(token)


def split_list(value: str | list[str]) -> str | list[str]:
    """A ``LIST_FIELDS`` value as a case keeps it: its items split at "," and ";" ("spleen, liver" names two organs),
    trimmed, each once (whatever its case: a filter ignores case) in their order; one item stays text, none is ""."""
    texts = value if isinstance(value, list) else [value]
    items: dict[str, str] = {}
    for text in texts:
        for item in LIST_SEPARATORS.split(text):
            if item := item.strip():
                items.setdefault(item.casefold(), item)
    found = list(items.values())
    return found[0] if len(found) == 1 else found or ""


def split_lists(row: Row) -> Row:
    """``row`` with its ``LIST_FIELDS`` split (``split_list``); one left without items is absent, as blanks are."""
    split = {name: split_list(row[name]) for name in LIST_FIELDS if name in row}
    return {name: split.get(name, value) for name, value in row.items() if split.get(name, value)}


class StoppableRows(list):
    """Rows that any loop over them (``case_ids``, ``by_file``, ``case_fields``) goes through ``STOP_EVERY_ROWS`` at a
    time, asking ``may_stop`` before each group: grouping 200,000 rows into cases takes 1-1.5 s, and a case of that many
    rows as long again, which a job's cancel would otherwise wait out."""

    def __iter__(self) -> Iterator[Row]:
        if len(self) <= STOP_EVERY_ROWS:  # a few milliseconds at most: looped over as a plain list, as quickly
            return super().__iter__()
        return self._in_groups()

    def _in_groups(self) -> Iterator[Row]:
        for start in range(0, len(self), STOP_EVERY_ROWS):
            may_stop()
            yield from self[start : start + STOP_EVERY_ROWS]  # a slice of a list subclass is a plain list


def group_cases(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows sharing a ``case`` value form one case; a row without one is a case of its own (``case_ids``). A look may
    stop while they are grouped, and while a case's rows are gone through (``StoppableRows``)."""
    cases: dict[str, list[Row]] = {}
    rows = StoppableRows(rows)
    for row, case in zip(rows, case_ids(rows), strict=True):
        cases.setdefault(case, StoppableRows()).append(row)
    return cases


def row_labels(row: Row) -> Row:
    """A row's labels (its stain): its fields beyond ``KNOWN_FIELDS``, and ``label`` only where it differs from the
    ``diagnosis`` (``same``): alone or equal to it, it is the diagnosis (``case_value``), which the case's text says
    already ("lung_n. label: lung_n")."""
    diagnosis = row.get("diagnosis", row.get("label"))
    known = KNOWN_FIELDS | {"label"} if same(row.get("label")) == same(diagnosis) else KNOWN_FIELDS
    return {k: v for k, v in row.items() if k not in known}


def case_value(row: Row, name: str) -> Any:
    return row.get("diagnosis") or row.get("label") if name == "diagnosis" else row.get(name)


def same(value: Any) -> Any:
    """What two values of a case field are compared by: case and spacing aside, a list's order aside."""
    if isinstance(value, list):
        return tuple(sorted(same(item) for item in value))
    return " ".join(str(value).split()).casefold()


def case_fields(case_id: str, rows: list[Row], where: Path) -> tuple[dict[str, Any], str | None]:
    """A case's ``CASE_FIELDS``, each from the first of its rows that gives it, and the one-line problem naming the
    values its other rows give instead (None when they agree)."""
    fields, conflicts = {}, []
    for name in CASE_FIELDS:
        firsts = {}  # each distinct value, by the first row giving it
        for row in rows:
            if value := case_value(row, name):
                firsts.setdefault(same(value), (row, value))
        if not firsts:
            continue
        fields[name] = next(iter(firsts.values()))[1]
        if len(firsts) > 1:
            conflicts.append(f"{name} " + " vs ".join(f"{value!r} ({row['image']})" for row, value in firsts.values()))
    if not conflicts:
        return fields, None
    return fields, (
        f"{where}: the rows of case {case_id!r} disagree: {'; '.join(conflicts)}; kept the first (give different "
        "cases different case ids)"
    )


def check_lengths(row: Row, where: Path) -> None:
    """Refuse, in one line naming the row by its image, a field name over ``FIELD_CHARS`` or a value over its limit
    (``LONG_FIELD_CHARS``, else ``FIELD_CHARS``)."""
    image = shown(row["image"][:80])
    for name, value in row.items():
        limit = LONG_FIELD_CHARS.get(name, FIELD_CHARS)
        length = sum(map(len, value)) if isinstance(value, list) else len(value)
        if len(name) > FIELD_CHARS:
            raise BadInputError(
                f"{where}: the row of {image!r} names a field of {len(name):,} characters; at most {FIELD_CHARS:,}"
            )
        if length > limit:
            raise BadInputError(f"{where}: the {name} of {image!r} is {length:,} characters; at most {limit:,}")


def by_file(rows: list[Row], paths: list[Path]) -> dict[Path, list[Row]]:
    """A case's rows by the file each names (``paths``, resolved), in the order listed: "images/a.jpg" and
    "./images/a.jpg" are one file."""
    files: dict[Path, list[Row]] = {}
    for row, path in zip(rows, paths, strict=True):
        files.setdefault(path, StoppableRows()).append(row)
    return files


def listed_again(rows: list[Row], case_id: str) -> str:
    """The problem of a file ``rows`` (two or more) all name: how often, and each other spelling of it."""
    first = rows[0]["image"]
    times = "twice" if len(rows) == 2 else f"{len(rows)} times"
    others = ", ".join(repr(name) for name in dict.fromkeys(row["image"] for row in rows) if name != first)
    return f"{first!r} is listed {times} in case {case_id!r}{f' ({others})' if others else ''}; read once"


class UnreadableImage(BadInputError):
    """A listed image file that is there but cannot be read or decoded now: empty, cut short, damaged or no image (a
    sync client's half-written file or placeholder). Unlike a file deleted, or one its settings leave out (over a
    limit, too small), it keeps the picture the folder's committed version indexed from it (``Case.unread``)."""


def decoder_failed(exc: BadInputError) -> bool:
    """Whether ``open_image`` refused bytes its decoder could not read (its refusal is raised from Pillow's error),
    rather than an image over a limit."""
    return isinstance(exc.__cause__, OSError | SyntaxError | ValueError)


def read_image(path: Path, max_pixels: int) -> tuple[Image.Image, str, int]:
    """A case image decoded (``open_image``), the ``image_hash`` of the very bytes decoded (read once, so a file
    saved again meanwhile never pairs one version's hash with another's vectors) and its pages (``tiff_pages``).
    An image under ``MIN_QUERY_SIDE`` a side is refused: indexed, it would be a flat card matching at random. A file
    there that cannot be read or decoded is ``UnreadableImage``."""
    try:
        data = capped_bytes(path, str(path), max_image_bytes(max_pixels))
    except BadInputError as exc:
        raise BadInputError(f"{exc}: skipped") from exc
    except OSError as exc:
        refusal = BadInputError if isinstance(exc, FileNotFoundError) else UnreadableImage  # deleted: its record goes
        raise refusal(f"cannot read image {path}: {exc.strerror or exc}") from exc
    try:
        image = open_image(data, max_pixels, name=str(path))
    except BadInputError as exc:
        if decoder_failed(exc):
            raise UnreadableImage(str(exc)) from exc
        raise
    if min(image.size) < MIN_QUERY_SIDE:
        raise BadInputError(too_small(str(path), image.width, image.height))
    return image, image_hash(data), tiff_pages(data)


def tiff_pages(data: bytes) -> int:
    """The pages of a TIFF (1 for other images, whose frames are an animation or a phone's preview): ``open_image``
    decodes the first only. One whose later pages Pillow cannot count (a damaged directory: a TypeError) counts 1."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format != "TIFF":
            return 1
        try:
            return image.n_frames
        except (OSError, SyntaxError, TypeError, ValueError):
            return 1


def found_instead(listed: str, found: str) -> str:
    """The problem of a listed file missing where the folder holds it under another name (``_found_elsewhere``), said
    in one line instead of a missing and an unlisted file: named the same but for letter case ("Slide 01.JPG"), which a
    system telling the two apart reads as another name, or moved to another subfolder (a folder's typo fixed on disk
    but not in its rows)."""
    if plain_text(listed).casefold() == plain_text(found).casefold():
        return f"listed {listed!r} not found; found {found!r} (names differ in letter case)"
    return f"listed {listed!r} not found; found {found!r} (moved? its row names its old place)"


def with_suffix(files: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """The ``files`` whose names end in one of ``suffixes``, whatever their letter case, in their order."""
    return [file for file in files if file.name.lower().endswith(suffixes)]


@dataclass(frozen=True)
class FolderLook:
    """A case folder as one look at it found it (``CaseFolderSource.fingerprint``): its rows, the file each listed name
    resolves to (``_image_paths``), the listed files found under another name (``_found_elsewhere``), the notes on
    files it holds unread (``_notes``), and the fingerprint hashing them all, which ``records`` then reads the folder
    by."""

    fingerprint: str
    rows: list[Row]
    paths: dict[str, Path]
    twins: dict[Path, str]
    notes: list[str]


def name_key(path: str) -> str:
    """What a listed file's name and a found one's are matched by (``_found_elsewhere``): the file name whatever its
    folders, letter case and Unicode form."""
    return plain_text(path.rsplit("/", 1)[-1]).casefold()


class CaseFolderSource(Source):
    kind = "cases"
    records_version = 14
    """5: metadata in composed Unicode without control characters; 6: metadata fields in any case; 8: an image's
    labels, its stain, in its case's text; 9: organs given as text separated by "," or ";" a list, so a filter on each
    finds it; 11: images without a case id that share a file name's stem are separate cases named by their path, a label
    that is the diagnosis is not repeated as a label, an image under 32 pixels a side is not indexed; 13: an image over
    2:1 is indexed at the scale a query reads it. Up to 14 the version every built-in reader shared
    (``Source.records_version``): the numbers not named here changed PDFs only."""
    reads_settings = (
        "case_keypoints",  # switched on or off, the images are read again for their keypoints
        "max_image_pixels",  # an image over it is left out: raised, the folder is read again for it
    )

    def __init__(self, path: Path, settings: Settings):
        super().__init__(path, settings)
        self._looked: FolderLook | None = None
        """The folder as ``fingerprint`` last found it, until ``records`` reads it so."""
        self._keeps_unread = False
        """Whether its cases carry their images unreadable now (``Case.unread``): only for a folder indexed before
        (``recall``), whose committed pictures of them the indexer keeps."""

    def recall(self, entry: Mapping[str, Any] | None, page_thumbnails: Mapping[int, str]) -> None:
        """Indexed before (``entry``): its images unreadable now may keep their pictures (``_keeps_unread``)."""
        self._keeps_unread = entry is not None

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_dir() and any((path / name).is_file() for name in METADATA_FILES)

    @property
    def metadata_path(self) -> Path:
        found = next((self.path / name for name in METADATA_FILES if (self.path / name).is_file()), None)
        if found is None:  # deleted since ``accepts``: the folder cannot be read, as a server checking it finds
            raise BadInputError(f"{self.path}: no {' or '.join(METADATA_FILES)} in the case folder any more")
        return found

    def rows(self) -> list[Row]:
        """The metadata file's rows (``_rows``), read once within ``rows_read_once`` while the file is unchanged: the
        images it lists depend on the folder's files too (``spell_as_on_disk``), whose renames meanwhile are met as
        they are by the look (a listed file missing)."""
        kept = _KEPT_ROWS.get()
        if kept is None:
            return self._rows()
        where = self.metadata_path
        found = where.stat()
        key = (str(where), found.st_ino, found.st_size, found.st_mtime_ns)
        if (rows := kept.get(key)) is None:
            rows = self._rows()
            if sum(map(len, kept.values())) + len(rows) <= KEPT_ROWS_MAX:
                kept[key] = rows
        return rows

    def _rows(self) -> list[Row]:
        """The metadata file's rows, each within ``FIELD_CHARS`` (``check_lengths``), lists split; a look may stop
        between the lines and rows read and between them here (``may_stop``)."""
        where = self.metadata_path  # found once: each look-up asks the disk, twice a row for 200,000 rows
        rows = []
        for row in read_case_metadata(where, LIST_FIELDS, may_stop):
            may_stop()
            check_lengths(row, where)
            rows.append(split_lists(row))
        return rows

    def _image_paths(self, rows: list[Row]) -> dict[str, Path]:
        """The file inside the folder each image name of ``rows`` resolves to, in the order listed, each name resolved
        once (a file listed a million times would cost a million look-ups, four times over); every row whose path leaves
        it is named in one refusal, so a folder with several such rows is fixed in one run, not one run a row. Seconds
        for 200,000 names: a look may stop between them, and ``records`` looks its cases' files up in what the look
        found (resolved again case by case, they would take as long again)."""
        resolved = {}
        for name in dict.fromkeys(row["image"] for row in rows):
            may_stop()
            resolved[name] = (self.path / name).resolve()
        if leaving := [self._leaving(name) for name, path in resolved.items() if not self.holds(path)]:
            paths_leave = "image path leaves" if len(leaving) == 1 else f"{len(leaving)} image paths leave"
            raise BadInputError(
                f"{self.metadata_path}: {paths_leave} the case folder: {first_few(leaving, UNLISTED_SHOWN)}"
            )
        return resolved

    def _leaving(self, name: str) -> str:
        """A listed image path that leaves the folder, as its refusal names it: one whose name stays inside
        ("scans/a.jpg") leaves through a link (to a file, or to a folder on another disk), which it says, as the name
        alone would read as inside. The link's target stays unsaid: an upload's problems name no server path."""
        through_link = self.holds(Path(os.path.normpath(self.path / name)))
        return f"{name!r} (a link out of it)" if through_link else repr(name)

    def holds(self, path: Path) -> bool:
        return path.is_relative_to(self.path)

    def fingerprint(self) -> str:
        """The metadata file and the listed images (by their size those ``records`` leaves unread, ``_unread``, as
        their problem names it: a 5 GB slide over the byte cap would be read whole at each look, 35 s, only to be
        skipped), and what the problems say of files the folder holds unread (``_found_elsewhere``, ``_notes``): a slide
        dropped in without its row, a PDF, or a file moved from where its row says changes the folder, so the next
        ``index`` reads it again and says so instead of finding it unchanged with the problems of before. A folder
        without such files keeps the fingerprint that versions not counting them gave it; its other files (a whole-slide
        .svs beside its images) cost no read, nor a change.

        The look it took (``FolderLook``) is kept for ``records``: an ``index`` run walks the folder and hashes its
        images once, not once for the fingerprint and again for the records (lc25000's 900 tiles: 3.2 s with the hashing
        encoder, against 4.3 s looking twice)."""
        self._looked = self._look()
        return self._looked.fingerprint

    def _look(self) -> FolderLook:
        """The folder looked at once: its rows read, its listed images hashed, its files walked (``_walk``), each
        listed file resolved once for all three. A large folder takes minutes (200,000 rows: seconds a step; its
        images: minutes to hash), so a run stopped meanwhile (``may_stop``) stops at the next row, name, file,
        megabyte or step."""
        rows = self.rows()
        paths = self._image_paths(rows)
        listed = list(dict.fromkeys(paths.values()))  # a file listed again is hashed once: it is read once
        sizes = self._sizes(listed)
        unread_sizes = {path: size for path, size in sizes.items() if self._unread(path, size)}
        hashed = [self.metadata_path, *(path for path in sizes if path not in unread_sizes)]
        read = hash_files(hashed, self.reading(), self.records_version)
        files = self._walk()
        may_stop()
        twins = self._found_elsewhere(listed, files)
        may_stop()
        notes = [*misnamed_fields(self.metadata_path, rows), *self._notes(listed, twins, files)]
        unread = [
            *(f"{path}\0{found}" for path, found in sorted(twins.items())),
            *(f"{path}\0{size} bytes" for path, size in unread_sizes.items()),
            *notes,
        ]
        if unread:
            read = hashlib.blake2b("\0".join([read, *unread]).encode(), digest_size=16).hexdigest()
        return FolderLook(read, rows, paths, twins, notes)

    def held(self) -> Iterator[tuple[Path, bool]]:
        """What the folder's records are made of (``content_hash``): its metadata file and the files its rows list,
        those ``records`` leaves unread (``_unread``) by their size; not its other files: a 5 GB slide beside its images
        would be read whole at each look (30 s), and adding or removing one would change the folder."""
        yield self.metadata_path, True
        for path, size in self._sizes(list(self._image_paths(self.rows()).values())).items():
            yield path, not self._unread(path, size)

    def _sizes(self, listed: list[Path]) -> dict[Path, int]:
        """The sizes of the files of ``listed`` (resolved) that are on disk, each once, in order."""
        return {path: path.stat().st_size for path in dict.fromkeys(listed) if path.is_file()}

    def _unread(self, path: Path, size: int) -> bool:
        """Whether ``records`` leaves a listed file of ``size`` bytes unread (``_read``): not an image by its name, or
        over the byte cap (``max_image_bytes``). Its bytes then change nothing indexed."""
        over_cap = size > max_image_bytes(self.settings.max_image_pixels)
        return path.suffix.lower() not in IMAGE_SUFFIXES or over_cap

    def size_hint(self) -> int:
        return len(self._looked.rows if self._looked else self.rows())

    def records(self) -> Iterator[Record]:
        """The cases of the folder as ``fingerprint`` last found it (a look of its own where it was not asked): the
        records carry that fingerprint, which ``index`` compares them with. A file changed meanwhile is read as it is
        now, and the manifest's ``stat``, taken before, tells the next run to read it again. The metadata file is found
        once (each look-up asks the disk: 8% of the CPU time of 20,000 cases of one small image each)."""
        look, self._looked = self._looked or self._look(), None
        fingerprint, rows, twins, where = look.fingerprint, look.rows, look.twins, self.metadata_path
        for case_id, case_rows in group_cases(rows).items():
            files = by_file(case_rows, [look.paths[row["image"]] for row in case_rows])
            images, hashes, unread = self._case_images(case_id, files, twins, where)
            if not images and not unread:
                continue
            fields, conflict = case_fields(case_id, case_rows, where)
            if conflict:
                self.problems.append(conflict)
            own = {  # a file listed twice is read once, with its first row's labels (as its case fields)
                row["image"]: row_labels(row) for row, *_ in files.values()
            }
            labels = {k: v for image_labels in reversed(own.values()) for k, v in image_labels.items()}  # first wins
            yield Case(
                source=self.key,
                fingerprint=fingerprint,
                case_id=case_id,
                images=images,
                title=fields.get("title", ""),
                description=fields.get("description", ""),
                diagnosis=fields.get("diagnosis"),
                organ=fields.get("organ"),
                labels=labels,
                image_labels=own,
                image_hashes=hashes,
                unread=unread,
            )
        self.problems.extend(look.notes)

    def _case_images(
        self, case_id: str, files: dict[Path, list[Row]], twins: dict[Path, str], where: Path
    ) -> tuple[list[tuple[str, Image.Image]], dict[str, str], list[str]]:
        """A case's images (``files``: its rows by file), each by its first row (its entries' ids would be the same):
        those decoded, their hashes, and those unreadable now (``UnreadableImage``) where it keeps them
        (``_keeps_unread``), by their names as listed; ``problems`` say what was left out, and why each unreadable one
        was not read."""
        images, hashes, unread = [], {}, []
        for path, listed in files.items():
            name = listed[0]["image"]
            if len(listed) > 1:
                self.problems.append(f"{where}: {listed_again(listed, case_id)}")
            if path in twins:
                self.problems.append(f"{where}: {found_instead(name, twins[path])}")
                continue
            try:
                read = self._read(path)
            except UnreadableImage as exc:
                self.problems.append(str(exc))
                if self._keeps_unread:
                    unread.append(name)
                continue
            if read:
                image, hashes[name] = read
                images.append((name, indexed_view(image, 1024)))
        return images, hashes, unread

    def _read(self, path: Path) -> tuple[Image.Image, str] | None:
        """A listed image decoded and its hash (``read_image``), or None where it cannot be indexed; either way
        ``problems`` say what was left out (a multi-page TIFF's pages after the first). One there but unreadable now
        raises ``UnreadableImage``, for its case to keep it as indexed before."""
        if path.suffix.lower() in HEIC_SUFFIXES:
            self.problems.append(f"{path}: {HEIC_HINT}")
            return None
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            self.problems.append(f"{path}: not an image file ({', '.join(IMAGE_SUFFIXES)})")
            return None
        try:
            image, digest, pages = read_image(path, self.settings.max_image_pixels)
        except UnreadableImage:
            raise
        except BadInputError as exc:
            self.problems.append(str(exc))
            return None
        if pages > 1:
            self.problems.append(
                f"{path}: only page 1 of {pages} was indexed (a multi-page TIFF; save its pages as images)"
            )
        return image, digest

    def _found_elsewhere(self, listed: list[Path], walked: list[Path]) -> dict[Path, str]:
        """Listed files (``listed``: resolved, each once, as ``_look`` found them) that are missing to the image of the
        folder (of its ``walked`` files) that is the file under another name, as the folder spells it
        (``found_instead``): named the same but for letter case (``_letter_case_twins``), else moved (``_moved``)."""
        missing = [path for path in listed if not path.exists()]
        if not missing:
            return {}
        files = {file.resolve(): file.relative_to(self.path).as_posix() for file in with_suffix(walked, IMAGE_SUFFIXES)}
        twins = self._letter_case_twins(missing, files)
        claimed = {*listed, *((self.path / relative).resolve() for relative in twins.values())}
        unlisted = [relative for path, relative in files.items() if path not in claimed]
        return {**twins, **self._moved([path for path in missing if path not in twins], unlisted)}

    def _letter_case_twins(self, missing: list[Path], files: dict[Path, str]) -> dict[Path, str]:
        """Missing listed files to the folder's file (of ``files``, by resolved path) named the same but for case."""
        spelled = {plain_text(path.relative_to(self.path).as_posix()).casefold(): path for path in missing}
        twins = {}
        for relative in files.values():
            if (listed := spelled.get(plain_text(relative).casefold())) is not None:
                twins.setdefault(listed, relative)
        return twins

    def _moved(self, missing: list[Path], unlisted: list[str]) -> dict[Path, str]:
        """Missing listed files to the one image no row names (of ``unlisted``) with the same file name, where no
        other missing file has that name: a case moved into a subfolder, or its folder renamed, and its rows left as
        they were. Files named alike in many folders ("HE.jpg") are matched to none."""
        names = Counter(name_key(path.name) for path in missing)
        found: dict[str, list[str]] = {}
        for relative in unlisted:
            found.setdefault(name_key(relative), []).append(relative)
        return {
            path: found[name][0]
            for path in missing
            if names[name := name_key(path.name)] == 1 and len(found.get(name, [])) == 1
        }

    def _notes(self, listed: list[Path], twins: dict[Path, str], files: list[Path]) -> list[str]:
        """What the folder holds (its walked ``files``) that was not read: the other metadata file, case folders inside
        it (``_nested``), PDFs (a case folder is read as cases only; an upload's zip says so too), images no row names
        (``listed``: the files its rows name, resolved; not said of a metadata file without rows, which fails the
        folder as holding none; nor of a listed file's ``twins``, whose problem names them; nor of a case folder inside
        it, whose note covers its images)."""
        notes = []
        metadata = self.metadata_path
        if ignored := [name for name in METADATA_FILES if name != metadata.name and (self.path / name).is_file()]:
            notes.append(f"{self.path}: read {metadata.name} and ignored {ignored[0]} (one metadata file a folder)")
        if nested := self._nested(files):
            one = "a case folder inside a case folder is not read with it; index it on its own"
            many = "case folders inside a case folder are not read with it; index each on its own"
            said = one if len(nested) == 1 else many
            notes.append(f"{self.path}: {first_few(self._relative(nested), UNLISTED_SHOWN)}: {said}")
        if pdfs := sorted(self._relative(with_suffix(files, (".pdf",)))):
            one = "a PDF inside a case folder is not indexed; index it on its own"
            said = one if len(pdfs) == 1 else "PDFs inside a case folder are not indexed; index each on its own"
            notes.append(f"{self.path}: {first_few(pdfs, UNLISTED_SHOWN)}: {said}")
        if not listed:
            return notes
        named = {*listed, *((self.path / twin).resolve() for twin in twins.values())}
        own = [path for path in with_suffix(files, IMAGE_SUFFIXES) if not any(path.is_relative_to(n) for n in nested)]
        unlisted = sorted(self._relative(path for path in own if path.resolve() not in named))
        if unlisted:
            images = "image" if len(unlisted) == 1 else "images"
            notes.append(
                f"{self.path}: {len(unlisted)} {images} not listed in {metadata.name}, not indexed: "
                f"{first_few(unlisted, UNLISTED_SHOWN)}"
            )
        return notes

    def _nested(self, files: list[Path]) -> list[Path]:
        """Subfolders holding a metadata file (``week5/labels.csv``) among the folder's ``files``: case folders of their
        own, which ``index`` reads only when given one, never with this folder (whose rows may still name their
        images)."""
        found = {path.parent for path in with_suffix(files, METADATA_FILES) if path.name in METADATA_FILES}
        return sorted(found - {self.path})

    def _walk(self) -> list[Path]:
        """The files in the folder and its subfolders, hidden ones (and macOS's ``__MACOSX``) aside: walked once a look
        (``_look``), as the notes and the search for moved files each need them. An index folder inside it
        (``is_index_folder``) is passed by whole: its thumbnails, listed as images no row names, would change the folder
        at each run that wrote them, so it would never read as unchanged."""
        found = []
        for folder, subfolders, files in os.walk(self.path):
            if is_index_folder(Path(folder), files, self.path):
                subfolders.clear()
                continue
            subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__MACOSX"]
            found += [Path(folder, name) for name in files if not name.startswith(".")]
        return found

    def _relative(self, paths: Iterable[Path]) -> list[str]:
        """Files of the folder as a note names them: inside it, "/" between folders, printable."""
        return [shown(path.relative_to(self.path).as_posix()) for path in paths]
