"""``pathatlas export``: copy an index into a Qdrant server or cluster when one machine is not enough, or write
search results (``search --json``) as a handout: CSV, Markdown, JSON or an RIS bibliography."""

from __future__ import annotations

import csv
import json
import shutil
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm.auto import tqdm

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.paths import expanded
from pathatlas.settings import without_credentials
from pathatlas.ui.cli_common import (
    IndexOpt,
    JsonOpt,
    check_destination,
    console,
    friendly_errors,
    print_json,
    progress_shown,
    settings_for,
)
from pathatlas.ui.present import display_line


@friendly_errors
def export(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Qdrant URL (http://host:6333), or a folder for a local copy; with --hits, the handout file.",
        ),
    ],
    index: IndexOpt = None,
    collection: Annotated[str | None, typer.Option(help="Collection name (default: the index folder's name).")] = None,
    shards: Annotated[int | None, typer.Option(help="Shards of the new collection (cluster).")] = None,
    replication_factor: Annotated[int | None, typer.Option(help="Copies of each shard (cluster).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Index folder to create that searches the collection (default: INDEX-qdrant).")
    ] = None,
    hits: Annotated[
        Path | None,
        typer.Option(
            help="Search results to write as a handout (search --json output; - reads stdin); --to names "
            "the file, its ending the format: .csv, .md, .json or .ris."
        ),
    ] = None,
    as_json: JsonOpt = False,
):
    """Copy an index into a new Qdrant collection, or (--hits) write search results as a handout.

    The collection gets the index's vectors and payloads, with payload indexes for filters.

    Writes a small index folder (BM25, manifest, thumbnails, and a store that records the URL and collection) as this
    version writes one, whichever version wrote INDEX (which is left as it was); search it with the same commands and
    its --index, nothing else to set. PATHATLAS_QDRANT_URL and PATHATLAS_QDRANT_COLLECTION, when set, take the place
    of what it records (PATHATLAS_QDRANT_API_KEY is sent only to the server PATHATLAS_QDRANT_URL names).

    Examples:
        pathatlas export --to http://localhost:6333 --index ~/atlas
        pathatlas export --to ~/qdrant-copy --out ~/atlas-q   # no server
        pathatlas search bone --json | pathatlas export --hits - --to handout.md
    """
    if hits is not None or handout_format(to):
        return export_handout(hits, to, as_json)
    return export_copy(to, index, collection, shards, replication_factor, out, as_json)


def export_copy(
    to: str,
    index: Path | None,
    collection: str | None,
    shards: int | None,
    replication_factor: int | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Copy the index into a new collection at ``to`` (a Qdrant URL, ":memory:" or a local copy's folder), staged
    beside ``out`` and renamed to it once committed, and say how many records it copied. A failure leaves neither
    the collection, nor ``out``, nor a local copy's folder it made."""
    from pathatlas.retrieval.index import META_FILE, Index
    from pathatlas.retrieval.stores.qdrant_store import QdrantStore

    if not to.strip():
        raise BadInputError("--to is empty: give a Qdrant URL (http://host:6333) or a folder for a local copy")
    twin = None if to == ":memory:" or to.startswith(("http://", "https://")) else expanded(to)
    if twin is not None:
        check_local_copy_folder(twin)
    settings = settings_for(index)
    source = Index.open(settings.index_dir, settings)
    name = collection or source.path.name or "pathatlas"
    shown_url = without_credentials(to)  # a password or key in the URL is never printed
    out = out or source.path.with_name(source.path.name + "-qdrant")
    if out.exists():
        raise BadInputError(f"{out} already exists: choose another --out")
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    made_twin = twin is not None and not twin.exists()
    target = None
    try:
        shutil.copytree(source.path, staging, ignore=lambda folder, names: [n for n in names if n == "store"])
        target_settings = settings.model_copy(update={"qdrant_url": to, "qdrant_collection": name})
        target = QdrantStore(staging / "store", source.meta.dims, target_settings, shards, replication_factor)
        if target.count():
            raise PathAtlasError(
                f"collection {name!r} at {shown_url} already holds {target.count()} points: choose another"
            )
        shown = progress_shown(as_json)
        with tqdm(total=source.store.count(), desc=f"export to {name}", unit="record", disable=not shown) as bar:
            copied = target.copy_from(source.store, progress=bar.update)
        meta = json.loads((staging / META_FILE).read_text())
        (staging / META_FILE).write_text(json.dumps({**meta, "store": "qdrant"}, indent=2))
        # In this version's format, whatever version wrote the source; left open: a failure's ``discard`` needs it.
        Index.over(staging, target_settings, target).commit()
        staging.rename(out)
    except BaseException:
        if target is not None:
            target.discard()
        raise
    finally:
        if target is not None:
            target.close()
        source.close()
        if not out.exists():  # failed: what it made goes (a twin's folder after close: its client locks a file there)
            shutil.rmtree(staging, ignore_errors=True)
            if made_twin:
                shutil.rmtree(twin, ignore_errors=True)
    result = {"records": copied, "collection": name, "url": shown_url, "index": str(out)}
    if as_json:
        print_json(result)
    else:
        console.print(f"copied {copied} records into collection {name!r} at {shown_url}")
        console.print(f"search it: pathatlas search --index {out} ...", soft_wrap=True)


def check_local_copy_folder(folder: Path) -> None:
    """Refuse, in one line, an ``--to`` folder a local Qdrant copy cannot go in: a file (qdrant-client's traceback
    otherwise), or a folder of other files, among which the copy's ``collection/`` and ``meta.json`` would land. A new
    or empty folder is fine, and so is a local copy already (the collection goes beside those it holds)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise BadInputError(f"--to {folder} is a file: give a Qdrant URL or a folder for the local copy")
    if any(folder.iterdir()) and not is_local_copy(folder):
        raise BadInputError(
            f"--to {folder} holds other files and is no local Qdrant copy: give a new or empty folder (or a copy's)"
        )


def is_local_copy(folder: Path) -> bool:
    """Is ``folder`` qdrant-client's local copy: a ``meta.json`` listing its collections beside their folder?"""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and "collections" in meta and (folder / "collection").is_dir()


HANDOUT_FORMATS = {".csv": "csv", ".md": "markdown", ".json": "json", ".ris": "ris"}
"""A handout's format by its file's ending (``--to``)."""
HANDOUT_COLUMNS = (
    "rank",
    "citation",
    "book",
    "source",
    "page",
    "figure",
    "case",
    "image",
    "diagnosis",
    "section",
    "snippet",
)
"""A handout row's fields, in the order a CSV's columns and a JSON row's keys show them."""
SNIPPET_CHARS = 300
"""A handout's passage is cut at a word within this many characters (a case's text can run to a page)."""
SPREADSHEET_FORMULA_START = ("=", "+", "-", "@")
"""What Excel and LibreOffice read as a formula at a cell's start: such a CSV cell is kept as text by a leading "'"."""
MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<#|~"})
"""Markdown's characters that would turn indexed text (a file name "my_notes.pdf", a case "C*1") into emphasis, a
link or HTML: escaped, so the handout shows the text as indexed; not ">", which quotes only at a line's start, where
no indexed text goes ("Chapter 6 > 6.3" stays as written)."""


def handout_format(to: str) -> str | None:
    """The handout format ``--to`` names by its ending, None for a Qdrant URL or folder (whose name has none of them:
    without this, "--to handout.csv" would become a Qdrant folder named handout.csv)."""
    return HANDOUT_FORMATS.get(Path(to).suffix.lower())


def export_handout(hits_path: Path | None, to: str, as_json: bool) -> None:
    """Write the hits of ``search --json`` to the file ``to`` in the format its ending names, in a folder made where
    there is none, and say how many."""
    form = handout_format(to)
    if form is None:
        endings = ", ".join(HANDOUT_FORMATS)
        raise BadInputError(f"--to {to} names no handout format: give a file ending in {endings}")
    if hits_path is None:
        raise BadInputError(
            f"--to {to} is a handout file: give the results with --hits (pathatlas search ... --json > hits.json)"
        )
    path = expanded(to)
    check_destination(path, "--to")  # a folder, or a place no file can be made (/proc), before stdin is read
    refuse_own_input(hits_path, path)
    rows = [handout_row(hit) for hit in read_hits(hits_path)]
    if not rows:
        raise BadInputError(f"{hits_path} holds no results: nothing to export (search for something that matches)")
    path.parent.mkdir(parents=True, exist_ok=True)  # as --json FILE makes its folder
    WRITERS[form](rows, path)
    if as_json:
        print_json({"rows": len(rows), "format": form, "file": str(path)})
    else:
        console.print(f"wrote {len(rows)} results to {path} ({form})", soft_wrap=True, highlight=False)


def refuse_own_input(hits_path: Path, to: Path) -> None:
    """Refuse, in one line, a handout file that is the ``--hits`` file itself (the same name, a link to it or a hard
    link): writing it replaced the search results it was made of ("wrote 3 results"), which were gone."""
    if str(hits_path) == "-":
        return
    try:
        same = to.samefile(expanded(hits_path))
    except OSError:  # either is missing (nothing to overwrite) or unreadable, which reading the results says
        return
    if same:
        raise BadInputError(
            f"--to {to} is the --hits file: writing the handout there would replace the results; give another --to"
        )


def read_hits(path: Path) -> list[dict]:
    """The hits of ``search --json`` (a list), REST ``/search`` (``{"hits": [...]}``) or ``Atlas.search``, each
    checked for the citation a handout is made of; any other file refused in one line."""
    name = "stdin" if str(path) == "-" else str(path)
    if name != "stdin" and is_device_or_socket(expanded(path)):  # read, /dev/zero would fill memory
        raise BadInputError(f"--hits {name} is not a regular file (a device or a socket): give a file, or - for stdin")
    try:
        text = sys.stdin.read() if str(path) == "-" else expanded(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(f"--hits {name}: no such file (save results with pathatlas search ... --json)") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise BadInputError(f"--hits {name} is not a JSON file of search results") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise BadInputError(f"--hits {name} is not JSON: give what pathatlas search ... --json prints") from None
    hits = document.get("hits") if isinstance(document, dict) else document
    if not isinstance(hits, list) or not all(is_hit(hit) for hit in hits):
        raise BadInputError(f"--hits {name} holds no search results: give what pathatlas search ... --json prints")
    return hits


def is_device_or_socket(path: Path) -> bool:
    """Is ``path`` there but no regular file, pipe or folder (refused as no JSON file when read): a device (some never
    end) or a socket (no file to read)? A pipe is read to its end, as stdin is: ``--hits <(pathatlas search ...)``."""
    try:
        mode = path.stat().st_mode
    except OSError:  # absent or unreadable: reading it says which
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISDIR(mode))


def is_hit(hit) -> bool:
    """Does ``hit`` look like a search hit: a dict with a citation that has its label?"""
    return isinstance(hit, dict) and isinstance(hit.get("citation"), dict) and bool(hit["citation"].get("label"))


def handout_row(hit: dict) -> dict:
    """One result as a handout lists it (``HANDOUT_COLUMNS``): the citation as PathAtlas words it, the page a reader
    turns to (the printed one where the book numbers its pages), and the passage on one line, cut at a word."""
    citation = hit["citation"]
    page = citation.get("page_label") or citation.get("page")
    row = {
        "rank": hit.get("rank"),
        "citation": citation["label"],
        "book": citation.get("book"),
        "source": citation.get("source"),
        "page": None if page is None else str(page),
        "figure": citation.get("figure"),
        "case": citation.get("case"),
        "image": citation.get("image"),
        "diagnosis": hit.get("diagnosis"),
        "section": hit.get("section"),
        "snippet": cut(display_line(hit.get("snippet") or "")),
    }
    # On one line (as the UI shows it): a line break would split a Markdown item or make a spreadsheet row tall.
    return {key: display_line(value) if isinstance(value, str) else value for key, value in row.items()}


def cut(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` within ``limit`` characters, cut after a whole word with "…", never inside a word."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head and not text[limit - 1].isspace():
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:") + "…"


def write_csv(rows: list[dict], to: Path) -> None:
    """CSV as Excel opens it: UTF-8 with a BOM (else "µm" shows as "Âµm"), quoted where a cell holds a comma or a
    quote, and no cell that a spreadsheet would run as a formula."""
    with to.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HANDOUT_COLUMNS)
        writer.writerows([spreadsheet_text(row[column]) for column in HANDOUT_COLUMNS] for row in rows)


def spreadsheet_text(value) -> str:
    """A cell's text; one that starts as a formula does ("=HYPERLINK(...)" in a case label) kept as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(SPREADSHEET_FORMULA_START) else text


def write_markdown(rows: list[dict], to: Path) -> None:
    """A numbered list: each result's citation in bold, its section or diagnosis, and its passage quoted under it."""
    lines = []
    for number, row in enumerate(rows, 1):
        about = row["diagnosis"] or row["section"]
        heading = f"{number}. **{markdown_text(row['citation'])}**" + (f" — {markdown_text(about)}" if about else "")
        lines.append(heading)
        if row["snippet"] and row["snippet"] != about:
            lines.append(f"   > {markdown_text(row['snippet'])}")
        lines.append("")
    to.write_text("\n".join(lines), encoding="utf-8")


def markdown_text(text: str) -> str:
    """Indexed text shown as written in Markdown (``MARKDOWN_SPECIAL`` escaped)."""
    return text.translate(MARKDOWN_SPECIAL)


def write_json(rows: list[dict], to: Path) -> None:
    """The rows as a JSON list, non-ASCII text as written ("µm", not "\\u00b5m")."""
    to.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_ris(rows: list[dict], to: Path) -> None:
    """An RIS bibliography (Zotero, EndNote, Mendeley), one reference per distinct citation, the full citation in its
    note: a book's page as a section of the book (CHAP: its figure or section, the book's title, the page; a BOOK's
    page would be read as its number of pages), anything else (a case, an untitled PDF) by its citation (GEN)."""
    lines = []
    for row in {row["citation"]: row for row in rows}.values():  # each citation once, where it first appears
        if row["book"]:
            title = row["figure"] or (row["section"] or "").rsplit(" > ", 1)[-1] or row["book"]
            lines += ["TY  - CHAP", f"TI  - {title}", f"T2  - {row['book']}"]
        else:
            lines += ["TY  - GEN", f"TI  - {row['citation']}"]
        lines += [f"SP  - {row['page']}"] if row["page"] else []
        lines += [f"N1  - {row['citation']}", "ER  - ", ""]
    to.write_text("\r\n".join(lines), encoding="utf-8")


WRITERS = {"csv": write_csv, "markdown": write_markdown, "json": write_json, "ris": write_ris}
"""Each handout format's writer."""
