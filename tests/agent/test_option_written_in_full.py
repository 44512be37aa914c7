"""A sentence that writes one option in full does not name another by a word the two share (forty-second session, a
reviewer's tuberculosis notes): "Parenchymal lesion + Nodal involvement → Ghon complex" was quoted for "Ghon focus",
through "Ghon", and the answer leant to "Ghon focus", whose "Ghon" stood nearer the question's words. Evidence is
faked and no encoder is loaded: which sentence names which option is the point."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import evidence_sentences, score_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload, slide_label

GHON = Question(
    "In primary tuberculosis, the combination of the parenchymal lesion and the involved hilar lymph nodes is called "
    "the:",
    ["Ghon focus", "Ghon complex", "Simon focus", "Assmann focus"],
)
COMPLEX = "Parenchymal lesion + Nodal involvement → Ghon complex"
FOCUS = "Center of this focus undergoes caseous necrosis"
"""A sentence on the same slide saying "focus" alone, so that "Ghon" is most of what names "Ghon focus"."""


def page(evidence_id: str, text: str, rank: int) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def slide(evidence_id: str, heading: str, text: str, rank: int) -> Evidence:
    """A slide of lecture notes headed ``heading``, whose bullets the answerer reads as holding its words."""
    citation = Citation("notes.qmd", page=rank, page_label=slide_label(rank))
    payload = Payload(kind="page", section=f"Tuberculosis > {heading}")
    return Evidence(evidence_id, "page", text, citation, rank, payload=payload)


def named_first(question: Question, evidence: list[Evidence]) -> list[bool]:
    """Per option, whether the first evidence item's sentence names it."""
    scores = score_sentences(read_question(question), question.text, question.options, evidence_sentences(evidence))
    return [scores.names(j, 0) for j in range(len(question.options))]


def test_a_word_of_an_option_written_in_full_names_no_option_sharing_it():
    assert named_first(GHON, [page("p1", COMPLEX, 1), page("p2", FOCUS, 2)]) == [False, True, False, False]


def test_the_option_written_in_full_is_answered_and_quoted():
    answer = OfflineAnswerer(encoder=None).answer(GHON, [page("p1", COMPLEX, 1), page("p2", FOCUS, 2)])
    assert answer.letter == "B", answer.scores
    assert [q.text for q in answer.quotes[1]] == [COMPLEX]
    assert COMPLEX not in [q.text for q in answer.quotes[0]]


def test_a_sentence_writing_both_options_in_full_names_both():
    both = "The Ghon focus and the involved nodes together are the Ghon complex"
    assert named_first(GHON, [page("p1", both, 1), page("p2", FOCUS, 2)]) == [True, True, False, False]


def test_a_shared_word_outside_the_other_name_still_counts():
    """Only the places the other option's name holds are its own: a "Ghon" and a "focus" of their own still name
    "Ghon focus"."""
    apart = "The Ghon lesion is a focus under the pleura; with its nodes it makes the Ghon complex"
    assert named_first(GHON, [page("p1", apart, 1), page("p2", FOCUS, 2)]) == [True, True, False, False]


def test_a_longer_option_holds_the_shorter_option_within_it():
    """ "Ghon complex calcifies" writes "Ghon complex" in full and "Ghon" in full: the longer name holds the word."""
    question = Question("What does the primary lesion with its nodes become?", ["Ghon", "Ghon complex", "Ranke"])
    calcifies = "The Ghon complex calcifies over the years"
    assert named_first(question, [page("p1", calcifies, 1)]) == [False, True, False]


def test_a_slide_heading_writing_an_option_in_full_names_no_option_sharing_its_word():
    """A bullet holds its slide's heading (thirty-ninth session): a heading "Ghon complex" is no "Ghon" of "Ghon
    focus"."""
    bullet = slide("s1", "Ghon complex", "Parenchymal lesion with the involved hilar nodes", 1)
    assert named_first(GHON, [bullet, page("p2", FOCUS, 2)]) == [False, True, False, False]
