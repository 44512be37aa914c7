"""A snippet weighs each query word's marks in its text (``fusion.marked_weights``) from one scan of the text for all
the query's words (``marks.marked_spans_by_term``): each word's marks are exactly those it makes alone
(``marks.marked_spans(text, [term])``), and each word of the text is read once, however long the query."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.retrieval import marks
from pathatlas.retrieval.fusion import marked_weights
from pathatlas.retrieval.marks import marked_spans, marked_spans_by_term, query_terms

WORDS = [
    "cells", "cell", "Reed-Sternberg", "Reed–Sternberg", "Reed", "koilocytes", "koilocytic", "non-koilocytic", "H&E",
    "H & E", "É & B", "IL-1β", "β", "beta", "alpha", "α-cells", "Mallory-Denk", "Mallory", "bodies", "body", "glands",
    "glandular", "nuclei", "nucleolus", "células", "célula", "Ki-67", "Ki67", "lung_scc", "scc", "肺癌", "肺腺癌",
    "アイウ", "선암종은", "καρκίνωμα α-κύτταρα", "the", "of",
]  # fmt: skip
"""Words each marking rule reads: stems, inflections, dash-joined parts, names joined by an ampersand, lone Greek
letters, underscores, spaceless and Korean scripts."""
LETTERS = "abcdeilnorstxyzABEK0167 &_-–βαé肺癌アイ"
pieces = st.one_of(st.sampled_from(WORDS), st.text(alphabet=LETTERS, min_size=1, max_size=10))
texts = st.lists(st.tuples(pieces, st.sampled_from([" ", "-", "–", ", ", "", " & "])), max_size=20).map(
    lambda pairs: "".join(piece + joint for piece, joint in pairs)
)
term_lists = st.tuples(texts, st.lists(st.text(alphabet=LETTERS, min_size=1, max_size=8), max_size=2)).map(
    lambda query_and_raw: query_terms(query_and_raw[0]) + query_and_raw[1]
)


@given(texts, term_lists)
@hyp_settings(max_examples=400, deadline=None)
def test_one_scan_marks_each_term_as_it_marks_alone(text, terms):
    """Each term's spans, in the order of the terms: a word two terms mark weighs for the first."""
    by_term = marked_spans_by_term(text, terms)
    assert list(by_term.items()) == [(term, marked_spans(text, [term])) for term in dict.fromkeys(terms)]


def weights_term_by_term(text: str, terms: list[str]) -> list[tuple[int, int, tuple[str, float]]]:
    """The snippet weights' definition, each term's marks found on their own (the oracle)."""
    by_term = {term: marked_spans(text, [term]) for term in terms}
    total = sum(len(spans) for spans in by_term.values())
    weighted: dict[tuple[int, int], tuple[str, float]] = {}
    for term, spans in by_term.items():
        for span in spans:
            weighted.setdefault(span, (term, math.log(1 + total / len(spans))))
    return sorted((start, end, mark) for (start, end), mark in weighted.items())


@given(texts, term_lists)
@hyp_settings(max_examples=200, deadline=None)
def test_snippet_weights_are_those_of_each_term_alone(text, terms):
    assert marked_weights(text, terms) == weights_term_by_term(text, terms)


def words_read(text: str, terms: list[str], monkeypatch) -> int:
    """How many words (or runs of dash-joined parts) weighing a snippet's marks reads, the query's rules read before."""
    marked_weights(text, terms)
    reads = []
    read = marks._read
    monkeypatch.setattr(marks, "_read", lambda word: reads.append(word) or read(word))
    marked_weights(text, terms)
    monkeypatch.undo()
    return len(reads)


def test_a_snippet_reads_each_word_once_however_long_the_query(monkeypatch):
    """A scan per query word read a page's every word once per query word: most of a text search's time."""
    text = "Koilocytes are squamous cells with a clear perinuclear halo and wrinkled nuclei " * 5
    long_query = query_terms("koilocytes squamous perinuclear halo wrinkled nuclei cervix")
    assert words_read(text, long_query, monkeypatch) == len(text.split())
    assert words_read(text, query_terms("koilocytes"), monkeypatch) == len(text.split())


def test_a_greek_word_beside_a_greek_letter_marks_only_for_its_words():
    """In a Greek text a letter after a Greek word is part of the text word ("α-κύτταρα"): its parts mark as any
    word's do, not for every query."""
    text = "Το καρκίνωμα α-κύτταρα"
    assert marked_spans(text, query_terms("lymphoma")) == []
    assert [text[a:b] for a, b in marked_spans(text, query_terms("κύτταρα"))] == ["κύτταρα"]


def test_a_name_joined_by_an_ampersand_marks_only_the_name():
    """An accented name ("É&B") is a name as "H&E" is: its single letters are no words to mark."""
    text = "É & B stain, vitamin E and B cells"
    assert [text[a:b] for a, b in marked_spans(text, query_terms("É&B stain"))] == ["É & B", "stain"]
