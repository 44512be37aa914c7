"""The subject of a negation in evidence sentences: a negated verb speaks against its whole subject (across an aside,
a relative pronoun, a compound), and a contrast's other side ("but Z do", "not X but Z", "Although X do not
..., Z do") is not negated (thirty-sixth session)."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import contradicts
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

RESORB = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts", "Osteocytes", "Chondrocytes"])


def evidence(text: str) -> Evidence:
    return Evidence("p1", "page", text, Citation("book.pdf", page=1), 1, payload=Payload(kind="page"))


@pytest.mark.parametrize(
    "said",
    [
        "Osteoblasts, the bone-forming cells, do not resorb bone.",
        "Osteoblasts, which build bone, do not resorb it.",
        "Osteoblasts (the bone-forming cells) do not resorb bone.",
        "Osteoblasts and chondrocytes do not resorb bone.",
        "Bone is laid down by osteoblasts that cannot resorb it.",
    ],
)
def test_a_negated_verb_speaks_against_its_whole_subject(said):
    assert contradicts(said, {"osteoblast"})


def test_every_name_of_a_compound_subject_is_negated():
    said = "Osteoblasts, osteocytes and chondrocytes do not resorb bone."
    assert all(contradicts(said, {name}) for name in ("osteoblast", "osteocyt", "chondrocyt"))
    assert not contradicts("In the embryo, osteoblasts do not resorb bone.", {"embryo"}), "a comma alone joins none"


@pytest.mark.parametrize(
    "said",
    [
        "Osteoblasts do not resorb bone but osteoclasts do.",
        "It is not osteoblasts but osteoclasts that resorb bone.",
        "Bone is not resorbed by osteoblasts but by osteoclasts.",
        "Osteoblasts do not resorb bone, though osteoclasts do.",
        "Osteoblasts do not resorb bone, yet osteoclasts do.",
        "Although osteoblasts do not resorb bone, osteoclasts do.",
        "While osteoblasts do not resorb bone, osteoclasts do.",
    ],
)
def test_a_negation_stops_at_the_other_side_of_a_contrast(said):
    assert contradicts(said, {"osteoblast"}) and not contradicts(said, {"osteoclast"})


def test_not_only_and_unlike_a_negated_clause_deny_nothing():
    """ "not only X but also Y" adds to X; "Unlike X, Y do not ..." says X does."""
    assert not contradicts("Osteoclasts not only resorb bone but also signal to osteoblasts.", {"osteoclast"})
    assert not contradicts("Unlike osteoclasts, osteoblasts do not resorb bone.", {"osteoclast"})
    assert contradicts("Unlike osteoblasts, osteoclasts resorb bone.", {"osteoblast"}), "a plain clause still does"


@pytest.mark.parametrize(
    "said",
    [
        "Osteoblasts do not resorb bone but osteoclasts do.",
        "Osteoblasts, the bone-forming cells, do not resorb bone, but osteoclasts do.",
        "Bone is not resorbed by osteoblasts but by osteoclasts.",
        "It is not osteoblasts but osteoclasts that resorb bone.",
        "Although osteoblasts do not resorb bone, osteoclasts do.",
        "Osteoblasts do not resorb bone, though osteoclasts do.",
    ],
)
def test_the_answer_is_the_name_the_contrast_affirms(said):
    answer = OfflineAnswerer(encoder=None).answer(RESORB, [evidence(said)])
    assert answer.letter == "B"
    assert [q.stance for q in answer.quotes[0]] == ["contradicts"]
    assert [q.stance for q in answer.quotes[1]] == ["supports"]
