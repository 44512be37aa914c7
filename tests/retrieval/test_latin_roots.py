"""A Latin verb and its noun share a stem: a student's "Which cells resorb bone?" answered osteoblast, its page saying
"bone resorption" never quoted, while "...responsible for bone resorption?" found it (Snowball stems "resorb" and
"resorpt"). ``terms.root`` reads the noun's root as the verb's for BM25, the agent's evidence and snippet marks."""

from __future__ import annotations

import Stemmer

from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.terms import EnglishStemmer, root, singular, tokenize
from tests.retrieval.test_latin_forms import book_words


def test_a_latin_verb_and_its_noun_have_one_stem():
    for verb, noun in [
        ("resorb", "resorption"),
        ("absorbs", "absorption"),
        ("reabsorbed", "reabsorption"),
        ("produce", "production"),
        ("reduces", "reduction"),
        ("describe", "description"),
        ("receive", "reception"),
        ("perceive", "perception"),
        ("consumes", "consumption"),
        ("transduce", "transduction"),
    ]:
        assert tokenize([verb]) == tokenize([noun]), (verb, noun)
    for short in ("duct", "kept", "erupt", "abrupt"):  # no verb root to read: as Snowball stems them
        assert root(Stemmer.Stemmer("english").stemWord(short)) == Stemmer.Stemmer("english").stemWord(short)


def test_on_the_book_only_verbs_and_their_own_nouns_meet():
    """Every stem of the A&P book's words that ``root`` joins to another is a verb with its own noun: a rule reaching
    unrelated words ("duct" with "duce", "kept" with "keive") would add a pair here."""
    plain = Stemmer.Stemmer("english")
    stems: dict[str, set[str]] = {}
    for word in book_words():
        stem = plain.stemWord(singular(word))
        stems.setdefault(root(stem), set()).add(stem)
    joined = {merged for merged, parts in stems.items() if len(parts) > 1}
    assert joined == {
        *("absorb", "assum", "conceiv", "consum", "describ", "introduc", "perceiv", "prescrib", "produc", "reabsorb"),
        *("receiv", "reduc", "reproduc", "resorb", "resum", "transcrib", "transduc"),
    }


def test_a_search_for_the_verb_finds_the_page_of_the_noun():
    pages = {
        "bone": "Osteoclasts carry out bone resorption, releasing calcium from the matrix.",
        "other": "Osteoblasts build bone.",
    }
    index = LexicalIndex.build((rid, {"source": rid, "text": text}) for rid, text in pages.items())
    (hits,) = index.search(["Which cells resorb bone?"], 2)
    assert hits[0][0] == "bone", "the other, shorter page shares only bone with the question"
    assert EnglishStemmer().stemWord("resorb") == EnglishStemmer().stemWord("resorption")
