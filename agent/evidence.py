"""Per-option evidence: which retrieved sentence supports (or contradicts) which option, quoted verbatim
(pure functions).

Evidence text is whatever a hit carries (a page's text today, a passage's when search returns passages),
normalised the way a reader compares it with the page: ligatures expanded, hyphenated line breaks joined,
whitespace collapsed. A sentence counts for an option only if it names the option: it must contain one of
the option's distinctive words (not in the question, not shared by all options), so a sentence that merely
restates the question cannot lend its generic words ("cells") to an option, and not as a word of another option it
writes in full ("Ghon complex" names no "Ghon focus": ``taken_places``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from itertools import pairwise

from pathatlas.agent.plan import (
    INABILITY,
    QUESTION_WORDS,
    Reading,
    answer_type,
    asked_inability,
    is_negated,
    negated_by_rank,
    negated_predicate,
    question_focus,
    ranks_a_quality,
    read_question,
    referred_options,
    verdict_options,
)
from pathatlas.agent.questions import Evidence, Question, Quote
from pathatlas.retrieval.records import BBox, Citation, Payload
from pathatlas.retrieval.terms import FUNCTION_WORDS, MEASURED, has_words, lettered_spans, tokenize
from pathatlas.retrieval.terms import terms as lexical_terms  # "terms" names option terms here
from pathatlas.retrieval.text import normalise as unicode_normalised

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
CONTRADICTION = re.compile(
    rf"(?:{INABILITY.pattern}|\b(?:not(?!\s+only)|no|never|neither|nor|unlike|rather than|instead of|lacks?|lacking|"
    r"absent|without|isn't|aren't|doesn't|don't)\b)",
    re.IGNORECASE,
)
"""A negation: an inability first (``plan.INABILITY``: "If osteoblasts and osteocytes are incapable of mitosis", p. 174,
was quoted as supporting osteocytes for "Which cells are capable of undergoing mitosis?"), so that "no longer able to"
and "the inability of melanocytes to produce melanin" deny what follows them."""
PRIVATIVE = re.compile(r"without|lacks?|lacking|absent")
"""Negations that name a lack: after another negation they make a double negative."""
PREPOSITIONAL = re.compile(r"unlike|rather than|instead of", re.IGNORECASE)
"""Negations that govern one name, ended by the first punctuation mark: "Unlike osteoblasts, osteoclasts resorb bone"
says nothing against osteoclasts."""
NEGATED_PREDICATE = re.compile(
    r"\s+(?:(?:do|does|did|is|are|was|were|can|could|will|would|may|might|must|should|has|have|had)\s+)?"
    rf"(?:(?:(?:be|become)\s+)?{INABILITY.pattern}|not(?!\s+only)|never|\w+n't)\b",
    re.IGNORECASE,
)
"""A negated verb straight after a name: it denies what the clause says of that name ("Osteoblasts do not resorb
bone", "Osteocytes are unable to divide", "surgeons may be unable to remove it"), while "not only" adds to it."""
NEGATION_REACH = 40
"""Characters after a negation that it reaches (within its clause)."""
MIN_WORDS, MAX_WORDS = 4, 80
SHORT_STATEMENT = re.compile(r"[A-Z][\w-]*(?:\s+[a-z][\w-]*)+[.!]")
"""A sentence under ``MIN_WORDS`` that is still one: a capital, words in lower case, a full stop ("Binucleation is
common.", "FSH stimulates spermatogenesis."), not a heading ("Loose Connective Tissue"), a magnification ("LM × 412.")
or a reference's fragment ("(credit: James W."). Left out, "Binucleation is common." under koilocytes' other features
named no option, and binucleation was the likely exception for which is not a feature of koilocytes."""
HEADING_WIDTH = 0.6
"""A line shorter than this share of its text's longest line, before a line opening with a capital, stands apart: a
heading ("Brain Stem", "Proximal Convoluted Tubule (PCT)"), the tail of a sentence begun on the page before, or a
paragraph's last line, never the next sentence's start. Prose lines wrap near the full width (in the A&P book lines
before a capital that close no sentence are under 0.6 of it or over 0.7)."""
CONTINUED = re.compile(r"(?!(?:von|van|de|du|di|da|le|la)\s)[a-z]+[,;:]?(?:\s|$)")
"""A text's first word in lower-case letters alone, not a name written so ("pH", "mRNA", "p53", "c-kit", "von
Willebrand"): the text opens mid-sentence. A bulleted or numbered item opens otherwise; the book's unmarked list items
at a page's top ("protects internal organs", page 166) carry on the sentence that lists them."""
JOINED_LINE_END = re.compile(r"[-\u2013\u2014]$")
"""A line end that joins the next line's word (a hyphen, a dash): never a place to cut."""
AUXILIARY = r"(?:do|does|did|can|could|is|are|was|were|will|would|may|might|must|should|has|have|had)"
CLAUSE_BREAK = re.compile(
    r";\s+|:\s+|,?\s+(?=(?:whereas|while)\b)|,\s+(?=(?:but|yet|though|although)\b)|\s+(?=but\b(?!\s+also))"
    rf"|,?\s+(?=and\s+(?:the\s+)?[\w-]+(?:\s+[\w-]+){{0,2}}\s+{AUXILIARY}(?:\s+not|\s+so)?\s*(?:[.,;:]|$))",
    re.IGNORECASE,
)
"""Where a sentence turns to another subject: "Caseating granulomas are typical of tuberculosis; non-caseating
granulomas suggest sarcoidosis" says "tuberculosis" of the first, though it stands nearer the second; "Bone is not
resorbed by osteoblasts but by osteoclasts" says it of osteoclasts ("not only X but also Y" says it of both);
"Osteoblasts do not resorb bone, and osteoclasts do" says it of osteoclasts in a clause of their own. "While" and
"whereas" open a contrasting clause with or without a comma: "Oligodendrocyte cells produce myelin in the central
nervous system (brain and spinal cord) while the Schwann cell produces myelin in the peripheral nervous system" says
"central nervous system" of oligodendrocytes only, though "system" stands nearer "Schwann"."""
CONTRASTING_OPENING = re.compile(r"(?:although|though|while|whereas)\b[^,;:]*,\s+", re.IGNORECASE)
"""A sentence opening with a contrasting clause, ended by its first comma: "Although osteoblasts do not resorb bone,
osteoclasts do" turns to another subject there."""
CONTRAST = re.compile(r"\b(?:but|yet|whereas|while|although|though)\b", re.IGNORECASE)
"""A word that turns to the other side of a contrast, where a negation's reach ends: "not osteoblasts but
osteoclasts", "Osteoblasts do not resorb bone but osteoclasts do"."""
RELATIVE = re.compile(r",?\s*\b(?:that|which|who)\s*$", re.IGNORECASE)
"""A relative pronoun just before a negated verb: the verb is said of the name before it ("a short loop of Henle that
does not dip")."""
CONJUNCTION = re.compile(r",?\s+(?:and|or)\s+$", re.IGNORECASE)
"""What joins the last name of a compound subject to the one before it ("Osteoblasts and osteocytes do not resorb
bone"); a comma alone joins only before it ("Osteoblasts, osteocytes and chondrocytes"), as "In the embryo, the cells
do not" names no compound."""
COORDINATION = re.compile(rf"{CONJUNCTION.pattern}|,\s+$", re.IGNORECASE)
OF = re.compile(r"\s+of\s+(?:(?:the|a|an)\s+)?$", re.IGNORECASE)
"""What joins a name to the one it belongs to: "The osteoblasts of the periosteum do not resorb bone" denies it of
osteoblasts (that it denies only what is asked or the option's own, ``denies_what_counts``, keeps "the articulating
surfaces of the bones are not directly connected" from speaking against bones that articulate)."""
JOINED_VERB = re.compile(r",?\s+(?:and|or)(?:\s+(?:thus|therefore|hence|so))?$", re.IGNORECASE)
"""A conjunction straight before a negated verb, joining it to the verb before ("build bone and do not resorb it",
"rarely possess gap junctions, and thus are not electrically coupled")."""
SUBJECT_JOIN = re.compile(rf"{CONJUNCTION.pattern}|{OF.pattern}", re.IGNORECASE)
LIST_JOIN = re.compile(rf"{COORDINATION.pattern}|{OF.pattern}", re.IGNORECASE)
CLAUSE = "|"
"""The token between two clauses' words (no stem is one)."""
BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|,\s+(?:not(?! only)|unlike|rather than|instead of)\b[^,;:()\[\]]*,")
"""A bracketed clause, or one set off by commas that opens with a negation: it speaks for the name just before it,
not for the sentence around it ("the secretion of insulin (produced by beta cells) and glucagon (produced by alpha
cells)": beta cells produce insulin, not glucagon; "Osteoclasts, not osteoblasts, resorb bone": osteoclasts do)."""
ASIDE = "("
"""The token between the pieces of a clause that holds a bracketed clause (``asides``; no stem is one)."""
NAME_WORD = re.compile(r"[\w-]+")
CLAUSE_GAP = 1_000
"""Words apart that a clause break counts for: a question word goes to an option in its own clause first."""
PRIVATIVE_PREFIX = re.compile(r"\b(non)-(?=\w)", re.IGNORECASE)
COUNT_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
"""The whole numbers read one way whether typed as a word or in digits (``counts_as_printed``): those English writes as
one word of its own, 0 to 20. Past twenty a number word is two ("twenty-six"), which one term cannot hold, and the book
prints the number in digits, as an option would."""
SPELLED_BELOW = 10
"""Counts below this are read as their words, those from it in digits: as the A&P book prints them (it spells nearly
all below ten, "three" 449 times to "3" 59; it prints most from ten in digits, "12" 31 times to "twelve" 8), and as the
stems keep them (they drop a lone digit and keep "12")."""
COUNT_WORD = re.compile(rf"(?<![\w-])({'|'.join(COUNT_WORDS[SPELLED_BELOW:])})(?![\w-])", re.IGNORECASE)
"""A count from ten written as a word standing alone ("twelve", not "twenty-six")."""
SIGN_BEFORE = re.compile(r"(?<!\d)[-+\u2212\u2013]$")
"""A sign or hyphen ending the text before a number: "-3" is no count, nor "IL-6" or "CD-20" (names); a dash after a
digit is a range ("2\u20135 lobes")."""
LETTERED_BY = re.compile(r"[A-Za-z]{2,}[\s-]+$")
"""The word a number after it may letter ("type 1"), as ``terms.LETTERED`` reads one."""
RANKS = ("most", "least", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
"""Words that rank the word after them (English only, as negation is): "most common", "second most common", "least
abundant", "third largest"."""
SUPERLATIVE_END = re.compile(r"\w{3,}est$")
"""A superlative written as one word ("largest", "greatest"; "chest" is too short to be one)."""
RANKED_WORD = re.compile(rf"(?<![-\w])((?:(?:{'|'.join(RANKS)})[\s-]+)*)([A-Za-z]+)\b", re.IGNORECASE)
"""A word as written with the rank words straight before it, spaced or hyphenated ("second most common",
"second-most common"; none before most words)."""
PLENTY = ("common", "abundant", "numerous", "prevalent", "frequent")
"""A superlative of how many, which the book words several ways ("the most abundant leukocytes", "the most common"
ones): each is "common" when ranked (``quality``)."""
PARTICLES = frozenset({"down", "up", "out", "off"})
"""Words that after another make a phrasal verb, which means what neither word does alone: "break down" bone is
resorbing it, while "the break" is a fracture and osteoblasts "lay down" new bone."""
FOLLOWING = re.compile(r"\b(?:(?:of|from) )?the following\b", re.IGNORECASE)
NAMING_COVERAGE = 0.5
"""A sentence names an option when it holds at least this IDF-weighted share of the option's own words: "Cell injury
..." does not name "squamous cell carcinoma" (it was quoted as supporting it, through "cell")."""
SETTLING_COVERAGE = 0.5
"""A quote settles its option only when it also says most of what the question asks (IDF-weighted share of the
question's own words): "erythrocytes ... in the bone marrow" names an option and "bone", yet says nothing of which
cell resorbs bone. In a sentence naming several options only the words said of the quoted one count
(``SentenceScores.said``): "Oligodendrocyte cells produce myelin in the central nervous system ... while the Schwann
cell produces myelin in the peripheral nervous system" settled "Oligodendrocytes" for the peripheral one. Set by hand,
not tuned (BENCHMARKS.md, "What the answer says about itself")."""


SHOWN_SUPPORT_COVERAGE = 0.25
"""The least share of what is asked a quote says of its option to be shown supporting it without settling it, when no
other option's quote says as much (``shown_stances``): half of ``SETTLING_COVERAGE``, set by hand, not tuned; display
only (answers, confidences and rationales do not read it)."""


def quote_normalise(text: str) -> str:
    """Unicode-normalised as the index stores pages (``text.normalise``: ligatures expanded, "µ" as printed), a
    hyphen at a line break kept but the break closed, whitespace collapsed: how quotes are compared with pages
    (``bench.quoted_verbatim`` also sets hyphens aside: the index joins a word split across lines, and keeps a
    hyphenated word's hyphen)."""
    text = unicode_normalised(text)
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1-\2", text)
    return " ".join(text.split())


PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
"""A blank line: the end of a paragraph, whatever its last word. Lecture notes (``indexer/sources/notes.py``) set
each bullet of a slide apart so, unpunctuated ("Squamous cell carcinoma produce keratin" above "Hepatocellular
carcinoma secrete bile" read as one sentence naming both); a PDF's texts hold none."""


def split_sentences(text: str) -> list[str]:
    """Sentences of normalised text, each a verbatim substring of it, none running on from a heading
    (``prose_runs``) or across a blank line (``PARAGRAPH_BREAK``); very long runs (tables, lists) are cut at
    semicolons."""
    out = []
    for run in (run for paragraph in PARAGRAPH_BREAK.split(text) for run in prose_runs(paragraph)):
        for sentence in SENTENCE_END.split(quote_normalise(run)):
            parts = [sentence] if len(sentence.split()) <= MAX_WORDS else re.split(r"(?<=;)\s+", sentence)
            out += [p for p in parts if MIN_WORDS <= len(p.split()) <= MAX_WORDS * 2 or SHORT_STATEMENT.fullmatch(p)]
    return out


def whole_sentences(text: str) -> list[str]:
    """A text's sentences (``split_sentences``) less its first where the text opens mid-sentence (``CONTINUED``): the
    rest of a sentence begun on the page before, or in the passage before (a long block's passages are cut between
    words), says nothing of the subject it lost: "undergoes remodeling, in which resorption ... where osteoblasts lay
    new bone" opens the A&P book's page 183 and would be quoted for osteoblasts as resorbing bone (nearly half its pages
    open mid-sentence). A text of one sentence keeps it: a slide's or a note's line written lower-case is all it
    says."""
    sentences = split_sentences(text)
    opening = quote_normalise(text)
    continued = len(sentences) > 1 and CONTINUED.match(opening) and opening.startswith(sentences[0])
    return sentences[1:] if continued else sentences


def prose_runs(text: str) -> list[str]:
    """The text cut after each line that stands apart (``HEADING_WIDTH``), so that "6.1 The Functions of the
    Skeletal System" or "surround the central nervous system" is not quoted as the start of the sentence below it."""
    lines = text.split("\n")
    width = max(len(line.strip()) for line in lines)
    runs, start = [], 0
    for k, (line, following) in enumerate(zip(lines, lines[1:], strict=False)):
        short = len(line.strip()) < HEADING_WIDTH * width
        if short and not JOINED_LINE_END.search(line.strip()) and opens_sentence(following):
            runs.append("\n".join(lines[start : k + 1]))
            start = k + 1
    return [*runs, "\n".join(lines[start:])]


def opens_sentence(line: str) -> bool:
    """Whether a line opens as a sentence or heading does: with a capital or a number ("6.1 The Functions ...")."""
    first = line.lstrip()[:1]
    return first.isupper() or first.isdigit()


@dataclass(frozen=True)
class Sentence:
    text: str
    evidence: Evidence
    terms: frozenset[str]
    tokens: tuple[str, ...] = ()
    """The stemmed words in order (``terms`` as a sequence), for which option a question word stands nearest to."""
    heading: tuple[str, ...] = ()
    """The stemmed words in order of the slide heading it stands under (``slide_heading``), which ``terms`` holds."""


PRINTED_PAGES = frozenset({"page", "passage"})
"""Evidence cut from a printed page, which may open inside a sentence the page before began; a case's description or
a caption written lower-case ("chronic granulomatous inflammation ...") opens its own."""


def evidence_sentences(evidence: Sequence[Evidence], top: int = 8) -> list[Sentence]:
    """Whole sentences of the best-ranked text evidence (``whole_sentences`` of a page's or passage's text), each once
    (the same sentence on two hits keeps the better)."""
    seen: set[str] = set()
    chosen: list[tuple[str, Evidence]] = []
    for e in sorted(evidence, key=lambda e: e.rank)[:top]:
        for s in whole_sentences(e.text) if e.kind in PRINTED_PAGES else split_sentences(e.text):
            if s not in seen:
                seen.add(s)
                chosen.append((s, e))
    texts = [s for s, _ in chosen]
    if not texts:
        return []
    sequences = [with_phrasal_verbs(words) for words in words_in_order(texts)]
    headings = sorted({heading for _, e in chosen if (heading := slide_heading(e))})
    subjects = dict(zip(headings, map(tuple, words_in_order(headings)), strict=True))
    return [
        Sentence(s, e, frozenset(sequence).union(heading) - {CLAUSE, ASIDE}, tuple(sequence), heading)
        for (s, e), sequence in zip(chosen, sequences, strict=True)
        for heading in [subjects.get(slide_heading(e), ())]
    ]


def slide_heading(evidence: Evidence) -> str:
    """The heading of the slide a sentence is on (its section's last part: "Lung tumours > Pulmonary Hamartoma"), whose
    words a bullet under it is read as holding: a slide's heading is the subject of its bullets ("Most common benign
    tumor" under "Pulmonary Hamartoma" would name no option alone, and the answer would lean elsewhere). "" for a
    printed page, whose sentences name their own subjects (its section is a chapter's, not the sentence's)."""
    if not evidence.citation.slide:
        return ""
    return evidence.payload.section.rpartition(" > ")[2].strip()


def phrasal_verbs(words: Sequence[str]) -> list[tuple[int, str]]:
    """Where stems (``tokenize``'s, stop words out) pair a word with a following particle (``PARTICLES``), and the
    pair as one term, the compound the book also writes: "breaking down" and "breakdown" are both "breakdown"."""
    return [
        (k, word + particle)
        for k, (word, particle) in enumerate(zip(words, words[1:], strict=False))
        if particle in PARTICLES and word not in PARTICLES and word not in (CLAUSE, ASIDE)
    ]


def with_phrasal_verbs(words: list[str]) -> list[str]:
    """A sentence's stems with each phrasal verb's term after its particle, its words kept: a sentence that says
    "break down" says "break" too."""
    out = list(words)
    for k, term in reversed(phrasal_verbs(words)):
        out.insert(k + 2, term)
    return out


def words_in_order(texts: list[str]) -> list[list[str]]:
    """Each text's stems with its lettered words where they stand ("b cells ... t cells ... thymus": "thymus" is
    nearest "t cell"), its clauses and the pairs a clause lists apart (``CLAUSE`` between them: ``paired_items``) and
    each one's pieces apart (``asides``, ``ASIDE`` between them), for which option a question word is said of."""
    items = ([item for clause in clause_texts(compared(text)) for item in paired_items(clause)] for text in texts)
    clauses = [[asides(item) for item in parts] for parts in items]
    ordered = iter(clause_words([piece for parts in clauses for pieces in parts for piece in pieces]))
    out = []
    for parts in clauses:
        words: list[str] = []
        for c, pieces in enumerate(parts):
            words += [CLAUSE] if c else []
            for p, _ in enumerate(pieces):
                words += [ASIDE, *next(ordered)] if p else next(ordered)
        out.append(words)
    return out


def clause_texts(text: str) -> list[str]:
    """A sentence's clauses: cut where it turns to another subject (``CLAUSE_BREAK``), and after a contrasting clause
    it opens with (``CONTRASTING_OPENING``)."""
    first, *rest = CLAUSE_BREAK.split(text)
    opening = CONTRASTING_OPENING.match(first)
    return [first[: opening.end()].rstrip(", "), first[opening.end() :], *rest] if opening else [first, *rest]


LIST_WORDS = ("and", "or")
LIST_SEPARATOR = re.compile(rf",?\s+(?:{'|'.join(LIST_WORDS)})\s+|,\s+", re.IGNORECASE)
"""What parts a list's items: a comma, "and" or "or"."""


def paired_items(clause: str) -> list[str]:
    """A clause listing things each with what it says of it ("Ziehl-Neelsen for acid-fast bacilli and Grocott
    methenamine silver for fungi", "X stains P, Y stains Q") cut into its items, so each says its words of its own
    thing: read whole, "bacilli" stood nearer "Grocott" than "Ziehl-Neelsen" and backed the silver stain for acid-fast
    bacilli. Such a list repeats a word linking each item's thing to what it says (``links``, ``listed_pairs``; of
    several such words, the one making most items); a clause without one is one item ("Osteoblasts and osteocytes
    do not divide": a compound subject)."""
    words = list(NAME_WORD.finditer(clause))
    lower = [word.group().lower() for word in words]
    places: dict[str, list[int]] = {}
    for k, word in enumerate(lower):
        if word not in LIST_WORDS:
            places.setdefault(word, []).append(k)
    listed = [
        pairs
        for word, repeats in places.items()
        if len(repeats) > 1 and links(lower, repeats) and (pairs := listed_pairs(clause, [words[k] for k in repeats]))
    ]
    return max(listed, key=len, default=[clause])


def links(words: Sequence[str], repeats: Sequence[int]) -> bool:
    """Whether a word a clause repeats (at places ``repeats`` among its lower-case ``words``) may link listed things to
    what each says: a function word ("for", "has"), or one between other words each time, no part of a name the items
    share ("stains" in "Gram stains bacteria, Congo red stains amyloid"; not "blood" in "red blood cells, white blood
    cells")."""
    padded = ["", *words, ""]
    before, after = ({padded[k + shift] for k in repeats} for shift in (0, 2))
    return words[repeats[0]] in FUNCTION_WORDS or len(before) == len(after) == len(repeats)


def listed_pairs(clause: str, repeats: Sequence[re.Match[str]]) -> list[str]:
    """A clause's items, cut at the last list separator (``LIST_SEPARATOR``) between each two of a word's
    ``repeats``; none unless each item holds words before and after its repeat."""
    cuts = [list(LIST_SEPARATOR.finditer(clause, one.end(), next_one.start())) for one, next_one in pairwise(repeats)]
    if not all(cuts):
        return []
    starts = [0, *(found[-1].end() for found in cuts)]
    ends = [*(found[-1].start() for found in cuts), len(clause)]
    sides = zip(starts, repeats, ends, strict=True)
    if not all(has_words(clause[start : at.start()]) and has_words(clause[at.end() : end]) for start, at, end in sides):
        return []
    return [clause[start:end] for start, end in zip(starts, ends, strict=True)]


def asides(clause: str) -> list[str]:
    """A clause cut into pieces in threes: the words outside, the name just before a bracketed clause (its words back
    to punctuation or a function word: "the secretion of insulin (": insulin; "Beta cells (": Beta cells), the
    bracketed clause; and so on, the words after the last one closing it (pieces may be empty)."""
    pieces, outside = [], 0
    for bracket in BRACKETED.finditer(clause):
        name = max(name_start(clause, bracket.start()), outside)
        pieces += [clause[outside:name], clause[name : bracket.start()], clause[bracket.start() : bracket.end()]]
        outside = bracket.end()
    return [*pieces, clause[outside:]]


def name_start(text: str, at: int) -> int:
    """Where the name ending just before ``at`` starts: the run of words before it that are not function words
    (``terms.FUNCTION_WORDS``), with nothing but spaces between them."""
    start = at
    for word in reversed(list(NAME_WORD.finditer(text, 0, at))):
        if text[word.end() : start].strip() or word.group().lower() in FUNCTION_WORDS:
            break
        start = word.start()
    return start


def reaches(tokens: Sequence[str]) -> list[frozenset]:
    """Per token, the parts of its clause it speaks in (``asides``): words outside brackets speak in the clause
    (None), a bracketed clause's words in that bracket only, and the name before a bracket in both, so a question word
    in "insulin (produced by beta cells)" goes to beta cells, and one outside goes to an option outside first."""
    clause, piece, out = 0, 0, []
    for token in tokens:
        clause += token == CLAUSE
        piece = 0 if token == CLAUSE else piece + (token == ASIDE)
        bracket = (clause, piece // 3)
        out.append([frozenset({None}), frozenset({None, bracket}), frozenset({bracket})][piece % 3])
    return out


def clause_words(texts: list[str]) -> list[list[str]]:
    """Each text's stems with its lettered words inserted where they stand."""
    stems, spans = tokenize(texts), lettered_spans(texts)
    prefixes = [text[:start] for text, found in zip(texts, spans, strict=True) for start, _ in found]
    before = iter(tokenize(prefixes) if prefixes else [])
    out = []
    for words, found in zip(stems, spans, strict=True):
        placed = [(len(next(before)), term) for _, term in found]
        for k, (at, term) in enumerate(sorted(placed)):
            words = [*words[: at + k], term, *words[at + k :]]
        out.append(words)
    return out


def closed_privatives(text: str) -> str:
    """ "non-caseating" as one word, "noncaseating", so it names neither "caseating" nor what "non" prefixes."""
    return PRIVATIVE_PREFIX.sub(r"\1", text)


def counts_as_printed(text: str) -> str:
    """Each whole number ``COUNT_WORDS`` holds, standing alone, as the book prints it (``SPELLED_BELOW``): "3 lobes" as
    "three lobes", "twelve pairs" as "12 pairs", so an option "3" names "The right lung consists of three lobes" (the
    stems drop a lone digit) and "twelve" names "12 pairs of ribs". A digit keeps its form in a measure ("5 mm", "95%",
    "7.4"), a signed number or a joined name ("-3", "IL-6"), and where it letters the word before it, a name ("type 1",
    "Figure 7": ``terms.lettered_spans``)."""
    text = COUNT_WORD.sub(lambda word: str(COUNT_WORDS.index(word[1].lower())), text)
    if not any(c.isdigit() for c in text):
        return text
    lettered = {start for start, _ in lettered_spans([text])[0]}

    def spelled(number: re.Match[str]) -> str:
        before = text[: number.start()]
        lettering = LETTERED_BY.search(before)
        named = SIGN_BEFORE.search(before) or (lettering is not None and lettering.start() in lettered)
        if number[2] or not number[1].isdigit() or int(number[1]) >= SPELLED_BELOW or named:
            return number[0]
        return COUNT_WORDS[int(number[1])]

    return MEASURED.sub(spelled, text)


def compared(text: str) -> str:
    """A text as its words are compared with an option's, a question's or a sentence's: privatives closed
    (``closed_privatives``), small whole numbers as the book prints them (``counts_as_printed``)."""
    return counts_as_printed(closed_privatives(text))


def option_terms(question: str, options: Sequence[str]) -> list[set[str]]:
    """Each option's distinctive words: those no other option has ("vitamin d", not the "vitamin" that "vitamin K"
    shares), else those not every option has; minus the question's words where something is left. An option that
    refers to the others ("all of the above", ``referred_options``) or is a verdict ("True", ``verdict_options``)
    names nothing, so "located above the neck" cannot quote it, nor "true ribs" "True"."""
    terms = [set(t) for t in lexical_terms([compared(option) for option in options])]
    asked = set(tokenize([compared(question)])[0]) if question.strip() else set()
    nameless = range(len(options)) if verdict_options(options) else referred_options(question, options)
    out = []
    for j, t in enumerate(terms):
        others = [u for k, u in enumerate(terms) if k != j]
        unique = t - set().union(*others)
        own = unique or (t - set.intersection(t, *others))
        out.append(set() if j in nameless else own - asked or own)
    return out


def full_name(option: str) -> tuple[str, ...]:
    """An option's stems in order, read as a sentence's are (``words_in_order``, ``with_phrasal_verbs``), so that
    ``name_places`` finds where a sentence writes the option in full."""
    return tuple(word for word in with_phrasal_verbs(words_in_order([option])[0]) if word not in (CLAUSE, ASIDE))


def name_places(tokens: Sequence[str], name: Sequence[str]) -> list[list[int]]:
    """The places in a sentence's stems (``Sentence.tokens``) of each run that writes ``name`` in full: its stems in
    order, nothing between them but clause and bracket marks."""
    words = [k for k, token in enumerate(tokens) if token not in (CLAUSE, ASIDE)]
    runs = (words[start : start + len(name)] for start in range(len(words) - len(name) + 1))
    return [run for run in runs if name and [tokens[k] for k in run] == list(name)]


def taken_places(tokens: Sequence[str], full_names: Sequence[Sequence[str]]) -> list[set[int]]:
    """Per option, the places in a sentence's stems that another option's name, written there in full
    (``name_places``), holds and no name of its own as long does: a word there belongs to that other option. In
    "Parenchymal lesion + Nodal involvement → Ghon complex" the "Ghon" of "Ghon complex" does not name "Ghon focus",
    which shares it (read as naming both, the sentence would go to "Ghon focus", whose "Ghon" stands nearer the
    question's words), while "a Ghon focus and its Ghon complex" names both."""
    held = [name_places(tokens, name) for name in full_names]
    out = []
    for j, name in enumerate(full_names):
        own = {k for run in held[j] for k in run}
        others = (run for i, runs in enumerate(held) if i != j for run in runs)
        out.append({k for run in others for k in run if k not in own or len(name) < len(run)})
    return out


def untaken_words(tokens: Sequence[str], taken: set[int]) -> frozenset[str]:
    """The stems of ``tokens`` at places not ``taken``, clause and bracket marks aside."""
    return frozenset(token for k, token in enumerate(tokens) if k not in taken) - {CLAUSE, ASIDE}


def naming_words(
    sentence: Sentence, full_names: Sequence[Sequence[str]], taken: Sequence[set[int]]
) -> list[frozenset[str]]:
    """Per option, the stems of a sentence and of its slide heading that may name it: all but those another option's
    name written in full holds (``taken``: its ``taken_places`` in the sentence; the heading's are found here)."""
    heading = taken_places(sentence.heading, full_names)
    return [
        untaken_words(sentence.tokens, taken[j]) | untaken_words(sentence.heading, heading[j])
        for j in range(len(full_names))
    ]


def placed_options(question: str, options: Sequence[str]) -> set[int]:
    """The options meaning others (``referred_options``) and those they name by place ("Both A and B": A and B):
    moved, they would change what such an option says."""
    referred = referred_options(question, options)
    return set(referred).union(*referred.values())


def idf_table(token_sets: Sequence[frozenset[str]]) -> dict[str, float]:
    """IDF over the candidate sentences themselves: words every sentence shares weigh little."""
    n = len(token_sets)
    df = Counter(t for tokens in token_sets for t in tokens)
    return {t: math.log(1 + n / (1 + d)) for t, d in df.items()}


def coverage(terms: set[str], sentence: frozenset[str], idf: dict[str, float], default: float) -> float:
    """IDF-weighted share of ``terms`` present in ``sentence``."""
    total = sum(idf.get(t, default) for t in terms)
    return sum(idf.get(t, default) for t in terms & sentence) / total if total else 0.0


@dataclass
class SentenceScores:
    """For every sentence: how much of the question it covers, and of each option."""

    sentences: list[Sentence]
    question: list[float]
    options: list[list[float]]
    """options[j][i]: coverage of option j's distinctive words by sentence i."""
    weights: list[float]
    """Retrieval-rank weight of each sentence's evidence."""
    terms: list[set[str]]
    """Each option's own words as scored (``option_terms``)."""
    said_of: list[list[float]] | None = None
    """said_of[j][i]: the question's coverage by sentence i counting only the words that stand nearer to option j
    than to any other option it names (``nearest_option_words``); None: ``question`` for every option."""
    contradicted: list[list[bool]] | None = None
    """contradicted[j][i]: whether sentence i negates option j (``contradicts``); None: none does."""

    def names(self, j: int, i: int) -> bool:
        """Whether sentence i names option j (``NAMING_COVERAGE``): what quotes, mentions and exceptions count."""
        return self.options[j][i] >= NAMING_COVERAGE

    def said(self, j: int, i: int) -> float:
        """How much of what is asked sentence i says of option j (``said_of``; the whole coverage without it)."""
        return self.said_of[j][i] if self.said_of is not None else self.question[i]

    def support(self, j: int, i: int) -> float:
        return self.weights[i] * self.said(j, i) * self.options[j][i]

    def negates(self, j: int, i: int) -> bool:
        """Whether sentence i says option j is not what it says (``contradicted``)."""
        return self.contradicted is not None and self.contradicted[j][i]

    def backing(self, j: int, i: int) -> float:
        """``support``, none from a sentence negating the option: "Osteoblasts do not resorb bone" names osteoblasts
        and all that is asked, and backs them for none of it."""
        return 0.0 if self.negates(j, i) else self.support(j, i)


def score_sentences(
    reading: Reading, question: str, options: Sequence[str], sentences: list[Sentence]
) -> SentenceScores:
    focus = reading.focus or question
    own = option_terms(focus, options)
    asked = asked_words(focus) - set().union(*own)
    ranks = asked_ranks(focus)  # negated, the option ranked otherwise: "NOT the least common" (``plan.negates_rank``)
    idf = idf_table([s.terms for s in sentences])
    default = max(idf.values(), default=1.0)
    read = [superlative_tokens(s.tokens, ranks) if ranks else s.tokens for s in sentences]
    q = [coverage(asked, frozenset(tokens), idf, default) if asked else 1.0 for tokens in read]
    full_names = [full_name(option) if terms else () for option, terms in zip(options, own, strict=True)]
    taken = [taken_places(s.tokens, full_names) for s in sentences]
    naming = [naming_words(s, full_names, places) for s, places in zip(sentences, taken, strict=True)]
    o = [[coverage(terms, words[j], idf, default) if terms else 0.0 for words in naming] for j, terms in enumerate(own)]
    w = [1.0 / (1.0 + 0.15 * (s.evidence.rank - 1)) for s in sentences]
    negated = negated_options(reading, question, options, own, asked, sentences, o, ranks, read)
    said_of = [[0.0] * len(sentences) for _ in own]
    for i, tokens in enumerate(read):
        affirmed = [o[j][i] >= NAMING_COVERAGE and not negated[j][i] for j in range(len(own))]
        for j, words in enumerate(nearest_option_words(tokens, asked, own, affirmed, taken[i])):
            said_of[j][i] = coverage(asked, frozenset(words), idf, default) if words is not None else q[i]
    return SentenceScores(sentences, q, o, w, own, said_of if own else None, negated)


def negated_options(
    reading: Reading,
    question: str,
    options: Sequence[str],
    own: Sequence[set[str]],
    asked: set[str],
    sentences: Sequence[Sentence],
    named: list[list[float]],
    ranks: Mapping[str, tuple[str, ...]],
    read: Sequence[Sequence[str]],
) -> list[list[bool]]:
    """Per option and sentence naming any of its words, whether the sentence speaks against it (``contradicts``, in
    what is ``asked`` or in the option's own words), or says it moves what is asked the other way (``reversed_options``:
    "Glucagon stimulates mechanisms that increase blood glucose levels" for what lowers it). A question whose negated
    property the evidence states of one option is read plainly (``read_with_evidence``): then a sentence denying that
    property of an option says it as asked ("Smooth muscle is not under voluntary control"), and one saying the
    property plainly (its words as ``read``: "most abundant" is "most common") speaks against its option; so is a
    question asking an inability read (``plan.asked_inability``: "Osteocytes cannot divide" backs osteocytes for
    "Which cells fail to divide?", "Osteoblasts divide" speaks against osteoblasts). A sentence ranking a superlative
    the question asks (``ranks``: ``asked_ranks``) otherwise (``ranked_otherwise``) speaks against the option it ranks,
    and read plainly for it: "Lymphocytes are the second most common leukocytes" says they are "not the most common".
    So does one naming another kind of the class an option names a kind of (``reclassified_options``)."""
    asked_negated = plainly_denied(question, reading)
    wanted = set(tokenize([asked_negated])[0]) if asked_negated else set()
    ranked = [ranked_otherwise(s.tokens, ranks, own) if ranks else set() for s in sentences]
    direction = asked_direction(reading.focus or question)
    reversals = [reversed_options(s.text, own, direction) if direction else set() for s in sentences]
    kinds = [kinds_said(option) for option in options]
    reclassified = [reclassified_options(s, kinds) if any(kinds) else set() for s in sentences]
    said = [bool(wanted) and wanted <= set(tokens) for tokens in read]
    return [
        [
            bool(named[j][i])
            and against(
                contradicts(s.text, terms, asked) or j in reversals[i] | reclassified[i],
                said[i],
                j in ranked[i],
                bool(wanted),
            )
            for i, s in enumerate(sentences)
        ]
        for j, terms in enumerate(own)
    ]


NOT_A_CLASS = ("called", "named", "termed", "known", "found", "located", "seen", "that", "which", "whose")
"""Words after "a type of cell" that name no class: "a type of cell called the osteoclast" names no kind of "called"."""
KIND_OF = re.compile(
    rf"\ban?\s+(?:type|kind|sort|variety|subtype)\s+of\s+([\w-]+)\s+(?!(?:{'|'.join(NOT_A_CLASS)})\b)([\w-]+)",
    re.IGNORECASE,
)
"""A kind named within its class, "a type of sweat gland": the words for the kind ("sweat") and the class ("gland").
One kind, which a thing is: "Types of Exocrine Glands" and "The second type of cartilaginous joint" list kinds."""


def kinds_said(text: str) -> set[tuple[str, str]]:
    """The (kind, class) stems of each "a type of sweat gland" a text says (``KIND_OF``): ("sweat", "gland")."""
    found = KIND_OF.findall(compared(text))
    stems = tokenize([word for pair in found for word in pair]) if found else []
    return {(kind[0], group[0]) for kind, group in zip(stems[::2], stems[1::2], strict=True) if kind and group}


def reclassified_options(sentence: Sentence, kinds: Sequence[set[tuple[str, str]]]) -> set[int]:
    """The options a sentence names another kind of their class than they say (``kinds``: each option's
    ``kinds_said``), their own kind's word said nowhere in it: "A sebaceous gland is a type of oil gland" is against
    "are a type of sweat gland", which it names by "type" and would otherwise be quoted as supporting. Only a kind
    within a named class: a word for another in any other place is as often a synonym ("joined" for "united" by
    fibrocartilage)."""
    said = kinds_said(sentence.text)
    return {
        j
        for j, own in enumerate(kinds)
        if any(
            group == other and kind != word and kind not in sentence.terms
            for kind, group in own
            for word, other in said
        )
    }


def plainly_denied(question: str, reading: Reading) -> str:
    """What the question asks its answer is not or cannot do, where the evidence is read plainly for it
    (``negated_options``): a negated question's negated property when read plainly (``read_with_evidence``), an
    inability the question asks (``plan.asked_inability``); else ""."""
    if is_negated(question):
        return "" if reading.negated else negated_predicate(question)
    return asked_inability(question)


def against(denies: bool, says_negated: bool, ranks_otherwise: bool, read_plainly: bool) -> bool:
    """Whether a sentence speaks against an option (``negated_options``). Read plainly (a negated question the evidence
    answers in its own words, an asked inability): when it says the negated property's words without denying the
    option, and does not rank the option otherwise (which is what such a question asks); a denial says the property of
    the option, in the question's words or not ("Osteocytes are incapable of mitosis" for "Which cells are unable to
    undergo mitosis?"). Read as asked: when it denies the option or ranks it otherwise."""
    return (says_negated and not denies and not ranks_otherwise) if read_plainly else (denies or ranks_otherwise)


def asked_words(focus: str) -> set[str]:
    """The stems a quote must cover to say what is asked: the question's own words (``asked_text``), less those
    naming the kind of thing the answer is where others are left ("Which complement fragment is the principal
    opsonin?": principal, opsonin; "complement fragment C5a is a chemotactic agent" says nothing asked). A phrasal
    verb is one word (``phrasal_verbs``): "Which cells break down bone?" would otherwise be covered by "the broken bone
    ... around the break" and by osteoblasts that "lay down" new bone. In a question asking a superlative
    (``asked_ranks``) its "most" or "least" is its rank, checked as such (``ranked_otherwise``), no word of its own
    ("the most deadly" says nothing of "the most common"), and a quality of how many is "common" (``quality``)."""
    if not focus.strip():
        return set()
    words, kind = tokenize([compared(asked_text(focus)), answer_type(focus)])
    pairs = phrasal_verbs(words)
    paired = {k + side for k, _ in pairs for side in (0, 1)}
    asked = {word for k, word in enumerate(words) if k not in paired} | {term for _, term in pairs}
    ranks = asked_ranks(focus)
    asked = {quality(word) for word in asked} - {"most", "least"} if ranks else asked
    return asked - set(kind) or asked


HAPPENING = re.compile(
    r"\b(?:(?:take|takes|taking|taken|took)\s+place|occur(?:s|red|ring)?|happen(?:s|ed|ing)?)\b", re.IGNORECASE
)
"""Verbs saying only that something happens: "Where does gas exchange take place in the lungs?" asks where, and a
sentence saying it seldom repeats them ("alveoli that are responsible for gas exchange")."""


def asked_text(focus: str) -> str:
    """What a question asks about, without the words that only make it a question ("Which of the following is a
    bone of the cranium?": bone, cranium): "Following a fall, ... humerus ..." would otherwise cover the question and
    settle; nor those saying only that something happens (``HAPPENING``), where other words are left."""
    asked = QUESTION_WORDS.sub(" ", FOLLOWING.sub(" ", focus))
    happening = HAPPENING.sub(" ", asked)
    return happening if has_words(happening) else asked


def nearest_option_words(
    tokens: Sequence[str],
    asked: set[str],
    own: Sequence[set[str]],
    affirmed: Sequence[bool],
    taken: Sequence[set[int]],
) -> list[set[str] | None]:
    """Per option, the question's words this sentence says of it: in a sentence naming several options, each
    question word goes to the option named nearest to it (``word_distance``; ties to each), so "osteoclasts resorb the
    dead bone; ... differentiate into osteoblasts" says "resorb" of osteoclasts, not of osteoblasts, and "insulin
    (produced by beta cells) and glucagon (produced by alpha cells)" says "glucagon" of alpha cells only; an option
    said less than another is said none (``told_apart``). None where the sentence names at most one option (every
    word it holds is said of that one). ``affirmed``: per option, whether the sentence names it (``NAMING_COVERAGE``)
    and does not deny it; ``taken``: per option, the places another option's full name holds (``taken_places``), where
    it is not named."""
    at = [  # exact: osteo-clast/-blast
        [k for k, token in enumerate(tokens) if token in terms and k not in taken[j]] for j, terms in enumerate(own)
    ]
    if sum(bool(positions) for positions in at) < 2:
        return [None] * len(own)
    said: list[set[str]] = [set() for _ in own]
    apart = word_distance(tokens)
    for k, token in enumerate(tokens):
        if token not in asked:
            continue
        distance = [min((apart(k, p) for p in positions), default=math.inf) for positions in at]
        for j, d in enumerate(distance):
            if d == min(distance):
                said[j].add(token)
    clauses = clauses_of(tokens)
    for c, clause in enumerate(clauses[1:], start=1):
        if elliptical(clause, set().union(*own)):
            for j, terms in enumerate(own):
                said[j] |= set(clauses[c - 1]) & asked if terms & set(clause) else set()
    return told_apart(tokens, said, at, affirmed)


def told_apart(
    tokens: Sequence[str], said: Sequence[set[str]], at: Sequence[list[int]], affirmed: Sequence[bool]
) -> list[set[str]]:
    """The question's words said of each option (``said``, from where each is named, ``at``), none where a sentence
    says some of them again of another option it affirms (``affirmed``), named apart (``named_apart``), and more
    besides: it tells the two apart on the rest. "Oligodendrocyte cells produce myelin in the central nervous system
    ... while the Schwann cell produces myelin in the peripheral nervous system" says what is asked of the Schwann
    cell, not of oligodendrocytes, for "Which cells produce myelin in the peripheral nervous system?". Options named
    together are not told apart so: which of them a word stands nearest says little there ("the lambdoid suture joins
    them to the occipital bone" follows "to the frontal bone", and "lambdoid" stands nearer "frontal"); nor are options
    a sentence denies, nor one only a word of it names ("allows" of "a hinge joint that allows flexion")."""
    counts = Counter(tokens)
    rivals = [[k for k, other in enumerate(at) if affirmed[k] and named_apart(tokens, mine, other)] for mine in at]
    return [
        set() if any(words < said[k] and any(counts[word] > 1 for word in words) for k in rivals[j]) else set(words)
        for j, words in enumerate(said)
    ]


def named_apart(tokens: Sequence[str], places: Sequence[int], others: Sequence[int]) -> bool:
    """Whether two options' names (their places in ``tokens``) stand in clauses of their own (``word_distance``), or
    on the two sides of a contrast ("while", "whereas": ``contrast_stems``)."""
    if not places or not others:
        return False
    apart = word_distance(tokens)
    if min(apart(p, r) for p in places for r in others) >= CLAUSE_GAP:
        return True
    first, second = sorted((places, others), key=min)
    return max(first) < min(second) and bool(contrast_stems() & set(tokens[max(first) + 1 : min(second)]))


@cache
def contrast_stems() -> frozenset[str]:
    """The stems ``tokenize`` keeps of the words that set one clause against another in a sentence."""
    return frozenset(stem for stems in tokenize(["while", "whereas"]) for stem in stems)


def clauses_of(tokens: Sequence[str]) -> list[list[str]]:
    """A sentence's stems per clause (between ``CLAUSE`` tokens), brackets' edges left out."""
    clauses: list[list[str]] = [[]]
    for token in tokens:
        if token == CLAUSE:
            clauses.append([])
        elif token != ASIDE:
            clauses[-1].append(token)
    return clauses


def elliptical(clause: Sequence[str], named: set[str]) -> bool:
    """Whether a clause is only an option's name and function words ("but osteoclasts do", "whereas osteoclasts
    can"): it says the clause before it of its own name, which no word of its own could be said of."""
    return bool(set(clause) & named) and set(clause) <= named | function_stems()


@cache
def function_stems() -> frozenset[str]:
    """The stems ``tokenize`` keeps of function words ("do", "doe", "can"), and of "whereas", which opens a clause."""
    return frozenset(stem for stems in tokenize([*FUNCTION_WORDS, "whereas"]) for stem in stems)


def word_distance(tokens: Sequence[str]) -> Callable[[int, int], float]:
    """How far apart two of a sentence's words stand (by their places in ``tokens``): the words between them,
    ``CLAUSE_GAP`` per clause break, and ``CLAUSE_GAP`` more where one stands in a bracketed clause the other does not
    speak in (``reaches``); a bracket's edges (``ASIDE``) are no words."""
    clause, marks, place = 0, 0, []
    for k, token in enumerate(tokens):
        clause += token == CLAUSE
        marks += token == ASIDE
        place.append(k - marks + CLAUSE_GAP * clause)
    reach = reaches(tokens)
    return lambda k, p: abs(place[k] - place[p]) + CLAUSE_GAP * (not reach[k] & reach[p])


def names(terms: set[str] | list[str], option_terms: set[str] | list[str]) -> bool:
    """Whether text terms (stems, as ``tokenize`` gives them) name one of an option's in any of its forms: the
    same stem, or one stem of at least five letters opening the other ("pupil", "pupillari"), as a reader would take
    it; a lettered term ("vitamin d") only as itself. Sharing a first few letters is not enough: "osteoblast" and
    "osteoclast" are different cells."""
    return any(t == o or longer_form(t, o) for t in terms for o in option_terms)


def longer_form(term: str, other: str) -> bool:
    """Whether one of two stems is the other with a suffix, the shorter at least five letters long (no lettered
    term: "vitamin d" is not "vitamin")."""
    short, long = sorted((term, other), key=len)
    return len(short) >= 5 and long.startswith(short) and " " not in long


def contradicts(sentence: str, option_words: set[str], asked: set[str] | None = None) -> bool:
    """A negation in the clause that names one of the option's own words (``option_terms``): within a few words
    before it ("does not contain X", "unlike X"), or straight after the name as its verb's ("X do not resorb bone",
    ``NEGATED_PREDICATE``). A negation stops at its clause ("X do not resorb bone, but Y do" says nothing against Y)
    and "unlike" at its name; a lack after a negation affirms ("cannot be absorbed without X": X is needed), and
    "does not caseate" names "caseating", not "non-caseating". Given the question's ``asked`` words, a negated verb
    speaks against its subject only where what it denies is asked or is the option's own (``denies_what_counts``):
    "the articulating surfaces of the bones are not directly connected" says nothing against "bones articulate ...
    within a fluid-filled joint cavity". An inability (``plan.INABILITY``) is a negation."""
    return any(
        names(terms, option_words) and denies_what_counts(predicate, option_words, asked)
        for terms, predicate in negated_terms(sentence)
    )


def denies_what_counts(predicate: tuple[str, ...], option_words: set[str], asked: set[str] | None) -> bool:
    """Whether a negation's predicate (the stems it reaches) shares the question's asked words or the option's own:
    with no question to check (``asked`` None) or no word of its own ("but osteoblasts do not."), what it denies is
    the rest of the sentence, and counts."""
    said = [term for term in predicate if term not in function_stems()]
    return asked is None or not said or names(said, asked | option_words)


@lru_cache(maxsize=20_000)
def negated_terms(sentence: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """The stems of each stretch a sentence's negations deny (``negated_words``) with those of what they deny it of
    (the predicate), per sentence once: every option is checked against the same sentences, again after each of the
    agent's rounds."""
    text = compared(sentence)  # as written: "vitamin K" is a term of its own, "vitamin k" is not
    negated = [pair for clause in clause_texts(text) for pair in negated_words(clause)]
    if not negated:
        return ()
    terms = clause_words([part for pair in negated for part in pair])
    return tuple((tuple(denied), tuple(predicate)) for denied, predicate in zip(terms[::2], terms[1::2], strict=True))


def negated_words(clause: str) -> list[tuple[str, str]]:
    """The stretches of a clause its negations deny, each with its predicate: the words after each negation
    (``NEGATION_REACH``, a prepositional one's to the next punctuation mark), their own predicate, and the subject of
    a negated verb (``negated_subject``) with the words the verb reaches. A prepositional negation in a clause whose
    verb is negated denies nothing: "Unlike osteoclasts, osteoblasts do not resorb bone" says that osteoclasts do."""
    verbs = list(NEGATED_PREDICATE.finditer(clause))
    after = [
        reached(clause[match.end() : match.end() + NEGATION_REACH], match.group())
        for k, match in enumerate(CONTRADICTION.finditer(clause))
        if not (k and PRIVATIVE.fullmatch(match.group().lower()))
        and not (verbs and PREPOSITIONAL.fullmatch(match.group()))
    ]
    denied = [(negated_subject(clause, verb), verb_reach(clause, verb)) for verb in verbs]
    return [(words, words) for words in after] + [(name, predicate) for name, predicate in denied if name]


LISTED = re.compile(r",\s+$")
"""A list comma just before a name: "Osteoblasts, osteocytes, and chondrocytes" is a list, which a comma before "and"
joins; "the liver, and certain tumors" is two clauses."""
PLACING = (
    r"(?:at|in|on|to|for|from|with|into|within|between|across|near|under|over|among|around|onto|toward|towards|"
    r"along|beyond|inside|outside|below|above|behind|beside|via|throughout|during|through|after|before)"
)
PLACED = re.compile(rf"\b{PLACING}\s+(?:\w+ing\s+)?(?:(?:the|a|an)\s+)?$", re.IGNORECASE)
"""A preposition other than "of" and "by" just before a name, or before a verb in "-ing" whose object the name is: it
places the name beside what the negated verb is said of, the name before it ("the bone at the point of impact is not
broken", "Scarring of skin after wound healing", "The technique for determining an Apgar score"), while "laid down by
osteoblasts that cannot resorb it" names the doer."""
INTRODUCTION = re.compile(
    rf"\W*(?:{PLACING}|unlike|if|when|because|since|as|thus|therefore|hence|however|moreover|instead|"
    r"\w+ly)\b[^,;:]*,\s+",
    re.IGNORECASE,
)
"""A sentence's opening phrase set off by a comma ("However, ", "Unlike sperm, ", "In central sleep apnea, "): it
names no subject."""
SAID_OF_NEAREST = re.compile(r",|who\b", re.IGNORECASE)
"""A relative pronoun said of the name just before it, even a placed one: one set off by a comma, or "who" (a person,
never a place: "lung cancer in individuals who are not tobacco users")."""
RELATIVE_OPENED = re.compile(r",\s*(?:which|who)\s*$", re.IGNORECASE)
"""A relative aside opened just before a negated verb: ", which do not divide, synthesize ..."."""


def verb_reach(clause: str, verb: re.Match[str]) -> str:
    """What a negated verb denies of its subject: the words it reaches (``reached``), within its aside where it opens
    one (``RELATIVE_OPENED``): in "Osteoblasts, which do not divide, synthesize and secrete the collagen matrix" the
    main clause's verb is no predicate of the negation, and it spoke against osteoblasts for "Which cells synthesize
    and secrete the collagen matrix?"."""
    window = reached(clause[verb.end() : verb.end() + NEGATION_REACH], "")
    return window.split(",")[0] if RELATIVE_OPENED.search(clause, 0, verb.start()) else window


def reached(window: str, negation: str) -> str:
    """What a negation reaches of the words after it: up to a contrast's other side (``CONTRAST``), and a
    prepositional one (``PREPOSITIONAL``) its name only."""
    window = CONTRAST.split(window)[0]
    return re.split(r"[,;:()\[\]]", window)[0] if PREPOSITIONAL.fullmatch(negation) else window


def negated_subject(clause: str, verb: re.Match[str]) -> str:
    """What a negated verb denies its predicate of: the name before it (``subject_end``) with the names joined to it
    (``joined_start``), or, where that name is placed by a preposition (``PLACED``), the name the place is said of:
    "the axons projecting from the lateral side of the retina do not decussate" denies it of the axons, not the retina.
    A relative pronoun after a placed name is said of it when set off by a comma ("nourishment to the articular
    cartilage, which does not contain blood vessels", ``SAID_OF_NEAREST``) or by a bare "not" ("blood vessels to
    organs not essential"); a bare "that" or "which" of the name its verb agrees with in number (``agreeing_name``).
    A verb joined to another by a conjunction has that one's subject (``joined_subject``): "Osteoblasts build bone
    and do not resorb it". Any finite verb's subject is read the same way (``joined_subject`` asks it of one)."""
    end = subject_end(clause, verb)
    if joint := JOINED_VERB.search(clause, 0, end):
        return joined_subject(clause[: joint.start()])
    start = joined_start(clause, end)
    relative = RELATIVE.fullmatch(clause, end, verb.start())
    reduced = verb.group().split()[0].lower() == "not"
    if (relative or reduced) and (place := PLACED.search(clause, 0, start)):
        if not relative or SAID_OF_NEAREST.match(relative.group().strip()):
            return clause[start:end]
        return agreeing_name(clause[start:end], clause[joined_start(clause, place.start()) : place.start()], verb)
    while start < end and (place := PLACED.search(clause, 0, start)):
        end = place.start()
        start = joined_start(clause, end)
    return clause[start:end]


FINITE_VERB = re.compile(
    rf"(?<!\bnot\s)\b{AUXILIARY}(?:\s+(?:{AUXILIARY}|be|been|being))*\b(?!\s+(?:not|never)\b)", re.IGNORECASE
)
"""A run of auxiliaries not negated ("is", "has been"), the finite verbs a closed list can name: the name before it is
its clause's subject. A negated one is left to its own negation, and "have" after "does not" is its main verb."""
BARE_RELATIVE = re.compile(r"(?<!,)\s+(?:that|which|who)\s+$", re.IGNORECASE)
"""A relative pronoun no comma sets off, before a verb: its clause is part of a name ("those that are bound to plasma
proteins cannot be filtered and are not readily eliminated"), not the clause a later verb continues."""
SUBORDINATOR = re.compile(
    r"\b(?:when|whenever|if|because|although|though|while|whereas|unless|whether)\b", re.IGNORECASE
)
"""A word opening a clause with its own subject right after it ("when patients suffer from diabetes"; "whether or not"
names none); "until", "since", "once", "before" and "after" are prepositions too ("do not start until age 20 and are
not completed")."""


DIRECTIONS = {
    1: ("increase", "raise", "elevate", "stimulate", "enhance"),
    -1: ("decrease", "lower", "reduce", "inhibit", "suppress"),
}
"""Verbs that move what they act on up (1) or down (-1): a sentence saying an option moves the question's object the
other way denies it ("Glucagon stimulates mechanisms that increase blood glucose levels" for "Which hormone lowers
blood glucose?": ``reversed_options``)."""
NOT_A_VERB_AFTER = frozenset(
    {"the", "a", "an", "its", "their", "this", "these", "those", "is", "are", "was", "were", "be", "been", "of"}
    | set(re.findall(r"\w+", PLACING)) - {"to"}
)
"""Words after which a direction verb's form is an adjective or a noun ("At lower blood pressures", "the lower limb",
"an increase in"), while after "to" it is a verb ("meant to lower blood pressure") except after ``RESPONDING``."""
RESPONDING = frozenset({"response", "respond", "responds", "responding", "due"})
"""Words before a "to" that is a preposition: "secreted in response to lower blood glucose" names what it answers."""
OBJECT_JOINS = frozenset({"of", "the", "a", "an"})
"""Function words inside a verb's object ("the level of the calcium"); any other ends it ("blood glucose in the
liver")."""


@dataclass(frozen=True)
class Direction:
    """A direction verb as a question asks it: its sense (``DIRECTIONS``) and its object's stems."""

    sense: int
    object: tuple[str, ...]


@cache
def direction_forms() -> dict[str, int]:
    """Each direction verb's forms as a verb ("lower", "lowers", "lowering") with its sense; its participle is left
    out, which the book writes mostly as an adjective ("increased blood glucose", "elevated blood pressure")."""
    out = {}
    for sense, verbs in DIRECTIONS.items():
        for verb in verbs:
            third = verb + ("es" if verb.endswith(("ss", "sh")) else "s")
            out |= {verb: sense, third: sense, verb.removesuffix("e") + "ing": sense}
    return out


def direction_verbs(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """Each direction verb a text uses as a verb (``NOT_A_VERB_AFTER``), as (offset, sense, its object's stems)."""
    words = list(NAME_WORD.finditer(text))
    stems = tokenize([word.group() for word in words]) if words else []
    out = []
    for k, word in enumerate(words):
        sense = direction_forms().get(word.group().lower())
        if sense and not adjectival([w.group().lower() for w in words[max(k - 2, 0) : k]]):
            out.append((word.start(), sense, object_stems(text, words[k:], stems[k:])))
    return out


def adjectival(before: Sequence[str]) -> bool:
    """Whether a direction verb's form after these words (lower case, at most two) is no verb (``NOT_A_VERB_AFTER``,
    ``RESPONDING``)."""
    responding = len(before) == 2 and before[0] in RESPONDING and before[1] == "to"
    return bool(before) and (before[-1] in NOT_A_VERB_AFTER or responding)


def object_stems(text: str, words: Sequence[re.Match[str]], stems: Sequence[list[str]]) -> tuple[str, ...]:
    """The stems of the words after the first of ``words`` (a verb) that name its object: up to punctuation or a
    function word other than ``OBJECT_JOINS``."""
    out: list[str] = []
    for before, word, stem in zip(words, words[1:], stems[1:], strict=False):
        if text[before.end() : word.start()].strip() or not (stem or word.group().lower() in OBJECT_JOINS):
            break
        out += stem
    return tuple(out)


def asked_direction(focus: str) -> Direction | None:
    """The first direction verb a question asks with an object ("Which hormone lowers blood glucose?"); None without
    one, or where its object is the answer ("What does insulin lower?")."""
    return next((Direction(sense, said) for _, sense, said in direction_verbs(focus) if said), None)


def reversed_options(sentence: str, own: Sequence[set[str]], direction: Direction) -> set[int]:
    """The options a sentence says move the asked object (``asked_direction``) the other way: in a clause, a direction
    verb whose object opens with the asked one's, said of the option named nearest before it (``option_before``), its
    sense turned by each down verb between them ("Insulin inhibits mechanisms that increase blood glucose" lowers it).
    The object must be the asked one: "Parathyroid hormone raises blood calcium levels and decreases calcium
    excretion" does not lower blood calcium. Not through a negation or a subordinate clause between them, whose verb
    has a subject of its own ("Glucagon is released when exercise lowers blood glucose")."""
    out = set()
    for clause in clause_texts(compared(sentence)):
        verbs = direction_verbs(clause)
        for at, sense, said in verbs:
            named = option_before(clause, at, own) if said[: len(direction.object)] == direction.object else None
            if named is None:
                continue
            option, start = named
            between = clause[start:at]
            turns = sum(other < 0 for place, other, _ in verbs if start <= place < at)
            crossed = CONTRADICTION.search(between) or SUBORDINATOR.search(between)
            if not crossed and sense * (-1) ** turns == -direction.sense:
                out.add(option)
    return out


def option_before(clause: str, end: int, own: Sequence[set[str]]) -> tuple[int, int] | None:
    """The one option named nearest before ``end`` in a clause and where its name starts; None where none is, or the
    nearest name is of several."""
    for word in reversed(list(NAME_WORD.finditer(clause, 0, end))):
        tokens = clause_words([clause[word.start() : end]])[0]
        named = [j for j, terms in enumerate(own) if terms and names(tokens, terms)]
        if named:
            return (named[0], word.start()) if len(named) == 1 else None
    return None


def joined_subject(before: str) -> str:
    """The subject of a negated verb a conjunction joins to the verb phrase ending ``before``: the subject of the
    nearest finite verb (``FINITE_VERB``: "the Krebs cycle is overloaded and cannot handle it"; "Fibroblasts generate
    scar tissue ..., and the bulk of repair is due to ... and does not result in regeneration") or the name opening
    the nearest subordinate clause not yet closed by a comma (``SUBORDINATOR``: "Ketones serve as fuel ... when patients
    suffer from uncontrolled diabetes and cannot utilize"), whichever stands nearer; else the clause's opening name
    ("Osteoblasts build bone and do not resorb it"), as no other verb is known."""
    verbs = [verb for verb in FINITE_VERB.finditer(before) if not BARE_RELATIVE.search(before, 0, verb.start())]
    openers = [o for o in SUBORDINATOR.finditer(before) if "," not in before[o.end() :]]
    if verbs and not (openers and openers[-1].start() > verbs[-1].start()):
        return negated_subject(before, verbs[-1])
    return opening_name(before[openers[-1].end() :] if openers else before)


VERB_NUMBER = {"is": 1, "was": 1, "has": 1, "does": 1, "are": 2, "were": 2, "have": 2, "do": 2}
"""The number of a finite verb that shows one (a modal does not)."""
PLURAL = re.compile(r"(?<!ss|us|is)s$", re.IGNORECASE)
"""A plural noun's ending ("cells", "pathways"; not "mass", "virus", "pelvis")."""


def agreeing_name(nearest: str, owner: str, verb: re.Match[str]) -> str:
    """Which of two names a bare relative pronoun after a place is said of, the placed one (``nearest``) or the one the
    place is said of (``owner``): the only one its verb agrees with in number ("a few cells in the body that do not
    undergo cell division": cells; "result in cell populations that do not die": populations), the placed one where no
    name owns the place ("than in pathways that do not use oxygen"), else neither ("the carbon within the acetoacetyl
    CoA that is not bonded", "molecules to the blood that could not enter")."""
    if not owner:
        return nearest
    number = VERB_NUMBER.get(verb.group().split()[0].lower())
    agreeing = [name for name in (nearest, owner) if number in name_numbers(name)]
    return agreeing[0] if len(agreeing) == 1 else ""


def name_numbers(name: str) -> set[int]:
    """The numbers a name's head nouns show (1 or 2): its last word's and each word's before "of" ("parts of the
    virus": 2 and 1)."""
    heads = re.findall(r"([\w-]+)(?:\s+of\b|\s*$)", name)
    return {2 if PLURAL.search(head) else 1 for head in heads}


def joined_start(clause: str, end: int) -> int:
    """Where the subject ending at ``end`` starts, with the names a compound subject joins to it (``SUBJECT_JOIN``,
    then ``LIST_JOIN`` once a conjunction has joined one): "Osteoblasts and osteocytes of the periosteum do not resorb
    bone" denies it of all three; a comma before the first conjunction joins only in a list (``LISTED``): "toxic to
    the liver, and certain tumors do not respond" denies nothing of the liver."""
    start, joins = name_start(clause, end), SUBJECT_JOIN
    while start < end and (joint := joins.search(clause, 0, start)):
        before = name_start(clause, joint.start())
        clause_joined = joins is SUBJECT_JOIN and joint.group().startswith(",") and not LISTED.search(clause, 0, before)
        if before == joint.start() or clause_joined or ends_clause(clause, before, joint):
            break
        start, joins = before, joins if OF.fullmatch(joint.group()) else LIST_JOIN
    return start


OCCURRING = frozenset(
    verb + ending for verb in ("occur", "exist", "happen", "arise", "persist", "recur") for ending in ("s", "red", "ed")
)
"""Verbs of occurrence, which take no object: a name ending on one is a clause ("dyspnea occurs")."""
AUXILIARY_BEFORE = re.compile(rf"\b(?:{AUXILIARY}|cannot)\s+$", re.IGNORECASE)


def ends_clause(clause: str, start: int, joint: re.Match[str]) -> bool:
    """Whether the words from ``start`` to a joint (a conjunction, "of") are a verb phrase rather than a name of the
    subject: they follow an auxiliary, so start with a verb ("that can help organize and represent information that is
    not", "is composed of the regions of the frontal lobe that are not"), or end on a verb of occurrence
    (``OCCURRING``: "dyspnea occurs and gas exchange cannot be performed")."""
    words = clause[start : joint.start()].lower().split()
    return bool(AUXILIARY_BEFORE.search(clause, 0, start)) or bool(words) and words[-1] in OCCURRING


SUBJECT_PRONOUNS = frozenset({"i", "you", "he", "she", "it", "we", "they"})
"""Pronouns a clause may open with as its subject, naming nothing."""


def opening_name(text: str) -> str:
    """The first name a clause holds (its first run of words that are not function words): the subject of a verb a
    conjunction joins to its first ("Osteoblasts build bone and do not resorb it": "Osteoblasts build bone", as no
    word is tagged a verb), after any opening phrase (``INTRODUCTION``): "Unlike sperm, oocytes lack flagella, and
    therefore cannot move" denies it of oocytes; none where a pronoun opens it (``SUBJECT_PRONOUNS``): "They also lack
    endoplasmic reticula and do not synthesize proteins" names no reticula."""
    while opening := INTRODUCTION.match(text):
        text = text[opening.end() :]
    words = list(NAME_WORD.finditer(text))
    if words and words[0].group().lower() in SUBJECT_PRONOUNS:
        return ""
    first = next((k for k, word in enumerate(words) if word.group().lower() not in FUNCTION_WORDS), None)
    if first is None:
        return ""
    last = first
    while last + 1 < len(words) and not text[words[last].end() : words[last + 1].start()].strip():
        if words[last + 1].group().lower() in FUNCTION_WORDS:
            break
        last += 1
    return text[words[first].start() : words[last].end()]


def subject_end(clause: str, verb: re.Match[str]) -> int:
    """Where the subject of a negated verb ends: before an aside set off by commas or brackets between them
    ("Osteoblasts, the bone-forming cells, do not resorb bone"; not before a bare "not": "Osteoclasts, not
    osteoblasts," is ``BRACKETED``'s), and before a relative pronoun ("a loop of Henle that does not dip")."""
    end = verb.start()
    said = clause[:end].rstrip()
    closing = said[-1:]
    if closing in (",", ")") and verb.group().split()[0].lower() != "not":
        opening = said.rfind("," if closing == "," else "(", 0, len(said) - 1)
        end = opening if opening > 0 else end
    relative = RELATIVE.search(clause, 0, end)
    return relative.start() if relative else end


def superlative_rank(tokens: Sequence[str], k: int) -> tuple[str, ...] | None:
    """How token ``k`` is ranked when it is a superlative: the rank words (``RANKS``) straight before it, holding
    "most" or "least" ("second most common": (second, most)) or before a one-word superlative ("third largest":
    (third,); "largest": ()); None for any other word ("a common cancer", "most" itself)."""
    start = k
    while start and tokens[start - 1] in RANKS:
        start -= 1
    rank = tuple(tokens[start:k])
    return rank if is_superlative(rank, tokens[k]) else None


def is_superlative(rank: tuple[str, ...], word: str) -> bool:
    """Whether a word with these rank words before it is a superlative: "most" or "least" ranks it, or it is one."""
    return word not in RANKS and bool({"most", "least"} & set(rank) or SUPERLATIVE_END.match(word))


def asked_ranks(question: str) -> dict[str, tuple[str, ...]]:
    """The qualities (``quality``) a question asks a superlative of, with their ranks, in the sentence that asks (its
    last): "Which is the most common skin cancer?": {common: (most,)}; "What is the largest muscle?": {largest: ()}.
    Read from the words as written, not "most" of a determiner ("Most of the bones"), an adverb ("most likely"), a
    word that is no quality (``plan.ranks_a_quality``: "moved the least during contraction" would rank "during") or a
    compound ("the lateral-most carpal bone"); none for "Squamous cell carcinomas are the second most common of the
    skin cancers ... This cancer affects which cells?"."""
    out = {}
    for match in RANKED_WORD.finditer(SENTENCE_END.split(question.strip())[-1]):
        rank, word = tuple(re.findall(r"[a-z]+", match.group(1).lower())), match.group(2)
        stems = tokenize([word])[0]
        if stems and is_superlative(rank, word.lower()) and ranks_a_quality(word):
            out[quality(stems[0])] = rank
    return out


def quality(stem: str) -> str:
    """A ranked quality as compared: "common" for any word of how many (``PLENTY``), else itself."""
    return "common" if stem in plenty_stems() else stem


@cache
def plenty_stems() -> frozenset[str]:
    """The stems ``tokenize`` gives the words of how many (``PLENTY``), once."""
    return frozenset(stem for stems in tokenize(list(PLENTY)) for stem in stems)


def superlative_tokens(tokens: Sequence[str], ranks: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A sentence's stems as a question asking a superlative (``ranks``) reads them: a ranked quality as its
    ``quality`` ("most abundant" says "most common"), and an asked quality the sentence does not rank blanked:
    "Basophils ... are so common they may make it difficult to see the two-lobed nucleus" says nothing of which
    leukocytes are the most common."""
    out = []
    for k, token in enumerate(tokens):
        asked = quality(token) in ranks
        ranked = asked and superlative_rank(tokens, k) is not None
        out.append(quality(token) if ranked else "" if asked else token)
    return out


def ranked_otherwise(tokens: Sequence[str], ranks: Mapping[str, tuple[str, ...]], own: Sequence[set[str]]) -> set[int]:
    """The options a sentence ranks otherwise than the question asks: each the option named nearest (``word_distance``)
    to a superlative of an asked quality with another rank. "Squamous cell carcinoma is the second most common skin
    cancer" holds all of "the most common skin cancer" and says squamous cell carcinoma is not it, as "the least
    common" would."""
    at = [[k for k, token in enumerate(tokens) if token in terms] for terms in own]
    apart = word_distance(tokens)
    out: set[int] = set()
    for k, token in enumerate(tokens):
        rank = superlative_rank(tokens, k) if quality(token) in ranks else None
        if rank is not None and rank != ranks[quality(token)]:
            distance = [min((apart(k, p) for p in positions), default=math.inf) for positions in at]
            out |= {j for j, d in enumerate(distance) if d == min(distance) < math.inf}
    return out


def read_with_evidence(question: Question, evidence: Sequence[Evidence]) -> Reading:
    """The question's reading, except that a negated one is read plainly when the text evidence answers it in its
    own words: where it says the negated property, negated, of exactly one option ("Smooth muscle is not under
    voluntary control" answers "Which muscle is not under voluntary control?", with no exception left to find), and
    where a "least" the question ranks a quality by (``negated_by_rank``) is a rank the evidence states of an option
    (``states_rank``): "Basophils are the least common leukocytes" answers "Which leukocytes are the least common?" as
    "the most common" answers a "most" question, and "Neutrophils are the most common" speaks against neutrophils
    (``ranked_otherwise``). Where it states no such rank, "least" still asks for the option the evidence backs least,
    as "least likely" always does (``plan.without_rank_least``)."""
    reading = read_question(question)
    if not reading.negated:
        return reading
    ranked = negated_by_rank(question.text)
    wanted = set() if ranked else set(tokenize([negated_predicate(question.text)])[0])
    if not (ranked or wanted):
        return reading
    sentences = evidence_sentences([e for e in evidence if e.kind != "case" and e.text.strip()])
    if ranked:
        plain = replace(reading, negated=False, focus=question_focus(question, negated=False))
        return plain if states_rank(plain.focus, question.options, sentences) else reading
    negating = [s for s in sentences if wanted <= s.terms and CONTRADICTION.search(s.text)]
    own = option_terms(reading.focus, question.options)
    named = [j for j, terms in enumerate(own) if any(names(s.terms, terms) for s in negating)]
    return replace(reading, negated=False) if len(named) == 1 else reading


def states_rank(focus: str, options: Sequence[str], sentences: Sequence[Sentence]) -> bool:
    """Whether a sentence naming any of an option's own words ranks a quality the question asks (``asked_ranks``) with
    the very rank it asks: "Basophils are the least common leukocytes" for "Which leukocytes are the least common?"."""
    ranks = asked_ranks(focus)
    own = option_terms(focus, options)
    return any(
        superlative_rank(s.tokens, k) == ranks[quality(token)]
        for s in sentences
        if any(names(s.terms, terms) for terms in own)
        for k, token in enumerate(s.tokens)
        if quality(token) in ranks
    )


def option_quotes(
    reading: Reading, options: Sequence[str], scores: SentenceScores, per_option: int = 2
) -> list[list[Quote]]:
    """The best sentences naming each option (``NAMING_COVERAGE``), with their stance (``quote_stance``)."""
    out: list[list[Quote]] = []
    for j in range(len(options)):
        ranked = sorted(
            ((scores.support(j, i), i) for i in range(len(scores.sentences)) if scores.names(j, i)),
            reverse=True,
        )
        quotes = []
        for value, i in ranked[:per_option]:
            sentence = scores.sentences[i]
            covers = scores.question[i]
            settles = scores.said(j, i) >= SETTLING_COVERAGE  # "A resorbs bone while B builds it" settles A, not B
            stance = quote_stance(scores.negates(j, i), settles, reading.negated)
            quote = Quote(sentence.text, sentence.evidence, stance, round(value, 4), settles=settles, covers=covers)
            quotes.append(quote)
        out.append(quotes)
    return out


def quote_stance(denies: bool, settles: bool, negated: bool) -> str:
    """A quote's stance on its option as the answer. A plain question: it contradicts the option where it denies it,
    else supports it (shown so where it says what is asked: ``shown_stances``). A negated question asks for the
    exception, which a sentence denying what is asked of an option supports; one saying it of an option
    (``settles``) contradicts that option as the answer, whichever option. One naming an option without saying what
    is asked ties it to nothing and is related ("Emigration: Leukocytes exit the blood vessel ..." under leukocytes
    for what are not formed elements of blood)."""
    if denies:
        return "supports" if negated else "contradicts"
    if negated:
        return "contradicts" if settles else "related"
    return "supports"


def asserts_nothing(sentence: str) -> bool:
    """Whether a quoted sentence is a question taking no negation as given (the book's "From what structure do
    satellite cells derive during embryologic development?", shown supporting satellite cells for "From which embryonic
    cell type does muscle tissue develop?"): it is shown supporting no option (``shown_stance``). One that takes a
    negation as given speaks through it ("If osteoblasts and osteocytes are incapable of mitosis, then how are they
    replenished ...?": against osteocytes for which cells divide, for them as the exception when the question is
    negated). Display only: what a question takes as given may back the right option ("What gives a skeletal muscle
    fiber its striated appearance?"), and read as backing nothing in the weighing it lost that dev answer held out
    (rag 0.599 to 0.597, agentic 0.625 either way)."""
    return sentence.rstrip().endswith("?") and not CONTRADICTION.search(sentence)


def shown_stance(quote: Quote, says_most: bool) -> str:
    if quote.stance != "supports":
        return quote.stance
    return "supports" if (quote.settles or says_most) and not asserts_nothing(quote.text) else "related"


def shown_stances(quotes: Sequence[Sequence[Quote]], choice: int | None = None) -> list[list[str]]:
    """The stance an answer shows for each option's quotes. A quote that settles (says most of what is asked) shows
    its stance; so does the one that says more of what is asked of its option than any other option's quote says
    (``says_most``): "Ligaments and tendons are made of dense regular connective tissue" supports its option for a
    long question stem it covers a third of. Any other supporting quote names its option without saying what is asked,
    and is shown related: "Osteoclasts are continually breaking down old bone while osteoblasts are continually
    forming new bone" would otherwise be a green "supports" under both for "Which cells resorb bone?". A question
    taking no negation as given is shown supporting nothing, nor outdoes another option's quote (``asserts_nothing``).
    Only as shown: ``writing`` reads ``stance`` as found (read as related, it would swap the choice's best naming
    sentence for a nearest one in 203 of the 347 dev questions' rationales).

    Beside a ``choice`` shown with no supporting quote, only settling quotes are shown supporting: one saying most
    without settling showed the student an answer its evidence did not back, and the weighing was right as often as
    that quote or more (the 347 dev questions: of 25 such ``agentic`` answers the choice was right in 13, the quote's
    option in 7; ``rag`` 11 and 11 of 26), so the answer is not forced to it. A rival's settling quote is still shown
    supporting: the answer is then contested, unsettled, and its rationale quotes the rival
    (``writing.saying_rival``)."""
    most = says_most(quotes)
    shown = [
        [shown_stance(q, m) for q, m in zip(own, flags, strict=True)] for own, flags in zip(quotes, most, strict=True)
    ]
    if choice is None or choice >= len(shown) or "supports" in shown[choice]:
        return shown
    return [[shown_stance(q, False) for q in own] for own in quotes]


def says_most(quotes: Sequence[Sequence[Quote]]) -> list[list[bool]]:
    """Per option's quotes, whether each is its option's quote saying most of what is asked (``Quote.covers``), at
    least ``SHOWN_SUPPORT_COVERAGE`` and more than any other option's quote says."""
    best = [
        max((q.covers for q in own if q.stance == "supports" and not asserts_nothing(q.text)), default=0.0)
        for own in quotes
    ]
    out = []
    for j, own in enumerate(quotes):
        rivals = max((b for k, b in enumerate(best) if k != j), default=0.0)
        most = best[j] >= SHOWN_SUPPORT_COVERAGE and best[j] > rivals
        out.append([most and q.covers == best[j] for q in own])
    return out


@dataclass(frozen=True)
class QuotePlace:
    """Where a quote stands on its page: its record (the passage holding it, or the figure whose caption it is: the
    media route outlines that record's own box), the box holding it (a caption's: its figure's with the caption's,
    ``Payload.captioned_bbox``), and the citation of the figure whose caption it is, if any, whose page the quote is
    cited on: a figure at a page's foot whose caption opens the quote's page is printed on the page before, and its
    citation names the caption's page and box (``Citation.caption_page``)."""

    record: str
    bbox: BBox | None
    cited: Citation | None = None

    @property
    def figure(self) -> str | None:
        """The label of the figure whose caption it is, as the book prints it."""
        return self.cited.figure if self.cited is not None else None


def evidence_record(evidence_id: str, evidence: Payload, on_page: Mapping[str, Payload]) -> str:
    """The record whose box an evidence item's citation gives: a page hit found through a passage carries the page's
    id but the passage's payload and box."""
    if evidence.kind != "passage":
        return evidence_id
    same = (i for i, p in on_page.items() if p.kind == "passage" and p.passage == evidence.passage)
    return next(same, evidence_id)


def quote_place(quote: str, evidence_id: str, evidence: Payload, on_page: Mapping[str, Payload]) -> QuotePlace:
    """Where a quote from a page's text lies: a figure's caption on its figure (``caption_of``: its record, its box
    grown to hold the caption printed beside it, ``Payload.captioned_bbox``, so "Open" outlines the figure and the
    quoted words, not the whole passage around them, and the figure named, since a caption read in the page's text would
    otherwise be cited without its figure); else the passage holding it (the evidence's own first; ``on_page`` holds the
    page's passages and the figures whose caption it prints, by id: ``records_on_pages``), else the evidence's record.
    A figure's or case's quote is its own."""
    own = evidence_record(evidence_id, evidence, on_page)
    if evidence.kind not in ("page", "passage"):
        return QuotePlace(own, evidence.bbox)
    said = quote_normalise(quote)
    figure = caption_of(said, on_page)
    if figure is not None:
        shown = on_page[figure]
        return QuotePlace(figure, shown.captioned_bbox, Citation.of(shown))
    holders = [i for i, p in on_page.items() if p.kind == "passage" and said in quote_normalise(p.text)]
    record = own if own in holders else next(iter(holders), own)
    return QuotePlace(record, on_page[record].bbox if record in on_page else evidence.bbox)


def caption_of(said: str, on_page: Mapping[str, Payload]) -> str | None:
    """The id of the figure whose caption holds a (normalised) quote; a page title standing in for a caption
    (``caption_from_title``) is the page's text, not the figure's. Where a figure continued from the page before
    shares the caption (filed here by its ``caption_page``), the page's own picture is the one cited."""
    captions = [
        i
        for i, p in on_page.items()
        if p.kind == "figure" and not p.caption_from_title and said in quote_normalise(p.text)
    ]
    return min(captions, key=lambda i: on_page[i].caption_page is not None, default=None)
