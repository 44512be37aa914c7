"""Which words of a text a query marks: a hit's snippet opens at the first, the web UI highlights them all. One rule
for both, reading words as the search reads them (``text.normalise``; accents, "ß" and case folded by
``text.folded``): a query's words worth marking (``query_terms``), and in a text every word of the same English stem
as one of them, as BM25 stems ("body" marks "bodies"), or starting like a long one ("koilocytes" marks
"koilocytic"); each part of a hyphenated word on its own, as BM25 splits it ("Mallory-Denk" marks "Mallory"), any dash
read as a hyphen; an underscore parting words ("scc" marks that of "lung_scc") and a Greek letter no other letter
touches read as its name ("beta" marks "β", "α" marks "alpha"), as BM25 reads them (``terms.searchable``); in a
spaceless script every run of one."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Collection, Iterable, Iterator
from typing import NamedTuple

from pathatlas.retrieval.terms import GREEK_LETTER, EnglishStemmer, searchable
from pathatlas.retrieval.text import folded, normalise

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "which",
        "with",
        "what",
        "who",
        "whom",
        "why",
        "how",
        "when",
        "where",
        "does",
        "do",
        "did",
        "not",
        "no",
        "show",
        "shows",
        "seen",
    ]
)


HAN, KANA = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff", "\u3040-\u30ff"
"""Chinese characters (kanji), and Japanese hiragana and katakana: scripts written without spaces between words."""
SPACELESS_TERM = re.compile(f"[{HAN}]{{2,}}|[\u30a0-\u30ff]{{2,}}")
"""A word of a spaceless script: a run of two or more kanji, or of katakana (肺腺癌, フィブローシス); the hiragana
between them are particles and endings."""
AMPERSAND_NAME = re.compile(r"(?<![\w&])[^\W\d_] ?& ?[^\W\d_](?![\w&])")
"""Two letters joined by an ampersand, a name of their own ("H&E", "H & E"), as BM25 reads one (``terms.JOINED``)."""
DASHES = "\u2010\u2011\u2013\u2014-"
"""Hyphen, non-breaking hyphen, en and em dash, and the ASCII hyphen: an eponym is printed with any of them
("Reed–Sternberg") and typed with the last, so all join a word's parts alike."""
DASH = re.compile(f"[{DASHES}]")
QUERY_WORD = re.compile(
    rf"{AMPERSAND_NAME.pattern}|{SPACELESS_TERM.pattern}|[^\W\d_{HAN}{KANA}](?:[^\W_{HAN}{KANA}]|[{DASHES}])+"
    rf"|{GREEK_LETTER.pattern}"
)
"""A query's words: a name joined by an ampersand, those of spaceless scripts, and elsewhere a letter of any script
followed by letters, digits or dashes ("células", "Ätiologie", "α-actinin", "καρκίνωμα", "Ki-67"), or a Greek letter
no other letter touches, a word of its own ("α", read as its name: ``_keys``)."""


def query_terms(text: str | None) -> list[str]:
    """The words of a query worth highlighting (no stop words, no one- or two-letter words but two kanji, which
    make one: 肺癌, and a lone Greek letter, which is its name), in order, dashes written as hyphens; read as the search
    reads it (``text.normalise``), so "ﬁbrosis" or a word a soft hyphen splits marks the word the page holds."""
    seen: list[str] = []
    for match in QUERY_WORD.finditer(normalise(text or "")):
        word = DASH.sub("-", match.group().lower().replace(" ", ""))
        a_word = len(word) > 2 or SPACELESS_TERM.fullmatch(word) or GREEK_LETTER.fullmatch(word)
        if a_word and word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen


def greek_name(letter: str) -> str:
    """A Greek letter no other letter touches (``GREEK_LETTER``) as BM25 reads it: its name ("beta" for "β")."""
    return searchable(letter).strip()


WORD_CHAR = rf"(?:(?!{GREEK_LETTER.pattern})[^\W_{HAN}{KANA}])"
"""A letter or digit of a word: not an underscore, which parts words ("lung_scc"), nor a Greek letter no other letter
touches, a word of its own ("IL-1β": "IL-1" and "β")."""
TEXT_WORD = re.compile(rf"{WORD_CHAR}+(?:[{DASHES}]{WORD_CHAR}+)*")
"""A word of a text outside the spaceless scripts (which hold no word boundaries and are matched term by term); a dash
joins its parts, each run of which may be a marked word ("non-koilocytic", "Reed–Sternberg")."""
WORD_PART = re.compile(rf"[^{DASHES}]+")
PREFIX_MIN = 6
"""A term of at least this many letters also marks the words starting like it (``_prefix``): the inflections the
stemmer leaves apart ("glands" and "glandular") and other languages' ("células" and "célula"). A shorter one would
start unrelated words ("neu" neutrophil, "all" allele) and marks only the words of its stem."""
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
"""Korean letters: a Korean word takes its particles without a space (선암종은), which BM25 meets by character pairs
(``terms.cjk_terms``) and no English stem reads, so a Korean term of any length marks the words it starts."""


_ENGLISH = threading.local()
"""Each thread's English Snowball stemmer (BM25's: ``lexical``): a stemmer must not be called concurrently."""


@functools.lru_cache(maxsize=65536)
def _read(word: str) -> tuple[str, str]:
    """A word (or a run of its dash-joined parts) as marks compare it: folded without dashes (``_unhyphenated``), and
    that as BM25 stems it ("bodies" and "body" are "bodi"); kept, as a page repeats its words for every term."""
    if not hasattr(_ENGLISH, "stemmer"):
        _ENGLISH.stemmer = EnglishStemmer()
    bare = _unhyphenated(word)
    return bare, _ENGLISH.stemmer.stemWord(bare)


def _prefix(key: str) -> str | None:
    """The start a long key's inflections share (koilocytes ~ koilocyte, glands ~ glandular); none for a short key
    but a Korean one, which is its own."""
    if len(key) >= PREFIX_MIN:
        return key[: max(PREFIX_MIN - 1, len(key) - 2)]
    return key if HANGUL.match(key) else None


def _unhyphenated(word: str) -> str:
    """``word`` folded, without dashes: "Ki-67" and "Ki67", "anti-inflammatory" and "antiinflammatory" are one."""
    return DASH.sub("", folded(word))


def _keys(term: str) -> list[str]:
    """What a term marks a word as, its words read as a text's (``TEXT_WORD``): each without its hyphens ("ki67" for
    "Ki-67"), and, as BM25 splits them, each of their parts a reader looks for (over two letters, no stop word:
    "mallory" and "denk" of "Mallory-Denk") and a lone Greek letter's name ("alpha" and "cells" of "α-cells", "il1"
    and "beta" of "IL-1β")."""
    words = TEXT_WORD.findall(term)
    parts = [part for word in words for part in word.split("-") if len(part) > 2 and part not in STOPWORDS]
    names = [greek_name(letter) for letter in GREEK_LETTER.findall(term)]
    return [_unhyphenated(key) for key in dict.fromkeys([*words, *parts, *names])]


INFLECTION = 2
"""Letters a word's stem may add after a long key's start (``_prefix``) and be marked as its inflection ("células"
for "célula", "infecciosas" for "infecciosos", "cervical" for "cervix"); a longer one only where it starts with the
key's stem ("glandular" for "glands", "koilocytosis" for "koilocytes"). Any longer word starting alike had been marked:
"nucleolus" for "nuclei", "bronchopulmonary" for "bronchi"."""


class MarkRules(NamedTuple):
    """What a query's terms mark, read from them once (``_mark_rules``) for every word of every text shown for it."""

    spaceless: tuple[str, ...]
    """The terms of a spaceless script, each marking its every run."""
    names: dict[str, frozenset[str]]
    """Each name joined by an ampersand, folded, to the terms written as it ("h&e" for "H & E")."""
    by_stem: dict[str, frozenset[str]]
    """Each key's English stem (``_read``) to the terms of that key (``_keys``)."""
    prefixed: tuple[tuple[str, str, str], ...]
    """(start, stem, term) of each long key: the start its inflections share (``_prefix``) and its stem."""


@functools.lru_cache(maxsize=256)
def _mark_rules(terms: tuple[str, ...]) -> MarkRules:
    """The rules of ``terms``: a spaceless script's term marks its runs, a name joined by an ampersand the name written
    any way, any other term the words of its keys' stems or inflections (``_keys``); kept, as a query's every hit and
    snippet asks for them."""
    spaceless = tuple(term for term in terms if SPACELESS_TERM.fullmatch(term))
    named = [term for term in terms if AMPERSAND_NAME.fullmatch(term)]
    keyed = [(key, term) for term in terms if term not in spaceless and term not in named for key in _keys(term)]
    return MarkRules(
        spaceless=spaceless,
        names=_grouped((folded(term), term) for term in named),
        by_stem=_grouped((_read(key)[1], term) for key, term in keyed),
        prefixed=tuple((prefix, _read(key)[1], term) for key, term in keyed if (prefix := _prefix(key))),
    )


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Each first of ``pairs`` to the set of the seconds paired with it."""
    groups: dict[str, set[str]] = {}
    for key, term in pairs:
        groups.setdefault(key, set()).add(term)
    return {key: frozenset(group) for key, group in groups.items()}


def _marking_terms(word: str, rules: MarkRules) -> frozenset[str]:
    """The terms marking a word (or a run of its parts): those of a key of its stem, and those of a long key it starts
    like as one of its inflections (``INFLECTION``)."""
    bare, stem = _read(word)
    inflected = [
        term
        for start, key_stem, term in rules.prefixed
        if bare.startswith(start) and (len(stem) - len(start) <= INFLECTION or stem.startswith(key_stem))
    ]
    return rules.by_stem.get(stem, frozenset()).union(inflected)


Span = tuple[int, int]
WORD = re.compile("|".join([AMPERSAND_NAME.pattern, GREEK_LETTER.pattern, TEXT_WORD.pattern]))
"""A word of a text outside the spaceless scripts: a name joined by an ampersand, a lone Greek letter, or a run of
letters and digits its dashes join (``TEXT_WORD``)."""


@functools.lru_cache(maxsize=256)
def _words_pattern(spaceless: tuple[str, ...]) -> re.Pattern[str]:
    """The words of a text as marks read them (``WORD``), the runs of ``spaceless`` terms first."""
    return re.compile("|".join([*map(re.escape, spaceless), WORD.pattern]))


def _words_marked(
    text: str, rules: MarkRules, spaceless: tuple[str, ...]
) -> Iterator[tuple[list[Span], dict[Span, frozenset[str]]]]:
    """Each word of ``text`` some term marks, in one scan: its dash-joined parts (one for most words) and the terms
    marking each run of them ((start, end) in ``text``); a lone Greek letter (even one a Greek word beside it makes
    part of a text word, "α" of "καρκίνωμα α-κύτταρα", once read alone) marks as its name, a run of a ``spaceless``
    term as that term."""
    for match in _words_pattern(spaceless).finditer(text):
        word, start = match.group(), match.start()
        if word in spaceless:
            parts, marking = [match.span()], {match.span(): frozenset([word])}
        elif GREEK_LETTER.fullmatch(word):
            parts, marking = [match.span()], {match.span(): _marking_terms(greek_name(word), rules)}
        elif AMPERSAND_NAME.fullmatch(word):
            parts, marking = [match.span()], {match.span(): rules.names.get(folded(word.replace(" ", "")), frozenset())}
        else:
            parts = [(start + a, start + b) for a, b in _part_spans(word)]
            marking = {(a, b): _marking_terms(text[a:b], rules) for a, _ in parts for _, b in parts if b > a}
        if any(marking.values()):
            yield parts, marking


def _part_spans(word: str) -> list[Span]:
    """(start, end) within ``word`` of each of its dash-joined parts."""
    if not DASH.search(word):  # most words: one part
        return [(0, len(word))]
    return [part.span() for part in WORD_PART.finditer(word)]


def _longest_runs(parts: list[Span], marked: Collection[Span]) -> list[Span]:
    """Each longest run of a word's ``parts`` that marks (in ``marked``), left to right: the whole of "Reed–Sternberg"
    for "Reed-Sternberg", "koilocytic" of "non-koilocytic", "Ziehl" of "Ziehl-Neelsen" for "Ziehl-Nielsen"."""
    runs: list[Span] = []
    for start, _ in parts:
        if runs and start < runs[-1][1]:
            continue  # a part of the run marked before
        ends = [end for _, end in parts if (start, end) in marked]
        if ends:
            runs.append((start, ends[-1]))
    return runs


def marked_spans(text: str, terms: list[str]) -> list[Span]:
    """(start, end) of each word of ``text`` a query's ``terms`` mark, in order: a word of a term's English stem or,
    for a long term, starting like it, dashes aside, each longest run of a dash-joined word's parts some term marks
    (``_longest_runs``), a name joined by an ampersand written as a term ("H & E" for "H&E"), a lone Greek letter
    whose name a term marks, and in a spaceless script each run of a term."""
    if not terms:
        return []
    rules = _mark_rules(tuple(terms))
    spans = []
    for parts, marking in _words_marked(text, rules, rules.spaceless):
        spans += _longest_runs(parts, {run for run, marking_terms in marking.items() if marking_terms})
    return spans


def marked_spans_by_term(text: str, terms: list[str]) -> dict[str, list[Span]]:
    """Each term's ``marked_spans(text, [term])``, in the order of ``terms``, the words of ``text`` read once for all
    of them: a snippet weighs each term's marks (``fusion.marked_weights``), and a scan per term was most of a text
    search's time. A spaceless script's term is sought on its own, as its runs may overlap another's."""
    rules = _mark_rules(tuple(terms))
    by_term = {term: marked_spans(text, [term]) if term in rules.spaceless else [] for term in terms}
    for parts, marking in _words_marked(text, rules, spaceless=()):
        for term in frozenset().union(*marking.values()):
            marked = {run for run, marking_terms in marking.items() if term in marking_terms}
            by_term[term] += _longest_runs(parts, marked)
    return by_term
