"""An operator's copies and signals: a copied index folder whose vectors are behind PATHATLAS_QDRANT_URL (here
qdrant-client's twin folder) is refused once another folder wrote their shared collection, where writing both lost
each other's records; read-only and full-disk lines say what an embedded Qdrant index can still do; SIGTERM ends
``pathatlas index`` as Ctrl-C does."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import httpx
import numpy as np
import pytest

from pathatlas.retrieval.index import Index, unwritable
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import qdrant_store
from pathatlas.retrieval.stores.qdrant_store import CopiedIndexError
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import INTERRUPTED
from tests.helpers import hashing_env, hashing_settings, one_error_line
from tests.retrieval.test_index_folder_faults import build, moved_together, qdrant_index, run, sources_found
from tests.retrieval.test_stores import make_store, unit

# -- 1. copies of an index folder that share a collection -------------------------------------------------------------


def cli(settings, *args, **env):
    """``run``, then what it left open collected: ``pathatlas index`` leaves its index to the process's end, and in
    this one a twin's client holds its folder while the run's frames (in the result's traceback) and its index's
    reference cycle live."""
    result = run(settings, *args, **env)
    error = result.exception
    while error is not None:  # the SystemExit, and the errors it was raised from
        traceback.clear_frames(error.__traceback__)
        error = error.__context__
    gc.collect()
    return result


def book(root: Path, name: str) -> Path:
    return make_pdf(root / "lib" / f"{name}.pdf", 2, name)


def written_since(copy: Path, twin: Path, writer: Path) -> str:
    return (
        f"index {copy} is not the folder that last wrote the Qdrant collection 'index' at {twin.resolve()}: index "
        f"folder {writer.resolve()} has written it since"
    )


def test_a_copy_of_a_url_index_is_refused_once_the_original_wrote_their_collection(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    original, copy = settings.index_dir, tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # cp -a, as README's Backups section says
    assert cli(settings, "info", "--index", copy).exit_code == 0, "a copy nobody wrote since is the index as it was"
    assert cli(settings, "index", book(tmp_path, "beta"), "--index", original).exit_code == 0
    said = written_since(copy, twin, original)
    for command in (["index", book(tmp_path, "gamma")], ["search", "alpha page"], ["info"], ["remove", "alpha.pdf"]):
        one_error_line(cli(settings, *command, "--index", copy), said, "pathatlas export --to")
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}, "the copy's run deleted the original's records"
    assert cli(settings, "index", book(tmp_path, "delta"), "--index", original).exit_code == 0, (
        "the last writer goes on"
    )


def test_a_new_index_naming_a_collection_another_folder_wrote_is_refused_before_deleting_its_records(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    namesake = tmp_path / "elsewhere" / "index"  # the same folder name: the same collection by default
    beta = book(tmp_path, "beta")
    result = cli(settings, "index", beta, "--index", namesake, "--store", "qdrant", PATHATLAS_QDRANT_URL=twin)
    one_error_line(result, written_since(namesake, twin, settings.index_dir))
    assert sources_found(settings) == {"alpha.pdf"}


def test_a_url_index_moved_with_its_collection_and_named_again_goes_on(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    moved = moved_together(settings, twin, tmp_path)
    beta = book(tmp_path, "beta")
    result = cli(settings, "index", beta, "--index", moved / "index", PATHATLAS_QDRANT_URL=moved / "twin")
    assert result.exit_code == 0, result.output
    assert sources_found(settings.model_copy(update={"index": moved / "index"})) == {"alpha.pdf", "beta.pdf"}


def test_a_commit_cut_between_the_folders_stamp_and_the_collections_is_no_copy(tmp_path, monkeypatch):
    """The folder records its new token first: a crash (here a server gone) before the collection's stamp leaves the
    collection's previous token, which the folder still owns."""
    settings, _ = qdrant_index(tmp_path)

    def server_gone(*_args):
        raise ConnectionError("the server went away")

    monkeypatch.setattr(qdrant_store._ClientEngine, "stamp", server_gone)
    assert cli(settings, "index", book(tmp_path, "beta"), "--index", settings.index_dir).exit_code == 1
    monkeypatch.undo()
    result = cli(settings, "index", book(tmp_path, "beta"), "--index", settings.index_dir)
    assert result.exit_code == 0, result.output
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf"}


def test_a_server_refusing_collection_metadata_still_commits_and_says_so_once(tmp_path, monkeypatch, caplog):
    """A Qdrant before 1.16 may answer 400 to the collection's metadata: the commit stands (copies are then not told
    apart there, as the log says), rather than every commit failing."""
    from qdrant_client.http.exceptions import UnexpectedResponse

    settings, _ = qdrant_index(tmp_path)

    def old_server(self, collection, **fields):
        raise UnexpectedResponse(
            400, "Bad Request", b'{"status":{"error":"unknown field `metadata`"}}', httpx.Headers()
        )

    monkeypatch.setattr("qdrant_client.QdrantClient.update_collection", old_server)
    for name in ("beta", "gamma"):
        result = cli(settings, "index", book(tmp_path, name), "--index", settings.index_dir)
        assert result.exit_code == 0, result.output
    assert sources_found(settings) == {"alpha.pdf", "beta.pdf", "gamma.pdf"}
    warned = {r.getMessage() for r in caplog.records if "keeps no collection metadata" in r.getMessage()}
    assert len(warned) == 1 and "use Qdrant 1.16 or later" in warned.pop()


def test_a_first_build_cut_after_its_stamp_runs_again(tmp_path, monkeypatch):
    """A first build that fails after the collection's stamp, before its pointer, leaves no store folder (``FirstWrite``
    undoes it): the collection's stamp names this folder's path, so the next run is no copy."""
    settings = hashing_settings(tmp_path, qdrant_url=str(tmp_path / "twin"))

    def disk_full_at_bm25(label: str) -> None:
        if label == "lexical":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pathatlas.retrieval.index.crash_point", disk_full_at_bm25)
    command = ["index", book(tmp_path, "alpha"), "--index", settings.index_dir, "--store", "qdrant"]
    assert cli(settings, *command, PATHATLAS_QDRANT_URL=tmp_path / "twin").exit_code == 1
    monkeypatch.undo()
    result = cli(settings, *command, PATHATLAS_QDRANT_URL=tmp_path / "twin")
    assert result.exit_code == 0, result.output
    assert sources_found(settings) == {"alpha.pdf"}


def page(record_id: str) -> StoredVectors:
    return StoredVectors(record_id, {"kind": "page", "source": "s"}, {"text": unit(np.random.default_rng(1), 1, 16)[0]})


def test_a_store_open_while_a_copy_commits_refuses_its_next_write_and_its_health_check(settings, tmp_path):
    store = make_store("qdrant-local", tmp_path / "index" / "store", settings)
    try:
        store.upsert([page("kept")])
        store.commit()
        store.engine.stamp("a-copy's-commit", "/srv/copy")  # what the copy's commit leaves on the collection
        for call in (lambda: store.upsert([page("new")]), lambda: store.delete({"source": "s"}), store.commit):
            with pytest.raises(CopiedIndexError, match="index folder /srv/copy has written it since"):
                call()
        with pytest.raises(CopiedIndexError):
            store.check()  # a service's /health
        assert [record_id for record_id, _ in store.scan()] == ["kept"]
    finally:
        store.close()


def test_an_exported_copy_owns_its_new_collection(tmp_path):
    settings, _ = qdrant_index(tmp_path)
    exported = tmp_path / "exported"
    result = cli(settings, "export", "--to", tmp_path / "twin2", "--index", settings.index_dir, "--out", exported)
    assert result.exit_code == 0, result.output
    assert cli(settings, "index", book(tmp_path, "beta"), "--index", exported).exit_code == 0
    assert cli(settings, "index", book(tmp_path, "gamma"), "--index", settings.index_dir).exit_code == 0
    assert sources_found(settings.model_copy(update={"index": exported})) == {"alpha.pdf", "beta.pdf"}
    assert sources_found(settings) == {"alpha.pdf", "gamma.pdf"}


# -- 2. a read-only index: what each store can still do ----------------------------------------------------------------


def test_a_read_only_line_says_an_embedded_qdrant_index_cannot_be_searched_either(tmp_path):
    lines = {}
    for name, settings in (
        ("faiss", build(tmp_path / "faiss")[0]),
        ("qdrant", build(tmp_path / "qdrant", store="qdrant")[0]),
        ("qdrant-url", qdrant_index(tmp_path / "url")[0]),
    ):
        denied = PermissionError(errno.EACCES, "Permission denied", str(settings.index_dir / "store" / "x.tmp"))
        lines[name] = str(unwritable(settings.index_dir, denied))
    assert "it can be searched but not changed" in lines["faiss"]
    assert "it can be searched but not changed" in lines["qdrant-url"]  # the folder is only read to search a server
    assert "it can be neither changed nor searched until write permission is restored" in lines["qdrant"]


# -- 3. a full disk under a search: the shard cannot be opened, not written --------------------------------------------


def test_a_search_that_cannot_open_the_shard_on_a_full_disk_says_opened(tmp_path, monkeypatch):
    settings, _ = build(tmp_path, store="qdrant")
    holes = qdrant_store.unfilled(settings.index_dir / "store")
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=holes // 2))
    monkeypatch.setattr(qdrant_store, "file_system", lambda path: "tmpfs")  # where opening fills the holes it reads
    for command in (["search", "alpha page"], ["info"]):
        line = one_error_line(
            cli(settings, *command, "--index", settings.index_dir), "cannot be opened: the disk is full", "may map"
        )
        assert "written" not in line, line
    monkeypatch.setattr(qdrant_store, "file_system", lambda path: "ext4")  # opening takes no room: writing does
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=qdrant_store.MMAP_CHUNK // 2))
    one_error_line(cli(settings, "index", book(tmp_path, "gamma"), "--index", settings.index_dir), "cannot be written")


# -- 4. SIGTERM ends an index run as Ctrl-C does -------------------------------------------------------------------


WAIT_AT_SECOND_COMMIT = """
import sys, time
from pathatlas.retrieval.index import Index
from pathatlas.ui.cli import app

commit = Index.commit

def commit_after_a_wait(self, sources=None):
    if self.generation.number:  # the first book is committed: the second waits for the signal
        print("waiting", file=sys.stderr, flush=True)
        time.sleep(60)
    commit(self, sources)

Index.commit = commit_after_a_wait
app()
"""


def test_sigterm_ends_an_index_run_with_the_interrupted_line_and_143_at_the_last_commit(tmp_path):
    books = [book(tmp_path, name) for name in ("alpha", "beta")]
    settings = hashing_settings(tmp_path)
    indexing = subprocess.Popen(
        [sys.executable, "-c", WAIT_AT_SECOND_COMMIT, "index", *map(str, books), "--index", str(settings.index_dir)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **hashing_env(settings.home)},
    )
    try:
        said = [indexing.stderr.readline()]
        while "waiting" not in said[-1] and said[-1]:
            said.append(indexing.stderr.readline())
        indexing.send_signal(signal.SIGTERM)
        rest = indexing.communicate(timeout=60)[1]
    finally:
        indexing.kill()
    assert indexing.returncode == 143, (indexing.returncode, "".join(said) + rest)
    assert INTERRUPTED in rest, rest
    with Index.open(settings.index_dir, settings) as index:
        assert [Path(key).name for key in index.manifest] == ["alpha.pdf"]
