"""How the offline answerer weighs and words options (thirty-ninth session, a reviewer's A&P examples): a plain
question weighs what the evidence states (or denies) of each option, as a negated one did; a sentence naming another
kind of the class an option names a kind of ("a type of oil gland" for "a type of sweat gland") speaks against that
option rather than supporting it by the word it shares; a rationale names an option written as a sentence without its
own full stop before its punctuation. Evidence is faked: no models."""

from __future__ import annotations

import numpy as np
import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import evidence_sentences, option_quotes, score_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.agent.scoring import FEATURES, WEIGHTS, option_logits
from pathatlas.agent.writing import annotate
from pathatlas.retrieval.records import Citation, Payload

SEBACEOUS = Question(
    "Sebaceous glands ________.",
    [
        "are a type of sweat gland",
        "are associated with hair follicles",
        "may function in response to touch",
        "release a watery solution of salt and metabolic waste",
    ],
)
OIL_GLAND = (  # p. 152
    "A sebaceous gland is a type of oil gland that is found all over the body and helps to lubricate and waterproof "
    "the skin and hair."
)
CARTILAGINOUS = Question(
    "A cartilaginous joint ________.",
    ["has a joint cavity", "is called a symphysis when the bones are united by fibrocartilage"],
)
JOINED = "A cartilaginous joint where the bones are joined by fibrocartilage is called a symphysis (growing together)."


def page(evidence_id: str, text: str, rank: int = 1) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def stances(question: Question, text: str) -> list[list[str]]:
    """Per option, the stances of its quotes from one sentence."""
    reading = read_question(question)
    scores = score_sentences(reading, question.text, question.options, evidence_sentences([page("p1", text)]))
    return [[q.stance for q in own] for own in option_quotes(reading, question.options, scores)]


@pytest.mark.parametrize("statements", [False, True])
def test_a_plain_question_weighs_what_the_evidence_states_of_each_option(statements):
    """Dev question m46503-q3 leant to norepinephrine (0.58) on sentences nearer in the encoder's space, while
    "releases the neurotransmitter acetylcholine (ACh) at the neuromuscular junction" stated what is asked of
    acetylcholine (0.27); m46394-q5 chose the option its own sentence denied ("not directly connected"). Alike in every
    other feature, the option stated to be what is asked now leads, and the one denied it trails."""
    features = np.tile(np.linspace(0.2, 0.8, len(FEATURES)), (3, 1))
    features[:, FEATURES.index("stated")] = [0.0, 1.0, -1.0]
    logits = option_logits(features, False, WEIGHTS, statements)
    assert logits[1] > logits[0] > logits[2], logits


def test_a_sentence_naming_another_kind_of_the_options_class_contradicts_it():
    """Dev question m46062-q4: "a type of oil gland" named "are a type of sweat gland" by its "type" and supported it,
    settling, beside the right option's own quote."""
    assert stances(SEBACEOUS, OIL_GLAND)[0] == ["contradicts"]
    assert stances(SEBACEOUS, "Eccrine glands and sebaceous glands are a type of sweat gland.")[0] == ["supports"]


def test_another_word_anywhere_but_in_a_kind_of_a_class_is_no_contradiction():
    """Dev question m46381-q1 (p. 268): "joined" where the option says "united" is the same, as "dense" for "fibrous"
    connective tissue is (m46348-q2); read as saying otherwise, they unsettled two right answers."""
    assert stances(CARTILAGINOUS, JOINED)[1] == ["supports"]


INSERTS = Question(
    "Where do the muscles of facial expression insert?",
    ["They only insert onto the facial bones.", "They insert into the skin."],
)
NOT_TRUE = Question(
    "Which of the following is not true of the muscles of facial expression?",
    ["They insert into the skin.", "They move the face.", "They only insert onto the facial bones."],
)
FACE = [
    page("p1", "The muscles of facial expression insert into the skin of the face."),
    page("p2", "The muscles of facial expression move the face and skin.", 2),
]


@pytest.mark.parametrize(
    ("question", "named"),
    [(INSERTS, "B. They insert into the skin:"), (NOT_TRUE, "exception: C. They only insert onto the facial bones.")],
)
def test_a_rationale_names_an_option_written_as_a_sentence_without_its_own_full_stop(question, named):
    """Options ending in a full stop were named "B. They insert into the skin.:" and, ending a rationale's sentence,
    "... the facial bones.."."""
    answer = OfflineAnswerer(encoder=None).answer(question, FACE)
    annotate(answer, question, FACE)
    assert named in answer.rationale, answer.rationale
    assert ".:" not in answer.rationale and ".." not in answer.rationale, answer.rationale


def test_a_type_of_cell_called_or_found_names_no_class_of_called_or_found():
    """ "a type of cell called the osteoclast" read as kind "cell" of the class "called" (a reviewer's reading)."""
    from pathatlas.agent.evidence import kinds_said

    assert kinds_said("Osteoclasts are a type of cell called bone eaters") == set()
    assert kinds_said("It is a type of cell found in bone, a type of oil gland") == {("oil", "gland")}
