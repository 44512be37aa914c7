"""Text as PathAtlas reads it, in one module without dependencies (every layer imports it: the PDF reader, the
stores' filters, BM25, the agent's quotes, the case reader, the REST API).

Two forms on purpose: searchable text (pages, passages, queries, quotes) is NFKC (``normalise``), so a ligature or a
full-width letter is the letter a reader types; metadata (names of organs, diagnoses, cases and files) is NFC
(``plain_text``), as written, so a name keeps its characters and only their encoding is made one. Both drop the
invisible format characters (``without_invisible``); metadata also drops control characters (``without_controls``).
"""

from __future__ import annotations

import functools
import re
import unicodedata

MICRO, MU = "\u00b5", "\u03bc"
JOINERS = "\u200c\u200d"
"""Zero-width (non-)joiners: format characters that decide how Arabic and Indic words are written, so kept."""
FORMAT_PLANES = (range(0x20000), range(0xE0000, 0xE0080))
"""Where Unicode has format characters (category Cf): the first two planes and the tags."""
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters but tab and newline."""
ACCENTS = re.compile(r"(?<=[A-Za-z\u0391-\u03a9\u03b1-\u03c9])[\u0300-\u036f]+")
"""Accents on a Latin or Greek letter once decomposed (NFD): "é" is "e" and an acute, "ά" is "α" and a tonos. Greek
capitals are written without the tonos ("ΚΑΡΔΙΑ" is "καρδιά"), and many type none. A Cyrillic letter's marks stay:
"й" is a letter of its own, not an accented "и"."""
UNACCENTED = str.maketrans(
    {"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
     "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i", "ħ": "h", "Ħ": "H", "ё": "е", "Ё": "Е"}
)  # fmt: skip
"""Latin letters that do not decompose into a letter and an accent, as Lucene's ASCIIFoldingFilter writes them; and
the Russian "ё", which most Russian print writes "е" ("печеночный" for "печёночный")."""
CJK_RUN = re.compile(
    "[\u1100-\u11ff\u3005\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]+"
)
"""A run of Han, kana or Hangul: written without spaces between words."""
TURKISH_LETTERS = re.compile("[ıİğĞşŞ]")
"""Letters no Latin alphabet but the Turkish (and Azerbaijani) one writes: dotless and dotted i, soft g, s cedilla."""
TURKISH_SHARE = 10
"""A text is Turkish when at least one word in this many holds one of ``TURKISH_LETTERS``: about one in four does in
Turkish prose, and an English page naming a Turkish author ("Doğan") stays English (a short caption naming one may
not, and keeps its English terms beside the Turkish ones: ``terms.analysed``)."""


@functools.cache
def _invisible() -> re.Pattern[str]:
    """Format characters but the joiners; a soft hyphen with a line break after it takes the break along (the word
    was split there). Built on first use: finding them reads every character of ``FORMAT_PLANES``."""
    found = (chr(c) for plane in FORMAT_PLANES for c in plane if unicodedata.category(chr(c)) == "Cf")
    return re.compile("\u00ad[ \t]*\n[ \t]*|[" + re.escape("".join(c for c in found if c not in JOINERS)) + "]")


def without_invisible(text: str) -> str:
    """``text`` without invisible format characters (a soft hyphen, a zero-width space, a bidi override), the joiners
    kept: inside a word they split it, and shown they are nothing to see."""
    return text if text.isascii() else _invisible().sub("", text)


def without_controls(text: str) -> str:
    """``text`` without C0 and C1 control characters, tab and newline kept (a CRLF line end becomes a newline)."""
    return CONTROL_CHARS.sub("", text)


def normalise(text: str) -> str:
    """The text as PathAtlas stores, searches and quotes it: NFKC (ligatures "ﬁ" as "fi", full-width "ＨｂＡ１ｃ" as
    "HbA1c", decomposed accents composed), the micro sign kept as printed ("7.5 µm"; NFKC would make it the Greek
    letter mu), and invisible format characters dropped (``without_invisible``)."""
    if text.isascii():
        return text
    text = without_invisible(text)
    return MICRO.join(unicodedata.normalize("NFKC", part) for part in text.split(MICRO))


def ascii_folded(text: str) -> str:
    """Latin letters without accents, "ß" as "ss" ("etiologia" finds "etiología", "strasse" finds "Straße"), as
    Lucene's ASCIIFoldingFilter does; Greek ones without theirs ("καρδια" finds "καρδιά"), as its GreekLowerCaseFilter
    does; "ё" as "е"; other letters as they are (a kana's voicing mark is not an accent, "й" is no "и")."""
    if text.isascii():
        return text
    bare = ACCENTS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", bare).translate(UNACCENTED)


def folded(word: str) -> str:
    """A word as a reader compares it with a query: accents, "ß" and case folded (``ascii_folded``, ``casefold``), so
    "strasse" meets "Straße", "akciger" "akciğer" and "inflamasyon" "İNFLAMASYON" (whose lower case would be an "i"
    with a separate dot)."""
    return ascii_folded(word).casefold()


def turkish(text: str) -> bool:
    """Whether ``text`` is written in Turkish, told by the letters only its alphabet has (``TURKISH_SHARE``): its
    words then take Turkish suffixes ("karsinomu", "hücreleri") that an English stemmer leaves on."""
    if text.isascii():
        return False
    words = re.findall(r"\w+", normalise(text))
    return sum(bool(TURKISH_LETTERS.search(word)) for word in words) * TURKISH_SHARE >= len(words) > 0


def composed(text: str) -> str:
    """``text`` composed (NFC): a name typed on a Mac (decomposed, "o" then a combining accent) is the one typed on
    Windows; unlike ``normalise`` the characters stay as written."""
    return unicodedata.normalize("NFC", text)


def plain_text(text: str) -> str:
    """Metadata text as it is kept: ``composed``, so "pulmón" typed on a Mac and on Windows is one organ; without
    control characters but tab and newline, since an ESC sequence or a BEL in a spreadsheet cell would reach a
    terminal as a command (a colour change, a new window title) wherever the text is printed; and without invisible
    format characters, which would make two names that look the same two values."""
    return composed(without_invisible(without_controls(text)))


def in_words(words: list[str], conjunction: str = "and") -> str:
    """Words as a sentence lists them: "a", "a and b", "a, b and c" (``conjunction``: "or" for choices)."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
