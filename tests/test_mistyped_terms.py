"""A mistyped word finds what it meant: BM25 reads a query term no document holds as the held term one edit away
(``lexical.held``), for stems of six letters or more; shorter words and words held as typed stay as they are."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.lexical import LexicalIndex, edits

PAGES = {
    "remodel": "Osteoclasts resorb old bone while osteoblasts lay down new bone.",
    "nerve": "The myelin sheath insulates the axon of a neuron.",
    "cold": "Cool water slows the heart.",
    "stem": "Pluripotent stem cells give rise to every blood cell.",
}


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build((rid, {"source": rid, "text": text}) for rid, text in PAGES.items())


def found(index: LexicalIndex, query: str) -> list[str]:
    return [rid for rid, _ in index.search([query], 10)[0]]


@pytest.mark.parametrize(
    ("query", "page"),
    [("osteoclasst", "remodel"), ("meylin sheath", "nerve"), ("pleuripotent", "stem"), ("osteoblats", "remodel")],
)
def test_a_word_one_edit_from_a_held_one_finds_its_pages(index, query, page):
    assert found(index, query)[:1] == [page], found(index, query)


def test_short_words_and_words_two_edits_away_find_nothing_they_did_not_mean(index):
    assert found(index, "cook") == [], "a four-letter word's neighbour 'cool' is another word"
    assert found(index, "osteclasst") == [], "two edits from 'osteoclast'"


def test_a_held_word_is_read_as_typed_not_as_a_neighbour(index):
    assert index.held("myelin") == "myelin" and index.held("zzzzzzzz") is None
    assert found(index, "myelin") == ["nerve"]


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [("myelin", "meylin", 1), ("osteoclast", "osteoclasst", 1), ("resorpt", "resorbt", 1), ("abc", "abc", 0)],
)
def test_edits_count_a_swap_of_neighbours_as_one(a, b, n):
    assert edits(a, b, 2) == n


def test_edits_stop_counting_past_the_most_allowed():
    assert edits("sprinter", "sphincter", 1) == 2
    assert edits("a", "abcdef", 2) == 3
