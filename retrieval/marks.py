"""Which words of a text a query marks: a hit's snippet opens at the first, the web UI highlights them all. One rule
for both, reading words as the search reads them (``text.normalise``; accents, "ß" and case folded by
``text.folded``): a query's words worth marking (``query_terms``), and in a text every word starting like one of
them (a stem prefix: "koilocytes" marks "koilocyte"), in a spaceless script every run of one."""

from __future__ import annotations

import re

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
"""Two letters joined by an ampersand, a name of their own ("H&E", "H & E"), as BM25 reads one (``lexical.JOINED``)."""
QUERY_WORD = re.compile(
    rf"{AMPERSAND_NAME.pattern}|{SPACELESS_TERM.pattern}|[^\W\d_{HAN}{KANA}](?:[^\W_{HAN}{KANA}]|-)+"
)
"""A query's words: a name joined by an ampersand, those of spaceless scripts, and elsewhere a letter of any script
followed by letters, digits or hyphens ("células", "Ätiologie", "α-actinin", "καρκίνωμα", "Ki-67")."""


def query_terms(text: str | None) -> list[str]:
    """The words of a query worth highlighting (no stop words, no one- or two-letter words but two kanji, which
    make one: 肺癌), in order; read as the search reads it (``text.normalise``), so "ﬁbrosis" or a word a soft
    hyphen splits marks the word the page holds."""
    seen: list[str] = []
    for match in QUERY_WORD.finditer(normalise(text or "")):
        word = match.group().lower().replace(" ", "")
        if (len(word) > 2 or SPACELESS_TERM.fullmatch(word)) and word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen


TEXT_WORD = re.compile(rf"[^\W{HAN}{KANA}]+(?:-[^\W{HAN}{KANA}]+)*")
"""A word of a text outside the spaceless scripts (which hold no word boundaries and are matched term by term); a
hyphen joins its parts, each of which may start a marked word ("non-koilocytic")."""


def _stem(term: str) -> str:
    """A prefix that also matches the term's inflections (koilocytes ~ koilocyte, glands ~ glandular)."""
    return term if len(term) <= 5 else term[: max(5, len(term) - 2)]


def _unhyphenated(word: str) -> str:
    """``word`` folded, without hyphens: "Ki-67" and "Ki67", "anti-inflammatory" and "antiinflammatory" are one."""
    return folded(word).replace("-", "")


def marked_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each word of ``text`` a query's ``terms`` mark, in order: a word starting like a term, hyphens
    aside (each part of a hyphenated word may start one: "non-koilocytic"), a name joined by an ampersand written as
    a term ("H & E" for "H&E"), and in a spaceless script each run of a term."""
    if not terms:
        return []
    spaceless = [re.escape(t) for t in terms if SPACELESS_TERM.fullmatch(t)]
    named = {folded(t) for t in terms if AMPERSAND_NAME.fullmatch(t)}
    stems = tuple(_unhyphenated(_stem(t)) for t in terms if not SPACELESS_TERM.fullmatch(t) and t not in named)
    spans = []
    for match in re.finditer("|".join([*spaceless, AMPERSAND_NAME.pattern, TEXT_WORD.pattern]), text):
        word, start = match.group(), match.start()
        if AMPERSAND_NAME.fullmatch(word):
            start += 0 if folded(word.replace(" ", "")) in named else len(word)
        elif TEXT_WORD.fullmatch(word):
            starts = [0, *(i + 1 for i, c in enumerate(word) if c == "-")]
            start += next((i for i in starts if _unhyphenated(word[i:]).startswith(stems)), len(word))
        if start < match.end():
            spans.append((start, match.end()))
    return spans
