"""Plug-ins fail alone on every path: a source plug-in that cannot tell whether it reads what the index holds fails
that source alone when the index is read again; the plug-in not loaded that read a path given is said wherever the
path's problems go (``--json``, ``Atlas.add``, REST)."""

from __future__ import annotations

import json
from pathlib import Path

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
