"""A tester's report: "xyzzyqwerty plumbus" and "recipe for chocolate cake" (no word of either indexed) listed twelve
unrelated pages, the first a green "best match" and three "strong match": relevance came from the rank and the score
relative to the first hit alone. Now a search whose words matched nothing, its hits found by meaning alone, calls
every hit "related", in REST and the CLI alike; a search whose words matched keeps its labels, and an image search
its own (test_image_badges)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.schemas import HitOut
from pathatlas.ui.hits import by_meaning_alone, hit_records
from tests.helpers import png_bytes, run_cli

NONSENSE = ["xyzzyqwerty plumbus", "recipe for chocolate cake"]
SENSE = "koilocytes perinuclear halo"
LABEL = re.compile(r"best match|strong match|good match|related")


@pytest.fixture(scope="module")
def client(demo_index):
    """The API over the demo index (read-only use)."""
    with TestClient(create_app(Settings(home=demo_index.settings.home, index=demo_index.path))) as test_client:
        yield test_client


def rest_hits(client, text: str) -> list[dict]:
    response = client.post("/search", json={"text": text, "k": 12})
    assert response.status_code == 200, response.text
    return response.json()["hits"]


def cli(demo_index, monkeypatch, *args) -> str:
    monkeypatch.setenv("PATHATLAS_HOME", str(demo_index.settings.home))
    result = run_cli("search", *args, "--index", demo_index.path, "-k", 12)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("text", NONSENSE)
def test_a_search_whose_words_match_nothing_claims_no_match_in_rest_and_the_cli(client, demo_index, monkeypatch, text):
    hits = rest_hits(client, text)
    assert len(hits) == 12 and all(h["why"].startswith("meaning #") and "words" not in h["why"] for h in hits)
    assert {h["relevance"] for h in hits} == {"related"}, [h["relevance"] for h in hits]
    printed = json.loads(cli(demo_index, monkeypatch, text, "--json"))
    assert [(h["id"], h["relevance"]) for h in printed] == [(h["id"], h["relevance"]) for h in hits]
    assert set(LABEL.findall(cli(demo_index, monkeypatch, text))) == {"related"}, "the table says it too"


def test_a_search_whose_words_match_keeps_its_best_match_first(client, demo_index, monkeypatch):
    hits = rest_hits(client, SENSE)
    assert hits[0]["relevance"] == "best match" and "words #1" in hits[0]["why"]
    printed = json.loads(cli(demo_index, monkeypatch, SENSE, "--json"))
    assert [h["relevance"] for h in printed] == [h["relevance"] for h in hits]
    assert LABEL.findall(cli(demo_index, monkeypatch, SENSE))[0] == "best match"


def test_an_image_search_keeps_the_best_match_of_its_same_specimen(client):
    """An image search has no words, so no "related" for meaning alone: the indexed slide itself is its best match;
    a new granuloma's nearest (tuberculosis and sarcoidosis, one case each) only looks alike (test_image_badges)."""

    def first(image):
        files = {"image": ("slide.png", png_bytes(image))}
        return client.post("/search/image", files=files, data={"k": "3"}).json()["hits"][0]

    same = first(draw_pattern("granuloma", 1014))  # DEMO-02's first view
    assert same["relevance"] == "best match" and "same specimen" in same["why"] and "words" not in same["why"]
    assert first(draw_pattern("granuloma", 3))["relevance"] == "looks alike"


def hit(matched_by: dict[str, int], relative: float) -> Hit:
    return Hit(str(relative), relative, "page", "", Citation("b.pdf", page=1), matched_by=matched_by, relative=relative)


@pytest.mark.parametrize(
    ("query", "rankers", "alone"),
    [
        ("plumbus", ["text", "joint"], True),  # words matched nothing: meaning alone
        ("koilocytes", ["text", "bm25"], False),  # the second hit was found by words
        ("", ["visual:image", "joint:image"], False),  # an image search has no words
        ("HPV", ["visual:image", "bm25:image"], False),  # an image's printed words searched
        ("plumbus", ["text", "specimen"], False),  # a text and an image: the image found a specimen
        (None, ["text", "text"], False),  # find similar: a record's text vector, no words
    ],
)
def test_only_a_search_with_words_that_found_nothing_by_them_is_by_meaning_alone(query, rankers, alone):
    hits = [hit({rankers[0]: 1}, 1.0), hit({rankers[1]: 2, "text": 2}, 0.9)]
    assert by_meaning_alone(hits, query) is alone
    labels = [record["relevance"] for record in hit_records(hits, query)]
    assert labels == (["related", "related"] if alone else ["best match", "strong match"])
    assert [shown.relevance for shown in HitOut.ranked(hits, query=query)] == labels, "REST"
