"""GET /media/cases of a 16-bit greyscale PNG served it as stored: a 12-bit camera's brightest 4080 of 65535, nearly
black in a browser, where its thumbnail showed it scaled to its range. It is sent as PNG, scaled as the index read
it (``eight_bit``), under an ETag of its own (the file's, marked), a HEAD decoding nothing, as for the formats
browsers do not show.
Hashing encoder and tiny files throughout."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.responses import FileResponse
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.retrieval.images import open_image
from pathatlas.ui.api.app import create_app
from tests.api.test_head_requests_and_moved_uploads import same_answer
from tests.helpers import index_new
from tests.uploads import api_settings

BRIGHTEST = 4080


def case_folder(folder: Path) -> Path:
    """grey16.png (16 bits a pixel, a gradient up to ``BRIGHTEST``) and grey8.png (8 bits: served as stored)."""
    folder.mkdir(parents=True)
    gradient = np.linspace(0, BRIGHTEST, 96 * 64).reshape(64, 96)
    Image.fromarray(gradient.astype(np.uint16)).save(folder / "grey16.png")
    Image.fromarray((gradient / 16).astype(np.uint8)).save(folder / "grey8.png")
    (folder / "labels.csv").write_text("image,case,diagnosis\ngrey16.png,C-16,fibrosis\ngrey8.png,C-8,fibrosis\n")
    return folder


@pytest.fixture
def served(tmp_path) -> tuple[TestClient, dict[str, str], Path]:
    """A service over ``case_folder``: its client, each image's case image URL by its file name, and the folder."""
    settings = api_settings(tmp_path)
    folder = case_folder(tmp_path / "cases")
    index_new(settings, folder)
    with TestClient(create_app(settings)) as client:
        found = client.post("/search", json={"text": "fibrosis", "k": 10, "filters": {"kind": "case"}}).json()["hits"]
        yield client, {hit["citation"]["image"]: hit["case_image_url"] for hit in found}, folder


def test_a_16_bit_greyscale_image_is_sent_as_png_scaled_to_its_range(served):
    client, urls, folder = served
    got = client.get(urls["grey16.png"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    sent = Image.open(io.BytesIO(got.content))
    assert sent.mode in ("L", "RGB"), "8 bits a channel, as a browser shows it"
    pixels = np.asarray(sent.convert("L"), dtype=int)
    assert abs(pixels.max() - round(BRIGHTEST * 255 / 4095)) <= 1, "its 12 bits' white is white, not 4080 of 65535"
    indexed = np.asarray(open_image(folder / "grey16.png", 10**8).convert("L"), dtype=int)
    assert np.array_equal(pixels, indexed), "as the index read it, and its thumbnail shows it"


def test_the_png_sent_has_an_etag_of_its_own_and_a_head_answers_as_its_get(served):
    """Under the file's ETag, a browser holding the file as an API before this one sent it (nearly black) was answered
    304 and kept showing it."""
    client, urls, folder = served
    stored = folder / "grey16.png"
    files_etag = FileResponse(stored, stat_result=stored.stat()).headers["etag"]
    etag = client.get(urls["grey16.png"]).headers["etag"]
    assert etag != files_etag
    assert client.get(urls["grey16.png"], headers={"If-None-Match": files_etag}).status_code == 200
    assert client.get(urls["grey16.png"], headers={"If-None-Match": etag}).status_code == 304
    same_answer(client, urls["grey16.png"])
    assert "content-length" not in client.head(urls["grey16.png"]).headers, "a HEAD decodes nothing to count"


def test_an_8_bit_greyscale_png_is_still_sent_as_stored_under_the_files_etag(served):
    client, urls, folder = served
    stored = folder / "grey8.png"
    sent = client.get(urls["grey8.png"])
    assert sent.content == stored.read_bytes()
    assert sent.headers["etag"] == FileResponse(stored, stat_result=stored.stat()).headers["etag"]
