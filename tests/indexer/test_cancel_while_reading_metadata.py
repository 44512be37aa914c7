"""A REST job's cancel that no handler swallows, seen while a case folder's metadata is read (in the prune, count and
look steps, between its rows), and that metadata read once per job. Hashing encoder: no model is the point."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Cancelled
from pathatlas.indexer.sources import cases
from pathatlas.indexer.sources.cases import CaseFolderSource, rows_read_once
from pathatlas.indexer.sources.fingerprints import stoppable
from pathatlas.retrieval import datasets
from pathatlas.retrieval.datasets import read_case_metadata
from pathatlas.ui.api.uploads import listed_names, remove_unread_images
from tests.api.test_rest_questions_forms_and_cancel import png
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, book_service, upload, zipped

ROWS = 2_000
"""Rows of the case folders read here: each names one of ``IMAGES`` images, one case each image."""
IMAGES = 4
HELD_AT_LINE = 50
"""The line of the metadata file at which a read waits for the job's cancel."""


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A service on a two-page book (its index: the sources a cancelled job must leave as they were)."""
    with book_service(tmp_path_factory.mktemp("s38"), "cancel") as served:
        yield served


def labels(folder: str = "", rows: int = ROWS) -> str:
    """A labels.csv of ``rows`` rows naming ``IMAGES`` images (``folder``-i.png), one case each."""
    lines = "".join(f"{folder}-{n % IMAGES}.png,{folder}-C{n % IMAGES},granuloma\n" for n in range(rows))
    return "image,case,diagnosis\n" + lines


def case_folder(folder: Path, rows: int = ROWS, unlisted: int = 0) -> Path:
    """``folder`` made a case folder of ``rows`` rows (``labels``) and its images, and ``unlisted`` images no row
    names; returns it."""
    folder.mkdir(parents=True)
    for n in range(IMAGES + unlisted):
        (folder / f"{folder.name}-{n}.png").write_bytes(png((40 * n % 256, 80, 160)))
    (folder / "labels.csv").write_text(labels(folder.name, rows), encoding="utf-8")
    return folder


def case_members(folder: str) -> list[tuple[str, bytes]]:
    """The zip members of a case folder ``atlas/<folder>`` as ``case_folder`` makes it."""
    images = [(f"atlas/{folder}/{folder}-{n}.png", png((40 * n, 80, 160))) for n in range(IMAGES)]
    return [(f"atlas/{folder}/labels.csv", labels(folder).encode()), *images]


def stop() -> None:
    """A stop check once a cancel was asked."""
    raise Cancelled("stopped")


def stopping_at(call: int) -> Callable[[], None]:
    """A stop check that stops at its ``call``-th call."""
    calls = []

    def check() -> None:
        calls.append(True)
        if len(calls) == call:
            raise Cancelled("stopped")

    return check


# -- 1. a cancel is no bad input and no failure ---------------------------------------------------------------------
def test_a_cancel_while_an_upload_s_unlisted_images_are_found_stops_before_any_is_deleted(tmp_path):
    """``listed_names`` took a cancel for a metadata file it cannot read (``except PathAtlasError``): the folder kept
    every image, and the job went on to count its sources."""
    folder = case_folder(tmp_path / "atlas" / "cases", rows=10, unlisted=1)
    source = CaseFolderSource(folder, api_settings(tmp_path))
    with stoppable(stop), pytest.raises(Cancelled):
        listed_names(source)
    with stoppable(stop), pytest.raises(Cancelled):
        remove_unread_images(tmp_path / "atlas", api_settings(tmp_path))
    assert (folder / "cases-4.png").is_file(), "an image deleted by a step that was stopped"


def test_a_cancel_while_a_job_counts_its_sources_is_not_counted_as_none(client, tmp_path):
    """``Jobs.size_hints`` counts nothing for a source it cannot read (``except Exception``): a cancel was one."""
    folder = case_folder(tmp_path / "cases", rows=10)
    with stoppable(stop), pytest.raises(Cancelled):
        client.app.state.jobs.size_hints([folder])


# -- 2. a metadata file's read may stop between its rows ------------------------------------------------------------
@pytest.mark.parametrize("name", ["labels.csv", "cases.jsonl"])
def test_a_metadata_read_asks_its_stop_check_between_lines_rows_and_files(tmp_path, name):
    """200,000 rows took 3.5-6 s to read with no chance to stop: the check is asked for each line read, each row
    cleaned and each listed file looked for on disk, so a stop raised in any of the three phases ends the read."""
    folder = case_folder(tmp_path / "cases", rows=100)
    if name == "cases.jsonl":
        rows = csv.DictReader(io.StringIO(labels("cases", 100)))
        (folder / "labels.csv").unlink()
        (folder / name).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    asked = []
    read_case_metadata(folder / name, between_rows=lambda: asked.append(True))
    assert len(asked) >= 3 * 100, f"{len(asked)} checks for 100 rows"
    for call in (50, 150, 250):  # stopped among the lines, the rows, the files
        with pytest.raises(Cancelled):
            read_case_metadata(folder / name, between_rows=stopping_at(call))


# -- 3. a cancel during a job's metadata read -----------------------------------------------------------------------
class HeldRead:
    """``datasets.metadata_lines`` counted: the ``held``-th read waits at ``HELD_AT_LINE`` for the job's cancel
    (``asked``), and the lines read after it are kept (``after``)."""

    def __init__(self, monkeypatch, held: int):
        self.held, self.reads, self.after = held, [], []
        self.reading, self.asked = threading.Event(), threading.Event()
        self.lines = datasets.metadata_lines
        monkeypatch.setattr(datasets, "metadata_lines", self.counted)

    def counted(self, path: Path, between_lines=datasets.go_on):
        self.reads.append(path)
        read = len(self.reads)
        for number, line in enumerate(self.lines(path, between_lines)):
            if self.asked.is_set():
                self.after.append(line)
            if read == self.held and number == HELD_AT_LINE:
                self.reading.set()
                assert self.asked.wait(30)
            yield line


def prepared_thread(job_id: str) -> threading.Thread | None:
    """The thread that removes a job's unlisted images and counts its sources (``Jobs._prepared``), while it runs."""
    return next((thread for thread in threading.enumerate() if thread.name == f"prepare-{job_id}"), None)


@pytest.mark.parametrize("step", ["prune", "count", "look"])
def test_a_cancel_asked_while_a_job_reads_a_case_folder_s_metadata_stops_the_job_there(
    client, tmp_path, monkeypatch, step
):
    """The job reads a 2,000-row metadata file: to remove an upload's unlisted images (prune: after the upload's own
    read, its twin check's ``content_hash``), to count a folder's sources (count: a folder indexed in place has nothing
    to prune), or to look at it (look: its file changed since it was counted, as one touched meanwhile is read again).
    A cancel asked at its 50th line ends the job cancelled, the index as it was, and the read with it: no line read
    after it, no read after it (the prune and count steps' own thread went on to read the file whole, then again, once
    the job had ended)."""
    jobs = client.app.state.jobs
    before = client.get("/sources").json()
    held = HeldRead(monkeypatch, held=1 if step == "count" else 2)
    if step == "prune":
        job_id = upload(client, "atlas.zip", zipped(*case_members("held"))).json()["id"]
    else:
        folder = case_folder(tmp_path / "held")
        if step == "look":
            counted = jobs.size_hints

            def counted_then_touched(paths):
                hints = counted(paths)
                found = (folder / "labels.csv").stat()
                os.utime(folder / "labels.csv", ns=(found.st_atime_ns, found.st_mtime_ns + 1_000_000))
                return hints

            monkeypatch.setattr(jobs, "size_hints", counted_then_touched)
        job_id = jobs.submit("held", [folder]).id
    try:
        assert held.reading.wait(60), job_ended(client, job_id)
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 202
    finally:
        held.asked.set()
    ended = job_ended(client, job_id, timeout=30)
    if (preparing := prepared_thread(job_id)) is not None:
        preparing.join(30)
    assert (ended["status"], ended["error"]) == ("cancelled", None)
    assert len(held.after) <= 1, f"{len(held.after)} lines read after the cancel"
    assert len(held.reads) == held.held, f"read {len(held.reads)} times"
    assert client.get("/sources").json() == before


# -- 4. a case folder's metadata read once a job --------------------------------------------------------------------
def test_an_uploaded_zip_s_job_reads_each_case_folder_s_metadata_once(client, monkeypatch):
    """Its unlisted images removed, its sources counted, its look: three reads of each folder's metadata (3.5-6 s each
    at 200,000 rows), one now, after the one of the upload's twin check (``content_hash``: the images its rows list).
    What is indexed is what a folder's look outside a job finds: the same fingerprint."""
    held = HeldRead(monkeypatch, held=0)
    job_id = upload(client, "twice.zip", zipped(*case_members("one"), *case_members("two"))).json()["id"]
    ended = job_ended(client, job_id)
    assert ended["status"] == "done", ended
    assert sorted(path.parent.name for path in held.reads) == ["one", "one", "two", "two"]
    engine = client.app.state.engine
    keys = [key for key in engine.index.manifest if Path(key).name in ("one", "two")]
    assert len(keys) == 2
    for key in keys:
        outside = CaseFolderSource(Path(key), engine.settings).fingerprint()
        assert engine.index.manifest[key]["fingerprint"] == outside
        assert engine.index.manifest[key]["entries"] == IMAGES


def test_rows_read_once_reads_a_changed_file_again(tmp_path):
    """Within the block a folder's rows are read once while its metadata file is unchanged, and again once it is
    edited; outside it, at each ask."""
    folder = case_folder(tmp_path / "cases", rows=10)
    source = CaseFolderSource(folder, api_settings(tmp_path))
    assert source.rows() is not source.rows()
    with rows_read_once():
        first = source.rows()
        assert CaseFolderSource(folder, api_settings(tmp_path)).rows() is first
        with (folder / "labels.csv").open("a", encoding="utf-8") as handle:
            handle.write("cases-0.png,cases-C9,fibrosis\n")
        assert len(source.rows()) == 11


def test_rows_read_once_keeps_at_most_as_many_rows_as_one_folder_may_list(tmp_path, monkeypatch):
    """200,000 rows take 120 MB: a zip of many such folders would hold them all for its job. The rows past
    ``KEPT_ROWS_MAX`` are read at each ask, as before."""
    monkeypatch.setattr(cases, "KEPT_ROWS_MAX", 15)
    first = CaseFolderSource(case_folder(tmp_path / "first", rows=10), api_settings(tmp_path))
    second = CaseFolderSource(case_folder(tmp_path / "second", rows=10), api_settings(tmp_path))
    with rows_read_once():
        assert first.rows() is first.rows()
        assert second.rows() is not second.rows()


def test_a_job_s_look_at_a_case_folder_whose_metadata_was_read_keeps_its_fingerprint(tmp_path):
    """The look takes the rows the job read before it (``rows_read_once``), and hashes the file as it did."""
    folder = case_folder(tmp_path / "cases", rows=30, unlisted=1)
    settings = api_settings(tmp_path)
    alone = CaseFolderSource(folder, settings).fingerprint()
    with rows_read_once():
        listed_names(CaseFolderSource(folder, settings))
        assert CaseFolderSource(folder, settings).fingerprint() == alone


def test_a_read_that_may_stop_reads_what_it_read_before(tmp_path):
    """The read that may stop reads what it read: rows, their fields and their images' spelling on disk."""
    folder = case_folder(tmp_path / "cases", rows=3)
    decomposed = "cafe\u0301.png"
    Image.new("RGB", (48, 48)).save(folder / decomposed)
    with (folder / "labels.csv").open("a", encoding="utf-8") as handle:
        handle.write("caf\u00e9.png,cafe,granuloma\n")
    rows = read_case_metadata(folder / "labels.csv", between_rows=lambda: None)
    assert rows == read_case_metadata(folder / "labels.csv")
    assert rows[-1] == {"image": decomposed, "case": "cafe", "diagnosis": "granuloma"}
