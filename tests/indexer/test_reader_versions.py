"""Each source reader versions its own records (``Source.records_version``): a release that changes the PDF reader
reads PDFs again and only checks case folders, and the other way round; a plug-in's bump reads its sources again; an
index written when every reader shared version 14 is not read again. A case folder's listed names are resolved once a
read. Hashing encoder throughout."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Passage, Record
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.fingerprints import reader_versions
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import POINTER_FILE, Index
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new, run_cli, two_cases

SHARED_VERSION = 14
"""The records version every built-in reader hashed and recorded before each had its own."""
READERS = {"book.pdf": PdfSource, "cases": CaseFolderSource}
"""The ``library`` fixture's sources and their readers."""


class NotesSource(Source):
    """A plug-in reader of ``*.notes`` files, one passage each, versioning its records as its own."""

    kind = "notes"
    records_version = 15  # a plug-in's own versions start above the one every reader once shared

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix == ".notes"

    def fingerprint(self) -> str:
        return hash_files([self.path], self.reading(), self.records_version)

    def size_hint(self) -> int:
        return 1

    def records(self) -> Iterator[Record]:
        text = self.path.read_text()
        yield Passage(source=self.key, fingerprint=self.fingerprint(), page=1, index=0, text=text, bbox=(0, 0, 1, 1))


NOTES_READER = f"py:{__name__}.NotesSource"


def indexed_library(root: Path) -> tuple[Path, Path, Path]:
    """A home, a book and a case folder indexed into ``root/index`` by ``pathatlas index``."""
    home, book = root / "home", make_pdf(root / "lib" / "book.pdf", 2, "alpha")
    folder = two_cases(root / "lib" / "cases")
    assert run_cli("index", book, folder, "--index", root / "index", home=home).exit_code == 0
    return home, book, folder


@pytest.fixture
def library(tmp_path) -> tuple[Path, Path, Path]:
    return indexed_library(tmp_path)


def edit_manifest(index: Path, change: Callable[[dict], object]) -> None:
    """The index's committed manifest changed in place by ``change`` (each source entry given to it)."""
    pointer = json.loads((index / POINTER_FILE).read_text())
    for entry in pointer["sources"].values():
        change(entry)
    (index / POINTER_FILE).write_text(json.dumps(pointer))


def index_run(home: Path, index: Path) -> dict[str, str]:
    """``pathatlas index --index INDEX --json`` (every source the index holds): each source's status."""
    result = run_cli("index", "--index", index, "--json", home=home)
    assert result.exit_code == 0, result.output
    return {Path(source["source"]).name: source["status"] for source in json.loads(result.stdout)}


def info(home: Path, index: Path) -> dict:
    result = run_cli("info", "--index", index, "--json", home=home)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("read_again", "checked"), [("book.pdf", "cases"), ("cases", "book.pdf")])
def test_a_reader_s_new_version_reads_again_only_its_own_sources(tmp_path, library, monkeypatch, read_again, checked):
    home, *_ = library
    index = tmp_path / "index"
    bumped = READERS[read_again]
    monkeypatch.setattr(bumped, "records_version", bumped.records_version + 1)
    described = info(home, index)
    older = {Path(key).name: source["older_reader"] for key, source in described["sources"].items()}
    assert older == {read_again: True, checked: False}
    assert [Path(key).name for key in described["upgrade"]["older_sources"]] == [read_again]
    assert described["upgrade"]["reader_versions"] == {bumped.kind: bumped.records_version}

    assert index_run(home, index) == {read_again: "indexed", checked: "unchanged"}
    assert index_run(home, index) == {read_again: "unchanged", checked: "unchanged"}
    versions = {Path(key).name: entry["records_version"] for key, entry in info(home, index)["sources"].items()}
    assert versions == {name: reader.records_version for name, reader in READERS.items()}
    assert info(home, index)["upgrade"] is None


def test_a_plugin_reader_is_read_again_when_it_bumps_its_version(tmp_path, monkeypatch):
    settings = hashing_settings(tmp_path, sources=[NOTES_READER])
    notes = tmp_path / "lib" / "granuloma.notes"
    book = make_pdf(tmp_path / "lib" / "book.pdf", 2, "alpha")
    notes.write_text("Caseating granuloma with Langhans giant cells.")
    index_new(settings, notes, book)
    with Index.open(settings.index_dir, settings) as index:
        entry = index.manifest[str(notes)]
        assert (entry["reader"], entry["records_version"]) == (NOTES_READER, NotesSource.records_version)
        assert index.upgrade(reader_versions(settings)) is None

        monkeypatch.setattr(NotesSource, "records_version", NotesSource.records_version + 1)
        upgrade = index.upgrade(reader_versions(settings))
        assert upgrade.older_sources == {str(notes): NotesSource.records_version - 1}
        assert f"this one's: {NOTES_READER} {NotesSource.records_version})" in upgrade.reasons()[0]
        report = Indexer(index, show_progress=False).add([notes, book])
        assert {Path(s.source).name: s.status for s in report.sources} == {
            "granuloma.notes": "indexed",
            "book.pdf": "unchanged",
        }
        assert index.upgrade(reader_versions(settings)) is None


def fingerprint_as_hashed_before(paths: list[Path], reading: dict[str, object], records_version: int) -> str:
    """A source's fingerprint as the release before hashed it, its records version given: with 14, as it hashed every
    source."""
    digest = hashlib.blake2b(f"records-v{records_version}".encode(), digest_size=16)
    for name, value in sorted(reading.items()):
        digest.update(f"{name}={value!r}\0".encode())
    for path in paths:
        digest.update(str(path.resolve()).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_an_index_written_before_readers_had_versions_of_their_own_is_read_again_only_where_its_reader_changed(
    tmp_path,
):
    """Each built-in reader starts at the shared version (a lower one would take a version-13 entry for its own) and
    hashes as before, so an index the release before wrote (every source hashed and recorded as version 14, no reader
    recorded) is read again only for the readers changed since."""
    with pytest.MonkeyPatch.context() as before:
        for reader in READERS.values():
            before.setattr(reader, "records_version", SHARED_VERSION)
        home, book, folder = indexed_library(tmp_path)
    index = tmp_path / "index"
    edit_manifest(index, lambda entry: entry.pop("reader") and entry.update(records_version=SHARED_VERSION))
    settings = hashing_settings(tmp_path)
    pdf, cases = PdfSource(book, settings), CaseFolderSource(folder, settings)
    listed = [folder / "labels.csv", folder / "c0.png", folder / "c1.png"]
    assert pdf.fingerprint() == fingerprint_as_hashed_before([book], pdf.reading(), pdf.records_version)
    assert cases.fingerprint() == fingerprint_as_hashed_before(listed, cases.reading(), cases.records_version)
    assert min(reader.records_version for reader in READERS.values()) >= SHARED_VERSION

    changed = {name: reader.records_version > SHARED_VERSION for name, reader in READERS.items()}
    older = {Path(key).name: source["older_reader"] for key, source in info(home, index)["sources"].items()}
    assert older == changed
    assert index_run(home, index) == {name: "indexed" if new else "unchanged" for name, new in changed.items()}


def test_a_version_13_index_is_older_for_its_pdfs_and_its_case_folders(tmp_path, library):
    home, *_ = library
    index = tmp_path / "index"
    edit_manifest(index, lambda entry: entry.update(records_version=SHARED_VERSION - 1))
    described = info(home, index)
    assert {source["older_reader"] for source in described["sources"].values()} == {True}
    assert described["upgrade"]["reader_versions"] == {
        reader.kind: reader.records_version for reader in READERS.values()
    }


def test_upgrade_lists_only_the_sources_of_the_readers_that_changed(tmp_path, library):
    _, book, folder = library
    settings = hashing_settings(tmp_path)
    pdf, cases = PdfSource.records_version, CaseFolderSource.records_version
    with Index.open(settings.index_dir, settings) as index:
        assert index.upgrade({"pdf": pdf, "cases": cases}) is None
        upgrade = index.upgrade({"pdf": pdf + 1, "cases": cases})
        assert upgrade.older_sources == {str(book): pdf}
        assert upgrade.reasons() == [
            f"1 source(s) were read by an older PathAtlas reader (records version {pdf}; this one's: pdf {pdf + 1})"
        ]
        assert index.upgrade({"cases": cases + 2}).older_sources == {str(folder): cases}
        assert index.upgrade({}) is None, "a reader not loaded tells nothing of its sources"


def test_a_case_folder_s_names_are_resolved_once_a_read(tmp_path, monkeypatch):
    """Its look resolved every listed name, and its records resolved each case's again: as long again at 200,000
    rows (24 s here)."""
    folder = two_cases(tmp_path / "cases")
    resolved, resolve = [], CaseFolderSource._image_paths

    def counted(source, rows):
        resolved.append(len(rows))
        return resolve(source, rows)

    monkeypatch.setattr(CaseFolderSource, "_image_paths", counted)
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    source.fingerprint()
    cases = list(source.records())
    assert resolved == [2]
    assert [(case.case_id, [image for image, _ in case.images]) for case in cases] == [
        ("C-1", ["c0.png"]),
        ("C-2", ["c1.png"]),
    ]


class PlainNotesSource(NotesSource):
    """A plug-in reader written before readers had versions of their own: it declares none."""

    records_version = Source.records_version

    def fingerprint(self) -> str:
        return hash_files([self.path], self.reading())


def test_a_plugin_declaring_no_version_hashes_its_sources_as_the_release_before(tmp_path):
    """A plug-in's sources indexed when every reader hashed version 14 keep their fingerprints (a default of 1 read
    them all again, unannounced), and count as read by this reader."""
    notes = tmp_path / "granuloma.notes"
    notes.write_text("Caseating granuloma.")
    source = PlainNotesSource(notes, hashing_settings(tmp_path))
    assert source.fingerprint() == fingerprint_as_hashed_before([notes], source.reading(), SHARED_VERSION)
    assert source.records_version == SHARED_VERSION
