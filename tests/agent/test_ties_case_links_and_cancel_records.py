"""Reviewers' follow-ups: an answer's case citations link the case as a hit does; a cancel taken is in the job's
record, so a restart still shows it; a tie is said as a tie, not as leaning to the first option by its words; serve, ui
and mcp show examples in their help."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import anyio
import numpy as np
import pytest
from fastapi.testclient import TestClient

from pathatlas.agent.graph import answer_document
from pathatlas.agent.questions import Answer, Question
from pathatlas.agent.scoring import best_option
from pathatlas.agent.writing import annotate
from pathatlas.corpora.demo import draw_pattern
from pathatlas.ui.api.app import create_app
from pathatlas.ui.cli import console, print_answer
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.agent.test_quiz_forms import LUNG, PELVIS, RIBS, answered, page
from tests.helpers import png_bytes, run_cli
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, held_upload

# -- 1. a case citation links its case, as a case hit does ------------------------------------------------------------

CITATION_CORE = {
    "source", "source_id", "label", "page", "figure", "bbox", "case", "image", "page_label", "book", "evidence",
    "record", "caption_page", "caption_bbox",
}  # fmt: skip
REST_OWN = {"page_url", "caption_url", "case_image_url", "case_url"}
ASKED = {"question": "What is shown?", "options": ["tuberculosis", "lung adenocarcinoma"]}  # demo cases' diagnoses


@pytest.fixture(scope="module")
def service(demo_index):
    """REST on the demo index (its primer and cases), and the tools on its engine (as ``pathatlas mcp`` builds them)."""
    with TestClient(create_app(demo_index.settings.model_copy(update={"index": demo_index.path}))) as client:
        yield client, Toolbox(client.app.state.engine)


def cited(answer: dict) -> list[dict]:
    """Every citation of an answer: each quote's, then the answer's own."""
    return [*(q["citation"] for o in answer["options"] for q in o["evidence"]), *answer["citations"]]


def test_an_answer_s_case_citation_links_its_case_as_a_hit_does_at_every_door(service):
    """A case image cited by /ask carried case_image_url but no case_url, which a case hit of /search carries."""
    client, toolbox = service
    png = png_bytes(draw_pattern("granuloma", 3))
    data = {"question": ASKED["question"], "options": json.dumps(ASKED["options"])}
    rest = client.post("/ask/image", files={"image": ("slide.png", png)}, data=data)
    assert rest.status_code == 200, rest.text
    arguments = {**ASKED, "image_base64": base64.b64encode(png).decode()}
    mcp = json.loads(anyio.run(build_server(toolbox).call_tool, "ask", arguments).content[0].text)
    cases = [c for c in cited(rest.json()) if c["case"]]
    assert cases, rest.json()
    for citation in cases:
        assert urlsplit(citation["case_url"]).path == f"/cases/{citation['evidence']}"
        case = client.get(citation["case_url"])
        assert case.status_code == 200 and citation["evidence"] in [image["id"] for image in case.json()["images"]]
    for rest_citation, mcp_citation in zip(cited(rest.json()), cited(mcp), strict=True):
        assert set(rest_citation) - {"thumbnail_url"} == CITATION_CORE | REST_OWN, sorted(rest_citation)
        assert set(mcp_citation) - {"media"} == CITATION_CORE, sorted(mcp_citation)
        assert {k: rest_citation[k] for k in CITATION_CORE} == {k: mcp_citation[k] for k in CITATION_CORE}
    worded = client.post("/ask", json={"question": "What surrounds koilocytes?", "options": ["halos", "pearls"]})
    assert all(c["case_url"] is None for c in cited(worded.json()) if not c["case"]), "a page has no case"
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    hit_said = schemas["HitOut"]["properties"]["case_url"]["description"]
    assert schemas["QuoteCitation"]["properties"]["case_url"]["description"] == hit_said
    assert schemas["AnswerCitation"]["properties"]["case_url"]["description"] == hit_said


# -- 1b. a cancel taken is recorded ------------------------------------------------------------------------------------


def test_a_cancel_taken_is_in_the_job_s_record_so_a_restart_still_shows_it(tmp_path, monkeypatch):
    """DELETE /jobs/{id} set cancel_requested on the running job only: its record lacked it, so after a restart (or a
    kill) the job read interrupted with cancel_requested false."""
    with TestClient(create_app(api_settings(tmp_path))) as client:
        jobs = client.app.state.jobs
        job_id, go = held_upload(client, tmp_path, monkeypatch)
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 202
        recorded = json.loads((jobs.records.folder / f"{job_id}.json").read_text())
        job = jobs.by_id.pop(job_id)  # as a restarted server knows it: by its record alone
        job.claim.release()  # as a kill releases it
        restarted = client.get(f"/jobs/{job_id}").json()
        jobs.by_id[job_id] = job
        go.set()
        assert job_ended(client, job_id)["status"] == "cancelled"
    assert recorded["cancel_requested"] is True
    assert (restarted["status"], restarted["cancel_requested"]) == ("interrupted", True)


# -- 2. a tie is no lean -----------------------------------------------------------------------------------------------

MELANOCYTES = Question("Which cancer arises from melanocytes?", ["Basal cell carcinoma", "Melanoma"])
NOT_EPITHELIAL = Question("Which tumour is NOT epithelial?", ["Basal cell carcinoma", "Melanoma"])
PIGMENT = "Melanocytes of the basal layer make the pigment melanin."


def printed(question: Question, answer: Answer) -> str:
    """What ``pathatlas ask`` prints of an answer."""
    with console.capture() as captured:
        print_answer(answer_document(question, answer, [], []))
    return captured.get()


def test_a_true_or_false_tie_says_it_is_a_tie_and_keeps_its_choice():
    """ "True or false" claimed 0.5, unsettled, yet printed "leaning to B. False": the first option by its words."""
    question = Question("True or false: The right lung has three lobes.", ["True", "False"])
    document = answered(question, [RIBS, PELVIS, LUNG])
    tie_broken = best_option(np.array([0.5, 0.5]), question.options, question.text)
    assert (document["choice"], document["answer"]) == (tie_broken, "False"), "the choice is as it was"
    assert "A. True and B. False score alike, a tie leaning to neither." in document["rationale"]
    assert "leaning to B" not in document["rationale"]
    with console.capture() as captured:
        print_answer(document)
    assert captured.get().splitlines()[0] == "tie of A. True and B. False  (no lean)"


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        (MELANOCYTES, "The evidence does not settle this: A. Basal cell carcinoma and B. Melanoma score alike, a tie "
         "leaning to neither. A. Basal cell carcinoma"),
        (NOT_EPITHELIAL, "The evidence does not settle this: A. Basal cell carcinoma and B. Melanoma score alike, a "
         "tie leaning to neither. The question asks for the exception."),  # a tie names none (forty-ninth session)
    ],
    ids=["plain", "negated"],
)  # fmt: skip
def test_a_tie_of_options_opens_the_rationale_instead_of_leaning(question, opening):
    answer = Answer(0, question.options[0], 0.5, scores=[0.5, 0.5])
    annotate(answer, question, [page("p1", PIGMENT, 1)])
    assert not answer.settled and answer.rationale.startswith(opening), answer.rationale


@pytest.mark.parametrize(
    ("scores", "header"),
    [
        ([0.5, 0.5], "tie of A. Basal cell carcinoma and B. Melanoma  (no lean)"),
        ([0.45, 0.55], "leaning to B. Melanoma"),
    ],
)
def test_the_first_line_says_tie_only_of_options_scored_alike(scores, header):
    assert printed(MELANOCYTES, Answer(1, "Melanoma", 0.5, scores=scores, settled=False)).splitlines()[0] == header


def test_three_options_two_tied_name_the_two():
    question = Question("Which cell resorbs bone?", ["Osteoclast", "Osteoblast", "Osteocyte"])
    shown = printed(question, Answer(1, "Osteoblast", 0.4, scores=[0.4, 0.4, 0.2], settled=False))
    assert shown.splitlines()[0] == "tie of A. Osteoclast and B. Osteoblast  (no lean)"


# -- 3. examples in the help of serve, ui and mcp ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "ui", "mcp"])
def test_serve_ui_and_mcp_show_indented_examples(command):
    shown = run_cli(command, "--help", COLUMNS="100").stdout
    examples = shown[shown.index("Examples:") :].splitlines()[1:3]
    assert all(line.startswith(f"     pathatlas {command} ") for line in examples), shown
    assert "list[Path]" not in shown
