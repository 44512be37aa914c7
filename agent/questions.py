"""Questions and answers as the agent, the answerers and the QA benchmark see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import LETTERS
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.retrieval.search import check_filters, check_image
from pathatlas.retrieval.stores.base import Filters


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

    def validate(self) -> None:
        if not isinstance(self.text, str):
            raise BadInputError(f"the question must be text, not {type(self.text).__name__}")
        if not isinstance(self.options, list | tuple):  # a string would be taken as one option a letter
            raise BadInputError(f"options must be a list of texts, not {self.options!r}")
        if wrong := [option for option in self.options if not isinstance(option, str)]:
            raise BadInputError(f"an option must be text, not {wrong[0]!r}")
        check_filters(self.filters)
        if not self.text.strip() and self.options:
            raise BadInputError(f"question {self.id or ''}: options without a question".replace("  ", " "))
        if not self.text.strip() and self.image is None:
            raise BadInputError("empty question: give the question text, an image, or both")
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


def repeated_option(options: list[str]) -> str | None:
    """Why two options are one ("options A and C are the same ('Femur')"), or None: evidence for one would be
    evidence for the other, a tie by construction. Case and spacing do not make options differ."""
    seen: dict[str, int] = {}
    for j, option in enumerate(options):
        if (first := seen.setdefault(option_key(option), j)) != j:
            return f"options {LETTERS[first]} and {LETTERS[j]} are the same ({option.strip()!r})"
    return None


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
