"""A sentence that contrasts two names ("X do not ..., but Y do"), names that share a short prefix ("osteo-"), and
what a negation reaches: evidence stances and the co-occurrence feature (thirty-second session)."""

from __future__ import annotations

import numpy as np
import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import contradicts, evidence_sentences, names, option_quotes, score_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.agent.scoring import cooccurrence
from pathatlas.retrieval.records import Citation, Payload

RESORB = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts"])


def evidence(eid: str, text: str, rank: int = 1) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def scored(question: Question, *texts: str):
    """The question's sentence scores over one page per text, ranked as given."""
    found = [evidence(f"p{k}", text, k) for k, text in enumerate(texts, start=1)]
    reading = read_question(question)
    return reading, score_sentences(reading, question.text, question.options, evidence_sentences(found))


def stances(question: Question, text: str) -> list[list[tuple[str, bool]]]:
    """Per option, (stance, settles) of the quotes of one sentence."""
    reading, scores = scored(question, text)
    return [[(q.stance, q.settles) for q in own] for own in option_quotes(reading, question.options, scores)]


def test_names_sharing_only_a_short_prefix_are_different_names():
    """ "osteo-" opens osteoblast, osteoclast and osteocyte: the first five letters alone made each name the others."""
    assert not names({"osteoclast"}, {"osteoblast"}) and not names({"osteocyt"}, {"osteoclast"})
    assert not names({"sens"}, {"sensori"}), "sensing is not sensory"
    assert names({"pupillari"}, {"pupil"}) and names({"pupil"}, {"pupillari"}), "a word and its own longer form"


def test_a_negation_reaches_the_name_it_negates_only():
    said = "Osteoclasts, not osteoblasts, resorb bone."
    assert contradicts(said, {"osteoblast"}) and not contradicts(said, {"osteoclast"})
    unlike = "Unlike osteoblasts, osteoclasts resorb bone."
    assert contradicts(unlike, {"osteoblast"}) and not contradicts(unlike, {"osteoclast"})


def test_a_contrasting_sentence_speaks_against_the_first_name_and_for_the_second():
    """ "Osteoblasts do not resorb bone, but osteoclasts do": the negation is said of the name before it, and stops at
    the clause; the second clause says the first one's predicate of its own name."""
    said = "Osteoblasts do not resorb bone, but osteoclasts do."
    assert contradicts(said, {"osteoblast"}) and not contradicts(said, {"osteoclast"})
    assert stances(RESORB, said) == [[("contradicts", True)], [("supports", True)]]
    turned = "Osteoclasts resorb bone, but osteoblasts do not."
    assert stances(RESORB, turned) == [[("contradicts", True)], [("supports", True)]]
    assert not contradicts("Osteoblasts are not only bone builders; they signal to osteoclasts.", {"osteoblast"})


def test_a_sentence_saying_an_option_does_not_do_what_is_asked_lends_it_no_co_occurrence():
    reading, scores = scored(RESORB, "Osteoblasts do not resorb bone, but osteoclasts do.")
    assert cooccurrence(scores).tolist() == [0.0, pytest.approx(1.0)]
    reading, scores = scored(RESORB, "Osteoblasts do not resorb bone.", "Osteoclasts line the bone surface.")
    assert cooccurrence(scores)[0] == 0.0


def test_the_contrasting_sentence_answers_the_second_name():
    found = [evidence("p1", "Osteoblasts do not resorb bone, but osteoclasts do.")]
    answer = OfflineAnswerer(encoder=None).answer(RESORB, found)
    assert answer.letter == "B" and np.argmax(answer.scores) == 1


def test_a_question_read_plainly_on_its_evidence_takes_a_denial_of_its_property_as_support():
    """ "Which muscle is not under voluntary control?" is read plainly when the evidence denies the property of one
    option (``read_with_evidence``): "Smooth muscle is not under voluntary control" then says what is asked of smooth
    muscle, and "Skeletal muscle is under voluntary control" speaks against skeletal muscle."""
    question = Question("Which muscle is not under voluntary control?", ["skeletal muscle", "smooth muscle"])
    found = [
        evidence("p1", "Smooth muscle is not under voluntary control; thus, it is called involuntary muscle.", 1),
        evidence("p2", "Skeletal muscle is under voluntary control when we decide to move.", 2),
    ]
    answer = OfflineAnswerer(encoder=None).answer(question, found)
    assert [[(q.evidence.id, q.stance) for q in own] for own in answer.quotes] == [
        [("p2", "contradicts")],
        [("p1", "supports")],
    ]
    assert answer.letter == "B" and answer.settled
