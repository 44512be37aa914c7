"""Two ways evidence misread what it says (thirty-seventh session, on chapter 6 of the A&P book): a page's text opening
mid-sentence was quoted as a sentence ("undergoes remodeling, in which resorption ... where osteoblasts lay new bone"
for osteoblasts resorbing bone), and a verb of the opposite sense was read as support ("Calcitonin inhibits
osteoclast activity" for "Which hormone stimulates osteoclast activity?")."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import asked_words, contradicts, option_terms, split_sentences, whole_sentences
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

PAGE_TOP = (
    "undergoes remodeling, in which resorption of old or damaged bone takes place on the same surface\n"
    "where osteoblasts lay new bone to replace that which is resorbed. Injury, exercise, and other activities\n"
    "lead to remodeling."
)
"""The A&P book's page 183 as the index stores it: its sentence begins on page 182."""
OSTEOCLAST = "The cell responsible for bone resorption, or breakdown, is the osteoclast."
CALCITONIN = "Calcitonin inhibits osteoclast activity and stimulates calcium uptake by bones."
PTH = "Parathyroid hormone (PTH) stimulates osteoclast proliferation and resorption of bone by osteoclasts."
STIMULATES = Question("Which hormone stimulates osteoclast activity?", ["Calcitonin", "Parathyroid hormone"])
ASKED = (STIMULATES.text, STIMULATES.options)
ASKED_OF_PTH = (STIMULATES.text, STIMULATES.options[::-1])


def page(text: str, rank: int = 1) -> Evidence:
    return Evidence(f"p{rank}", "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def denies(said: str, question: str, options: list[str], option: int) -> bool:
    """Whether a sentence speaks against an option as the agent reads it: its own words, the question's asked ones."""
    return contradicts(said, option_terms(question, options)[option], asked_words(question))


def test_a_text_opening_mid_sentence_quotes_none_of_that_sentence():
    assert whole_sentences(PAGE_TOP) == ["Injury, exercise, and other activities lead to remodeling."]
    assert len(split_sentences(PAGE_TOP)) == 2, "split off, only not quoted"
    passage = "old bone, while osteoclasts break it down. Osteoblasts lay down new bone in its place."
    assert whole_sentences(passage) == ["Osteoblasts lay down new bone in its place."], "a long block cut mid-sentence"
    tail = "down. Osteoclasts resorb bone in the remodeling process."
    assert whole_sentences(tail) == ["Osteoclasts resorb bone in the remodeling process."], "too short to be quoted"


@pytest.mark.parametrize(
    "opening",
    [
        "pH of the blood stays near 7.4 in health.",
        "mRNA carries the code to the ribosome.",
        "• osteoclasts resorb bone in the remodeling process.",
        "Osteoclasts resorb bone in the remodeling process.",
    ],
    ids=["lower-case-name", "lower-case-acronym", "bulleted-item", "capital"],
)
def test_a_text_opening_a_sentence_keeps_it(opening: str):
    assert whole_sentences(f"{opening} Osteoblasts build bone.")[0] == opening


def test_a_carried_over_fragment_is_not_quoted_for_an_option():
    question = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts"])
    answer = OfflineAnswerer(encoder=None).answer(question, [page(OSTEOCLAST, 1), page(PAGE_TOP, 2)])
    assert answer.letter == "B"
    assert all(not quote.text.startswith("undergoes") for quotes in answer.quotes for quote in quotes)


@pytest.mark.parametrize(
    "said",
    [
        CALCITONIN,
        "Calcitonin can inhibit osteoclasts.",
        "Calcitonin decreases osteoclast activity.",
        "Calcitonin has decreased osteoclast activity.",
        "Calcitonin reduces the activity of osteoclasts.",
        "Calcitonin suppresses osteoclasts.",
        "Calcitonin, made by the thyroid gland, inhibits osteoclasts.",
        "Calcitonin, which inhibits osteoclasts, is made by the thyroid gland.",
        "Calcitonin lowers blood calcium and inhibits osteoclasts.",
        "Parathyroid hormone stimulates osteoclasts, whereas calcitonin inhibits them.",
    ],
)
def test_a_verb_of_the_opposite_sense_speaks_against_its_subject(said: str):
    assert denies(said, STIMULATES.text, STIMULATES.options, 0)
    assert not denies(said, STIMULATES.text, STIMULATES.options, 1)


@pytest.mark.parametrize(
    ("said", "question", "options"),
    [
        (PTH, *ASKED),
        ("Parathyroid hormone inhibits bone formation, but osteoclast activity rises.", *ASKED_OF_PTH),
        ("Calcitonin inhibits the thyroid, which stimulates osteoclast activity.", *ASKED),
        ("Calcitonin inhibits the uptake of iodine.", *ASKED),
        ("Calcitonin acts on the gut, parathyroid hormone, and bone, reducing osteoclast activity.", *ASKED_OF_PTH),
        (
            "A calcitonin increase in the blood follows a meal.",
            "Which hormone decreases blood calcium?",
            ["Calcitonin"],
        ),
        ("Inhibitory neurons of the spinal cord release glycine.", "Which neurons stimulate muscles?", ["Inhibitory"]),
        (
            "Less blood circulating means reduced blood pressure and reduced perfusion to the brain.",
            "Stimulation of the heat-loss center causes ________.",
            ["blood vessels in the skin to constrict", "breathing to become slow and shallow"],
        ),
        (
            "Heart rate decreases when blood pressure increases.",
            "What does an increase in blood pressure cause?",
            ["Heart rate decreases", "Breathing slows"],
        ),
    ],
    ids=[
        "same-sense",
        "contrast's-other-side",
        "relative-clause's-verb",
        "nothing-asked-reached",
        "participle-of-another-subject",
        "noun-after-a-singular-name",
        "adjective-no-verb",
        "option's-own-words-reached",
        "option-saying-a-change",
    ],
)
def test_an_opposite_verb_denies_nothing_outside_its_reach(said: str, question: str, options: list[str]):
    """Said of the first option."""
    assert not denies(said, question, options, 0)


def test_the_opposite_sense_is_read_from_the_question():
    inhibits = Question("Which hormone inhibits osteoclast activity?", STIMULATES.options)
    assert denies(PTH, inhibits.text, inhibits.options, 1) and not denies(
        CALCITONIN, inhibits.text, inhibits.options, 0
    )
    both = "Which hormone stimulates osteoclasts and inhibits osteoblasts?"
    assert not denies(CALCITONIN, both, STIMULATES.options, 0), "a question asking both senses opposes neither"


@pytest.mark.parametrize(
    ("question", "letter", "stances"),
    [
        ("Which hormone stimulates osteoclast activity?", "B", ["contradicts", "supports"]),
        ("Which hormone inhibits osteoclast activity?", "A", ["supports", "contradicts"]),
        ("Which hormone does NOT stimulate osteoclast activity?", "A", ["supports", "contradicts"]),
    ],
)
def test_the_answer_follows_the_verbs_sense(question: str, letter: str, stances: list[str]):
    """A negated question reads an opposed verb as a negation: the option it speaks against is the exception."""
    asked = Question(question, STIMULATES.options)
    answer = OfflineAnswerer(encoder=None).answer(asked, [page(CALCITONIN, 1), page(PTH, 2)])
    assert answer.letter == letter
    assert [quote.stance for quotes in answer.quotes for quote in quotes] == stances
