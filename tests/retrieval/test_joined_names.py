"""Stain and marker names joined by a hyphen or an ampersand ("Ki-67", "HER-2", "H&E") are searched and marked as
pathologists write them either way: the stems split "Ki-67" in two and drop the letters of "H&E"."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.fusion import snippet
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.marks import marked_spans, query_terms
from pathatlas.retrieval.search import Query
from pathatlas.retrieval.terms import has_words, lookup_terms

PAGES = {
    "ki67-glued": "The Ki67 labelling index of the tumour was high.",
    "ki67-hyphen": "Nuclear Ki-67 staining marks the proliferating crypt cells.",
    "her2-glued": "HER2 amplification in breast carcinoma.",
    "her2-hyphen": "Breast carcinoma with HER-2 overexpression.",
    "cd20-hyphen": "The lymphoma cells are CD-20 positive.",
    "he": "Sections stained with H&E show the glands.",
    "vitamin-e": "Vitamin E stains lipids; the H zone and the A band of muscle.",
    "numbers": "Sixty-seven patients, 67 of them in index cohort 2.",
    "cd-rom": "A teaching CD of 20 slides: 20 lymph nodes, each on a CD page.",
}


def found(query: str, k: int = 3) -> list[str]:
    index = LexicalIndex.build((rid, {"source": rid, "text": text}) for rid, text in PAGES.items())
    return [rid for rid, _ in index.search([query], k)[0]]


@pytest.mark.parametrize(
    ("query", "pages"),
    [
        ("Ki67", {"ki67-glued", "ki67-hyphen"}),
        ("Ki-67", {"ki67-glued", "ki67-hyphen"}),
        ("HER2", {"her2-glued", "her2-hyphen"}),
        ("HER-2", {"her2-glued", "her2-hyphen"}),
    ],
)
def test_a_marker_written_with_or_without_its_hyphen_finds_both_spellings_first(query, pages):
    """ "Ki67" shared no term with "Ki-67" (read as "ki" and "67"), and "HER-2" none with "HER2" ("her" is a stop
    word): each found only the pages spelling it its own way."""
    assert set(found(query, k=2)) == pages


def test_a_glued_marker_finds_its_hyphenated_spelling():
    assert found("CD20", k=1) == ["cd20-hyphen"]


@pytest.mark.parametrize(
    ("query", "pages"),
    [("ki 67", {"ki67-glued", "ki67-hyphen"}), ("HER 2", {"her2-glued", "her2-hyphen"}), ("CD 20", {"cd20-hyphen"})],
)
def test_a_marker_typed_with_a_space_finds_it_written_either_way(query, pages):
    """ "HER 2" was refused ("her" is a function word and "2" no word), and "CD 20" ranked the page saying "67 of them
    in index cohort 2" with pages of other twenties: a student types the space the name has no room for."""
    assert has_words(query)
    assert set(found(query, k=len(pages))) == pages


def test_h_and_e_typed_with_and_is_the_stain():
    assert has_words("H and E") and found("H and E", k=1) == ["he"]
    assert not has_words("the and of"), "an 'and' between words is still no name"


def test_h_and_e_alone_is_a_query_and_finds_the_page_naming_the_stain():
    """ "H&E" was refused as having only common words (its letters are no words), so a student could not look it
    up; now it is one term, written with spaces or without."""
    assert has_words("H&E") and has_words("H & E")
    Query(text="H&E").validate()
    assert found("H&E", k=1) == ["he"] == found("h & e", k=1)


def test_a_letter_after_an_ampersand_is_no_lettered_word():
    """ "H&E stain" was read as "e stain" (a word told apart by a letter, like "vitamin E"), which ranked a page on
    vitamin E staining lipids above the page on H&E sections."""
    assert "e stain" not in lookup_terms(["H&E stain"])[0]
    assert found("H&E stain", k=1) == ["he"]


def test_single_letters_and_numbers_alone_stay_no_query():
    assert not has_words("H E") and not has_words("& E") and not has_words("the & of")


@pytest.mark.parametrize(
    ("query", "text", "marked"),
    [
        ("Ki67", "The Ki-67 index was high.", ["Ki-67"]),
        ("Ki-67 index", "Ki67 index", ["Ki67", "index"]),
        ("HER2", "HER-2/neu positive", ["HER-2"]),
        ("h & e", "Stained with H&E and PAS.", ["H&E"]),
        ("H&E", "An H & E slide, then E and H.", ["H & E"]),
        ("anti-inflammatory", "antiinflammatory drugs", ["antiinflammatory"]),
    ],
)
def test_snippets_mark_a_joined_name_spelt_either_way(query, text, marked):
    """The words the search matched are the words a hit's snippet marks (``marks``): hyphens aside, and an
    ampersand name as one word."""
    assert [text[a:b] for a, b in marked_spans(text, query_terms(query))] == marked


def test_a_snippet_opens_at_the_stain_the_query_names():
    text = "Intro words. " * 40 + "The biopsy stained with H&E shows koilocytes."
    assert "H&E" in snippet(text, "H&E", width=80)
