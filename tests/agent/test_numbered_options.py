"""A clinician-educator's pasted questions: option lines numbered "(1)", "1." or "1)" are the question's options A, B,
C... as lettered ones are (they were dropped and the question answered as an open one), numbering mixed with
lettering is refused in one line, and a question line that merely starts with a number stays the question's. Also:
a command-line text refused for its length or encoding is named as the caller names it. Hashing encoder and a
one-page PDF: no model to load."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pathatlas.agent.questions import with_pasted_options
from pathatlas.errors import BadInputError
from pathatlas.settings import load_settings
from pathatlas.ui.cli import parse_options
from pathatlas.ui.cli_common import user_text
from tests.helpers import indexed_lecture, run_cli

QUESTION = "Which of the following is NOT a type of muscle tissue?"
OPTIONS = ["Skeletal", "Cardiac", "Smooth", "Adipose"]
LECTURE = (
    "Skeletal muscle moves the bones. Cardiac muscle pumps blood through the heart. Smooth muscle lines the walls "
    "of hollow organs. Adipose tissue stores fat and is a connective tissue, not a muscle tissue."
)


def numbered(labels: list[str], options: list[str] = OPTIONS, question: str = QUESTION) -> str:
    return "\n".join([question, *(f"{label} {option}" for label, option in zip(labels, options, strict=False))])


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page of a muscle lecture."""
    return indexed_lecture(tmp_path_factory.mktemp("muscle"), "muscle.pdf", LECTURE)


# -- 1. numbered option lines are the options --------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["({n})", "{n}.", "{n})"])
def test_numbered_option_lines_are_the_options_in_each_form(form):
    labels = [form.format(n=n) for n in range(1, 5)]
    assert with_pasted_options(numbered(labels), []) == (QUESTION, OPTIONS, True)


def test_a_pasted_numbered_question_is_asked_with_its_options_said_on_stderr(indexed):
    """It was answered as an open question, ``options: []``, without a word."""
    question = numbered(["(1)", "(2)", "(3)", "(4)"])
    result = run_cli("ask", question, "--json", "--index", indexed / "idx", home=indexed / "home")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [option["text"] for option in answer["options"]] == OPTIONS
    assert answer["question"] == QUESTION and answer["options_from_question"] is True
    assert result.stderr.strip() == "options A-D read from the question's lines (numbered 1-4)", result.stderr


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        (["1.", "2.", "C.", "D."], "their labels are of mixed forms (1., A.)"),
        (["A.", "B.", "3.", "4."], "their labels are of mixed forms (A., 1.)"),
        (["A.", "B.", "1.", "2."], "their labels are of mixed forms (A., 1.)"),
        (["(1)", "2)", "(3)", "(4)"], "their labels are of mixed forms ((1), 1))"),
    ],
)
def test_numbering_mixed_with_lettering_is_refused_in_one_line(labels, reason):
    with pytest.raises(BadInputError, match=re.escape(reason)) as refused:
        with_pasted_options(numbered(labels), [])
    assert "\n" not in str(refused.value)


def test_numbered_lines_cannot_be_read_are_refused_saying_why():
    answered = numbered(["1.", "2."]) + "\nAnswer: 2"
    with pytest.raises(BadInputError, match=re.escape("the line 'Answer: 2' after them is no option")):
        with_pasted_options(answered, [])
    eleven = "\n".join([QUESTION, *(f"{n}. option {n}" for n in range(1, 12))])
    with pytest.raises(BadInputError, match=re.escape("11 of them; at most 10")):
        with_pasted_options(eleven, [])
    with pytest.raises(BadInputError, match=re.escape("they are numbered 1, 2, 1, 2, not 1, 2, 3... in order")):
        with_pasted_options(numbered(["1.", "2.", "1.", "2."]), [])


@pytest.mark.parametrize(
    "question",
    [
        "3 bones form the pelvic girdle.\nWhich are they?",
        "1.5 L of blood is lost.\n2. Which fluid is given first?",  # one line numbered 2: no list
        "3. Which bone is the longest?",
        "A patient presents with:\n1. fever\n2. a rash on the trunk\nWhat is the most likely diagnosis?",
    ],
)
def test_a_question_line_that_starts_with_a_number_stays_the_question_s(question):
    assert with_pasted_options(question, []) == (question, [], False)


def test_numbered_statements_before_lettered_options_are_the_question_s():
    """A question asking which numbered statements hold, with lettered options naming them, as lettered options were
    read before numbers were labels."""
    stem = "Which statements about muscle are correct?\n1. Skeletal muscle is striated.\n2. Smooth muscle is voluntary."
    question = stem + "\nA. 1 only\nB. 2 only\nC. 1 and 2"
    assert with_pasted_options(question, []) == (stem, ["1 only", "2 only", "1 and 2"], True)
    asked = "1. Which bone is the longest?\n1) femur\n2) tibia"
    assert with_pasted_options(asked, []) == ("1. Which bone is the longest?", ["femur", "tibia"], True)


def test_options_all_numbered_in_order_lose_their_numbers():
    assert parse_options(["(1) Skeletal", "(2) Cardiac", "(3) Smooth"]) == OPTIONS[:3]
    assert parse_options(["1) 5 mg", "2) 10 mg"]) == ["5 mg", "10 mg"]
    assert parse_options(["1.5 L", "2.5 L"]) == ["1.5 L", "2.5 L"], "a decimal is no label"


# -- 3. a refused text is named as the caller names it -----------------------------------------------------------------


def test_a_refused_text_is_named_as_the_caller_names_it():
    settings = load_settings(max_query_chars=10)
    over = r"^option A has 11 characters, over the limit of 10 \(PATHATLAS_MAX_QUERY_CHARS\)$"
    with pytest.raises(BadInputError, match=over):
        user_text("x" * 11, settings, "option A")
    with pytest.raises(BadInputError, match=r"^the question is not valid UTF-8"):
        user_text("bone \udcff", settings, "the question")
    with pytest.raises(BadInputError, match=r"^the query has 11 characters"):
        user_text("x" * 11, settings)


def test_an_option_given_with_its_own_number_drops_it_and_ask_names_what_is_too_long(indexed):
    """'(3) Smooth' as the third --option kept its label, where '(C) Smooth' lost it; a long option was 'the query'."""
    from pathatlas.ui.cli import parse_options

    assert parse_options(["Skeletal", "Cardiac", "(3) Smooth"]) == ["Skeletal", "Cardiac", "Smooth"]
    result = run_cli(
        "ask", "Which tissue?", "--option", "Skeletal", "--option", "x" * 5000, "--index", indexed / "idx",
        home=indexed / "home",
    )  # fmt: skip
    assert result.exit_code != 0 and "option B has 5,000 characters" in result.output, result.output
