"""A "least" question the book answers in its own words ("Basophils are the least common leukocytes") is asked as a
rank, like a "most" one; a hedged "least" ("least likely") still asks for the option the evidence backs least; a
hyphenated ordinal superlative ("second-most common") asks for its rank (thirty-sixth session)."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from pathatlas.agent.answerers.llm import LLMAnswerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import asked_ranks, read_with_evidence
from pathatlas.agent.plan import negated_by_rank
from pathatlas.agent.questions import Question
from tests.agent.test_evidence_contrast import evidence

LEUKOCYTES = ["neutrophils", "lymphocytes", "monocytes", "basophils"]
LEAST_COMMON = Question("Which leukocytes are the least common?", LEUKOCYTES)
BOOK = (  # the A&P book's own sentences (p. 578, 582), and two of the other options
    "Basophils contain large granules that pick up a dark blue stain and are so common they may make it difficult "
    "to see the two-lobed nucleus.",
    "Basophils are the least common leukocytes, typically comprising less than one percent of the total leukocyte "
    "count.",
    "The most abundant leukocytes are the neutrophils, which are first responders to infections, especially with "
    "bacteria.",
    "Lymphocytes are the second most common leukocytes.",
    "Monocytes are large leukocytes with a kidney-shaped nucleus.",
)


def pages(*texts: str):
    return [evidence(f"p{k}", text, k) for k, text in enumerate(texts, start=1)]


def test_the_book_answers_which_leukocytes_are_the_least_common():
    """Read as "which is not the most common", the question was answered monocytes, the option the evidence names
    least; the book says basophils are the least common, and that neutrophils are the most abundant."""
    answer = OfflineAnswerer(encoder=None).answer(LEAST_COMMON, pages(*BOOK))
    assert answer.letter == "D"
    assert "supports" in [q.stance for q in answer.quotes[3]]
    assert [q.stance for q in answer.quotes[0]] == ["contradicts"]


def test_least_is_read_as_a_rank_only_where_the_evidence_states_it():
    """Without a sentence ranking an option "least common", "least" still asks for the option backed least."""
    stated = read_with_evidence(LEAST_COMMON, pages(*BOOK))
    assert not stated.negated and "least common" in stated.focus
    unstated = read_with_evidence(LEAST_COMMON, pages(BOOK[2], BOOK[4]))
    assert unstated.negated and "least" not in unstated.focus


def test_a_hedged_least_asks_for_the_option_the_evidence_backs_least():
    """ "least likely", "least appropriate" judge the options, whatever the book says: no rank to look up."""
    hedged = Question("Which test is the least appropriate for anemia?", ["biopsy", "blood count"])
    said = pages("A biopsy is the least appropriate test for anemia.", "A blood count is a test for anemia.")
    assert read_with_evidence(hedged, said).negated
    assert not negated_by_rank("Which of these is least likely to cause anemia?")
    assert negated_by_rank("Which leukocytes are the least-common?")
    assert not negated_by_rank("Which leukocytes are not the most common?")


def test_a_hyphenated_ordinal_superlative_asks_for_its_rank():
    second = Question(
        "Which is the second-most common skin cancer?", ["basal cell carcinoma", "squamous cell carcinoma", "melanoma"]
    )
    assert asked_ranks(second.text) == {"common": ("second", "most")}
    said = pages(
        "Basal cell carcinoma is the most common skin cancer.",
        "Squamous cell carcinoma is the second-most common skin cancer.",
    )
    answer = OfflineAnswerer(encoder=None).answer(second, said)
    assert answer.letter == "B" and [q.stance for q in answer.quotes[0]] == ["contradicts"]


def test_an_llm_is_shown_the_quotes_as_the_evidence_reads_the_question():
    """The quotes a model sees carry the stances the offline judge scores them with: "Basophils are the least common
    leukocytes" supports basophils, not contradicts them."""
    model = FakeListChatModel(responses=['{"answer": "D", "evidence": ["p2"], "confidence": 0.8}'])
    answer = LLMAnswerer(model, retries=0).answer(LEAST_COMMON, pages(*BOOK))
    offline = OfflineAnswerer(encoder=None).answer(LEAST_COMMON, pages(*BOOK))
    assert [[q.stance for q in own] for own in answer.quotes] == [[q.stance for q in own] for own in offline.quotes]
