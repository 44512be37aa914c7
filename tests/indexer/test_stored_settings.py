"""Settings that change what an index stores are honoured by the next plain ``index``: a new thumbnail size
(``STORED_SETTINGS``) re-reads every source and leaves each stored thumbnail at the new size, encoding nothing again,
without ever overwriting the thumbnails of the version still committed; a case folder is read again when the image
size limit that left an image out is raised."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from tests.indexer.test_figure_reuse import figured_pdf
from tests.indexer.test_text_reuse import case_folder, small_passages


@pytest.fixture
def settings(tmp_path) -> Settings:
    """The counting encoder (it keeps what it encoded); the words printed in figures not read."""
    return small_passages(tmp_path, figure_ocr=False)


def sized_cases(folder: Path, sides: list[int]) -> Path:
    """One square noise image a case, of each side in pixels, each with a diagnosis of its own."""
    return case_folder(folder, [f"diagnosis {number}" for number in range(len(sides))], sides)


def indexed(settings: Settings, paths: list[Path]) -> tuple[Index, Indexer, list[str]]:
    """``pathatlas index PATHS`` in process with ``settings``: the index, its indexer (``tally``) and the statuses."""
    index = Index.open(settings.index_dir, settings, create=True)
    indexer = Indexer(index, show_progress=False)
    report = indexer.add(paths)
    return index, indexer, [source.status for source in report.sources]


def thumbnail_sides(index: Index) -> dict[str, int]:
    """Record id to the longest side of its stored thumbnail, of every committed record that has one."""
    paths = {record_id: index.thumbnail_path(record_id) for record_id, _ in index.store.scan()}
    return {record_id: max(Image.open(path).size) for record_id, path in paths.items() if path.is_file()}


def corpus(tmp_path: Path) -> list[Path]:
    """A PDF of text pages with figures and a plate, and a case folder of two images larger than any thumbnail."""
    return [figured_pdf(tmp_path / "book.pdf", [1, 2]), sized_cases(tmp_path / "cases", [500, 450])]


def test_a_new_thumbnail_size_remakes_every_thumbnail_and_encodes_nothing(settings, tmp_path):
    paths = corpus(tmp_path)
    index, _, _ = indexed(settings, paths)
    before = thumbnail_sides(index)
    assert max(before.values()) == settings.thumbnail_px
    index.close()

    smaller = settings.model_copy(update={"thumbnail_px": 48})
    index, indexer, statuses = indexed(smaller, paths)

    assert statuses == ["indexed", "indexed"]
    after = thumbnail_sides(index)
    assert len(after) == len(before) and set(after.values()) == {48}  # pages, figures, the plate and case images
    assert indexer.tally["texts", "encoded"] == indexer.tally["images", "encoded"] == 0
    assert indexer.tally["texts", "reused"] > 0 and indexer.tally["images", "reused"] > 0
    assert (indexer.tally["thumbnails", "made"], indexer.tally["thumbnails", "reused"]) == (len(after), 0)
    media = {path.name.split(".", 1)[0] for path in index.media_dir.iterdir()}
    assert media == set(after), "the old size's files go with the records they were of"


def test_the_same_thumbnail_size_again_leaves_sources_unchanged(settings, tmp_path):
    paths = corpus(tmp_path)
    smaller = settings.model_copy(update={"thumbnail_px": 48})
    indexed(smaller, paths)[0].close()

    assert indexed(smaller, paths)[2] == ["unchanged", "unchanged"]


def test_a_run_killed_before_its_commit_leaves_the_committed_thumbnails_as_they_were(settings, tmp_path, monkeypatch):
    paths = corpus(tmp_path)
    index, _, _ = indexed(settings, paths)
    committed = {rid: index.thumbnail_path(rid).read_bytes() for rid in thumbnail_sides(index)}
    index.close()

    def killed(self, sources=None):
        raise KeyboardInterrupt  # as a kill: no ``except Exception`` cleans up after it

    smaller = settings.model_copy(update={"thumbnail_px": 48})
    with monkeypatch.context() as patched:
        patched.setattr(Index, "commit", killed)
        with pytest.raises(KeyboardInterrupt):
            indexed(smaller, paths)

    reopened = Index.open(settings.index_dir, settings)
    assert {rid: reopened.thumbnail_path(rid).read_bytes() for rid in thumbnail_sides(reopened)} == committed
    reopened.close()
    index, _, statuses = indexed(smaller, paths)  # the next run clears what the killed one wrote, and commits
    assert statuses == ["indexed", "indexed"] and set(thumbnail_sides(index).values()) == {48}


def test_every_source_is_read_again_for_a_new_thumbnail_size_a_plug_in_s_too(settings, tmp_path):
    class Slides(CaseFolderSource):
        """A plug-in declaring no settings of its own."""

        reads_settings = ()

    pdf, folder = corpus(tmp_path)
    smaller = settings.model_copy(update={"thumbnail_px": 48})
    for source_type, path in ((PdfSource, pdf), (CaseFolderSource, folder), (Slides, folder)):
        assert source_type(path, Settings()).reading() == {}, "an index made with the defaults keeps its fingerprints"
        read, read_smaller = source_type(path, settings).reading(), source_type(path, smaller).reading()
        assert read_smaller == {**read, "thumbnail_px": 48}


def test_a_case_image_left_out_as_too_large_is_indexed_once_the_limit_is_raised(settings, tmp_path):
    folder = sized_cases(tmp_path / "cases", [40, 100])
    index, _, _ = indexed(settings.model_copy(update={"max_image_pixels": 5000}), [folder])
    held = index.manifest[str(folder)]
    assert held["entries"] == 1 and "100x100" in " ".join(held["problems"])
    index.close()

    index, _, statuses = indexed(settings, [folder])

    assert statuses == ["indexed"] and index.manifest[str(folder)]["entries"] == 2
