"""A listed pair's item is cut where the list parts it, not at an "and" inside its own name ("hematoxylin and eosin"),
and a predicate the items share ("... and Y in the nodes show giant cells") is said of each item, not of the last one
alone. Evidence is faked: no models."""

from __future__ import annotations

from pathatlas.agent.evidence import evidence_sentences, paired_items, score_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

STAINS = ["PAS", "Hematoxylin and eosin", "Congo red"]
GRANULOMAS = ["Caseating granulomas", "Non-caseating granulomas"]


def page(text: str) -> Evidence:
    return Evidence("p1", "page", text, Citation("primer.pdf", page=1), 1, payload=Payload(kind="page"))


def said_of_each(question: Question, text: str) -> list[float]:
    """Per option, how much of what is asked the one sentence of ``text`` says of it."""
    scores = score_sentences(read_question(question), question.text, question.options, evidence_sentences([page(text)]))
    return [scores.said(j, 0) for j in range(len(question.options))]


def test_an_and_inside_an_item_after_a_comma_is_no_cut():
    assert paired_items("PAS for glycogen, hematoxylin and eosin for nuclei and Congo red for amyloid") == [
        "PAS for glycogen",
        "hematoxylin and eosin for nuclei",
        "Congo red for amyloid",
    ]
    assert paired_items("Congo red for amyloid, hematoxylin and eosin for nuclei") == [
        "Congo red for amyloid",
        "hematoxylin and eosin for nuclei",
    ]
    assert paired_items("hematoxylin and eosin for nuclei and Congo red for amyloid") == [
        "hematoxylin and eosin for nuclei",
        "Congo red for amyloid",
    ], "an and before the first linking word is inside the first item"


def test_a_comma_with_its_and_still_closes_an_aside_or_a_listed_predicate():
    aside = "Ziehl-Neelsen for acid-fast bacilli, such as mycobacteria, and Grocott for fungi"
    assert paired_items(aside) == ["Ziehl-Neelsen for acid-fast bacilli, such as mycobacteria", "Grocott for fungi"]
    listed = "PAS for glycogen, mucin and cellulose, Grocott for fungi and Ziehl-Neelsen for bacilli"
    assert paired_items(listed) == [
        "PAS for glycogen, mucin and cellulose",
        "Grocott for fungi",
        "Ziehl-Neelsen for bacilli",
    ]


def test_a_word_said_of_one_item_is_not_said_of_a_name_cut_off_the_next():
    """Cut at the "and" of "hematoxylin and eosin", "hematoxylin" stood in PAS's item as near "glycogen" as "PAS"."""
    glycogen = Question("Which stain shows glycogen?", STAINS)
    said = said_of_each(
        glycogen, "Special stains: PAS for glycogen, hematoxylin and eosin for nuclei and Congo red for amyloid."
    )
    assert said[1] == 0.0 < said[0], said


def test_a_predicate_after_the_last_item_is_said_of_every_item():
    shared = "caseating granulomas in the lung and non-caseating granulomas in the nodes show giant cells"
    assert paired_items(shared) == [
        "caseating granulomas in the lung show giant cells",
        "non-caseating granulomas in the nodes show giant cells",
    ]
    auxiliary = "acid-fast bacilli in the lung and fungi in the liver are found within granulomas"
    assert paired_items(auxiliary) == [
        "acid-fast bacilli in the lung are found within granulomas",
        "fungi in the liver are found within granulomas",
    ]


def test_the_shared_predicate_backs_each_item_alike():
    """Read by the last item alone, "show giant cells" was said of non-caseating granulomas only, and the sentence
    settled them for a question both answer."""
    giant = Question("Which granulomas show giant cells?", GRANULOMAS)
    said = said_of_each(
        giant, "Caseating granulomas in the lung and non-caseating granulomas in the nodes show giant cells."
    )
    assert said[0] == said[1] > 0.5, said


def test_an_item_s_own_words_are_no_shared_predicate():
    own = "granulomas in the nodes show giant cells and granulomas in the lungs show necrosis"
    assert paired_items(own) == ["granulomas in the nodes show giant cells", "granulomas in the lungs show necrosis"]
    named = "caseating granulomas in the lung and non-caseating granulomas in the mediastinal lymph nodes"
    assert paired_items(named) == [
        "caseating granulomas in the lung",
        "non-caseating granulomas in the mediastinal lymph nodes",
    ]
    modified = "Ziehl-Neelsen for bacilli and Grocott for fungal cells lining the sinuses"
    assert paired_items(modified) == ["Ziehl-Neelsen for bacilli", "Grocott for fungal cells lining the sinuses"]
    verb = "Perls Prussian blue stains iron deposits and Congo red stains amyloid deposits red"
    assert paired_items(verb) == [
        "Perls Prussian blue stains iron deposits",
        "Congo red stains amyloid deposits red",
    ], "an item linked by a verb is a clause: the words after its object are its own"
