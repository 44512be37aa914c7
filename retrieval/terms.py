"""What BM25 reads as a word: the terms of a text, alike for documents and queries, and their ``TERMS_VERSION``.

A text's terms are bm25s tokens (English stop words, Snowball stemming), plus a term for each word a single letter or
digit tells apart, "vitamin d", and for each name written with a hyphen or an ampersand, "Ki-67" and "H&E", which
those tokens would split or drop. Documents and queries are read alike:
Unicode-normalised (``text.normalise``, which the PDF reader and the agent's quotes use too), Latin letters without
accents (``text.ascii_folded``), Chinese, Japanese and Korean as overlapping character pairs (``cjk_terms``).

Other languages are read by their own Snowball stems, each written after its own prefix (``Language``): a language
told by its letters (Turkish, ``TOLD``) adds its stems to a text written in it, and the languages a user names
(``PATHATLAS_LANGUAGES``: ``LexicalIndex.languages``) add theirs to every text. A query looks its stems up in all of
them. Neither changes the English terms, nor the length BM25 reads (their stems read words already counted): every
text scores for its English terms exactly as without them, and only the matches they add change a score.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pathatlas.retrieval.text import (
    CJK_RUN,
    MICRO,
    MU,
    ascii_folded,
    normalise,
    turkish,
)
from pathatlas.settings import ISO_CODES, snowball_languages

TERMS_VERSION = 15
"""What a saved segment's terms are (1: stems only; 2: Roman numerals kept as letters; 3: Roman numerals read as digits;
4: Unicode-normalised, accents folded, CJK character pairs; 5: Turkish texts by Turkish stems; 6: by English stems
too; 7: a named language's words typed without its letters also stemmed as it spells them, ``Language.spelt``; 8: names
joined by a hyphen or an ampersand, ``JOINED``; 9: Latin plurals read as singulars, ``singular``; 10: an underscore
parts words, a lone Greek letter is read as its name, ``searchable``; 11: British spellings read as American,
``american``; 12: a Latin verb's noun stem read as the verb's, ``ROOT_ALTERNATIONS``; 13: "concept" kept apart from
"conception", ``IDEAS``; "mmHg" read as "mm Hg", ``searchable``; an ion or a sign-marked name by its charge, "Ca++" as
"Ca2+", "K+" as "k+", ``CHARGED``; 14: a number with its unit and a decimal number as one term, ``MEASURED``; 15:
Greek letters without accents and "ё" as "е", ``text.ascii_folded``; every sigma as "σ", ``SIGMAS``; a lone Greek
letter beside a Greek word a word of Greek text, not the letter's name, ``GREEK_LETTER``).
Segments of another version are re-read from the store and kept in memory, as a search never writes the index
(``Index._load_lexical``); the next commit saves them (an ``index`` run that changed nothing makes one for them:
``Index.needs_rewrite``)."""
LETTERED = (
    re.compile(r"\b([A-Za-z]{2,})[\s-]+(I{1,3}|IV|[A-Z0-9])\b(?![-\w]|\.\d)"),
    re.compile(r"(?<![\w&-])(?<!& )([B-HJ-Z])[\s-]+([A-Za-z]{2,}?)s?\b"),
)
"""A word told apart by one capital letter, digit or Roman numeral, which the stems drop: "vitamin D", "hepatitis B",
"type 1", "B cells", "X-ray". Before a word only a capital letter counts: "A" and "I" there are an article and a
pronoun ("A cell", "I think"), a digit there is a count ("2 kidneys"), a lower-case letter is a word of its own, and
a letter after an ampersand ends a name ("H&E stain": ``JOINED``). A digit before a decimal point is no letter: "pH 7.4"
is a measure (``MEASURED``)."""
NUMERALS = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
"""Roman numerals read as digits, so "type I" and "Type 1 diabetes" are one term."""
NAME_WORD, NAME_NUMBER = r"(?<![\w&-])([A-Za-z]{1,5})", r"(\d{1,3})(?![\w-]|\.\d)"
AMPERSAND = r"(?<![\w&-])([A-Za-z]) ?& ?([A-Za-z])(?![\w&-])"
JOINED = (re.compile(f"{NAME_WORD}-{NAME_NUMBER}"), re.compile(AMPERSAND))
"""Names joined by a hyphen or an ampersand, which the stems split or drop: a short word and a number ("Ki-67",
"HER-2", "IL-6", "CD-20"), read also as written glued ("Ki67", "HER2": one stem), and two letters around an ampersand
("H&E", whose letters alone are no words). A query reads such a name as that one term, its pieces as no words of their
own (``unjoined``)."""
TYPED_JOINED = (
    re.compile(f"{NAME_WORD}[ -]{NAME_NUMBER}"),
    re.compile(rf"{AMPERSAND}|(?<![\w&-])([A-Z]) and ([A-Z])(?![\w&-])"),
)
"""``JOINED`` as a query types them, also with a space ("HER 2", "ki 67", "CD 20") or "and" between capitals ("H and
E"). Queries only: in a text "page 12" or "A and B" are no names, and a query term no text holds changes no score."""
SIGNS = "+\u2013\u2212-"
"""A charge's signs: plus, and minus as printed (en dash, minus sign) or typed (hyphen)."""
CHARGED_CHARS = 12
"""The longest charged name ``CHARGED`` reads ("NH4+", "HCO3-", "H2PO4-"): looked ahead first, so a long word is no
name to try (as a query types it, in any case, a run of letters was split every way: 24 letters took 28 ms, 300 hung
a search)."""
CHARGED = re.compile(
    rf"(?<![\w{SIGNS}])(?=\w{{1,{CHARGED_CHARS}}}[{SIGNS}])((?:[A-Z][a-z]?\d*)*[A-Z][a-z]?)(\d?)"
    rf"(\+{{1,3}}|[{SIGNS[1:]}]{{1,3}})(?![\w{SIGNS}])"
)
"""An ion or another name a sign ends ("K+", "H+", "Ca++", "Ca2+", "Na+", "Cl\u2013", "Rh+", blood type "O\u2212"), in a
text starting with a capital ("T- and B-cells" have none: a hyphen there ends a word). Where the stems miss it, it is
read as one term of its name and charge (``charged_terms``): a lone letter, which they drop ("K+", "H+", "O\u2212"), and
a charge of two or more, which they read as two names ("Ca++" as "ca", "Ca2+" as "ca2": both are "ca2+", as the A&P
book prints both). "Na+" and "Cl\u2013" are their stems already: a second term would count them twice."""
TYPED_CHARGED = re.compile(CHARGED.pattern, re.IGNORECASE)
"""``CHARGED`` as a query types it, in any case ("k+", "ca2+"): a query term no text holds changes no score."""
UNITS = "mm hg|mm|cm|nm|\u03bcm|ml|dl|l|mg|kg|g|mmol|meq|mosm|mv|ms|bpm|hz|\u00b0c|\u00b0f|percent|%"
"""Units the A&P book prints after a number, as ``searchable`` reads them ("mmHg" is "mm Hg", "\u00b5m" "\u03bcm")."""
MEASURED = re.compile(rf"(?<![\w.,])(\d+(?:\.\d+)?)(?: ?({UNITS}))?(?!\w|[.,]\d)", re.IGNORECASE)
"""A number with its unit ("5 mm", "5mm", "120 mm Hg", "95%" as "95 percent") and a decimal number ("pH 7.4", "Figure
7.11"), which the stems read as their parts or not at all (a digit alone is no word, "7.4" is "7" and nothing): read
as one term more (``measured_spans``), so "5 mm" finds the pages on 5 mm before those on any "mm", and "pH 7.4" those
saying 7.4 before any "pH" beside a 7."""
MM_HG = re.compile(r"(?<=\bmm)(?=hg\b)", re.IGNORECASE)
"""Where "mmHg", as students and clinicians type it, parts into the book's "mm Hg" (``searchable``)."""
WORD = re.compile(r"[^\W_]{2,}")
"""A word: two letters or digits or more, parted by anything else, an underscore too (as ``searchable`` reads)."""
GREEK_WORD = "[\u0370-\u03ff\u1f00-\u1fff]{2}"
"""The start or end of a Greek word: two Greek letters, accented or not (polytonic ones too)."""
GREEK_LETTER = re.compile(
    rf"(?<![^\W\d_])(?<!{GREEK_WORD}\s)[\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9](?![^\W\d_])(?!\s{GREEK_WORD})"
)
"""A Greek letter no other letter touches, read as its name: "α-cells" finds the book's "alpha cells" ("alpha (α)"
too), "IL-1β" is "IL-1 beta", a lone letter being no word; a letter within a word ("μm") stays as it is, and so does
one beside a Greek word, a word of Greek text (the articles "η" and "ο": "η καρδιά" is "the heart", not "eta")."""
LATIN_SINGULARS = {
    **{w + "a": w + "um" for w in ("sept", "ov", "haustr", "acetabul", "reticul", "retinacul", "spectr", "strat")},
    **{w + "a": w + "um" for w in ("diverticul", "flagell", "hil", "cavernos")},
    **{"ganglia": "ganglion", "mitochondria": "mitochondrion", "spermatozoa": "spermatozoon", "testes": "testis"},
    **{"foramina": "foramen", "lumina": "lumen", "corpora": "corpus", "mucous": "mucus", "villous": "villus"},
    **{w[:-2] + "ices": w for w in ("cortex", "apex", "appendix", "matrix", "cervix", "vertex", "varix", "helix")},
    "calyces": "calyx",
}
"""Latin and Greek plurals (and two adjectives) no ending rule reads, as the singular whose stem they share: "septa"
finds "septum", "ganglia" "ganglion", "testes" "testis" (not "test"), "mucous" "mucus", "cortices" "cortex"."""
LATIN_ENDINGS = (
    (re.compile(r"^(?!mini$)([a-z]{3,})i$"), r"\1us"),
    (re.compile(r"^(?!ammonia$|media$)([a-z]{3,})ia$"), r"\1ium"),
    (re.compile(r"^([a-z]{4,})sis$"), r"\1ses"),
    (re.compile(r"^([a-z]{3,}m)ata$"), r"\1a"),
)
"""Latin and Greek plural endings as the singular the English stemmer stems: "nuclei" as "nucleus" (bronchi, villi,
stimuli, alveoli), "bacteria" as "bacterium" (atria, cilia, epithelia), "carcinomata" as "carcinoma"; and "-sis" as
"-ses", so "metastasis" and "metastases" ("diagnosis", "diagnosed") share a stem. Checked on the A&P book's words
(every pair of stems they join, ``tests/retrieval/test_latin_forms.py``): "mini" is no plural of "minus", "ammonia"
none of "ammonium", "media" (tunica media) none of "medium"; "-a" is no plural ending in general ("cornea" and
"stratum corneum", "vasa recta" and "rectum" are other words), hence the list."""


def singular(word: str) -> str:
    """A lower-case word as its singular where it is a Latin or Greek plural (``LATIN_SINGULARS``, ``LATIN_ENDINGS``);
    else as written."""
    if word in LATIN_SINGULARS:
        return LATIN_SINGULARS[word]
    for ending, single in LATIN_ENDINGS:
        if ending.match(word):
            return ending.sub(single, word)
    return word


IZED = r"[a-z]{2,}(?:al|an|as|er|es|et|eur|ic|id|il|im|in|it|og|on|or|ot|gn|mat|[ilmt]ar|[ai]ll)|ion"
"""What precedes a British "-ise" read as "-ize": "organ", "polar", "minim", "recogn", "oxid", "traumat", "ion"...
Not "prom" (promise), "exerc" (exercise), "expert", "advert", "prec" (precise), "treat" (treatise), "trell"
(trellised), "rear" (rearise), nor a short "an" (anise) or "cer" (cerise): words spelt "-ise" in American English
too."""
TRE = "cent|fib|lit|met|calib|theat|euv"
"""What precedes a British "-re" read as "-er" ("centre", "fibres", "centred", "manoeuvring"): a list, as "acre",
"genre", "mitre" and "timbre" are American too."""
AMERICAN_SPELLINGS = tuple(
    (re.compile(pattern), spelt)
    for pattern, spelt in (
        ("haem", "hem"),
        ("aemi(?=a|c)", "emi"),
        ("anaesth", "anesth"),
        ("paed", "ped"),
        ("gynaec", "gynec"),
        ("^c(?:ae|e)sar[ei]an", "cesarean"),
        ("^aetiol", "etiol"),
        ("^(f|c)aec(?!il)", r"\1ec"),
        ("^leuc(?=ocyt|open|oplak|opoie|oderm|orrh|a?em)", "leuk"),
        ("(^|o|myx|lymph|papill)oe(?=dem|soph|str[aiou])", r"\1e"),
        ("^manoeuv", "maneuv"),
        ("(rrh|pn)oe(?=a|ic)", r"\1e"),
        ("^foet", "fet"),
        ("^coeliac", "celiac"),
        ("homoeo", "homeo"),
        ("(tum|col|hum|behavi|lab|od|fav|vap|rig|vig|flav)our", r"\1or"),
        (f"({TRE})re(s?)$", r"\1er\2"),
        (f"({TRE})r(ed|ing)$", r"\1er\2"),
        ("^sulph", "sulf"),
        ("^mould", "mold"),
        ("^grey(s|ish)?$", r"gray\1"),
        (f"^({IZED})is(e|es|ed|ing|ation|ations|er|ers|able)$", r"\1iz\2"),
        ("(cata|para|hydro|dia|hemo)lys(e|ed|ing)$", r"\1lyz\2"),
    )
)
"""British medical spellings as the American ones the stemmer meets in most textbooks (the A&P book among them), so a
student writing either finds the other: "haemoglobin", "ischaemia", "anaemic", "anaesthesia", "paediatric",
"gynaecology", "caesarean", "aetiology", "faeces", "caecum", "leucocyte", "leucaemia"; "oedema" ("myxoedema"),
"oesophagus", "oestrogen", "oestradiol", "manoeuvre"; "diarrhoea", "amenorrhoea", "dyspnoea", "apnoea"; "foetus",
"coeliac", "homoeostasis"; "tumour", "colour", "humour", "behaviour", "labour", "odour", "favour", "vapour", "rigour",
"vigour", "flavour"; "fibre", "centre(d)", "litre", "metre" (and "millilitre", "micrometre"), "calibre", "theatre";
"sulphate", "mould", "grey"; "-ise", "-ised", "-ising", "-isation" as "-ize" after ``IZED``; "catalysed", "paralyse",
"hydrolysing", "haemolysed". Only listed letters change: "aerobic", "Oedipus", "shoe", "poet", "coelom" and "amoeba"
(American too), "gastroesophageal" (no "gastro-oesophageal"), "hour", "four", "pour", "your", "tour", "contour",
"mitre", "acre" stay. Where Snowball already joins both spellings it is left to ("signalling", "labelled", "ageing");
"analyse" keeps the stem of "analysis", which "analyze" does not share, and "lysed" is American too. Checked on the
A&P book's words (every word whose stem it changes, ``tests/retrieval/test_british_spellings.py``)."""

BRITISH = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in AMERICAN_SPELLINGS))
"""Any of ``AMERICAN_SPELLINGS``: most words hold none, and one search tells."""


@functools.lru_cache(maxsize=1 << 16)
def american(word: str) -> str:
    """A lower-case word as American English spells it where it is a British spelling (``AMERICAN_SPELLINGS``); else
    as written. Kept: a text repeats its words, and each is read against every spelling."""
    if BRITISH.search(word):
        for pattern, spelt in AMERICAN_SPELLINGS:
            word = pattern.sub(spelt, word)
    return word


ROOT_ALTERNATIONS = re.compile(r"(?<=[a-z]{2})(?:(orp)t|(um)pt|(uc)t|(ip)t|(ep)t)$")
"""Latin verbs whose nouns end on another root, which Snowball keeps apart (resorb / resorption -> "resorb" /
"resorpt", produce / production, consume / consumption, describe / description, receive / reception): the noun's
stem is read as the verb's (``root``), so a question saying "resorb" finds the page saying "resorption"."""
VERB_ROOTS = {"orp": "orb", "um": "um", "uc": "uc", "ip": "ib", "ep": "eiv"}
IDEAS = frozenset({"concept", "concepts"})
"""Nouns whose stem ``root`` would read as a verb whose act they do not name: a "concept" is an idea, where
"conception" (which Snowball stems alike) is conceiving a child, so "conception" finds the pages on fertilization, not
the thirty saying "concept"."""


def root(stem: str) -> str:
    """A Snowball stem with its Latin noun root read as the verb's (``ROOT_ALTERNATIONS``): "absorpt" -> "absorb"."""
    match = ROOT_ALTERNATIONS.search(stem)
    if match is None:
        return stem
    return stem[: match.start()] + VERB_ROOTS[next(group for group in match.groups() if group)]


class EnglishStemmer:
    """The English Snowball stemmer (PyStemmer), reading each word as its ``singular`` spelt ``american``, and the
    stem's Latin noun root as the verb's (``root``) but for ``IDEAS``: BM25's, the agent's and the snippet marks'
    stems. One per thread: a Snowball stemmer must not be called concurrently."""

    def __init__(self) -> None:
        import Stemmer

        self._snowball = Stemmer.Stemmer("english")

    def stemWords(self, words: list[str]) -> list[str]:  # noqa: N802 (bm25s calls it by PyStemmer's name)
        read = [singular(american(word)) for word in words]
        return [
            stem if word in IDEAS else root(stem)
            for word, stem in zip(read, self._snowball.stemWords(read), strict=True)
        ]

    def stemWord(self, word: str) -> str:  # noqa: N802
        return self.stemWords([word])[0]


CODES = ISO_CODES | {"dutch_porter": "nl-porter"}
"""What each Snowball language's stems (PyStemmer's names) are written after: its ISO 639-1 code, and Dutch's second
stemmer (Porter's, which Snowball keeps beside its own) a code of its own, so that the two Dutch stemmers' stems never
meet; a language a newer PyStemmer adds is written after its name."""
_import_lock = threading.Lock()


@dataclass(frozen=True)
class Language:
    """A language BM25 reads by its Snowball stems, each written after ``prefix`` so that it never meets an English
    stem or another language's ("protein" is a stem of English and Turkish, "die" a German stop word and an English
    verb).

    ``passes``: a word is stemmed again until it stays, at most this many times. ``written_in``: tells a text written
    in this language alone by its letters; such a text has these stems beside its English ones (whose stemmer leaves
    its suffixes on), and every query looks them up. ``spelt``: how the language writes what a keyboard without its
    letters types (``SPELT``), as (pattern, replacement) substitutions on the word without accents."""

    name: str
    prefix: str
    passes: int = 1
    written_in: Callable[[str], bool] | None = None
    spelt: tuple[tuple[str, str], ...] = ()


TURKISH_LANGUAGE = Language("turkish", f"{CODES['turkish']}:", passes=4, written_in=turkish)
"""Turkish, told by the letters only its alphabet has (``text.turkish``), stemmed again until the stem stays: one pass
leaves stacked suffixes on loanwords ("karsinomlar" kept the "m" that "karsinom" loses)."""
TOLD = (TURKISH_LANGUAGE,)
"""The languages a text is told to be written in by its letters: no letter tells German or Spanish from English."""
SPELT = {
    "german": (("ae", "ä"), ("oe", "ö"), ("(?<![aeiouyäöüq])ue", "ü")),
    "portuguese": (
        ("cao$", "ção"),
        ("coes$", "ções"),
        ("ao$", "ão"),
        ("aos$", "ãos"),
        ("oes$", "ões"),
        ("aes$", "ães"),
    ),
    "french": (("ee(s?)$", r"ée\1"),),
}
"""Words as each language writes what a keyboard without its letters types, where its stemmer needs them to find the
other forms. German "Gefaesse" and "fuer" are "Gefässe" and "für" (a stop word), as Snowball 3's German reads them
itself (PyStemmer 2's does not, and stop words are dropped before stemming); "ue" after a vowel or "q" stays ("neue",
"Quelle"). Portuguese "inflamacao" is "inflamação", whose "-ação" is a suffix ("inflamações" shares its stem) where
"-acao" is none; French "moderee" ends as "modérée" does, in the suffix "-ée"."""


def language(name: str) -> Language:
    """The Snowball language ``name`` (PyStemmer's spelling) as BM25 reads it; Turkish as it reads Turkish texts."""
    told = next((told for told in TOLD if told.name == name), None)
    return told or Language(name, f"{CODES.get(name, name)}:", spelt=SPELT.get(name, ()))


def languages_of(names: Iterable[str]) -> tuple[Language, ...]:
    """The named languages as ``settings.snowball_languages`` spells them (a Python caller's "German" is German; an
    unknown name is refused here, not by the stemmer at the first search)."""
    return tuple(language(name) for name in snowball_languages(names))


@functools.cache
def _tokenizer():
    """bm25s's ``tokenize`` and the stemmer, imported on first use: opening an index tokenizes nothing.

    bm25s's package imports numba and scipy.sparse (a second from a fresh process) for scorers PathAtlas
    never runs (its BM25 is below; the agent's ``bm25s.BM25()`` uses the numpy backends), so they are
    hidden while bm25s imports unless something already loaded them.
    """
    with _import_lock:
        hidden = [name for name in ("numba", "scipy.sparse") if name not in sys.modules and "bm25s" not in sys.modules]
        try:
            sys.modules.update(dict.fromkeys(hidden))  # a None entry makes ``import name`` raise ImportError
            import bm25s
        finally:
            for name in hidden:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
    return functools.partial(
        bm25s.tokenize, stopwords="en", stemmer=EnglishStemmer(), return_ids=False, show_progress=False
    )


@functools.cache
def _snowball(name: str):
    """A language's Snowball stemmer (Lucene's analysers use the same ones) and bm25s's stop words of it where bm25s
    has them (Danish, Dutch, French, German, Italian, Norwegian, Portuguese, Russian, Spanish, Swedish, Turkish; none
    for the others), also as an English keyboard types them ("icin" for "için", "fur" for "für")."""
    import Stemmer

    _tokenizer()  # imports bm25s, hiding what it need not load
    from bm25s import stopwords

    words = getattr(stopwords, f"STOPWORDS_{name.split('_')[0].upper()}", ())
    return Stemmer.Stemmer(name), frozenset(words) | {ascii_folded(w) for w in words}


def _stem(lang: Language, word: str) -> str:
    """The stem of a lower-case word in ``lang``, without accents, stemmed again until it stays (at most
    ``lang.passes`` times)."""
    stemmer = _snowball(lang.name)[0]
    for _ in range(lang.passes):
        word, before = stemmer.stemWord(word), word
        if word == before:
            break
    return ascii_folded(word)


def respelt(lang: Language, typed: str) -> str:
    """A word typed without accents as ``lang`` writes it (``Language.spelt``); as typed where it has no spelling."""
    for pattern, letters in lang.spelt:
        typed = re.sub(pattern, letters, typed)
    return typed


@functools.lru_cache(maxsize=1 << 17)
def _word_stems(lang: Language, word: str) -> tuple[str, ...]:
    """A lower-case word's stems in ``lang`` after its prefix, none for its stop words: as written and, where they
    differ, as typed without accents and as the language spells that (``respelt``), since a stemmer may read the
    accents, which folding drops (Turkish vowel harmony: "damarı" loses its suffix, "damari" keeps it; Portuguese
    "inflamacao" keeps "-acao"); so a word finds its forms typed either way."""
    typed = ascii_folded(word)
    spelt = respelt(lang, typed)
    if ascii_folded(spelt) in _snowball(lang.name)[1]:
        return ()
    return tuple(dict.fromkeys(lang.prefix + _stem(lang, form) for form in (word, typed, spelt)))


def stems_in(lang: Language, text: str) -> list[str]:
    """``text``'s words but ``lang``'s stop words, as its stems after its prefix (``_word_stems``)."""
    words = WORD.findall(normalise(text).replace(MICRO, MU).replace("İ", "i").lower())
    return [stem for word in words for stem in _word_stems(lang, word)]


def cjk_terms(text: str) -> list[str]:
    """Each CJK run as overlapping pairs of characters, a one-character run as itself, as Lucene's CJK analyzer:
    "肺癌の病理" holds "肺癌", and "肺" (lung) is a word of its own."""
    return [run[i : i + 2] for run in CJK_RUN.findall(text) for i in range(max(len(run) - 1, 1))]


SIGMAS = str.maketrans("ςΣ", "σσ")
"""Greek final, capital and small sigma as one letter, as Lucene's GreekLowerCaseFilter and ``str.casefold`` read them:
"ήπατος" typed in capitals, "ΗΠΑΤΟΣ", is lower-cased with a final sigma only where the capital ends the word, and the
unknown-words warning casefolds what it looks up ("ηπατοσ"). A lone capital is named as the small one ("sigma")."""


def searchable(text: str) -> str:
    """``text`` as its terms are read: normalised, accents folded; the micro sign and Greek mu one letter (a PDF
    prints "µm", most keyboards' Greek layouts give "μm"); every sigma one letter (``SIGMAS``); an underscore parts
    words (a case label "lung_scc" holds "scc"); a Greek letter standing alone is its name (``GREEK_LETTER``); "mmHg"
    is "mm Hg" (``MM_HG``)."""
    folded = MM_HG.sub(" ", ascii_folded(normalise(text)).replace(MICRO, MU).replace("_", " ").translate(SIGMAS))
    return GREEK_LETTER.sub(lambda letter: f" {unicodedata.name(letter[0]).split()[-1].lower()} ", folded)


def _stems(folded: list[str]) -> list[list[str]]:
    """Stems without English stop words, then CJK pairs, of ``searchable`` texts."""
    stems = _tokenizer()([CJK_RUN.sub(" ", text) for text in folded])
    return [words + cjk_terms(text) for words, text in zip(stems, folded, strict=True)]


def tokenize(texts: list[str]) -> list[list[str]]:
    """Stems without English stop words, and CJK character pairs, of the ``searchable`` texts."""
    return _stems([searchable(text) for text in texts])


def lettered_spans(texts: list[str]) -> list[list[tuple[int, str]]]:
    """Each text's lettered words ("vitamin d", "type 2", "b cell"), then its measures (``measured_spans``), with the
    offset where each starts, once per occurrence; a pair whose word is only a stop word ("is 7") is none."""
    after, before = LETTERED
    found = [
        [(m.start(), (m[1], NUMERALS.get(m[2].lower(), m[2]))) for m in after.finditer(text)]
        + [(m.start(), (m[1], m[2])) for m in before.finditer(text)]
        for text in texts
    ]
    words = sorted({word for pairs in found for _, pair in pairs for word in pair if len(word) > 1})
    kept = {word for word, tokens in zip(words, tokenize(words), strict=True) if tokens} if words else set()
    return [
        [(start, " ".join(p).lower()) for start, p in pairs if all(len(w) == 1 or w in kept for w in p)] + measured
        for pairs, measured in zip(found, measured_spans(texts), strict=True)
    ]


def measured_spans(texts: list[str]) -> list[list[tuple[int, str]]]:
    """Each text's measures (``MEASURED``) with the offset where each starts: a decimal number as itself ("7.4"), a
    number with its unit as both in lower case ("5 mm", "2.5 cm"; "%" as "percent"), the decimal alone too ("2.5"),
    so "2.5" finds "2.5 cm"; a whole number without a unit is none (the stems hold "120", and "5" alone says little)."""
    out = []
    for text in texts:
        found = []
        for m in MEASURED.finditer(text):
            number, unit = m[1], (m[2] or "").lower().replace("%", "percent")
            found += [(m.start(), number)] if "." in number else []
            found += [(m.start(), f"{number} {unit}")] if unit else []
        out.append(found)
    return out


def joined_terms(texts: list[str], typed: bool = False) -> list[list[str]]:
    """Each ``searchable`` text's joined names (``JOINED``, or ``TYPED_JOINED`` for a query): "ki67" as the glued
    word's stem, "h&e"."""
    numbered, paired = TYPED_JOINED if typed else JOINED
    found = [
        [("#", m[1] + m[2]) for m in numbered.finditer(text)]
        + [("&", "&".join(filter(None, m.groups()))) for m in paired.finditer(text)]
        for text in texts
    ]
    glued = sorted({word for names in found for how, word in names if how == "#"})
    stems = {word: " ".join(t) for word, t in zip(glued, tokenize(glued), strict=True)} if glued else {}
    return [[stems.get(word, word.lower()) if how == "#" else word.lower() for how, word in names] for names in found]


def charged_terms(texts: list[str], typed: bool = False) -> list[list[str]]:
    """Each ``searchable`` text's ions and other sign-marked names the stems miss (``CHARGED``, or ``TYPED_CHARGED``
    for a query) as name, charge count and sign: "Ca++" and "Ca2+" as "ca2+", "K+" as "k+", "O\u2212" as "o-"."""
    pattern = TYPED_CHARGED if typed else CHARGED
    charged = [[charge_term(*match.groups()) for match in pattern.finditer(text)] for text in texts]
    return [[term for term in terms if term] for terms in charged]


def charge_term(name: str, count: str, signs: str) -> str:
    """One charged name's term, repeated signs as their count ("++" is "2+"), any minus as a hyphen; empty where its
    stem is the name already (one charge on a name of two letters or more: "Na+", "Cl\u2013")."""
    count = count or (str(len(signs)) if len(signs) > 1 else "")
    if len(name) > 1 and not count:
        return ""
    return f"{name.lower()}{count}{'+' if signs[0] == '+' else '-'}"


def lettered_terms(texts: list[str]) -> list[list[str]]:
    """Each text's lettered words, as ``lettered_spans`` finds them."""
    return [[term for _, term in spans] for spans in lettered_spans(texts)]


def analysed(texts: list[str], languages: tuple[Language, ...] = ()) -> tuple[list[list[str]], list[list[str]]]:
    """What BM25 indexes of each text: its stems (``tokenize``'s), which BM25 counts as its length; then, not counted,
    the stems of the language its letters tell (``TOLD``) and of each of ``languages``, the lettered words
    (``lettered_terms``), the joined names (``joined_terms``) and the charged ones (``charged_terms``), which read words
    already counted (or a lone letter, "K+", that is none). So every text
    keeps its English terms and scores: a short English caption taken for Turkish ("Kidney cells, from Prof. Şahin's
    lab") still matches "kidney cell"."""
    folded = [searchable(text) for text in texts]
    extra = []
    named = zip(texts, lettered_terms(folded), joined_terms(folded), charged_terms(folded), strict=True)
    for text, lettered, joined, charged in named:
        read_in = dict.fromkeys([*(lang for lang in TOLD if lang.written_in(text)), *languages])
        extra.append([term for lang in read_in for term in stems_in(lang, text)] + lettered + joined + charged)
    return _stems(folded), extra


def terms(texts: list[str]) -> list[list[str]]:
    """The stems, then the lettered words, of each text, so "vitamin D" finds the pages on vitamin D before those on
    vitamin K."""
    return _terms([searchable(text) for text in texts])


def _terms(folded: list[str]) -> list[list[str]]:
    """``terms`` of ``searchable`` texts."""
    return [stems + extra for stems, extra in zip(_stems(folded), lettered_terms(folded), strict=True)]


def lookup_terms(texts: list[str], languages: tuple[Language, ...] = ()) -> list[list[str]]:
    """What BM25 looks up for each query: its ``terms`` (of a joined name its word alone: ``named_words``), its joined
    and charged names as typed (``TYPED_JOINED``, ``TYPED_CHARGED``) and its stems in every language texts may be read
    in: those told by their letters (``TOLD``: a query is too short to tell its language by) and ``languages``."""
    looked = TOLD + tuple(lang for lang in languages if lang not in TOLD)
    folded = [searchable(text) for text in texts]
    read = zip(_stems([named_words(text) for text in folded]), lettered_terms(folded), texts, strict=True)
    typed = zip(joined_terms(folded, typed=True), charged_terms(folded, typed=True), strict=True)
    return [
        stems + lettered + joined + charged + [t for lang in looked for t in stems_in(lang, unjoined(normalise(text)))]
        for (stems, lettered, text), (joined, charged) in zip(read, typed, strict=True)
    ]


def named_words(text: str) -> str:
    """``text`` with each name joined by a hyphen (``JOINED``) read as its word alone, and each joined by an ampersand
    as no words (``unjoined``): "HPV-16" still finds the page printing "HPV 16 and 18", and "COVID-19" the one on
    "COVID pneumonia", but its number, a count or a page's ("of 67 patients"), is no word of it, nor is a function word
    ("HER-2": "her", a pronoun)."""
    hyphened, ampersand = JOINED
    text = hyphened.sub(lambda name: " " if name[1].lower() in FUNCTION_WORDS else name[1], text)
    return ampersand.sub(" ", text)


def unjoined(text: str) -> str:
    """``text`` without its joined names (``JOINED``), whose pieces a query does not look up as words: "Ki-67" is no
    "ki" and "67" (the page saying "of 67 patients" ranked above the one on Ki67), "HER-2" no "her" (a page on a
    lioness's hunting came first). The name's term is looked up (``joined_terms``), and its spaced form where a text
    holds one ("her 2": ``LETTERED``)."""
    for name in JOINED:
        text = name.sub(" ", text)
    return text


FUNCTION_WORDS = frozenset(
    """
    what which who whom whose when where why how whatever whichever whoever
    i me my myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers herself
    it its itself they them their theirs themselves this that these those here there
    something anything everything nothing someone anyone everyone somebody anybody everybody nobody
    is am are was were be been being do does did doing have has had having
    can could may might must shall should will would ought
    a an the some any each every either neither no none both few many much more most other another such
    about above across after against along among around at before behind below beneath beside besides between
    beyond by despite during except for from in inside into near of off on onto out outside over per since through
    throughout till to toward towards under underneath until up upon via with within without
    and or but nor so yet if then than because while although though whether unless as also too very just only not
    else don doesn isn aren wasn weren didn hasn haven hadn won wouldn shouldn couldn ll ve re
    """.split()  # noqa: SIM905 - a word list reads best as words
)
"""English function words (interrogatives, pronouns, auxiliaries, determiners, prepositions, conjunctions) that
``has_words`` does not count as something to look for, beyond the tokenizer's short stop list, which BM25's ranking
keeps. Words that are also abbreviations a pathologist searches alone ("ALL", "CA") are left out."""


ASKING_WORDS = (
    "find", "found", "show", "shown", "help", "use", "describe", "identify", "characterise", "characteristic",
    "see", "seen", "give", "given", "explain", "best", "likely", "following", "typical", "correct", "occur", "happen",
)  # fmt: skip
"""Words a question asks with, not about (each in any form its stem takes: "helps", "used", "describes"), beside its
question words (``FUNCTION_WORDS``): no indexed text holding one says nothing of what is searched for (``ui.words``),
and a question beside an image of these words alone asks only what the image shows (``agent.plan``); "occur" and
"happen" are those ``evidence.asked_text`` drops."""


@functools.cache
def _function_stems() -> frozenset[str]:
    return frozenset(tokenize([" ".join(FUNCTION_WORDS)])[0])


def has_words(text: str) -> bool:
    """Whether ``text`` has a word to look for: not only function words ("what is it", "the of and":
    ``FUNCTION_WORDS``), punctuation or single letters, other than a joined name ("H&E", "HER 2": ``TYPED_JOINED``) or
    a charged one ("K+", "H+": ``TYPED_CHARGED``). A query without one matches records by filler alone ("what" on a
    page of review questions), and its text vector means nothing either."""
    folded = [searchable(text)]
    return (
        any(stem not in _function_stems() for stem in _stems(folded)[0])
        or any(joined_terms(folded, typed=True)[0])
        or any(charged_terms(folded, typed=True)[0])
    )


def content_terms(text: str) -> list[str]:
    """``text``'s distinct stems but function words (``FUNCTION_WORDS``), then its joined names as texts hold them
    ("ki67", "h&e": ``JOINED``), not their pieces (``unjoined``): the words a query asks for."""
    folded = searchable(text)
    stems = [stem for stem in _stems([unjoined(folded)])[0] if stem not in _function_stems()]
    return list(dict.fromkeys(stems + joined_terms([folded])[0]))


def every_word_a_term(text: str) -> bool:
    """Whether each word of ``text`` is read as a term of its own: a lone letter or digit ("T-cell", "G-protein",
    "vitamin A", "type 2") is none but the article "a", so the records holding its ``content_terms`` need not hold what
    was asked; one within a joined name ("H&E", "IL-6": ``JOINED``) is, as the name's term."""
    return all(len(word) > 1 or word == "a" for word in re.findall(r"[^\W_]+", unjoined(searchable(text))))
