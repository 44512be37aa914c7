"""An index folder's life: it exists once a write commits (serving a new folder, or a first run whose every source
fails, leaves none), a run finds its sources once, and BM25 segments of an older terms version are read again from the
store, never saved by a search, until the next index run saves them. Fast encoder throughout."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from pathatlas.errors import PathAtlasError
from pathatlas.indexer import pipeline, sources
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval import lexical
from pathatlas.retrieval.index import META_FILE, Index
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.jobs import Job
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import calls_to, hashing_settings, run_cli
from tests.retrieval.test_crash import disk_full_at, inject

STORES = ["faiss", "qdrant"]
QUERIES = ["granuloma necrosis", "gland epithelium", "page 2", "fibrosis koilocyte"]


def not_a_pdf(path: Path) -> Path:
    path.write_text("Goblet cells secrete mucus.")
    return path


def ended(job: Job, timeout: float = 60) -> Job:
    deadline = time.time() + timeout
    while job.status in ("queued", "running"):
        assert time.time() < deadline, f"job {job.id} did not end"
        time.sleep(0.05)
    return job


def files(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


# -- 1. serving a new folder fixes no store ------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_serving_a_new_folder_writes_nothing_and_the_first_index_records_the_store_asked_for(tmp_path, store):
    settings = hashing_settings(tmp_path)
    engine = Engine(settings)
    try:
        assert engine.search(Query(text="granuloma", k=3)).result().hits == []
    finally:
        engine.close()
    assert not settings.index_dir.exists()
    book = make_pdf(tmp_path / "a.pdf", 2, "a")
    result = run_cli("index", book, "--index", settings.index_dir, "--store", store, home=settings.home)
    assert result.exit_code == 0, result.output
    assert json.loads((settings.index_dir / META_FILE).read_text())["store"] == store


@pytest.mark.parametrize("store", STORES)
def test_a_server_makes_a_new_index_with_its_first_job_that_commits(tmp_path, store):
    settings = hashing_settings(tmp_path, store=store)
    engine = Engine(settings)
    jobs = Jobs.around(engine)
    try:
        failed = ended(jobs.submit("broken.pdf", [not_a_pdf(tmp_path / "broken.pdf")]))
        assert failed.status == "failed" and "not a readable PDF" in failed.error
        assert not settings.index_dir.exists(), "a first job that committed nothing leaves no folder"
        done = ended(jobs.submit("a.pdf", [make_pdf(tmp_path / "a.pdf", 2, "a")]))
        assert done.status == "done", done.error
        assert json.loads((settings.index_dir / META_FILE).read_text())["store"] == store
        assert engine.search(Query(text="granuloma", k=3)).result().hits
    finally:
        engine.close()


# -- 2. a first run whose sources all fail ---------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_a_first_index_whose_sources_all_fail_leaves_no_folder(tmp_path, store):
    settings = hashing_settings(tmp_path)
    text = not_a_pdf(tmp_path / "notes.pdf")
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(make_pdf(tmp_path / "whole.pdf", 2, "w").read_bytes()[:300])
    result = run_cli("index", text, cut, "--index", tmp_path / "new" / "index", "--store", store, home=settings.home)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and str(text) in errors[0] and str(cut) in errors[1], result.output
    assert not (tmp_path / "new").exists(), "nor the folder above it, made for it"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    assert run_cli("index", text, "--index", mine, "--store", store, home=settings.home).exit_code == 1
    assert files(mine) == {"notes.txt": b"the user's"}, "a folder that was there keeps what it held, and only that"


@pytest.mark.parametrize("store", STORES)
def test_a_failed_run_leaves_a_committed_index_as_it_was(tmp_path, store):
    settings = hashing_settings(tmp_path)
    book = make_pdf(tmp_path / "a.pdf", 2, "a")
    assert run_cli("index", book, "--store", store, "--index", settings.index_dir, home=settings.home).exit_code == 0
    kept = {name: (settings.index_dir / name).read_bytes() for name in (META_FILE, "manifest.json")}
    found = run_cli("search", "granuloma", "--json", "--index", settings.index_dir, home=settings.home).output
    assert (
        run_cli("index", not_a_pdf(tmp_path / "b.pdf"), "--index", settings.index_dir, home=settings.home).exit_code
        == 1
    )
    assert {name: (settings.index_dir / name).read_bytes() for name in kept} == kept
    assert run_cli("search", "granuloma", "--json", "--index", settings.index_dir, home=settings.home).output == found


# -- 3. sources are found once -----------------------------------------------------------------------


def test_an_index_run_finds_its_sources_once(tmp_path, monkeypatch):
    settings = hashing_settings(tmp_path)
    make_pdf(tmp_path / "lib" / "a.pdf", 1, "a")
    make_pdf(tmp_path / "lib" / "more" / "b.pdf", 1, "b")
    walks = calls_to(monkeypatch, "discover", sources, pipeline)
    result = run_cli("index", tmp_path / "lib", "--index", settings.index_dir, home=settings.home)
    assert result.exit_code == 0, result.output
    assert len(walks) == 1


# -- 4. BM25 segments of an older terms version ------------------------------------------------------


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> list[Path]:
    """One library for every index here: record ids derive from the sources' paths."""
    lib = tmp_path_factory.mktemp("lib")
    return [make_pdf(lib / f"b{i}.pdf", 3, f"v{i}") for i in range(2)]


def build(settings: Settings, books: list[Path], store: str = "faiss") -> Settings:
    index = Index.open(settings.index_dir, settings, create=True, store=store)
    assert not Indexer(index, show_progress=False).add(books).failed
    index.close()
    return settings


def old_terms(settings: Settings, books: list[Path], store: str = "faiss") -> Settings:
    """``settings``' index built as by a PathAtlas whose ``TERMS_VERSION`` was the one before."""
    with pytest.MonkeyPatch.context() as older:
        older.setattr(lexical, "TERMS_VERSION", lexical.TERMS_VERSION - 1)
        return build(settings, books, store)


def opened(settings: Settings) -> tuple[list, bool]:
    """What BM25 and a whole search find on a fresh open, and whether BM25 was read again from the store."""
    reads = []
    sync = LexicalIndex.sync
    with pytest.MonkeyPatch.context() as counting:
        counting.setattr(LexicalIndex, "sync", lambda self, *a, **k: reads.append(1) or sync(self, *a, **k))
        index = Index.open(settings.index_dir, settings)
        try:
            bm25 = index.lexical.search(QUERIES, 50)
            reread = bool(reads)
            hits = [[(h.id, h.score) for h in Searcher(index).search(Query(text=q, k=10))] for q in QUERIES]
        finally:
            index.close()
    return [bm25, hits], reread


@pytest.fixture(scope="module")
def current(tmp_path_factory, books) -> dict[str, list]:
    """What the books' index finds per store, built with the current terms version (ties keep each store's order)."""
    return {store: opened(build(hashing_settings(tmp_path_factory.mktemp(store)), books, store))[0] for store in STORES}


def index_run(settings: Settings, books: list[Path]) -> None:
    """``pathatlas index`` of the same books, which changed nothing: it commits only what needs rewriting."""
    index = Index.open(settings.index_dir, settings, create=True)
    try:
        assert {s.status for s in Indexer(index, show_progress=False).add(books).sources} == {"unchanged"}
    finally:
        index.close()


@pytest.mark.parametrize("store", STORES)
def test_bm25_of_an_older_terms_version_is_read_again_until_the_next_index_run_saves_it(
    tmp_path, store, books, current
):
    settings = old_terms(hashing_settings(tmp_path), books, store)
    before = files(settings.index_dir / "lexical")
    for _ in range(2):
        found, reread = opened(settings)
        assert reread and found == current[store]
        assert files(settings.index_dir / "lexical") == before, "a search never writes the index"
    index_run(settings, books)
    assert opened(settings) == (current[store], False), "the run saved the segments: an open reads them, not the store"


def test_bm25_read_again_while_another_process_writes_is_saved_by_that_ones_run(tmp_path, books, current):
    settings = old_terms(hashing_settings(tmp_path), books)
    before = files(settings.index_dir / "lexical")
    writer = Index.open(settings.index_dir, settings)
    try:
        with writer.writing():
            assert opened(settings) == (current["faiss"], True)
            assert files(settings.index_dir / "lexical") == before
            assert {s.status for s in Indexer(writer, show_progress=False).add(books).sources} == {"unchanged"}
    finally:
        writer.close()
    assert opened(settings) == (current["faiss"], False)


def test_a_bm25_upgrade_that_fails_at_any_durable_step_keeps_the_committed_index(tmp_path, monkeypatch, books, current):
    """A write error at each durable step of the index run that saves the re-read segments (a kill there leaves the
    same files): the generation still opens and finds the same, and the next run completes the upgrade."""
    start = old_terms(hashing_settings(tmp_path / "start"), books).index_dir
    steps: list[str] = []
    inject(monkeypatch, steps.append)
    counting = hashing_settings(tmp_path / "count")
    shutil.copytree(start, counting.index_dir)
    index_run(counting, books)
    monkeypatch.undo()
    assert "lexical" in steps
    for failing in range(1, len(steps) + 1):
        settings = hashing_settings(tmp_path / f"fail{failing}")
        shutil.copytree(start, settings.index_dir)
        inject(monkeypatch, disk_full_at(failing))
        with pytest.raises(PathAtlasError, match="disk is full"):
            index_run(settings, books)
        monkeypatch.undo()
        assert opened(settings)[0] == current["faiss"], steps[failing - 1]
        index_run(settings, books)
        assert opened(settings) == (current["faiss"], False), steps[failing - 1]
