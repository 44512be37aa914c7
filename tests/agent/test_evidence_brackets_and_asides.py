"""Which option a quote's words are said of: a bracketed clause speaks for the name just before it, and a negated
aside ("X, not Y, ...") for no option outside it (thirty-first session)."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import asides, evidence_sentences, score_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

ISLET_CELLS = ["alpha cells", "beta cells", "delta cells", "PP cells"]
BONE_CELLS = ["osteoblasts", "osteoclasts", "osteocytes"]
PRODUCED = [
    "Many glands produce hormones that travel in the blood.",
    "The liver produces bile and plasma proteins.",
]
"""Sentences that give "produce" the weight a common verb has among real evidence."""


def page(eid: str, text: str, rank: int) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def found(*texts: str) -> list[Evidence]:
    return [page(f"p{rank}", text, rank) for rank, text in enumerate(texts, start=1)]


def said(question: Question, evidence: list[Evidence]) -> list[float]:
    """How much of what is asked the first sentence says of each option."""
    scores = score_sentences(read_question(question), question.text, question.options, evidence_sentences(evidence))
    return [scores.said(j, 0) for j in range(len(question.options))]


def test_a_bracketed_clause_speaks_for_the_name_just_before_it():
    """A tester's "Which cells produce insulin?" came back alpha cells, settled: "insulin" stood nearer "alpha cells"
    than "beta cells" in "Beta cells (which produce insulin) and alpha cells (which produce glucagon) ..."."""
    question = Question("Which cells produce insulin?", ISLET_CELLS)
    islets = "Beta cells (which produce insulin) and alpha cells (which produce glucagon) lie in the islets."
    evidence = found(islets, *PRODUCED)
    answer = OfflineAnswerer(encoder=None).answer(question, evidence)
    assert answer.letter == "B"
    assert not any(quote.settles for quote in answer.quotes[0]), "alpha cells produce glucagon, not insulin"


def test_the_name_before_a_bracket_is_what_its_clause_says_of():
    """The book's "the secretion of insulin (produced by beta cells) and glucagon (produced by alpha cells)" said
    "glucagon" of beta cells as much as of alpha cells (two words from each), settling both for "Which cells produce
    glucagon?"."""
    question = Question("Which cells produce glucagon?", ISLET_CELLS)
    book = (
        "Its endocrine function involves the secretion of insulin (produced by beta cells) and glucagon (produced by "
        "alpha cells) within the pancreatic islets."
    )
    alpha, beta, *_ = said(question, found(book, *PRODUCED))
    assert alpha == 1.0 and beta < 0.5
    answer = OfflineAnswerer(encoder=None).answer(question, found(book, *PRODUCED))
    assert answer.letter == "A" and not any(quote.settles for quote in answer.quotes[1])


def test_a_negated_aside_says_nothing_of_the_sentence_around_it():
    """ "Osteoclasts, not osteoblasts, resorb bone" said "resorb bone" of osteoblasts, the option standing nearer."""
    question = Question("Which cells resorb bone?", BONE_CELLS)
    for text in (
        "Osteoclasts, not osteoblasts, resorb bone.",
        "It is the osteoclast, not the osteoblast, that resorbs bone.",
    ):
        assert said(question, found(text, *PRODUCED))[:2] == [0.0, 1.0], text
        assert OfflineAnswerer(encoder=None).answer(question, found(text, *PRODUCED)).letter == "B", text


def test_the_name_before_a_bracket_still_speaks_in_its_clause():
    """The name is read with its bracket and with the clause around it: alpha cells secrete glucagon here, beta cells
    only secrete."""
    question = Question("Which cells secrete glucagon?", ISLET_CELLS)
    text = "Alpha cells (in the islets) secrete glucagon; beta cells secrete insulin."
    alpha, beta, *_ = said(question, found(text, *PRODUCED))
    assert alpha == 1.0 and beta < alpha


def test_a_clause_is_cut_at_each_bracket_and_the_name_before_it():
    """Outside, name, bracket in turn: the name runs back to a function word or punctuation."""
    assert asides("the secretion of insulin (made by beta cells) and glucagon (made by alpha cells) in islets") == [
        "the secretion of ",
        "insulin ",
        "(made by beta cells)",
        " and ",
        "glucagon ",
        "(made by alpha cells)",
        " in islets",
    ]
    assert asides("cells, (see below) and") == ["cells, ", "", "(see below)", " and"], "no name after a comma"
    assert asides("Osteoclasts, not osteoblasts, resorb bone, not only old bone, but more") == [
        "",
        "Osteoclasts",
        ", not osteoblasts,",
        " resorb bone, not only old bone, but more",
    ], '"not only" negates nothing'
