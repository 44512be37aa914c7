"""A case folder's fingerprint and content hash cover what its records are made of: its metadata file and the images
it lists, one of them over the image byte cap by its size (it is skipped unread). A whole-slide file beside them was
read whole at every look: a 5 GB one cost 36 s an ``index`` and 39 s each ``info`` once touched. Hashing encoder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources import fingerprints
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.fingerprints import content_hash, on_disk
from pathatlas.retrieval.images import max_image_bytes
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import calls_to, hashing_settings, two_cases

SMALL_CAP_PIXELS = 48 * 48
"""``max_image_pixels`` that reads ``two_cases``' images, whose byte cap (``max_image_bytes``: 64 MB and 18 kB) a sparse
file passes at no cost."""


def hashed_names(monkeypatch) -> list[tuple]:
    """The calls hashing a file's bytes from now on (``hash_into``: fingerprints and content hashes alike)."""
    return calls_to(monkeypatch, "hash_into", fingerprints)


def names(calls: list[tuple]) -> set[str]:
    return {path.name for _, path in calls}


def moved_on(path: Path) -> None:
    """``touch``: the file's modification time moved on, surely (coarse file system clocks)."""
    found = path.stat()
    os.utime(path, ns=(found.st_atime_ns, found.st_mtime_ns + 2_000_000_000))


def with_huge_image(folder: Path) -> Path:
    """``folder`` listing huge.jpg too, a sparse file one byte over the byte cap of ``SMALL_CAP_PIXELS``; returns it."""
    huge = folder / "huge.jpg"
    huge.touch()
    os.truncate(huge, max_image_bytes(SMALL_CAP_PIXELS) + 1)
    with (folder / "labels.csv").open("a") as labels:
        labels.write("huge.jpg,C-3,angiosarcoma\n")
    return huge


def test_a_file_no_row_lists_is_not_read_and_changes_nothing(tmp_path, monkeypatch):
    folder = two_cases(tmp_path / "cases")
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    before = source.fingerprint(), source.content_hash()
    hashed = hashed_names(monkeypatch)
    slide = folder / "BS1.svs"
    slide.write_bytes(b"a whole-slide image")
    assert (source.fingerprint(), source.content_hash()) == before, "added"
    moved_on(slide)
    slide.write_bytes(b"another scan")
    assert (source.fingerprint(), source.content_hash()) == before, "touched and edited"
    assert "BS1.svs" not in names(hashed)
    slide.unlink()
    assert (source.fingerprint(), source.content_hash()) == before, "removed"


def test_a_listed_image_or_the_metadata_file_edited_still_changes_the_folder(tmp_path):
    folder = two_cases(tmp_path / "cases")
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    seen = [(source.fingerprint(), source.content_hash())]
    Image.new("RGB", (48, 48), "green").save(folder / "c0.png")
    seen.append((source.fingerprint(), source.content_hash()))
    (folder / "labels.csv").write_text("image,case,diagnosis\nc0.png,C-1,sarcoidosis\nc1.png,C-2,fibrosis\n")
    seen.append((source.fingerprint(), source.content_hash()))
    assert len({fingerprint for fingerprint, _ in seen}) == len({content for _, content in seen}) == 3


def test_a_listed_image_over_the_byte_cap_is_known_by_its_size_unread(tmp_path, monkeypatch):
    folder = two_cases(tmp_path / "cases")
    huge = with_huge_image(folder)
    source = CaseFolderSource(folder, hashing_settings(tmp_path, max_image_pixels=SMALL_CAP_PIXELS))
    hashed = hashed_names(monkeypatch)
    before = source.fingerprint(), source.content_hash()
    assert names(hashed) == {"labels.csv", "c0.png", "c1.png"}
    list(source.records())
    assert any(str(huge) in problem and "skipped" in problem for problem in source.problems), source.problems
    moved_on(huge)
    assert (source.fingerprint(), source.content_hash()) == before, "touched: skipped as before"
    os.truncate(huge, huge.stat().st_size + 1)
    grown = source.fingerprint(), source.content_hash()
    assert grown[0] != before[0] and grown[1] != before[1], "its problem names its size"
    assert "huge.jpg" not in names(hashed)


def test_touching_a_slide_beside_the_images_and_one_over_the_cap_leaves_the_folder_as_indexed(tmp_path, monkeypatch):
    """``info`` and the served images: the stat signature changed, so the folder's content was hashed again, slides
    included; ``index``: unchanged."""
    settings = hashing_settings(tmp_path, max_image_pixels=SMALL_CAP_PIXELS)
    folder = two_cases(tmp_path / "cases")
    huge = with_huge_image(folder)
    slide = folder / "BS1.svs"
    slide.touch()
    os.truncate(slide, max_image_bytes(SMALL_CAP_PIXELS) + 1)
    with Index.open(settings.index_dir, settings, create=True) as index:
        (report,) = Indexer(index, show_progress=False).add(folder).sources
        assert report.status == "indexed", report
        moved_on(huge)
        moved_on(slide)
        hashed = hashed_names(monkeypatch)
        assert on_disk(str(folder), index.manifest[str(folder)], settings) == "ok"
        (again,) = Indexer(index, show_progress=False).add(folder).sources
        assert again.status == "unchanged", again
    assert not names(hashed) & {"huge.jpg", "BS1.svs"}


def test_a_pdf_and_a_folder_no_reader_takes_keep_their_content_hash(tmp_path):
    """Manifests and a PDF's render keys keep it: every file's name and bytes, as before."""
    book = make_pdf(tmp_path / "book.pdf", 2, "osteon")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.bin").write_bytes(os.urandom(fingerprints.HASH_BLOCK + 1))
    for path, files in [(book, [book]), (folder, sorted(folder.iterdir()))]:
        digest = hashlib.blake2b(digest_size=16)
        for file in files:
            bytes_digest = hashlib.blake2b(file.read_bytes()).digest()
            digest.update(os.fsencode(file.relative_to(path)) + b"\0" + bytes_digest)
        assert content_hash(path) == digest.hexdigest(), path.name
