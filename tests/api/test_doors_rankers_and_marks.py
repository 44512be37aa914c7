"""Every door says the same thing of one hit: which rankers found it (one table of words for REST's and the CLI's
``why`` and the web UI), and which snippet words the search marks (the query's text and its image's words: REST, the
MCP/LangChain tools, ``Atlas.search``). Fakes stand in for the engine and the searcher: no model, no index."""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import Future

import pytest
from PIL import Image

from pathatlas.retrieval.records import Citation, Hit, Payload
from pathatlas.retrieval.search import Found, Query
from pathatlas.settings import Settings
from pathatlas.ui.api.routes import search as search_route
from pathatlas.ui.api.routes.search import run_search
from pathatlas.ui.api.schemas import HitOut, Links
from pathatlas.ui.hits import hit_record
from pathatlas.ui.library import Atlas
from pathatlas.ui.present import RANKER_WORDS, found_by
from pathatlas.ui.tools import Toolbox
from tests.helpers import png_bytes


def figure_hit(snippet: str = "", matched_by: dict[str, int] | None = None) -> Hit:
    payload = Payload(kind="figure", source="/srv/books/bone.pdf", page=4, figure="Figure 2", text=snippet)
    return Hit("0" * 24, 1.0, "figure", snippet, Citation.of(payload), payload=payload, matched_by=matched_by or {})


RANKINGS = [{ranker: 1} for ranker in [*RANKER_WORDS, "joint:image", "visual:image", "text:image", "plugin-space"]] + [
    {"joint": 3, "visual:image": 1, "joint:image": 2, "bm25": 4, "majority": 5}
]


@pytest.mark.parametrize("matched_by", RANKINGS, ids=lambda matched: ",".join(matched))
def test_rest_json_and_the_web_ui_word_the_rankers_alike(matched_by):
    hit = figure_hit(matched_by=matched_by)
    record = hit_record(hit, 1)
    assert record["why"] == HitOut.of(hit).why == found_by(record) == found_by({"matched_by": matched_by})


def test_why_keeps_its_format_and_names_each_space_apart():
    why = hit_record(figure_hit(matched_by={"joint": 3, "visual:image": 1, "joint:image": 2, "bm25": 4}), 1)["why"]
    assert why == "appearance #1, image-text match #2, words #4"  # joint is not "appearance", nor "meaning"


SNIPPET = "Periosteum covers the outer surface of compact bone; osteoclasts resorb it."
IMAGE_WORDS = "Periosteum Osteoclast"


class FakeSearch:
    """What a search engine, a searcher and an engine answer: one figure hit, the image's words read."""

    settings = Settings()
    index = None  # no index's words: a test searching with words patches them

    def __init__(self) -> None:
        self.queries: list[Query] = []

    def find(self, query: Query) -> Found:
        self.queries.append(query)
        return Found([figure_hit(SNIPPET, {"bm25:image": 1})], IMAGE_WORDS)

    def search(self, query: Query) -> Future[Found]:
        future: Future[Found] = Future()
        future.set_result(self.find(query))
        return future


def marked(snippet: str, marks: list) -> list[str]:
    return [snippet[start:end] for start, end in marks]


def test_found_marks_the_query_text_and_the_image_words():
    found = Found([], IMAGE_WORDS)
    assert found.marked_words("compact bone") == f"compact bone {IMAGE_WORDS}"
    assert found.marked_words(None) == IMAGE_WORDS
    assert Found([]).marked_words("bone") == "bone"


def test_an_image_search_marks_the_images_words_at_every_door():
    image = Image.effect_noise((64, 64), 40).convert("RGB")
    rest = asyncio.run(run_search(FakeSearch(), Query(image=image), Links())).hits[0].snippet_marks
    tools = Toolbox(FakeSearch()).search_image(image_base64=base64.b64encode(png_bytes(image)).decode())
    atlas = Atlas("unused-index")
    atlas._searcher = FakeSearch()  # the index is never opened
    library = atlas.search(image=image)[0]["snippet_marks"]
    assert marked(SNIPPET, rest) == ["Periosteum", "osteoclasts"]
    assert [list(span) for span in rest] == tools["hits"][0]["snippet_marks"] == library


def test_a_text_and_image_search_marks_both_in_rest_and_atlas(monkeypatch):
    monkeypatch.setattr(search_route, "unknown_words_json", lambda texts, idx: [])  # the fake has no index's words
    image = Image.effect_noise((64, 64), 40).convert("RGB")
    rest = asyncio.run(run_search(FakeSearch(), Query(text="compact", image=image), Links())).hits[0].snippet_marks
    atlas = Atlas("unused-index")
    atlas._searcher = FakeSearch()
    library = atlas.search("compact", image=image)[0]["snippet_marks"]
    assert marked(SNIPPET, library) == ["Periosteum", "compact", "osteoclasts"]
    assert [list(span) for span in rest] == library
