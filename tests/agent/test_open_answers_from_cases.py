"""An open question whose evidence is cases (a case folder indexed alone, or a filter on cases: ``kind=case``,
``organ=cervix``) answers from the cases' text, as an option is quoted from a case, and cites the case: it said "no
evidence found" beside the cases its own search listed. Evidence that holds no sentence to quote is said to be found.
Evidence is faked (no models), but at the command line and REST: the demo index with the hashing encoder."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, run_cli

KOILOCYTES = "Which lesion shows koilocytes?"
LSIL = "LSIL with koilocytes, cervix. low-grade squamous intraepithelial lesion"
TUBERCULOSIS = "Necrotising granulomas, lung. tuberculosis"


def case(evidence_id: str, rank: int, text: str, case_id: str) -> Evidence:
    payload = Payload(kind="case", source="/cases", case=case_id)
    return Evidence(evidence_id, "case", text, Citation("/cases", case=case_id), rank, payload=payload)


def page(evidence_id: str, rank: int, text: str) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def asked(evidence: list[Evidence], question: str = KOILOCYTES):
    return OfflineAnswerer(encoder=None).answer(Question(question, []), evidence)


def test_an_open_question_on_cases_alone_quotes_the_case_saying_it():
    answer = asked([case("c1", 1, TUBERCULOSIS, "DEMO-02"), case("c2", 2, LSIL, "DEMO-01")])
    assert (answer.text, answer.cited) == (LSIL, ["c2"])
    assert answer.rationale == "quoted from cases, case DEMO-01"
    assert answer.confidence > 0


def test_text_evidence_is_quoted_before_the_cases():
    """A book's sentence says what a case's title only names: the cases are read where no text was found."""
    halo = "Koilocytes are squamous cells with a perinuclear halo, the mark of a low-grade lesion."
    answer = asked([case("c1", 1, LSIL, "DEMO-01"), page("p2", 2, halo)])
    assert (answer.text, answer.cited) == (halo, ["p2"])


def test_a_true_or_false_statement_on_cases_alone_relates_the_case_saying_it():
    """The sentences nearest a statement are read as an open question's (``writing.statement_quotes``): it said "No
    retrieved sentence speaks to it" beside the case. Related only: it settles nothing."""
    statement = Question("True or false: koilocytes mark a low-grade lesion.", ["True", "False"])
    evidence = [case("c1", 1, TUBERCULOSIS, "DEMO-02"), case("c2", 2, LSIL, "DEMO-01")]
    answer = OfflineAnswerer(encoder=None).answer(statement, evidence)
    assert answer.rationale.endswith(f'Related: "{LSIL}" (cases, case DEMO-01).'), answer.rationale
    assert answer.cited == ["c2"] and not answer.settled


def test_evidence_holding_no_sentence_is_said_to_be_found():
    """Cases with no title, diagnosis or description (images and case ids only) give no sentence to quote."""
    unnamed = asked([case("c1", 1, "", "A-1"), case("c2", 2, "", "A-1"), case("c3", 3, "", "A-2"), page("p4", 4, "")])
    assert (unnamed.text, unnamed.cited, unnamed.settled) == ("", [], False)
    assert unnamed.rationale == "found 2 cases and 1 page, but no sentence in them to quote"
    assert asked([]).rationale == "no evidence found"


def test_rest_answers_an_open_question_on_cases_from_their_text(quick_demo):
    """The walkthrough's form: ``filters: {"kind": "case"}`` answered "" while its trace listed DEMO-01."""
    with TestClient(create_app(hashing_settings(quick_demo))) as client:
        reply = client.post("/ask", json={"question": KOILOCYTES, "filters": {"kind": "case"}})
    assert reply.status_code == 200, reply.text
    said = reply.json()
    assert said["answer"].startswith("LSIL with koilocytes"), said
    assert [c["case"] for c in said["citations"]] == ["DEMO-01"], said["citations"]
    assert said["rationale"].startswith("quoted from cases, case DEMO-01"), said["rationale"]


def test_the_command_line_answers_from_the_cases_a_filter_keeps(quick_demo):
    index, home = quick_demo / "index", quick_demo / "home"
    shown = run_cli("ask", KOILOCYTES, "--index", index, "--filter", "organ=cervix", home=home)
    assert shown.exit_code == 0, shown.output
    first = shown.stdout.splitlines()[0]
    assert "LSIL with koilocytes" in first and first.startswith("nearest sentence"), "a quote, not cases' diagnosis"
    assert "no evidence found" not in shown.stdout
