"""Readers for the shared benchmark formats (MCQ JSONL, figures JSONL, case folders)."""

from __future__ import annotations

import csv
import itertools
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.text import plain_text
from pathatlas.settings import Settings

LETTERS = "ABCDEFGHIJ"
"""Answer letters, in option order."""

METADATA_FILES = ("cases.jsonl", "labels.csv")
"""The files a case folder is read by, in the order one is chosen where it holds both."""


def read_text(path: Path) -> str:
    """A dataset file's text: UTF-8, with or without the byte order mark Excel's "CSV UTF-8" writes. A file saved in
    another encoding (Excel's plain CSV on Windows) is refused in one line rather than read as the wrong letters."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        excel = " (in Excel: CSV UTF-8)" if path.suffix.lower() == ".csv" else ""
        raise BadInputError(
            f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); save it as UTF-8"
            + excel
        ) from exc


def check_file(path: Path, kind: str) -> None:
    """Refuse in one line a dataset path that is a folder or no file (``kind``: what the file holds), which reading
    it would end in a traceback."""
    if path.is_dir():
        raise BadInputError(f"{path} is a folder; give a dataset file ({kind})")
    if not path.is_file():
        raise BadInputError(f"no such dataset file: {path}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """A JSONL file's rows; a folder, a missing file (``check_file``) or a line that is not JSON is refused in one
    line, the line naming where it breaks (json's message alone stops mid-sentence: "Unterminated string starting
    at")."""
    check_file(path, "JSONL, one JSON object per line")
    lines = enumerate(read_text(path).splitlines(), start=1)
    return [json_line(line, path, number) for number, line in lines if line.strip()]


def json_line(line: str, path: Path, number: int) -> Any:
    """One JSONL line's value, or a one-line refusal naming the file and line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        reason = exc.msg.removesuffix(" at")
        raise BadInputError(f"{path} line {number} is not JSON: {reason} at column {exc.colno}") from exc
    except RecursionError as exc:  # json's decoder recurses once a bracket: "[[[[..." thousands deep
        raise BadInputError(f"{path} line {number} is not JSON: nested too deeply") from exc


METADATA_LINE_CHARS = csv.field_size_limit()
"""Longest line of a case folder's metadata file (131,072 characters, with its line end): what Python's csv module
allows a ``labels.csv`` field, given to every line, so that a ``cases.jsonl`` line without end is not read whole."""
MAX_METADATA_LINES = 1_000_000
"""Most lines a case folder's metadata file may have: a line lists an image, and the largest public histology sets
(PCam's 327,680 patches, LC25000's 25,000 tiles) fit several times over; 1,000,000 rows read as dicts already take
about a gigabyte, so a file of more is refused before its rows are read, not after memory runs out. Fixed, not
``max_zip_members``-bound: a local folder is not an upload."""


StopCheck = Callable[[], None]
"""What a long read calls between its lines and rows (``read_case_metadata``): a caller's stop check, which raises to
stop it (``indexer.sources.fingerprints.may_stop``, given by the indexer and the REST jobs); by default nothing."""


def go_on() -> None:
    """The stop check of a read nothing may stop."""


def metadata_lines(path: Path, between_lines: StopCheck = go_on) -> Iterator[str]:
    """A case folder's metadata file line by line (line ends kept, for csv), each within ``METADATA_LINE_CHARS``
    and at most ``MAX_METADATA_LINES`` of them, each excess refused in one line naming the file and the line where it
    is found, before what follows is read; ``between_lines`` is called before each line is read.

    Each line is decoded on its own (``metadata_line``), so a byte that is not UTF-8 is refused naming its own line: a
    UTF-8 text reader decodes blocks ahead, and would name the line it has reached (line 1 for line 3). Read as Latin-1,
    whose characters are the file's bytes one for one, the lines still end where a text reader ends them (``\\n``,
    ``\\r\\n``, or an old Mac's ``\\r``)."""
    check_file(path, "a case folder's metadata file")
    with path.open(encoding="latin-1", newline="") as file:
        for number in itertools.count(1):
            between_lines()
            raw = file.readline(UTF8_MAX_BYTES * (METADATA_LINE_CHARS + 1))
            if not raw:
                return
            if number > MAX_METADATA_LINES:
                raise BadInputError(
                    f"{path} has over {MAX_METADATA_LINES:,} lines, more than a case folder lists: split it into "
                    "several case folders"
                )
            yield metadata_line(raw, path, number)


UTF8_MAX_BYTES = 4
"""Most bytes a character takes in UTF-8."""


def metadata_line(raw: str, path: Path, number: int) -> str:
    """Line ``number`` of a metadata file read as Latin-1 (``metadata_lines``): the UTF-8 text its bytes are, the first
    without its byte order mark (Excel's "CSV UTF-8"), refused in one line naming the line where it is not UTF-8 or is
    over ``METADATA_LINE_CHARS`` characters. Over ``UTF8_MAX_BYTES`` bytes a character allowed, it is over whatever it
    holds, and is refused undecoded (its read may end inside a character)."""
    if len(raw) <= UTF8_MAX_BYTES * METADATA_LINE_CHARS:
        data = raw.encode("latin-1")
        try:
            line = data.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            excel = " (in Excel: CSV UTF-8)" if path.suffix.lower() == ".csv" else ""
            raise BadInputError(
                f"{path} is not UTF-8 text (line {number}, byte {exc.object[exc.start]:#04x}); save it as UTF-8{excel}"
            ) from exc
        if len(line) <= METADATA_LINE_CHARS:
            return line
    raise BadInputError(
        f"{path} line {number} is over {METADATA_LINE_CHARS:,} characters long; a row lists one image and its labels"
    )


@dataclass
class MCQ:
    id: str
    question: str
    options: list[str]
    answer: str | None = None
    image: Path | None = None
    gold: dict[str, Any] = field(default_factory=dict)
    chapter: str | None = None

    @property
    def gold_pages(self) -> set[int]:
        pages = self.gold.get("pdf_pages")
        return set(range(pages[0], pages[-1] + 1)) if pages else set()

    @property
    def book(self) -> str | None:
        """The book the gold pages are pages of (``gold.book``); None: any indexed PDF's pages count."""
        return self.gold.get("book") or None

    def search_text(self) -> str:
        return " ".join([self.question, *self.options])


def read_options(value: Any) -> list[str]:
    """A dataset row's ``options`` as a list of texts: a list as given, or an object keyed by letters
    (``{"A": ..., "B": ...}``, as MedQA writes them) in letter order. Listed as is, such an object would give its keys:
    every question would become "A, B or C?" and score as if answered at random. An option written as a JSON number
    ("How many bones?" [206, 212]) is its text; anything else that is no text is refused."""
    if not value:
        return []
    if isinstance(value, dict):
        letters = {str(key).strip().upper(): option for key, option in value.items()}
        if len(letters) != len(value) or sorted(letters) != list(LETTERS[: len(letters)]):  # "a" and "A": one dropped
            raise BadInputError(f"options keyed {', '.join(map(str, value))}: key them A, B, C... or give a list")
        value = [letters[letter] for letter in sorted(letters)]
    if not isinstance(value, list | tuple):  # a string would be listed as its characters
        raise BadInputError(f"options must be a list of texts, not {value!r}")
    return [option_text(option) for option in value]


def option_text(option: Any) -> str:
    """One option as text: a number as written in the file ("206", "7.4"), a text as given."""
    if isinstance(option, int | float) and not isinstance(option, bool):
        return str(option)
    if not isinstance(option, str):
        raise BadInputError(f"an option must be text, not {option!r}")
    return option


def read_questions(path: Path) -> list[dict[str, Any]]:
    """A question file's rows (``read_jsonl``); a CSV is refused saying question files are JSONL, which its first
    line not being JSON would leave the user to guess."""
    if path.suffix.lower() in (".csv", ".tsv"):
        raise BadInputError(f"{path}: question files are JSONL (one JSON object per line)")
    return read_jsonl(path)


def read_mcq(path: Path) -> list[MCQ]:
    items = []
    for number, row in enumerate(read_questions(path), start=1):
        if not isinstance(row, dict):
            raise BadInputError(f"{path} row {number} is not a JSON object")
        gold = row.get("gold") or {}
        check_gold(gold, f"{path} row {number}")
        image = row.get("image")
        try:
            options = read_options(row.get("options"))
        except BadInputError as exc:  # named by file and row, as a bad gold is
            raise BadInputError(f"{path} row {number}: {exc}") from None
        items.append(
            MCQ(
                id=str(row.get("id", len(items))),
                question=row.get("question") or "",
                options=options,
                answer=row.get("answer"),
                image=(path.parent / image) if image else None,
                gold=gold,
                chapter=row.get("chapter"),
            )
        )
    return items


def check_gold(gold: Any, where: str) -> None:
    """A row's ``gold``: an object whose ``pdf_pages``, if given, is [first, last] (or [page]) of 1-based page
    numbers in order, and whose ``book``, if given, is a name. Refused in one line, since a reversed range would
    otherwise score as a question nothing can find."""
    if not isinstance(gold, dict):
        raise BadInputError(f"{where}: 'gold' is not a JSON object")
    pages = gold.get("pdf_pages")
    if pages and not (
        isinstance(pages, list)
        and len(pages) in (1, 2)
        and all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in pages)
        and pages[0] <= pages[-1]
    ):
        raise BadInputError(f"{where}: gold pdf_pages {pages!r} is not [first, last] with 1 <= first <= last")
    if not isinstance(gold.get("book") or "", str):
        raise BadInputError(f"{where}: gold book {gold['book']!r} is not a name")


def plain_name(text: str) -> str:
    """A name as books are matched: case, spaces and punctuation ignored ("OpenStax AP2e" == "openstax_ap2e")."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def holds_book(source: str, book: str) -> bool:
    """Is ``source`` (an index key or a file name) the book or notes a question's ``gold.book`` names? The name may
    be the file's, as citations show it ("amyloidosis.md"), its stem, or its folder's: the shared data keeps
    ``openstax_ap2e/book.pdf`` under the name openstax_ap2e."""
    path = Path(source)
    return plain_name(book) in {plain_name(path.name), plain_name(path.stem), plain_name(path.parent.name)} - {""}


def check_books(books: set[str], sources: list[str], where: Path) -> None:
    """Refuse questions citing a book no indexed source holds: their gold pages could never be found, and scoring
    them zero would read as bad retrieval rather than the wrong index."""
    missing = sorted(b for b in books if not any(holds_book(s, b) for s in sources))
    if missing:
        held = ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "") or "none"
        raise BadInputError(f"{where} cites book {missing[0]!r}, which the index does not hold (its sources: {held})")


VALIDATION_SHARE = 0.2


def is_validation(group: str, share: float = VALIDATION_SHARE) -> bool:
    """A fixed, seed-free split by group (textbook module, atlas case, tile): same answer on every machine."""
    import hashlib

    return int(hashlib.sha1(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


@dataclass
class ImageItem:
    """An image with what describes it: the unit of the image benchmarks and of joint-model training."""

    path: Path
    texts: list[str]
    """Descriptions that should retrieve this image (caption, alt text, diagnosis...)."""
    group: str
    """Items of one group are split together and count as the same case in image-to-image search."""
    label: str | None = None
    """Same-label items count as relevant in same-diagnosis precision."""
    page: int | None = None
    tile: bool = False
    """No case of its own (a case folder's row without ``case``, as LC25000's tiles): the image benchmark groups it
    with its turned and mirrored copies (``near_duplicate_groups``) as one case is grouped."""


def read_figures(path: Path, context: bool = False) -> list[ImageItem]:
    """A figures JSONL (shared OpenStax format); groups are modules, so a module is never split.

    ``texts`` are "title: caption" (the benchmark's query) and the alt text; with ``context``, also the
    sentences of the module text (``modules.jsonl`` beside the file) that cite the figure by its label.
    """
    rows = read_jsonl(path)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("image"):
            raise BadInputError(f"{path} row {number} has no 'image' field: is it a figures JSONL?")
    citing = figure_citations(path.parent / "modules.jsonl", rows) if context else {}
    items = []
    for row in rows:
        title_caption = f"{row.get('title') or ''}: {row.get('caption') or ''}".strip(": ")
        texts = [t for t in (title_caption, row.get("alt")) if t]
        if texts:
            texts += citing.get(row.get("figure_id"), [])
            group = row.get("module") or row.get("figure_id") or row["image"]
            items.append(ImageItem(path.parent / row["image"], texts, group, page=row.get("pdf_page")))
    return items


def check_images(items: list[ImageItem], path: Path) -> None:
    """Refuse a benchmark file with no usable rows or with image files that are not there, in one line before any
    image is encoded (a missing file otherwise ends the run with a traceback half-way)."""
    if not items:
        raise BadInputError(f"{path} has no images to benchmark (rows with an image and what describes it)")
    missing = [item.path for item in items if not item.path.is_file()]
    if missing:
        raise BadInputError(f"{path}: {len(missing)} of its {len(items)} images are missing, e.g. {missing[0]}")


def figure_citations(modules: Path, figures: list[dict[str, Any]], limit: int = 3) -> dict[str, list[str]]:
    """Figure id to up to ``limit`` sentences of its module that cite its label ("... (Figure 1.2)")."""
    if not modules.is_file():
        return {}
    texts = {row["module"]: row.get("text") or "" for row in read_jsonl(modules)}
    out: dict[str, list[str]] = {}
    for row in figures:
        label = row.get("label")
        if not label or not row.get("figure_id"):
            continue
        pattern = re.compile(rf"{re.escape(label)}(?![0-9])")
        sentences = re.split(r"(?<=[.!?])\s+|\n", texts.get(row.get("module"), ""))
        cited = [s.strip() for s in sentences if pattern.search(s) and not s.startswith(f"{label}.")]
        out[row["figure_id"]] = [s for s in cited if len(s.split()) >= 5][:limit]
    return out


DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
"""What a ``labels.csv`` may be separated by: Excel writes ";" where the decimal point is a comma."""
FIELDS = ("image", "case", "title", "description", "diagnosis", "label", "organ")
"""The fields a case folder's metadata names (README), read whatever their case: a spreadsheet's header says "Image"."""


def field_name(name: str) -> str:
    """A metadata column's name as read: one of ``FIELDS`` whatever its case and surrounding spaces ("Image",
    "Diagnosis "), any other as its author spelled it (a label's own name, "Stain")."""
    name = plain_text(name).strip()
    return name.casefold() if name.casefold() in FIELDS else name


def misnamed_fields(path: Path, rows: list[dict[str, Any]]) -> list[str]:
    """A note for each field of ``rows`` (``read_case_metadata``'s, of the file ``path``) kept as a label whose name
    is a variant of a field the file lacks (``meant_field``): a "Case ID" column makes each image a case of its own, and
    "Organs" an organ no filter finds, which nothing else says. A label of its own ("Stain", "Grade") says nothing."""
    names = dict.fromkeys(name for row in rows for name in row)
    lacking = [name for name in FIELDS if name not in names]
    kind = "field" if path.name.endswith(".jsonl") else "column"
    meant = {name: meant_field(name, lacking) for name in names if name not in FIELDS}
    return [
        f"{path}: {kind} {name!r} kept as a label; did you mean {field!r}?" for name, field in meant.items() if field
    ]


TYPO_MIN_CHARS = 6
"""Shortest folded field name (``folded_name``) a name one letter off is taken as a variant of ("Diagnose" of
"diagnosis"): shorter ones are one letter off labels of their own ("Cause" and "case", "Tile" and "title")."""


def meant_field(name: str, fields: Sequence[str]) -> str | None:
    """The first of ``fields`` that ``name`` is a variant of: the same once both are folded (``folded_name``), or one
    letter off a folded name of at least ``TYPO_MIN_CHARS``."""
    wanted = folded_name(name)
    return next((field for field in fields if is_variant(wanted, folded_name(field))), None)


def folded_name(name: str) -> str:
    """A field name without what its variants add: letter case, spaces, "_" and "-", a plural's "s" and an "id"
    ("Case IDs", "case_id": "case")."""
    return re.sub(r"[\s_-]+", "", name.casefold()).removesuffix("s").removesuffix("id")


def is_variant(folded: str, field: str) -> bool:
    """Is the folded name ``folded`` the folded field name ``field``, or one letter off it where that is long?"""
    return folded == field or (len(field) >= TYPO_MIN_CHARS and one_edit_apart(folded, field))


def one_edit_apart(a: str, b: str) -> bool:
    """Does changing, adding or dropping at most one character make ``a`` into ``b``?"""
    short, long = sorted((a, b), key=len)
    if len(long) - len(short) > 1:
        return False
    first = len(os.path.commonprefix([short, long]))  # where they first differ
    return short[first + (len(short) == len(long)) :] == long[first + 1 :]


def read_case_metadata(
    path: Path, list_fields: tuple[str, ...] = (), between_rows: StopCheck = go_on
) -> list[dict[str, Any]]:
    """A case folder's ``cases.jsonl`` or ``labels.csv``: rows with at least ``image``; blank values become absent.

    Values become text (numbers and booleans as JSON writes them; a list as its items joined by ", ", but in
    ``list_fields`` a list of them: a case folder keeps a case's organs apart); an object is refused. A CSV may be
    separated by commas, semicolons or tabs (the header line decides); a row with more fields than the header is
    refused. The schema's field names (``FIELDS``) are read whatever their case (``field_name``); a row
    without any value (a spreadsheet's blank row) is skipped. Backslashes in ``image`` are folder separators (a path
    typed on Windows). The indexer and the benchmarks read a folder through this one function.

    200,000 rows take seconds to parse, clean and find on disk: ``between_rows`` is called between the lines read,
    the rows cleaned and the files looked for, so that a caller's stop check (raising) stops the read there rather
    than once it is whole (a REST job's cancel would otherwise wait for each read of a folder, 3.5-6 s each).

    A refusal names the file line a row starts on, the header being line 1: "row 1", the first after the header, would
    be a spreadsheet's row 2, and a count of rows drifts from the lines at each blank line.
    """
    rows = jsonl_rows(path, between_rows) if path.name.endswith(".jsonl") else csv_rows(path, between_rows)
    cleaned = []
    for number, row in rows:
        between_rows()
        texts: dict[str, Any] = {}
        spelled: dict[str, str] = {}  # each field's name as the row writes it
        for key, value in row.items():
            name = field_name(key)
            if name in texts:
                raise BadInputError(
                    f"{path} line {number}: {spelled[name]!r} and {key!r} are the same field; keep one of them"
                )
            spelled[name] = key
            texts[name] = row_value(value, f"{path} line {number} field {key!r}", name in list_fields)
        row = {k: v for k, v in texts.items() if v}
        if not row:  # a blank row: Excel saves a spreadsheet's empty rows as bare separators (";;;")
            continue
        if "image" not in row:
            raise BadInputError(f"{path} line {number} has no 'image' field")
        row["image"] = row["image"].replace("\\", "/")
        cleaned.append(row)
    spell_as_on_disk(path.parent, cleaned, between_rows)
    return cleaned


def jsonl_rows(path: Path, between_lines: StopCheck = go_on) -> list[tuple[int, dict[str, Any]]]:
    """A ``cases.jsonl``'s objects, each with its file line (blank lines skipped); a line holding anything else is
    refused."""
    lines = enumerate(metadata_lines(path, between_lines), start=1)
    rows = [(number, json_line(line, path, number)) for number, line in lines if line.strip()]
    for number, row in rows:
        if not isinstance(row, dict):
            raise BadInputError(f"{path} line {number} is not a JSON object")
    return rows


def csv_rows(path: Path, between_lines: StopCheck = go_on) -> list[tuple[int, dict[str, str | None]]]:
    """A ``labels.csv``'s rows, each a dict of the header's names (None for a field the row lacks, as
    ``csv.DictReader`` gives) with the file line it starts on (``numbered_records``). Refused in one line: a file
    without an ``image`` column, naming the columns read; a row with more fields than the header; a value over csv's
    field cap (quoted, over several lines), naming the line where it is."""
    lines = metadata_lines(path, between_lines)
    leading = []  # up to the header's line, read again by the reader (csv_delimiter skips blank ones)
    for line in lines:
        leading.append(line)
        if line.strip("\r\n"):
            break
    delimiter = csv_delimiter("".join(leading))
    reader = csv.reader(itertools.chain(leading, lines), delimiter=delimiter)
    try:
        header = next(reader, [])
        records = list(numbered_records(reader))
    except csv.Error as exc:
        raise BadInputError(f"{path} is not a CSV file (line {reader.line_num}): {exc}") from exc
    if records and "image" not in map(field_name, header):
        found = ", ".join(repr(name) for name in header) or "none"
        raise BadInputError(
            f"{path} has no 'image' column: reading it as separated by {DELIMITERS[delimiter]}s, its columns are "
            f"{found}; name the column of image paths 'image'"
        )
    for number, fields in records:
        if len(fields) > len(header):
            raise BadInputError(
                f"{path} line {number} has {len(fields)} fields, the header {len(header)}: put values that hold a "
                f"{DELIMITERS[delimiter]} in double quotes"
            )
    return [(number, dict(itertools.zip_longest(header, fields))) for number, fields in records]


def numbered_records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """A ``csv.reader``'s records but blank lines, each with the line it starts on: a quoted value may span lines."""
    start = reader.line_num + 1
    for fields in reader:
        if fields:
            yield start, fields
        start = reader.line_num + 1


def as_on_disk(path: Path) -> Path:
    """``path``, or the file or folder beside it whose name differs from it only as ``spell_as_on_disk`` allows (a
    name typed on any keyboard is composed, macOS writes names decomposed)."""
    if path.exists() or not path.parent.is_dir():
        return path
    wanted = plain_text(path.name)
    return next((found for found in path.parent.iterdir() if plain_text(found.name) == wanted), path)


def spell_as_on_disk(folder: Path, rows: list[dict[str, Any]], between_files: StopCheck = go_on) -> None:
    """Give a row's ``image`` the spelling of its file in ``folder`` where the two differ only in how their accents
    are encoded: macOS, and zips made there, write names decomposed ("o" then a combining accent), the metadata
    names them as read (``plain_text``: composed, without control or invisible characters); a name that looks the same
    is the same file. The folder is listed only when a row names a file that is not there as spelled. Each row's file
    and each file listed is a ``stat`` or a name: ``between_files`` is called between them."""
    missing = []
    for row in rows:
        between_files()
        if not (folder / row["image"]).exists():
            missing.append(row)
    if not missing:
        return
    on_disk: dict[str, str] = {}
    for root, _, names in os.walk(folder):
        for name in names:
            between_files()
            relative = Path(root, name).relative_to(folder).as_posix()
            on_disk.setdefault(plain_text(relative), relative)
    for row in missing:
        row["image"] = on_disk.get(Path(row["image"]).as_posix(), row["image"])


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV's header line among ``DELIMITERS`` (csv.Sniffer's guess); a comma when it cannot tell
    (a header of one column)."""
    header = text.lstrip("\n").split("\n", 1)[0].rstrip("\r")
    try:
        return csv.Sniffer().sniff(header, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def row_value(value: Any, where: str, as_list: bool = False) -> str | list[str]:
    """A metadata value as a row keeps it: ``metadata_text``, but a list stays a list of its texts ``as_list`` (one
    item: that text)."""
    if not as_list or not isinstance(value, list):
        return metadata_text(value, where)
    items = list(dict.fromkeys(text for item in value if (text := metadata_text(item, where))))
    return items[0] if len(items) == 1 else items


def metadata_text(value: Any, where: str) -> str:
    """A metadata value as the text a case keeps ("" for null and blanks); ``where`` names it in the error."""
    if isinstance(value, list):
        return ", ".join(filter(None, (metadata_text(item, where) for item in value)))
    if isinstance(value, dict):
        raise BadInputError(f"{where} is a JSON object; give text, a number or a list of them")
    if value is None or isinstance(value, str):
        return plain_text(value or "").strip()
    return json.dumps(value)


def case_ids(rows: list[dict[str, Any]]) -> list[str]:
    """Each metadata row's case: its ``case``, else its own, named by its image's stem as the metadata spells it
    (``plain_text``: the file's name may be decomposed, as macOS writes names), or by its image's path
    (``own_case_ids``) where another image has that id too ("lung/slide1.jpg" beside "liver/slide1.jpg", "x.tif"
    beside "x.jpg", a case named "x"): merged, the second image would get the first's diagnosis. The indexer and
    the benchmarks group images by it, so a case is the same images in both; a stem no other image shares keeps it,
    so an index's ids stay as they were. An image whose path is another image's case id ("case": "a/x.jpg" on z.jpg)
    is named by its path and a number (``numbered``): a case id given is the curator's, and is kept."""
    own = [own_case_ids(row["image"]) for row in rows]
    paths = [path for _, path in own]
    ids = [row.get("case") or stem for row, (stem, _) in zip(rows, own, strict=True)]
    taken = {*ids, *paths}
    while clashing := [number for number in shared_by_others(rows, ids, paths) if ids[number] != paths[number]]:
        for number in clashing:
            ids[number] = paths[number]
    for number in shared_by_others(rows, ids, paths):  # left: a path that is a case id given too
        ids[number] = numbered(paths[number], taken)
    return ids


def numbered(path: str, taken: set[str]) -> str:
    """``path`` and the first number ("a/x.jpg (2)") that makes an id no row has or could get (``taken``): one file
    listed twice gets one id, two files two."""
    return next(name for n in itertools.count(2) if (name := f"{path} ({n})") not in taken)


def own_case_ids(image: str) -> tuple[str, str]:
    """The ids ``case_ids`` may give a row without ``case``: its image's stem, and its path (without "./" and the
    like, so two spellings of one file stay one case)."""
    return plain_text(Path(image).stem), posixpath.normpath(plain_text(image))


def shared_by_others(rows: list[dict[str, Any]], ids: list[str], paths: list[str]) -> list[int]:
    """The caseless rows whose id a row naming another image has too."""
    images: dict[str, set[str]] = {}
    for case, path in zip(ids, paths, strict=True):
        images.setdefault(case, set()).add(path)
    return [number for number, row in enumerate(rows) if "case" not in row and len(images[ids[number]]) > 1]


def read_cases(path: Path, diagnosed_only: bool = True) -> list[ImageItem]:
    """A case folder's cases.jsonl or labels.csv; groups are cases (images without one are their own)."""
    items = []
    rows = read_case_metadata(path)
    for row, case in zip(rows, case_ids(rows), strict=True):
        diagnosis = row.get("diagnosis") or row.get("label")
        if diagnosis is None and diagnosed_only:
            continue
        text = ", ".join(t for t in (diagnosis, row.get("organ")) if t)
        items.append(
            ImageItem(
                path.parent / row["image"],
                [text] if text else [],
                case,
                label=diagnosis,
                tile="case" not in row,
            )
        )
    return items


THUMB = 112
"""Side of the grey thumbnail the near-duplicate test compares (the whole image squashed to a square)."""
CROP = 48
"""Side of the thumbnail's centre that is compared: a region up to ``max(SCALES)`` times as wide, turned by up to 25
degrees, stays inside the picture."""
TURNS = tuple(range(-25, 26, 5))
"""Small rotations, in degrees, tried under each of the 8 rotations by quarter turns and mirrorings."""
SCALES = (0.8, 0.9, 1.0, 1.1, 1.25)
"""Widths of the region read into a view, relative to ``CROP``, under each turn: LC25000 turned, cropped and scaled
back up its copies, so two copies of one original differ in scale by about 0.8-1.35 and, compared at one scale,
correlate at 0.35-0.8 only."""
NEAR_DUPLICATE_CORRELATION = 0.85
"""Pearson correlation of two centre crops from which they show the same tissue (LC25000's augmented siblings). With
the zoomed views, tiles of different LC25000 diagnoses reach 0.83 (a lumen filling both centres), so not 0.8."""


def near_duplicate_groups(
    items: Sequence[ImageItem | Path],
    threshold: float = NEAR_DUPLICATE_CORRELATION,
    max_pixels: int = Settings.model_fields["max_image_pixels"].default,
) -> list[int]:
    """Each image's near-duplicate group, named by its first member's position: images sharing a number show the
    same picture turned, mirrored, slightly rotated or zoomed (LC25000 made its tiles so from 250 originals per class).

    Pixels only, independent of any encoder: two images are near duplicates when a view of either (its centre read at
    each of ``SCALES``, turned by each of ``TURNS``, under the 8 quarter turns and mirrorings) correlates with the
    other's grey centre crop at ``threshold`` or more; groups join every such pair (union-find). Both ways, so the
    groups do not depend on the order of the images: 900 tiles take about 25 s of CPU. A benchmark that splits or
    scores such copies as different images counts the same tissue as held out, or as another image of its diagnosis."""
    paths = [item.path if isinstance(item, ImageItem) else item for item in items]
    if not paths:
        return []
    thumbs = np.stack([grey_thumbnail(path, max_pixels) for path in paths]).reshape(len(paths), -1)
    centres = unit_rows(centre_views(thumbs, [0], [1.0])).reshape(len(paths), -1)
    parent = list(range(len(paths)))
    chunk = 8  # images whose 440 views are compared at once (32 MB)
    for start in range(0, len(paths), chunk):
        views = dihedral(unit_rows(centre_views(thumbs[start : start + chunk], TURNS, SCALES)))
        count = len(views)  # one matrix product (BLAS) against every image: each pair both ways
        best = (views.reshape(-1, CROP * CROP) @ centres.T).reshape(count, -1, len(paths)).max(axis=1)
        for query, other in zip(*np.nonzero(best >= threshold), strict=True):
            join(parent, start + int(query), int(other))
    return [group_root(parent, n) for n in range(len(paths))]


def grey_thumbnail(path: Path, max_pixels: int) -> np.ndarray:
    """The image as a viewer shows it, grey, squashed to ``THUMB`` x ``THUMB`` (bytes: 900 tiles take 11 MB)."""
    return np.asarray(open_image(path, max_pixels).convert("L").resize((THUMB, THUMB), Image.Resampling.BILINEAR))


def centre_views(thumbs: np.ndarray, turns: Sequence[int], scales: Sequence[float]) -> np.ndarray:
    """(n, turns x scales, CROP, CROP): each flattened thumbnail's centre, a region ``scale`` x CROP wide read into
    CROP x CROP, turned by each angle (bilinear), all images at once, as one gather of the four neighbours of every
    sampled point."""
    centre, offsets = (THUMB - 1) / 2, np.arange(CROP) - (CROP - 1) / 2
    angles = np.radians(np.repeat(np.asarray(turns, dtype=np.float64), len(scales)))[:, None, None]
    widths = np.tile(np.asarray(scales, dtype=np.float64), len(turns))[:, None, None]
    across, down = offsets[None, None, :] * widths, offsets[None, :, None] * widths
    x = centre + np.cos(angles) * across - np.sin(angles) * down
    y = centre + np.sin(angles) * across + np.cos(angles) * down
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    corner = (y0 * THUMB + x0).astype(np.intp)
    return (
        thumbs[:, corner] * (1 - fx) * (1 - fy)
        + thumbs[:, corner + 1] * fx * (1 - fy)
        + thumbs[:, corner + THUMB] * (1 - fx) * fy
        + thumbs[:, corner + THUMB + 1] * fx * fy
    )


def dihedral(views: np.ndarray) -> np.ndarray:
    """(n, 8 * v, ...): the views (n, v, side, side) under the 4 quarter turns, then each mirrored."""
    turned = [np.rot90(views, k, axes=(-2, -1)) for k in range(4)]
    return np.concatenate(turned + [np.flip(t, axis=-1) for t in turned], axis=1)


def unit_rows(views: np.ndarray) -> np.ndarray:
    """Each (side, side) view centred and scaled to length 1 as a vector, shape kept: inner products of the flattened
    views are Pearson correlations (a blank view stays zero and correlates with nothing). A turned or mirrored view
    keeps its mean and length, so ``dihedral`` may come after."""
    flat = views.reshape(*views.shape[:-2], -1)
    flat = flat - flat.mean(axis=-1, keepdims=True)
    return (flat / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-6)).reshape(views.shape)


def group_root(parent: list[int], n: int) -> int:
    """The first member of ``n``'s group (union-find with path halving)."""
    while parent[n] != n:
        parent[n] = parent[parent[n]]
        n = parent[n]
    return n


def join(parent: list[int], a: int, b: int) -> None:
    """Merge the groups of ``a`` and ``b`` under the earlier root, so a group is named by its first member."""
    first, second = sorted((group_root(parent, a), group_root(parent, b)))
    parent[second] = first
