"""Finding sources in a folder followed links without knowing where it had been: ``ln -s .. up`` inside it read one
PDF 41 times, and a link to ``/`` walked the whole disk before anything was indexed (thirty-eighth session)."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from pathatlas.indexer.sources import discover
from pathatlas.settings import Settings


def pdf(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Koilocytes show a perinuclear halo.")
    doc.save(path)
    return path


def found(path: Path) -> list[Path]:
    return [source.path for source in discover([path], Settings(index=path / "idx"))]


def test_a_link_back_up_the_folder_is_not_followed(tmp_path):
    book = pdf(tmp_path / "in" / "loop" / "more.pdf")
    (tmp_path / "in" / "loop" / "sub").mkdir()
    (tmp_path / "in" / "loop" / "sub" / "up").symlink_to("..")
    assert found(tmp_path / "in" / "loop") == [book]


def test_a_link_to_a_folder_elsewhere_is_followed_once(tmp_path):
    elsewhere = pdf(tmp_path / "shelf" / "atlas.pdf")
    mine = pdf(tmp_path / "course" / "notes.pdf")
    (tmp_path / "course" / "shelf").symlink_to(tmp_path / "shelf")
    (tmp_path / "course" / "again").symlink_to(tmp_path / "shelf")
    sources = found(tmp_path / "course")
    assert mine in sources and len(sources) == 2, sources
    assert sum(path.name == elsewhere.name for path in sources) == 1
