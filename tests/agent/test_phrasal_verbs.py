"""A phrasal verb in a question is one thing asked: "Which cells break down bone?" was answered A. osteoblasts, settled,
on "supports" quotes saying "the broken bone ... around the outside of the break" (a fracture) and bone osteoblasts
"lay down" (the opposite). A sentence covers "break down" only by saying it (or "breakdown"). Evidence is faked: no
models."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import asked_words
from pathatlas.agent.graph import answer_document
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

BREAK_DOWN = Question("Which cells break down bone?", ["osteoblasts", "osteoclasts", "osteocytes"])
FRACTURE = (
    "Within about 48 hours after the fracture, chondrocytes secrete a fibrocartilaginous matrix between the two ends "
    "of the broken bone, while osteoblasts create an external callus around the outside of the break."
)
LAY_DOWN = "The osteoblasts try to compensate but the new bone they lay down is weak and brittle."
RESORB = "Over the next several weeks, osteoclasts resorb the dead bone."


def page(evidence_id: str, text: str, rank: int) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def shown(question: Question, texts: list[str]) -> tuple[dict, dict[tuple[str, str], str]]:
    """The answer document from pages of ``texts`` (ranked in order), and each quote's shown stance by (option label,
    quote)."""
    found = [page(f"p{rank}", text, rank) for rank, text in enumerate(texts, start=1)]
    document = answer_document(question, OfflineAnswerer(encoder=None).answer(question, found), found, [])
    stances = {(o["label"], q["quote"]): q["stance"] for o in document["options"] for q in o["evidence"]}
    return document, stances


def test_a_phrasal_verb_is_asked_as_one_word():
    assert asked_words(BREAK_DOWN.text) == {"breakdown", "bone"}
    assert asked_words("Which cells lay down new bone?") == {"laydown", "new", "bone"}
    assert asked_words("Which cells break bone?") == {"break", "bone"}, "no particle, no phrase"


def test_a_broken_bone_or_bone_laid_down_says_nothing_of_what_breaks_bone_down():
    document, stances = shown(BREAK_DOWN, [FRACTURE, LAY_DOWN, RESORB])
    assert stances[("A", FRACTURE)] == "related" and stances[("A", LAY_DOWN)] == "related", stances
    assert not (document["choice"] == 0 and document["settled"]), "osteoblasts settled on a fracture and its opposite"


def test_a_sentence_saying_the_phrase_or_its_compound_settles_its_option():
    breaking = "Osteoclasts are continually breaking down old bone."
    breakdown = "The cell responsible for bone resorption, or breakdown, is the osteoclast."
    for said in (breaking, breakdown):
        document, stances = shown(BREAK_DOWN, [FRACTURE, LAY_DOWN, said])
        assert stances[("B", said)] == "supports", (said, stances)
        assert document["choice"] == 1 and document["settled"], document["rationale"]
