"""A question asking which option never has (or does not have) a property is answered by the option the book says
lacks it: "As an erythrocyte matures ..., it extrudes its nucleus" says erythrocytes lack a nucleus, and "lymphocytes
... with a large central nucleus" says lymphocytes have one, though neither holds the question's "have" (task AG)."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import lacking_options
from pathatlas.agent.questions import Question
from pathatlas.retrieval.terms import tokenize
from tests.agent.test_least_questions import pages

BLOOD_CELLS = ["Erythrocytes", "Lymphocytes"]
BOOK = (  # the A&P book's own sentences (pp. 569, 703)
    "As an erythrocyte matures in the red bone marrow, it extrudes its nucleus and most of its other organelles.",
    "The two basic types of lymphocytes, B cells and T cells, are identical morphologically with a large central "
    "nucleus surrounded by a thin layer of cytoplasm.",
)
NUCLEUS = set(tokenize(["nucleus"])[0])
OWN = [set(tokenize(["erythrocytes"])[0]), set(tokenize(["lymphocytes"])[0])]


@pytest.mark.parametrize(
    "asked", ["Which blood cells never have a nucleus?", "Which blood cells do not have a nucleus?"]
)
def test_the_option_the_book_says_lacks_the_property_is_the_answer(asked):
    """The two sentences were a 0.5 tie, the extruded nucleus read as erythrocytes having one and neither sentence
    saying the question's "have" of its option."""
    answer = OfflineAnswerer(encoder=None).answer(Question(asked, BLOOD_CELLS), pages(*BOOK))
    assert answer.letter == "A" and answer.scores[0] > answer.scores[1]
    assert [(q.text, q.stance) for q in answer.quotes[0]] == [(BOOK[0], "supports")]
    assert [(q.text, q.stance) for q in answer.quotes[1]] == [(BOOK[1], "contradicts")]


def test_a_verb_of_losing_or_a_negation_says_the_lack_of_the_option_its_clause_names():
    assert lacking_options(BOOK[0], OWN, NUCLEUS) == {0}, "the option is named before its pronoun"
    assert lacking_options("Reticulocytes, which eject their nucleus, become erythrocytes.", OWN, NUCLEUS) == {0}
    assert lacking_options("Mature erythrocytes have no nucleus.", OWN, NUCLEUS) == {0}
    assert lacking_options(BOOK[1], OWN, NUCLEUS) == set(), "no lack is said"


def test_no_lack_is_read_where_the_clause_names_two_options_or_the_negation_is_not_of_the_property():
    assert lacking_options("Unlike erythrocytes, lymphocytes have no nucleus.", OWN, NUCLEUS) == set()
    own = [set(tokenize(["cartilage"])[0]), set(tokenize(["epithelium"])[0])]
    connective = set(tokenize(["connective tissue"])[0])
    unlike = "Unlike most connective tissues, cartilage is avascular."
    assert lacking_options(unlike, own, connective) == set(), "a prepositional negation denies only its own name"
    double = "Erythrocytes cannot divide without a nucleus."
    assert lacking_options(double, OWN, NUCLEUS) == set(), "a lack after a negation is a double negative"
