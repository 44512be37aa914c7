"""The languages of a library (``PATHATLAS_LANGUAGES``): BM25 also reads every text by each named language's Snowball
stems, so a German, Spanish, Portuguese or Italian word finds its other forms; unset, every term and score is as
before; an index records the languages its BM25 was read in, and opened with others reads it again from the store."""

from __future__ import annotations

import json
import logging

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.retrieval.lexical import LexicalIndex, _segment_name
from pathatlas.retrieval.terms import (
    TERMS_VERSION,
    TURKISH_LANGUAGE,
    analysed,
    languages_of,
    lettered_terms,
    lookup_terms,
    searchable,
    stems_in,
    terms,
    tokenize,
)
from pathatlas.settings import load_settings
from tests.helpers import hashing_settings, one_error_line, run_cli
from tests.indexer.test_case_folders import folder_with, jsonl, tile

PAGES = {
    "de": "Die akute Entzündung der Lunge: Zellen des Immunsystems wandern in das Gewebe ein.",
    "es": "Las enfermedades infecciosas del pulmón y la respuesta inflamatoria.",
    "pt": "A inflamação crônica do fígado leva à cirrose.",
    "it": "L'infiammazione acuta del polmone e la risposta della cellula.",
    "en": "Acute inflammation of the lung: immune cells migrate into the tissue.",
}


def found(query: str, languages=()) -> list[str]:
    index = LexicalIndex.build(
        ((rid, {"source": rid, "kind": "page", "text": text}) for rid, text in PAGES.items()), languages=languages
    )
    return [rid for rid, _ in index.search([query], len(PAGES))[0]]


@pytest.mark.parametrize(
    ("query", "language", "page"),
    [
        ("Entzündungen", "german", "de"),
        ("ENTZUNDUNGEN", "german", "de"),
        ("infecciosos", "spanish", "es"),
        ("inflamações", "portuguese", "pt"),
        ("infiammazioni", "italian", "it"),
    ],
)
def test_a_named_language_finds_a_word_by_its_other_forms(query, language, page):
    """English stems leave these suffixes on: unset, the word finds nothing; named, it finds its page (typed with or
    without accents)."""
    assert found(query) == []
    assert found(query, [language]) == [page]
    assert found(query, ["german", "italian", "portuguese", "spanish"]) == [page]


def test_english_words_still_find_english_pages_with_languages_named():
    assert found("inflammation lung", ["german", "spanish"])[0] == "en"


def test_a_languages_stop_words_are_no_terms_of_it():
    """bm25s's German stop words ("die", "der", "und") typed with or without accents ("für", "fur"); a language
    bm25s has none for keeps every word."""
    (german,) = languages_of(["german"])
    assert stems_in(german, "die der und für fur über Lunge") == ["de:lung"]
    (finnish,) = languages_of(["finnish"])
    assert stems_in(finnish, "ja keuhko") == ["fi:ja", "fi:keuhko"]


def test_each_language_writes_its_stems_apart():
    """A German stem never meets an English one or a Spanish one ("die" is an English verb and a German article)."""
    assert analysed(["Entzündungen"], languages_of(["german", "spanish"]))[1] == [["de:entzund", "es:entzundung"]]


def test_named_stems_are_not_counted_in_a_texts_length():
    """They read words already counted: English terms score exactly as without them, only their own matches add."""
    english = LexicalIndex.build((rid, {"source": rid, "text": t}) for rid, t in PAGES.items())
    both = LexicalIndex.build(((rid, {"source": rid, "text": t}) for rid, t in PAGES.items()), languages=["german"])
    query = terms(["acute inflammation of the lung"])[0]
    assert both.top(query, 5)[1].tolist() == english.top(query, 5)[1].tolist()


def test_turkish_named_reads_every_text_by_turkish_stems_and_a_turkish_text_once():
    turkish_text = "Küçük hücreli akciğer karsinomu nöroendokrin bir tümördür; tümör hücreleri küçüktür."
    stems, extra = analysed([turkish_text, "Small cell carcinoma"], languages_of(["turkish"]))
    assert stems[0] == tokenize([turkish_text])[0] and extra[0] == stems_in(TURKISH_LANGUAGE, turkish_text), (
        "Turkish stems once"
    )
    assert stems[1] == tokenize(["Small cell carcinoma"])[0] and extra[1] == stems_in(
        TURKISH_LANGUAGE, "Small cell carcinoma"
    )
    assert lookup_terms(["karsinom"], languages_of(["turkish"])) == lookup_terms(["karsinom"])


WORDS = ["lung", "cells", "carcinoma", "Entzündung", "células", "the", "vitamin", "D", "type", "II", "肺癌", "die"]
english_words = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)


@given(st.lists(english_words, min_size=1, max_size=5), english_words)
@hyp_settings(max_examples=40, deadline=None)
def test_unset_every_term_and_score_is_as_before(texts, query):
    """Unset (and for a Python caller's default): a text's terms are its English stems and lettered words, a query
    looks up its terms and its Turkish stems, as before languages could be named; so every score is as it was."""
    assert analysed(texts) == (tokenize(texts), lettered_terms([searchable(t) for t in texts]))
    assert analysed(texts, languages_of(load_settings().languages)) == analysed(texts)
    assert lookup_terms([query]) == [terms([query])[0] + stems_in(TURKISH_LANGUAGE, query)]
    index = LexicalIndex.build((str(i), {"source": str(i), "text": t}) for i, t in enumerate(texts))
    slots, scores = index.top(terms([query])[0], len(texts))  # the English terms alone: what the query scored before
    assert index.search([query], len(texts))[0] == list(
        zip([index.slot_ids[s] for s in slots.tolist()], scores.tolist(), strict=True)
    )


# -- the setting ---------------------------------------------------------------------------------------------------


def test_the_setting_is_snowballs_names_once_each_english_left_out(monkeypatch):
    monkeypatch.setenv("PATHATLAS_LANGUAGES", '["Spanish", "german", "english", "spanish"]')
    assert load_settings().languages == ["german", "spanish"]
    monkeypatch.delenv("PATHATLAS_LANGUAGES")
    assert load_settings().languages == []


def test_an_unknown_language_is_refused_at_start_naming_the_valid_ones(tmp_path):
    result = run_cli("search", "lung", "--index", tmp_path / "index", home=tmp_path, PATHATLAS_LANGUAGES='["deutsch"]')
    line = one_error_line(result, "PATHATLAS_LANGUAGES", "deutsch", "german", "spanish", "portuguese", "italian")
    assert "porter" not in line.replace("dutch_porter", "")


# -- an index and its languages --------------------------------------------------------------------------------------


def recorded(index_dir) -> list[str]:
    lexical = index_dir / "lexical"
    return orjson.loads((lexical / (lexical / "latest").read_text().strip()).read_bytes())["languages"]


def top_case(query: str, index, home, **env) -> str | None:
    result = run_cli("search", query, "--index", index, "--json", "--k", "1", home=home, **env)
    assert result.exit_code == 0, result.output
    hits = [hit for hit in json.loads(result.stdout) if hit["matched_by"].get("bm25")]
    return hits[0]["citation"]["case"] if hits else None


def test_a_changed_setting_reads_bm25_again_until_index_saves_it(tmp_path, caplog):
    """Searches read BM25 again from the store with the languages now named (never writing the index), and say what
    to run; ``pathatlas index`` then saves it with them, as an upgrade's new terms."""
    rows = [
        {"image": "a.jpg", "case": "D1", "title": "Chronische Entzündung der Leber", "organ": "Leber"},
        {"image": "b.jpg", "case": "D2", "title": "Karzinom der Lunge mit Nekrose", "organ": "Lunge"},
    ]
    folder = folder_with(tmp_path / "faelle", "cases.jsonl", jsonl(rows), {"a.jpg": tile(0), "b.jpg": tile(1)})
    home, index = tmp_path / "home", tmp_path / "index"
    german = {"PATHATLAS_LANGUAGES": '["german"]'}
    assert run_cli("index", folder, "--index", index, home=home).exit_code == 0
    assert recorded(index) == []
    assert top_case("Entzündungen", index, home) is None

    with caplog.at_level(logging.INFO, logger="pathatlas.retrieval.lexical"):
        assert top_case("Entzündungen", index, home, **german) == "D1"
    assert "read again from the store" in caplog.text and "english, german" in caplog.text
    assert recorded(index) == []  # a search writes nothing

    assert run_cli("index", folder, "--index", index, home=home, **german).exit_code == 0
    assert recorded(index) == ["german"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pathatlas.retrieval.lexical"):
        assert top_case("Entzündungen", index, home, **german) == "D1"
        assert top_case("Karzinome", index, home, **german) == "D2"
    assert "read again" not in caplog.text  # saved with them: read from its files

    assert top_case("Entzündungen", index, home) is None  # unset again: English alone, as the index was first
    assert recorded(index) == ["german"]


def test_segments_of_other_languages_never_overwrite_the_previous_ones(tmp_path):
    """The previous manifest stays loadable as it was saved (a reader that opened it keeps its files)."""
    docs = [("a", {"source": "s", "text": "Entzündungen der Lunge"})]
    LexicalIndex.build(docs).save(tmp_path, "g1.json")
    LexicalIndex.build(docs, languages=["german"]).save(tmp_path, "g2.json")
    assert "de:entzund" in LexicalIndex.load(tmp_path, "g2.json", ["german"]).vocab
    assert LexicalIndex.load(tmp_path, "g2.json").segments == {}  # read in other languages
    assert not any(t.startswith("de:") for t in LexicalIndex.load(tmp_path, "g1.json").vocab)


def test_unset_segment_files_keep_their_names():
    """An index saved before languages could be named keeps its files: none is written again for a name."""
    import hashlib

    before = hashlib.sha1(f"s\0r1\0{TERMS_VERSION}".encode()).hexdigest()[:20] + ".npz"
    assert _segment_name("s", "r1", []) == before != _segment_name("s", "r1", ["german"])


def test_an_index_reads_figures_printed_words_in_its_languages_too(tmp_path):
    from pathatlas.retrieval.index import Index

    settings = hashing_settings(tmp_path, languages=["german"])
    index = Index.open(settings.index_dir, settings, create=True, defer=True)
    assert index.printed_words().languages == index.lexical.languages == ["german"]


def test_a_store_that_cannot_tell_revisions_is_read_in_the_languages_too():
    """``sync`` builds afresh from a store without source revisions (a Qdrant server's): in the same languages."""

    class Store:
        def source_revisions(self):
            return None

        def scan(self, filters=None):
            return iter([("a", {"source": "s", "text": "Entzündung der Lunge"})])

    index = LexicalIndex(languages=["german"]).sync(Store())
    assert index.languages == ["german"] and index.search(["Entzündungen"], 1)[0][0][0] == "a"


def test_bm25_files_lost_are_read_again_in_the_languages_named(tmp_path):
    rows = [{"image": "a.jpg", "case": "D1", "title": "Chronische Entzündung der Leber", "organ": "Leber"}]
    folder = folder_with(tmp_path / "faelle", "cases.jsonl", jsonl(rows), {"a.jpg": tile(0)})
    home, index, german = tmp_path / "home", tmp_path / "index", {"PATHATLAS_LANGUAGES": '["german"]'}
    assert run_cli("index", folder, "--index", index, home=home, **german).exit_code == 0
    lexical = index / "lexical"
    (lexical / (lexical / "latest").read_text().strip()).write_bytes(b"{damaged")
    assert top_case("Entzündungen", index, home, **german) == "D1"


def test_a_python_caller_names_languages_as_the_setting_does():
    """``LexicalIndex(languages=["German"])`` was taken as written and failed at the first search in the stemmer
    (KeyError); the setting and the index now spell and check names in one place."""
    index = LexicalIndex.build([("p", {"source": "s", "text": "Die Entzündung der Lunge"})], languages=["German"])
    assert [rid for rid, _ in index.search(["Entzündungen"], k=1)[0]] == ["p"]
    with pytest.raises(ValueError, match="unknown language 'klingon'"):
        LexicalIndex(languages=["Klingon"])
