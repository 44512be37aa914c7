"""Case folders: images plus ``cases.jsonl`` or ``labels.csv`` metadata (schema in the README)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Case, Record
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.retrieval.datasets import metadata_text, read_jsonl, read_text
from pathatlas.retrieval.images import open_image, thumbnail

METADATA_FILES = ("cases.jsonl", "labels.csv")
KNOWN_FIELDS = {"image", "case", "title", "diagnosis", "organ", "description"}
CASE_FIELDS = ("diagnosis", "organ", "title", "description")
"""Fields of a case, not of one of its images: its rows must agree on them (else the first is kept, and said so)."""
LIST_FIELDS = ("organ",)
"""Fields a ``cases.jsonl`` list stays a list in: a case of two organs is found by a filter on either. Elsewhere a
list reads as its items joined by ", "."""
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
"""What a ``labels.csv`` may be separated by: Excel writes ";" where the decimal point is a comma."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif")
"""Raster image files a case may name: the API serves a case image back, and a file named .html or .svg, whatever it
holds, is not one to keep."""
UNLISTED_SHOWN = 5
"""Unlisted images a note names before counting the rest."""

Row = dict[str, Any]
"""A metadata row: field to text (``LIST_FIELDS`` may hold a list of texts)."""


def read_rows(path: Path) -> list[Row]:
    """A case folder's ``cases.jsonl`` or ``labels.csv``: rows with at least ``image``; blank values become absent.

    Values become text (numbers and booleans as JSON writes them; a list as its items joined by ", ", but in
    ``LIST_FIELDS`` a list of them); an object is refused. A CSV may be separated by commas, semicolons or tabs (the
    header line decides); a row with more fields than the header is refused. Backslashes in ``image`` are folder
    separators (a path typed on Windows).
    """
    if path.name.endswith(".jsonl"):
        rows, delimiter = read_jsonl(path), ","
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise BadInputError(f"{path} row {number} is not a JSON object")
    else:
        text = read_text(path)
        delimiter = csv_delimiter(text)
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
            rows = list(reader)
        except csv.Error as exc:
            raise BadInputError(f"{path} is not a CSV file: {exc}") from exc
        header = reader.fieldnames or []
        if rows and "image" not in header:
            found = ", ".join(repr(name) for name in header) or "none"
            raise BadInputError(
                f"{path} has no 'image' column: reading it as separated by {DELIMITERS[delimiter]}s, its columns are "
                f"{found}; name the column of image paths 'image'"
            )
    cleaned = []
    for number, row in enumerate(rows, start=1):
        if None in row:  # csv.DictReader's key for the fields beyond the header
            raise BadInputError(
                f"{path} row {number} has {len(row) - 1 + len(row[None])} fields, the header {len(row) - 1}: "
                f"put values that hold a {DELIMITERS[delimiter]} in double quotes"
            )
        texts = {k: row_value(k, v, f"{path} row {number} field {k!r}") for k, v in row.items()}
        row = {k: v for k, v in texts.items() if v}
        if "image" not in row:
            raise BadInputError(f"{path} row {number} has no 'image' field")
        row["image"] = row["image"].replace("\\", "/")
        cleaned.append(row)
    return cleaned


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV's header line among ``DELIMITERS`` (csv.Sniffer's guess); a comma when it cannot tell
    (a header of one column)."""
    header = text.lstrip("\n").split("\n", 1)[0].rstrip("\r")
    try:
        return csv.Sniffer().sniff(header, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def row_value(field: str, value: Any, where: str) -> str | list[str]:
    """A metadata value as a row keeps it: ``metadata_text``, but a list in ``LIST_FIELDS`` stays a list of its texts
    (one item: that text)."""
    if field not in LIST_FIELDS or not isinstance(value, list):
        return metadata_text(value, where)
    items = list(dict.fromkeys(text for item in value if (text := metadata_text(item, where))))
    return items[0] if len(items) == 1 else items


def group_cases(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows sharing a ``case`` value form one case; a row without one is a case of its own."""
    cases: dict[str, list[Row]] = {}
    for row in rows:
        case_id = row.get("case") or Path(row["image"]).stem
        cases.setdefault(case_id, []).append(row)
    return cases


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
        given = [(row, value) for row in rows if (value := case_value(row, name))]
        if not given:
            continue
        fields[name] = given[0][1]
        firsts = {}  # each distinct value, by the first row giving it
        for row, value in given:
            firsts.setdefault(same(value), (row, value))
        if len(firsts) > 1:
            conflicts.append(f"{name} " + " vs ".join(f"{value!r} ({row['image']})" for row, value in firsts.values()))
    if not conflicts:
        return fields, None
    return fields, (
        f"{where}: the rows of case {case_id!r} disagree: {'; '.join(conflicts)}; kept the first (give different "
        "cases different case ids)"
    )


class CaseFolderSource(Source):
    kind = "cases"
    reads_settings = ("case_keypoints",)  # switched on or off, the images are read again for their keypoints

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_dir() and any((path / name).is_file() for name in METADATA_FILES)

    @property
    def metadata_path(self) -> Path:
        return next(self.path / name for name in METADATA_FILES if (self.path / name).is_file())

    def _rows(self) -> list[Row]:
        return read_rows(self.metadata_path)

    def _image_paths(self, rows: list[Row]) -> list[Path]:
        paths = []
        for row in rows:
            path = (self.path / row["image"]).resolve()
            if not path.is_relative_to(self.path):
                raise BadInputError(f"{self.metadata_path}: image path {row['image']!r} leaves the case folder")
            paths.append(path)
        return paths

    def fingerprint(self) -> str:
        rows = self._rows()
        paths = [self.metadata_path, *(p for p in self._image_paths(rows) if p.is_file())]
        return hash_files(paths, self.reading())

    def size_hint(self) -> int:
        return len(self._rows())

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        rows = self._rows()
        for case_id, case_rows in group_cases(rows).items():
            images = []
            for row, path in zip(case_rows, self._image_paths(case_rows), strict=True):
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    self.problems.append(f"{path}: not an image file ({', '.join(IMAGE_SUFFIXES)})")
                    continue
                try:
                    image = open_image(path, self.settings.max_image_pixels)
                except BadInputError as exc:
                    self.problems.append(str(exc))
                    continue
                images.append((row["image"], thumbnail(image, 1024)))
            if not images:
                continue
            fields, conflict = case_fields(case_id, case_rows, self.metadata_path)
            if conflict:
                self.problems.append(conflict)
            own = {row["image"]: {k: v for k, v in row.items() if k not in KNOWN_FIELDS} for row in case_rows}
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
            )
        self.problems.extend(self._notes(rows))

    def _notes(self, rows: list[Row]) -> list[str]:
        """What the folder holds that was not read: the other metadata file, images no row names (not said of a
        metadata file without rows, which fails the folder as holding none)."""
        notes = []
        metadata = self.metadata_path
        if ignored := [name for name in METADATA_FILES if name != metadata.name and (self.path / name).is_file()]:
            notes.append(f"{self.path}: read {metadata.name} and ignored {ignored[0]} (one metadata file a folder)")
        if not rows:
            return notes
        listed = set(self._image_paths(rows))
        unlisted = sorted(
            path.relative_to(self.path).as_posix() for path in self._image_files() if path.resolve() not in listed
        )
        if unlisted:
            shown = ", ".join(unlisted[:UNLISTED_SHOWN]) + (
                f" (+{len(unlisted) - UNLISTED_SHOWN} more)" if len(unlisted) > UNLISTED_SHOWN else ""
            )
            images = "image" if len(unlisted) == 1 else "images"
            notes.append(f"{self.path}: {len(unlisted)} {images} not listed in {metadata.name}, not indexed: {shown}")
        return notes

    def _image_files(self) -> Iterator[Path]:
        """Image files in the folder and its subfolders, hidden ones (and macOS's ``__MACOSX``) aside."""
        for folder, subfolders, files in os.walk(self.path):
            subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__MACOSX"]
            for name in files:
                if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                    yield Path(folder, name)
