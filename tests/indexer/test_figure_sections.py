"""A figure carries its page's bookmark path, so chapter and section filters find figures too (they found none: a
student filtering a book's chapter 25 to its figures got "no hits")."""

from __future__ import annotations

from pathatlas.corpora.demo import build_demo_corpus
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.fusion import section_of
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings


def test_chapter_and_section_filters_find_the_figures_there(tmp_path):
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False).add([build_demo_corpus(tmp_path / "corpus")])
    searcher = Searcher(index)
    figures = searcher.search(Query(text="granuloma", k=10, filters={"kind": "figure"}))
    assert {hit.payload.section for hit in figures} == {
        "Cervical Epithelium and HPV",
        "Granulomatous Inflammation",
        "Lung Carcinoma",
        "Lymphoid Neoplasms",
    }
    in_chapter = searcher.search(Query(text="granuloma", k=10, filters={"kind": "figure", "chapter": "2"}))
    assert [hit.payload.figure for hit in in_chapter] == ["Figure 2.1"]
    in_section = searcher.search(Query(text="lung", k=10, filters={"kind": "figure", "section": "Lung Carcinoma"}))
    assert [hit.payload.figure for hit in in_section] == ["Figure 3.1", "Figure 3.2"], "each figure its own hit"
    # a figure is no second page of its section: the sections-first order does not push it back
    assert all(section_of(hit.payload) is None for hit in figures)
