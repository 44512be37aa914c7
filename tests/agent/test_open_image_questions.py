"""An image asked about with no question: the similar cases with no diagnosis count against the diagnosis of those
that have one (five undiagnosed atlas images ranked first left one LC25000 tile at rank six with every vote, at 1.00
beside "does not settle"), the rationale says how many cases were looked at and how many have a diagnosis, the command
line leans to such an answer instead of calling it the "nearest sentence", and an index holding no diagnosed case says
so at every door. ``ask --help`` promises no table."""

from __future__ import annotations

import re

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.graph import answer_document
from pathatlas.agent.plan import IMAGE_QUERY
from pathatlas.agent.questions import Evidence, Question
from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.ui.cli import console, print_answer
from tests.helpers import png_bytes, run_cli
from tests.indexer.test_incremental_cases import ENCODER as PIXEL_ENCODER
from tests.uploads import book_service

SLIDE = draw_pattern("small-blue-cells", 3)
WHAT_IT_SHOWS = Question("", [], image=SLIDE)
NO_DIAGNOSED_CASE = "no similar case in the index has a diagnosis"


def found(eid: str, rank: int, case: str | None, diagnosis: str | None = None, kind: str = "case") -> Evidence:
    """A record the question's image found at ``rank``: a case image (``case``, ``diagnosis`` or none), or a figure."""
    source = "/atlas" if kind == "case" else "book.pdf"
    payload = Payload(kind=kind, source=source, case=case, diagnosis=diagnosis)
    citation = Citation(source, page=None if kind == "case" else 3, case=case)
    return Evidence(eid, kind, diagnosis or "Case.", citation, rank, {IMAGE_QUERY: rank}, payload)


def asked(evidence: list[Evidence], question: Question = WHAT_IT_SHOWS):
    return OfflineAnswerer(encoder=None).answer(question, evidence)


def undiagnosed_first(more_tiles: int = 0) -> list[Evidence]:
    """The reviewer's ranking: five atlas images of cases with no diagnosis, then an LC25000 tile (and ``more_tiles``
    further tiles of the same diagnosis)."""
    atlas = [found(f"a{n}", n, f"GBD{n}") for n in range(1, 6)]
    return atlas + [found(f"t{n}", n, f"lungn{n}", "benign lung tissue") for n in range(6, 7 + more_tiles)]


def test_more_similar_cases_with_no_diagnosis_count_against_the_answer():
    answer = asked(undiagnosed_first())
    assert (answer.text, answer.settled, answer.cited) == ("benign lung tissue", False, ["t6"])
    assert answer.confidence == pytest.approx((1 / 6) / sum(1 / n for n in range(1, 7)))
    assert answer.rationale == "the diagnosis of 1 of the 6 most similar cases (1 of the 6 with a diagnosis)"
    further = asked(undiagnosed_first(more_tiles=4))  # five diagnosed cases at most are looked for
    assert further.rationale == "the diagnosis of 5 of the 10 most similar cases (5 of the 10 with a diagnosis)"
    assert not further.settled and further.confidence < 0.25, "the three most similar cases have no diagnosis"


def test_a_figure_the_image_found_first_is_no_vote_for_the_case_behind_it():
    """A book and a case folder in one index: the book's figures the image found first are images of nothing known."""
    figures = [found(f"f{n}", n, None, kind="figure") for n in (1, 2)]
    answer = asked([*figures, found("c3", 3, "BS18", "peliosis")])
    assert answer.text == "peliosis" and not answer.settled
    assert answer.confidence == pytest.approx((1 / 3) / (1 + 1 / 2 + 1 / 3))
    assert answer.rationale.endswith("(1 of the 3 with a diagnosis)")


@pytest.mark.parametrize(
    "evidence",
    [
        [found("c1", 1, "BS18", "peliosis")],
        [found(f"c{n}", n, "BS18", "peliosis") for n in (1, 2, 3)],  # one case, however many of its images
        [found("c1", 1, "BS18", "peliosis"), found("c2", 2, "BS2", "angiosarcoma")],
        undiagnosed_first(),
    ],
    ids=["one image", "one case", "two cases", "undiagnosed first"],
)
def test_no_open_image_answer_claims_certainty_it_does_not_settle(evidence):
    """One case alone was "1 of the 1" at 1.00: it claims at most its share of the three most similar cases' places
    (the settle rule's), the places it leaves taken by nothing known."""
    answer = asked(evidence)
    assert not answer.settled and answer.confidence <= 1 / (1 + 1 / 2 + 1 / 3) + 1e-9, answer


def test_cases_that_agree_still_settle_and_the_others_keep_their_votes():
    agreeing = [found(f"c{n}", n, f"C{n}", "peliosis") for n in (1, 2)] + [found("c3", 3, "C3", "angiosarcoma")]
    answer = asked(agreeing)
    assert answer.settled and answer.confidence == pytest.approx(1.5 / (1 + 1 / 2 + 1 / 3))
    assert answer.rationale == "the diagnosis of 2 of the 3 most similar cases"


@pytest.mark.parametrize("question", [WHAT_IT_SHOWS, Question("What is the diagnosis?", [], image=SLIDE)])
def test_an_image_no_case_with_a_diagnosis_resembles_says_so(question):
    """Asked with no question against a book, the answer was empty, "the question has no words to look for"."""
    figures = [found(f"f{n}", n, None, kind="figure") for n in (1, 2)]
    answer = asked([*figures, found("a3", 3, "GBD3")], question)
    assert (answer.text, answer.confidence, answer.settled) == ("", 0.0, False)
    assert answer.rationale == NO_DIAGNOSED_CASE


IMAGE_SEARCHED = [{"step": "search", "round": 1, "query": "img", "purpose": "image", "text": None, "image": True}]
"""The trace of a question whose image was searched, as the agent writes it."""


def printed(evidence: list[Evidence], trace: list[dict] = IMAGE_SEARCHED) -> str:
    with console.capture() as captured:
        print_answer(answer_document(WHAT_IT_SHOWS, asked(evidence), evidence, trace))
    return captured.get()


def test_the_command_line_leans_to_the_similar_cases_diagnosis_it_does_not_settle():
    """It was "nearest sentence benign lung tissue  (confidence 1.00)": no sentence was read."""
    shown = printed(undiagnosed_first())
    assert shown.startswith("leaning to benign lung tissue\nthe evidence does not settle this\n"), shown
    settled = printed([found(f"c{n}", n, f"C{n}", "peliosis") for n in (1, 2, 3)])
    assert settled.startswith("answer peliosis  (confidence 1.00)\n"), settled


def test_rest_and_the_command_line_say_why_an_image_on_a_book_is_not_answered(tmp_path):
    """/ask/image with no question on a book: 200, an empty answer and "the question has no words to look for"."""
    slide = tmp_path / "slide.png"
    slide.write_bytes(png_bytes(SLIDE))
    with book_service(tmp_path, "alveoli", encoder=PIXEL_ENCODER) as client:
        rest = client.post("/ask/image", files={"image": ("slide.png", slide.read_bytes())})
        index = client.app.state.engine.index.path
    assert rest.status_code == 200, rest.text
    assert (rest.json()["answer"], rest.json()["rationale"]) == ("", NO_DIAGNOSED_CASE)
    cli = run_cli("ask", "--image", slide, "--index", index, home=tmp_path / "home", PATHATLAS_ENCODER=PIXEL_ENCODER)
    assert cli.exit_code == 0, cli.output
    assert cli.stdout.splitlines()[2] == NO_DIAGNOSED_CASE, cli.stdout


def test_ask_help_promises_no_table():
    shown = run_cli("ask", "--help").stdout
    assert "table" not in shown
    assert re.search(r"--json\s+Print the answer, its evidence and the agent's steps as JSON instead of text\.", shown)
