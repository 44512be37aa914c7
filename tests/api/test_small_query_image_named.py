"""A query image too small to compare, uploaded to a service with a book indexed: refused naming the file as the
client sent it ("the image is 10x10 pixels" named nothing), never the path it was read from."""

from __future__ import annotations

from PIL import Image

from tests.helpers import png_bytes
from tests.uploads import book_service

TOO_SMALL = "is 10x10 pixels: too small to compare; give one of at least 32 a side"


def test_a_tiny_upload_is_refused_by_its_file_name_at_search_and_ask(tmp_path):
    tiny = png_bytes(Image.new("RGB", (10, 10), "white"))
    with book_service(tmp_path, "osteoid") as client:
        searched = client.post("/search/image", files={"image": ("C:\\fakepath\\tiny.png", tiny)})
        asked = client.post("/ask/image", files={"image": ("tiny.png", tiny)}, data={"question": "What is it?"})
    for response in (searched, asked):
        assert (response.status_code, response.json()["detail"]) == (400, f"tiny.png {TOO_SMALL}"), response.text
