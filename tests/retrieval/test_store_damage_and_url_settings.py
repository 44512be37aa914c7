"""What an operator meets: a damaged store file is one error line naming it and the remedy (never a traceback, nor
click's bare "Aborted."), and settings that cannot work are refused at start-up in one line naming the variable: a
Qdrant URL without its scheme, a rebuild fraction above 1."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.bench_serve import free_port
from tests.helpers import hashing_settings, one_error_line, run_cli

REMEDY = "restore it from a backup or re-create the index"


@pytest.fixture
def no_listening(monkeypatch):
    """``pathatlas serve`` must stop before it listens."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("serve went on to listen on an index it cannot open")

    monkeypatch.setattr(uvicorn, "run", refuse)


def built(root: Path, store: str) -> Settings:
    """An index of two books indexed one run each: a FAISS store holds a snapshot and a delta (deltas may pass the
    snapshot's size here)."""
    settings = hashing_settings(root, faiss_compact_fraction=10)
    for name in ("alpha", "beta"):
        index = Index.open(settings.index_dir, settings, create=True, store=store)
        try:
            assert not Indexer(index, show_progress=False).add([make_pdf(root / "lib" / f"{name}.pdf", 2, name)]).failed
        finally:
            index.close()
    return settings


def cut(path: Path, how: str) -> None:
    """``path`` cut to half its size, or to nothing."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "half" else b"")


# -- 1. a damaged store file is one line naming it ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["half", "empty"])
def test_a_damaged_faiss_delta_is_one_line_naming_it_at_every_command(tmp_path, no_listening, how):
    settings = built(tmp_path, "faiss")
    store = settings.index_dir / "store"
    (delta,) = store.glob("delta-*.npz")
    cut(delta, how)
    for command in (["info"], ["search", "alpha page"], ["serve", "--port", free_port()]):
        line = one_error_line(run_cli(*command, "--index", settings.index_dir, home=settings.home))
        assert line.startswith(f"error: FAISS store at {store} is damaged: {delta.name}: "), line
        assert line.endswith(f"; {REMEDY}"), line


@pytest.mark.parametrize("how", ["half", "empty"])
def test_a_damaged_faiss_snapshot_says_why_in_faiss_words_not_its_source_lines(tmp_path, how):
    settings = built(tmp_path, "faiss")
    store = settings.index_dir / "store"
    (index_file,) = store.glob("base-*/text.faiss")
    cut(index_file, how)
    line = one_error_line(run_cli("search", "alpha page", "--index", settings.index_dir, home=settings.home))
    named = index_file.relative_to(store)
    assert line == f"error: FAISS store at {store} is damaged: {named}: read error; {REMEDY}", line


def test_a_store_file_this_user_cannot_read_is_not_called_damaged(tmp_path, monkeypatch):
    settings = built(tmp_path, "faiss")
    (delta,) = (settings.index_dir / "store").glob("delta-*.npz")

    load = np.load

    def refused(path, *args, **kwargs):  # as reading a file of another user's (mode 600) does
        if Path(path) == delta:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(np, "load", refused)
    line = one_error_line(run_cli("info", "--index", settings.index_dir, home=settings.home))
    assert line == f"error: {delta}: Permission denied", line


def test_a_damaged_embedded_qdrant_shard_is_one_line_not_the_engine_panic(tmp_path):
    settings = built(tmp_path, "qdrant")
    shard = settings.index_dir / "store"
    status = sorted(shard.glob("segments/*/**/status.dat"))
    assert status, "the engine keeps a status file per flag store"
    cut(status[0], "empty")  # the engine panics reading it (pyo3's PanicException, a BaseException)
    line = one_error_line(run_cli("info", "--index", settings.index_dir, home=settings.home))
    assert f"cannot open the Qdrant shard at {shard}: " in line and line.endswith(REMEDY), line


def test_damaged_qdrant_revisions_are_read_again_from_the_store(tmp_path, caplog):
    settings = built(tmp_path, "qdrant")
    cut(settings.index_dir / "store" / "revisions.json", "half")
    with caplog.at_level(logging.WARNING, logger="pathatlas"):
        index = Index.open(settings.index_dir, settings)
    try:
        assert index.store.source_revisions() is None, "what the file no longer tells is unknown, not made up"
        hits = Searcher(index).search(Query(text="beta page"))
        assert Path(hits[0].payload.source).name == "beta.pdf", [h.payload.source for h in hits]
    finally:
        index.close()
    assert any("revisions.json is damaged" in r.getMessage() for r in caplog.records), caplog.text


# -- 2. a Qdrant URL without its scheme ----------------------------------------------------------------------------


def test_a_qdrant_url_without_its_scheme_is_refused_naming_the_url_it_means(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("info", home=tmp_path / "home", PATHATLAS_QDRANT_URL="qdrant.example.org:6333")
    line = one_error_line(result, "PATHATLAS_QDRANT_URL='qdrant.example.org:6333'", "'http://qdrant.example.org:6333'")
    assert "\n" not in line
    assert not (tmp_path / "qdrant.example.org:6333").exists(), "no folder of that name in the current one"
    with pytest.raises(BadInputError, match="qdrant_url='twin'"):
        load_settings(qdrant_url="twin")  # a relative folder is refused too: it would move with the current folder


@pytest.mark.parametrize("url", ["http://qdrant:6333", "https://qdrant.example.org", ":memory:", "/srv/qdrant-copy"])
def test_urls_with_a_scheme_and_local_copies_by_full_path_are_accepted(url):
    assert load_settings(qdrant_url=url).qdrant_url == url


def test_export_to_a_folder_named_relative_to_the_current_one_still_works(tmp_path, monkeypatch):
    settings = built(tmp_path, "faiss")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "exported"
    result = run_cli("export", "--index", settings.index_dir, "--to", "copy", "--out", out, home=settings.home)
    assert result.exit_code == 0, result.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the exported index names the copy by its full path
    found = run_cli("search", "beta page", "--index", out, "--json", home=settings.home)
    assert found.exit_code == 0 and "beta.pdf" in found.output, found.output
    assert not (elsewhere / "copy").exists()


# -- 3. a rebuild fraction is a fraction ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2", "1.5"])
def test_a_rebuild_fraction_above_one_is_refused_in_one_line(tmp_path, value):
    result = run_cli("info", home=tmp_path / "home", PATHATLAS_FAISS_REBUILD_FRACTION=value)
    one_error_line(result, f"PATHATLAS_FAISS_REBUILD_FRACTION={value!r}", "less than or equal to 1")
    assert load_settings(faiss_rebuild_fraction=1).faiss_rebuild_fraction == 1
