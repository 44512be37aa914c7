"""A question and its options are read as typed plainly (``typed_plainly``: composed, invisible format characters
dropped, full-width ASCII forms as ASCII), once, where a ``Question`` is made, which every door (Python API, REST,
MCP, CLI, bench) passes.
"Ｗｈｉｃｈ ｃｅｌｌｓ ｒｅｓｏｒｂ ｂｏｎｅ？" typed on a full-width keyboard, an accent typed decomposed (a Mac) and a
zero-width space pasted from a web page are then the question typed plainly: the same choice, confidence
and quotes, and the answer echoes the question and options as read. Hashing encoder and a one-page PDF: no model to
load."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from pathatlas.agent.questions import Question, with_pasted_options
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import LETTERS
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.ui.library import Atlas
from tests.helpers import indexed_lecture, run_cli

LECTURE = (
    "Osteoblasts build new bone matrix at the surface of the fémur. Osteoclasts resorb bone: these large "
    "multinucleated cells dissolve the mineral and digest the matrix. Osteocytes sit in lacunae and sense strain."
)
QUESTION = "Which cells resorb bone in the fémur?"
OPTIONS = ["Osteoblasts", "Osteoclasts"]
ZERO_WIDTH = "\u200b"


def full_width(text: str) -> str:
    """``text`` as a full-width keyboard types it: each printable ASCII character as its full-width form."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def zero_width_spaced(text: str) -> str:
    """``text`` with a zero-width space inside each word, as text copied from a web page that breaks long words."""
    return " ".join(word[:2] + ZERO_WIDTH + word[2:] for word in text.split(" "))


def lettered(options: list[str]) -> list[str]:
    """``options`` with the labels a quiz prints before them: "A. Osteoblasts", "B. Osteoclasts"."""
    return [f"{letter}. {option}" for letter, option in zip(LETTERS, options, strict=False)]


def decomposed(text: str) -> str:
    return unicodedata.normalize("NFD", text)


FORMS = {"full-width": full_width, "decomposed": decomposed, "zero-width spaced": zero_width_spaced}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page of a bone lecture."""
    return indexed_lecture(tmp_path_factory.mktemp("bone"), "bone.pdf", LECTURE)


@pytest.fixture(scope="module")
def atlas(indexed):
    with Atlas(indexed / "idx", home=indexed / "home", encoder=HashingEncoder.name) as opened:
        yield opened


def weighed(answer: dict) -> tuple:
    """What an answer says: its choice, confidence, settledness and every quote with its stance and citation."""
    quotes = [[(q["quote"], q["stance"], q["citation"]["label"]) for q in o["evidence"]] for o in answer["options"]]
    return answer["choice"], answer["confidence"], answer["settled"], answer["rationale"], quotes


@pytest.mark.parametrize("form", FORMS)
def test_a_question_typed_in_another_form_is_answered_as_the_plain_one(atlas, form):
    plain = atlas.ask(QUESTION, OPTIONS)
    typed = atlas.ask(FORMS[form](QUESTION), [FORMS[form](option) for option in OPTIONS])
    assert plain["answer"] == "Osteoclasts", plain
    assert weighed(typed) == weighed(plain)


@pytest.mark.parametrize("form", FORMS)
def test_the_answer_echoes_the_question_and_options_as_read(atlas, form):
    answer = atlas.ask(FORMS[form](QUESTION), [FORMS[form](option) for option in OPTIONS])
    assert answer["question"] == QUESTION
    assert [option["text"] for option in answer["options"]] == OPTIONS
    assert answer["answer"] == "Osteoclasts"


def test_the_cli_asks_a_full_width_question_as_the_plain_one(indexed):
    def asked(question: str, options: list[str]) -> dict:
        args = [arg for option in options for arg in ("--option", option)]
        result = run_cli("ask", question, *args, "--json", "--index", indexed / "idx", home=indexed / "home")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    typed = asked(full_width(QUESTION), [full_width(option) for option in OPTIONS])
    assert weighed(typed) == weighed(asked(QUESTION, OPTIONS))
    assert typed["question"] == QUESTION


def test_a_question_is_read_once_made_whatever_door_made_it():
    question = Question(zero_width_spaced(full_width(QUESTION)), [decomposed("Fémur"), full_width("Tibia")])
    assert (question.text, question.options) == (QUESTION, ["Fémur", "Tibia"])


def test_an_ascii_question_is_kept_as_given():
    question = Question("Which cells resorb  bone?\n", ["Osteoblasts ", "Osteoclasts"])
    assert (question.text, question.options) == ("Which cells resorb  bone?\n", ["Osteoblasts ", "Osteoclasts"])


def test_options_that_read_the_same_are_one_option():
    with pytest.raises(BadInputError, match="options A and B are the same"):
        Question(QUESTION, ["Osteoclasts", zero_width_spaced("Osteoclasts")]).validate()
    with pytest.raises(BadInputError, match="an option is empty"):
        Question(QUESTION, [ZERO_WIDTH, "Osteoclasts"]).validate()


def test_text_that_is_no_question_or_option_list_is_left_for_validate_to_refuse():
    with pytest.raises(BadInputError, match="options must be a list of texts"):
        Question(QUESTION, full_width("AB")).validate()
    with pytest.raises(BadInputError, match="an option must be text"):
        Question(QUESTION, ["Osteoclasts", 3]).validate()


def test_full_width_option_lines_pasted_with_the_question_are_read_as_its_options():
    pasted = full_width("\n".join([QUESTION, *lettered(OPTIONS)]))
    assert with_pasted_options(pasted, []) == (QUESTION, OPTIONS, True)


def test_full_width_labels_given_with_the_options_are_dropped():
    typed = [full_width(option) for option in lettered(OPTIONS)]
    assert with_pasted_options(QUESTION, typed) == (QUESTION, OPTIONS, False)


def test_numbers_and_symbols_are_echoed_as_typed():
    """NFKC would make "10⁹/L" "109/L": an answer naming a count a thousand times too small."""
    options = ["150–400 × 10⁹/L", "Ca²⁺ influx", "T½ of 7 days", "ﬁbrin", "7.5 µm"]
    assert Question(QUESTION, options).options == options


def test_parenthesised_letters_pasted_as_labels_are_read_as_labels():
    """ "⒜ Osteoclasts" was read as a label while questions were NFKC-normalised; it must stay so."""
    assert with_pasted_options(f"{QUESTION}\n⒜ Osteoblasts\n⒝ Osteoclasts", []) == (QUESTION, OPTIONS, True)
