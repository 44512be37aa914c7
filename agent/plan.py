"""Reading a question (what it asks, whether it asks for the exception) and planning its sub-queries
(pure functions)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pathatlas.agent.questions import Question, option_key
from pathatlas.retrieval.terms import ASKING_WORDS, FUNCTION_WORDS, content_terms, tokenize

QUESTION_OPENERS = re.compile(
    r"^(which|what|who|whom|whose|where|when|how|why|name|identify|select|choose|pick)\b.*", re.IGNORECASE | re.DOTALL
)
QUESTION_WORDS = re.compile(r"\b(?:which|what|who|whom|whose|where|when|how|why|do|does|did)\b", re.IGNORECASE)
"""Words that make a sentence a question, not what it is about: among a page's statements they are rare, so they
would outweigh the words asked about ("What do osteoclasts do?")."""
BLANKS = re.compile(r"_{2,}|\(\s*\)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

JUDGING = r"(?:fit|match|describe|apply|belong|correspond|characteri[sz]e|represent|agree)"
"""Verbs by which a question judges its options against what it names: failing one asks for the exception."""
INABILITY = re.compile(
    r"\b(?:incapable\s+of|unable\s+to|(?:not|no\s+longer)\s+(?:able\s+to|capable\s+of)|can(?:not|['\u2019]t)|"
    r"fail(?:s|ed)?\s+to|lacks?\s+the\s+(?:ability|capacity)\s+to|in(?:ability|capacity)\s+(?:of|to|for))\b",
    re.IGNORECASE,
)
"""Words saying a name cannot do what follows, as verbs ("incapable of", "unable to", "no longer able to", "can't")
or nouns ("the inability of osteocytes to divide", "an incapacity for mitosis"). A sentence saying one of an option
denies the option (``evidence.contradicts``); a question asking one asks it (``asked_inability``)."""
NEGATION_CUE = re.compile(
    r"\b(?:not|never|no longer|except|exception|excluding|least|false|incorrect(?:ly)?|untrue|wrong(?:ly)?|unlikely|"
    r"inaccurate(?:ly)?|improperly|mismatched|"
    r"cannot|can't|isn't|aren't|doesn't|don't|wouldn't|won't|didn't|shouldn't|odd one out|none|"
    rf"fail(?:s|ed)? to(?= {JUDGING}\b)|unrelated|irrelevant|(?:all|save|but) (?:but )?one)\b",
    re.IGNORECASE,
)
"""Words that make a question ask for the option the evidence does not support, the adverbs of matching questions
too ("Which pair is incorrectly matched?", "wrongly paired", "mismatched", "inaccurate"), and failing to fit what it
names ("Which description fails to fit the spleen?"); "Which cells fail to divide?" asks an inability
(``asked_inability``)."""
NOT_A_QUESTION_NEGATION = re.compile(
    r"\bnot only\b|\bif not\b|\bwhether or not\b|\bleast\b[^.?]*?\bto (?:the )?most\b|\bat least\b|"
    r"\ban exception to\b|\btrue\s*(?:or|/)\s*false\b|\bfalse\s*(?:or|/)\s*true\b|\bT\s*/\s*F\b",
    re.IGNORECASE,
)
"""Negation words that do not invert what is asked ("not only", "from least to most", "at least", "an exception
to the rule": that one is asked for; "True or false:", "T/F": a statement to judge, not its exception)."""
LEAST_HEDGES = frozenset(
    {
        "likely",
        "probable",
        "appropriate",
        "accurate",
        "correct",
        "true",
        "consistent",
        "suitable",
        "useful",
        "helpful",
        "plausible",
        "acceptable",
    }
)
"""Words a question judges its own options by ("least likely", "least appropriate"), which no book ranks them by."""
NO_QUALITY = FUNCTION_WORDS | {"able", "unable"}
"""Words after "most" or "least" that are no quality a book ranks things by: function words ("moved the least during
contraction"), "able" ("least able to cross the blood-brain barrier", an ability the question judges)."""
LEAST = re.compile(r"\bleast(?=[\s-]+([a-z]+))", re.IGNORECASE)
"""A "least" and the word after it, spaced or hyphenated ("least common", "least-common")."""


def ranks_a_quality(word: str) -> bool:
    """Whether a word after a rank word ("most", "least") may be a quality a book ranks things by ("common",
    "abundant"): not one of ``NO_QUALITY``, nor an adverb ("most likely", "least commonly")."""
    word = word.lower()
    return word not in NO_QUALITY and not word.endswith("ly")


def without_rank_least(text: str) -> str:
    """``text`` with each "least" that may rank a quality the book states ("the least common leukocytes", as "most"
    does: ``evidence.asked_ranks``) blanked: not one before a hedge (``LEAST_HEDGES``: that "least" asks for the option
    the evidence does not back), nor one before a word that is no quality (``ranks_a_quality``)."""
    return LEAST.sub(lambda least: " " if ranks_least(least) else least.group(), text)


def ranks_least(least: re.Match) -> bool:
    """Whether a ``LEAST`` match ranks the word after it (``without_rank_least``)."""
    word = least.group(1)
    return ranks_a_quality(word) and word.lower() not in LEAST_HEDGES


VERDICT = re.compile(r"^\s*(?:true|false|yes|no|correct|incorrect)\W*$", re.IGNORECASE)
"""An option that is a verdict on the question's statement, not a term to find in the book ("True" matched "true
ribs", "False" "false pelvis")."""
UNDETERMINED = re.compile(
    r"^\s*(?:not stated|cannot be determined|can't be determined|undetermined|insufficient information|"
    r"not enough information)\W*$",
    re.IGNORECASE,
)
"""An option beside verdicts saying the statement cannot be judged ("Not stated"): a verdict too, found in no book."""
LETTER_VERDICTS = ({"t", "f"}, {"y", "n"})
"""Verdicts written as letters ("T"/"F", "Y"/"N"), only when the options are that pair: "F" alone may be a term."""
VERDICT_LEAD = re.compile(
    r"^\s*(?:true\s*(?:or|/)\s*false|false\s*(?:or|/)\s*true|T\s*/\s*F|yes\s*(?:or|/)\s*no)\s*[:.?-]?\s*", re.IGNORECASE
)
"""What only tells how to answer ("True or false: The right lung has three lobes."): no words of the statement."""
SEVERAL = re.compile(
    r"\b(?:which|select|choose|pick|identify|name|mark)\s+(?:the\s+|any\s+)?(two|three|four|[2-4])(?![-\w])",
    re.IGNORECASE,
)
"""A question asking for more than one answer ("Which TWO ...", "Select the two correct", "choose 2")."""
LISTING = re.compile(r",\s|\s(?:and|&)\s", re.IGNORECASE)
"""An option that is itself a pair or list ("Radius and ulna", "cells, fibers, and ground substance")."""
PLACE = r"(?:[A-J]|[1-9])"
"""An option's letter or number as another option names it ("Both A and B", "1 and 3")."""
REFERS_TO_OTHERS = re.compile(
    r"^\s*(?:(?:all|none|any|neither|both)(?: of)? (?:the )?(?:above|these|those|the options|the choices|them)|"
    rf"both|neither(?: {PLACE} nor {PLACE})?|(?:both )?{PLACE}(?:, {PLACE})*,? (?:and|&) {PLACE}(?: only)?)\W*$",
    re.I,
)
"""The form of an option whose meaning may be the other options' ("All of the above", "none of these", "Both A and
B", "A, B and C", "Neither", "1 and 3"): whether it is one is ``referred_options``'s to say ("A and D" may be vitamins).
"""
NONE_OF_THEM = re.compile(r"^\s*(?:none|neither)\b", re.IGNORECASE)
"""An option meaning others that says none of them is the answer ("None of the above", "Neither")."""
OWN_ITEMS = re.compile(r"(?:^|\s)\(?1[.)]\s.*\s\(?2[.)]\s", re.S)
"""A question numbering items of its own ("(1) midbrain (2) cerebellum ..."): "1 and 3" names those, not options."""
NUMBERED_STATEMENTS = re.compile(r"(?:^|\s)\(?(?:I|i|1)[.)]\s.*\s\(?(?:II|ii|2)[.)]\s", re.S)
"""A question numbering statements of its own, in Roman numerals or digits ("I. It is avascular. II. ...")."""
COMBINATION = re.compile(
    r"^(?:(?:[ivx]{1,4}|\d{1,2})\b|and|or|only|but|not|both|all|none|neither|nor|of|the|above|these|[\s,&+;])+$",
    re.IGNORECASE,
)
"""An option made of the question's statement numbers and joining words only: "I only", "I and III", "1, 2 and 3",
"II and III but not I", "All of the above"."""
ANAPHORIC = re.compile(
    r"^(?:which|what)(?: one| option| of them| of these)?(?: (?:is|would) (?:it|that|this)(?: be)?)?\s*\??$",
    re.IGNORECASE,
)
"""An asking sentence with nothing of its own ("Which one?"): what it asks is in the sentence before."""
PRIVATIVE = re.compile(
    r"\b(?:without|lack|lacks|lacking|absence|absent|missing|deficien\w*|unable|loss of|removed|blocked)\b",
    re.IGNORECASE,
)
"""A negated consequence of a missing thing ("without X, bones would not ...") is a positive question."""
SUBORDINATE = re.compile(
    r"\b(?:if|when|who|whose|because|although|since|unless|whereas|while)\b(?:(?!\b(?:which|what)\b)[^,?])*",
    re.IGNORECASE,
)
"""A negation inside a condition or a relative clause describes the case, it is not what is asked."""
ASKS = re.compile(r"\b(most likely|most common|first|best|primary|main|true|correct)\b", re.IGNORECASE)
AUXILIARIES = "is|are|was|were|does|do|did|has|have|can|could|would|will|might|may|should|must"
ANSWER_TYPE = re.compile(
    rf"(?:^|(?<=[.?!]\s))(?:which|what)\s+(?:((?:(?!of\b)[\w-]+\s+){{1,4}}?)(?=(?:{AUXILIARIES})\b)|"
    rf"(?!(?:of|one|{AUXILIARIES})\b)([\w-]+)(?=\s+\w))",
    re.IGNORECASE,
)
"""What kind of thing the answer is: the words before the verb ("Which complement fragment is the principal
opsonin?": complement fragment), else the word after "which" ("Which cells resorb bone?": cells). Every option is
one, so these words tell no option apart."""
ASKED_LAST = re.compile(rf"(?<=\w\s)(?:which|what)\s+(?!(?:{AUXILIARIES})\b)([\w-]+)\s*\?\s*$", re.IGNORECASE)
"""The same asked within a sentence: "which" or "what" and the one word closing it ("Mallory-Denk bodies are seen in
which condition?": condition; "This cancer affects which cells?"). Not a relative pronoun, which has its own verb
after it ("the route through which blood drains"), nor an auxiliary closing a question; of two words, the first may
be one the question asks ("due to what associated structures?")."""
IMAGE_NOUNS = (
    "slide", "image", "micrograph", "photomicrograph", "picture", "photo", "photograph", "tile", "smear", "scan",
    "radiograph",
)  # fmt: skip
"""What a question calls an image in front of the asker."""
IMAGE_REFERENCE = re.compile(
    rf"\b(?:this|these|the attached|the accompanying)\s+(?:\S+\s+){{0,3}}?(?:{'|'.join(IMAGE_NOUNS)})s?\b|"
    r"\b(?:shown|pictured|depicted|seen)\s+(?:here|above|below|in the (?:image|picture|micrograph|slide|photo))\b",
    re.IGNORECASE,
)
"""A question about an image in front of the asker ("Which diagnosis best fits this slide?", "What does this H&E lung
tile show?"). Not "this section" or "this figure": a textbook's own question may mean its text or figure."""
POINTING_WORDS = (
    *IMAGE_NOUNS, "here", "above", "below", "depict", "pictured", "visible", "appear", "look", "like", "demonstrate",
    "illustrate", "example", "option", "answer",
)  # fmt: skip
"""Words by which a question beside an image points at it and at its options ("What is seen in this picture?",
"What does this look like?", "Which option is shown here?"): they ask what the image shows, nothing else."""


IMAGE_QUERY = "img"
"""Id of the image sub-query; similar-case votes count only what the image itself retrieved."""


@dataclass(frozen=True)
class Reading:
    """What a question asks, as the answerers and the planner need it."""

    negated: bool
    """It asks for the option the evidence does not support (NOT, except, least, false, would not be, ...)."""
    statements: bool
    """The options are statements to verify rather than terms to pick."""
    asks: str
    """The qualifier of what is asked ("most likely", "first", "best", "true", ...), or ""."""
    focus: str
    """The question with the negation of its asking sentence removed: what the evidence should say about the
    right option."""
    image_missing: bool = False
    """It asks about an image it was not given ("this slide"): no text can settle what the image shows."""
    verdicts: bool = False
    """Its options are verdicts on its statement (True/False, Yes/No, Correct/Incorrect): what the book says of the
    statement is evidence, but no sentence names a verdict, so none settles one."""
    several: str = ""
    """How many answers it asks for where more than one ("two", "2"), else "": one option is not its whole answer."""
    combined: bool = False
    """Its options combine its numbered statements ("I only", "I and III": ``statement_combinations``): each is a
    judgement of every statement, which no sentence quoted for one option's words makes."""
    image_only: bool = False
    """It asks only what its image shows ("What is this?", "What does this slide show?", or no words:
    ``asks_only_the_image``): no book sentence says what that image is, so only the image's own evidence (similar
    cases) settles it."""


def asking_sentence(question: str) -> str:
    """The sentence that asks (the last with a question mark, a blank or an interrogative opener), else the last."""
    sentences = [s.strip() for s in SENTENCE_END.split(BLANKS.sub(" ___ ", question.strip())) if s.strip()]
    if not sentences:
        return ""
    for sentence in reversed(sentences):
        if sentence.endswith("?") or "___" in sentence or QUESTION_OPENERS.match(sentence):
            return sentence
    return sentences[-1]


def asking_clause(question: str) -> str:
    """The asking sentence, with the sentence before it when it only points back ("..., with one exception.
    Which one?")."""
    sentence = asking_sentence(question)
    if not ANAPHORIC.match(sentence):
        return sentence
    sentences = [s.strip() for s in SENTENCE_END.split(BLANKS.sub(" ___ ", question.strip())) if s.strip()]
    at = sentences.index(sentence) if sentence in sentences else 0
    return " ".join(sentences[max(at - 1, 0) : at + 1])


PROPERTY_NEGATION = re.compile(
    r"\b(?:not|never|cannot|can't|isn't|aren't|doesn't|don't|didn't|won't|wouldn't|no longer|fails? to)\s+([^?.;]*)",
    re.IGNORECASE,
)


def answer_type(question: str) -> str:
    """The words naming what kind of thing the answer is ("Which cranial nerve does ...": cranial nerve; "... seen in
    which condition?": condition), or ""."""
    kinds = [(match.group(1) or match.group(2)).strip() for match in ANSWER_TYPE.finditer(question)]
    return " ".join(kinds or [match[1] for match in ASKED_LAST.finditer(question)])


def negated_predicate(question: str) -> str:
    """What the asking sentence says its answer is not or does not do ("Which muscle is not under voluntary
    control?" -> "under voluntary control"); "" when it negates nothing that way (EXCEPT, least, false)."""
    match = PROPERTY_NEGATION.search(NOT_A_QUESTION_NEGATION.sub(" ", asking_clause(question)))
    return match.group(1).strip() if match else ""


def asking_parts(question: str) -> tuple[str, str]:
    """The asking sentence with its phrases that only look negated taken out (``NOT_A_QUESTION_NEGATION``), and its
    main clause: the sentence less its conditions and relative clauses (``SUBORDINATE``)."""
    sentence = NOT_A_QUESTION_NEGATION.sub(" ", asking_clause(question))
    return sentence, SUBORDINATE.sub(" ", sentence)


def is_negated(question: str) -> bool:
    """Does the asking sentence itself carry a negation (not one cancelled by a privative, nor one inside a
    condition or relative clause)? A "least" that may rank a quality (``ranked_least``) negates it whatever else does:
    alone it asks for the option ranked least or backed least (``negated_by_rank``), and beside a "not" for an option
    the book does not rank least (``negates_rank``): no other cue cancels it."""
    if ranked_least(question):
        return True
    sentence, main = asking_parts(question)
    cues = NEGATION_CUE.findall(main)
    if not cues:
        return False
    privatives = PRIVATIVE.findall(sentence)
    return (len(cues) + len(privatives)) % 2 == 1


def asked_inability(question: str) -> str:
    """What the asking sentence's main clause asks its answer cannot do, to its next verb or mark, where it asks an
    inability (``INABILITY``) that no negation cue turns: "Which cells fail to divide?", "Cells unable to divide are
    called ___." -> "divide"; "Which cell is incapable of mitosis?" -> "mitosis"; else "". Such a question is plain,
    its predicate the inability: a sentence saying that inability of an option backs it, and one saying the option
    does it speaks against it (``evidence.negated_options``). One asking it with a negation word ("Which cells cannot
    divide?") is negated (``is_negated``), as is one failing to fit (``JUDGING``)."""
    _, main = asking_parts(question)
    inability = INABILITY.search(main)
    if not inability or NEGATION_CUE.search(main):
        return ""
    return re.split(rf"[?.;:,]|_{{2,}}|\b(?:{AUXILIARIES})\b", main[inability.end() :], flags=re.I)[0].strip()


def ranked_least(question: str) -> bool:
    """Whether the asking sentence's main clause holds a "least" that may rank a quality (``without_rank_least``)."""
    _, main = asking_parts(question)
    return without_rank_least(main) != main


def negated_by_rank(question: str) -> bool:
    """Whether only a "least" that may rank a quality negates the asking sentence: "Which leukocytes are the least
    common?" (the evidence decides, ``evidence.read_with_evidence``), not "Which is least likely ...?" nor "Which is
    not the most common?"."""
    return ranked_least(question) and not is_negated(without_rank_least(question))


def negates_rank(question: str) -> bool:
    """Whether the asking sentence negates a "least" that ranks a quality: "Which of these is NOT the least common
    leukocyte?" asks for one the book does not rank least (any other option, in a choice of them the one it ranks
    otherwise: the most common); read as negated, with the rank kept as what the evidence should say
    (``question_focus``). Its two cues would otherwise cancel out, and it would be answered the least common."""
    return ranked_least(question) and is_negated(without_rank_least(question))


def statement_options(options: list[str]) -> bool:
    """Options that are clauses to check (long, or ending like sentences) rather than terms."""
    return bool(options) and sum(len(o.split()) >= 6 or o.rstrip().endswith(".") for o in options) * 2 > len(options)


def verdict_options(options: Sequence[str]) -> bool:
    """Options that judge the question's statement: verdicts (``VERDICT``), perhaps beside answers that it cannot be
    judged (``UNDETERMINED``): "True", "False", "Not stated"; or exactly a ``LETTER_VERDICTS`` pair ("T", "F")."""
    if len(options) == 2 and {re.sub(r"\W", "", option).lower() for option in options} in LETTER_VERDICTS:
        return True
    judged = [option for option in options if not UNDETERMINED.match(option)]
    return len(options) > 1 and bool(judged) and all(VERDICT.match(option) for option in judged)


def named_places(question: str, option: str) -> list[int] | None:
    """The option places an option names by letter or number ("Both A and C": 0 and 2; "1 and 3" likewise); None where
    its numbers name the question's own items (``OWN_ITEMS``), not options."""
    said = re.findall(rf"\b{PLACE}\b", option, re.I)
    if any(place.isdigit() for place in said) and OWN_ITEMS.search(question):
        return None
    return [int(p) - 1 if p.isdigit() else ord(p.upper()) - ord("A") for p in said]


def referred_options(question: str, options: Sequence[str]) -> dict[int, tuple[int, ...]]:
    """The options meaning other options, each with the options it names by place: "Both A and B" (A, B), "1 and 3"
    (A, C), or naming no place, "All of the above", "None of these", "Neither", "Both" (none). One whose letters or
    numbers are not all options of their own words (not of ``REFERS_TO_OTHERS``'s form) is an answer in itself: the
    vitamins "A and D" beside "B and C", "A, D, E and K" of four, "1 and 3" of a question numbering its own items."""
    own = {k for k, option in enumerate(options) if not REFERS_TO_OTHERS.match(option)}
    out = {}
    for j, option in enumerate(options):
        places = named_places(question, option) if REFERS_TO_OTHERS.match(option) else None
        if places is not None and set(places) <= own:
            out[j] = tuple(places)
    return out


def none_option(question: str, options: Sequence[str]) -> int | None:
    """The option saying no other is the answer ("None of the above", "Neither": ``referred_options`` naming no place,
    ``NONE_OF_THEM``), if there is one; "Neither A nor B" leaves the other options open, and is none."""
    referred = referred_options(question, options)
    return next((j for j, places in referred.items() if not places and NONE_OF_THEM.match(options[j])), None)


def listed_options(question: Question) -> bool:
    """Whether every option of its own words (not meaning others, ``referred_options``) is a pair or list
    (``LISTING``): "Which two bones form the forearm?" over "Radius and ulna", "Tibia and fibula" asks for one."""
    others = referred_options(question.text, question.options)
    own = [option for j, option in enumerate(question.options) if j not in others]
    return bool(own) and all(LISTING.search(option) for option in own)


def read_question(question: Question) -> Reading:
    sentence = asking_clause(question.text)
    verdicts = verdict_options(question.options)
    negated = is_negated(question.text) and not verdicts  # a negation in a statement to judge is the statement's
    asks = ASKS.search(sentence)
    several = SEVERAL.search(question.text)
    return Reading(
        negated=negated,
        statements=statement_options(question.options),
        asks=asks.group(1).lower() if asks else "",
        focus=question_focus(question, negated),
        image_missing=question.image is None and bool(IMAGE_REFERENCE.search(question.text)),
        verdicts=verdicts,
        several=several.group(1).lower() if several and not listed_options(question) else "",
        combined=statement_combinations(question),
        image_only=question.image is not None and asks_only_the_image(question.text),
    )


@functools.cache
def image_asking_stems() -> frozenset[str]:
    """The stems of ``ASKING_WORDS`` and ``POINTING_WORDS``, once."""
    return frozenset(tokenize([" ".join([*ASKING_WORDS, *POINTING_WORDS])])[0])


def asks_only_the_image(text: str) -> bool:
    """Whether a question beside an image names nothing but the image: none of its content words (``content_terms``)
    is left once those it asks and points with (``image_asking_stems``) are taken out. "Which tissue is shown?" names
    a tissue; with "What is this?" every sentence naming an option said all that was asked, and a book's "List and
    describe the functions of bones" settled "bone" at 0.91 for an angiosarcoma's slide."""
    return set(content_terms(text)) <= image_asking_stems()


def question_focus(question: Question, negated: bool) -> str:
    """The question without blanks, and without the negation of its asking sentence where it is read as negated (a
    negated rank kept: ``unnegated``), or the inability it asks (``asked_inability``; not a verdict's statement):
    what a sentence says of the right option, before its negation is read."""
    sentence = asking_clause(question.text)
    text = BLANKS.sub(" ___ ", VERDICT_LEAD.sub("", question.text.strip()))
    if sentence and negated:
        text = text.replace(sentence, unnegated(sentence, negates_rank(question.text)))
    elif sentence and asked_inability(question.text) and not verdict_options(question.options):
        text = text.replace(sentence, INABILITY.sub(" ", sentence))
    return " ".join(BLANKS.sub(" ", text).replace("___", " ").split())


def unnegated(sentence: str, rank_kept: bool) -> str:
    """The sentence without its negation cues, but with each "least" that ranks a quality where ``rank_kept``
    (``negates_rank``): "Which is NOT the least common leukocyte?" asks which option the evidence does not call the
    least common."""
    kept = {least.start() for least in LEAST.finditer(sentence) if ranks_least(least)} if rank_kept else set()
    return NEGATION_CUE.sub(lambda cue: cue.group() if cue.start() in kept else " ", sentence)


def statement_combinations(question: Question) -> bool:
    """Whether the options combine statements the question numbers ("I. ... II. ... III. ...", then "A. I only",
    "B. I and II"): every option is numbers and joining words (``COMBINATION``), most name a number, and the
    question numbers its statements (``NUMBERED_STATEMENTS``). Scored by their words, "I only" and "II and III" share
    them all: such answers would be wrong, one at 0.77."""
    options = question.options
    numbered = [re.search(r"\b(?:[ivx]{1,4}|\d{1,2})\b", option, re.I) for option in options]
    return (
        len(options) > 1
        and all(COMBINATION.match(option.strip()) for option in options)
        and sum(map(bool, numbered)) > len(options) / 2
        and bool(NUMBERED_STATEMENTS.search(question.text))
    )


@dataclass(frozen=True)
class SubQuery:
    id: str
    text: str | None
    purpose: str
    """question, option, finding, image, follow-up or contrast."""
    option: int | None = None
    use_image: bool = False


def stem(question: str) -> str:
    """The question without blanks, negation and boilerplate, as a search query."""
    text = BLANKS.sub(" ", question).replace("___", " ")
    text = NEGATION_CUE.sub(" ", text)
    text = re.sub(
        r"\b(which of the following|which of these|the following|all of these|all of the following|is most likely|"
        r"best describes?)\b",
        " ",
        text,
        flags=re.I,
    )
    return " ".join(text.split())


def key_findings(question: str) -> list[str]:
    """Descriptive sentences of a vignette (not the final interrogative one); none for one-line questions."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s.strip()]
    if len(sentences) < 2:
        return []
    return [s for s in sentences if not QUESTION_OPENERS.match(s) and len(s.split()) >= 3]


def with_options(question: Question) -> str:
    """The question's text and its options as one query, the options in one order whatever order they are listed
    in (by their words, case ignored): the query's dense vector follows word order, and with the options as listed,
    shuffling them changes 6 of the 347 dev answers (BENCHMARKS.md). Verdicts ("True or false:", "True", "False", "Not
    stated"; ``verdict_options``) are left out: their words found "true ribs"."""
    options = [] if verdict_options(question.options) else question.options
    return " ".join([VERDICT_LEAD.sub("", question.text), *sorted(options, key=option_key)]).strip()


def plan(question: Question) -> list[SubQuery]:
    """Text multiple choice: one query of the question with its options (the per-option searches are the
    agent's passage support, ``scoring.support_queries``: sub-queries per option fused into the evidence
    scored below one search on the dev folds, BENCHMARKS.md). Otherwise one query for the question, one per
    option (question plus option), one per key finding, the image."""
    if question.options and question.image is None and question.text.strip():
        return [SubQuery("q", with_options(question), "question")]
    queries: list[SubQuery] = []
    base = stem(question.text) if question.text.strip() else None
    if base:
        queries.append(SubQuery("q", base, "question"))
    for i, option in enumerate(question.options):
        queries.append(SubQuery(f"o{i}", f"{base} {option}" if base else option, "option", option=i))
    for n, finding in enumerate(key_findings(question.text)):
        queries.append(SubQuery(f"f{n}", finding, "finding"))
    if question.image is not None:
        queries.append(SubQuery(IMAGE_QUERY, None, "image", use_image=True))
    return queries


def keywords(text: str, exclude: set[str] = frozenset(), n: int = 4) -> list[str]:
    """The longest distinct content words of ``text`` (a cheap stand-in for rarity), minus ``exclude``."""
    words = dict.fromkeys(w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if w.lower() not in exclude)
    return sorted(words, key=len, reverse=True)[:n]


def follow_ups(question: Question, judged, round_: int) -> list[SubQuery]:
    """Next-round queries when the two leading options are close: for each, the option with the question's key
    words minus the rival's words (what separates them), and the option with the terms its best quote
    introduces (words in neither question nor options). None for verdicts ("True", "False"): their words tell
    nothing apart."""
    if verdict_options(question.options):
        return []
    scores = list(judged.scores)
    leading = sorted(range(len(scores)), key=lambda j: -scores[j])[:2]
    focus = read_question(question).focus
    known = {w.lower() for w in re.findall(r"[A-Za-z-]+", " ".join([question.text, *question.options]))}
    queries = []
    for j in leading:
        rival = {w.lower() for k in leading if k != j for w in question.options[k].split()}
        words = keywords(focus, exclude=rival, n=4)
        queries.append(SubQuery(f"c{round_}o{j}", " ".join([question.options[j], *words]), "contrast", option=j))
        quotes = judged.quotes[j] if j < len(judged.quotes) else []
        new = keywords(" ".join(q.text for q in quotes[:1]), exclude=known, n=4)
        if new:
            queries.append(SubQuery(f"u{round_}o{j}", " ".join([question.options[j], *new]), "follow-up", option=j))
    return queries
