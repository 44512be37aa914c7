"""An upgrade (a newer reader of the same PDF) renders no page found by its text again: the manifest keeps what decides
every page render (``pdf.drawing_key``: the file's bytes, its page objects, the render settings, MuPDF's version and
``pdf.RENDERING``), and where the new reading's key is the same, each such page's record takes its earlier thumbnail
key and the indexer copies its thumbnail. The index ends as a fresh build of the new reader makes it, byte for byte;
a changed key, a page found by its image, or an earlier thumbnail missing renders the page as before."""

from __future__ import annotations

import json

import pytest

from pathatlas.indexer.bench import newer_reader
from pathatlas.indexer.sources.pdf import drawing as pdf_drawing
from pathatlas.indexer.sources.pdf import ocr as pdf_ocr
from pathatlas.indexer.sources.pdf import source as pdf_source
from pathatlas.indexer.sources.pdf.drawing import EarlierRenders, drawing_key
from pathatlas.retrieval.index import Index
from tests.indexer.test_figure_reuse import figured_pdf, thumbnailed
from tests.indexer.test_text_reuse import PAGES, assert_as_from_scratch, build, small_passages, upgrade, write_pdf


@pytest.fixture
def settings(tmp_path):
    """The counting encoder; the words printed in figures not read (no tesseract run)."""
    return small_passages(tmp_path, figure_ocr=False)


def renders(monkeypatch) -> list[int]:
    """The (1-based) number of each page rendered from here on, in the order rendered."""
    numbers: list[int] = []
    real = pdf_drawing.render

    def counted(page, *args, **kwargs):
        numbers.append(page.number + 1)
        return real(page, *args, **kwargs)

    monkeypatch.setattr(pdf_source, "render", counted)  # a thumbnail
    monkeypatch.setattr(pdf_ocr, "render", counted)  # a scan for tesseract
    return numbers


def thumbnails_of(index: Index) -> dict[str, bytes]:
    """Record id to its thumbnail's bytes, of every record of the committed index that has one."""
    paths = {record_id: index.thumbnail_path(record_id) for record_id, _ in index.store.scan()}
    return {record_id: path.read_bytes() for record_id, path in paths.items() if path.exists()}


def test_an_upgrade_renders_no_text_page_and_ends_as_a_fresh_build(settings, tmp_path, monkeypatch):
    pdf_path = figured_pdf(tmp_path / "book.pdf", [1, 2])  # two text pages with figures, then a plate
    build(settings, pdf_path)

    calls, made = renders(monkeypatch), thumbnailed(monkeypatch)
    with newer_reader():
        index, texts, images, statuses = upgrade(settings)
        calls, made = list(calls), list(made)  # not the build from scratch's below
        assert (statuses, texts, images) == (["indexed"], [], 0)
        assert calls == [3]  # the plate, found by its image, whose pixels are encoded
        assert made == []
        assert_as_from_scratch(index, settings, pdf_path, tmp_path)  # every payload (thumbnail keys too) and vector
    scratch = tmp_path / "scratch"
    assert thumbnails_of(index) == thumbnails_of(Index.open(scratch, settings.model_copy(update={"index": scratch})))


def test_the_manifest_keeps_the_drawing_a_forced_run_renders_anew(settings, tmp_path, monkeypatch):
    pdf_path = write_pdf(tmp_path / "book.pdf", PAGES)
    index, _ = build(settings, pdf_path)
    drawing = index.manifest[str(pdf_path.resolve())]["drawing"]
    index.close()

    calls = renders(monkeypatch)
    index, _, _, statuses = upgrade(settings, force=True)

    assert statuses == ["indexed"] and len(calls) == 3  # forced: everything made anew
    assert index.manifest[str(pdf_path.resolve())]["drawing"] == drawing  # the same bytes and settings


@pytest.mark.parametrize("change", ["another rendering", "the PDF edited"])
def test_a_page_drawn_otherwise_is_rendered_again(settings, tmp_path, monkeypatch, change):
    """Another ``RENDERING`` (a release drawing pages otherwise) or other bytes: no earlier render is taken, and a page
    whose pixels are the same still copies its thumbnail by them (``Payload.thumbnail_hash``)."""
    pdf_path = write_pdf(tmp_path / "book.pdf", PAGES)
    build(settings, pdf_path)
    if change == "another rendering":
        monkeypatch.setattr(pdf_drawing, "RENDERING", pdf_drawing.RENDERING + 1)
    else:
        write_pdf(pdf_path, [PAGES[0], [PAGES[1][0], "surfactant keeps the alveoli from collapsing"], PAGES[2]])

    calls, made = renders(monkeypatch), thumbnailed(monkeypatch)
    with newer_reader():
        index, _, _, statuses = upgrade(settings)
        calls, made = list(calls), list(made)  # not the build from scratch's below
        assert_as_from_scratch(index, settings, pdf_path, tmp_path)

    assert statuses == ["indexed"] and len(calls) == 3
    assert [entry.payload.page for entry, _ in made] == ([] if change == "another rendering" else [2])


def test_a_page_whose_earlier_thumbnail_is_gone_is_rendered_and_thumbnailed_again(settings, tmp_path, monkeypatch):
    pdf_path = write_pdf(tmp_path / "book.pdf", PAGES)
    index, _ = build(settings, pdf_path)
    (second,) = [record_id for record_id, payload in index.store.scan({"kind": "page"}) if payload["page"] == 2]
    index.thumbnail_path(second).unlink()
    index.close()

    calls, made = renders(monkeypatch), thumbnailed(monkeypatch)
    with newer_reader():
        index, _, _, statuses = upgrade(settings)
        calls, made = list(calls), list(made)  # not the build from scratch's below
        assert_as_from_scratch(index, settings, pdf_path, tmp_path)

    assert statuses == ["indexed"]
    assert calls == [2]
    assert [entry.payload.page for entry, _ in made] == [2]
    assert len(thumbnails_of(index)) == 3


def test_a_manifest_s_drawing_is_json_and_the_render_key_holds_what_decides_a_render(settings, tmp_path):
    """The key changes with the file's bytes, the page objects read, the render's resolution and pixel cap."""
    import pymupdf

    pdf_path = write_pdf(tmp_path / "book.pdf", PAGES)
    with pymupdf.open(pdf_path) as doc:
        key = drawing_key("bytes", doc, settings)
        assert drawing_key("bytes", doc, settings) == key
        assert drawing_key("other bytes", doc, settings) != key
        assert drawing_key(None, doc, settings) is None
        for setting, value in [("page_render_dpi", 41), ("max_page_pixels", 10_000)]:
            assert drawing_key("bytes", doc, settings.model_copy(update={setting: value})) != key
        doc.move_page(2, 0)
        assert drawing_key("bytes", doc, settings) != key
    index, _ = build(settings, pdf_path)
    json.dumps(index.manifest)


def test_a_reading_without_a_drawing_key_keeps_no_earlier_render(settings, tmp_path, monkeypatch):
    """A file that could not be hashed has no key, nor had an index written before the key: None equal to None kept
    earlier renders with nothing showing the PDF draws alike."""
    pdf_path = write_pdf(tmp_path / "book.pdf", PAGES)
    monkeypatch.setattr(pdf_source.PdfSource, "content_hash", lambda source: None)
    source = pdf_source.PdfSource(pdf_path, settings)
    source.earlier = EarlierRenders(None, {number: "page 256px earlier" for number in range(1, len(PAGES) + 1)})
    rendered = renders(monkeypatch)
    pages = [record for record in source.records() if type(record).__name__ == "Page"]
    assert source.drawing is None and all(page.image is not None for page in pages)
    assert rendered == list(range(1, len(PAGES) + 1))
