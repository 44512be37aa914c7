"""A quote shown under an option says what it is about: the sentence quoted for a chosen option that no sentence
names (an exception's evidence, or the nearest sentence) names the options it does name (``about`` in the answer
document), and the rationale does not present it as a sentence about the choice. Evidence is faked: no models."""

from __future__ import annotations

from pathatlas.agent.graph import answer_document
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.agent.writing import annotate
from pathatlas.retrieval.records import Citation, Payload


def page(evidence_id: str, text: str, rank: int) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def answered(question: Question, choice: int, found: list[Evidence]) -> dict:
    """The answer document for ``choice`` (a fixed, unsure choice: what is quoted is the point, not the answerer)."""
    scores = [0.4 if j == choice else 0.6 / (len(question.options) - 1) for j in range(len(question.options))]
    answer = Answer(choice, question.options[choice], 0.4, scores=scores)
    annotate(answer, question, found)
    return answer_document(question, answer, found, [])


def test_an_exception_quoted_from_the_other_options_names_them():
    """ "All of the following play a role in calcium homeostasis except": thyroxine was shown a "supports" quote
    naming calcitonin, parathyroid hormone and vitamin D, and the rationale said "On A: <that sentence>"."""
    question = Question(
        "All of the following play a role in calcium homeostasis except",
        ["thyroxine", "calcitonin", "parathyroid hormone", "vitamin D"],
    )
    others = "Calcium homeostasis is controlled by parathyroid hormone, vitamin D, and calcitonin together."
    found = [page("p1", "Calcitonin inhibits osteoclast activity and stimulates calcium uptake by bones.", 1)]
    found.append(page("p2", others, 2))
    document = answered(question, 0, found)
    (shown,) = document["options"][0]["evidence"]
    assert shown["quote"] == others and shown["stance"] == "supports"
    assert shown["about"] == ["B", "C", "D"], "the quote under A names B, C and D"
    assert f'On A: "{others}' not in document["rationale"]
    assert f'On A, a sentence naming B, C, D and not A: "{others}' in document["rationale"]
    named = [q for option in document["options"][1:] for q in option["evidence"]]
    assert named and all(q["about"] is None for q in named), "a quote found by naming its option needs no label"


def test_the_nearest_sentence_to_an_unnamed_choice_names_what_it_is_about():
    question = Question("Which of the following is a bone of the forearm?", ["radius", "femur", "tibia"])
    femur = "The femur is the longest bone and is found in the thigh; the forearm holds two bones."
    document = answered(question, 0, [page("p1", femur, 1)])
    (shown,) = document["options"][0]["evidence"]
    assert shown["stance"] == "related" and shown["about"] == ["B"]
    assert document["rationale"].endswith("(book.pdf, p. 1), which names B.")

    nameless = "The forearm holds two long bones side by side."
    document = answered(question, 0, [page("p1", nameless, 1)])
    (shown,) = document["options"][0]["evidence"]
    assert shown["about"] == [] and "which names" not in document["rationale"]


def test_every_door_shows_what_such_a_quote_names():
    """``about`` reached ``ask --json`` and MCP, but REST's model dropped it and the printed answer showed a bare
    "supports" under A for a sentence about B, C and D."""
    from pathatlas.ui.api.schemas import AskResponse, Links
    from pathatlas.ui.cli import console, print_answer
    from pathatlas.ui.present import quote_about

    question = Question(
        "All of the following play a role in calcium homeostasis except",
        ["thyroxine", "calcitonin", "parathyroid hormone", "vitamin D"],
    )
    others = "Calcium homeostasis is controlled by parathyroid hormone, vitamin D, and calcitonin together."
    document = answered(question, 0, [page("p1", others, 1)])
    placed = [q["citation"] for o in document["options"] for q in o["evidence"]] + document["citations"]
    for citation in placed:  # as ``answer_record`` places them (its store lookups are not the point here)
        citation["record"] = citation["evidence"]
    rest = AskResponse.of({**document, "options_from_question": False}, Links()).model_dump()
    assert rest["options"][0]["evidence"][0]["about"] == ["B", "C", "D"]
    with console.capture() as captured:
        print_answer(document)
    assert '(names B, C, D) "Calcium homeostasis' in " ".join(captured.get().split())
    assert quote_about({"about": []}, "A") == "names no option"
    assert quote_about({"about": ["A", "B"]}, "A") == quote_about({}, "A") == ""


def test_an_unsettled_choice_no_sentence_names_claims_at_most_the_unnamed_confidence():
    """Image questions answered with no quoted sentence naming the choice were right a third of the time at confidence
    0.66-0.76; such an answer now claims at most ``UNNAMED_CONFIDENCE``, and one a sentence names keeps its own."""
    from pathatlas.agent.questions import Answer, Evidence, Question, Quote
    from pathatlas.agent.writing import UNNAMED_CONFIDENCE, annotate
    from pathatlas.retrieval.records import Citation

    question = Question("Which cells secrete mucus in the airway?", ["Goblet cells", "Clara cells"])
    evidence = [Evidence("e1", "page", "Goblet cells secrete mucus.", Citation("book.pdf", page=1), 1)]

    def answered(about):
        quote = Quote("Goblet cells secrete mucus.", evidence[0], "supports", 0.9, settles=about is None, about=about)
        answer = Answer(1, "Clara cells", 0.87, scores=[0.13, 0.87], quotes=[[], [quote]])
        annotate(answer, question, evidence)
        return answer

    unnamed = answered((0,))  # the nearest sentence names A, not the choice B
    assert not unnamed.settled and unnamed.confidence == UNNAMED_CONFIDENCE
    named = answered(None)
    assert named.confidence == 0.87, "a choice a sentence names keeps its confidence"
