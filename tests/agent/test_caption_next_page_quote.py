"""A quote of a figure's caption that opens the next page (``Payload.caption_page``) is cited on its figure, as a
caption printed beside its figure is: the figure's page, label and picture, and the caption's page and box. The
answer's citations grouped figures by their own page, so such a quote (Figure 6.8's caption, opening p. 172 of the A&P
book) was cited as p. 172 alone, boxed with the paragraph under it. Hashing encoder, offline answerer: no model."""

from __future__ import annotations

import pytest

from pathatlas.agent.document import records_on_pages
from pathatlas.agent.evidence import quote_place
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Payload
from pathatlas.ui.library import Atlas
from tests.helpers import hashing_settings, index_new
from tests.indexer.test_caption_next_page import AT_FOOT, BODY, printed_box, write_book
from tests.indexer.test_caption_next_page_owner import write_book as write_parts_book

QUESTION = "What ring a central canal of compact bone?"
OPTIONS = ["Concentric lamellae", "Trabeculae"]
CAPTION_WORDS = "Osteon: Concentric lamellae ring a central canal"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return write_book(tmp_path_factory.mktemp("book") / "book.pdf")


@pytest.fixture(scope="module")
def answer(book, tmp_path_factory) -> dict:
    settings = hashing_settings(tmp_path_factory.mktemp("index"), passage_min_words=len(BODY.split()) // 2)
    index_new(settings, book)
    with Atlas(settings.index_dir, home=settings.home, encoder=HashingEncoder.name) as atlas:
        hits = atlas.search("Osteon", filters={"kind": "figure"}, k=2)
        (figure,) = (hit["id"] for hit in hits if hit["citation"]["figure"] == "Figure 2.1")
        return {**atlas.ask(QUESTION, OPTIONS), "figure": figure}


def caption_citations(answer: dict) -> list[dict]:
    """The citations of the caption's quotes read in the text of the page it opens, not in the figure's record."""
    quoted = [q for option in answer["options"] for q in option["evidence"]]
    cited = [q["citation"] for q in quoted if CAPTION_WORDS in q["quote"]]
    read_in_page = [c for c in cited if c["evidence"] != answer["figure"]]
    assert read_in_page, cited
    return read_in_page


def test_a_caption_opening_the_next_page_is_cited_on_its_figure(book, answer):
    for citation in caption_citations(answer):
        assert citation["label"] == "book.pdf, p. 1, Figure 2.1 (caption on p. 2)"
        assert (citation["record"], citation["figure"], citation["page"]) == (answer["figure"], "Figure 2.1", 1)
        assert citation["bbox"] == list(AT_FOOT), "the picture's box on its page, not the passage's on the next"
        assert citation["caption_page"] == 2
        assert citation["caption_bbox"] == pytest.approx(printed_box(book, 2, "Figure 2.1"), abs=0.06)


def test_the_rationale_cites_the_caption_on_its_figure(answer):
    assert f'{CAPTION_WORDS} of compact bone." (book.pdf, p. 1, Figure 2.1 (caption on p. 2))' in answer["rationale"]


def test_a_quote_of_a_caption_two_parts_share_is_cited_on_the_part_printed_above_it(tmp_path):
    """A figure continued over a page break: the caption opening p. 4 is the p. 3 part's (carried) and the p. 4 part's
    (printed under it). A quote of it read in p. 4's text was cited on whichever part the scan met first."""
    book = write_parts_book(tmp_path / "book.pdf")
    settings = hashing_settings(tmp_path, index=tmp_path / "idx")
    index_new(settings, book)
    with Index.open(tmp_path / "idx", settings) as index:
        pages = [(i, Payload.from_payload(s)) for i, s in index.store.scan({"kind": "page"})]
        page_id, page4 = next((i, p) for i, p in pages if p.page == 4)
        on_page = records_on_pages(index.store, [page4])[(page4.source, 4)]
        place = quote_place("Bone marrow: (a) red marrow; (b) yellow marrow.", page_id, page4, on_page)
    assert (place.cited.page, place.cited.caption_page) == (4, None)
