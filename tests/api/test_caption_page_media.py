"""A figure at a page's foot whose caption the book prints at the top of the next page (``caption_page``) has that page
rendered with its caption outlined (``GET /media/pages/{id}?caption_page=true``), linked beside its ``page_url`` as
``caption_url`` in every REST answer giving one. The page render outlined the figure alone, and a reader had to turn
the page to find an unmarked caption. The two-page book of ``test_caption_next_page``, indexed with the hashing
encoder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.sources.pdf import render
from pathatlas.ui.api.app import create_app
from pathatlas.ui.present import OUTLINE_MARGIN, OUTLINE_POINTS
from tests.helpers import hashing_settings, index_new
from tests.indexer.test_caption_next_page import AT_FOOT, write_book
from tests.indexer.test_passage_boxes import red

DPI = 72
"""One pixel a point: a box in PDF points is its place in the render."""
REACH = OUTLINE_MARGIN + 2 * OUTLINE_POINTS
"""How far past a box its outline's halo reaches, in points (``draw_outline``'s band, drawn ``OUTLINE_MARGIN`` out)."""
OSTEON = "Osteon concentric lamellae central canal"
"""Words of Figure 2.1's caption, which its figure is found by first."""


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """(a client of the service on the book, the book's path, its figures' ids by label, their payloads by label)."""
    root = tmp_path_factory.mktemp("caption-page")
    books = root / "books"
    books.mkdir()
    book = write_book(books / "book.pdf")
    settings = hashing_settings(root)
    index_new(settings, books)
    with TestClient(create_app(settings)) as client:
        figures = list(client.app.state.engine.index.store.scan({"kind": "figure"}))
        ids = {payload["figure"]: record_id for record_id, payload in figures}
        payloads = {payload["figure"]: payload for _, payload in figures}
        assert set(ids) == {"Figure 2.1", "Figure 2.2"}
        yield client, book, ids, payloads


def rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def plain_page(book: Path, number: int) -> np.ndarray:
    """Page ``number`` as MuPDF draws it at ``DPI``, nothing outlined."""
    with pymupdf.open(book) as doc:
        pixmap = render(doc[number - 1], DPI, 10**7)
        return np.frombuffer(pixmap.samples, np.uint8).reshape(pixmap.height, pixmap.width, 3)


def grown(box, by: float) -> tuple[int, int, int, int]:
    """``box`` (points, at ``DPI`` pixels too) grown by ``by`` on each side, as pixel bounds."""
    x0, y0, x1, y1 = box
    return int(x0 - by), int(y0 - by), int(np.ceil(x1 + by)) + 1, int(np.ceil(y1 + by)) + 1


def test_the_caption_page_is_rendered_with_the_caption_outlined_and_nothing_else(library):
    client, book, ids, payloads = library
    caption_box = payloads["Figure 2.1"]["caption_bbox"]
    shown = client.get(f"/media/pages/{ids['Figure 2.1']}", params={"caption_page": "true", "dpi": DPI})
    assert shown.status_code == 200, shown.text
    picture, second = rgb(shown.content), plain_page(book, 2)
    assert picture.shape == second.shape
    changed = (picture != second).any(axis=-1)
    x0, y0, x1, y1 = grown(caption_box, REACH)
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert changed.any() and not outside.any(), "page 2 as drawn, but for an outline around the caption"
    ys, xs = np.nonzero(red(shown.content))
    cx0, cy0, cx1, cy1 = caption_box
    assert xs.min() < cx0 and ys.min() < cy0 and xs.max() > cx1 and ys.max() > cy1, "the red surrounds the caption"
    fx0, fy0, fx1, fy1 = grown(AT_FOOT, REACH)
    assert not red(shown.content)[fy0:fy1, fx0:fx1].any(), "nothing outlined where page 1 shows the figure"


def test_the_caption_render_has_its_own_etag(library):
    client, _, ids, _ = library
    url = f"/media/pages/{ids['Figure 2.1']}"
    figure = client.get(url)
    caption = client.get(url, params={"caption_page": "true"})
    assert caption.status_code == figure.status_code == 200
    assert caption.headers["etag"] != figure.headers["etag"], "another page and another box"
    held = {"If-None-Match": caption.headers["etag"]}
    assert client.get(url, headers=held).status_code == 200, "the figure's page is not the caption's"
    assert client.get(url, params={"caption_page": "true"}, headers=held).status_code == 304
    head = client.head(url, params={"caption_page": "true"})
    assert head.status_code == 200 and head.headers["etag"] == caption.headers["etag"]


def test_a_record_without_a_caption_on_another_page_is_refused_the_caption_page(library):
    client, _, ids, _ = library
    passage = next(rid for rid, _ in client.app.state.engine.index.store.scan({"kind": "passage"}))
    for record_id in (ids["Figure 2.2"], passage):
        for ask in (client.get, client.head):
            refused = ask(f"/media/pages/{record_id}", params={"caption_page": "true"})
            assert refused.status_code == 404, (record_id, refused.status_code)
        said = client.get(f"/media/pages/{record_id}", params={"caption_page": "true"}).json()["detail"]
        assert said == "this record has no caption printed on another page"


def test_caption_url_is_given_beside_page_url_only_for_a_figure_captioned_on_another_page(library):
    client, _, ids, _ = library
    link = f"/media/pages/{ids['Figure 2.1']}?caption_page=true"
    hits = client.post("/search", json={"text": OSTEON, "k": 10}).json()["hits"]
    assert hits[0]["id"] == ids["Figure 2.1"] and hits[0]["caption_url"] == link
    assert all(hit["caption_url"] is None for hit in hits[1:]) and len(hits) > 1
    assert client.get(f"/records/{ids['Figure 2.1']}").json()["caption_url"] == link
    assert client.get(f"/records/{ids['Figure 2.2']}").json()["caption_url"] is None
    answer = client.post("/ask", json={"question": f"What is {OSTEON}?", "options": ["osteon", "trabeculae"]}).json()
    cited = [*answer["citations"], *(q["citation"] for option in answer["options"] for q in option["evidence"])]
    figure = [c for c in cited if c["record"] == ids["Figure 2.1"]]
    assert figure and all(c["caption_url"] == link for c in figure), cited
    assert all(c["caption_url"] is None for c in cited if c["record"] != ids["Figure 2.1"])
    followed, page = client.get(link), client.get(hits[0]["page_url"])
    assert followed.status_code == 200 and followed.headers["content-type"] == "image/png"
    assert followed.headers["etag"] != page.headers["etag"], "the caption's page, not the figure's"


def test_the_schema_describes_caption_url_and_the_caption_page_parameter(library):
    client, *_ = library
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    said = {schemas[name]["properties"]["caption_url"]["description"] for name in ("HitOut", "RecordOut")}
    said |= {schemas[name]["properties"]["caption_url"]["description"] for name in ("QuoteCitation", "AnswerCitation")}
    assert len(said) == 1 and "caption_page" in said.pop(), "one wording at every door"
    parameters = document["paths"]["/media/pages/{record_id}"]["get"]["parameters"]
    caption_page = next(p for p in parameters if p["name"] == "caption_page")
    assert caption_page["schema"]["type"] == "boolean" and "caption" in caption_page["description"]
