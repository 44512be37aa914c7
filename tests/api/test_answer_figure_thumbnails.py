"""An answer's quote of a figure's caption, read in its page's text, is placed on the figure (``answer_record``): its
citation names the figure, gives the figure's box, and shows the figure's thumbnail, the one a search shows for that
figure, not the whole page's. Hashing encoder and a one-page PDF: no model to load."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient

from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.ui.api.app import create_app
from pathatlas.ui.library import Atlas
from tests.helpers import hashing_settings, index_new, png_bytes

PROSE = (
    "Psammoma bodies are concentric lamellated calcified structures. They are seen in papillary carcinoma of the "
    "thyroid, serous tumours of the ovary and meningioma, where dystrophic calcification follows single-cell necrosis."
)
CAPTION = "Figure 1.1. Psammoma bodies: laminated purple calcospherites between the papillae of a thyroid carcinoma."
QUESTION = "What lies between the papillae of a thyroid carcinoma?"
OPTIONS = ["laminated purple calcospherites", "Russell bodies"]
PASSAGE_MIN_WORDS = 10  # the prose and the caption each a passage of their own


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """The settings of an index of one page: a paragraph of prose, then a figure and its caption below it."""
    root = tmp_path_factory.mktemp("figure_thumbnails")
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_htmlbox(pymupdf.Rect(60, 50, 552, 300), f"<p>{PROSE}</p>")
    page.insert_image(pymupdf.Rect(60, 320, 300, 500), stream=png_bytes(draw_pattern("keratin-pearls", 7)))
    page.insert_htmlbox(pymupdf.Rect(60, 505, 300, 640), f"<p style='font-size:9px'>{CAPTION}</p>")
    doc.save(root / "thyroid.pdf")
    settings = hashing_settings(root, passage_min_words=PASSAGE_MIN_WORDS)
    index_new(settings, root / "thyroid.pdf")
    return settings


@pytest.fixture(scope="module")
def atlas(settings):
    with Atlas(settings.index_dir, home=settings.home, encoder=HashingEncoder.name) as opened:
        yield opened


def caption_citations(answer: dict) -> list[dict]:
    """The citations of the quotes of the caption (under each option it is quoted for), placed on the figure."""
    quoted = [q for option in answer["options"] for q in option["evidence"]]
    citations = [q["citation"] for q in quoted if q["quote"].startswith("Psammoma bodies: laminated")]
    assert citations and all(c["label"] == "thyroid.pdf, p. 1, Figure 1.1" for c in citations), citations
    return citations


def figure_hit(atlas: Atlas) -> dict:
    (hit,) = atlas.search("laminated purple calcospherites", filters={"kind": "figure"}, k=1)
    return hit


def test_a_caption_quote_placed_on_its_figure_shows_the_figure_s_thumbnail_in_python(atlas):
    """The citation gives the figure's box and label, so its thumbnail is the figure's, not the whole page's."""
    figure = figure_hit(atlas)
    for citation in caption_citations(atlas.ask(QUESTION, OPTIONS)):
        assert (citation["record"], citation["evidence"] != figure["id"]) == (figure["id"], True), "read in the page"
        assert citation["thumbnail"] == figure["thumbnail"], "the figure's own thumbnail, as its search hit shows"
        page = atlas.index.thumbnail_path(citation["evidence"])
        assert Path(figure["thumbnail"]).read_bytes() != page.read_bytes(), "a page's thumbnail is not its figure's"


def test_a_caption_quote_placed_on_its_figure_links_the_figure_s_thumbnail_in_rest(settings, atlas):
    """REST links the figure's thumbnail, the one a search shows for it, not the page the caption was read in."""
    figure = figure_hit(atlas)
    with TestClient(create_app(settings)) as client:
        answered = client.post("/ask", json={"question": QUESTION, "options": OPTIONS})
        assert answered.status_code == 200, answered.text
        links = {citation["thumbnail_url"] for citation in caption_citations(answered.json())}
        assert links == {f"/media/thumbnails/{figure['id']}"}, links
        served = client.get(links.pop())
    assert served.status_code == 200 and served.content == Path(figure["thumbnail"]).read_bytes()
