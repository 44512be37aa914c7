"""A superlative the evidence ranks otherwise ("the second most common", "the least common") or does not rank ("so
common") in the evidence stances and the co-occurrence feature (thirty-third session)."""

from __future__ import annotations

import numpy as np
import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import asked_ranks, asked_words, option_quotes
from pathatlas.agent.questions import Question
from pathatlas.agent.scoring import cooccurrence
from tests.agent.test_evidence_contrast import evidence, scored

COMMONEST = Question(
    "Which is the most common skin cancer?", ["basal cell carcinoma", "squamous cell carcinoma", "melanoma"]
)


def stances(question: Question, *texts: str) -> list[list[str]]:
    reading, scores = scored(question, *texts)
    return [[q.stance for q in own] for own in option_quotes(reading, question.options, scores)]


def test_a_second_most_common_option_is_not_backed_as_the_most_common():
    """ "Squamous cell carcinoma is the second most common skin cancer" holds every word of the question and names its
    option: ranked second, it says that option is not the answer."""
    said = ("Squamous cell carcinoma is the second most common skin cancer.", "Basal cell carcinoma is a skin cancer.")
    reading, scores = scored(COMMONEST, *said)
    assert cooccurrence(scores)[1] == 0.0 and cooccurrence(scores)[0] > 0.0
    assert stances(COMMONEST, *said)[1] == ["contradicts"]


def test_the_rank_speaks_against_the_option_named_nearest_it_only():
    said = (
        "The most common skin cancer is basal cell carcinoma; "
        "the second most common skin cancer is squamous cell carcinoma."
    )
    reading, scores = scored(COMMONEST, said)
    assert cooccurrence(scores).tolist() == [pytest.approx(1.0), 0.0, 0.0]
    assert stances(COMMONEST, said) == [["supports"], ["contradicts"], []]


def test_the_opposite_superlative_and_ordinals_of_one_word_superlatives_rank_otherwise():
    assert stances(COMMONEST, "Melanoma is the least common skin cancer.") == [[], [], ["contradicts"]]
    largest = Question("What is the largest muscle in the lower leg?", ["soleus", "gastrocnemius"])
    said = ("The soleus is the second largest muscle in the lower leg.", "The gastrocnemius is the largest muscle.")
    assert stances(largest, *said) == [["contradicts"], ["supports"]]


def test_a_question_asking_the_same_rank_is_answered_by_it():
    """Asked for the second most common, the sentence ranking its option second supports it, and the one saying
    another is the most common speaks against that one."""
    second = Question("Which is the second most common skin cancer?", COMMONEST.options)
    said = (
        "Squamous cell carcinoma is the second most common skin cancer.",
        "Basal cell carcinoma is the most common skin cancer.",
    )
    assert stances(second, *said) == [["contradicts"], ["supports"], []]


def test_a_quality_said_without_a_rank_covers_none_of_the_superlative():
    """ "a common skin cancer" is no rank: it covers what else is asked, not "most common"."""
    said = scored(COMMONEST, "Squamous cell carcinoma is a common skin cancer.")[1].question[0]
    unsaid = scored(COMMONEST, "Squamous cell carcinoma is a skin cancer.")[1].question[0]
    ranked = scored(COMMONEST, "Squamous cell carcinoma is the most common skin cancer.")[1].question[0]
    assert said == pytest.approx(unsaid) and 0.0 < said < ranked == pytest.approx(1.0)
    assert stances(COMMONEST, "Squamous cell carcinoma is a common skin cancer.") == [[], ["supports"], []]


def test_a_plain_question_is_left_alone():
    plain = Question("Which skin cancer arises from keratinocytes?", COMMONEST.options)
    said = "Squamous cell carcinoma is the second most common skin cancer; it arises from keratinocytes."
    assert stances(plain, said)[1] == ["supports"]


def test_most_is_the_rank_of_a_superlative_not_an_asked_word():
    """ "Most" is no word of its own ("the most deadly" says nothing of "the most common"), and a superlative of how
    many is one however worded ("most abundant", "most numerous" are "most common")."""
    assert asked_words("Which is the most common skin cancer?") == {"common", "skin", "cancer"}
    assert asked_words("Which bone is the most numerous?") == asked_words("Which bone is the most common?")
    reading, scores = scored(COMMONEST, "Melanoma is the most deadly tumour of pigment cells.")
    assert cooccurrence(scores)[2] == 0.0


def test_the_book_answers_which_leukocytes_are_the_most_common():
    """The A&P book's own sentences (p. 578, 582): basophils were answered, settled, from "so common" and "the least
    common"; the most abundant ones are the most common."""
    question = Question(
        "Which leukocytes are the most common?", ["neutrophils", "lymphocytes", "monocytes", "basophils"]
    )
    found = [
        evidence(
            "p1",
            "Basophils contain large granules that pick up a dark blue stain and are so common they may make "
            "it difficult to see the two-lobed nucleus.",
            1,
        ),
        evidence(
            "p2",
            "Basophils are the least common leukocytes, typically comprising less than one percent of the "
            "total leukocyte count.",
            2,
        ),
        evidence(
            "p3",
            "The most abundant leukocytes are the neutrophils, which are first responders to infections, "
            "especially with bacteria.",
            3,
        ),
    ]
    answer = OfflineAnswerer(encoder=None).answer(question, found)
    assert "contradicts" in [q.stance for q in answer.quotes[3]]
    assert answer.letter == "A"


def test_the_offline_answer_follows_the_rank():
    found = [
        evidence("p1", "Squamous cell carcinoma is the second most common skin cancer.", 1),
        evidence("p2", "Basal cell carcinoma is the most common skin cancer.", 2),
    ]
    answer = OfflineAnswerer(encoder=None).answer(COMMONEST, found)
    assert answer.letter == "A" and int(np.argmax(answer.scores)) == 0


def test_only_the_sentence_that_asks_asks_a_superlative():
    """A rank stated in a question's preamble is what the question grants, not what it asks."""
    granted = Question(
        "Squamous cell carcinomas are the second most common skin cancers. Which cancer arises from melanocytes?",
        COMMONEST.options,
    )
    assert stances(granted, "Melanoma is the most common cancer arising from melanocytes.") == [[], [], ["supports"]]


def test_a_superlative_is_read_from_the_words_as_written():
    """ "Most" of a determiner, an adverb or a compound ranks no quality; "most abundant" is "most common"."""
    assert asked_ranks("Most of the bones of the arms are long bones; the bones in the wrist are ________.") == {}
    assert asked_ranks("This scientist is most likely a(n) ________.") == {}
    assert asked_ranks("Which is the lateral-most carpal bone of the proximal row?") == {}
    assert asked_ranks("Which is the most abundant type of cartilage?") == {"common": ("most",)}
    assert asked_ranks("What is the second largest muscle?") == {"largest": ("second",)}
