"""What an instructor checks in an answer before handing it to students: each quote reads as the book's sentence,
and the rationale's claims stand on its quotes."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import quote_normalise, split_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Answer, Evidence, Question, Quote
from pathatlas.agent.writing import rationale
from pathatlas.retrieval.records import Citation, Payload

WRAPPED = "Bone, or osseous tissue, is a hard, dense connective tissue that forms most of the adult skeleton, the"
"""A prose line, as the A&P book wraps it near the full width."""


def evidence(eid: str, text: str, rank: int = 1) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def test_a_heading_or_a_sentence_tail_from_the_page_before_is_not_quoted_as_the_next_sentence_start():
    """ "6.1 The Functions of the Skeletal System Bone, or osseous tissue, ..." and "surround the central nervous system
    The four cardinal signs ..." were quoted as one sentence each: the heading's line (and the tail of a sentence
    begun on the page before) ran on into the sentence below it."""
    page = (
        "surround the central nervous system\n"
        "6.1 The Functions of the Skeletal System\n"
        f"{WRAPPED}\n"
        "support structure of the body. Cartilage, a semi-rigid connective tissue, eases movement at the\n"
        "Joints of the ribcage and limbs, where bones meet.\n"
        "Proximal Convoluted Tubule (PCT)\n"
        "Filtered fluid collected by Bowman's capsule enters into the PCT.\n"
    )
    sentences = split_sentences(page)
    assert (
        "Bone, or osseous tissue, is a hard, dense connective tissue that forms most of the adult skeleton, the "
        "support structure of the body." in sentences
    )
    assert {"surround the central nervous system", "6.1 The Functions of the Skeletal System"} <= set(sentences)
    assert "Filtered fluid collected by Bowman's capsule enters into the PCT." in sentences
    assert (
        "Cartilage, a semi-rigid connective tissue, eases movement at the Joints of the ribcage and limbs, where "
        "bones meet." in sentences
    ), "a full-width line before a capital is prose, not a heading"
    assert all(s in quote_normalise(page) for s in sentences)

    question = Question("Which tissue forms most of the adult skeleton?", ["osseous tissue", "cartilage"])
    answer = OfflineAnswerer(encoder=None).answer(question, [evidence("p1", page)])
    assert answer.quotes[0][0].text.startswith("Bone, or osseous tissue"), answer.quotes[0]
    assert "6.1" not in answer.rationale


def test_against_it_quotes_only_a_sentence_that_says_what_is_asked():
    """ "Which process is not a cardinal sign of inflammation?" leaning to fever was argued "Against it: One common
    trigger for this inflammation is rheumatic fever, ...": a sentence naming fever that says nothing of cardinal
    signs does not speak against fever as the answer."""
    question = Question(
        "Which of the following processes is not a cardinal sign of inflammation?", ["redness", "fever"]
    )
    signs = "The four cardinal signs of inflammation are redness, swelling, pain, and local heat."
    trigger = "One common trigger for this inflammation is rheumatic fever, a response to a bacterium."
    answer = OfflineAnswerer(encoder=None).answer(question, [evidence("p1", signs, 1), evidence("p2", trigger, 2)])
    assert answer.letter == "B"
    assert trigger in [q.text for q in answer.quotes[1]], "still listed under the option, as the evidence weighed"
    assert "Against it" not in answer.rationale and "rheumatic" not in answer.rationale

    said = Quote(trigger, evidence("p2", trigger, 2), "contradicts", 0.1, settles=True)  # had it said what is asked
    written = rationale(
        question, read_question(question), Answer(1, "fever", 0.6, scores=[0.4, 0.6], quotes=[[], [said]])
    )
    assert f'Against it: "{trigger}"' in written
