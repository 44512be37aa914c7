"""A figure search shows every figure: "lung" filtered to figures listed Figure 3.1 but never Figure 3.2 of the same
page (only an id in the first's ``also_on_page``), and "granuloma" gave 4 hits for the demo's 6 figures. A page's
records fold into one hit only where the search asks for a page's text."""

from __future__ import annotations

import pytest
from PIL import Image

from pathatlas.corpora.demo import build_demo_corpus
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings
from tests.retrieval.test_search_figures_and_snippet_windows import FakeIndex, FakeStore


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    """The demo corpus indexed with the hashing encoder, once for the module."""
    root = tmp_path_factory.mktemp("figure-hits")
    settings = hashing_settings(root)
    index = Index.open(settings.index_dir, settings, create=True)
    report = Indexer(index, show_progress=False).add([build_demo_corpus(root / "corpus")])
    assert not report.failed, report.failed
    return Searcher(index)


def figure_labels(searcher: Searcher) -> list[str]:
    """Every figure the index holds, by label."""
    return sorted(stored["figure"] for _, stored in searcher.index.store.scan({"kind": "figure"}))


@pytest.mark.parametrize("kind", ["figure", ["figure"], ["figure", "case"]])
@pytest.mark.parametrize("text", ["lung", "granuloma"])
def test_a_figure_search_gives_each_figure_its_own_hit(searcher, text, kind):
    figures = [hit for hit in searcher.search(Query(text=text, k=100, filters={"kind": kind})) if hit.kind == "figure"]
    assert len(figure_labels(searcher)) == 6, "the demo primer's figures"
    assert sorted(hit.citation.figure for hit in figures) == figure_labels(searcher)
    assert all(hit.also_on_page == [] for hit in figures), [hit.also_on_page for hit in figures]


def test_the_figure_a_word_names_comes_before_its_page_neighbour(searcher):
    """Two figures of page 3: each scored on its own words, not the page's."""
    hits = searcher.search(Query(text="lung", k=2, filters={"kind": "figure", "section": "Lung Carcinoma"}))
    assert [hit.citation.figure for hit in hits] == ["Figure 3.1", "Figure 3.2"]
    assert [hit.citation.page for hit in hits] == [3, 3]


@pytest.mark.parametrize("filters", [{}, {"kind": ["figure", "passage"]}, {"kind": "page"}])
def test_a_search_for_a_pages_text_still_folds_its_page(searcher, filters):
    hits = searcher.search(Query(text="lung carcinoma keratin pearls", k=20, filters=filters))
    pages = [(hit.citation.source, hit.citation.page) for hit in hits if hit.citation.page is not None]
    assert pages and len(pages) == len(set(pages)), "one hit a page"
    if filters.get("kind") != "page":  # a page's figures join its hit
        folded = [record_id for hit in hits if hit.kind == "page" for record_id in hit.also_on_page]
        assert "figure" in {stored["kind"] for stored in searcher.index.store.payloads(folded).values()}


def figure(number: int) -> dict:
    return {"kind": "figure", "source": "book.pdf", "page": 3, "figure": f"Figure 3.{number}", "text": "Lung"}


@pytest.mark.parametrize(("kind", "hits"), [("figure", 2), (["figure", "page"], 1)])
def test_an_image_search_for_figures_gives_each_figure_its_own_hit(tmp_path, kind, hits):
    """The same rule for an image query (``Searcher._hits``): two figures of a page are two hits of a figure search,
    one page's hit where pages are searched too."""
    index = FakeIndex(hashing_settings(tmp_path), FakeStore({"a": figure(1), "b": figure(2)}), tmp_path)
    searcher = Searcher(index)  # type: ignore[arg-type]  # the fake holds what _hits reads
    fused = searcher.fuse({"joint:image": [("a", 0.9), ("b", 0.8)]})
    found = searcher._hits(Query(image=Image.new("RGB", (32, 32)), k=5, filters={"kind": kind}), fused, None)
    assert len(found) == hits
    assert [hit.id for hit in found] + [m for hit in found for m in hit.also_on_page] == ["a", "b"]


@pytest.mark.parametrize(
    ("filters", "collapse", "folds"),
    [
        ({}, True, True),
        ({"kind": ["page", "passage"]}, True, True),
        ({"kind": ["figure", "passage"]}, True, True),
        ({"kind": "figure"}, True, False),
        ({"kind": ("figure", "case")}, True, False),
        ({"kind": "case"}, True, False),
        ({}, False, False),
    ],
)
def test_pages_fold_where_the_kinds_searched_hold_a_pages_text(filters, collapse, folds):
    assert Query(text="lung", filters=filters, collapse_pages=collapse).folds_pages is folds
