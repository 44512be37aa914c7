"""Answers' citations carry the links a search hit has: each quote's page rendered with the quote's own box outlined,
a case's image; a quote that is a figure's caption read in its page's text names the figure."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pathatlas.agent.evidence import quote_place
from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.records import Payload, union_box
from pathatlas.ui.api import routes
from pathatlas.ui.api.app import create_app
from tests.helpers import png_bytes

CAPTION = "Figure 4.14. Reticular Tissue: This is a loose connective tissue made up of a network of reticular fibers."
PAGE = {
    "p0": Payload(kind="passage", page=13, passage=0, bbox=(60, 60, 550, 140), text="Loose connective tissue binds."),
    "p1": Payload(
        kind="passage", page=13, passage=1, bbox=(60, 530, 550, 714), text=f"Reticular tissue is a mesh.\n{CAPTION}"
    ),
    "f14": Payload(
        kind="figure", page=13, bbox=(60, 300, 550, 520), figure="Figure 4.14", figure_printed="Fig. 4.14", text=CAPTION
    ),
}
QUOTE = "Reticular Tissue: This is a loose connective tissue made up of a network of reticular fibers."


def test_a_quote_is_placed_in_the_passage_holding_it_and_a_caption_on_its_figure():
    """A caption quote was labelled "Figure 4.14" but boxed by the passage holding it (prose and caption alike), so
    "Open" outlined the wrong region."""
    page = Payload(kind="page", page=13, text="Loose connective tissue binds.\nReticular tissue is a mesh.\n" + CAPTION)
    place = quote_place(QUOTE, "page13", page, PAGE)
    assert (place.record, place.bbox, place.figure) == ("f14", (60, 300, 550, 520), "Fig. 4.14")
    prose = quote_place("Reticular tissue is a mesh.", "page13", page, PAGE)
    assert (prose.record, prose.bbox, prose.figure) == ("p1", (60, 530, 550, 714), None)
    found_by_first = Payload(kind="passage", page=13, passage=0, bbox=(60, 60, 550, 140), text=PAGE["p0"].text)
    own = quote_place("Loose connective tissue binds.", "page13", found_by_first, PAGE)
    assert (own.record, own.bbox, own.figure) == ("p0", (60, 60, 550, 140), None), "not the page's id: its box"


@pytest.fixture(scope="module")
def client(demo_index):
    """The demo index (its primer and cases) with its own encoder, which searches by image too."""
    with TestClient(create_app(demo_index.settings.model_copy(update={"index": demo_index.path}))) as test_client:
        yield test_client


def outlined_boxes(monkeypatch) -> list:
    """The boxes the page route draws, as it renders them."""
    drawn, render = [], routes.media.render_page

    def recording(key, max_pixels):
        drawn.append(union_box(key[3]))
        return render(key, max_pixels)

    monkeypatch.setattr(routes.media, "render_page", recording)
    return drawn


def test_ask_cites_each_quote_with_its_page_outlined_and_a_caption_with_its_figure(client, monkeypatch):
    body = {
        "question": "What surrounds the raisinoid nuclei of koilocytes in cervical squamous epithelium?",
        "options": ["clear perinuclear halos", "keratin pearls"],
    }
    answer = client.post("/ask", json=body).json()
    quotes = [q for option in answer["options"] for q in option["evidence"]]
    drawn = outlined_boxes(monkeypatch)
    for cited in [*(q["citation"] for q in quotes), *answer["citations"]]:
        shown = client.get(cited["page_url"])
        assert shown.status_code == 200 and shown.content[:4] == b"\x89PNG"
        assert drawn[-1] == tuple(cited["bbox"]), "the page outlines the box the citation gives"
    caption = next(q for q in quotes if q["quote"].startswith("Koilocytes: Koilocytes in cervical"))
    assert caption["citation"]["figure"] == "Figure 1.1"
    assert caption["citation"]["label"] == "PathAtlas Demo Primer of Pathology (demo-primer.pdf), p. 1, Figure 1.1"
    image, printed = [60, 410, 300, 590], caption["citation"]["bbox"]  # the demo figure's image box
    assert printed[:3] == image[:3] and 590 < printed[3] < 640, (
        "the figure's box grown to its caption below, no passage"
    )
    prose = next(q for q in quotes if q["quote"].startswith("Koilocytes are the hallmark"))
    assert prose["citation"]["figure"] is None, "a sentence of the page's prose is no caption"


def test_ask_about_an_image_links_each_case_quote_to_its_image(client):
    files = {"image": ("slide.png", png_bytes(draw_pattern("granuloma", 3)))}
    options = '["tuberculosis", "lung adenocarcinoma"]'  # two of the demo cases' diagnoses
    answer = client.post("/ask/image", files=files, data={"question": "What is shown?", "options": options}).json()
    quoted = [q["citation"] for o in answer["options"] for q in o["evidence"]]
    cases = [c for c in [*quoted, *answer["citations"]] if c["case"]]
    assert cases, answer
    for cited in cases:
        assert cited["page_url"] is None
        image = client.get(cited["case_image_url"])
        assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
