"""A student's report on ``pathatlas ask`` and options pasted from a quiz: a whole question pasted with its option
lines is asked with those options, options all lettered in order lose their letters even before a lower-case word
("C. stratified", not a genus's initial there), a pasted letter given twice is refused, and a mistyped option's
warning names words the book uses, not BM25's stems. Hashing encoder and a one-page PDF: no model to load."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pathatlas.agent.questions import option_lines, with_pasted_options
from pathatlas.errors import BadInputError
from pathatlas.ui.cli import parse_options
from tests.helpers import indexed_lecture, one_error_line, run_cli

LECTURE = (
    "Adipose tissue stores fat in adipocytes. Adipose tissue also cushions organs. Stratified squamous epithelium "
    "lines the esophagus. Pseudostratified ciliated columnar epithelium moves mucus across its surface. "
    "Transitional epithelium lines the urinary bladder."
)
QUESTION = "Which type of epithelial tissue moves particles across its surface?"
OPTIONS = ["transitional", "stratified columnar", "pseudostratified ciliated columnar", "stratified squamous"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page of a tissues lecture."""
    return indexed_lecture(tmp_path_factory.mktemp("tissues"), "tissues.pdf", LECTURE)


def ask(root: Path, *args) -> object:
    return run_cli("ask", *args, "--json", "--index", root / "idx", home=root / "home")


def pasted(question: str, labels: list[str], options: list[str] = OPTIONS) -> str:
    return "\n".join([question, *(f"{label} {option}" for label, option in zip(labels, options, strict=False))])


# -- 1. a whole question pasted with its options -----------------------------------------------------------------------


def test_a_pasted_question_is_asked_with_its_option_lines_said_on_stderr(indexed):
    result = ask(indexed, pasted(QUESTION, ["A.", "B.", "C.", "D."]))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [option["text"] for option in answer["options"]] == OPTIONS
    assert answer["question"] == QUESTION, answer["question"]
    assert result.stderr.strip() == "options A-D read from the question's lines", result.stderr


@pytest.mark.parametrize("labels", [["A)", "B)"], ["(a)", "(b)"], ["a.", "b."]])
def test_each_label_form_splits_a_pasted_question(labels):
    assert option_lines(pasted(QUESTION, labels)) == (QUESTION, OPTIONS[:2])


@pytest.mark.parametrize(
    "labels",
    [
        ["A.", "B)", "C."],  # mixed forms
        ["A.", "b.", "C."],  # mixed case
        ["A.", "C.", "D."],  # not consecutive
        ["B.", "C.", "D."],  # not from A
        ["A."],  # one line is no list of options
    ],
)
def test_mixed_or_non_consecutive_labels_leave_the_question_as_it_is(labels):
    assert option_lines(pasted(QUESTION, labels)) is None


def test_a_line_that_is_no_option_after_them_leaves_the_question_as_it_is_and_lines_alone_are_a_blank_question():
    assert option_lines(pasted(QUESTION, ["A.", "B."]) + "\nExplain your answer.") is None
    assert option_lines("A. transitional\nB. stratified columnar") == ("", ["transitional", "stratified columnar"])
    assert option_lines("A. fumigatus is a mould. Which disease does it cause?") is None


def test_given_options_keep_a_pasted_question_whole(indexed):
    question = pasted(QUESTION, ["A.", "B."])
    result = ask(indexed, question, "--option", "squamous", "--option", "columnar")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["question"] == question and [o["text"] for o in answer["options"]] == ["squamous", "columnar"]
    assert "read from the question" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "along",
    [
        f"{QUESTION} A) transitional B) stratified columnar",
        f"{QUESTION}\n(a) transitional (b) stratified columnar",
        "Name the epithelium: 1. transitional 2. stratified columnar",
    ],
)
def test_options_written_along_the_question_s_last_line_are_its_options(along):
    text, options = option_lines(along)
    assert options == OPTIONS[:2] and text.rstrip(":?") in QUESTION + "Name the epithelium", text


@pytest.mark.parametrize(
    "sentence",
    [
        "Vitamin A) and B) deficiencies differ how?",  # no "?" or ":" before the first
        "Which vitamin? A) retinol",  # one label is no list
        "Which? A) night blindness C) scurvy",  # not in order
        "Which? A. retinol B) thiamine",  # two forms
        "Which? A) retinol B) thiamine\nExplain why.",  # a line after them
        "Two patients: 1) a child with rickets and 2) an adult with osteomalacia. What vitamin is deficient?",
        "Consider: (1) fever (2) rash. What is the diagnosis?",  # a list the question asks about
        "A. fumigatus and B. dermatitidis: which grows as a mould?",  # no question text before them
        "Food poisoning: A) which toxin of B. cereus causes vomiting?",  # "B." is no label of "A)"'s form
    ],
)
def test_labels_along_a_line_that_are_no_options_leave_the_question_as_it_is(sentence):
    assert option_lines(sentence) is None
    assert with_pasted_options(sentence, []) == (sentence, [], False), "asked as written, not refused"


def test_an_option_s_own_initial_of_another_form_stays_its_text():
    assert option_lines("Which organism? (a) C. difficile (b) E. coli") == (
        "Which organism?",
        ["C. difficile", "E. coli"],
    )


def test_a_question_pasted_on_one_line_is_asked_with_its_options(indexed):
    result = ask(indexed, f"{QUESTION} A) {OPTIONS[0]} B) {OPTIONS[1]} C) {OPTIONS[2]} D) {OPTIONS[3]}")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [option["text"] for option in answer["options"]] == OPTIONS and answer["question"] == QUESTION
    assert answer["options_from_question"] is True, answer


# -- 2. options lettered in order, and a pasted letter twice -----------------------------------------------------------


def test_options_all_lettered_in_order_lose_their_letters_whatever_follows():
    lettered = ["A. adipose tissue", "B. bone", "C. stratified squamous epithelium"]
    assert parse_options(lettered) == ["adipose tissue", "bone", "stratified squamous epithelium"]
    assert parse_options(["a) adipose tissue", "(B) bone"]) == ["adipose tissue", "bone"]


def test_a_genus_initial_stays_where_not_every_option_is_lettered_in_order():
    assert parse_options(["A. fumigatus", "C. albicans"]) == ["A. fumigatus", "C. albicans"], "C is not B's place"
    organisms = ["Staphylococcus aureus", "B. anthracis", "C. difficile"]
    assert parse_options(organisms) == organisms


def test_a_pasted_letter_given_twice_is_refused_naming_it(indexed):
    with pytest.raises(BadInputError, match=r"--option A is given twice \('bone' and 'cartilage'\)"):
        parse_options(["A) bone", "A) cartilage"])
    result = run_cli("ask", "Which?", "--option", "A) bone", "--option", "A) cartilage", home=indexed / "home")
    one_error_line(result, "--option A is given twice")
    assert parse_options(["C. difficile", "C. perfringens"]) == ["C. difficile", "C. perfringens"], "two genera"


# -- 3. the warning names words ----------------------------------------------------------------------------------------


def test_a_mistyped_options_warning_names_words_the_book_uses_never_stems(indexed):
    result = ask(indexed, "Which tissue stores fat?", "--option", "adipos tissue", "--option", "bone")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr  # "adipos" and "bone": neither is in the lecture
    assert warnings[0].startswith("warning: option A 'adipos tissue': no indexed word 'adipos'"), warnings[0]
    closest = re.findall(r"'(\w+)'", warnings[0].partition("closest:")[2])
    assert closest and closest[0] == "adipose", warnings[0]
    assert "adipos" not in closest, "the word's own stem"
    words = set(re.findall(r"\w+", LECTURE.casefold()))
    assert set(closest) <= words, f"not words the lecture uses: {set(closest) - words}"
