"""An inability said of an option ("incapable of", "unable to", "fail to", "lack the ability to") denies it as "cannot"
does: "If osteoblasts and osteocytes are incapable of mitosis, then how are they replenished when old ones die?" (A&P
p. 174) was a green "supports" under osteocytes for "Which of the following cells are capable of undergoing mitosis?"
(forty-sixth session). A negated question flips it as any negation; a question asking the inability itself is
answered by it. A question of the book is shown supporting nothing, as it asserts nothing. Evidence is faked: no
models."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import shown_stances
from pathatlas.agent.graph import answer_document
from pathatlas.agent.plan import asked_inability, is_negated, read_question
from pathatlas.agent.questions import Evidence, Question, Quote
from pathatlas.retrieval.records import Citation, Payload

OPTIONS = ["osteoblasts", "osteoclasts", "osteocytes", "osteogenic cells"]
CAPABLE = "Which of the following cells are capable of undergoing mitosis?"
NOT_CAPABLE = "Which of the following cells are not capable of undergoing mitosis?"
BOOK = "If osteoblasts and osteocytes are incapable of mitosis, then how are they replenished when old ones die?"
INABILITIES = [
    "Osteocytes are incapable of mitosis.",
    "Osteocytes are unable to undergo mitosis.",
    "Osteocytes fail to undergo mitosis.",
    "Osteocytes lack the ability to undergo mitosis.",
    "Osteocytes cannot undergo mitosis.",
    "Osteocytes can\u2019t undergo mitosis.",
    "Osteocytes are not able to undergo mitosis.",
    "Osteocytes are no longer able to undergo mitosis.",
    "The inability of osteocytes to undergo mitosis limits bone repair.",
    "The incapacity of osteocytes for mitosis limits bone repair.",
]
ASKING_INABILITY = [
    "Which of the following cells are incapable of mitosis?",
    "Which of the following cells are unable to undergo mitosis?",
    "Which of the following cells fail to undergo mitosis?",
    "Which of the following cells lack the ability to undergo mitosis?",
]


def page(text: str) -> Evidence:
    return Evidence("p1", "page", text, Citation("book.pdf", page=174), 1, payload=Payload(kind="page"))


def stances(question: str, said: str) -> dict[str, str]:
    """Each option's shown stance (as every door shows it, ``answer_document``) of the one sentence found."""
    asked = Question(question, OPTIONS)
    found = [page(said)]
    document = answer_document(asked, OfflineAnswerer(encoder=None).answer(asked, found), found, [])
    return {o["text"]: q["stance"] for o in document["options"] for q in o["evidence"] if q["quote"] == said}


def test_the_book_question_sentence_no_longer_supports_the_cells_it_says_cannot_divide():
    shown = stances(CAPABLE, BOOK)
    assert shown["osteocytes"] == "contradicts" and shown["osteoblasts"] == "contradicts"


@pytest.mark.parametrize("said", INABILITIES)
def test_an_inability_contradicts_its_option_for_a_question_asking_the_ability(said):
    assert stances(CAPABLE, said)["osteocytes"] == "contradicts"


@pytest.mark.parametrize("said", INABILITIES)
def test_a_negated_question_flips_it(said):
    """ "Which ... are not capable of ...?" asks for the exception, which the inability names."""
    assert stances(NOT_CAPABLE, said)["osteocytes"] == "supports"


def test_an_inability_reaches_only_its_own_subject_and_words():
    """Past its reach (``NEGATION_REACH``) the osteogenic cells named at the sentence's end are not denied."""
    said = "Osteocytes are unable to divide, so lost bone cells are replaced through the mitosis of osteogenic cells."
    shown = stances(CAPABLE, said)
    assert shown["osteocytes"] == "contradicts" and shown["osteogenic cells"] != "contradicts"


def test_a_cannot_said_of_other_cells_leaves_the_option_before_it():
    said = "Osteogenic cells undergo mitosis in the periosteum, as the mature bone cells cannot divide."
    assert stances(CAPABLE, said)["osteogenic cells"] == "supports"


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("Which of the following cells are incapable of mitosis?", "Osteocytes are incapable of mitosis."),
        ("Which of the following cells are unable to undergo mitosis?", "Osteocytes are unable to undergo mitosis."),
    ],
)
def test_a_question_asking_the_inability_is_answered_by_it(question, said):
    """The plan reads an asked inability plainly (``plan.asked_inability``), so the sentence saying it of an option
    says what is asked."""
    assert stances(question, said)["osteocytes"] == "supports"


@pytest.mark.parametrize("question", ASKING_INABILITY)
@pytest.mark.parametrize("said", INABILITIES)
def test_an_asked_inability_is_answered_by_any_wording_of_it(question, said):
    """An inability worded otherwise than the question's was read as a denial of what it asks: "Osteocytes cannot
    undergo mitosis" spoke against osteocytes for "Which ... are unable to undergo mitosis?"."""
    assert stances(question, said)["osteocytes"] == "supports"


@pytest.mark.parametrize("question", ASKING_INABILITY)
def test_an_asked_inability_is_spoken_against_by_the_ability(question):
    """The inability is what is asked: a sentence saying an option does it says the option is not the answer (it
    backed osteoblasts for "Which ... are unable to undergo mitosis?")."""
    said = "Osteoblasts undergo mitosis in the periosteum, but osteocytes cannot undergo mitosis."
    shown = stances(question, said)
    assert shown["osteoblasts"] == "contradicts" and shown["osteocytes"] == "supports"


@pytest.mark.parametrize(
    ("question", "negated", "asked"),
    [
        ("Which cells fail to divide?", False, "divide"),
        ("Which of the following cells are incapable of mitosis?", False, "mitosis"),
        ("Which of the following is unable to cross the placenta?", False, "cross the placenta"),
        ("Which cells lack the ability to divide?", False, "divide"),
        ("Cells that are unable to divide are called ___.", False, "divide"),
        ("Which cells cannot divide?", True, ""),
        ("Which cells are not able to divide?", True, ""),
        ("Which of these descriptions fails to fit the spleen?", True, ""),
        ("A patient who is unable to climb stairs most likely has weakness of which muscle?", False, ""),
    ],
)
def test_the_plan_reads_an_asked_inability_plainly(question, negated, asked):
    """One reading in the plan and the evidence: an inability the asking sentence's main clause asks is a plain
    question whose predicate is the inability ("Which cells fail to divide?" was negated, "... are unable to divide?"
    plain); one asked with a negation word, or failing to fit what the question names, is negated."""
    assert (is_negated(question), asked_inability(question)) == (negated, asked)


def test_an_asked_inability_leaves_the_focus():
    """The focus is what a sentence says of the right option before its negation is read: "divide"."""
    assert read_question(Question("Which cells lack the ability to divide?", OPTIONS)).focus == "Which cells divide?"
    verdict = "Are osteocytes unable to divide?"
    assert read_question(Question(verdict, ["Yes", "No"])).focus == verdict, "a verdict's statement is kept whole"


SATELLITE = "From what structure do satellite cells derive during embryologic development?"


def test_a_question_of_the_book_is_shown_supporting_no_option():
    """p. 445's question was a green "supports" under satellite cells for "From which embryonic cell type does muscle
    tissue develop?" (a dev question; the answer is myoblasts)."""
    question = Question(
        "From which embryonic cell type does muscle tissue develop?",
        ["ganglion cells", "myotube cells", "myoblast cells", "satellite cells"],
    )
    found = [page(SATELLITE)]
    document = answer_document(question, OfflineAnswerer(encoder=None).answer(question, found), found, [])
    assert [q["stance"] for q in document["options"][3]["evidence"]] == ["related"]


def test_a_question_does_not_outdo_another_option_s_statement():
    def quote(text: str, covers: float) -> Quote:
        return Quote(text, page(text), "supports", 0.1, settles=False, covers=covers)

    statement = quote("Somites give rise to myoblasts and fuse to form a myotube.", 0.3)
    assert shown_stances([[quote(SATELLITE, 0.6)], [statement]]) == [["related"], ["supports"]]
    assert shown_stances([[quote(BOOK, 0.6)], [statement]]) == [["supports"], ["related"]], (
        "a question speaks through the negation it takes as given (for its option as a negated question's exception)"
    )
