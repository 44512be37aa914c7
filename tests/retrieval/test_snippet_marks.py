"""A hit's snippet marks the words the search matched (``marks``): BM25 splits a hyphenated word into its parts and
stems English, so an eponym typed with another dash, or with one part misspelt, still matched, and "neu" matched
"neu" but not "neutrophil"."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.fusion import snippet
from pathatlas.retrieval.marks import marked_spans, query_terms
from pathatlas.retrieval.terms import tokenize


def marked(query: str, text: str) -> list[str]:
    return [text[a:b] for a, b in marked_spans(text, query_terms(query))]


def bm25_shares_a_term(query: str, text: str) -> bool:
    return bool(set(tokenize([query])[0]) & set(tokenize([text])[0]))


@pytest.mark.parametrize(
    ("query", "text", "words"),
    [
        ("Reed-Sternberg cells", "Classic Reed\u2013Sternberg cells are large.", ["Reed\u2013Sternberg", "cells"]),
        ("Reed\u2013Sternberg", "Reed-Sternberg cells", ["Reed-Sternberg"]),
        ("Mallory-Denk bodies", "Mallory body (or Mallory hyaline)", ["Mallory", "body", "Mallory"]),
        ("Ziehl-Nielsen stain", "The Ziehl-Neelsen method", ["Ziehl"]),
        ("Sternberg", "Reed\u2013Sternberg cells", ["Sternberg"]),
    ],
)
def test_an_eponym_marks_its_parts_whatever_the_dash(query, text, words):
    """Before, "Reed-Sternberg cells" marked only "cells" beside "Reed–Sternberg" (an en dash), "Mallory-Denk bodies"
    nothing in "Mallory body", "Ziehl-Nielsen" nothing in "Ziehl-Neelsen": a hyphenated query word was one whole
    term, though BM25 matched each of its parts."""
    assert bm25_shares_a_term(query, text)
    assert marked(query, text) == words


@pytest.mark.parametrize("dash", ["\u2010", "\u2011", "\u2013", "\u2014", "-"])
def test_every_dash_joins_an_eponym_as_a_hyphen_does(dash):
    """Hyphen, non-breaking hyphen, en and em dash: a book prints the eponym with any, a student types "-"."""
    eponym = f"Reed{dash}Sternberg"
    assert marked("Reed-Sternberg", f"A {eponym} cell") == [eponym]
    assert marked(eponym, "A Reed-Sternberg cell") == ["Reed-Sternberg"]


def test_a_dash_between_words_marks_only_the_word_the_query_names():
    assert marked("cells", "The cells\u2014which are large\u2014stain.") == ["cells"]
    assert marked("Reed-Sternberg", "which\u2014Reed\u2014they") == ["Reed"]


def test_a_short_part_or_a_stop_word_of_a_hyphenated_query_marks_nothing_alone():
    """Parts of two letters ("Ki" of "Ki-67") or stop words are no words a reader looks for."""
    assert marked("Ki-67", "Ki and 67 and Ki-67") == ["Ki-67"]
    assert marked("cells\u2014which", "cells which") == ["cells"]


@pytest.mark.parametrize(
    ("query", "text", "words"),
    [
        ("HER2/neu", "Neutrophils and HER2/neu", ["HER2", "neu"]),
        ("ALL", "An allele of ALL", ["ALL"]),
        ("cell", "cells and cellular", ["cells"]),
        ("Mallory body", "Mallory bodies", ["Mallory", "bodies"]),
        ("bodies", "a Mallory body", ["body"]),
        ("glands", "glandular epithelium, glands", ["glandular", "glands"]),
        ("koilocytes", "non-koilocytic koilocyte", ["koilocytic", "koilocyte"]),
    ],
)
def test_a_word_is_marked_by_its_english_stem_and_only_a_long_term_by_its_start(query, text, words):
    """A short term started many words ("neu" neutrophil, "ALL" allele) and missed "bodies" for "body": a word now
    marks by BM25's English stem, and a term longer than five letters also by its start (inflections the stemmer
    leaves apart, other languages)."""
    assert marked(query, text) == words


def test_a_snippet_opens_at_an_eponym_written_with_an_en_dash():
    """With the eponym unmarked, the snippet opened at the first "cells" and left the Reed–Sternberg cells out."""
    text = "Many small cells. " * 30 + "Reed\u2013Sternberg cells are the diagnostic cells."
    assert "Reed\u2013Sternberg" in snippet(text, "Reed-Sternberg cells", width=80)


def test_a_short_korean_term_still_marks_the_words_it_starts():
    """A Korean word takes its particles without a space, and BM25 meets it by character pairs: "선암종" matched
    "선암종은" and must stay marked there though no English stem reads it."""
    assert marked("선암종", "폐의 선암종은 흔하다") == ["선암종은"]
