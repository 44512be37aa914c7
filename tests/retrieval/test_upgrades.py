"""Upgrading and rolling back: a search never writes an index an older PathAtlas wrote; every commit stamps this
version's format (which older versions refuse in one line) and records its version; ``info`` and ``--version`` say
which PathAtlas wrote what. Opening and indexing from Python: str or ``PathLike`` paths, one or many, ``refresh`` and
``with``; a store whose records are gone is refused. Hashing encoder throughout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pathatlas import __version__
from pathatlas.errors import PathAtlasError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval import lexical
from pathatlas.retrieval.index import META_FILE, POINTER_FILE, Index
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.upgrade import FORMAT_VERSION
from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, one_error_line, run_cli

OLD_META_FIELDS = {"encoder", "dims", "store", "format", "created", "revisions"}
"""What ``pathatlas.json`` held before this version: versions before it call a file with any other field damaged."""


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def files(folder: Path, skip: str | None = None) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes, but those under its subfolder ``skip``."""
    found = {str(f.relative_to(folder)): f for f in sorted(folder.rglob("*")) if f.is_file()}
    return {name: f.read_bytes() for name, f in found.items() if skip is None or not name.startswith(f"{skip}/")}


def build(root: Path, store: str = "faiss") -> tuple[Settings, list[Path]]:
    """An index of two 2-page books under ``root``."""
    settings = hashing_settings(root)
    books = [make_pdf(root / "lib" / f"{name}.pdf", 2, name) for name in ("alpha", "beta")]
    with Index.open(settings.index_dir, settings, create=True, store=store) as index:
        assert not Indexer(index, show_progress=False).add(books).failed
    return settings, books


def as_an_older_version_wrote_it(
    root: Path, store: str = "faiss", writer: str | None = None
) -> tuple[Settings, list[Path]]:
    """``build``, as an older PathAtlas left it: BM25 of the previous terms version, format 1, and the version of
    its ``writer`` recorded, or (None) neither it nor that of the sources' reader, as before they were."""
    with pytest.MonkeyPatch.context() as older:
        older.setattr(lexical, "TERMS_VERSION", lexical.TERMS_VERSION - 1)
        settings, books = build(root, store)
    edit(settings.index_dir / META_FILE, lambda d: d.update(format=1))

    def recorded(document: dict) -> None:
        if writer is not None:
            document["writer"] = writer
            return
        del document["writer"]
        for entry in document["sources"].values():
            del entry["records_version"]

    edit(settings.index_dir / POINTER_FILE, recorded)
    return settings, books


def reads_bm25_from_the_store(settings: Settings) -> bool:
    """Whether a fresh open re-reads BM25 from the store (its segments are of another terms version)."""
    reads = []
    sync = LexicalIndex.sync
    with pytest.MonkeyPatch.context() as counting:
        counting.setattr(LexicalIndex, "sync", lambda self, *a, **k: reads.append(1) or sync(self, *a, **k))
        with Index.open(settings.index_dir, settings) as index:
            assert index.lexical.search(["alpha page"], 5)[0]
    return bool(reads)


# -- 1. a search writes nothing; a commit stamps the format --------------------------------------------------------


@pytest.mark.parametrize("store", ["faiss", "qdrant"])
def test_a_search_leaves_an_index_an_older_version_wrote_as_it_was(tmp_path, store):
    settings, _ = as_an_older_version_wrote_it(tmp_path, store)
    skip = "store" if store == "qdrant" else None  # the embedded Qdrant library rewrites its own files on opening
    before = files(settings.index_dir, skip)
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text="alpha page", k=5))
    assert hits and Path(hits[0].payload.source).name == "alpha.pdf"
    result = run_cli("search", "beta page", "--index", settings.index_dir, "--json", home=settings.home)
    assert result.exit_code == 0 and json.loads(result.stdout), result.output
    assert files(settings.index_dir, skip) == before


@pytest.mark.parametrize("writer", [None, "0.0.9"])
def test_an_index_run_commits_an_older_index_once_in_this_format_even_when_nothing_changed(tmp_path, writer):
    settings, books = as_an_older_version_wrote_it(tmp_path, writer=writer)
    assert reads_bm25_from_the_store(settings)
    with Index.open(settings.index_dir, settings) as index:
        report = Indexer(index, show_progress=False).add(books)
        assert {s.status for s in report.sources} == {"unchanged"}
        assert not index.needs_rewrite()
    meta = json.loads((settings.index_dir / META_FILE).read_text())
    assert meta["format"] == FORMAT_VERSION == 2
    assert set(meta) <= OLD_META_FIELDS, "a field an older version does not know makes it call the index damaged"
    pointer = json.loads((settings.index_dir / POINTER_FILE).read_text())
    assert pointer["writer"] == __version__
    assert {entry["records_version"] for entry in pointer["sources"].values()} == {PdfSource.records_version}
    assert not reads_bm25_from_the_store(settings), "the commit saved the BM25 re-read from the store"
    generation = pointer["generation"]
    with Index.open(settings.index_dir, settings) as index:
        Indexer(index, show_progress=False).add(books)
    assert json.loads((settings.index_dir / POINTER_FILE).read_text())["generation"] == generation, "only once"


def test_bm25_files_lost_are_read_again_by_a_search_and_saved_by_the_next_index_run(tmp_path):
    settings, books = build(tmp_path)
    generation = json.loads((settings.index_dir / POINTER_FILE).read_text())
    (settings.index_dir / "lexical" / f"{generation['lexical']}.json").unlink()
    before = files(settings.index_dir)
    assert reads_bm25_from_the_store(settings)
    assert files(settings.index_dir) == before
    with Index.open(settings.index_dir, settings) as index:
        assert {s.status for s in Indexer(index, show_progress=False).add(books).sources} == {"unchanged"}
    assert not reads_bm25_from_the_store(settings)
    assert json.loads((settings.index_dir / POINTER_FILE).read_text())["generation"] == generation["generation"] + 1


def test_a_commit_of_a_format_1_index_stamps_this_format(tmp_path):
    settings, _ = build(tmp_path)
    edit(settings.index_dir / META_FILE, lambda d: d.update(format=1, shard_hint="kept"))
    with Index.open(settings.index_dir, settings) as index:
        assert index.remove_source("beta.pdf")
    meta = json.loads((settings.index_dir / META_FILE).read_text())
    assert meta["format"] == FORMAT_VERSION and meta["shard_hint"] == "kept"


def test_an_index_of_a_newer_format_is_refused_in_one_line_naming_its_writer(tmp_path):
    settings, _ = build(tmp_path)
    edit(settings.index_dir / META_FILE, lambda d: d.update(format=FORMAT_VERSION + 1))
    edit(settings.index_dir / POINTER_FILE, lambda d: d.update(writer="9.9.9"))
    line = one_error_line(run_cli("info", "--index", settings.index_dir, home=settings.home))
    assert f"was written by PathAtlas 9.9.9 (format {FORMAT_VERSION + 1}); this one reads formats 1, 2" in line, line


# -- 2. which PathAtlas wrote it -------------------------------------------------------------------------------------


def test_version_option_names_the_version_and_the_index_formats(tmp_path):
    result = run_cli("--version", home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"pathatlas {__version__} (writes index format 2, reads formats 1, 2)"


def test_info_names_the_writer_and_the_sources_an_older_reader_read(tmp_path):
    settings, books = as_an_older_version_wrote_it(tmp_path)
    edit(settings.index_dir / POINTER_FILE, lambda d: d["sources"][str(books[0])].update(records_version=3))
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert shown.exit_code == 0, shown.output
    assert "writer  a PathAtlas not recording its version (index format 1)" in shown.output
    assert "2 source(s) were read by an older PathAtlas reader" in shown.output
    command = f"`pathatlas index --index {settings.index_dir}`"
    assert f"run {command} (no --force needed" in shown.output
    as_json = json.loads(run_cli("info", "--index", settings.index_dir, "--json", home=settings.home).stdout)
    assert as_json["written_by"] is None and as_json["format"] == 1
    assert {e["older_reader"] for e in as_json["sources"].values()} == {True}

    assert run_cli("index", *books, "--index", settings.index_dir, home=settings.home).exit_code == 0
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert f"writer  PathAtlas {__version__} (index format 2)" in shown.output
    assert "older PathAtlas reader" not in shown.output, shown.output
    as_json = json.loads(run_cli("info", "--index", settings.index_dir, "--json", home=settings.home).stdout)
    assert as_json["written_by"] == __version__
    assert {e["older_reader"] for e in as_json["sources"].values()} == {False}


# -- 3. paths from Python --------------------------------------------------------------------------------------------


def test_paths_from_python_may_be_strings_one_path_or_many(tmp_path):
    settings = hashing_settings(tmp_path)
    books = [make_pdf(tmp_path / "lib" / f"{name}.pdf", 1, name) for name in ("alpha", "beta", "gamma")]
    with Index.open(str(settings.index_dir), settings, create=True) as index:
        indexer = Indexer(index, show_progress=False)
        assert [s.status for s in indexer.add(str(books[0])).sources] == ["indexed"]
        assert [s.status for s in indexer.add(books[1]).sources] == ["indexed"]
        assert [s.status for s in indexer.add([str(books[2])]).sources] == ["indexed"]
        assert [s.status for s in indexer.add(str(tmp_path / "nothing.pdf")).sources] == ["failed"]
        assert set(index.manifest) == {str(book) for book in books}


def test_a_relative_index_path_stays_found_after_a_change_of_folder(tmp_path, monkeypatch):
    settings, _ = build(tmp_path)
    monkeypatch.chdir(settings.index_dir.parent)
    with Index.open(Path(settings.index_dir.name), settings) as index:
        assert index.path == settings.index_dir
        monkeypatch.chdir(tmp_path / "lib")
        hits = Searcher(index).search(Query(text="alpha page", k=3))
        assert hits and all(index.thumbnail_path(h.id).is_file() for h in hits)


# -- 4. refresh and with ---------------------------------------------------------------------------------------------


def test_refresh_catches_up_with_another_writer_and_is_a_no_op_otherwise(tmp_path, monkeypatch):
    settings, _ = build(tmp_path)
    closed = []
    close = Index.close
    monkeypatch.setattr(Index, "close", lambda self: closed.append(self) or close(self))
    with Index.open(settings.index_dir, settings) as reader:
        assert reader.refresh() is False
        with Index.open(settings.index_dir, settings) as other:  # as `pathatlas remove beta.pdf` does
            other.remove_source("beta.pdf")
        hits = Searcher(reader).search(Query(text="beta page", k=5))
        assert "beta.pdf" in {Path(h.payload.source).name for h in hits}, "before refresh: the generation it opened"
        assert reader.refresh() is True
        assert [Path(key).name for key in reader.manifest] == ["alpha.pdf"]
        hits = Searcher(reader).search(Query(text="beta page", k=5))
        assert hits and {Path(h.payload.source).name for h in hits} == {"alpha.pdf"}
        assert reader.refresh() is False
    assert reader in closed


# -- 5. a store without its records ----------------------------------------------------------------------------------


def test_an_embedded_qdrant_index_whose_store_was_deleted_is_refused_until_indexed_again(tmp_path):
    settings, books = build(tmp_path, "qdrant")
    shutil.rmtree(settings.index_dir / "store")
    with pytest.raises(PathAtlasError, match="lists 2 source"):
        Index.open(settings.index_dir, settings)
    with pytest.raises(PathAtlasError, match="its store holds none"):
        Engine(settings)
    searched = run_cli("search", "alpha", "--index", settings.index_dir, home=settings.home)
    one_error_line(searched, "its store holds none", "`pathatlas index PATHS`")
    indexed = run_cli("index", *books, "--index", settings.index_dir, home=settings.home)
    assert indexed.exit_code == 0, indexed.output
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text="alpha page", k=3))
    assert hits and Path(hits[0].payload.source).name == "alpha.pdf"
