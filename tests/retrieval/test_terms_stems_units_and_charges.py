"""What a student types into a search of the A&P book, word by word: "conception" found the pages saying "concept"
(Snowball stems both "concept"), "120 mmHg" missed the book's "mm Hg", "K+" and "H+" were refused as having no word
to look for, and "Ca2+" missed the four fifths of the book that prints "Ca++"."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.terms import analysed, has_words, lookup_terms
from tests.helpers import ranked


def test_conception_finds_the_pages_on_conceiving_not_those_on_concepts():
    pages = {
        "idea": "The concept of homeostasis is an important concept; related concepts follow.",
        "birth": "Pregnancy lasts about 270 days from conception to birth.",
    }
    assert ranked(pages, "conception") == ["birth"]
    assert ranked(pages, "conceive") == ["birth"]
    assert ranked(pages, "concept") == ["idea"]


def test_mmhg_as_typed_finds_the_book_s_mm_hg():
    pages = {
        "pressure": "A systolic pressure of 120 mm Hg and a diastolic pressure of 80 mm Hg.",
        "length": "Stretched to 120 percent, 120 of them.",
    }
    assert ranked(pages, "120 mmHg")[0] == "pressure"
    assert ranked({"typed": "a pressure of 120 mmHg", **pages}, "mm Hg") == ["pressure", "typed"]


@pytest.mark.parametrize("query", ["K+", "k+", "H+"])
def test_an_ion_alone_is_something_to_look_for(query):
    assert has_words(query)
    pages = {"ion": f"Cells pump {query.capitalize()} out; {query.capitalize()} leaves.", "other": "Cells pump water."}
    assert ranked(pages, query) == ["ion"]


def test_a_charge_written_either_way_is_one_term():
    pages = {
        "plus-plus": "Muscle contraction starts when Ca++ binds troponin.",
        "two-plus": "Voltage-gated Ca2+ channels open at the terminal.",
        "sodium": "Na+ enters the cell.",
    }
    assert set(ranked(pages, "Ca2+")) == {"plus-plus", "two-plus"}
    assert set(ranked(pages, "ca++")) == {"plus-plus", "two-plus"}
    assert "ca2+" in lookup_terms(["Mg++ and Ca\u00b2\u207a"])[0], "a superscript charge is read as typed"


def test_a_charged_name_changes_no_english_term_nor_length():
    """The charge is a term beside the stems, as the lettered words are: a page scores for its words as before."""
    stems, extra = analysed(["Na+ and K+ cross; Ca++ binds; T- and B-cells differ; so does a pre- and post- step."])
    assert stems[0] == analysed(["Na and K cross; Ca binds; T and B cells differ; so does a pre and post step."])[0][0]
    assert extra[0][-3:] == ["k+", "ca2+", "t-"], "Na+ is its stem; a lower-case word a hyphen ends is no name"
