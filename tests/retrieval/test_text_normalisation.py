"""One text normalisation for documents, queries, filters and quotes: Unicode forms, invisible characters, accents,
CJK words, ties between equal scores, figure labels in other languages."""

from __future__ import annotations

import unicodedata

import pytest
from pydantic import ValidationError

from pathatlas.agent.evidence import quote_normalise, split_sentences
from pathatlas.indexer.sources.pdf.captions import caption_block, figure_label
from pathatlas.indexer.sources.pdf.text import clean_text
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.search import Query
from pathatlas.retrieval.stores.base import matches
from pathatlas.retrieval.terms import has_words, tokenize
from pathatlas.ui.api.schemas import SearchRequest

PAGES = {
    "es": "La etiología de la fibrosis pulmonar idiopática es desconocida.",
    "de": "Größe der Hepatozyten an der Straße.",
    "lab": "HbA1c above 6.5 % indicates diabetes.",
    "ja": "第1章 肺癌の病理",
    "case": "臓器: 肺",
    "other": "Granulomas hold giant cells.",
}


def caption_text(*args) -> str:
    """The caption's words ``caption_block`` finds."""
    return caption_block(*args)[1]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def page(text: str, **fields) -> dict:
    return {"source": "book", "kind": "page", "text": text, **fields}


def first_hit(query: str, docs: dict[str, str] = PAGES) -> str | None:
    hits = LexicalIndex.build([(rid, page(text)) for rid, text in docs.items()]).search([query], 3)[0]
    return hits[0][0] if hits else None


@pytest.mark.parametrize(
    ("query", "found"),
    [
        (nfd("etiología"), "es"),  # decomposed accents, as a Mac types them
        ("ﬁbrosis", "es"),  # a pasted ligature glyph
        ("ＨｂＡ１ｃ", "lab"),  # full-width letters and digits
        ("etiologia", "es"),  # typed without the accent
        ("strasse", "de"),
        ("GRÖSSE", "de"),
        ("肺癌", "ja"),  # a word inside a run of ideographs
        ("肺", "case"),  # one ideograph (lung) is a word where it stands alone
    ],
)
def test_queries_are_read_as_the_pages_are(query, found):
    assert first_hit(query) == found


def test_pages_are_read_as_queries_are():
    docs = {"nfd": nfd("La etiología es desconocida."), "lig": "La ﬁbrosis pulmonar.", "wide": "ＨｂＡ１ｃ alto."}
    assert [first_hit(q, docs) for q in ["etiología", "fibrosis", "HbA1c"]] == ["nfd", "lig", "wide"]


def test_invisible_format_characters_neither_split_words_nor_reach_the_text():
    assert clean_text("El carcinoma epi\u00addermoide y la necro\u200bsis") == "El carcinoma epidermoide y la necrosis"
    assert clean_text("carcinoma epi\u00ad\ndermoide") == "carcinoma epidermoide", "a soft hyphen breaking the line"
    assert tokenize(["epi\u00addermoide"]) == tokenize(["epidermoide"])
    assert clean_text("می\u200cخواهم") == "می\u200cخواهم", "the zero-width non-joiner spells Persian words"


def test_a_quote_is_verbatim_on_the_page_as_indexed():
    printed = "Erythrocytes measure 7.5 \u00b5m across in a blood smear."
    stored = clean_text(printed)
    (quote,) = split_sentences(printed)
    assert "\u00b5m" in quote and quote in stored
    assert quote_normalise("ﬁbrosis") == "fibrosis"


def test_only_common_words_and_symbols_are_still_refused():
    assert has_words("肺") and not has_words("the of and") and not has_words("😀 !!")
    Query(text="肺").validate()


@pytest.mark.parametrize("text", ["😀!!", "?", "a"])
def test_rest_takes_one_ideograph_and_refuses_symbols_in_a_plain_line(text):
    assert SearchRequest(text="肺").text == "肺"
    with pytest.raises(ValidationError) as refused:
        SearchRequest(text=text)
    (error,) = refused.value.errors()
    wanted = "has only common words (stop words, single letters or punctuation): add a word to look for"
    assert error["msg"] == f"the query {text!r} {wanted}"


@pytest.mark.parametrize(
    ("stored", "wanted", "field"),
    [
        ("Pulmón", nfd("pulmón"), "organ"),
        (nfd("Pulmón"), "pulmon", "organ"),  # without the accent
        ("Größe", "GROSSE", "diagnosis"),
        (nfd("Etiología"), "Etiología", "section"),
        ("Etiología", nfd("Etiología"), "section"),
    ],
)
def test_filters_match_any_unicode_form_in_every_store_and_bm25(stored, wanted, field):
    assert matches({field: stored}, {field: wanted})
    docs = [("a", page("fibrosis here", **{field: stored})), ("b", page("fibrosis there", **{field: "other"}))]
    assert [rid for rid, _ in LexicalIndex.build(docs).search(["fibrosis"], 5, {field: wanted})[0]] == ["a"]


def test_sections_still_match_case_as_written():
    assert not matches({"section": "Etiología"}, {"section": "etiología"})


def test_equal_scores_rank_by_record_id_whatever_order_the_index_was_built_in():
    docs = [(rid, page("giant cells", source=rid)) for rid in ["c", "a", "b"]]
    for order in (docs, docs[::-1]):
        index = LexicalIndex.build(order)
        assert [rid for rid, _ in index.search(["giant"], 3)[0]] == ["a", "b", "c"]
        assert [rid for rid, _ in index.search(["giant"], 1)[0]] == ["a"], "the cut keeps the first id, not slot"


@pytest.mark.parametrize(
    ("caption", "label"),
    [
        ("Figura 1. Adenocarcinoma de pulmón", "Figure 1"),
        ("Fig. 2 Leber", "Figure 2"),
        ("Abb. 3 Leberzirrhose", "Figure 3"),
        ("Abbildung 4: Lunge", "Figure 4"),
        ("La Figura 1 muestra un adenocarcinoma.", None),  # a mention inside body text
        ("Abbey 5 was built in stone.", None),
    ],
)
def test_figure_labels_in_other_languages(caption, label):
    assert figure_label(caption) == label


def test_a_spanish_caption_above_the_body_text_is_the_figures():
    blocks = [((0, 210, 100, 220), "El texto sigue aquí."), ((0, 300, 100, 310), "Figura 1. Adenocarcinoma.")]
    assert caption_text((0, 0, 100, 200), blocks) == "Figura 1. Adenocarcinoma."
