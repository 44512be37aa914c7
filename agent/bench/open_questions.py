"""Multiple-choice questions asked open (``bench qa --open-from-mcq``): only the stems a student could answer without
the options, each scored against its right option's text. ``--open`` asks every stem so, "Which of the following is
true?" included, which no answer can meet."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pathatlas.agent.bench.items import Item
from pathatlas.agent.plan import verdict_options
from pathatlas.agent.questions import letter_index
from pathatlas.errors import BadInputError

STEM_NEEDS_OPTIONS = re.compile(
    r"following|of the above|\bthese\b|\bboth\b|statement|best describes"  # it points at the options
    r"|\bnot\b|\bexcept\b|\bleast\b|\btrue\b|\bfalse\b|\bcorrect\b|\bincorrect\b",  # negated, or judges them
    re.I,
)
"""A stem that asks about its options ("Which of the following...", "...EXCEPT", "Which statement is false?"): without
them it asks nothing, or the opposite of what its right option answers."""

OPTION_NAMES_OTHERS = re.compile(r"of the above|\bboth\b|\bneither\b|^[IV]+(\b|,)", re.I)
"""An option that means other options ("All of the above", "Both A and B", "I and III"): the right answer may be one."""

SUBJECT_ONLY = re.compile(r"(?P<subject>[^_]*)_{3,}[. ]*")
"""A stem that is a subject and a closing blank ("The ankle joint ________."): it asks for any statement about it."""

MOST_SUBJECT_WORDS = 3
"""Above this, the words before a closing blank ask a question of their own ("The smallest unit of life is a ___.")."""

MOST_ANSWER_WORDS = 8
"""Above this, the right option is a statement to recognise, not an answer a student types."""


def open_from_mcq(item: Item) -> Item | None:
    """The multiple-choice item asked as its stem alone, its right option's text the answer (as ``load_items`` asks it
    ``--open``); None where the stem needs its options (``needs_options``). Other kinds are returned as they are."""
    if item.kind != "mcq":
        return item
    options = item.question.options
    answer = options[letter_index(item.gold_answer, len(options))]
    if needs_options(item.question.text, options, answer):
        return None
    question = dataclasses.replace(item.question, options=[])
    return dataclasses.replace(item, question=question, kind="open", gold_answer=answer)


def needs_options(stem: str, options: list[str], answer: str) -> bool:
    """Whether a multiple-choice question cannot be asked without its options: its stem asks about them or only names
    a subject, its options are verdicts ("True"/"False", "Yes"/"No": ``plan.verdict_options``; no open answer says
    "True"), an option means others, or the right answer is a statement."""
    subject = SUBJECT_ONLY.fullmatch(stem)
    return bool(
        verdict_options(options)
        or STEM_NEEDS_OPTIONS.search(stem)
        or any(OPTION_NAMES_OTHERS.search(option) for option in options)
        or len(answer.split()) > MOST_ANSWER_WORDS
        or (subject and len(subject["subject"].split()) <= MOST_SUBJECT_WORDS)
    )


def open_items(items: list[Item], path: Path) -> tuple[list[Item], str]:
    """The items with each multiple-choice one asked open or left out (``open_from_mcq``), and a note of how many
    were kept. Refused in one line where the file has no multiple-choice question, or none can be asked open: the run
    would ask nothing it was meant to."""
    mcq = sum(item.kind == "mcq" for item in items)
    kept = [opened for item in items if (opened := open_from_mcq(item)) is not None]
    asked = mcq - (len(items) - len(kept))
    if not mcq:
        raise BadInputError(f"{path} has no multiple-choice questions for --open-from-mcq to ask open")
    if not asked:
        raise BadInputError(f"{path}: none of its {mcq} multiple-choice questions can be asked without their options")
    return kept, f"--open-from-mcq: {asked} of {mcq} multiple-choice questions asked open; the rest need their options"
