"""Which words of a query no indexed text holds, and the indexed words spelt closest to each. Such a word matches
nothing by its letters: a mistyped option finds no evidence and another wins with confidence, a search's "best match" is
found by meaning alone. Every door says so from ``unknown_words``: the CLI on stderr, REST in ``unknown_words``, the web
UI in a line above its results."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pathatlas.retrieval.figure_labels import LABEL
from pathatlas.retrieval.index import per_generation
from pathatlas.retrieval.terms import ASKING_WORDS
from pathatlas.retrieval.text import ascii_folded, normalise

if TYPE_CHECKING:
    from pathatlas.retrieval.index import Index
    from pathatlas.retrieval.terms import Language


@dataclass(frozen=True)
class UnknownWord:
    """A word of a named text that no indexed text holds."""

    field: str
    """The text it is in, as the caller names it ("text", "question", "option A")."""
    word: str
    """As typed (its first spelling in the text): "Straße", not the "strasse" it is looked up as."""
    closest: tuple[str, ...]
    """The indexed words spelt closest to it, or holding it (at most ``search.CLOSEST``); empty when none is close
    (``closest_words``)."""


@per_generation
def indexed_terms(idx: Index) -> frozenset[str]:
    """Every word's term BM25 holds in ``idx``, in its texts and in its figures' printed words."""
    return frozenset(
        term
        for lexical in (idx.lexical, idx.printed_words())
        for segment in lexical.segments.values()
        for term in segment.vocab
        if " " not in term  # not lettered pairs ("vitamin d")
    )


@per_generation
def indexed_spellings(idx: Index) -> dict[str, str]:
    """The words ``idx``'s texts and figures' printed words use (``spellings_of``): the held values
    ``search.not_held`` picks the closest of, as for a --filter value. BM25 keeps stems ("adipos"), which are no words
    to suggest; reading every record's text again takes half a second for a book, so it is done only to name what a
    mistyped word meant."""
    text_fields = (idx.lexical.text_of, idx.printed_words().text_of)
    return spellings_of(text_of(payload) for _, payload in idx.store.scan() for text_of in text_fields)


def spellings_of(texts: Iterable[str]) -> dict[str, str]:
    """The words ``texts`` use, lower-case (``lower_case``), each keyed by its letters without accents
    (``ascii_folded``), the most used first, one per stem BM25 counts (its most used word)."""
    from pathatlas.retrieval.terms import tokenize

    used = Counter(lower_case(word) for text in texts for word in re.findall(r"\w+", text))
    words = [word for word, _ in used.most_common()]
    spelling: dict[str, str] = {}
    for word, stems in zip(words, tokenize(words), strict=True):
        if stems:  # a stop word has none
            spelling.setdefault(stems[0], word)
    by_letters: dict[str, str] = {}
    for word in spelling.values():
        by_letters.setdefault(ascii_folded(word), word)  # keyed as typed without accents (``closest_words``)
    return by_letters


def lower_case(word: str) -> str:
    """``word`` casefolded, a Turkish dotted capital "İ" as the "i" BM25 reads it as (``terms.stems_in``), not "i" and
    a combining dot above (U+0307): the dot would split "KARACİĞERİN" in two for the Turkish stemmer, so "İnflamasyonu"
    would be a word no text holds, and stay on the indexed words offered for a typo ("İnflamasyn")."""
    return word.casefold().replace("i\u0307", "i")


def looked_for(word: str, languages: tuple[Language, ...]) -> bool:
    """Whether a lower-case query word is one whose absence from the index is worth naming: not a number ("745": a
    page, a dose), nor a stop word of English (``has_words``) or of a language the index is also read in
    (``PATHATLAS_LANGUAGES=de``: "der", "im"), which say nothing of what was searched for."""
    from pathatlas.retrieval.terms import has_words, stems_in

    return not word.isnumeric() and has_words(word) and all(stems_in(lang, word) for lang in languages)


def unindexed_words(text: str, terms: Collection[str], languages: tuple[Language, ...]) -> list[str]:
    """The words of ``text`` worth looking for (``looked_for``) none of whose BM25 terms ``terms`` holds: a typo
    ("Melanomma") or a word no indexed text uses. Each once, whatever its case, as first typed: a warning quoting
    "strasse" for "Straße" (casefolded) named a word the user never wrote. A figure's label ("fig 11.1") names a
    figure, not words to look for (``figure_labels``). A joined name ("Ki-67", "H&E": ``terms.JOINED``) is one word,
    as search reads it: "Ki-67" over an index holding "Ki67" was told "no indexed word 'Ki'". Read as search reads it
    (``normalise``): accents typed decomposed (pasted from macOS) or a zero-width space split a word into pieces no
    index holds ("no indexed word 'pithe'" for "épithélium")."""
    from pathatlas.retrieval.terms import JOINED, lookup_terms, unjoined

    text = LABEL.sub(" ", normalise(text))
    typed: dict[str, str] = {}
    for word in [found[0] for name in JOINED for found in name.finditer(text)] + re.findall(r"\w+", unjoined(text)):
        typed.setdefault(lower_case(word), word)
    return [
        spelt
        for lower, spelt in typed.items()
        if looked_for(lower, languages) and not any(t in terms for t in lookup_terms([lower], languages)[0])
    ]


WORD_CUTOFF = 0.75
"""How alike an indexed word must be spelt to be offered for an unknown one (``closest_words``). Among a book's tens of
thousands of words, a refused filter value's 0.6 offered "lips, does, adds" for "adipos" and "michigan" for
"mitochondria": no suggestion is better than a wrong one."""


UNGUESSED_LETTERS = 3
"""A word this short is offered no indexed words: most words of a book are one letter away from it ("le": "leu",
"let", "leg"; "rm": "rim", "rem")."""
SLIP_LETTERS = 5
"""Up to this length a word is offered only the indexed words one slip of a key away (``one_slip``). In so few
letters, difflib's ``WORD_CUTOFF`` keeps words two slips away ("foie": "five", "fine", "file") and holding it
("mito": "mitochondria") is no likeness."""


def one_slip(typed: str, held: str) -> bool:
    """Whether ``held`` is ``typed`` with one letter added, dropped or changed, or two neighbours swapped ("bnoe":
    "bone")."""
    if abs(len(typed) - len(held)) > 1:
        return False
    at = next((i for i, (a, b) in enumerate(zip(typed, held, strict=False)) if a != b), min(len(typed), len(held)))
    rest, other = typed[at:], held[at:]
    swapped = rest[:2] == other[1::-1] and rest[2:] == other[2:]
    return rest[1:] in (other[1:], other) or rest == other[1:] or swapped


DIGITS = re.compile(r"\d+")


def offered(typed: str, held: str, languages: tuple[Language, ...]) -> bool:
    """Whether an indexed word spelt like ``typed`` may be offered for it: of the same numbers as a word with digits
    (for "cd20", "cd25" is another marker and "her" no marker at all), and a word worth looking for (``looked_for``:
    "her" and "here" say nothing of "her2")."""
    numbers = DIGITS.findall(typed)
    return (not numbers or DIGITS.findall(held) == numbers) and looked_for(held, languages)


def closest_words(word: str, spellings: Mapping[str, str], languages: tuple[Language, ...] = ()) -> tuple[str, ...]:
    """The indexed words closest to ``word`` (``search.closest_spellings``), starting with its letter and spelt at
    least ``WORD_CUTOFF`` alike, or holding it, less those not to be ``offered`` for it (in an index also read in
    ``languages``, none of their stop words); a short word's only one slip away (``SLIP_LETTERS``) and a very short
    word's none (``UNGUESSED_LETTERS``)."""
    from pathatlas.retrieval.search import closest_spellings

    if len(word) <= UNGUESSED_LETTERS:
        return ()
    typed = ascii_folded(word)  # "hépatite" is offered "hepatitis", as "hepatite" is
    if len(typed) <= SLIP_LETTERS:
        spellings = {key: spelt for key, spelt in spellings.items() if one_slip(typed, key)}
    closest = closest_spellings(typed, spellings, cutoff=WORD_CUTOFF, same_start=True)
    return tuple(spelt for spelt in closest if offered(word, spelt, languages))


def unknown_words(texts: Sequence[tuple[str, str]], idx: Index) -> list[UnknownWord]:
    """Each word of each named text (``(field, text)``) that no indexed text holds, in order, with the indexed words
    closest to it. An empty index has none: the answer or search says nothing was found."""
    terms = indexed_terms(idx)
    if not terms:
        return []
    languages = idx.lexical.read_in
    unindexed = [(field, word) for field, text in texts for word in unindexed_words(text, terms, languages)]
    spellings = indexed_spellings(idx) if unindexed else {}
    return [
        UnknownWord(field, word, closest_words(lower_case(word), spellings, languages)) for field, word in unindexed
    ]


@cache
def asking_stems() -> frozenset[str]:
    """The stems BM25 reads ``ASKING_WORDS`` as, once."""
    from pathatlas.retrieval.terms import tokenize

    return frozenset(stem for stems in tokenize(list(ASKING_WORDS)) for stem in stems)


def without_asking_words(question: str) -> str:
    """A question less the words it asks with (``ASKING_WORDS``, by stem)."""
    from pathatlas.retrieval.terms import tokenize

    words = re.findall(r"\w+", question)
    asking = {
        word for word, stems in zip(words, tokenize(words) if words else [], strict=True) if {*stems} & asking_stems()
    }
    return re.sub(r"\w+", lambda word: " " if word.group() in asking else word.group(), question)


def asked_texts(question: str, options: Sequence[str]) -> list[tuple[str, str]]:
    """A question's texts by the names ``unknown_words`` gives them: "question", "option A", "option B"..., but the
    options that name nothing to find: verdicts ("True", "False": every True/False question was told "No indexed text
    has 'true' (option A)") and options meaning others ("All of the above", "Both A and B"), which the agent quotes
    nothing for by their words either (``evidence.option_terms``). Nor does the question's reference to an image in
    front of the asker ("this slide", "the micrograph shown here": ``plan.IMAGE_REFERENCE``) name anything to find:
    "Which diagnosis best fits this slide?", the image questions' own wording, was told "No indexed text has 'slide';
    did you mean side?". Nor do the words it asks with (``without_asking_words``)."""
    from pathatlas.agent.plan import IMAGE_REFERENCE, referred_options, verdict_options
    from pathatlas.agent.questions import LETTERS

    nameless = range(len(options)) if verdict_options(options) else referred_options(question, options)
    named = ((f"option {LETTERS[n]}", option) for n, option in enumerate(options) if n not in nameless)
    return [("question", without_asking_words(IMAGE_REFERENCE.sub(" ", question))), *named]


def unknown_words_json(texts: Sequence[tuple[str, str]], idx: Index) -> list[dict[str, Any]]:
    """``unknown_words`` as every door returns it (REST's ``UnknownWordOut``, MCP, LangChain, ``ask --json``, the
    library): each word of ``texts`` (``(field, text)``) no indexed text holds, with the indexed words it may have
    meant, so a typo found by meaning alone is named wherever one asks."""
    return [{"field": u.field, "word": u.word, "closest": list(u.closest)} for u in unknown_words(texts, idx)]
