"""A plug-in source failing to tell whether it reads a path that a built-in reads is said once, in that path's row,
which is not failed (a path both fail on is one failed row naming both); a store that loses writes fails the source
at its commit, in one line naming the store and how many records it lost, and the source is not indexed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Record
from pathatlas.indexer.sources.base import Source
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.stores.faiss_store import FaissStore
from pathatlas.settings import Settings
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.library import Atlas
from tests.helpers import hashing_settings, one_error_line, quick, run_cli
from tests.retrieval import test_qdrant_secrets

server = test_qdrant_secrets.server
"""Fixture: a client for any Qdrant URL opens qdrant-client's local copy (a folder), as a server."""

HERE = f"py:{__name__}"
SAID = "RuntimeError: cannot read its marker file"


class CannotTell(Source):
    """The smallest plug-in source the protocol allows, its ``accepts`` raising on every path."""

    kind = "marked"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        raise RuntimeError("cannot read its marker file")

    def fingerprint(self) -> str:
        return ""

    def size_hint(self) -> int:
        return 0

    def records(self) -> Iterator[Record]:
        return iter(())


PLUGIN = {"PATHATLAS_SOURCES": json.dumps([f"{HERE}.CannotTell"])}


def undecided(path: Path) -> str:
    return f"source '{HERE}.CannotTell' failed to tell whether it reads {path}: {SAID}"


@pytest.fixture
def books(tmp_path) -> Path:
    """A folder holding one PDF, which the built-in reader reads."""
    make_pdf(tmp_path / "books" / "primer.pdf", 2, "primer")
    return tmp_path / "books"


def test_a_folder_of_one_pdf_is_one_indexed_row_naming_the_plugin_once(tmp_path, books):
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.CannotTell"]) as atlas:
        reports = atlas.add(books)
    assert [(Path(r["source"]).name, r["status"], r["problems"]) for r in reports] == [
        ("primer.pdf", "indexed", [undecided(books)])
    ]


def test_a_pdf_a_plugin_cannot_tell_of_is_one_row_on_every_run_and_no_failure(tmp_path, books):
    home, index, pdf = tmp_path / "home", tmp_path / "index", books / "primer.pdf"
    for status, paths in (("indexed", [pdf]), ("unchanged", [pdf]), ("unchanged", [])):  # [] reads the index's again
        result = run_cli("index", *paths, "--json", "--index", index, home=home, **PLUGIN)
        assert result.exit_code == 0, result.output
        (report,) = json.loads(result.stdout)
        assert (report["status"], report["problems"]) == (status, [undecided(pdf)])


def test_a_path_both_fail_on_is_one_failed_row_naming_both_reasons(tmp_path):
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4 cut short")
    result = run_cli("index", damaged, "--json", "--index", tmp_path / "index", home=tmp_path / "home", **PLUGIN)
    line = one_error_line(result, str(damaged), "not a readable PDF")
    (report,) = json.loads(result.stdout)
    assert report["status"] == "failed" and report["problems"] == [line.removeprefix("error: "), undecided(damaged)]


def test_a_folder_holding_files_no_reader_takes_still_fails_on_the_plugin(tmp_path, books):
    """Its ``.txt`` notes may be what the plug-in reads: unread, they are no path read by another source."""
    (books / "hodgkin.txt").write_text("Reed-Sternberg cells")
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.CannotTell"]) as atlas:
        reports = {Path(report["source"]).name: report for report in atlas.add(books)}
    assert (reports["books"]["status"], reports["books"]["problems"]) == ("failed", [undecided(books)])
    assert (reports["primer.pdf"]["status"], reports["primer.pdf"]["problems"]) == ("indexed", [])


class LosesWrites(FaissStore):
    """FAISS whose ``upsert`` returns having stored nothing while ``losing``."""

    losing = True

    def upsert(self, records):
        if not self.losing:
            super().upsert(records)


class KeepsEveryOther(FaissStore):
    """FAISS that stores every second record of each ``upsert``."""

    def upsert(self, records):
        super().upsert(records[::2])


class HoldsWritesUntilCommit(FaissStore):
    """A store that writes only at its commit (as a server may buffer writes): it loses nothing."""

    def __init__(self, location, dims, settings, version=None):
        super().__init__(location, dims, settings, version=version)
        self.held: list = []

    def upsert(self, records):
        self.held += records

    def commit(self):
        super().upsert(self.held)
        self.held = []
        super().commit()


@pytest.mark.parametrize(("store", "said"), [("LosesWrites", "4 of the 4"), ("KeepsEveryOther", "2 of the 4")])
def test_a_store_that_loses_writes_is_one_line_naming_it_and_the_source_is_not_indexed(tmp_path, books, store, said):
    home, index, pdf = tmp_path / "home", tmp_path / "index", books / "primer.pdf"
    result = run_cli("index", books, "--json", "--store", f"{HERE}.{store}", "--index", index, home=home)
    line = one_error_line(result, f"store '{HERE}.{store}' lost {said} records written for {pdf}")
    (report,) = json.loads(result.stdout)
    assert report["status"] == "failed" and report["problems"] == [line.removeprefix("error: ")]
    assert not (index / "manifest.json").exists(), "no generation lists the source"


def test_a_store_that_loses_the_writes_of_a_new_version_keeps_the_earlier_one(tmp_path, books, monkeypatch):
    pdf = books / "primer.pdf"
    monkeypatch.setattr(LosesWrites, "losing", False)
    with Atlas(tmp_path / "index", **quick(tmp_path), store=f"{HERE}.LosesWrites") as atlas:
        assert [report["status"] for report in atlas.add(pdf)] == ["indexed"]
        earlier = dict(atlas.index.manifest[str(pdf)])
        make_pdf(pdf, 3, "second edition")
        monkeypatch.setattr(LosesWrites, "losing", True)
        (report,) = atlas.add(pdf)
        assert report["status"] == "failed" and f"lost 6 of the 6 records written for {pdf}" in report["problems"][0]
        assert atlas.index.manifest[str(pdf)] == earlier
        assert atlas.index.record_counts()[earlier["fingerprint"]] == earlier["entries"]
        assert atlas.search("primer", k=1), "the earlier version is still found"


def indexed_twice(settings: Settings, pdf: Path) -> tuple[list[str], int]:
    """The statuses of indexing ``pdf``, then a new version of it, and the records the store holds of that one."""
    with Index.open(settings.index_dir, settings, create=True) as index:
        statuses = [Indexer(index, show_progress=False).add([pdf]).sources[0].status]
        make_pdf(pdf, 3, "second edition")
        statuses.append(Indexer(index, show_progress=False).add([pdf]).sources[0].status)
        return statuses, index.record_counts()[index.manifest[str(pdf)]["fingerprint"]]


@pytest.mark.parametrize(
    "store",
    [
        {"store": "faiss"},
        {"store": "qdrant"},
        {"store": "qdrant", "qdrant_url": ":memory:"},
        {"store": "qdrant", "qdrant_url": "twin"},
        {"store": f"{HERE}.HoldsWritesUntilCommit"},
    ],
    ids=["faiss", "qdrant-edge", "qdrant-memory", "qdrant-local", "holds-writes-until-commit"],
)
def test_no_store_that_keeps_its_writes_is_refused_on_a_new_source_or_version(tmp_path, books, store):
    """A count before the store's commit failed every source of a store writing only then ("holds 0 of the 4")."""
    if store.get("qdrant_url") == "twin":
        store = {**store, "qdrant_url": str(tmp_path / "twin")}
    statuses, held = indexed_twice(hashing_settings(tmp_path, **store), books / "primer.pdf")
    assert statuses == ["indexed", "indexed"] and held == 6


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")  # the "server" is a local copy
def test_a_qdrant_server_is_not_refused_for_the_spelling_of_its_counts(tmp_path, books, server):
    """The tests' server (qdrant-client's local copy behind a URL) counts each fingerprint under a dashed UUID: read
    as they came, its counts said it held 0 of the records written."""
    settings = hashing_settings(tmp_path, store="qdrant", qdrant_url="https://qdrant.test:6333")
    statuses, held = indexed_twice(settings, books / "primer.pdf")
    assert statuses == ["indexed", "indexed"] and held == 6
