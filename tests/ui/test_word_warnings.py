"""Testers' findings: unknown-word warnings flagged ordinary foreign words with silly suggestions ("le": 'leu', 'let',
'leg'; "foie": 'five', 'fine', 'file'), a stop word of a language named in PATHATLAS_LANGUAGES ("der" with de),
numbers ("745": '75') and short words offered whatever held them ("rm": 'radiopharmaceuticals'); and each CLI warning
quoted the whole query, a pasted vignette's 4,000 characters per line."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.terms import lookup_terms
from pathatlas.ui.words import closest_words, unindexed_words, unknown_words
from tests.helpers import hashing_settings, indexed_lecture, run_cli

LECTURE = (
    "Adipose tissue stores fat in adipocytes. Compact bone is laid down in osteons around a central canal. "
    "Osteoclasts carry out bone resorption; koilocytes line the cervix."
)


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page of a lecture (hashing encoder)."""
    return indexed_lecture(tmp_path_factory.mktemp("lecture"), "lecture.pdf", LECTURE)


def warned(lecture: Path, text: str, **settings) -> dict[str, tuple[str, ...]]:
    """Each word of ``text`` warned of over the lecture's index, with what it is offered."""
    with Index.open(lecture / "idx", hashing_settings(lecture, index=lecture / "idx", **settings)) as idx:
        return {u.word: u.closest for u in unknown_words([("query", text)], idx)}


def test_a_stop_word_of_a_named_language_and_a_number_are_not_warned_but_a_typo_is(lecture):
    text = "die Resorbtion der Knochen im Alter, 745 koilocites y el hueso"
    assert warned(lecture, text, languages=["german", "spanish"]) == {
        "Resorbtion": ("resorption",),
        "Knochen": (),
        "Alter": (),
        "koilocites": ("koilocytes",),
        "hueso": (),
    }
    unnamed = warned(lecture, text)
    assert {"der", "im", "el"} <= set(unnamed), "a language not named is not read, so its words are unknown"
    assert "745" not in unnamed and "y" not in unnamed


def test_a_short_word_is_offered_no_word_or_only_one_a_slip_away():
    book = ["leu", "let", "leg", "rim", "radiopharmaceuticals", "five", "fine", "file", "bore", "bone", "mitosis"]
    words = {w: w for w in [*book, "mitochondria", "lymph", "aorta", "art", "resorption", "reabsorption"]}
    assert [closest_words(w, words) for w in ("le", "rm", "des", "foie", "mito")] == [()] * 5
    assert closest_words("bnoe", words) == ("bone",), "two neighbours swapped"
    assert closest_words("lyph", words) == ("lymph",), "a letter dropped"
    assert closest_words("aorat", words) == ("aorta",)
    assert closest_words("resorbtion", words) == ("resorption", "reabsorption"), "longer words as before"


def test_each_cli_warning_names_a_long_query_by_its_start(lecture):
    query = "Adipos tissue stores fat " + "in compact bone " * 200
    searched = run_cli("search", query, "--index", lecture / "idx", home=lecture / "home")
    assert searched.exit_code == 0, searched.output
    lines = [line for line in searched.stderr.splitlines() if line.startswith("warning:")]
    index = (lecture / "idx").resolve()
    shown = "query 'Adipos tissue stores fat in compact bone…'"
    assert lines == [f"warning: {shown}: no indexed word 'Adipos' in index {index}; closest: 'adipose', 'adipocytes'"]


@pytest.mark.parametrize(
    ("query", "indexed", "named"),
    [
        ("Ki-67 index", {"ki67", "index"}, []),  # searched as "Ki67": no "Ki" to miss
        ("Ki-67 index", {"index"}, ["Ki-67"]),  # the name is missing, not its piece
        ("HPV-16 index", {"index", "hpv"}, []),  # its word is indexed ("HPV 16"): search finds it
        ("HER-2 breast", {"breast", "her"}, ["HER-2"]),  # the pronoun "her" is no HER2
        ("H&E stain", {"stain", "h&e"}, []),
        ("H&E stain", {"stain"}, ["H&E"]),
    ],
)
def test_a_joined_name_is_named_whole_as_search_reads_it(query, indexed, named):
    assert unindexed_words(query, indexed, ()) == named


@pytest.mark.parametrize(
    "query",
    [
        unicodedata.normalize("NFD", "épithélium pavimenteux"),  # accents typed decomposed (pasted from macOS)
        "épi\u200bthélium pavimenteux",  # a zero-width space inside a word
        "ｅｐｉｔｈéｌｉｕｍ pavimenteux",  # full-width letters
    ],
)
def test_a_word_search_reads_whole_is_not_named_in_pieces(query):
    """Search reads these as "épithélium" (``normalise``); the warning names no piece of it ("pithe", "lium")."""
    indexed = {term for word in ("épithélium", "pavimenteux") for term in lookup_terms([word], ())[0]}
    assert unindexed_words(query, indexed, ()) == []
