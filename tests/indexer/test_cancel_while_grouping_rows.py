"""A cancel while a case folder's rows are grouped into cases (``CaseFolderSource.records``): 200,000 rows took 1-1.5 s
to group, and a case of that many rows as long again to gather, before the first record and with no stop check. The
rows are counted as they are read, so the tests say how many rows are read between two checks, not how long it took."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import pytest

from pathatlas.indexer.pipeline import Cancelled, Indexer
from pathatlas.indexer.sources import cases
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.fingerprints import stoppable
from pathatlas.retrieval.index import Index
from tests.api.test_rest_questions_forms_and_cancel import png
from tests.helpers import hashing_settings
from tests.indexer.test_cancel_while_reading_metadata import stop

ROWS = 2_000
EVERY = 50
"""``STOP_EVERY_ROWS`` in these tests: 40 groups of rows, in a folder quick to read."""
IMAGES = 4
FOLDERS = {
    "a case per image": lambda n: f"img{n % IMAGES}.png,C{n % IMAGES},granuloma",
    "one case": lambda n: f"img{n % IMAGES}.png,C,granuloma",
    "no case ids": lambda n: f"img{n % IMAGES}.png,,granuloma",
}
"""Rows of the folders read here, by what their cases are: each row names one of ``IMAGES`` images."""


def case_folder(folder: Path, row: str, rows: int = ROWS) -> Path:
    """``folder`` made a case folder of ``IMAGES`` images and a labels.csv of ``rows`` rows (``FOLDERS``)."""
    folder.mkdir(parents=True)
    for n in range(IMAGES):
        (folder / f"img{n}.png").write_bytes(png((60 * n, 80, 160)))
    lines = "".join(FOLDERS[row](n) + "\n" for n in range(rows))
    (folder / "labels.csv").write_text("image,case,diagnosis\n" + lines, encoding="utf-8")
    return folder


class CountedRow(dict):
    """A metadata row that counts each read of its fields (``reads``, shared by all rows)."""

    reads = [0]

    def __getitem__(self, key):
        self.reads[0] += 1
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.reads[0] += 1
        return super().get(key, default)

    def __contains__(self, key):
        self.reads[0] += 1
        return super().__contains__(key)


def counted_source(folder: Path, settings) -> CaseFolderSource:
    """The folder's source, looked at (its fingerprint: ``records`` then reads the look's rows), its rows counting
    their reads from now on."""
    source = CaseFolderSource(folder, settings)
    rows = [CountedRow(row) for row in source.rows()]
    source.rows = lambda: rows
    source.fingerprint()
    CountedRow.reads[0] = 0
    return source


@pytest.fixture
def every(monkeypatch) -> int:
    """``STOP_EVERY_ROWS`` made ``EVERY``: a few thousand rows hold many groups."""
    monkeypatch.setattr(cases, "STOP_EVERY_ROWS", EVERY)
    return EVERY


@pytest.mark.parametrize("row", FOLDERS)
def test_records_read_a_group_of_rows_at_most_between_two_stop_checks(tmp_path, every, row):
    """Grouping the rows into cases (``case_ids``: four loops over them), finding each case's files and fields: about
    one group's reads of rows between two checks (a read or two of each row of a group), wherever the cases are.
    Before, all of them: 8,500-12,000 reads of 2,000 rows with no check."""
    source = counted_source(case_folder(tmp_path / "cases", row), hashing_settings(tmp_path))
    asked = []
    with stoppable(lambda: asked.append(CountedRow.reads[0])):
        records = list(source.records())
    reads = [0, *asked, CountedRow.reads[0]]
    longest = max(b - a for a, b in pairwise(reads))
    assert records and longest <= 2 * every, f"{longest} reads of rows without a check, of {reads[-1]}"


@pytest.mark.parametrize("row", FOLDERS)
def test_a_stop_while_the_rows_are_grouped_ends_the_records_before_the_first(tmp_path, every, row, monkeypatch):
    """Stopped at its first check in ``records``, a group of rows at most was read and no image: the check came while
    the rows were grouped (before, once all were grouped: 8,500-10,000 reads of 2,000 rows)."""
    source = counted_source(case_folder(tmp_path / "cases", row), hashing_settings(tmp_path))
    read = []
    monkeypatch.setattr(cases, "read_image", lambda *args: read.append(args))
    with stoppable(stop), pytest.raises(Cancelled):
        next(source.records())
    assert CountedRow.reads[0] <= every, f"{CountedRow.reads[0]} reads of rows before the stop"
    assert not read, f"{len(read)} images read before the stop"


def test_a_case_of_rows_over_a_group_keeps_its_first_values_and_names_its_conflicts_in_order(tmp_path, every):
    """The rows of one case gone through in groups keep their order: the first row's diagnosis is kept, and a problem
    names each other value by the first row that gives it, as when a case's rows were one list."""
    folder = case_folder(tmp_path / "cases", "one case", rows=3 * every)
    with (folder / "labels.csv").open("a", encoding="utf-8") as handle:
        handle.write("img1.png,C,fibrosis\nimg2.png,C,Granuloma\nimg3.png,C,necrosis\n")
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    with stoppable(lambda: None):
        (case,) = source.records()
    assert case.diagnosis == "granuloma"
    conflicts = [problem for problem in source.problems if "disagree" in problem]
    assert len(conflicts) == 1
    assert "'granuloma' (img0.png) vs 'fibrosis' (img1.png) vs 'necrosis' (img3.png)" in conflicts[0]


def test_records_find_the_metadata_file_once_not_once_a_case(tmp_path, monkeypatch):
    """Each look-up of the metadata file asks the disk (an ``is_file`` or two): once a case with an image, it was 8% of
    the CPU time of 20,000 cases of one small image each."""
    source = CaseFolderSource(
        case_folder(tmp_path / "cases", "a case per image", rows=IMAGES), hashing_settings(tmp_path)
    )
    source.fingerprint()
    found, finding = [], CaseFolderSource.metadata_path.fget
    monkeypatch.setattr(CaseFolderSource, "metadata_path", property(lambda self: found.append(1) or finding(self)))
    assert len(list(source.records())) == IMAGES
    assert len(found) == 1


def test_an_index_run_stopped_while_a_case_folder_s_rows_are_grouped_reads_no_image(tmp_path, every, monkeypatch):
    """As a REST job: its look callback (``on_look``) raises once a cancel is asked, here as the rows are grouped. The
    records are read in ``pipeline.prefetched``'s thread, which did not carry the check ``stoppable`` set: the run read
    every image, then stopped as the source was committed. It stops at the grouping's next check."""
    folder = case_folder(tmp_path / "cases", "a case per image")
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    asked, read = threading.Event(), []
    grouping, reading = cases.group_cases, cases.read_image

    def asked_then_grouped(rows):
        asked.set()
        return grouping(rows)

    def check(*_) -> None:
        if asked.is_set():
            stop()

    monkeypatch.setattr(cases, "group_cases", asked_then_grouped)
    monkeypatch.setattr(cases, "read_image", lambda *args: read.append(args) or reading(*args))
    try:
        with pytest.raises(Cancelled):
            Indexer(index, show_progress=False, on_look=check).add([folder])
    finally:
        index.close()
    assert not read, f"{len(read)} images read after the cancel"
