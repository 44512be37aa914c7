"""Students searching in their own letters: Greek words match whatever their accents and case, a Greek article is a
word of Greek, not a letter's name ("η καρδιά" is "the heart", not viscosity's "η"), Russian "ё" matches "е"; and
every English text of the A&P book keeps exactly the terms it had."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.marks import query_terms
from pathatlas.retrieval.terms import analysed, lookup_terms
from pathatlas.retrieval.text import folded
from tests.helpers import assert_cases_found, indexed_lecture, run_cli

AP_SENTENCES = {
    "Skeletal muscle fibers can be quite large for human cells, with diameters up to 100 μm and lengths up to 30 cm "
    "(11.8 in) in the Sartorius of the upper leg.": (
        "skelet muscl fiber can quit larg human cell diamet up 100 μm length up 30 cm 11 sartorius upper leg",
        ["100 μm", "30 cm", "11.8"],
    ),
    "Guillain-Barré (pronounced gee-YAN bah-RAY) syndrome is an example of a demyelinating disease of the peripheral "
    "nervous system.": (
        "guillain barr pronounc gee yan bah ray syndrom exampl demyelin diseas peripher nervous system",
        [],
    ),
    "The adrenergic system also has two types of receptors, named the alpha (α)-adrenergic receptor and beta "
    "(β)-adrenergic receptor.": (
        "adrenerg system also has two type receptor name alpha alpha adrenerg receptor beta beta adrenerg receptor",
        [],
    ),
    "Focus on the three critical variables: radius (r), vessel length (λ), and viscosity (η).": (
        "focus three critic variabl radius vessel length lamda viscos eta",
        [],
    ),
    "ΔP represents the difference in pressure.": ("δp repres differ pressur", []),
}
"""Sentences of the A&P book with accents, Greek letters and units, and the terms BM25 has always read of them (every
stored text of the book indexed was compared with the code before this change: none differs)."""

PAGES = {
    "el": "Η πνευμονία είναι φλεγμονή των πνευμόνων.",
    "ru": "Печеночный проток и воспаление печени.",
    "en": "Blood viscosity (η) rises with the hematocrit; the heart pumps harder.",
}


def found(query: str) -> list[str]:
    """The pages BM25 finds for ``query``, best first."""
    index = LexicalIndex.build((rid, {"source": rid, "kind": "page", "text": text}) for rid, text in PAGES.items())
    return [rid for rid, _ in index.search([query], len(PAGES))[0]]


@pytest.mark.parametrize("sentence", AP_SENTENCES)
def test_english_sentences_of_the_book_keep_exactly_their_terms(sentence):
    stems, extra = analysed([sentence])
    assert (" ".join(stems[0]), extra[0]) == AP_SENTENCES[sentence]


@pytest.mark.parametrize("query", ["πνευμονία", "πνευμονια", "ΠΝΕΥΜΟΝΙΑ", "Πνευμονία"])
def test_a_greek_word_finds_its_page_with_or_without_accents_and_in_capitals(query):
    """Greek capitals are written without the tonos and many type none: "ΠΝΕΥΜΟΝΙΑ" found nothing by its words."""
    assert found(query)[:1] == ["el"]


def test_a_greek_article_is_a_word_of_greek_not_the_letters_name():
    """Greek "η καρδιά" (the heart) looked up "eta" and found the page on viscosity (η) as its best words match."""
    assert found("η καρδιά") == []
    assert "eta" not in lookup_terms(["η καρδιά"])[0] and "eta" not in analysed([PAGES["el"]])[0][0]
    assert "η" not in query_terms("η καρδιά")


def test_a_lone_greek_letter_in_english_is_still_its_name():
    assert found("η")[:1] == found("eta")[:1] == ["en"]
    assert lookup_terms(["α-cells and β cells"])[0][:4] == ["alpha", "cell", "beta", "cell"]


@pytest.mark.parametrize("query", ["печёночный", "ПЕЧЁНОЧНЫЙ", "печеночный"])
def test_russian_yo_typed_or_printed_as_ye_finds_the_page(query):
    assert found(query)[:1] == ["ru"]


def test_cyrillic_short_i_keeps_its_mark():
    """Cyrillic "й" is a letter of its own, unlike "ё", which Russian print writes "е"."""
    assert (folded("Йод"), folded("Ёж")) == ("йод", "еж")


def test_search_json_finds_a_greek_case_typed_in_capitals(tmp_path):
    """End to end: a case folder titled in Greek, searched with ``--json`` as a Greek student types, and no word
    found is warned of (the warning's casefolded "ηπατοσ" was no term of the text's "ήπατος")."""
    rows = [
        {"image": "a.jpg", "case": "G1", "title": "Πνευμονία του αριστερού πνεύμονα", "organ": "πνεύμονας"},
        {"image": "b.jpg", "case": "G2", "title": "Κίρρωση του ήπατος", "organ": "ήπαρ"},
    ]
    typed = {"ΠΝΕΥΜΟΝΙΑ": "G1", "κιρρωση ηπατος": "G2", "ΗΠΑΤΟΣ": "G2"}
    for result in assert_cases_found(tmp_path / "cases", rows, typed):
        assert "no indexed word" not in result.stderr, result.stderr


def test_an_accented_typo_is_offered_the_indexed_word_as_one_typed_without_accents_is(tmp_path):
    """ "hépatite" was told "no indexed word" with nothing offered, while "hepatite" was offered "hepatitis"."""
    root = indexed_lecture(tmp_path, "liver.pdf", "Viral hepatitis inflames the liver; hepatitis B is chronic.")
    for typed in ("hépatite", "hepatite"):
        result = run_cli("search", typed, "--index", root / "idx", "--json", home=root / "home")
        assert result.exit_code == 0, result.output
        assert "'hepatitis'" in result.stderr, (typed, result.stderr)
