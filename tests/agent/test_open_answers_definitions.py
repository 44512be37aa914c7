"""An open question asking what something is or does quotes the sentence defining it, where the sentences covering the
question as fully as the best include one: a question naming one thing covers its one word in every sentence naming
it, and the first found was quoted ("What do osteoblasts do?" -> "Osteogenic cells ... develop into osteoblasts.").
Evidence is faked: no models."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.questions import Evidence, Question
from pathatlas.agent.writing import defines
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.retrieval.terms import tokenize


def page(evidence_id: str, text: str, rank: int) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def stems(text: str) -> set[str]:
    return set(tokenize([text])[0])


@pytest.mark.parametrize(
    ("question", "mention", "definition"),
    [
        (
            "What do osteoblasts do?",
            "Osteogenic cells are undifferentiated and develop into osteoblasts.",
            "The osteoblast is the bone cell responsible for forming new bone.",
        ),
        (
            "What is an atom?",
            "An atom of carbon is unique to carbon, but a proton of carbon is not.",
            "The smallest unit of an element that retains all of the properties of that element is an atom.",
        ),
        (
            "What is the periosteum?",
            "Tendons and ligaments also attach to bones at the periosteum.",
            "The outer surface of the bone is covered with a fibrous membrane called the periosteum (peri- = around).",
        ),
    ],
)
def test_an_open_question_quotes_the_sentence_defining_what_it_asks_about(question, mention, definition):
    found = [page("p1", mention, 1), page("p2", definition, 2)]
    answer = OfflineAnswerer(encoder=None).answer(Question(question, []), found)
    assert answer.text == definition and answer.cited == ["p2"]


def test_a_definition_of_one_word_of_the_question_is_no_answer_to_it():
    """The diencephalon defined says nothing of which adult structures arise from it."""
    defined = "The diencephalon is the one region of the adult brain that keeps its embryonic name."
    assert not defines(defined, stems("adult structures arise from the diencephalon"))
    assert defines(defined, stems("the diencephalon"))


def test_a_definition_opens_its_clause_after_a_heading_or_closes_it():
    gland = stems("eccrine glands")
    assert defines("Eccrine Gland: An eccrine gland is a coiled gland in the dermis that releases sweat.", gland)
    assert defines("Coiled glands in the dermis that release sweat are called eccrine glands.", gland)
    assert not defines("Eccrine glands release sweat that is mostly water.", gland)
    assert not defines("A sweat gland is a coiled gland in the dermis.", gland)
