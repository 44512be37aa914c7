"""An image question whose words ask nothing beyond the image ("What is this?", or none) is settled by the image's own
evidence only: a book sentence naming an option says nothing of that image (``Reading.image_only``)."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.plan import asks_only_the_image
from pathatlas.agent.questions import Evidence, Question
from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.records import Citation, Payload

SLIDE = draw_pattern("small-blue-cells", 3)
ASKING_NOTHING = ["What is this?", "", "What is shown in this image?"]
OPTIONS = ["Angiosarcoma", "Osteoporosis"]
OSTEOPOROSIS_BOX = "Osteoporosis is a disease characterized by a decrease in bone mass."


def page(eid: str, text: str, number: int) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=number), number, payload=Payload(kind="page"))


def case(eid: str, name: str, diagnosis: str, rank: int) -> Evidence:
    """One case image found for the question's image, at ``rank``."""
    payload = Payload(kind="case", source="/atlas", case=name, diagnosis=diagnosis)
    citation = Citation("/atlas", page=None, case=name)
    return Evidence(eid, "case", f"{diagnosis.capitalize()}. Lung.", citation, rank, payload=payload)


def answer(text: str, options: list[str], found: list[Evidence]):
    return OfflineAnswerer(encoder=None).answer(Question(text, options, image=SLIDE), found)


@pytest.mark.parametrize("text", ASKING_NOTHING)
def test_a_book_sentence_naming_an_option_does_not_settle_what_an_image_shows(text: str):
    """The A&P book alone settled "bone" at 0.91 for an angiosarcoma's slide from "List and describe the functions of
    bones"; the sentence is still shown, as related evidence."""
    looked = answer(text, ["bone", "cartilage"], [page("p1", "List and describe the functions of bones.", 165)])
    assert not looked.settled and looked.confidence <= 1 / 2
    assert [(q.text, q.stance, q.settles) for q in looked.quotes[0]] == [
        ("List and describe the functions of bones.", "related", False)
    ]
    assert looked.rationale.startswith("The evidence does not settle this")


@pytest.mark.parametrize("text", ASKING_NOTHING)
def test_a_book_sentence_beside_look_alike_cases_does_not_settle_it_either(text: str):
    """A library of book and atlas cases settled an unindexed lung tile as "Osteoporosis" at 0.92 from the book's
    osteoporosis box, while its similar cases were diagnosed as neither option."""
    looked = answer(text, OPTIONS, [page("p2", OSTEOPOROSIS_BOX, 190), case("i1", "C1", "peliosis", 3)])
    assert not looked.settled and looked.confidence <= 1 / len(OPTIONS)


@pytest.mark.parametrize("text", ASKING_NOTHING)
def test_agreeing_similar_cases_still_settle_it(text: str):
    """Most of the three most similar cases diagnosed as the choice are the image's own evidence; the book's sentence
    for the other option no longer contests it."""
    found = [
        page("p2", OSTEOPOROSIS_BOX, 190),
        case("i1", "C1", "angiosarcoma", 1),
        case("i2", "C2", "angiosarcoma", 2),
        case("i3", "C3", "peliosis", 3),
    ]
    looked = answer(text, OPTIONS, found)
    assert (looked.letter, looked.settled, looked.cited) == ("A", True, ["i1", "i2"])
    assert looked.confidence > 0.8 and "Yet a sentence" not in looked.rationale


@pytest.mark.parametrize("text", [*ASKING_NOTHING, "What does this slide show?", "Which of these is seen here?"])
def test_words_asking_and_pointing_at_the_image_ask_nothing_beyond_it(text: str):
    assert asks_only_the_image(text)


@pytest.mark.parametrize("text", ["Which tissue is shown?", "Which diagnosis fits this slide?", "Identify this bone."])
def test_a_word_naming_what_is_asked_is_a_real_stem(text: str):
    """A real stem is answered as before: a sentence saying what it asks may settle it."""
    assert not asks_only_the_image(text)
