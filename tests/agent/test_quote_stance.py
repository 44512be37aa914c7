"""The stance an answer shows for each quote: a sentence that names an option without saying what is asked settles
nothing, so it is shown as related, not as supporting that option; how the answer is written is unchanged. Evidence
is faked: no models."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.graph import answer_document
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

BONE = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts", "Chondrocytes"])
BOTH = "Osteoclasts are continually breaking down old bone while osteoblasts are continually forming new bone."


def page(evidence_id: str, text: str, rank: int) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def shown(question: Question, found: list[Evidence]) -> tuple[dict, dict[tuple[str, str], str]]:
    """The answer document, and each quote's shown stance by (option label, quote)."""
    document = answer_document(question, OfflineAnswerer(encoder=None).answer(question, found), found, [])
    stances = {(o["label"], q["quote"]): q["stance"] for o in document["options"] for q in o["evidence"]}
    return document, stances


def test_a_sentence_naming_an_option_without_saying_what_is_asked_is_related():
    """ "Osteoclasts ... breaking down old bone while osteoblasts ... forming new bone" was a green "supports" under
    the wrong option Osteoblasts: it names it and says "bone", not what resorbs it."""
    said = "Osteoclasts resorb the dead bone of a fracture."
    document, stances = shown(BONE, [page("p1", BOTH, 1), page("p2", said, 2)])
    assert stances[("A", BOTH)] == "related" and stances[("B", BOTH)] == "related"
    assert stances[("B", said)] == "supports", "a sentence saying what is asked of its option supports it"
    assert document["choice"] == 1 and document["settled"]


def test_an_unsettled_choice_shows_its_sentence_as_related_and_still_leans_on_it():
    """Only the stance shown changes: the rationale still quotes the sentence naming the choice (read as related,
    the answer had quoted a nearest sentence instead). ``BOTH`` says "bone" once in each option's clause, a tie alone;
    a third sentence naming osteoclasts and bone, no more, makes the lean."""
    compact = "Compact bone is dense bone that forms the outer layer of every bone."
    surfaces = "Osteoclasts are found on bone surfaces."
    document, stances = shown(BONE, [page("p1", BOTH, 1), page("p2", compact, 2), page("p3", surfaces, 3)])
    assert set(stances.values()) == {"related"} and not document["settled"]
    letter = "AB"[document["choice"]]
    assert f'leaning to {letter}. {BONE.options[document["choice"]]}: "{BOTH}"' in document["rationale"]


def test_the_quote_saying_most_of_what_is_asked_supports_its_option_though_it_does_not_settle():
    """Shown as related whenever it settled nothing, the one sentence answering a long question stem ("Ligaments and
    tendons are made of dense regular connective tissue", a third of the stem's words) was as grey as every other
    option's; a sentence as good under another option (the same one naming both) still shows neither."""
    from pathatlas.agent.evidence import shown_stances
    from pathatlas.agent.questions import Quote

    def quote(covers: float, text: str = "s") -> Quote:
        return Quote(text, page("p", text, 1), "supports", 0.1, settles=covers >= 0.5, covers=covers)

    assert shown_stances([[quote(0.1)], [quote(0.34), quote(0.2)], [quote(0.3)]]) == [
        ["related"],
        ["supports", "related"],
        ["related"],
    ]
    assert shown_stances([[quote(0.34)], [quote(0.34)]]) == [["related"], ["related"]], "a tie says nothing"
    assert shown_stances([[quote(0.2)], []]) == [["related"], []], "too little of the question to support"
    assert shown_stances([[quote(0.6), quote(0.3)], [quote(0.55)]]) == [["supports", "related"], ["supports"]]
