"""Case images that are no plain files of a readable size: a named pipe listed beside a good image hung ``index``
forever in its read, holding the index's write lock; a 3 GB file was read whole (3.2 GB, 26 s) before it was found
no image. Each is now skipped in one problem line, the rest of the folder indexed."""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Case
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval import images
from pathatlas.retrieval.images import capped_bytes, max_image_bytes
from tests.helpers import hashing_settings

PIXEL_LIMIT = 1_000_000
"""``max_image_pixels`` of the size tests: with no headroom, a cap of 4,000,000 bytes (3.8 MB)."""
READ_SECONDS = 20
"""How long a look at a folder of one small image may take before it counts as hung."""


def case_folder(path: Path, *listed: str) -> Path:
    """A case folder listing good.jpg, a 64-pixel tile it holds, and ``listed``, each a case of its own."""
    path.mkdir()
    tile = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(tile).save(path / "good.jpg")
    rows = [{"image": name, "case": Path(name).stem} for name in ("good.jpg", *listed)]
    (path / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk: a slide scan's size without its bytes."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


def read_in_thread(source: CaseFolderSource, unblock: Path) -> list[Case]:
    """The source's records, read in a thread given ``READ_SECONDS``: a read that hangs fails the test instead of
    hanging it, and is then let go by opening the pipe ``unblock`` for writing (its reader sees an empty file)."""
    found: list[Case] = []
    reader = threading.Thread(target=lambda: found.extend(source.records()), daemon=True)
    reader.start()
    reader.join(READ_SECONDS)
    hung = reader.is_alive()
    if hung:
        os.close(os.open(unblock, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(READ_SECONDS)
    assert not hung, f"reading the case folder hung on {unblock}"
    return found


def test_a_listed_pipe_is_skipped_in_one_line_and_the_rest_indexed(tmp_path):
    folder = case_folder(tmp_path / "cases", "fifo.jpg")
    os.mkfifo(folder / "fifo.jpg")
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    found = read_in_thread(source, folder / "fifo.jpg")
    assert [case.case_id for case in found] == ["good"]
    assert source.problems == [f"{folder / 'fifo.jpg'} is not a regular file (a pipe, a device or a folder): skipped"]


@pytest.fixture
def no_headroom(monkeypatch) -> int:
    """Case images capped at their pixels alone (``IMAGE_HEADROOM_BYTES`` 0): the cap of ``PIXEL_LIMIT``, in bytes."""
    monkeypatch.setattr(images, "IMAGE_HEADROOM_BYTES", 0)
    return max_image_bytes(PIXEL_LIMIT)


def test_a_case_image_over_the_byte_cap_is_refused_by_its_size_and_the_rest_indexed(tmp_path, no_headroom):
    folder = case_folder(tmp_path / "cases", "slide.jpg")
    sparse_file(folder / "slide.jpg", 3 << 30)
    source = CaseFolderSource(folder, hashing_settings(tmp_path, max_image_pixels=PIXEL_LIMIT))
    assert [case.case_id for case in source.records()] == ["good"]
    assert source.problems == [
        f"{folder / 'slide.jpg'} is 3,072.0 MB, over the limit of 7.6 MB for an image "
        "(8 bytes a pixel of PATHATLAS_MAX_IMAGE_PIXELS): skipped"
    ]


def test_a_case_image_at_the_byte_cap_is_read(tmp_path, no_headroom):
    """The cap refuses only what is over it: a file of exactly its size is read, and refused as no image."""
    folder = case_folder(tmp_path / "cases", "slide.jpg")
    sparse_file(folder / "slide.jpg", no_headroom)
    source = CaseFolderSource(folder, hashing_settings(tmp_path, max_image_pixels=PIXEL_LIMIT))
    assert [case.case_id for case in source.records()] == ["good"]
    ((problem),) = source.problems
    assert problem.startswith(f"{folder / 'slide.jpg'} is not a readable image"), problem


def test_a_file_that_grew_after_its_size_was_checked_is_read_no_further_than_the_cap(tmp_path, monkeypatch):
    """A file found under the cap when checked (a scanner still writing it) is read up to the cap and one byte, then
    refused with the size it has grown to: its further bytes are never read into memory."""
    grown = sparse_file(tmp_path / "slide.jpg", 64 << 20)
    real_fstat, sizes_when_checked = os.fstat, iter([0])

    def checked_while_empty(fd: int) -> os.stat_result:
        fields = list(real_fstat(fd))
        fields[6] = next(sizes_when_checked, fields[6])  # st_size: 0 at the check, its own size after
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", checked_while_empty)
    tracemalloc.start()
    try:
        with pytest.raises(BadInputError, match=r"slide\.jpg is 64\.0 MB, over the limit of 0\.1 MB for an image"):
            capped_bytes(grown, str(grown), 100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak:,} bytes taken to refuse it"
