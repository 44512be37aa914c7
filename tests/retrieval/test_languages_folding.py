"""A named language's words typed without its letters: Portuguese "inflamacoes" finds "inflamação" (its stemmer reads
"-ação" as a suffix, "-acao" as none), German "Gefaesse" and "fuer" are "Gefässe" and the stop word "für" whatever
PyStemmer's version does with "ue"; English terms stay as they were. ``pathatlas info`` names the languages an index's
BM25 was read in, and says when the setting here differs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.retrieval import lexical
from pathatlas.retrieval import terms as terms_module
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.terms import (
    TERMS_VERSION,
    TURKISH_LANGUAGE,
    Language,
    analysed,
    language,
    lettered_terms,
    lookup_terms,
    respelt,
    searchable,
    stems_in,
    terms,
    tokenize,
)
from tests.helpers import run_cli
from tests.indexer.test_case_folders import folder_with, jsonl, tile

PAGES = {
    "inflamação": "A inflamação crônica do fígado leva à cirrose.",
    "inflamações": "As inflamações crônicas dos rins.",
    "inflamacoes": "As inflamacoes cronicas do pulmao, escritas sem acentos.",
    "cicatrizações": "Cicatrizações da pele após a lesão.",
    "généralisé": "Un œdème généralisé du tissu.",
    "Muskelfaserbündel": "Die Muskelfaserbündel und die Gefäße des Skelettmuskels.",
}


def found(query: str, languages=()) -> list[str]:
    index = LexicalIndex.build(
        ((rid, {"source": rid, "text": text}) for rid, text in PAGES.items()), languages=languages
    )
    return [rid for rid, _ in index.search([query], len(PAGES))[0]]


@pytest.mark.parametrize(
    ("query", "name", "page"),
    [
        ("inflamacoes", "portuguese", "inflamação"),
        ("inflamacao", "portuguese", "inflamações"),
        ("inflamação", "portuguese", "inflamacoes"),
        ("cicatrizacao", "portuguese", "cicatrizações"),
        ("generalisee", "french", "généralisé"),
    ],
)
def test_a_word_typed_without_accents_finds_its_other_forms_in_a_named_language(query, name, page):
    """Typed with its accents the word finds the page; typed without them it found nothing (Portuguese "-acao" is no
    suffix, "-ação" is), and the other way round for a page written without accents."""
    assert page not in found(query)
    assert page in found(query, [name])


def test_germans_spelt_out_umlauts_meet_in_german_terms_only():
    for query in ("Muskelfaserbuendel", "Gefaesse"):
        assert found(query) == found(query, ["portuguese"]) == []
        assert found(query, ["german"]) == ["Muskelfaserbündel"]


def test_german_stop_words_typed_with_spelt_out_umlauts_are_stop_words():
    """ "fuer" and "ueber" are "für" and "über", which were dropped only as written or without dots ("fur")."""
    german = language("german")
    assert stems_in(german, "Gefaesse fuer die Lunge ueber dem Herzen waehrend") == ["de:gefass", "de:lung", "de:herz"]
    assert stems_in(german, "Gefäße für die Lunge über dem Herzen während") == ["de:gefass", "de:lung", "de:herz"]


class LeavesLettersAsTyped:
    """A stemmer that, like Snowball's German before 3.0 (PyStemmer 2, which the requirement allows), does not read
    "ue" as "ü"; here it changes no letter at all."""

    def stemWord(self, word: str) -> str:  # noqa: N802 (PyStemmer's name)
        return word


@pytest.fixture
def stemmer_leaving_ue(monkeypatch):
    real = terms_module._snowball
    monkeypatch.setattr(terms_module, "_snowball", lambda name: (LeavesLettersAsTyped(), real(name)[1]))
    terms_module._word_stems.cache_clear()
    yield
    terms_module._word_stems.cache_clear()


def test_spelt_out_umlauts_meet_whatever_the_stemmer_does_with_them(stemmer_leaving_ue):
    german = language("german")
    assert stems_in(german, "Muskelfaserbuendel") == ["de:muskelfaserbuendel", "de:muskelfaserbundel"]
    assert set(stems_in(german, "Gefaesse Loesung")) >= set(stems_in(german, "Gefässe Lösung"))
    assert stems_in(german, "Quelle neue") == ["de:quelle", "de:neue"], "'ue' after 'q' or a vowel is no 'ü'"


german_typed = st.text(alphabet="aeoubcdfghklmnqrstyz", min_size=2, max_size=12)


@given(german_typed)
@hyp_settings(max_examples=300, deadline=None)
def test_respelling_changes_no_stem_snowball_3_gives(word):
    """Where the installed stemmer reads "ae", "oe" and "ue" itself (Snowball 3), spelling them out first gives the
    same stem: an index's German terms change only for stop words so typed."""
    german = language("german")
    stemmer = terms_module._snowball("german")[0]
    if stemmer.stemWord("gefaesse") != stemmer.stemWord("gefässe"):
        pytest.skip("this PyStemmer's German leaves 'ae' as typed (Snowball before 3.0)")
    assert terms_module._stem(german, respelt(german, word)) == terms_module._stem(german, word)


def test_languages_without_spellings_stem_as_before():
    """Only German, Portuguese and French words are respelt: Turkish (read unset too) and the others are not."""
    for name in ("turkish", "spanish", "italian", "dutch"):
        assert language(name).spelt == ()
        assert respelt(language(name), "inflamacoes gefaesse") == "inflamacoes gefaesse"
    assert language("turkish") is TURKISH_LANGUAGE


WORDS = ["lung", "inflamacao", "inflamacoes", "Gefaesse", "fuer", "moderee", "does", "shoes", "Macao", "the", "D"]
english_words = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)


@given(st.lists(english_words, min_size=1, max_size=5), english_words)
@hyp_settings(max_examples=40, deadline=None)
def test_unset_no_text_or_query_has_a_respelt_term(texts, query):
    """Unset: a text's terms are its English stems and lettered words, a query's its terms and Turkish stems, with the
    words that look like another language's typed without its letters too; English scores as before."""
    assert analysed(texts) == (tokenize(texts), lettered_terms([searchable(t) for t in texts]))
    assert lookup_terms([query]) == [terms([query])[0] + stems_in(Language("turkish", "tr:", passes=4), query)]
    assert not any(t.startswith(("de:", "pt:", "fr:")) for t in lookup_terms([query])[0])


# -- pathatlas info ---------------------------------------------------------------------------------------------------


def info_json(index, home, **env) -> dict:
    result = run_cli("info", "--index", index, "--json", home=home, **env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def bm25_lines(index, home, **env) -> list[str]:
    result = run_cli("info", "--index", index, home=home, **env)
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.startswith("bm25")]


def test_info_names_the_languages_bm25_was_read_in_and_a_setting_that_differs(tmp_path):
    rows = [{"image": "a.jpg", "case": "P1", "title": "Inflamação crônica do fígado", "organ": "fígado"}]
    folder = folder_with(tmp_path / "casos", "cases.jsonl", jsonl(rows), {"a.jpg": tile(0)})
    home, index, portuguese = tmp_path / "home", tmp_path / "index", {"PATHATLAS_LANGUAGES": '["portuguese"]'}
    assert run_cli("index", folder, "--index", index, home=home, **portuguese).exit_code == 0

    assert info_json(index, home, **portuguese)["bm25"] == {
        "terms_version": TERMS_VERSION,
        "languages": ["english", "portuguese"],
        "searched_in": ["english", "portuguese"],
        "read_again": False,
    }
    assert bm25_lines(index, home, **portuguese) == [
        f"bm25    read in english, portuguese (terms version {TERMS_VERSION})"
    ]

    unset = info_json(index, home)["bm25"]
    assert unset["languages"] == ["english", "portuguese"] and unset["searched_in"] == ["english"]
    assert unset["read_again"] is True
    (line,) = bm25_lines(index, home)
    assert "read in english, portuguese" in line and "PATHATLAS_LANGUAGES names english here" in line
    assert """set PATHATLAS_LANGUAGES='["portuguese"]' as when it was indexed""" in line

    (line,) = bm25_lines(index, home, PATHATLAS_LANGUAGES='["german"]')
    assert "names english, german here" in line


def test_info_names_an_older_terms_version_read_again(tmp_path, monkeypatch):
    rows = [{"image": "a.jpg", "case": "D1", "title": "Chronic inflammation of the liver", "organ": "liver"}]
    folder = folder_with(tmp_path / "cases", "cases.jsonl", jsonl(rows), {"a.jpg": tile(0)})
    home, index = tmp_path / "home", tmp_path / "index"
    with monkeypatch.context() as older:
        older.setattr(lexical, "TERMS_VERSION", TERMS_VERSION - 1)
        assert run_cli("index", folder, "--index", index, home=home).exit_code == 0
    assert info_json(index, home)["bm25"] == {
        "terms_version": TERMS_VERSION - 1,
        "languages": ["english"],
        "searched_in": ["english"],
        "read_again": True,
    }
    (line,) = bm25_lines(index, home)
    assert f"(terms version {TERMS_VERSION - 1}); this PathAtlas's is {TERMS_VERSION}" in line
