"""What an answer's rationale says (thirty-eighth session): an answer resting on a case verified as the same specimen
as its image says so first, and REST gives each quote's citation its thumbnail as it gives the answer's own."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.document import thumbnail_record
from pathatlas.agent.questions import Evidence, Question
from pathatlas.agent.writing import annotate
from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.ui.api.app import create_app
from tests.helpers import index_new

SLIDE = draw_pattern("small-blue-cells", 3)
OPTIONS = ["Angiosarcoma", "Granular cell tumor", "Peliosis"]
SPECIMEN_SAID = "the same specimen as case BS10 (verified match), diagnosed granular cell tumor"


def image(eid: str, case: str, diagnosis: str, rank: int) -> Evidence:
    """One case image found for the question's image, at ``rank``, not verified as its specimen."""
    payload = Payload(kind="case", source="/atlas", case=case, image=f"images/{case}-HE1.jpg", diagnosis=diagnosis)
    citation = Citation.of(payload)
    return Evidence(eid, "case", f"{case} - {diagnosis}, colon", citation, rank, payload=payload)


VERIFIED = [
    replace(image("i1", "BS10", "granular cell tumor", 1), same_specimen=True),
    image("i2", "BS2", "peliosis", 2),
    image("i3", "BS1", "angiosarcoma", 3),
]
"""An atlas crop turned 90 degrees: its own slide verified first, then two look-alike cases of other diagnoses (the
similar cases alone, one of three, settle nothing)."""
LOOK_ALIKES = [
    image("i1", "BS10", "granular cell tumor", 1),
    image("i2", "BS11", "granular cell tumor", 2),
    VERIFIED[2],
]
"""Two of the three most similar cases diagnosed granular cell tumor, none verified as the very slide."""


def answered(question: Question, found: list[Evidence]):
    """The offline answer annotated as the agent annotates every answer (``AgentGraph._answer``)."""
    answer = OfflineAnswerer(encoder=None).answer(question, found)
    annotate(answer, question, found)
    return answer


def test_a_choice_resting_on_a_verified_specimen_says_so_first():
    answer = answered(Question("Which diagnosis best fits this slide?", OPTIONS, image=SLIDE), VERIFIED)
    assert answer.letter == "B" and answer.settled
    opening = f'B. Granular cell tumor: {SPECIMEN_SAID}: "BS10 - granular cell tumor, colon" (atlas, case BS10, '
    assert answer.rationale.startswith(opening), answer.rationale


def test_an_open_answer_resting_on_a_verified_specimen_says_so_first_and_cites_it():
    """``pathatlas ask --image crop.jpg``: "granular cell tumor (confidence 0.81) / the diagnosis of 1 of the 3 most
    similar cases", settled, said nothing of the verified specimen its search ranked first."""
    question = Question("", [], image=SLIDE)
    answer = answered(question, VERIFIED)
    assert answer.text == "granular cell tumor" and answer.settled
    assert answer.rationale == f"{SPECIMEN_SAID}; the diagnosis of 1 of the 3 most similar cases"
    assert answer.cited[0] == "i1"
    said = answer.rationale
    annotate(answer, question, VERIFIED)
    assert answer.rationale == said, "annotated again, it says the same"


@pytest.mark.parametrize("question", [Question("", [], image=SLIDE), Question("Which fits?", OPTIONS, image=SLIDE)])
def test_look_alikes_are_never_said_to_be_the_same_specimen(question: Question):
    answer = answered(question, LOOK_ALIKES)
    assert answer.settled and "granular cell tumor" in answer.text.lower()
    assert "same specimen" not in answer.rationale and "verified" not in answer.rationale, answer.rationale


@pytest.fixture(scope="module")
def client(tmp_path_factory, demo_corpus):
    """REST on the demo primer and cases, indexed with the hashing encoder (no model to load)."""
    from tests.helpers import hashing_settings

    settings = hashing_settings(tmp_path_factory.mktemp("rationale"))
    index_new(settings, demo_corpus)
    with TestClient(create_app(settings)) as served:
        yield served


def test_each_quote_s_citation_links_its_thumbnail_as_the_answer_s_citations_do(client):
    """``options[].evidence[].citation`` had no thumbnail URL where the answer's ``citations`` had one for the very
    record."""
    body = {
        "question": "A cervical smear shows squamous cells with a clear perinuclear halo. Which cells are these?",
        "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
    }
    answer = client.post("/ask", json=body).json()
    quoted = [q["citation"] for option in answer["options"] for q in option["evidence"]]
    shown = [f"/media/thumbnails/{thumbnail_record(c)}" for c in quoted]  # a caption quote's: its figure's
    assert quoted and [urlsplit(c["thumbnail_url"]).path for c in quoted] == shown, quoted
    assert all(client.get(c["thumbnail_url"]).status_code == 200 for c in quoted)
    answers = {c["evidence"]: c["thumbnail_url"] for c in answer["citations"]}
    same = [c for c in quoted if c["evidence"] in answers and not c["figure"]]  # placed on the evidence
    assert same and all(answers[c["evidence"]] == c["thumbnail_url"] for c in same)


def test_a_caption_quoted_in_the_rationale_names_its_figure_as_its_quote_line_does(client):
    """The rationale cited the demo's Figure 1.1 caption, read in its page's text, as "p. 1" while the option's quote
    line, placed on the figure (``answer_record``), cited "p. 1, Figure 1.1"."""
    options = ["Langhans giant cells", "Koilocytes", "Goblet cells"]
    body = {"question": "Which cells show clear perinuclear halos around raisinoid nuclei?", "options": options}
    answer = client.post("/ask", json=body).json()
    captions = [q for q in answer["options"][answer["choice"]]["evidence"] if q["citation"]["figure"]]
    assert captions, answer["options"]
    for quote in captions:
        label = quote["citation"]["label"]
        assert label.endswith(", Figure 1.1") and f'" ({label})' in answer["rationale"], answer["rationale"]


def test_the_mcp_ask_tool_gives_a_caption_quote_its_figure_s_thumbnail(client):
    import json

    import anyio

    from pathatlas.ui import tools
    from pathatlas.ui.mcp_server import build_server

    body = {
        "question": "A cervical smear shows squamous cells with a clear perinuclear halo. Which cells are these?",
        "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
    }
    called = anyio.run(build_server(tools.Toolbox(client.app.state.engine)).call_tool, "ask", body)
    assert not called.is_error, called.content[0].text
    answer = json.loads(called.content[0].text)
    quoted = [q["citation"] for option in answer["options"] for q in option["evidence"]]
    assert any(c["figure"] and c["record"] != c["evidence"] for c in quoted)
    assert all(c["media"] == f"pathatlas://thumbnails/{thumbnail_record(c)}" for c in quoted), quoted
