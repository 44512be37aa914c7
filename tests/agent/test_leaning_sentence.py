"""An unsettled answer whose choice no sentence says reads as a sentence: "leaning to A. Angiosarcoma: the closest
match; nearest sentence: ...". The rationale put "leaning to" before "A. angiosarcoma is the closest match; ...", so an
image answer (``pathatlas ask --image``, ``/ask/image``) read "leaning to A. angiosarcoma is the closest match;", and a
text answer the same. After a tie the same words stand alone, as every other choice's part does."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.questions import Evidence, Question
from tests.agent.test_agent import evidence
from tests.agent.test_image_calibration import ASKED, image

CLOSEST = ": the closest match; nearest sentence: "


def answered(question: Question, found: list[Evidence]):
    return OfflineAnswerer(encoder=None).answer(question, found)


def test_an_image_answer_leaning_to_the_closest_case_reads_as_a_sentence():
    cases = [image("i1", "BS1", "angiosarcoma", 1), image("i2", "BS18", "peliosis", 2), image("i3", "BS2", "hcc", 3)]
    answer = answered(ASKED, cases)
    assert (answer.letter, answer.settled) == ("A", False)
    assert answer.rationale == (
        f'The evidence does not settle this; leaning to A. Angiosarcoma{CLOSEST}"Angiosarcoma. Pancreas." '
        "(atlas, case BS1)."
    )


def test_a_text_answer_leaning_to_the_closest_match_reads_as_a_sentence():
    question = Question("Which cells line the alveoli?", ["Type I pneumocytes", "Goblet cells"])
    answer = answered(question, [evidence("p1", "Goblet cells are not found in the alveoli.", 1)])
    assert (answer.letter, answer.settled) == ("A", False)
    assert answer.rationale == (
        f"The evidence does not settle this; leaning to A. Type I pneumocytes{CLOSEST}"
        '"Goblet cells are not found in the alveoli." (book.pdf, p. 1), which names B.'
    )


def test_after_a_tie_the_closest_match_stands_as_its_own_sentence():
    question = Question("The outer surface of the bone is covered by the ________.", ["periosteum", "perichondrium"])
    answer = answered(question, [evidence("p1", "The outer surface of the bone is covered with a fibrous layer.", 1)])
    assert answer.rationale == (
        "The evidence does not settle this: A. periosteum and B. perichondrium score alike, a tie leaning to neither. "
        f'B. perichondrium{CLOSEST}"The outer surface of the bone is covered with a fibrous layer." (book.pdf, p. 1).'
    )
