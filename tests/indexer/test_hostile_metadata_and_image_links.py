"""Hostile-upload leftovers (s36, s2): a cancel asked while a source was looked at (a 200,000-row metadata file read
for its fingerprint) was not seen until its first record was read; a ``cases.jsonl`` line had no length cap where a
``labels.csv`` field has csv's, and a metadata file of any number of rows was read whole; an MCP ``image_path`` was
checked inside the allowed folder, then opened again by name, so a link put in its place between the two was read
wherever it led."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Cancelled, Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval import datasets
from pathatlas.retrieval.datasets import read_case_metadata
from pathatlas.retrieval.index import Index
from pathatlas.ui.tools import RefusedImagePath, Toolbox
from tests.helpers import hashing_settings
from tests.indexer.test_progress_units_and_case_cards import case_folder

LINE_CHARS = csv.field_size_limit()
"""A metadata line's cap: a ``labels.csv`` field's, csv's own."""


# -- 1. a cancel asked while a source is looked at ------------------------------------------------------------------
def test_a_cancel_asked_while_a_case_folder_is_fingerprinted_stops_before_any_record_is_read(tmp_path, monkeypatch):
    """The cancel (raised by the progress callback, as ``DELETE /jobs/{id}`` does) comes while the folder's
    fingerprint is taken: no record of it is read, and the index keeps the version it last committed."""
    folder = case_folder(tmp_path / "cases", 3)
    settings = hashing_settings(tmp_path)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([folder]).failed
        committed = dict(index.manifest)
    (folder / "cases.jsonl").write_text(
        "".join(json.dumps({"image": f"img{n}.png", "diagnosis": "changed"}) + "\n" for n in range(3))
    )
    cancel_requested, records_read = [], []
    fingerprint, records = CaseFolderSource.fingerprint, CaseFolderSource.records
    monkeypatch.setattr(CaseFolderSource, "fingerprint", lambda self: cancel_requested.append(1) or fingerprint(self))
    monkeypatch.setattr(CaseFolderSource, "records", lambda self: records_read.append(1) or records(self))

    def progress(source: str, done: int, total: int) -> None:
        if cancel_requested:
            raise Cancelled("the job was cancelled")

    with Index.open(settings.index_dir, settings) as index, pytest.raises(Cancelled):
        Indexer(index, show_progress=False, on_progress=progress).add([folder])
    assert records_read == []
    with Index.open(settings.index_dir, settings) as index:
        assert index.manifest == committed


# -- 2. a case folder's metadata file: lines capped, rows counted before they are read --------------------------------
def test_a_jsonl_line_over_the_csv_field_cap_is_refused_naming_its_file_and_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    long_row = {"image": "a.png", "description": "x" * LINE_CHARS}
    path.write_text(json.dumps({"image": "b.png"}) + "\n" + json.dumps(long_row) + "\n")
    with pytest.raises(BadInputError, match=rf"^{path} line 2 is over 131,072 characters long; a row lists one image"):
        read_case_metadata(path)


def test_a_line_just_under_the_cap_is_read(tmp_path):
    path = tmp_path / "cases.jsonl"
    row = {"image": "a.png", "description": ""}
    row["description"] = "x" * (LINE_CHARS - len(json.dumps(row)) - 1)  # with its line end: the cap
    path.write_text(json.dumps(row) + "\n")
    assert read_case_metadata(path)[0]["description"] == row["description"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("cases.jsonl", "".join(json.dumps({"image": f"{n}.png"}) + "\n" for n in range(5))),
        ("labels.csv", "image,diagnosis\n" + "".join(f"{n}.png,granuloma\n" for n in range(4))),
    ],
)
def test_a_metadata_file_of_more_lines_than_a_case_folder_lists_is_refused(tmp_path, monkeypatch, name, text):
    """Five lines where at most three are taken (``MAX_METADATA_LINES``, made small here): refused in one line, the
    rows after the cap not read."""
    monkeypatch.setattr(datasets, "MAX_METADATA_LINES", 3, raising=False)
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadInputError, match=rf"^{path} has over 3 lines, more than a case folder lists: split it"):
        read_case_metadata(path)


# -- 3. an MCP image_path opened once ---------------------------------------------------------------------------------
class FakeEngine:
    """What ``Toolbox._image`` asks of its engine: the settings."""

    def __init__(self, root: Path):
        self.settings = hashing_settings(root)


def swapped_after_check(monkeypatch, toolbox: Toolbox, swap) -> None:
    """``swap`` runs once ``image_path`` was checked inside the allowed folder, before it is read."""
    allowed_file = Toolbox._allowed_file
    monkeypatch.setattr(toolbox, "_allowed_file", lambda image_path: (allowed_file(toolbox, image_path), swap())[0])


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path, Toolbox]:
    """An allowed folder holding ``sub/slide.png``, a secret image outside it, and tools allowed to read the first."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    Image.new("RGB", (32, 32), "blue").save(allowed / "sub" / "slide.png")
    Image.new("RGB", (32, 32), "red").save(outside / "slide.png")
    return allowed, outside, Toolbox(FakeEngine(tmp_path), [allowed])


def test_an_image_path_read_as_checked_gives_its_image(folders):
    allowed, _, toolbox = folders
    assert toolbox._image(None, str(allowed / "sub" / "slide.png")).getpixel((0, 0)) == (0, 0, 255)


def test_an_image_swapped_for_a_link_after_its_check_is_not_read(folders, monkeypatch):
    allowed, outside, toolbox = folders
    image = allowed / "sub" / "slide.png"

    def swap() -> None:
        image.unlink()
        image.symlink_to(outside / "slide.png")

    swapped_after_check(monkeypatch, toolbox, swap)
    with pytest.raises(RefusedImagePath, match="^cannot read image slide.png: Too many levels of symbolic links$"):
        toolbox._image(None, str(image))


def test_a_folder_above_the_image_swapped_for_a_link_after_its_check_is_not_read(folders, monkeypatch):
    allowed, outside, toolbox = folders
    given = str(allowed / "sub" / "slide.png")

    def swap() -> None:
        (allowed / "sub").rename(allowed / "kept")
        (allowed / "sub").symlink_to(outside)

    swapped_after_check(monkeypatch, toolbox, swap)
    with pytest.raises(RefusedImagePath, match=f"^{given} is outside the folders this server may read$"):
        toolbox._image(None, given)


def test_a_fifo_in_the_allowed_folder_is_refused_without_waiting_for_a_writer(folders):
    allowed, _, toolbox = folders
    pipe = allowed / "pipe.png"
    os.mkfifo(pipe)
    with pytest.raises(RefusedImagePath, match=f"^{pipe} is not a regular file$"):
        toolbox._image(None, str(pipe))
