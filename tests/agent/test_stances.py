"""Which option a quote supports (thirty-eighth session, a reviewer's A&P examples): a sentence setting two options
against each other ("A in the CNS, while B in the PNS") supports only the one it says the question's qualifier of; a
sentence saying an option moves the asked object the other way ("increases" blood glucose, for what lowers it) speaks
against it, and only when its verb's object is the asked one; verbs saying only that something happens ("take place")
are no words a quote must say. Evidence is faked: no models."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import asked_words, evidence_sentences, option_quotes, score_sentences
from pathatlas.agent.graph import answer_document
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

MYELIN = Question(
    "Which cells produce myelin in the peripheral nervous system?", ["Schwann cells", "oligodendrocytes", "astrocytes"]
)
CNS_AND_PNS = (  # p. 133
    "Oligodendrocyte cells produce myelin in the central nervous system (brain and spinal cord) while the Schwann cell "
    "produces myelin in the peripheral nervous system (Figure 4.20)."
)
CNS_GLIA = Question(
    "Which glial cells produce myelin in the central nervous system?",
    ["Astrocytes", "Oligodendrocytes", "Microglia", "Schwann cells"],
)
STEM_CELLS = Question(
    "Which type of stem cell gives rise to red and white blood cells?",
    ["endothelial", "epithelial", "hematopoietic", "mesenchymal"],
)
MARROW = (  # p. 140
    "Adult bone marrow has three distinct types of stem cells: hematopoietic stem cells, which give rise to red blood "
    "cells, white blood cells, and platelets (Figure 3.34); endothelial stem cells, which give rise to the endothelial "
    "cell types that line blood and lymph vessels; and mesenchymal stem cells, which give rise to the different types "
    "of muscle cells."
)
SUTURES = (  # p. 256
    "The coronal suture joins the parietal bones to the frontal bone, the lambdoid suture joins them to the occipital "
    "bone, and the squamous suture joins them to the temporal bone."
)
LOWERS = Question("Which hormone lowers blood glucose?", ["insulin", "glucagon", "cortisol"])
RAISES = Question("Which hormone increases blood glucose?", ["insulin", "glucagon", "cortisol"])
CALCIUM = Question("Which hormone increases blood calcium?", ["parathyroid hormone", "calcitonin", "insulin"])
GLUCAGON = "Glucagon stimulates mechanisms that increase blood glucose levels, such as the catabolism of glycogen."
GAS = Question("Where does gas exchange take place in the lungs?", ["alveoli", "bronchi", "trachea"])
SAC = "An alveolar sac is a cluster of many individual alveoli that are responsible for gas exchange."


def page(evidence_id: str, text: str, rank: int = 1) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def stances(question: Question, text: str) -> list[list[tuple[str, bool]]]:
    """Per option, (stance, settles) of its quotes from one sentence."""
    reading = read_question(question)
    scores = score_sentences(reading, question.text, question.options, evidence_sentences([page("p1", text)]))
    return [[(q.stance, q.settles) for q in own] for own in option_quotes(reading, question.options, scores)]


def shown(question: Question, *texts: str) -> tuple[dict, dict[str, list[str]]]:
    """The offline answer's document over one page per text, and each option's shown stances by label."""
    found = [page(f"p{k}", text, k) for k, text in enumerate(texts, start=1)]
    document = answer_document(question, OfflineAnswerer(encoder=None).answer(question, found), found, [])
    return document, {o["label"]: [q["stance"] for q in o["evidence"]] for o in document["options"]}


def test_a_sentence_setting_two_options_apart_supports_only_the_one_the_qualifier_matches():
    """ "Oligodendrocyte cells produce myelin in the central nervous system ... while the Schwann cell produces myelin
    in the peripheral nervous system" was a settling "supports" under both: the words both halves repeat went to both,
    and only "peripheral" told them apart."""
    assert stances(MYELIN, CNS_AND_PNS) == [[("supports", True)], [("supports", False)], []]
    document, shown_stances = shown(MYELIN, CNS_AND_PNS)
    assert shown_stances["A"] == ["supports"] and shown_stances["B"] == ["related"]
    assert document["choice"] == 0 and document["settled"]


@pytest.mark.parametrize(
    "contrast",
    [
        CNS_AND_PNS,
        "Oligodendrocyte cells produce myelin in the central nervous system whereas the Schwann cell produces myelin "
        "in the peripheral nervous system.",
    ],
)
def test_a_contrast_without_a_comma_settles_only_the_option_whose_clause_says_the_qualifier(contrast):
    """The whole-book quiz's "Which glial cells produce myelin in the central nervous system?" was left unsettled: with
    no comma before "while" the sentence was one clause, "system" stood nearer "Schwann" and went to it, and the
    Schwann cell settled as fully as oligodendrocytes, though only their clause says "central"."""
    assert stances(CNS_GLIA, contrast) == [[], [("supports", True)], [], [("supports", False)]]
    document, _ = shown(CNS_GLIA, contrast)
    assert document["choice"] == 1 and document["settled"]


def test_a_list_in_clauses_of_their_own_settles_the_option_it_says_the_question_of():
    """Dev question m46036-q2: the marrow's three stem cells each "give rise to" something, red and white blood cells
    only the hematopoietic ones; endothelial stem cells settled too, so the right answer was left unsettled."""
    assert stances(STEM_CELLS, MARROW)[0] == [("supports", False)]
    assert stances(STEM_CELLS, MARROW)[2] == [("supports", True)]
    document, _ = shown(STEM_CELLS, MARROW)
    assert document["choice"] == 2 and document["settled"]


def test_options_named_in_one_clause_are_not_told_apart_by_which_word_stands_nearest():
    """ "the lambdoid suture joins them to the occipital bone" follows "to the frontal bone" in one clause, so
    "lambdoid" stands nearer "frontal": the occipital bone keeps what the sentence says of it."""
    sutures = Question(
        "The lambdoid suture joins the parietal bone to the ________.", ["frontal bone", "occipital bone"]
    )
    assert stances(sutures, SUTURES)[1] == [("supports", True)]


@pytest.mark.parametrize(
    ("question", "said", "against"),
    [
        (LOWERS, GLUCAGON, [False, True, False]),
        (
            LOWERS,
            "Insulin acts to lower blood glucose levels, while glucagon raises blood glucose.",
            [False, True, False],
        ),
        (RAISES, "Insulin lowers blood glucose by moving glucose into cells.", [True, False, False]),
        (CALCIUM, "Calcitonin decreases blood calcium levels when they become too high.", [False, True, False]),
    ],
)
def test_a_sentence_saying_an_option_moves_the_asked_object_the_other_way_speaks_against_it(question, said, against):
    """ "Glucagon stimulates mechanisms that increase blood glucose levels" was quoted as supporting glucagon for
    "Which hormone lowers blood glucose?", and the answer leaned to it."""
    found = stances(question, said)
    assert [any(stance == "contradicts" for stance, _ in own) for own in found] == against


@pytest.mark.parametrize(
    ("question", "said", "option"),
    [
        (CALCIUM, "Parathyroid hormone raises blood calcium levels and decreases calcium excretion.", 0),
        (LOWERS, "Insulin inhibits mechanisms that increase blood glucose levels.", 0),
        (RAISES, "Glucagon is secreted in response to lower blood glucose levels.", 1),
        (RAISES, "Glucagon is secreted when exercise lowers blood glucose.", 1),
        (LOWERS, "Insulin is released in response to increased blood glucose levels.", 0),
    ],
)
def test_a_verb_of_the_other_sense_denies_nothing_unless_the_option_moves_the_asked_object(question, said, option):
    """A past rule read any verb of the other sense as a denial: "Parathyroid hormone raises blood calcium levels and
    decreases calcium excretion" spoke against it for what increases blood calcium. The verb's object must be the asked
    one, a down verb before it turns its sense ("inhibits mechanisms that increase"), a participle or a word after
    "response to" is no verb, and a verb in a subordinate clause has a subject of its own ("when exercise lowers")."""
    assert [stance for stance, _ in stances(question, said)[option]] == ["supports"]


def test_a_negated_question_takes_an_option_moving_the_object_the_other_way_as_the_exception():
    """ "Which hormone does not lower blood glucose?": glucagon, which raises it, is the exception the question asks."""
    negated = Question("Which hormone does not lower blood glucose?", ["insulin", "glucagon", "cortisol"])
    assert [stance for stance, _ in stances(negated, GLUCAGON)[1]] == ["supports"]


def test_verbs_saying_only_that_something_happens_are_not_asked():
    """ "take place" was two of the five words asked: "alveoli that are responsible for gas exchange" said 0.29 of the
    question, was shown supporting alveoli, and the answer (0.90) read "the evidence does not settle this"."""
    assert asked_words(GAS.text) == {"gas", "exchang", "lung"}
    assert asked_words("What occurs?") == {"occur"}, "nothing else to ask: the verb stays"
    assert stances(GAS, SAC)[0] == [("supports", True)]
    document, shown_stances = shown(GAS, SAC)
    assert document["choice"] == 0 and document["settled"] and shown_stances["A"] == ["supports"]
