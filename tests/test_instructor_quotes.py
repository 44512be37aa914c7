"""What an instructor checks in an answer before handing it to students: each quote reads as the book's sentence,
and the rationale's claims stand on its quotes."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Answer, Evidence, Question, Quote
from pathatlas.agent.writing import rationale
from pathatlas.retrieval.records import Citation, Payload


def evidence(eid: str, text: str, rank: int = 1) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


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
