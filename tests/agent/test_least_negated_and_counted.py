"""The rest of "least": "NOT the least common" asks for an option the book does not rank least, not for the least
common; a "least" before a word that is no quality ("least during", "least able") ranks nothing; the QA bench counts
a question as negated as the answerer read it with its evidence (thirty-sixth session)."""

from __future__ import annotations

import json

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.quotes import PageTexts
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.evidence import asked_ranks
from pathatlas.agent.plan import is_negated, negated_by_rank, negates_rank, read_question
from pathatlas.agent.questions import Question
from tests.agent.test_least_questions import BOOK, LEAST_COMMON, LEUKOCYTES, pages

NOT_LEAST_COMMON = Question("Which of these is NOT the least common leukocyte?", LEUKOCYTES)


def test_not_the_least_common_asks_for_one_the_book_ranks_otherwise():
    """Its "NOT" and its "least" had cancelled out: read plainly, it was answered basophils, the very one the book
    ranks least. Negated with the rank kept, basophils' "least common" speaks against them and neutrophils' "most
    abundant" for them."""
    reading = read_question(NOT_LEAST_COMMON)
    assert reading.negated and negates_rank(NOT_LEAST_COMMON.text) and not negated_by_rank(NOT_LEAST_COMMON.text)
    assert "least common" in reading.focus and "NOT" not in reading.focus
    answer = OfflineAnswerer(encoder=None).answer(NOT_LEAST_COMMON, pages(*BOOK))
    assert answer.letter != "D"
    assert [q.stance for q in answer.quotes[3]] == ["contradicts", "related"]  # "so common" ranks nothing
    assert [q.stance for q in answer.quotes[0]] == ["supports"]
    pair = Question(NOT_LEAST_COMMON.text, ["neutrophils", "basophils"])
    assert OfflineAnswerer(encoder=None).answer(pair, pages(*BOOK)).letter == "A"


def test_least_before_a_word_that_is_no_quality_ranks_nothing():
    """ "moved the least during muscle contraction" had asked the rank of "during" ({dure: (least,)}), and "least
    able" the rank of "able": both ask for the option the evidence backs least."""
    for text in (
        "Which is moved the least during muscle contraction?",
        "Which of the following substances is least able to cross the blood-brain barrier?",
        "Which muscle is the least-able to contract?",
    ):
        assert asked_ranks(text) == {}
        assert is_negated(text) and not negated_by_rank(text) and not negates_rank(text)
    assert negated_by_rank(LEAST_COMMON.text) and asked_ranks(LEAST_COMMON.text) == {"common": ("least",)}


class BookBench(QABench):
    """The QA bench answering every question from ``BOOK``'s pages: no index, no search."""

    def __init__(self):
        self.answerer = OfflineAnswerer(encoder=None)
        self.exclude_case, self.copies, self.pages = False, {}, PageTexts()

    def ask(self, item, mode):
        found = pages(*BOOK)
        return self.answerer.answer(item.question, found), found, None


def test_the_bench_counts_a_question_negated_as_it_was_answered(tmp_path):
    """The book ranks basophils the least common, so "Which leukocytes are the least common?" was answered as a rank,
    not as negated; the bench still counted it among the negated questions, beside the one that was."""
    rows = [
        {"id": "rank", "question": LEAST_COMMON.text, "options": LEUKOCYTES, "answer": "D"},
        {"id": "not", "question": NOT_LEAST_COMMON.text, "options": LEUKOCYTES, "answer": "A"},
    ]
    path = tmp_path / "least.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    items, failures = load_items(path, 10_000_000)
    result = BookBench().run(items, failures, modes=("rag",))
    assert result["modes"]["rag"]["negated"]["n"] == 1
    assert {r["id"]: r["negated"] for r in result["items"]} == {"rank": False, "not": True}
