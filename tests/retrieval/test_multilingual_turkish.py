"""Turkish text in BM25: a Turkish page is found by its words' other forms ("karsinom" finds "karsinomu"), typed on a
Turkish or an English keyboard, while English text is indexed and scored exactly as before."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.terms import (
    TURKISH_LANGUAGE,
    analysed,
    lookup_terms,
    stems_in,
    terms,
    tokenize,
)
from pathatlas.retrieval.text import turkish
from tests.helpers import assert_cases_found

TURKISH_PAGE = (
    "Küçük hücreli akciğer karsinomu nöroendokrin bir tümördür. Tümör hücreleri küçüktür, çekirdekleri "
    "hiperkromatiktir. Olguların çoğunda sigara öyküsü vardır; nekroz sık görülür."
)
ENGLISH_PAGE = "Small cell carcinoma of the lung is a neuroendocrine tumour. Necrosis is common; most patients smoke."


def found(docs: dict[str, str], query: str) -> list[str]:
    index = LexicalIndex.build((rid, {"source": rid, "kind": "page", "text": text}) for rid, text in docs.items())
    return [rid for rid, _ in index.search([query], len(docs))[0]]


@pytest.mark.parametrize(
    "query",
    ["karsinom", "karsinomlar", "hücre", "hücrelerin", "tümörler", "çekirdek", "olgu", "KARSİNOM", "hucreleri"],
)
def test_a_turkish_word_finds_its_other_forms(query):
    """The English stemmer leaves Turkish suffixes on: "karsinom" did not find "karsinomu", nor "hücre" "hücreleri"."""
    assert found({"tr": TURKISH_PAGE, "en": ENGLISH_PAGE}, query) == ["tr"]


@pytest.mark.parametrize("query", ["akciger", "akciğer", "AKCİĞER", "Akcigerde", "akciğerin", "kucuk hucreli"])
def test_turkish_letters_typed_or_not_find_the_same_page(query):
    assert found({"tr": TURKISH_PAGE, "en": ENGLISH_PAGE}, query) == ["tr"]


def test_a_mixed_query_finds_the_turkish_and_the_english_page():
    assert set(found({"tr": TURKISH_PAGE, "en": ENGLISH_PAGE}, "karsinomu lung")) == {"tr", "en"}
    assert found({"tr": TURKISH_PAGE, "en": ENGLISH_PAGE}, "neuroendocrine")[0] == "en"


def test_a_word_typed_without_its_turkish_letters_keeps_its_stem():
    """The Turkish stemmer reads vowel harmony: typed "damari" it keeps the suffix that "damarı" loses, so both
    stems are terms of the word."""
    assert found({"tr": "Damarı tıkayan trombüs ve çevresindeki iltihap.", "en": ENGLISH_PAGE}, "damari") == ["tr"]


def test_turkish_stop_words_are_no_terms_typed_either_way():
    assert stems_in(TURKISH_LANGUAGE, "için ve icin ama") == []


def test_a_text_is_turkish_by_the_letters_only_its_alphabet_has():
    assert turkish(TURKISH_PAGE) and turkish("Kronik İnflamasyon")
    assert not turkish("Lung cancer in Turkey: a series from Hacettepe (Doğan et al., 2019) of 412 patients.")
    assert not turkish("Entzündung der Lunge, células plasmáticas, ça va")


def test_an_english_page_naming_a_turk_keeps_its_english_stems():
    text = "Carcinomas of the lung reported by Doğan and colleagues in 412 patients with squamous cells."
    assert analysed([text])[0] == tokenize([text])


WORDS = ["lung", "cells", "carcinoma", "Entzündung", "células", "the", "vitamin", "D", "type", "II", "肺癌"]
english_words = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)


@given(st.lists(english_words, min_size=1, max_size=5), english_words)
@hyp_settings(max_examples=40, deadline=None)
def test_text_without_turkish_letters_is_indexed_and_scored_as_before(texts, query):
    """The terms an index of such texts holds are the stems and lettered words they always were, and what a query
    adds (Turkish stems) is none of them, so every score is as it was."""
    stems, lettered = analysed(texts)
    assert stems == tokenize(texts)
    assert all(t.startswith(TURKISH_LANGUAGE.prefix) for t in lookup_terms([query])[0][len(terms([query])[0]) :])
    index = LexicalIndex.build((str(i), {"source": str(i), "kind": "page", "text": t}) for i, t in enumerate(texts))
    slots, scores = index.top(terms([query])[0], len(texts))
    assert index.search([query], len(texts))[0] == list(
        zip([index.slot_ids[s] for s in slots.tolist()], scores.tolist(), strict=True)
    )


def test_search_json_finds_a_turkish_case_by_another_form_of_its_words(tmp_path):
    """End to end: a case folder whose titles are Turkish, searched with ``--json`` as a resident types."""
    rows = [
        {"image": "a.jpg", "case": "T1", "title": "Akciğer adenokarsinomu, tümör hücreleri", "organ": "akciğer"},
        {"image": "b.jpg", "case": "T2", "title": "Karaciğer sirozu ve kronik inflamasyon", "organ": "karaciğer"},
    ]
    assert_cases_found(tmp_path / "vakalar", rows, {"adenokarsinom": "T1", "akciger tumoru": "T1", "KARACİĞER": "T2"})


def test_a_short_english_text_taken_for_turkish_keeps_its_english_terms():
    """A caption of a few words naming one Turk passes the one-word-in-ten rule; its English stems were replaced by
    Turkish ones, so "kidney cell" no longer matched "Kidney cells". The Turkish stems are now added beside them."""
    caption = "Figure 3. Kidney cells, from Prof. Şahin's lab"
    stems, extra = analysed([caption])
    assert (
        turkish(caption)
        and stems[0] == tokenize([caption])[0]
        and any(t.startswith(TURKISH_LANGUAGE.prefix) for t in extra[0])
    )
    index = LexicalIndex.build([("c", {"source": "s", "text": caption}), ("e", {"source": "s", "text": "Liver cells"})])
    assert [rid for rid, _ in index.search(["kidney cell"], k=1)[0]] == ["c"]
