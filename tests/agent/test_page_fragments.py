"""A page's text opening mid-sentence was quoted as a sentence (thirty-seventh session, on chapter 6 of the A&P book):
"undergoes remodeling, in which resorption ... where osteoblasts lay new bone" for osteoblasts resorbing bone."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import split_sentences, whole_sentences
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

PAGE_TOP = (
    "undergoes remodeling, in which resorption of old or damaged bone takes place on the same surface\n"
    "where osteoblasts lay new bone to replace that which is resorbed. Injury, exercise, and other activities\n"
    "lead to remodeling."
)
"""The A&P book's page 183 as the index stores it: its sentence begins on page 182."""
OSTEOCLAST = "The cell responsible for bone resorption, or breakdown, is the osteoclast."


def page(text: str, rank: int = 1) -> Evidence:
    return Evidence(f"p{rank}", "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def test_a_text_opening_mid_sentence_quotes_none_of_that_sentence():
    assert whole_sentences(PAGE_TOP) == ["Injury, exercise, and other activities lead to remodeling."]
    assert len(split_sentences(PAGE_TOP)) == 2, "split off, only not quoted"
    passage = "old bone, while osteoclasts break it down. Osteoblasts lay down new bone in its place."
    assert whole_sentences(passage) == ["Osteoblasts lay down new bone in its place."], "a long block cut mid-sentence"
    tail = "down. Osteoclasts resorb bone in the remodeling process."
    assert whole_sentences(tail) == ["Osteoclasts resorb bone in the remodeling process."], "too short to be quoted"


@pytest.mark.parametrize(
    "opening",
    [
        "pH of the blood stays near 7.4 in health.",
        "mRNA carries the code to the ribosome.",
        "p53 is a tumour suppressor that halts the cell cycle.",
        "von Willebrand disease is the most common inherited bleeding disorder.",
        "• osteoclasts resorb bone in the remodeling process.",
        "Osteoclasts resorb bone in the remodeling process.",
    ],
    ids=["lower-case-name", "lower-case-acronym", "digits", "name-particle", "bulleted-item", "capital"],
)
def test_a_text_opening_a_sentence_keeps_it(opening: str):
    assert whole_sentences(f"{opening} Osteoblasts build bone.")[0] == opening


def test_a_carried_over_fragment_is_not_quoted_for_an_option():
    question = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts"])
    answer = OfflineAnswerer(encoder=None).answer(question, [page(OSTEOCLAST, 1), page(PAGE_TOP, 2)])
    assert answer.letter == "B"
    assert all(not quote.text.startswith("undergoes") for quotes in answer.quotes for quote in quotes)


def test_a_one_sentence_text_written_lower_case_keeps_it():
    """A slide's or a note's line written lower-case is all it says."""
    assert whole_sentences("koilocytes show a perinuclear halo and a wrinkled nucleus.") == [
        "koilocytes show a perinuclear halo and a wrinkled nucleus."
    ]
