"""GET /pages says a page's neighbours (task NP): the previous and next page of its source that the index holds a
record of, null at either end, and with ``nearest`` answers the nearest such page before or after a number. A slide with
a title alone keeps its number but has no record, so the web viewer asked GET /pages slide by slide, up to 17 times at a
deck's end before saying there was no slide after it. Hashing encoder, a deck of lecture notes and a 3-page PDF."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new, note

DECK = """---
title: "Meningioma"
---

## Histologic patterns

- Syncytial: whorled clusters of cells

## A picture alone

![](whorls.png)

## Secretory

- gland-like PAS-positive eosinophilic secretions known as pseudopsammoma bodies

## Another picture

![](psammoma.png)
"""
"""Slides 2 and 4 have words, so records; 1 (the title slide), 3 and 5 have a title alone, so none."""


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("neighbours")
    settings = hashing_settings(root)
    index_new(settings, note(root / "notes", "deck.md", DECK), make_pdf(root / "book.pdf", 3, "v1"))
    with TestClient(create_app(settings)) as served:
        yield served


def paged(client: TestClient, source: str, page: int, **options) -> dict:
    response = client.get("/pages", params={"source": source, "page": page, **options})
    assert response.status_code == 200, response.text
    return response.json()


def neighbours(page: dict) -> tuple[int | None, int, int | None]:
    return page["previous_page"], page["citation"]["page"], page["next_page"]


def test_a_slide_names_the_nearest_slides_with_a_record_either_side_null_at_the_decks_ends(client):
    assert neighbours(paged(client, "deck.md", 2)) == (None, 2, 4)
    assert neighbours(paged(client, "deck.md", 4)) == (2, 4, None)


def test_a_books_page_names_the_pages_beside_it(client):
    pages = [neighbours(paged(client, "book.pdf", page)) for page in (1, 2, 3)]
    assert pages == [(None, 1, 2), (1, 2, 3), (2, 3, None)]


def test_nearest_answers_the_nearest_page_with_a_record_that_way_in_one_request(client):
    assert neighbours(paged(client, "deck.md", 2, nearest="after")) == (2, 4, None)
    assert neighbours(paged(client, "deck.md", 3, nearest="after")) == (2, 4, None), "from a slide without a record"
    assert neighbours(paged(client, "deck.md", 4, nearest="before")) == (None, 2, 4)
    assert neighbours(paged(client, "deck.md", 9, nearest="before")) == (2, 4, None), "from past the deck's end"


def test_nearest_past_either_end_is_404_naming_the_way(client):
    after = client.get("/pages", params={"source": "deck.md", "page": 4, "nearest": "after"})
    before = client.get("/pages", params={"source": "deck.md", "page": 2, "nearest": "before"})
    assert (after.status_code, before.status_code) == (404, 404)
    assert after.json()["detail"] == "no page after 4 of deck.md in the index"
    assert before.json()["detail"] == "no page before 2 of deck.md in the index"


def test_without_nearest_a_page_without_a_record_is_still_404_and_nearest_takes_only_its_two_ways(client):
    assert client.get("/pages", params={"source": "deck.md", "page": 3}).status_code == 404
    assert client.get("/pages", params={"source": "deck.md", "page": 2, "nearest": "next"}).status_code == 422
