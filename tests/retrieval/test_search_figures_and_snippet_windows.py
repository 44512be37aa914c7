"""A student tester's search finds: a figure the query image itself found vanished into a page its printed words
placed first, and a snippet opened at a common query word and left the rarer one out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from pathatlas.retrieval.fusion import snippet
from pathatlas.retrieval.index import Generation
from pathatlas.retrieval.marks import marked_spans, query_terms
from pathatlas.retrieval.search import PRINTED, Query, Searcher
from pathatlas.settings import Settings
from tests.helpers import hashing_settings


@dataclass
class FakeStore:
    stored: dict[str, dict[str, Any]]

    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {record_id: self.stored[record_id] for record_id in ids if record_id in self.stored}


@dataclass(eq=False)
class FakeIndex:
    """What ``Searcher._hits`` reads of an index: settings, the store's payloads and where thumbnails would be."""

    settings: Settings
    store: FakeStore
    media_dir: Path
    generation: Generation = field(default_factory=Generation)
    manifest: dict = field(default_factory=dict)

    def thumbnail_path(self, record_id: str) -> Path:
        return self.media_dir / f"{record_id}.jpg"


def passage(page: int) -> dict[str, Any]:
    return {"kind": "passage", "source": "book.pdf", "page": page, "page_id": f"page-{page}", "text": f"text {page}"}


FIGURE = {
    "kind": "figure",
    "source": "book.pdf",
    "page": 2,
    "figure": "Figure 4.8",
    "bbox": [10.0, 20.0, 300.0, 400.0],
    "text": "Figure 4.8. Summary of Epithelial Tissue Cells",
}


def test_a_figure_the_query_image_found_first_stays_a_hit_with_its_citation(tmp_path):
    """Garbled printed words rank three pages' passages first (weight 256); the image spaces rank Figure 4.8, on page
    2, first. Page 2's hit used to be its passage's, carrying only "printed words #2", and with k=2 the figure, fused
    after page 3's passage, was never read: it left no trace."""
    stored = {f"passage-{n}": passage(n) for n in (1, 2, 3)} | {"figure-2": FIGURE}
    index = FakeIndex(hashing_settings(tmp_path), FakeStore(stored), tmp_path)
    searcher = Searcher(index)  # type: ignore[arg-type]  # the fake holds what _hits reads
    rankings = {
        PRINTED: [("passage-1", 9.0), ("passage-2", 8.0), ("passage-3", 7.0)],
        "joint:image": [("figure-2", 0.9), ("passage-3", 0.1)],
        "visual:image": [("passage-1", 0.8), ("figure-2", 0.7)],
    }
    hits = searcher._hits(Query(image=Image.new("RGB", (32, 32)), k=2), searcher.fuse(rankings), "tubes ureters")
    assert [hit.citation.page for hit in hits] == [1, 2]
    figure = hits[1]
    assert figure.kind == "figure" and figure.id == "figure-2", figure
    assert figure.citation.figure == "Figure 4.8" and figure.citation.bbox == (10.0, 20.0, 300.0, 400.0)
    assert figure.matched_by == {PRINTED: 2, "joint:image": 1, "visual:image": 2}, "every ranker that found page 2"
    assert figure.also_on_page == ["passage-2"]
    assert hits[0].kind == "page" and hits[0].passage == "passage-1", "a page no image space found a figure of"


def test_an_image_query_without_printed_words_shows_its_figure_as_before(tmp_path):
    index = FakeIndex(hashing_settings(tmp_path), FakeStore({"passage-2": passage(2), "figure-2": FIGURE}), tmp_path)
    searcher = Searcher(index)  # type: ignore[arg-type]
    rankings = {"joint:image": [("figure-2", 0.9), ("passage-2", 0.5)]}
    [hit] = searcher._hits(Query(image=Image.new("RGB", (32, 32)), k=3), searcher.fuse(rankings), None)
    assert hit.id == "figure-2" and hit.also_on_page == ["passage-2"] and hit.matched_by == {"joint:image": 1}


GOBLET = (
    "Epithelial cells line the gut. "
    + "The lining renews itself every few days and its surface is folded into villi and crypts. " * 3
    + "Among them, goblet cells secrete mucus onto the surface. "
    + "Further text about the wall of the intestine follows here. " * 4
)


def test_the_snippet_shows_the_window_holding_the_rarer_query_word():
    """ "cells" opens the text and recurs; "goblet" comes once, about 300 characters on: the snippet opened at the
    first "cells" and the hit looked unrelated to "goblet cells"."""
    shown = snippet(GOBLET, "goblet cells")
    assert "goblet cells" in shown, shown
    assert len(shown) <= 240 + 2 and shown.startswith("…") and shown.endswith("…"), "width and marks kept"
    assert marked_spans(shown, query_terms("goblet cells")), "the window holds marked words"


def test_the_snippet_prefers_more_distinct_query_words_and_else_the_first():
    text = "filler " * 40 + "koilocytes here " + "filler " * 40 + "koilocytes with halos " + "more " * 60
    assert "halos" in snippet(text, "koilocytes halos")  # both words beat the first one alone
    first = snippet(text, "koilocytes")
    assert "koilocytes here" in first and "halos" not in first, "equal windows: the first"


def test_the_snippet_may_open_at_a_marked_word_to_hold_the_others_after_it():
    text = (
        "The ectocervix is covered by non-keratinising stratified squamous epithelium. Persistent infection with "
        "high-risk human papillomavirus (HPV) causes squamous intraepithelial lesions. Koilocytes are the hallmark of "
        "productive HPV infection: superficial squamous cells with an enlarged, hyperchromatic, wrinkled (raisinoid) "
        "nucleus surrounded by a sharply outlined clear perinuclear halo. Binucleation is common. Low-grade squamous "
        "intraepithelial lesion (LSIL, CIN 1) shows koilocytic change in the upper layers; high-grade lesions show "
        "atypical basaloid cells."
    )
    shown = snippet(text, "koilocytes perinuclear halo")
    assert shown.startswith("…Koilocytes are the hallmark") and "perinuclear halo" in shown
