"""What an answer says about itself: a quote for the chosen option, whether the evidence settles it, and a
rationale written from the quotes (pure functions shared by every answerer)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace

from pathatlas.agent.evidence import (
    Sentence,
    compared,
    evidence_sentences,
    names,
    option_quotes,
    quote_normalise,
    read_with_evidence,
    score_sentences,
)
from pathatlas.agent.plan import QUESTION_WORDS, Reading, none_option, referred_options
from pathatlas.agent.questions import LETTERS, Answer, Evidence, Question, Quote
from pathatlas.agent.scoring import LEAD_TOLERANCE, agreeing_case, diagnosed_option, similar_cases, unnamed_specimen
from pathatlas.retrieval.terms import has_words, tokenize
from pathatlas.retrieval.text import in_words

SETTLED_CONFIDENCE = 0.5
"""Below this (calibrated) confidence the answer says the evidence does not settle the question."""
UNNAMED_CONFIDENCE = 0.4
"""The most an unsettled answer claims when no quoted sentence names its choice (``evidence_naming``: "another" or
"none"): image questions so answered were right a third of the time at confidence 0.66-0.76. Chosen on the
textbook dev questions (0.3, 0.4 or 0.5, by the summed ECE of rag and agentic), reported on the image questions
(BENCHMARKS.md)."""
FAVOURED_BY = 0.01
"""How much higher the evidence scores another option than the chosen one before a rationale says it favours that
one (``favoured``): a gap its two decimals show, far above the offline answerer's, whose choice is its best to
``LEAD_TOLERANCE`` and its scores' four places."""
UNSETTLED = "The evidence does not settle this"
NO_IMAGE = "The question asks about an image it was not given, so no text settles it"
VERDICTS = "no sentence of the evidence says true or false, or yes or no, of a statement: it scores the options alike"
"""Said for every answerer: a model's own verdict, if it gives one, follows as its rationale ("Model: ...")."""
TEXT_KINDS = {"page", "figure", "passage"}


def open_focus(question: Question, reading: Reading) -> str:
    """What an open question's (or a statement's) sentences are scored against: its focus without the words that make
    it a question ("What do osteoclasts do?" -> "osteoclasts": "what" and "do" are rare among statements, so would
    weigh most)."""
    return " ".join(QUESTION_WORDS.sub(" ", reading.focus or question.text).split())


def nearest_sentences(
    question: Question, reading: Reading, evidence: list[Evidence], top: int = 5
) -> list[tuple[Sentence, float]]:
    """The sentences ``quotable_sentences`` gives by how much of the question's words (``open_focus``, IDF-weighted, by
    rank) they cover, each with that coverage; statements first, as a question printed in the book (a figure's "what
    do you notice?") answers nothing. None where the question has no words to look for ("the of and": every sentence
    would cover all of them)."""
    focus = open_focus(question, reading)
    if not has_words(focus):
        return []
    scores = score_sentences(replace(reading, focus=focus), focus, [], quotable_sentences(evidence, top))
    order = sorted(
        range(len(scores.sentences)),
        key=lambda i: (scores.sentences[i].text.rstrip().endswith("?"), -scores.question[i] * scores.weights[i]),
    )
    return [(scores.sentences[i], scores.question[i]) for i in order]


def quotable_sentences(evidence: list[Evidence], top: int) -> list[Sentence]:
    """The sentences of the ``top`` text evidence items, else, where those hold none, of the ``top`` cases, read as a
    chosen option quotes a case (``fallback_quote``: its title, diagnosis, organ, description). A book's sentence says
    what a case's title only names; but a case folder indexed alone, or a filter on cases ("kind=case",
    "organ=cervix"), finds nothing else, and the answer said "no evidence found" beside the cases its search listed."""
    found = evidence_sentences([e for e in evidence if e.kind in TEXT_KINDS], top=top)
    return found or evidence_sentences([e for e in evidence if e.kind == "case"], top=top)


def found_unquoted(evidence: Sequence[Evidence]) -> str:
    """What an open answer quoting no sentence says of its evidence: "no evidence found" only where none was, else what
    was found, by kind, each case once however many of its images ("found 2 cases and 1 page, but no sentence in them
    to quote")."""
    if not evidence:
        return "no evidence found"
    records = dict.fromkeys((e.kind, e.payload.source, e.payload.case or e.id) for e in evidence)
    counts = Counter(kind for kind, _, _ in records)
    found = [f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in counts.items()]
    return f"found {in_words(found)}, but no sentence in them to quote"


DEFINING = (
    re.compile(
        r"^(?P<term>[^,;()]+?)\s+(?:is|are)\s+(?:(?:called|known as|termed)\s+)?(?:the|an?|one)\s", re.IGNORECASE
    ),
    re.compile(
        r"^.*\b(?:(?:is|are)\s+(?:called\s+|known as\s+|termed\s+)?|called\s+|known as\s+|termed\s+)(?:the\s+|an?\s+)?"
        r"(?P<term>[\w\s-]+?)\s*(?:\([^)]*\))?\s*[.,;]?$",
        re.IGNORECASE,
    ),
)
"""How a sentence defines a term: opening its clause ("The osteoblast is the bone cell responsible for forming new
bone"), or closing it after its last naming verb ("The cell responsible for bone resorption, or breakdown, is the
osteoclast.", "... is covered with a fibrous membrane called the periosteum (peri- = "around")."). A clause opens after
a heading's colon."""


def defines(sentence: str, asked: Collection[str]) -> bool:
    """Whether a sentence defines what an open question asks about (``DEFINING``): its term's words (stems) and the
    ``asked`` ones name each other, each in any form (``evidence.names``). "What do osteoblasts do?" is answered by
    "The osteoblast is the bone cell responsible for forming new bone", not by "Osteogenic cells ... develop into
    osteoblasts"; "Which adult structure arises from the diencephalon?" is not by "The diencephalon is the one region
    of the adult brain ...", whose term is one of its words only."""
    clause = sentence.rpartition(": ")[2].strip()
    found = (pattern.search(clause) for pattern in DEFINING)
    return any(term is not None and named_alike(tokenize([term["term"]])[0], asked) for term in found)


def named_alike(words: Collection[str], others: Collection[str]) -> bool:
    """Whether two sets of stems each name every word of the other (``evidence.names``), neither empty."""
    each = all(names({w}, others) for w in words) and all(names({o}, words) for o in others)
    return bool(words) and bool(others) and each


def statement_quotes(question: Question, reading: Reading, evidence: list[Evidence], n: int = 2) -> list[Quote]:
    """Verdict options ("True", "False"): the sentences saying most of the question's statement, related to every
    option alike (they name none): what the book says of it, which no verdict is read from."""
    found = [(s, c) for s, c in nearest_sentences(question, reading, evidence) if c > 0][:n]
    return [Quote(s.text, s.evidence, "related", 0.0, settles=False, covers=c, about=()) for s, c in found]


def unruled(question: Question, choice: int) -> list[int]:
    """The options meaning others ("Both A and B", "None of the above"; ``referred_options``) besides the choice: the
    quotes for single options cannot rule them out, so an answer beside them is never settled."""
    return [j for j in referred_options(question.text, question.options) if j != choice]


def fallback_quote(question: Question, reading: Reading, choice: int, evidence: list[Evidence]) -> Quote | None:
    """A sentence for a chosen option that no sentence names by its distinctive words.

    Negated question: the sentence tying the other options to the question best without naming the choice
    (what makes the choice the exception; it supports it), where one names another option. Otherwise: a
    sentence with any of the option's words covering the question best, else the sentence covering the question
    best: what the choice was weighed against, which does not settle it.
    """
    scores = score_sentences(reading, question.text, question.options, evidence_sentences(evidence))
    if not scores.sentences:
        return None
    chosen = tokenize([compared(question.options[choice])])[0]

    def key(i: int) -> tuple:
        sentence, relevance = scores.sentences[i], scores.question[i] * scores.weights[i]
        named = names(sentence.terms, chosen)  # any form of its words: "pupillary" names "dilated pupils"
        if reading.negated:
            others = sum(scores.names(j, i) for j in range(len(question.options)) if j != choice)
            return (not named, others, relevance)
        return (named, relevance)

    position = max(range(len(scores.sentences)), key=key)
    best = scores.sentences[position]
    choice_unnamed, others = key(position)[:2] if reading.negated else (False, 0)
    exception = choice_unnamed and others >= 1  # "which do not divide" names no option at all
    about = tuple(j for j in range(len(question.options)) if scores.names(j, position))
    stance = "supports" if exception else "related"
    return Quote(best.text, best.evidence, stance, 0.0, settles=exception, about=about)


def other_options_named(quote: Quote, choice: int) -> list[str]:
    """The letters of the options a quote for ``choice`` names instead of it (``Quote.about``: a nearest sentence
    naming others but not the choice); empty when the quote is about the choice or names no option."""
    about = quote.about or ()
    return [] if choice in about else [LETTERS[j] for j in about]


def speaking_for(question: Question, choice: int, evidence: list[Evidence]) -> list[Evidence]:
    """The evidence a chosen option may be quoted from: all but the cases diagnosed as another option. A case's words
    describe its own diagnosis; a secretory meningioma answer would otherwise quote a ganglioneuroma case's "mature
    ganglion cells in schwannian stroma" as its nearest sentence. A case diagnosed as no option is text like any other
    ("koilocytes" in a condyloma's description), but for the very slide (verified as the same specimen): its words say
    what the image is, which no option names ("Ovary serous carcinoma, psammoma bodies" would be ganglioneuroma's
    nearest sentence)."""
    return [e for e in evidence if e.text.strip() and (e.kind != "case" or speaks_for(question.options, choice, e))]


def speaks_for(options: Sequence[str], choice: int, case: Evidence) -> bool:
    """Whether a case's words may be quoted for option ``choice`` (``speaking_for``)."""
    named = diagnosed_option(options, case)
    return named == choice or (named is None and not case.same_specimen)


NAMING = {
    "choice": "a sentence names the choice",
    "another": "none names the choice, one names another option",
    "none": "no sentence names any option",
}
"""What the evidence quoted for an answer names (``evidence_naming``), the slices ``bench qa`` reports per mode."""


def evidence_naming(answer: Answer) -> str | None:
    """Which ``NAMING`` slice an answer falls in: a quote under the choice names it (``Quote.about`` None), or none
    does but a sentence names another option (quoted under it, or named by the choice's nearest sentence), or no
    sentence names any option. None for an answer with no choice or no quotes (open questions, no-rag)."""
    if answer.choice is None or not any(answer.quotes):
        return None
    named = {j for j, quotes in enumerate(answer.quotes) for q in quotes if q.about is None}
    if answer.choice in named:
        return "choice"
    for quote in answer.quotes[answer.choice] if answer.choice < len(answer.quotes) else []:
        named |= set(quote.about or ())
    return "another" if named else "none"


def one_per_case(evidence: Sequence[Evidence]) -> list[Evidence]:
    """The similar cases, each case once: its image verified as the same specimen if any is, else its most similar
    one. A case is one patient's diagnosis however many of its images are found: counted per image, three photographs of
    one look-alike case would be "most of the three most similar" and settle atlas answers whose own case the index does
    not hold (13 of 13 such settled answers wrong). An image without a case id is a case of its own."""
    kept: dict[tuple[str, str], Evidence] = {}
    for image in similar_cases(evidence):
        key = (image.payload.source, image.payload.case or image.id)
        if key not in kept or (image.same_specimen and not kept[key].same_specimen):
            kept[key] = image
    return list(kept.values())


def settle(answer: Answer, question: Question, reading: Reading, evidence: list[Evidence]) -> None:
    """Make sure the chosen option quotes a sentence; the answer is settled when a quote supports the choice
    (for a plain question, a sentence naming it; for an image question, a case verified as the same specimen, or most
    of the three most similar cases, each case counted once, diagnosed as it), the confidence reaches
    SETTLED_CONFIDENCE, no other option scored as high (two options at 0.50 each are a tie, not an answer) and no
    other option has a quote supporting it that settles (``rivals_said``).

    An image answer that neither the similar cases so found nor a quote settle rests on look-alikes (another
    specimen's diagnosis, or none) and claims no more than chance: with the question's own case out of the index
    (``bench qa --exclude-case``) such answers are right 6 % (rag) and 22 % (agentic) of the time, where uncapped they
    would claim 0.55 and 0.39. An unverified image of the question's own case is no more than a look-alike to it (with
    that case indexed such answers are right 39-46 % at 0.25, BENCHMARKS.md). A question about an image it was not given
    ("this slide") is never settled and claims no more than chance: the options' words in the book say nothing about
    that image. Nor does text settle one asking only what its image shows ("What is this?", or no words:
    ``Reading.image_only``): every sentence naming an option says all it asks, so its text quotes are shown as related
    (``unsaid_of_image``), and without agreeing cases it claims no more than chance (a book alone settled "bone" at 0.91
    for an angiosarcoma's slide from "List and describe the functions of bones"). One no evidence was found for (a
    filter on a source that holds nothing on it) is never settled either,
    but keeps the options' likeness to the question as its confidence: on the dev questions that likeness alone is right
    as often as it claims (two options 0.571 at 0.571, four 0.326 at 0.289), so capping it at chance would understate
    it.

    Never settled either where quotes for single options cannot decide: options that are verdicts (True/False: the
    sentences nearest the statement are quoted, related to every option, and the answer claims chance), options
    combining the question's numbered statements ("I only", "I and III": claiming chance too), a question asking for
    several answers, an option meaning others beside the choice ("Both A and B", "None of the above": ``unruled``;
    claiming at most ``UNNAMED_CONFIDENCE``, as it cannot tell "A" from "All of the above": "Which organ produces
    insulin? ... None of the above" claimed 0.90 for the liver from "insulin-like growth factor"; the 14 such dev
    answers, rag and agentic, were right 7 times at 0.45-0.98), and an image whose very slide (a case
    verified as the same specimen) is diagnosed as none of the options (``unnamed_specimen``: claiming chance too,
    whatever its look-alikes say)."""
    if answer.choice is None:
        return
    while len(answer.quotes) < len(question.options):
        answer.quotes.append([])
    if reading.verdicts:
        found = statement_quotes(question, reading, evidence)
        answer.quotes = [list(found) for _ in question.options]
        answer.cited = list(dict.fromkeys([*answer.cited, *(q.evidence.id for q in found)]))
    own = answer.quotes[answer.choice]
    cases = one_per_case(evidence) if question.image is not None else []
    case = agreeing_case(question.options, cases, answer.choice) if cases else None
    if case is not None:
        own = [Quote(case.text, case, "supports", 1.0, settles=True), *(q for q in own if q.evidence.id != case.id)]
        answer.quotes[answer.choice] = own
        answer.cited = list(dict.fromkeys([case.id, *answer.cited]))
    if not any(q.stance == "supports" for q in own) and not reading.verdicts:
        quote = fallback_quote(question, reading, answer.choice, speaking_for(question, answer.choice, evidence))
        if quote is not None and quote.text not in {q.text for q in own}:
            answer.quotes[answer.choice] = own = [quote, *own]
            answer.cited = list(dict.fromkeys([quote.evidence.id, *answer.cited]))
    if reading.image_only:
        answer.quotes = [[unsaid_of_image(q) for q in quotes] for quotes in answer.quotes]
        own = answer.quotes[answer.choice]
    supported = any(q.stance == "supports" and q.settles for q in own)
    own_score = answer.scores[answer.choice] if answer.choice < len(answer.scores) else None
    tied = own_score is not None and sum(score >= own_score - 1e-6 for score in answer.scores) > 1
    unnamed = unnamed_specimen(question.options, cases) if cases else None  # the very slide is none of them
    looked_alike = (cases or reading.image_only) and not supported  # no case of its own says what the image is
    beside_unruled = bool(unruled(question, answer.choice))
    if reading.image_missing or reading.verdicts or reading.combined or looked_alike or unnamed:
        answer.confidence = min(answer.confidence, 1.0 / len(question.options))
    if beside_unruled:
        answer.confidence = min(answer.confidence, UNNAMED_CONFIDENCE)
    unfounded = reading.image_missing or not evidence  # nothing found that could speak to it
    undecided = reading.verdicts or reading.several or reading.combined or beside_unruled or unnamed
    answer.settled = (
        supported
        and not tied
        and (case is not None or not rivals_said(answer))  # the same specimen, or most similar cases, settle it
        and answer.confidence >= SETTLED_CONFIDENCE
        and not unfounded
        and not undecided
    )


def unsaid_of_image(quote: Quote) -> Quote:
    """A text quote for a question asking only what its image shows (``Reading.image_only``), as related evidence
    that settles nothing: a sentence naming an option says nothing of that image. A case's quote is kept as it is."""
    if quote.evidence.kind not in TEXT_KINDS:
        return quote
    return replace(quote, stance="related", settles=False)


def rivals_said(answer: Answer) -> dict[int, Quote]:
    """Per option besides the choice, its first quote saying what is asked of it (supporting, ``Quote.settles``) as
    fully as the choice's own best such quote says it (``Quote.covers``; any, where the choice has none). Any contests
    the choice: evidence as good as its own, however the weighing scored them, so the answer is not settled beside it
    ("Which cells resorb bone?" would otherwise settle on osteoblasts, from a fragment carried over a page break, while
    "The cell responsible for bone resorption ... is the osteoclast" settles osteoclasts); "Intrinsic factor is required
    for vitamin B12 absorption in the small intestine" says less of calcium's absorption than "Vitamin D is required for
    the absorption of calcium" and contests nothing. Which of two such quotes is right is the weighing's to say; the
    rationale shows the rival's (``saying_rival``). On the A&P dev questions this leaves 64 of 80 rag answers settled
    (right 0.891, against 0.850 of the 80; agentic 69 of 83, 0.855 against 0.819)."""

    def settling(quotes: list[Quote]) -> list[Quote]:
        return [q for q in quotes if q.stance == "supports" and q.settles]

    own = settling(answer.quotes[answer.choice]) if answer.choice is not None else []
    bar = max((q.covers for q in own), default=0.0) - 1e-9
    said = {}
    for j, quotes in enumerate(answer.quotes):
        quote = next((q for q in settling(quotes) if q.covers >= bar), None)
        if j != answer.choice and quote is not None:
            said[j] = quote
    return said


def short(text: str, limit: int = 220) -> str:
    flat = quote_normalise(text)
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def cite(quote: Quote) -> str:
    return labelled_quote(quote.text, quote.evidence.citation.label())


def labelled_quote(text: str, label: str) -> str:
    """A sentence as a rationale quotes it, with its citation's label: one form, so a quote found again under a
    better label is recognised (``recited``)."""
    return f'"{short(text)}" ({label})'


def recited(rationale: str, placed: Iterable[tuple[str, str, str]]) -> str:
    """``rationale`` with each (quote, label it was cited by, label it is shown with) cited by the label it is shown
    with: ``answer_record`` places a caption read in its page's text on its figure, else the rationale would cite "p. 1"
    beside a quote line naming "p. 1, Figure 1.1"."""
    for text, cited, shown in placed:
        rationale = rationale.replace(labelled_quote(text, cited), labelled_quote(text, shown))
    return rationale


def specimen_said(case: Evidence) -> str:
    """What an answer resting on a case verified as the same specimen as its image says first: that, and the case's
    diagnosis. Without it an atlas crop's answer would say only "the diagnosis of 1 of the 3 most similar cases" beside
    confidence 0.81, which reads as a contradiction while the search has verified the very slide."""
    named = case.citation.case_parts()[0] if case.citation.case else case.citation.label()
    return f"the same specimen as {named} (verified match), diagnosed {case.payload.diagnosis}"


def grounds(quote: Quote) -> str:
    """A supporting quote as a rationale gives it: a case verified as the same specimen (``settle`` quotes it first
    where the answer rests on it) said to be so (``specimen_said``) before its words."""
    if quote.evidence.kind == "case" and quote.evidence.same_specimen:
        return f"{specimen_said(quote.evidence)}: {cite(quote)}"
    return cite(quote)


def open_specimen(answer: Answer, evidence: list[Evidence]) -> None:
    """An open image answer that a case verified as the same specimen is diagnosed as (``agreeing_case``, as
    ``settle`` finds it for options) says so first (``specimen_said``) and cites that case; said once however often
    it is annotated."""
    case = agreeing_case([answer.text], one_per_case(evidence), 0) if answer.text else None
    if case is None or not case.same_specimen:
        return
    said = specimen_said(case)
    if not answer.rationale.startswith(said):
        answer.rationale = f"{said}; {answer.rationale}" if answer.rationale else said
    answer.cited = list(dict.fromkeys([case.id, *answer.cited]))


def named_option(options: Sequence[str], j: int) -> str:
    """Option ``j`` as a rationale names it, its letter first and without the full stop an option written as a
    sentence ends with: the rationale's own punctuation follows it ("B. They insert into the skin:", not "skin.:", nor
    "capillaries.." at a sentence's end)."""
    return f"{LETTERS[j]}. {options[j].rstrip().rstrip('.') or options[j]}"


def rationale(question: Question, reading: Reading, answer: Answer, slide: Evidence | None = None) -> str:
    """Two or three sentences built from the quotes: why the chosen option, what stands against it (a quote saying
    what is asked, as a settling one does: "rheumatic fever" triggering inflammation is not against fever as the one
    process that is no cardinal sign of it). ``slide``: a case verified as the image's very slide, diagnosed as none of
    the options (``unnamed_specimen``), said first."""
    if answer.choice is None:
        return answer.rationale
    if reading.verdicts:
        return verdict_rationale(question, answer)
    letter, chosen = LETTERS[answer.choice], named_option(question.options, answer.choice)
    own = answer.quotes[answer.choice] if answer.choice < len(answer.quotes) else []
    supports = [q for q in own if q.stance == "supports"]
    against = [q for q in own if q.stance == "contradicts" and q.settles]
    parts = [] if answer.settled or not reading.negated else [unsettled(question, reading, answer)]
    if (best := favoured(answer)) is not None:  # said of a question without its image too
        parts = [*([f"{NO_IMAGE}."] if reading.image_missing else []), overruled(question, answer, best)]
    elif reading.negated:
        tied = tying_quotes(answer)
        named = next(iter(tied.values()), None)
        tie = tied_options(answer.scores, answer.choice)  # a tie singles out no exception
        parts.append(f"The question asks for the exception{'' if tie else ': ' + chosen}.")
        if named is not None:
            parts.append(
                f"The evidence ties {', '.join(LETTERS[j] for j in tied)} to the question, e.g. {cite(named)}."
            )
        if supports and (named is None or supports[0].text != named.text):  # said once is enough
            others = other_options_named(supports[0], answer.choice)
            which = f", a sentence naming {', '.join(others)} and not {letter}" if others else ""
            parts.append(f"On {letter}{which}: {cite(supports[0])}.")
    else:
        if answer.choice == none_option(question.text, question.options) and not rivals_said(answer):
            others = in_words([LETTERS[j] for j in range(len(question.options)) if j != answer.choice], "or")
            parts.append(f"{chosen}: no retrieved sentence says most of what is asked of {others}.")
        elif supports:
            parts.append(f"{chosen}: {grounds(supports[0])}.")
        elif own:
            others = other_options_named(own[0], answer.choice)
            naming = f", which names {', '.join(others)}" if others else ""
            parts.append(f"{chosen}: the closest match; nearest sentence: {cite(own[0])}{naming}.")
        else:
            parts.append(f"{chosen}: no retrieved sentence names it.")
        if not answer.settled:  # "leaning to B. Melanoma: ...", the option named once: each part opens so
            parts[-1] = unsettled(question, reading, answer, parts[-1])
    rival = saying_rival(answer) if best is None else None
    if rival is not None and cite(rival[1]) not in " ".join(parts):  # said once is enough
        said = f"{named_option(question.options, rival[0])}: {cite(rival[1])}"
        parts.append(f"Yet a sentence says what is asked of {said}.")
    if against:
        against_what = LETTERS[answer.choice] if tied_options(answer.scores, answer.choice) else "it"
        parts.append(f"Against {against_what}: {cite(against[0])}.")
    if others := unruled(question, answer.choice):
        said = " or ".join(f'"{named_option(question.options, j)}"' for j in others)
        parts.append(f"The answerer cannot rule out {said}: {UNWEIGHED}.")
    if reading.several:
        parts.append(f"The question asks for {reading.several} answers and is answered as one option.")
    if reading.combined:
        parts.append(COMBINED_SAID)
    return " ".join([*([unnamed_said(slide)] if slide is not None else []), *parts])


def tying_quotes(answer: Answer) -> dict[int, Quote]:
    """A negated question's options besides the choice with their first quote tying them to what is asked (saying it,
    not denying it: ``evidence.quote_stance``), which makes them no exception; not those a settling quote says are the
    exception (``rivals_said``), shown as such. A sentence denying what is asked of an option ties it to nothing:
    "Mallory-Denk bodies are seen in alcoholic hepatitis, not in viral hepatitis" ties alcoholic hepatitis only."""
    rivals = rivals_said(answer)
    tying = {}
    for j, quotes in enumerate(answer.quotes):
        quote = next((q for q in quotes if q.stance == "contradicts" and q.settles), None)
        if j != answer.choice and j not in rivals and quote is not None:
            tying[j] = quote
    return tying


UNWEIGHED = "an option meaning the others is not weighed (no sentence names it, so its score is no verdict on it)"
"""Why a rationale cannot rule out an option meaning the others (``unruled``): "None of the above" scored 0 beside
"Erythrocytes" at 0.93 for "Which cells secrete antibodies?", which read as the evidence ruling it out."""


def unnamed_said(slide: Evidence) -> str:
    """What a rationale says first where the image's very slide is diagnosed as none of the options
    (``unnamed_specimen``): without it, "Ganglioneuroma is the closest match" would be all a serous carcinoma's own
    slide gets."""
    return f"The image is {specimen_said(slide)}, which none of the options names."


COMBINED_SAID = (
    "The options combine the numbered statements, which quotes for an option's words cannot judge: ask each statement "
    "as True or False."
)
"""What a rationale adds where the options combine numbered statements (``Reading.combined``)."""


def saying_rival(answer: Answer) -> tuple[int, Quote] | None:
    """Another option and its quote saying what is asked of it (``rivals_said``), the best scored such option: a reader
    is to see the sentence against the choice, whether the weighing outvoted it ("Which cells resorb bone?" may lean to
    osteoblasts, 0.45 against 0.42, while "The cell responsible for bone resorption ... is the osteoclast" sits under C,
    unshown) or the choice has such a quote too (why it is not settled). None where no other option has one."""
    rivals = {j: quote for j, quote in rivals_said(answer).items() if j < len(answer.scores)}
    if not rivals:
        return None
    best = max(rivals, key=answer.scores.__getitem__)
    return best, rivals[best]


def verdict_rationale(question: Question, answer: Answer) -> str:
    """Verdict options ("True", "False"): that no verdict is read from the book, that the options' tie leans to none
    of them, and what the book says of the statement."""
    found = answer.quotes[answer.choice] if answer.choice < len(answer.quotes) else []
    said = f"Related: {'; '.join(cite(q) for q in found)}." if found else "No retrieved sentence speaks to it."
    tie = tied_options(answer.scores, answer.choice)
    return " ".join([f"{UNSETTLED}: {VERDICTS}.", *([f"{tie_said(question.options, tie)}."] if tie else []), said])


def tied_options(scores: Sequence[float | None], choice: int) -> list[int]:
    """The options the evidence scores alike at the top, the choice among them (to ``LEAD_TOLERANCE``, as
    ``best_option`` ties them), in the options' order; empty where the choice leads alone or trails, or the scores
    are not all given. A choice among tied options is no lean: the offline answerer takes the first by its words."""
    if choice >= len(scores) or any(score is None for score in scores):
        return []
    own = scores[choice]
    if any(score > own + LEAD_TOLERANCE for score in scores):
        return []
    tied = [j for j, score in enumerate(scores) if score >= own - LEAD_TOLERANCE]
    return tied if len(tied) > 1 else []


def tied_named(options: Sequence[str], tied: Sequence[int]) -> str:
    """The options of a tie (``tied_options``) as the rationale and the command line name them: "A. True and B.
    False", "A. x, B. y and C. z"."""
    return in_words([named_option(options, j) for j in tied])


def tie_said(options: Sequence[str], tied: Sequence[int]) -> str:
    """What a rationale says of a tie, in place of leaning to the choice: "A. True and B. False score alike, a tie
    leaning to neither"."""
    none = "neither" if len(tied) == 2 else "none of them"
    return f"{tied_named(options, tied)} score alike, a tie leaning to {none}"


def unsettled(question: Question, reading: Reading, answer: Answer, on_choice: str = "") -> str:
    """How an unsettled rationale opens, before ``on_choice`` (what it says of the choice, "B. Melanoma: ..."; a
    negated question's says it next, so none): "...; leaning to B. Melanoma: ...", or where the evidence ties the
    choice with others, that tie (``tie_said``) and then ``on_choice``: a choice by the options' words is no lean."""
    head = NO_IMAGE if reading.image_missing else UNSETTLED
    tie = tied_options(answer.scores, answer.choice)
    if tie:
        return " ".join([f"{head}: {tie_said(question.options, tie)}.", *([on_choice] if on_choice else [])])
    return f"{head}; leaning to {on_choice or LETTERS[answer.choice] + '.'}"


def favoured(answer: Answer) -> int | None:
    """The option the evidence scores ``FAVOURED_BY`` above the chosen one (a model's choice against it), None where
    the choice is the evidence's best (the offline answerer's always is)."""
    scores = answer.scores
    if answer.choice is None or answer.choice >= len(scores):
        return None
    best = max(range(len(scores)), key=scores.__getitem__)
    return best if scores[best] >= scores[answer.choice] + FAVOURED_BY else None


def overruled(question: Question, answer: Answer, best: int) -> str:
    """What a rationale says of a choice the evidence scores below option ``best``: that, with the two scores and
    ``best``'s own quote, not the choice as "the closest match"."""
    chosen, scores = answer.choice, answer.scores
    said = (
        f"The model chose {named_option(question.options, chosen)}; the evidence favours "
        f"{named_option(question.options, best)} ({scores[best]:.2f} against {scores[chosen]:.2f})"
    )
    quotes = answer.quotes[best] if best < len(answer.quotes) else []
    return f"{said}: {cite(quotes[0])}." if quotes else f"{said}."


def quotes_for(question: Question, reading: Reading, evidence: list[Evidence]) -> list[list[Quote]]:
    """Per option, its quoted sentences from the text evidence (what every answerer shows and cites)."""
    sentences = evidence_sentences([e for e in evidence if e.text.strip() and e.kind != "case"])
    return option_quotes(
        reading, question.options, score_sentences(reading, question.text, question.options, sentences)
    )


def quote_similar_cases(answer: Answer, question: Question, evidence: list[Evidence]) -> None:
    """Image questions: each option also quotes the most similar case diagnosed as it (as related evidence, which
    settles nothing), so an option the text never names still shows what the image resembles: without it,
    "Ganglioneuroma" would have "no sentence in the evidence names it" beside a ganglioneuroma case among the
    nearest."""
    cases = similar_cases(evidence)
    for j, quotes in enumerate(answer.quotes):
        case = next((c for c in cases if diagnosed_option(question.options, c) == j), None)
        if case is not None and case.text.strip() and all(q.evidence.id != case.id for q in quotes):
            quotes.append(Quote(case.text, case, "related", 0.0, settles=False))


def with_own(written: str, own: str) -> str:
    """The rationale written from the quotes, then an answerer's own ("Model: ..."); an answer annotated before
    (``own`` already begins with what is written) keeps its rationale, so reading it twice says the same."""
    if own.startswith(written):
        return own
    return f"{written} Model: {own}" if own and own not in written else written


def annotate(answer: Answer, question: Question, evidence: list[Evidence]) -> None:
    """Fill in what an answerer left out: per-option quotes, the chosen option's quote, settled, a rationale
    from the quotes (an answerer's own rationale is kept after it). An open image answer that a verified same
    specimen is diagnosed as says so first (``open_specimen``). An open answer citing no evidence is never settled:
    nothing retrieved was shown to say it (else an LLM's answer from its own memory would come back settled)."""
    if answer.choice is None or not question.options:
        if question.image is not None:
            open_specimen(answer, evidence)
        answer.settled = answer.settled and bool(answer.cited)
        return
    reading = read_with_evidence(question, evidence)
    if not any(answer.quotes):
        answer.quotes = quotes_for(question, reading, evidence)
    settle(answer, question, reading, evidence)
    slide = unnamed_specimen(question.options, one_per_case(evidence)) if question.image is not None else None
    if question.image is not None:
        quote_similar_cases(answer, question, evidence)
    if not answer.settled and not reading.verdicts and evidence_naming(answer) in ("another", "none"):
        answer.confidence = min(answer.confidence, UNNAMED_CONFIDENCE)
    written = rationale(question, reading, answer, slide)
    shown = [q.evidence.id for quotes in answer.quotes for q in quotes if cite(q) in written]
    answer.cited = list(dict.fromkeys([*answer.cited, *shown]))  # every sentence the rationale quotes is cited
    answer.rationale = with_own(written, answer.rationale)
