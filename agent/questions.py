"""Questions and answers as the agent, the answerers and the QA benchmark see them."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import LETTERS
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.retrieval.search import check_filters, check_image
from pathatlas.retrieval.stores.base import Filters
from pathatlas.retrieval.terms import has_words
from pathatlas.retrieval.text import CJK_RUN, composed, without_invisible


def letter_index(letter: str, n_options: int) -> int:
    """0-based index of an answer letter, refusing letters outside the options."""
    value = letter.strip().upper()
    if len(value) != 1 or value not in LETTERS[:n_options]:
        raise BadInputError(f"answer {letter!r} is not one of {', '.join(LETTERS[:n_options])}")
    return LETTERS.index(value)


def answer_letter(answer: Any, options: list[str]) -> str:
    """The right option's letter from a dataset row's ``answer``: a letter in either case, or one option's own
    text (case and spacing ignored), as datasets that store the answer's text give it ("4" among the options "2" to
    "5" is that option). A number is refused: datasets count options from 0 or from 1, and a guess would score every
    answer one option off."""
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        raise BadInputError(f"answer {answer!r} is a number: give the right option's letter or its text")
    text = "" if answer is None else str(answer).strip()
    if not text:
        raise BadInputError("no answer: give the right option's letter")
    key = option_key(text)
    named = [j for j, option in enumerate(options) if isinstance(option, str) and option_key(option) == key]
    letter = len(text) == 1 and text.upper() in LETTERS
    if letter and (text.upper() in LETTERS[: len(options)] or len(named) != 1):
        return LETTERS[letter_index(text, len(options))]  # refuses a letter past the options: "not one of A, B"
    if len(named) != 1:
        raise BadInputError(f"answer {text!r} is neither a letter ({', '.join(LETTERS[: len(options)])}) nor an option")
    return LETTERS[named[0]]


def option_key(option: str) -> str:
    """An option as options are told apart: case and spacing do not make two differ."""
    return " ".join(option.casefold().split())


A_WORD = re.compile(rf"\w\w|{CJK_RUN.pattern}")
"""What a text must hold to have a word BM25 looks for: two letters or digits in a row, or one Chinese, Japanese or
Korean character (each is a word: ``terms.cjk_terms``). A question typed beside an image needs one: "What is it?"
asks about the image, "x" asks nothing."""
NO_WORD = "has no word to look for: type two letters or digits in a row, or a CJK character"
"""How every door refuses a text without ``A_WORD`` after naming it ("the question has no word ...")."""

ONE_OPTION = "one option is no choice: give two or more, or none for an open question"
"""Why a question with a single option is refused everywhere (the answerer would call that option certain)."""


@dataclass
class Question:
    text: str
    options: list[str] = field(default_factory=list)
    image: Image.Image | None = None
    id: str = ""
    filters: Filters = field(default_factory=dict)
    """Where to look for evidence: the search filters (``kind``, ``source``, ...) every search of the question
    takes, e.g. one textbook."""

    def __post_init__(self) -> None:
        """Read the question and its options as typed plainly (``typed_plainly``), here where every door (Python API,
        REST, MCP, CLI, bench) makes its question: "Ｗｈｉｃｈ ｃｅｌｌｓ ｒｅｓｏｒｂ ｂｏｎｅ？" or a word with a
        zero-width space in it named no option and answered otherwise than the question typed plainly. The answer
        echoes the question and options so read."""
        self.text = typed_plainly(self.text)
        self.options = options_typed_plainly(self.options)

    def validate(self) -> None:
        """Refuse what no door may ask, in one line. The rule of an empty question, alike at every door: beside an
        image, a blank one asks what the image shows, as "What is this?" does, and the options given with it are what
        it may show (an image question printed with its options and no stem); a question typed beside it needs a word
        (``A_WORD``: "What is it?" has one, "x" and "?" are refused). Without an image a blank question asks nothing
        and is refused (with options: "options without a question")."""
        if not isinstance(self.text, str):
            raise BadInputError(f"the question must be text, not {type(self.text).__name__}")
        if not isinstance(self.options, list | tuple):  # a string would be taken as one option a letter
            raise BadInputError(f"options must be a list of texts, not {self.options!r}")
        if wrong := [option for option in self.options if not isinstance(option, str)]:
            raise BadInputError(f"an option must be text, not {wrong[0]!r}")
        check_filters(self.filters)
        if not self.text.strip() and self.options and self.image is None:
            where = f"question {self.id}: " if self.id else ""
            raise BadInputError(f"{where}the question is empty: options without a question")
        if not self.text.strip() and self.image is None:
            raise BadInputError("empty question: give the question text, an image, or both")
        if self.image is None and not has_words(self.text):  # as a search refuses it: nothing to look for
            raise BadInputError(
                f"the question {self.text[:60]!r} has only common words (stop words, single letters or punctuation): "
                "say what it asks, e.g. 'Which tissue stores fat?'"
            )
        if self.image is not None and self.text.strip() and not A_WORD.search(self.text):
            raise BadInputError(f"the question {NO_WORD}")
        if self.image is not None:
            check_image(self.image)
        if len(self.options) == 1:
            raise BadInputError(ONE_OPTION)
        if len(self.options) > len(LETTERS):
            raise BadInputError(f"at most {len(LETTERS)} options, got {len(self.options)}")
        if any(not option.strip() for option in self.options):
            raise BadInputError("an option is empty")
        if repeated := repeated_option(self.options):
            raise BadInputError(repeated)

    @property
    def is_multiple_choice(self) -> bool:
        return bool(self.options)


TYPED_FORMS = (
    {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
    | {0x3000: 0x20}
    | {0x249C + k: f"({letter})" for k, letter in enumerate("abcdefghijklmnopqrstuvwxyz")}
)
"""Full-width ASCII forms (and the ideographic space) to the characters they stand for, "Ａ．" as "A.", and the
parenthesised letters a quiz may label its options with, "⒜" as "(a)"."""


def typed_plainly(text: Any) -> Any:
    """``text`` composed (NFC: accents typed decomposed on a Mac), without invisible format characters (a zero-width
    space pasted from a web page) and with full-width ASCII forms as ASCII (``TYPED_FORMS``), otherwise as typed:
    NFKC (search's ``normalise``) would also echo "10⁹/L" as "109/L", "Ca²⁺" as "Ca2+" and "½" as "1⁄2". Anything
    but a string as it is, for ``Question.validate`` to refuse."""
    return composed(without_invisible(text)).translate(TYPED_FORMS) if isinstance(text, str) else text


def options_typed_plainly(options: Any) -> Any:
    """Each option ``typed_plainly``, in a list; options that are no list or tuple as they are, for
    ``Question.validate`` to refuse."""
    return [typed_plainly(option) for option in options] if isinstance(options, list | tuple) else options


def repeated_option(options: list[str]) -> str | None:
    """Why two options are one ("options A and C are the same ('Femur')"), or None: evidence for one would be
    evidence for the other, a tie by construction. Case and spacing do not make options differ."""
    seen: dict[str, int] = {}
    for j, option in enumerate(options):
        if (first := seen.setdefault(option_key(option), j)) != j:
            return f"options {LETTERS[first]} and {LETTERS[j]} are the same ({option.strip()!r})"
    return None


LABEL = (
    r"(\()?([A-Za-z]|[1-9][0-9]?)"
    r"(?(1)\)\s+|(?:[.)]\s+|(?P<loose>(?<=[A-Za-z]):\s*|:\s+|(?<=[A-Za-z])\s*[-–]\s+)))(?=\S)"
)
"""A letter or number and what marks it a label: "A.", "A)", "(A)", "1." and the ``loose`` forms "A:", "A:scar",
"1: ", "A -" and "A –". A number takes a space after a colon and no dash ("3:1" and "1 - 2 days" are options)."""
ANY_LABEL = re.compile(f"^{LABEL}")
"""A letter or number that may be a pasted label, "A. adipose", "(1) Skeletal", "A: scar", "A - they", and "C.
difficile" too: read as one only where every option bears one, in order (``labelled_in_order``), as quizzes write
them. "1.5 L" bears none."""


def label_place(label: re.Match) -> int:
    """The option a label names, 0-based: "A." and "(1)" the first."""
    said = label[2]
    return int(said) - 1 if said.isdigit() else ord(said.upper()) - ord("A")


def labelled_in_order(texts: list[str]) -> bool:
    """Whether two or more ``texts`` each start with a label of their own place, A, B, C... or 1, 2, 3...: then each
    is a label, whatever follows it ("C. stratified squamous" as option C), where alone it could be a genus's
    initial."""
    labels = [ANY_LABEL.match(text) for text in texts]
    return 1 < len(texts) <= len(LETTERS) and all(label and label_place(label) == n for n, label in enumerate(labels))


def unlabelled(options: Sequence[str]) -> list[str]:
    """Options pasted with their labels in order ("A. cell", "B. organ") without them, as the CLI's ``--option`` reads
    them (``questions.labelled_in_order``); others as given. Neither an answer nor a fingerprint may depend on the
    labels: "A. cell" is option A's "cell". Options that are no list or tuple are given back as they are, for
    ``Question.validate`` to refuse: a string "AB" would be asked as the options "A" and "B"."""
    if not isinstance(options, list | tuple):
        return options
    texts = [option.strip() if isinstance(option, str) else option for option in options]
    if not all(isinstance(text, str) for text in texts) or not labelled_in_order(texts):
        return list(options)
    return [ANY_LABEL.sub("", text, count=1) for text in texts]


def label_shape(text: str) -> str:
    """The form of ``text``'s label, its letter or number aside ("A." and "B." alike, "A)", "a." or "1." not): lines
    pasted with labels of mixed forms are not read as one list of options."""
    label = ANY_LABEL.match(text)
    return re.sub("[0-9]+", "1", re.sub("[A-Z]", "A", re.sub("[a-z]", "a", label[0].strip()))) if label else ""


def line_labels(lines: list[str]) -> list[re.Match | None]:
    """Each line's label (``ANY_LABEL``). A number or a ``loose`` label is one only among two or more lines whose
    labels count up from the first place (1, 2, 3..., or A, B, 3...): "3. Which bone ...?" opening a question is its
    text, and so are "Q: Which cells ...?" and a vignette's "T: 38.5 °C". Statements numbered I, II, III
    (``roman_items``) are the question's too: "I. It is avascular." is no option I."""
    items = roman_items(lines)
    found = [None if k in items else ANY_LABEL.match(line) for k, line in enumerate(lines)]
    counted = {k for run in place_runs(found) if len(run) > 1 and label_place(found[run[0]]) == 0 for k in run}
    return [label if label and (k in counted or firm(label)) else None for k, label in enumerate(found)]


ROMAN_NUMERALS = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
ROMAN_ITEM = re.compile(r"^\(?(x|ix|iv|v?i{1,3}|v)[.)]\s+(?=\S)", re.IGNORECASE)
"""A statement numbered in Roman numerals, "I. ...", "(ii) ...", "III) ...", as numbered-statement questions write them
("I. It is avascular.", "II. ...", then "A. I only", "B. I and II")."""


def roman_items(lines: list[str]) -> set[int]:
    """The places of lines that number statements I, II, III... in order, two or more from I: "I." alone may be the
    label of option I after "H."."""
    numerals = [match[1].lower() if (match := ROMAN_ITEM.match(line)) else "" for line in lines]
    items: set[int] = set()
    run: list[int] = []
    for k, numeral in enumerate(numerals):
        counts_on = run and len(run) < len(ROMAN_NUMERALS) and numeral == ROMAN_NUMERALS[len(run)]
        run = [*run, k] if counts_on else [k] if numeral == "i" else []
        items.update(run if len(run) > 1 else [])
    return items


def firm(label: re.Match) -> bool:
    """Whether a label is one even on a line of its own: a letter marked by a dot or brackets ("B.", "C)", "(D)")."""
    return label[2].isalpha() and not label["loose"]


def place_runs(labels: list[re.Match | None]) -> list[list[int]]:
    """The places (line numbers) of each run of consecutive labelled lines whose labels count up by one."""
    runs: list[list[int]] = []
    for k, label in enumerate(labels):
        if label and runs and runs[-1][-1] == k - 1 and label_place(label) == label_place(labels[k - 1]) + 1:
            runs[-1].append(k)
        elif label:
            runs.append([k])
    return runs


def stem_lists(lines: list[str], labels: list[re.Match | None]) -> set[int]:
    """The lines of numbered lists that belong to the question: those the question goes on to ask about (a line ending
    in "?" after them: "1. fever", "2. rash", "What is the diagnosis?") or whose lettered options follow ("1. ...",
    "2. ...", "A. 1 and 2", "B. 2 only")."""
    own: set[int] = set()
    for run in place_runs(labels):
        after = run[-1] + 1
        then = labels[after] if after < len(labels) else None
        lettered_next = bool(then) and then[2].isalpha() and label_place(then) == 0
        asked_after = any(line.endswith("?") for line in lines[after:])
        if labels[run[0]][2].isdigit() and (lettered_next or asked_after):
            own.update(run)
    return own


INLINE_LABEL = re.compile(rf"(?<!\S){LABEL}")
"""A label inside a line, after a space: "A)" in "...bone? A) Osteoblasts B) Osteoclasts"."""


NEW_SENTENCE = re.compile(r"\?|[.!]\s+[A-Z]")
"""What an option written along a line never holds: a question, or a new sentence ("...2) rash. What is it?" lists
findings inside a question; "A) C. difficile" is one option)."""


def unfolded(question: str) -> str:
    """``question`` with options written along its last line ("...bone? A) Osteoblasts B) Osteoclasts") put on lines of
    their own, as quizzes copied from a web page or a PDF often come; unchanged unless labels of one form run from A
    (or 1) in order to the end of the text, the first where options may start (``options_may_start``), and no
    option holds a question or a new sentence (``NEW_SENTENCE``: "Two patients: 1) a child ... and 2) an adult ....
    What vitamin is deficient?" asks about its list). Labels of another form inside an option ("A) C. difficile
    colitis") stay its text."""
    labels = list(INLINE_LABEL.finditer(question))
    for k, first in enumerate(labels):
        before, after = question[: first.start()], question[first.start() :]
        if label_place(first) or "\n" in after or not options_may_start(before):
            continue
        shape = label_shape(after)
        run = [first]
        for label in labels[k + 1 :]:
            if label_place(label) == len(run) and label_shape(question[label.start() :]) == shape:
                run.append(label)
        ends = [label.start() for label in run[1:]] + [len(question)]
        options = [question[a.start() : end].strip() for a, end in zip(run, ends, strict=True)]
        if len(run) > 1 and not any(NEW_SENTENCE.search(ANY_LABEL.sub("", option, count=1)) for option in options):
            return "\n".join([before.rstrip(), *options])
    return question


def options_may_start(before: str) -> bool:
    """Whether options written along a line may start after ``before``: the question's "?" or ":", a line's start, or
    a sentence's end once the text has asked ("...true? I. It is avascular. II. ... III. ...", then "A. I only B. I and
    II"); not a sentence's end before anything is asked ("The smear grew C. difficile. A. fumigatus was absent.")."""
    asked = re.search(r"[?:]", before) and re.search(r"\.\s*$", before)
    return bool(before.strip()) and bool(re.search(r"[?:\n]\s*$", before) or asked)


def labelled_lines(question: str) -> tuple[list[str], list[re.Match | None], int | None]:
    """The question's non-blank lines (options along its last line ``unfolded``), stripped, their labels
    (``line_labels``) and the place of the first labelled line that may open its options (not one of
    ``stem_lists``), if any."""
    lines = [line.strip() for line in unfolded(question).splitlines() if line.strip()]
    labels = line_labels(lines)
    own = stem_lists(lines, labels)
    return lines, labels, next((k for k, label in enumerate(labels) if label and k not in own), None)


def option_lines(question: str) -> tuple[str, list[str]] | None:
    """``question`` split into its text and its options where it ends in two or more lines labelled A, B, C... or
    1, 2, 3... in one form; its text is blank where those lines are all it holds. None otherwise (other labels, mixed
    forms, a line that is not an option after them)."""
    lines, _, first = labelled_lines(question)
    if first is None:
        return None
    text, options = "\n".join(lines[:first]), lines[first:]
    if not labelled_in_order(options) or len({label_shape(o) for o in options}) > 1:
        return None
    return text, [ANY_LABEL.sub("", option, count=1) for option in options]


def unread_option_lines(question: str) -> str | None:
    """Why lines labelled as options, A then B ("A. transitional", "B. stratified") or 1 then 2, were not read as the
    question's options (``option_lines``); None where it has no such lines or they were read. One "A." line is a
    sentence ("A. fumigatus was cultured"), not options."""
    lines, labels, first = labelled_lines(question)
    if first is None or option_lines(question):
        return None
    labelled = list(itertools.takewhile(bool, labels[first:]))
    if len(labelled) < 2 or label_place(labelled[1]) != 1:
        return None
    if after := lines[first + len(labelled) :]:
        return f"the line {after[0][:40]!r} after them is no option"
    if len(labelled) > len(LETTERS):
        return f"{len(labelled)} of them; at most {len(LETTERS)}"
    if len(shapes := dict.fromkeys(label_shape(line) for line in lines[first:])) > 1:
        return f"their labels are of mixed forms ({', '.join(shapes)})"
    said = ", ".join(label[2] for label in labelled)
    if labelled[0][2].isdigit():
        return f"they are numbered {said}, not 1, 2, 3... in order"
    return f"they are lettered {said}, not A, B, C... in order"


def with_pasted_options(question: str, options: list[str]) -> tuple[str, list[str], bool]:
    """The question's text and options as every door asks them, and whether the options were read from the
    question's own lines: a question pasted whole with its option lines and no options given is split
    (``option_lines``), so it is not answered as an open question with the options inside its text; one of option
    lines alone is a blank question with those options, which each door asks or refuses as it does a blank one typed
    with them (beside an image it asks what the image shows; without, it is refused as empty). Options given
    always win, read without labels pasted with them in order (``unlabelled``: "A. Koilocytes" is option A's
    "Koilocytes"; kept, the web form and the library would ask "B. B. Koilocytes"). Option lines that cannot be read are
    refused with the reason (``unread_option_lines``): answered as an open question, the question's options would be
    silently dropped. Labels are read in the text ``typed_plainly``: "Ａ．" typed full-width is "A."."""
    question, options = typed_plainly(question), options_typed_plainly(options)
    if options:
        return question, unlabelled(options), False
    if pasted := option_lines(question):
        return (*pasted, True)
    if reason := unread_option_lines(question):
        raise BadInputError(
            f"the question's option lines were not read: {reason}; give the options one per line after the "
            "question, lettered A, B, C... or numbered 1, 2, 3... in order, or as options"
        )
    return question, options, False


@dataclass
class Evidence:
    """One retrieved item the answer may cite; ``ranks`` maps each sub-query that found it to its rank there."""

    id: str
    kind: str
    text: str
    citation: Citation
    rank: int
    """Its place (1-based) in the fusion of every sub-query's ranking."""
    ranks: dict[str, int] = field(default_factory=dict)
    payload: Payload = field(default_factory=Payload)
    thumbnail: str | None = None
    same_specimen: bool = False
    """A case image verified as the same specimen as the question's image (keypoints under one geometric transform,
    ``retrieval/local.py``): another photograph of the very slide, whose diagnosis is the image's."""


@dataclass(frozen=True)
class Quote:
    """One evidence sentence, verbatim, as evidence for one option."""

    text: str
    evidence: Evidence
    stance: str
    """supports or contradicts (the option being the answer to the question as asked), or related: the nearest
    sentence to a chosen option no sentence names, which neither supports nor contradicts it."""
    score: float = 0.0
    settles: bool = True
    """False for the nearest sentence quoted for a choice that no sentence names: shown, but it settles nothing."""
    covers: float = 0.0
    """How much of what is asked the sentence says (IDF-weighted share of the question's own words): what
    ``shown_stances`` compares across the options' quotes. ``settles`` thresholds the share said of this option
    (``SentenceScores.said``: in a sentence naming several options, the words standing nearest it)."""
    about: tuple[int, ...] | None = None
    """For a sentence quoted for a chosen option no sentence names (``writing.fallback_quote``), the options (0-based)
    it names (empty: none): "The four cardinal signs of inflammation: redness, swelling, pain, and local heat" is shown
    as supporting "fever" as the exception, and is about the other options. None: the sentence was found naming its
    own option."""


@dataclass
class Answer:
    choice: int | None
    """0-based option index for multiple choice; None for open questions or no answer."""
    text: str
    confidence: float
    rationale: str = ""
    cited: list[str] = field(default_factory=list)
    """Ids of evidence the answer rests on (always a subset of what was retrieved)."""
    scores: list[float] = field(default_factory=list)
    """One score per option (the answerer's own scale; higher is the more likely answer)."""
    quotes: list[list[Quote]] = field(default_factory=list)
    """Per option, the sentences quoted for or against it."""
    settled: bool = True
    """False when the evidence does not settle the question (low confidence or nothing quoted for the choice)."""

    @property
    def letter(self) -> str | None:
        return LETTERS[self.choice] if self.choice is not None else None
