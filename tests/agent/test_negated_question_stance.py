"""A negated question's answer weighs what the evidence says of each option, not only how often it names it: "The most
abundant leukocytes are the neutrophils" speaks against neutrophils for "Which leukocytes are not the most common?",
and a plainly read "not the most common" takes a sentence ranking an option otherwise for it (thirty-sixth session)."""

from __future__ import annotations

import numpy as np

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import evidence_sentences, read_with_evidence, score_sentences
from pathatlas.agent.questions import Question
from pathatlas.agent.scoring import FEATURES, design, stated
from tests.agent.test_least_questions import BOOK, pages

NOT_MOST_COMMON = "Which leukocytes are not the most common?"


def test_an_option_the_book_says_the_asked_property_of_is_no_exception():
    """Named in three sentences against neutrophils' one, basophils were the "most named" and neutrophils the answer,
    though the book says neutrophils are the most abundant and basophils the least common."""
    question = Question(NOT_MOST_COMMON, ["neutrophils", "basophils"])
    found = pages(*BOOK)
    reading = read_with_evidence(question, found)
    scores = score_sentences(reading, question.text, question.options, evidence_sentences(found))
    assert reading.negated and stated(scores).tolist() == [1.0, -1.0]
    assert OfflineAnswerer(encoder=None).answer(question, found).letter == "B"


def test_what_the_evidence_states_outweighs_how_often_it_names_an_option():
    """In a negated question an option stated to have the asked property moves below every option not stated to, one
    stated not to have it above them, each by the whole range of the feature it is otherwise scored by."""
    features = np.zeros((3, len(FEATURES)))
    features[:, FEATURES.index("mentions")] = [0.2, 1.0, 0.0]
    features[:, FEATURES.index("stated")] = [1.0, -1.0, 0.0]
    against = design(features, True)[:, -1]
    assert against.tolist() == [-1.2, 0.0, 0.0]
    unstated = features.copy()
    unstated[:, FEATURES.index("stated")] = 0.0
    assert not np.array_equal(design(features, False), design(unstated, False)), "plain questions read it too"


def test_a_plainly_read_not_the_most_common_takes_a_lower_rank_for_its_option():
    """ "Basophils are not the most common leukocytes" answers the question in its own words, so it is read plainly:
    "Lymphocytes are the second most common" then says lymphocytes are not the most common too (it had contradicted
    them), and "the most abundant ... neutrophils" says neutrophils are (it had supported them)."""
    question = Question(NOT_MOST_COMMON, ["neutrophils", "lymphocytes", "basophils"])
    found = pages("Basophils are not the most common leukocytes in the blood.", BOOK[3], BOOK[2])
    answer = OfflineAnswerer(encoder=None).answer(question, found)
    assert not read_with_evidence(question, found).negated
    assert [[q.stance for q in own] for own in answer.quotes] == [["contradicts"], ["supports"], ["supports"]]
    assert answer.letter != "A"
