"""A student searches with a micrograph and words at once. A file name given as the words ("slide.jpg", without
``image=``) was searched for its meaning, its hits all "related", with nothing said; and an image with words, filters
and k must find the same hits at the Python, REST and MCP doors."""

from __future__ import annotations

import json

import anyio
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.ui.api.app import create_app
from pathatlas.ui.library import Atlas
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.helpers import one_error_line, run_cli


@pytest.fixture(scope="module")
def slide(demo_corpus):
    """A case image of the demo atlas, as a student's upload."""
    return sorted((demo_corpus / "cases" / "images").glob("*.jpg"))[0]


@pytest.fixture(scope="module")
def atlas(demo_index, session_home):
    with Atlas(demo_index.path, home=session_home) as opened:
        yield opened


def test_an_image_file_given_as_the_words_is_refused_pointing_to_image(atlas, slide, monkeypatch):
    for named in (str(slide), f"  {slide}  ", slide.name):
        monkeypatch.chdir(slide.parent)  # "slide.jpg" as a shell in its folder completes it
        with pytest.raises(BadInputError, match=r"is an image file, not words to look for: give it as image=") as no:
            atlas.search(named)
        assert "\n" not in str(no.value)
        with pytest.raises(BadInputError, match="is an image file"):
            atlas.hits(named)
    by_image = atlas.search(image=slide, k=3)
    assert by_image[0]["citation"]["image"] == f"images/{slide.name}"


def test_words_that_only_look_like_a_file_name_are_still_searched(atlas, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no such file here; nor is a text file an image
    (tmp_path / "notes.txt").write_text("koilocytes")
    for words in ("koilocytes.jpg", "notes.txt", "koilocytes " + "x-" * 150 + ".png"):
        assert isinstance(atlas.search(words, k=2), list)


def test_an_image_with_words_filters_and_k_finds_the_same_hits_at_every_door(atlas, demo_index, slide):
    words, k, filters = "koilocytes perinuclear halo", 3, {"kind": "case"}
    python = [hit["id"] for hit in atlas.search(words, image=slide, k=k, filters=filters)]
    with TestClient(create_app(demo_index.settings)) as client:
        form = {"text": words, "k": str(k), "filters": json.dumps(filters)}
        rest = client.post("/search/image", files={"image": (slide.name, slide.read_bytes())}, data=form)
        assert rest.status_code == 200, rest.text
        server = build_server(Toolbox(client.app.state.engine, allow_dirs=[slide.parent]))
        arguments = {"image_path": str(slide), "text": words, "k": k, "kind": "case"}
        called = anyio.run(server.call_tool, "search_image", arguments)
        assert not called.is_error, called.content[0].text
    assert len(python) == k and {hit["kind"] for hit in rest.json()["hits"]} == {"case"}
    assert [hit["id"] for hit in rest.json()["hits"]] == python
    assert [hit["id"] for hit in json.loads(called.content[0].text)["hits"]] == python


def test_the_command_line_refuses_an_image_file_given_as_words_as_the_library_does(tmp_path):
    picture = tmp_path / "aca1.png"
    Image.new("RGB", (64, 64), "pink").save(picture)
    result = run_cli("search", str(picture), "--index", tmp_path / "idx", home=tmp_path / "home")
    assert one_error_line(result, "is an image file, not words to look for", f"--image {picture}")
