"""An answer is not settled while another option has a settling quote of its own (a contested answer), and its rationale
shows that quote (thirty-seventh session: "Which cells resorb bone?" settled on osteoblasts, 0.53, from a fragment
carried over a page break, beside two sentences saying osteoclasts resorb bone)."""

from __future__ import annotations

import pytest

from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Answer, Evidence, Question, Quote
from pathatlas.agent.writing import annotate, rationale, settle
from pathatlas.retrieval.records import Citation, Payload

RESORB = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts"])
FRAGMENT = (
    "undergoes remodeling, in which resorption of old or damaged bone takes place on the same surface where "
    "osteoblasts lay new bone to replace that which is resorbed."
)
OSTEOCLAST = "The cell responsible for bone resorption, or breakdown, is the osteoclast."


def page(eid: str, text: str, rank: int) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


FOUND = [page("p10", OSTEOCLAST, 1), page("p19", FRAGMENT, 7)]


def answered(rival_stance: str, rival_settles: bool, scores: tuple[float, float] = (0.59, 0.41)) -> Answer:
    """Osteoblasts chosen at ``scores[0]`` on the fragment (a settling supporting quote), osteoclasts quoting the
    osteoclast sentence as ``rival_stance``; settled as ``settle`` finds it."""
    own = Quote(FRAGMENT, FOUND[1], "supports", 0.53, settles=True, covers=1.0)
    rival = Quote(OSTEOCLAST, FOUND[0], rival_stance, 1.0, settles=rival_settles, covers=1.0)
    answer = Answer(0, "Osteoblasts", scores[0], scores=list(scores), quotes=[[own], [rival]])
    settle(answer, RESORB, read_question(RESORB), FOUND)
    return answer


def test_a_rival_with_a_settling_supporting_quote_leaves_the_answer_unsettled():
    assert not answered("supports", rival_settles=True).settled
    assert not answered("supports", rival_settles=True, scores=(0.9, 0.1)).settled, "however far the weighing leads"


@pytest.mark.parametrize(
    ("stance", "settles"),
    [("supports", False), ("related", False), ("contradicts", True)],
    ids=["naming-without-saying-what-is-asked", "related", "contradicting"],
)
def test_a_rival_quote_that_does_not_settle_it_leaves_the_answer_settled(stance: str, settles: bool):
    assert answered(stance, rival_settles=settles).settled


def test_a_contested_rationale_leans_to_the_choice_and_shows_the_rivals_quote():
    answer = answered("supports", rival_settles=True)
    written = rationale(RESORB, read_question(RESORB), answer)
    leaning, rival = written.split(" Yet ")
    assert leaning.startswith('The evidence does not settle this; leaning to A. Osteoblasts: "undergoes remodeling')
    assert rival.startswith(f'a sentence says what is asked of B. Osteoclasts: "{OSTEOCLAST}" (book.pdf, p. 1).')
    assert written.count("Osteoblasts") == 1 and written.count("B. Osteoclasts") == 1, "each option named once"


def test_the_rival_shown_is_the_best_scored_of_those_contesting():
    question = Question(
        "Which hormone stimulates osteoclast activity?", ["Calcitonin", "Parathyroid hormone", "Insulin"]
    )
    evidence = [page(f"p{k}", f"Sentence {k} about a hormone and osteoclast activity.", k) for k in (1, 2, 3)]
    quotes = [[Quote(e.text, e, "supports", 0.5, settles=True)] for e in evidence]
    answer = Answer(0, "Calcitonin", 0.57, scores=[0.57, 0.1, 0.33], quotes=quotes)
    settle(answer, question, read_question(question), evidence)
    written = rationale(question, read_question(question), answer)
    assert not answer.settled and "what is asked of C. Insulin: " in written and "B. Parathyroid" not in written


def test_a_contested_exception_shows_the_rival_said_to_be_one_and_ties_only_the_others():
    """A negated question's settling quote says its option is the exception: such a rival is no option the evidence
    ties to the question, and is why the answer is not settled."""
    question = Question("Which cells do NOT resorb bone?", ["Osteoblasts", "Osteoclasts", "Osteocytes"])
    evidence = [
        page("p1", "Osteoblasts do not resorb bone.", 1),
        page("p2", "Osteoclasts resorb bone.", 2),
        page("p3", "Osteocytes do not resorb bone.", 3),
    ]
    stances = ["supports", "contradicts", "supports"]
    quotes = [[Quote(e.text, e, stance, 0.8, settles=True)] for e, stance in zip(evidence, stances, strict=True)]
    answer = Answer(0, "Osteoblasts", 0.6, scores=[0.6, 0.1, 0.3], quotes=quotes)
    reading = read_question(question)
    settle(answer, question, reading, evidence)
    written = rationale(question, reading, answer)
    assert reading.negated and not answer.settled
    assert 'The evidence ties B to the question, e.g. "Osteoclasts resorb bone."' in written, written
    assert written.endswith(
        'Yet a sentence says what is asked of C. Osteocytes: "Osteocytes do not resorb bone." (book.pdf, p. 3).'
    )


def test_an_image_answer_its_own_slide_settles_is_contested_by_no_sentence():
    """The agreeing case's quote says nothing of the question's words (its ``covers`` is 0), so any rival sentence
    naming its option contested an answer the same specimen settled."""
    question = Question("Which diagnosis best fits this slide?", ["Angiosarcoma", "Granuloma"], image="x.png")
    case = Evidence(
        "c1",
        "case",
        "Angiosarcoma of the scalp.",
        Citation("atlas", case="A"),
        1,
        payload=Payload(kind="case", case="A", diagnosis="Angiosarcoma"),
        same_specimen=True,
        ranks={"image": 1},
    )
    rival = "Granuloma is the diagnosis that best fits a nodule of epithelioid macrophages."
    page = Evidence("p1", "page", rival, Citation("book.pdf", page=3), 2, payload=Payload(kind="page"))
    answer = Answer(0, "Angiosarcoma", 0.8, scores=[0.8, 0.2])
    annotate(answer, question, [case, page])
    assert answer.settled, answer.rationale
