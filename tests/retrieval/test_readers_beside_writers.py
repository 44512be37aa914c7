"""Readers beside writers: an index open on the embedded Qdrant shard keeps searching (what it opened, less what was
deleted) after another store removed or re-indexed a source, and a closed one says so in one line; pages rendered
for the viewer beside PDFs being read add nothing to what MuPDF said of those readings."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymupdf
import pytest

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.indexer.records import Page
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.api.routes import media
from tests.indexer.test_pdf_reading import ROUNDS, glitched, handout, repaired_whole
from tests.retrieval.test_index_folder_faults import build, run

# -- 1. a reader's index beside another store's commits ----------------------------------------------------------------


def found_sources(searcher: Searcher, text: str) -> set[str]:
    return {Path(h.payload.source).name for h in searcher.search(Query(text=text, k=10))}


@pytest.mark.parametrize("store", ["qdrant", "faiss"])
def test_an_open_index_keeps_searching_after_another_removes_and_reindexes_a_source(tmp_path, store):
    """``pathatlas remove`` (a second ``Index.open``) deleted beta's points under an open embedded shard: its next
    searches failed with ``KeyError: '_id'`` (the points found, their payloads gone) until it was opened again."""
    settings, books = build(tmp_path, store=store)
    reader = Index.open(settings.index_dir, settings)
    searcher = Searcher(reader)
    try:
        assert found_sources(searcher, "beta page") == {"alpha.pdf", "beta.pdf"}
        assert run(settings, "remove", "beta.pdf", "--index", settings.index_dir).exit_code == 0
        for _ in range(2):  # every later search, not only the first
            assert "alpha.pdf" in found_sources(searcher, "beta page")
        assert run(settings, "index", books[0], "--force", "--index", settings.index_dir).exit_code == 0
        assert "alpha.pdf" in found_sources(searcher, "alpha page")
    finally:
        reader.close()
    reopened = Index.open(settings.index_dir, settings)
    try:
        assert found_sources(Searcher(reopened), "beta page") == {"alpha.pdf"}
    finally:
        reopened.close()


def test_searching_a_closed_qdrant_index_is_one_line_saying_to_open_it_again(tmp_path):
    settings, _ = build(tmp_path, store="qdrant")
    index = Index.open(settings.index_dir, settings)
    searcher = Searcher(index)
    index.close()
    with pytest.raises(PathAtlasError) as raised:
        searcher.search(Query(text="alpha page", k=3))
    assert str(raised.value) == f"the Qdrant store at {settings.index_dir / 'store'} is closed; open the index again"
    index.close()  # closing again does nothing


# -- 3. pages rendered for the viewer beside readings ------------------------------------------------------------------


def test_pages_rendered_beside_readings_add_nothing_to_what_mupdf_said_of_them(tmp_path, settings):
    """A page whose content MuPDF renders with syntax errors, rendered again and again in threads (a viewer's page
    requests) while a PDF MuPDF repaired whole and a damaged copy are read: the render's warnings went into the
    reading's, so the good PDF was refused as damaged, and ``pymupdf.open`` put back MuPDF's display setting under a
    reading's feet."""
    good = handout(tmp_path / "good.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(good[: len(good) // 2] + b"\n%%EOF\n")
    readings = [repaired_whole(tmp_path / "offset.pdf", good), tmp_path / "cut.pdf"]
    shown_page = str(glitched(tmp_path / "glitch.pdf"))
    settings = settings.model_copy(update={"page_render_dpi": 20})
    read_all = threading.Event()
    shown = pymupdf.TOOLS.mupdf_display_errors()

    def read(path) -> set[str]:
        outcomes = set()
        for _ in range(ROUNDS):
            source = PdfSource(path, settings)
            try:
                pages = [r for r in source.records() if isinstance(r, Page)]
            except BadInputError as exc:
                outcomes.add(str(exc).replace(str(tmp_path), ""))
            else:
                outcomes.add(f"{len(pages)} pages; problems: {' | '.join(source.problems)}")
        return outcomes

    def render() -> int:
        renders = 0
        while not read_all.is_set():
            media.render_page.__wrapped__((shown_page, "", 1, ((72, 60, 300, 80),), 40), 10**6)  # not a cache
            renders += 1
        return renders

    with ThreadPoolExecutor(len(readings) + 2) as pool:
        renderers = [pool.submit(render) for _ in range(2)]
        try:
            repaired, damaged = pool.map(read, readings)
        finally:
            read_all.set()
        assert all(r.result() > 0 for r in renderers)
    assert repaired == {"3 pages; problems: "}
    assert len(damaged) == 1 and "/cut.pdf is damaged: MuPDF repaired it and then failed to read it" in damaged.pop()
    assert pymupdf.TOOLS.mupdf_display_errors() == shown, "the last reading or render to finish put it back"
