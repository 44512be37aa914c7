"""Plug-ins fail alone on every path: a source plug-in that cannot tell whether it reads what the index holds fails
that source alone when the index is read again; the plug-in not loaded that read a path given is said wherever the
path's problems go (``--json``, ``Atlas.add``, REST); and a store that loses writes fails the source it lost, in one
line naming the store, its earlier version kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pathatlas.retrieval.stores.faiss_store import FaissStore
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.library import Atlas
from tests.helpers import one_error_line, quick, run_cli
from tests.indexer import test_plugin_source_failures as failures
from tests.indexer.test_plugin_source_failures import TextNotes

HERE = f"py:{__name__}"
notes, books = failures.notes, failures.books
"""Fixtures: a folder of text notes, which only a plug-in reads; a folder holding one PDF."""
LOCK = "locked"
"""A file that ``TellsUntilLocked`` fails to read, where it is in the folder asked about."""


class TellsUntilLocked(TextNotes):
    """Reads text notes until its folder holds ``LOCK``, which it cannot read: then it cannot tell whether it reads
    that folder. Other paths it answers as before."""

    @classmethod
    def accepts(cls, path: Path) -> bool:
        if (path / LOCK).exists():
            raise PermissionError(13, "Permission denied", str(path / LOCK))
        return super().accepts(path)


class DropsWrites(FaissStore):
    """FAISS that, while ``dropping``, keeps only every second record of each upsert: a store that loses writes."""

    dropping = False

    def upsert(self, records):
        super().upsert(records[::2] if self.dropping else records)


STORE = f"{HERE}.DropsWrites"


def held_sources(atlas: Atlas) -> dict[str, dict]:
    """The index's manifest, as its last commit left it."""
    return dict(atlas.index.manifest)


def test_reading_the_index_again_a_plugin_that_cannot_tell_fails_its_source_alone(tmp_path, notes, books):
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.TellsUntilLocked"]) as atlas:
        assert [r["status"] for r in atlas.add(notes, books)] == ["indexed", "indexed"]
        (notes / LOCK).write_text("")
        make_pdf(books / "primer.pdf", 2, "edited primer")
        reports = {Path(report["source"]).name: report for report in atlas.add()}
        assert atlas.search("Reed-Sternberg", k=1), "the notes' records stay searchable"
    assert reports["primer.pdf"]["status"] == "indexed", "the other source is read again"
    assert reports["notes"]["status"] == "failed"
    assert reports["notes"]["problems"] == [
        f"{notes}: source '{HERE}.TellsUntilLocked' failed to tell whether it reads {notes}: PermissionError: "
        f"[Errno 13] Permission denied: '{notes / LOCK}'; its records stay as indexed"
    ]


def test_the_cli_reading_the_index_again_reports_every_source_when_a_plugin_cannot_tell(tmp_path, notes, books):
    home, index = tmp_path / "home", tmp_path / "index"
    plugin = {"PATHATLAS_SOURCES": json.dumps([f"{HERE}.TellsUntilLocked"])}
    assert run_cli("index", notes, books, "--index", index, home=home, **plugin).exit_code == 0
    (notes / LOCK).write_text("")
    result = run_cli("index", "--json", "--index", index, home=home, **plugin)
    one_error_line(result, f"{notes}: source '{HERE}.TellsUntilLocked' failed to tell", "its records stay as indexed")
    statuses = {Path(report["source"]).name: report["status"] for report in json.loads(result.stdout)}
    assert statuses == {"notes": "failed", "primer.pdf": "unchanged"}


def test_a_path_a_plugin_not_loaded_read_names_it_in_its_problems_for_python_too(tmp_path, notes):
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.TellsUntilLocked"]) as atlas:
        assert [r["status"] for r in atlas.add(notes)] == ["indexed"]
    with Atlas(tmp_path / "index", **quick(tmp_path)) as atlas:
        (report,) = atlas.add(notes)
    (problem,) = report["problems"]
    assert report["status"] == "failed"
    assert problem.endswith(
        f"; the index holds what is there as read by source plug-in {HERE}.TellsUntilLocked, not loaded "
        "(set PATHATLAS_SOURCES): its records stay as indexed"
    ), problem


def test_a_store_that_loses_writes_fails_the_source_in_one_line_naming_the_store(tmp_path, books, monkeypatch):
    monkeypatch.setattr(DropsWrites, "dropping", True)
    result = run_cli("index", books, "--json", "--store", STORE, "--index", tmp_path / "index", home=tmp_path / "home")
    key = books / "primer.pdf"
    line = one_error_line(result, f"store '{STORE}' holds ", f" records written for {key}: this version of it was not")
    (report,) = json.loads(result.stdout)
    assert report["status"] == "failed" and f"error: {report['problems'][0]}" == line
    monkeypatch.setattr(DropsWrites, "dropping", False)
    info = run_cli("info", "--index", tmp_path / "index", "--json", home=tmp_path / "home", PATHATLAS_STORE=STORE)
    assert "primer" not in info.stdout, "no source is listed whose records the store lost"


def test_a_store_that_loses_the_writes_of_a_new_version_keeps_the_earlier_one(tmp_path, books, monkeypatch):
    book = books / "primer.pdf"
    with Atlas(tmp_path / "index", **quick(tmp_path), store=STORE) as atlas:
        assert [r["status"] for r in atlas.add(book)] == ["indexed"]
        earlier = held_sources(atlas)[str(book)]
        make_pdf(book, 4, "second edition")
        monkeypatch.setattr(DropsWrites, "dropping", True)
        (report,) = atlas.add(book)
        assert report["status"] == "failed"
        said = re.match(rf"store '{STORE}' holds (\d+) of the (\d+) ", report["problems"][0])
        held, written = map(int, said.groups())
        assert held == (written + 1) // 2, "one batch, every second record dropped"
        assert held_sources(atlas)[str(book)] == earlier
        assert atlas.index.record_counts()[earlier["fingerprint"]] == earlier["entries"]
