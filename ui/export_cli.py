"""``pathatlas export``: copy an index into a Qdrant server or cluster when one machine is not enough."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from tqdm.auto import tqdm

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.ui.cli_common import (
    IndexOpt,
    JsonOpt,
    console,
    friendly_errors,
    print_json,
    progress_shown,
    settings_for,
)


@friendly_errors
def export(
    to: Annotated[str, typer.Option("--to", help="Qdrant URL (http://host:6333), or a folder for a local copy.")],
    index: IndexOpt = None,
    collection: Annotated[str | None, typer.Option(help="Collection name (default: the index folder's name).")] = None,
    shards: Annotated[int | None, typer.Option(help="Shards of the new collection (cluster).")] = None,
    replication_factor: Annotated[int | None, typer.Option(help="Copies of each shard (cluster).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Index folder to create that searches the collection (default: INDEX-qdrant).")
    ] = None,
    as_json: JsonOpt = False,
):
    """Copy an index's vectors and payloads into a new Qdrant collection, with payload indexes for filters.

    Writes a small index folder (BM25, manifest, thumbnails, and a store that records the URL and collection) as this
    version writes one, whichever version wrote INDEX (which is left as it was); search it with the same commands and
    its --index, nothing else to set. PATHATLAS_QDRANT_URL and PATHATLAS_QDRANT_COLLECTION, when set, take the place
    of what it records (PATHATLAS_QDRANT_API_KEY is sent only to the server PATHATLAS_QDRANT_URL names).

    Examples:
        pathatlas export --to http://localhost:6333 --index ~/atlas
        pathatlas export --to ~/qdrant-copy --out ~/atlas-q   # no server
    """
    from pathatlas.retrieval.index import META_FILE, Index
    from pathatlas.retrieval.stores.qdrant_store import QdrantStore

    if not to.strip():
        raise BadInputError("--to is empty: give a Qdrant URL (http://host:6333) or a folder for a local copy")
    twin = None if to == ":memory:" or to.startswith(("http://", "https://")) else Path(to).expanduser()
    if twin is not None:
        check_local_copy_folder(twin)
    settings = settings_for(index)
    source = Index.open(settings.index_dir, settings)
    name = collection or source.path.name or "pathatlas"
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
            raise PathAtlasError(f"collection {name!r} at {to} already holds {target.count()} points: choose another")
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
    result = {"records": copied, "collection": name, "url": to, "index": str(out)}
    if as_json:
        print_json(result)
    else:
        console.print(f"copied {copied} records into collection {name!r} at {to}")
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
