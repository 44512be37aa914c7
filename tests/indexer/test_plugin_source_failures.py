"""A plug-in ``Source`` that fails harms only itself: one whose ``accepts`` raises is skipped where it raised, in one
line naming it, while the built-ins index on; its failure in any other call is one line naming it and the source; and
a folder of its material indexed without it says which files no loaded source reads, and which plug-in read them."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathatlas.indexer.records import Record
from pathatlas.indexer.sources import discover
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.library import Atlas
from tests.helpers import one_error_line, quick, run_cli
from tests.indexer.test_text_source_plugin import TextFolderSource

HERE = f"py:{__name__}"


class TextNotes(TextFolderSource):
    """A folder of ``.txt`` files (``TextFolderSource``), named as a plug-in of this module."""

    kind = "text-notes"


class CannotTell(TextNotes):
    @classmethod
    def accepts(cls, path: Path) -> bool:
        raise ValueError("cannot read marker file")


class CannotTellUnreadable(TextNotes):
    @classmethod
    def accepts(cls, path: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(path))


class RecordsExplode(TextNotes):
    def records(self) -> Iterator[Record]:
        yield from list(super().records())[:1]
        raise RuntimeError("parser exploded")


class FingerprintFails(TextNotes):
    def fingerprint(self) -> str:
        raise RuntimeError("hash failed")


class SizeHintFails(TextNotes):
    def size_hint(self) -> int:
        raise RuntimeError("size failed")


@pytest.fixture
def notes(tmp_path) -> Path:
    """A folder of text notes, which only a plug-in reads."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "hodgkin.txt").write_text("Reed-Sternberg cells in Hodgkin lymphoma.")
    return folder


@pytest.fixture
def books(tmp_path) -> Path:
    """A folder holding one PDF, which the built-in reader reads."""
    make_pdf(tmp_path / "books" / "primer.pdf", 2, "primer")
    return tmp_path / "books"


def as_plugin(name: str) -> dict[str, str]:
    return {"PATHATLAS_SOURCES": json.dumps([f"{HERE}.{name}"])}


@pytest.mark.parametrize(
    ("plugin", "said"),
    [
        ("CannotTell", "ValueError: cannot read marker file"),
        ("CannotTellUnreadable", "PermissionError: [Errno 13] Permission denied"),
    ],
)
def test_a_plugin_that_cannot_tell_whether_it_reads_a_path_is_skipped_there_and_the_rest_indexed(
    tmp_path, notes, books, plugin, said
):
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.{plugin}"]) as atlas:
        reports = {Path(report["source"]).name: report for report in atlas.add(notes, books)}
        assert atlas.search("primer", k=1), "the PDF beside the plug-in's failure is searchable"
    assert "books" not in reports, "the folder the PDF reader read whole is no failure"
    for name, status, at in (("notes", "failed", notes), ("primer.pdf", "indexed", books)):
        (problem,) = reports[name]["problems"]
        assert reports[name]["status"] == status
        assert problem.startswith(f"source '{HERE}.{plugin}' failed to tell whether it reads {at}: {said}"), problem


def test_the_cli_says_a_plugin_that_cannot_tell_in_one_line_each_naming_it(tmp_path, notes, books):
    result = run_cli("index", notes, "--index", tmp_path / "index", home=tmp_path / "home", **as_plugin("CannotTell"))
    one_error_line(result, f"source '{HERE}.CannotTell' failed to tell whether it reads {notes}: ValueError")
    result = run_cli("index", books, "--index", tmp_path / "index", home=tmp_path / "home", **as_plugin("CannotTell"))
    assert result.exit_code == 0 and "error:" not in result.output, result.output
    assert "primer.pdf" in result.stdout and "indexed" in result.stdout and HERE in result.stdout, result.output


@pytest.mark.parametrize(
    ("plugin", "call", "said"),
    [
        ("RecordsExplode", "records", "RuntimeError: parser exploded"),
        ("FingerprintFails", "fingerprint", "RuntimeError: hash failed"),
        ("SizeHintFails", "size_hint", "RuntimeError: size failed"),
    ],
)
def test_a_plugin_failing_to_read_its_source_is_one_line_naming_it_and_the_source(
    tmp_path, notes, books, plugin, call, said
):
    result = run_cli(
        "index", notes, books, "--json", "--index", tmp_path / "index", home=tmp_path / "home", **as_plugin(plugin)
    )
    line = f"source '{HERE}.{plugin}': {call}() of {notes} failed: {said}"
    one_error_line(result, line)
    reports = {Path(report["source"]).name: report for report in json.loads(result.stdout)}
    assert reports["notes"]["status"] == "failed" and reports["notes"]["problems"] == [line]
    assert reports["primer.pdf"]["status"] == "indexed"


def test_a_folder_of_plugin_material_indexed_without_the_plugin_says_what_reads_none_and_which_plugin_did(
    tmp_path, notes
):
    home, index = tmp_path / "home", tmp_path / "index"
    assert run_cli("index", notes, "--index", index, home=home, **as_plugin("TextNotes")).exit_code == 0
    result = run_cli("index", notes, "--json", "--index", index, home=home)
    (report,) = json.loads(result.stdout)
    assert report["problems"] == [
        f"no PDFs, lecture notes or case folders found in {notes} (a case folder needs cases.jsonl or labels.csv; "
        "its .txt files are read by no loaded source: PATHATLAS_SOURCES adds plug-in ones); the index holds what is "
        f"there as read by source plug-in {HERE}.TextNotes, not loaded (set PATHATLAS_SOURCES): its records stay as "
        "indexed"
    ]
    assert one_error_line(result) == f"error: {report['problems'][0]}", "said once, as --json says it"


def test_a_folder_no_plugin_ever_read_names_no_plugin(tmp_path, notes):
    result = run_cli("index", notes, "--index", tmp_path / "index", home=tmp_path / "home")
    line = one_error_line(result, "its .txt files are read by no loaded source")
    assert "the index holds" not in line


class CannotTellWhereMarked(TextNotes):
    """Cannot tell in a folder holding a ``POISON`` file (one it may not read), as any plug-in may fail in one place."""

    @classmethod
    def accepts(cls, path: Path) -> bool:
        if (path / "POISON").exists():
            raise PermissionError(13, "Permission denied", str(path / "POISON"))
        return super().accepts(path)


def test_a_plugin_that_cannot_tell_in_one_folder_is_still_asked_of_the_folders_beside_it(tmp_path):
    """It was dropped for the whole walk: the folder beside the broken one was never read."""
    course = tmp_path / "course"
    for name in ("broken", "notes-a", "notes-b"):
        (course / name).mkdir(parents=True)
        (course / name / "page.txt").write_text(f"Notes of {name}: Reed-Sternberg cells.")
    (course / "broken" / "POISON").write_text("")
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.CannotTellWhereMarked"]) as atlas:
        reports = {Path(report["source"]).name: report["status"] for report in atlas.add(course)}
    assert reports == {"course": "failed", "notes-a": "indexed", "notes-b": "indexed"}, reports


def test_a_plugin_source_pickles_as_the_plugins_own_class(tmp_path, notes):
    """A plug-in may send itself to a process pool (``ProcessPoolExecutor.map(self.parse, files)``): the guarded
    subclass, named as the plug-in's class, was "not the same object" to pickle."""
    with Atlas(tmp_path / "index", **quick(tmp_path), sources=[f"{HERE}.TextNotes"]) as atlas:
        (source,) = discover([notes], atlas.settings)
    copy = pickle.loads(pickle.dumps(source))
    assert type(copy) is TextNotes and copy.path == source.path and copy.key == source.key
