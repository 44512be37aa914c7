"""Follow-ups on the REST API, the MCP tools and the page viewer: the outline of a passage on a page turned by /Rotate
and trimmed by a crop box, pages read as the indexer read them, a case hit's links, what cancelling a job answers, one
refusal of a search text without a word at every door, and the MCP image search taking words too."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import urlsplit

import anyio
import numpy as np
import pymupdf
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError
from PIL import Image

from pathatlas.corpora.demo import draw_pattern
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.pdf import render
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.api.test_doors import service  # noqa: F401 - the REST service and tools on the demo index
from tests.helpers import hashing_settings, png_bytes, run_cli
from tests.indexer.test_awkward_sources import PAGE_WORDS, nested, stating, typed_pdf
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, held_upload

TURNS = (0, 90, 180, 270)
CROP = pymupdf.Rect(40, 60, 380, 470)
"""A crop box not starting at 0,0: with a /Rotate, MuPDF placed a rectangle drawn into the page 36-73 points off."""
VIEW_DPI = 72


def turned_pdf(path, turn: int, cropped: bool):
    """A one-page PDF of one line of words, turned by /Rotate ``turn``, trimmed by ``CROP`` when ``cropped``."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=500)
    page.insert_text((150, 200), "koilocytes halo nuclei cervix squamous epithelium", fontsize=10)
    if cropped:
        page.set_cropbox(CROP)
    page.set_rotation(turn)
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """(a client of the service, its settings, the sound PDF the miscounted ones were made from): on a library of
    turned and trimmed pages and of PDFs whose page tree states the wrong count, indexed with the hashing encoder."""
    root = tmp_path_factory.mktemp("followups")
    books = root / "books"
    books.mkdir()
    for turn in TURNS:
        for cropped in (False, True):
            turned_pdf(books / f"turned{turn}-{'cropped' if cropped else 'whole'}.pdf", turn, cropped)
    sound = typed_pdf(root / "handout.pdf", 4)
    (books / "stating1.pdf").write_bytes(stating(typed_pdf(root / "three.pdf"), 1).read_bytes())
    (books / "nested.pdf").write_bytes(nested(root / "four.pdf", inner=1, root_count=2).read_bytes())
    settings = hashing_settings(root)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([books]).failed
    index.close()
    with TestClient(create_app(settings)) as client:
        yield client, settings, sound


def records(client, name: str, kind: str) -> dict[int, tuple[str, dict]]:
    """The records of one kind of the source ``name``, by page: (id, payload)."""
    index = client.app.state.engine.index
    key = next(key for key in index.manifest if key.endswith(f"/{name}"))
    return {p["page"]: (rid, p) for rid, p in index.store.scan({"kind": kind, "source": key})}


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The smallest box (x0, y0, x1, y1) holding every true pixel of ``mask``."""
    ys, xs = np.nonzero(mask)
    assert len(xs), "nothing of it in the picture"
    return xs.min(), ys.min(), xs.max(), ys.max()


# -- 1. the outline is drawn where the page shows the passage ------------------------------------------------------


@pytest.mark.parametrize("cropped", [False, True], ids=["whole", "cropped"])
@pytest.mark.parametrize("turn", TURNS)
def test_the_outline_surrounds_the_passage_on_a_turned_and_trimmed_page(library, turn, cropped):
    """A page both turned (/Rotate) and trimmed (a crop box not at 0,0) had its passage's red box drawn 36-73 points
    off the words; every turn, trimmed or not, now outlines the words closely."""
    client, _, _ = library
    name = f"turned{turn}-{'cropped' if cropped else 'whole'}.pdf"
    (passage, payload), *others = records(client, name, "passage").values()
    assert not others and payload["bbox"]
    shown = client.get(f"/media/pages/{passage}", params={"dpi": VIEW_DPI})
    assert shown.status_code == 200, shown.text
    image = pixels(shown.content)
    red = (image[..., 0] > 180) & (image[..., 1] < 90) & (image[..., 2] < 90)
    ink = image.sum(axis=-1) < 200
    (rx0, ry0, rx1, ry1), (ix0, iy0, ix1, iy1) = box_of(red), box_of(ink)
    assert rx0 < ix0 and ry0 < iy0 and rx1 > ix1 and ry1 > iy1, "the outline surrounds the words"
    assert max(ix0 - rx0, iy0 - ry0, rx1 - ix1, ry1 - iy1) <= 15, "and closely"


# -- 2. the page viewer reads a PDF's pages as the indexer did -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pages"),
    [("stating1.pdf", [1, 2, 3]), ("nested.pdf", [1, 2, 3, 4])],
    ids=["stating-1-of-3", "nested-2-of-4"],
)
def test_the_page_viewer_shows_the_page_the_index_holds_under_a_wrong_page_count(library, name, pages):
    """A page tree stating 1 page of 3 answered 410 for pages 2 and 3, which the index holds; one stating 2 of a
    nested 4 showed page 3 as page 2. Each page is now the page indexed: the sound file's page of the same words."""
    client, _, sound = library
    indexed = records(client, name, "page")
    assert sorted(indexed) == pages
    with pymupdf.open(sound) as doc:
        for number in pages:
            record, payload = indexed[number]
            assert PAGE_WORDS[number - 1] in payload["text"]
            shown = client.get(f"/media/pages/{record}", params={"dpi": 40})
            assert shown.status_code == 200, (number, shown.text)
            expected = render(doc[number - 1], 40, 10**7)
            assert pixels(shown.content).astype(np.uint8).tobytes() == expected.samples, f"page {number}"


# -- 3. a case hit links its case and its full-size image ------------------------------------------------------------


def test_a_case_hit_links_its_case_and_its_image_and_the_schema_says_so(service):  # noqa: F811
    client, _ = service
    hits = client.post("/search", json={"text": "granuloma", "k": 6, "filters": {"kind": "case"}}).json()["hits"]
    assert hits
    for hit in hits:
        paths = urlsplit(hit["case_url"]).path, urlsplit(hit["case_image_url"]).path  # the query is the link's key
        assert paths == (f"/cases/{hit['id']}", f"/media/cases/{hit['id']}")
        case = client.get(hit["case_url"])
        assert case.status_code == 200 and hit["id"] in [image["id"] for image in case.json()["images"]]
        picture = client.get(hit["case_image_url"])
        assert picture.status_code == 200 and picture.headers["content-type"].startswith("image/")
    page = client.post("/search", json={"text": "granuloma", "k": 1, "filters": {"kind": "page"}}).json()["hits"][0]
    assert page["case_url"] is None and page["case_image_url"] is None
    fields = client.get("/openapi.json").json()["components"]["schemas"]["HitOut"]["properties"]
    assert "GET this" in fields["case_url"]["description"] and "GET this" in fields["case_image_url"]["description"]


# -- 4. cancelling a job says what was done --------------------------------------------------------------------------


def test_a_cancel_taken_says_so_and_a_job_that_ended_is_409(tmp_path, monkeypatch):
    """DELETE of a running job answered 200 "running" with nothing showing the cancel was taken, and one of a
    finished job 200 as if it had been cancelled."""
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job_id, go = held_upload(client, tmp_path, monkeypatch)
        assert client.get(f"/jobs/{job_id}").json()["cancel_requested"] is False
        taken = client.delete(f"/jobs/{job_id}", headers=AUTH)
        assert taken.status_code == 202, taken.text
        assert (taken.json()["status"], taken.json()["cancel_requested"]) == ("running", True)
        assert client.get(f"/jobs/{job_id}").json()["cancel_requested"] is True
        go.set()
        assert job_ended(client, job_id)["status"] == "cancelled"
        again = client.delete(f"/jobs/{job_id}", headers=AUTH)
        assert again.status_code == 409
        assert again.json() == {"detail": f"job {job_id} already ended (cancelled): nothing to cancel"}
        documented = client.get("/openapi.json").json()["paths"]["/jobs/{job_id}"]["delete"]
    assert {"202", "409"} <= set(documented["responses"]) and "already ended" in documented["description"]


# -- 5. a text without a word is refused alike at every door ---------------------------------------------------------


def door_refusals(client, settings, text: str) -> dict[str, str]:
    """What REST (its one 422 field error), MCP, LangChain and the command line say of a search for ``text``."""
    toolbox = Toolbox(client.app.state.engine)
    rest = client.post("/search", json={"text": text})
    assert rest.status_code == 422, rest.text
    (error,) = rest.json()["detail"]
    assert error["loc"] == ["body", "text"]
    with pytest.raises(ToolError) as mcp:
        anyio.run(build_server(toolbox).call_tool, "search", {"text": text})
    cli = run_cli("search", text, "--index", settings.index_dir, home=settings.home)
    errors = [line for line in cli.output.splitlines() if line.startswith("error: ")]
    return {
        "rest": error["msg"],
        "mcp": str(mcp.value).removeprefix("Error executing tool search: "),
        "langchain": PathAtlasRetriever(toolbox=toolbox).as_tools()[0].invoke({"text": text}),
        "cli": errors[0].removeprefix("error: ") if cli.exit_code == 1 and len(errors) == 1 else cli.output,
    }


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("x", "the query 'x' has only common words (stop words, single letters or punctuation): add a word"),
        ("the of and", "the query 'the of and' has only common words"),
        (" ? ", "the query '?' has only common words"),
        ("   ", "empty query: give some text, an image, or both"),
    ],
)
def test_a_search_text_without_a_word_is_refused_in_the_same_words_at_every_door(library, text, said):
    """REST answered "x" 422 "the search text has no word to look for" and "the of and" 400 "has only common
    words", as the command line and MCP said both."""
    client, settings, _ = library
    refusals = door_refusals(client, settings, text)
    assert len(set(refusals.values())) == 1, refusals
    assert refusals["rest"].startswith(said)


@pytest.mark.parametrize("text", ["H&E", "K+"])
def test_rest_searches_the_names_the_other_doors_search(library, text):
    """REST refused "H&E" and "K+" (no two letters in a row), which the command line and MCP search."""
    client, _, _ = library
    assert client.post("/search", json={"text": text}).status_code == 200


# -- 6. the MCP image search takes words too -------------------------------------------------------------------------


def test_the_mcp_image_search_takes_words_as_rest_does(service):  # noqa: F811
    """REST's /search/image takes an image and words together; the MCP tool took no ``text`` (refused as unknown)."""
    client, toolbox = service
    png = png_bytes(draw_pattern("granuloma", 3))
    words = "koilocytes perinuclear halo"
    server = build_server(toolbox)

    def mcp(arguments: dict) -> list[dict]:
        image = {"image_base64": base64.b64encode(png).decode()}
        return json.loads(anyio.run(server.call_tool, "search_image", {**image, **arguments}).content[0].text)["hits"]

    def shown(hits: list[dict]) -> list[tuple]:
        return [(hit["id"], hit["relevance"], hit["matched_by"], hit["snippet_marks"]) for hit in hits]

    rest = client.post("/search/image", files={"image": ("slide.png", png)}, data={"text": words, "k": "5"})
    assert rest.status_code == 200, rest.text
    with_words = mcp({"text": words, "k": 5})
    assert shown(with_words) == shown(rest.json()["hits"])
    assert any("bm25" in hit["matched_by"] for hit in with_words), "the words were searched"
    assert not any("bm25" in hit["matched_by"] for hit in mcp({"k": 5})), "the image alone matches no words"
    schema = next(tool for tool in anyio.run(server.list_tools) if tool.name == "search_image").input_schema
    assert schema["properties"]["text"]["anyOf"][0] == {"type": "string", "maxLength": 4000}
