"""A resident's report on ``pathatlas ask`` and query words: a mistyped option is warned naming the closest indexed
word, exam options are parsed as pasted (a letter given twice refused, "A) Melanoma" read as "Melanoma", an empty
question said plainly), filler queries ("what is it") are refused by the CLI and REST alike, and an unsettled answer is
only leant to. Hashing encoder and a one-page PDF: no model to load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.agent.graph import answer_document
from pathatlas.agent.questions import Answer, Question
from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.retrieval.terms import has_words
from pathatlas.ui.api.app import create_app
from pathatlas.ui.cli import console, parse_options, print_answer
from tests.helpers import hashing_settings, indexed_lecture, one_error_line, run_cli

LECTURE = (
    "Melanoma arises from melanocytes in the basal layer of the epidermis. What is it that makes it dangerous? "
    "Basal cell carcinoma is the most common skin cancer and rarely spreads."
)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page of a skin lecture, "what" among its words."""
    return indexed_lecture(tmp_path_factory.mktemp("skin"), "skin.pdf", LECTURE)


def ask(root: Path, *args) -> object:
    return run_cli("ask", *args, "--index", root / "idx", home=root / "home")


# -- 1. a mistyped option ---------------------------------------------------------------------------------------------


def test_a_mistyped_option_is_warned_on_stderr_naming_the_closest_indexed_word(indexed):
    options = ("--option", "A=Melanomma", "--option", "B=Basal cell carcinoma")
    result = ask(indexed, "Which cancer arises from melanocytes?", *options, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["options"][0]["text"] == "Melanomma", "stdout stays one JSON document"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("warning: option A 'Melanomma': no indexed word 'Melanomma'"), warnings[0]
    assert "closest: 'melanoma'" in warnings[0], warnings[0]


def test_options_whose_words_are_indexed_are_not_warned(indexed):
    options = ("--option", "Melanoma", "--option", "the basal cell carcinoma")
    result = ask(indexed, "Which cancer arises from melanocytes?", *options)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr, result.stderr


# -- 2. options as pasted ---------------------------------------------------------------------------------------------


def test_a_letter_given_twice_is_refused_naming_it():
    with pytest.raises(BadInputError, match=r"--option A is given twice \('Melanoma' and 'Basal cell carcinoma'\)"):
        parse_options(["A=Melanoma", "A=Basal cell carcinoma"])
    with pytest.raises(BadInputError, match="--option A is given twice"):
        parse_options(["Melanoma", "A=Eczema"])  # a plain first option is A


def test_a_pasted_exam_label_of_the_options_own_place_is_dropped():
    assert parse_options(["A) Melanoma", "B. Eczema", "(C) Psoriasis"]) == ["Melanoma", "Eczema", "Psoriasis"]
    assert parse_options(["a) melanoma", "b) eczema"]) == ["melanoma", "eczema"]
    assert parse_options(["B) Melanoma", "Eczema"]) == ["B) Melanoma", "Eczema"], "another place's label is text"
    assert parse_options(["A=A) Melanoma", "B=Eczema"]) == ["A) Melanoma", "Eczema"], "a lettered option is as given"


def test_a_species_initial_is_the_options_text_not_a_pasted_label():
    """ "C. difficile" as option C was read as a label and left "difficile": a dot before a lower-case word is a
    genus's initial; before a capital (or with a parenthesis) it is still a label."""
    organisms = ["Staphylococcus aureus", "B. anthracis", "C. difficile", "Dermatophytes", "E. coli O157"]
    assert parse_options(organisms) == organisms
    assert parse_options(["Psoriasis", "Eczema", "C. Melanoma"]) == ["Psoriasis", "Eczema", "Melanoma"]
    assert parse_options(["Psoriasis", "Eczema", "C) difficile"]) == ["Psoriasis", "Eczema", "difficile"]
    assert parse_options(["Psoriasis", "Eczema", "(C) difficile"]) == ["Psoriasis", "Eczema", "difficile"]


def test_an_empty_question_with_options_is_one_plain_line(tmp_path):
    options = ("--option", "A=Melanoma", "--option", "B=Eczema")
    result = run_cli("ask", "", *options, "--index", tmp_path / "idx", home=tmp_path)
    line = one_error_line(result, "the question is empty")
    assert "question :" not in line


# -- 3. filler queries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filler", ["what is it", "what is this", "Who is he?", "which of these", "the of and"])
def test_a_query_of_function_words_alone_is_refused_by_the_cli_and_rest(indexed, filler):
    assert not has_words(filler)
    result = run_cli("search", filler, "--index", indexed / "idx", home=indexed / "home")
    one_error_line(result, "has only common words")
    settings = hashing_settings(indexed, index=indexed / "idx")
    with TestClient(create_app(settings)) as client:
        response = client.post("/search", json={"text": filler})
    assert response.status_code == 422 and "only common words" in response.json()["detail"][0]["msg"], response.text


@pytest.mark.parametrize("filler", ["what is it", "Which is not?"])
def test_a_question_of_function_words_alone_is_refused_by_the_cli_and_rest(indexed, filler):
    """ "what is it" with the options bone and cartilage was answered "A. bone", settled, quoting a sentence about
    cartilage: the options alone decided. A question is refused as a search is, unless an image says what it asks."""
    options = ["Melanoma", "Basal cell carcinoma"]
    result = ask(indexed, filler, "--option", f"A={options[0]}", "--option", f"B={options[1]}")
    one_error_line(result, "has only common words")
    settings = hashing_settings(indexed, index=indexed / "idx")
    with TestClient(create_app(settings)) as client:
        response = client.post("/ask", json={"question": filler, "options": options})
    assert response.status_code in (400, 422) and "only common words" in response.text, response.text
    with pytest.raises(BadInputError, match="only common words"):
        Question(filler, options).validate()
    Question(filler, options, image=draw_pattern("koilocytes", 1)).validate()  # of an image: asks about it


def test_a_word_to_look_for_among_fillers_is_still_searched(indexed):
    assert has_words("what is this lesion") and has_words("ALL") and has_words("肺")
    result = run_cli("search", "what is melanoma", "--json", "--index", indexed / "idx", home=indexed / "home")
    assert result.exit_code == 0 and json.loads(result.stdout), result.output


# -- 4. the answer's header -------------------------------------------------------------------------------------------

QUESTION = Question("Which cancer arises from melanocytes?", ["Basal cell carcinoma", "Melanoma"])


def printed(answer: Answer) -> str:
    with console.capture() as captured:
        print_answer(answer_document(QUESTION, answer, [], []))
    return captured.get()


def test_an_unsettled_choice_is_leant_to_without_a_confidence():
    shown = printed(Answer(1, "Melanoma", 0.91, scores=[0.09, 0.91], settled=False))
    header = shown.splitlines()[0]
    assert header == "leaning to B. Melanoma", header
    assert "confidence" not in shown and "the evidence does not settle this" in shown


def test_a_settled_choice_keeps_its_confidence_and_scores_say_they_rank():
    shown = printed(Answer(1, "Melanoma", 0.91, scores=[0.09, 0.91], settled=True))
    assert shown.splitlines()[0] == "answer B. Melanoma  (confidence 0.91)"
    assert "not the chance it is right" in shown and "(score 0.91)" in shown
    assert "not the chance" not in printed(Answer(1, "Melanoma", 0.9, settled=True)), "no scores, no legend"
