"""Image answers that rest on a look-alike: a case is counted once however many of its images are found, and only a
verified same specimen or most of the three most similar cases settle an image answer (``writing.one_per_case``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.questions import Evidence, Question
from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.records import Citation, Payload

SLIDE = draw_pattern("small-blue-cells", 3)
OPTIONS = ["Angiosarcoma", "Peliosis", "Solid pseudopapillary neoplasm", "Hepatocellular carcinoma"]
ASKED = Question("Which diagnosis best fits this slide?", OPTIONS, image=SLIDE)


def image(eid: str, case: str | None, diagnosis: str, rank: int, source: str = "/atlas") -> Evidence:
    """One case image found for the question's image, at ``rank``."""
    payload = Payload(kind="case", source=source, case=case, diagnosis=diagnosis)
    text = f"{diagnosis.capitalize()}. Pancreas."
    return Evidence(eid, "case", text, Citation(source, page=None, case=case), rank, payload=payload)


def one_look_alike_case(other: str) -> list[Evidence]:
    """The four case images found most similar: three of one case (BS18, peliosis) and, third, one of case BS2 with
    the diagnosis ``other``."""
    return [
        image("i1", "BS18", "peliosis", 1),
        image("i2", "BS18", "peliosis", 2),
        image("i3", "BS2", other, 3),
        image("i4", "BS18", "peliosis", 4),
    ]


def answer(question: Question, found: list[Evidence]):
    return OfflineAnswerer(encoder=None).answer(question, found)


def test_images_of_one_look_alike_case_neither_settle_nor_claim_more_than_chance():
    """--exclude-case: atlas-BS1-HE1 (angiosarcoma, its case left out) found three images of one peliosis case among
    the four most similar and came back settled on peliosis at 0.84; 13 of 13 atlas answers so settled were wrong."""
    looked = answer(ASKED, one_look_alike_case("hepatocellular carcinoma"))
    assert looked.letter == "B", "the choice is the similar cases' as before"
    assert not looked.settled and looked.confidence <= 1 / len(OPTIONS)
    assert looked.rationale.startswith("The evidence does not settle this; leaning to B.")


def test_distinct_agreeing_cases_or_a_verified_specimen_keep_their_confidence():
    """LC25000's tiles (no case id: each its own case) agree by the hundred; a case one of whose images is verified
    as the same specimen is the image's own slide, whichever of its images ranks first."""
    tiles = [image(f"t{n}", None, "solid pseudopapillary neoplasm", n) for n in (1, 2)]
    agreeing = answer(ASKED, [*tiles, image("t3", None, "peliosis", 3)])
    assert agreeing.settled and agreeing.confidence > 0.8
    verified = [
        image("i1", "SPN", "solid pseudopapillary neoplasm", 1),
        replace(image("i2", "SPN", "solid pseudopapillary neoplasm", 2), same_specimen=True),
        image("i3", "BS18", "peliosis", 3),
    ]
    own = answer(ASKED, verified)
    assert own.settled and own.confidence > 0.8 and own.cited[0] == "i2", "settled on the verified image"
    elsewhere = [image("i1", "C1", "peliosis", 1), image("i2", "C1", "peliosis", 2, source="/other-course")]
    assert answer(ASKED, elsewhere).settled, "two folders' case C1 are two patients"


def test_a_text_question_is_not_moved_by_case_evidence():
    """Text answers rest on quotes; a look-alike case among the evidence (a book and cases in one index) changes
    neither their confidence nor whether they settle."""
    question = Question("Which tumour of the pancreas is made of solid and pseudopapillary areas?", OPTIONS[1:])
    page = Evidence(
        "p1",
        "page",
        "A solid pseudopapillary neoplasm of the pancreas is made of solid and pseudopapillary areas.",
        Citation("book.pdf", page=3),
        1,
        payload=Payload(kind="page"),
    )
    alone = answer(question, [page])
    beside = answer(question, [page, image("i1", "BS18", "peliosis", 2), image("i2", "BS18", "peliosis", 3)])
    assert (beside.letter, beside.settled) == (alone.letter, alone.settled) == ("B", True)
    assert beside.confidence == pytest.approx(alone.confidence) and alone.confidence > 1 / 3


def test_an_open_image_question_on_one_look_alike_case_is_not_settled():
    """ "What is the diagnosis?" answered by three images of one case was "the diagnosis of 3 of the 4 most similar
    cases", settled."""
    question = Question("What is the diagnosis?", [], image=SLIDE)
    looked = answer(question, one_look_alike_case("angiosarcoma"))
    assert (looked.text, looked.settled, looked.cited) == ("peliosis", False, ["i1"])
    assert looked.rationale == "the diagnosis of 1 of the 2 most similar cases"
    two_cases = [
        image("i1", "BS18", "peliosis", 1),
        image("i2", "BS2", "angiosarcoma", 2),
        image("i3", "C4", "peliosis", 3),
    ]
    assert answer(question, two_cases).settled
