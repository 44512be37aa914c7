"""A student asking in the forms exams use: a numbered-statement question pasted whole ("I. ...", "II. ...", "III. ...",
then "A. I only", "B. I and II") was answered as an open question, its options silently dropped, as were statements
written along the line before lettered options; and a matching question asked for the pair "incorrectly matched",
"wrongly paired" or "mismatched" (or the statement "inaccurate") was read as asking for the right one. Hashing encoder
and a one-page PDF: no model to load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathatlas.agent.plan import read_question, stem
from pathatlas.agent.questions import Question, with_pasted_options
from pathatlas.errors import BadInputError
from tests.helpers import indexed_lecture, run_cli

ASKED = "Which of the following statements about cartilage are true?"
STATEMENTS = ["It is avascular.", "It contains many blood vessels.", "Chondrocytes occupy lacunae."]
COMBINATIONS = ["I only", "I and II", "I and III", "I, II and III"]
LECTURE = (
    "Cartilaginous tissue is avascular, thus all nutrients need to diffuse through the matrix. Embedded within the "
    "cartilage matrix are chondrocytes, and the space they occupy are called lacunae."
)


def numbered(numerals: list[str], labels: list[str], options: list[str], sep: str = "\n") -> str:
    """The question, its statements numbered by ``numerals`` and its options by ``labels``, a line each (or along
    one line)."""
    statements = [f"{n} {text}" for n, text in zip(numerals, STATEMENTS, strict=False)]
    lettered = [f"{label} {option}" for label, option in zip(labels, options, strict=True)]
    return sep.join([ASKED, *statements, *lettered])


# -- 1. numbered statements before lettered options -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerals", "labels", "options"),
    [
        (["I.", "II.", "III."], ["A.", "B.", "C.", "D."], COMBINATIONS),
        (["i.", "ii.", "iii."], ["a)", "b)", "c)", "d)"], [o.lower() for o in COMBINATIONS]),
        (["(i)", "(ii)", "(iii)"], ["(A)", "(B)", "(C)", "(D)"], COMBINATIONS),
    ],
)
def test_roman_numbered_statements_stay_the_question_s_and_the_lettered_lines_are_its_options(
    numerals, labels, options
):
    text, read, from_question = with_pasted_options(numbered(numerals, labels, options), [])
    assert from_question
    assert read == options
    assert text.splitlines() == [ASKED, *(f"{n} {s}" for n, s in zip(numerals, STATEMENTS, strict=True))]


@pytest.mark.parametrize(
    ("numerals", "options"),
    [(["I.", "II.", "III."], COMBINATIONS), (["1.", "2.", "3."], ["1 only", "1 and 2", "1 and 3", "1, 2 and 3"])],
)
def test_statements_written_along_one_line_before_lettered_options_leave_those_options_read(numerals, options):
    text, read, from_question = with_pasted_options(numbered(numerals, ["A.", "B.", "C.", "D."], options, " "), [])
    assert from_question
    assert read == options
    assert text == " ".join([ASKED, *(f"{n} {s}" for n, s in zip(numerals, STATEMENTS, strict=True))])


def test_a_ninth_option_lettered_i_is_still_an_option():
    options = [f"bone {n}" for n in range(9)]
    lines = [f"{letter}. {option}" for letter, option in zip("ABCDEFGHI", options, strict=True)]
    pasted = "\n".join(["Which bone?", *lines])
    assert with_pasted_options(pasted, []) == ("Which bone?", options, True)


def test_a_sentence_before_anything_is_asked_opens_no_options():
    sentence = "The smear grew C. difficile. A. fumigatus was absent. B. cereus grew."
    assert with_pasted_options(sentence, []) == (sentence, [], False)


def test_option_lines_after_numbered_statements_are_still_refused_when_out_of_order():
    pasted = numbered(["I.", "II.", "III."], ["A.", "B.", "B.", "D."], COMBINATIONS)
    with pytest.raises(BadInputError, match="lettered A, B, B, D"):
        with_pasted_options(pasted, [])


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page on cartilage."""
    return indexed_lecture(tmp_path_factory.mktemp("cartilage"), "cartilage.pdf", LECTURE)


def test_ask_answers_a_pasted_numbered_statement_question_with_its_options(indexed):
    pasted = numbered(["I.", "II.", "III."], ["A.", "B.", "C.", "D."], COMBINATIONS)
    result = run_cli("ask", pasted, "--json", "--index", indexed / "idx", home=indexed / "home")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [option["text"] for option in answer["options"]] == COMBINATIONS
    assert answer["options_from_question"] is True
    assert answer["choice"] in range(4)
    assert result.stderr.splitlines()[0] == "options A-D read from the question's lines", result.stderr


# -- 2. matching questions asking for the wrong pair ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "cue"),
    [
        ("Which of the following pairs is incorrectly matched?", "incorrectly"),
        ("Which pair is wrongly paired?", "wrongly"),
        ("Which of the following pairs is mismatched?", "mismatched"),
        ("Which statement about bone cells is inaccurate?", "inaccurate"),
        ("Which structure is improperly labeled?", "improperly"),
    ],
)
def test_a_question_asking_for_the_wrong_match_asks_for_the_exception(asked, cue):
    options = ["Osteoblast - forms bone", "Osteoclast - resorbs bone", "Erythrocyte - fights infection"]
    reading = read_question(Question(asked, options))
    assert reading.negated
    assert cue not in reading.focus and cue not in stem(asked)


def test_a_correctly_matched_pair_is_asked_plainly():
    assert not read_question(Question("Which pair is correctly matched?", ["a - b", "c - d"])).negated


# -- 3. options naming nothing to find are not unknown words ---------------------------------------------------------


def options(*texts: str) -> list[str]:
    """``--option`` for each of ``texts``."""
    return [arg for text in texts for arg in ("--option", text)]


def test_a_true_false_question_is_not_told_its_verdicts_are_unknown_words(indexed):
    """Every True/False question was told "No indexed text has 'true' (option A) or 'false' (option B)"."""
    result = run_cli(
        "ask",
        "Chondrocytes occupy lacunae.",
        *options("True", "False"),
        "--index",
        indexed / "idx",
        "--json",
        home=indexed / "home",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unknown_words"] == []
    typo = run_cli(
        "ask",
        "Chondrocytes occupy lacunea.",
        *options("True", "False"),
        "--index",
        indexed / "idx",
        "--json",
        home=indexed / "home",
    )
    assert [u["field"] for u in json.loads(typo.stdout)["unknown_words"]] == ["question"]


# -- 4. options combining numbered statements claim no more than chance ----------------------------------------------


def test_options_combining_numbered_statements_are_read_as_such():
    asked = numbered(["I.", "II.", "III."], ["A.", "B.", "C.", "D."], COMBINATIONS)
    text, options, _ = with_pasted_options(asked, [])
    assert read_question(Question(text, options)).combined
    numbers = Question(f"{ASKED} 1. {STATEMENTS[0]} 2. {STATEMENTS[1]}", ["1 only", "2 only", "1 and 2", "Neither"])
    assert read_question(numbers).combined
    vitamins = Question("Which vitamins are fat-soluble? I. ... II. ...", ["A and D", "B and C", "C only", "B only"])
    assert not read_question(vitamins).combined  # letters name vitamins, not statements
    unnumbered = Question("Which bones form the skull?", ["1 and 2", "2 and 3", "1 only", "3 only"])
    assert not read_question(unnumbered).combined
    plain = Question(f"{ASKED} I. {STATEMENTS[0]} II. {STATEMENTS[1]}", ["Osteoblast", "Osteoclast"])
    assert not read_question(plain).combined


def test_an_answer_to_combined_statements_is_unsettled_at_chance_and_says_why(indexed):
    """Scored by their words, "I only" and "I and III" share them all: answers came back wrong at 0.77 and 0.66."""
    pasted = numbered(["I.", "II.", "III."], ["A.", "B.", "C.", "D."], COMBINATIONS)
    result = run_cli("ask", pasted, "--json", "--index", indexed / "idx", home=indexed / "home")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert not answer["settled"] and answer["confidence"] <= 1 / len(COMBINATIONS)
    assert "ask each statement as True or False" in answer["rationale"]
