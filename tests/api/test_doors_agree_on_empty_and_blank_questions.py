"""Questions the doors answered differently (tester q3). An index that holds nothing (never indexed, or every source
removed) was answered at the CLI, the library, REST and MCP ("osteoclast", confidence 0.55, from no evidence) where
the web UI says "Nothing is indexed"; now every door refuses in one line (REST 404). A blank question beside an image
with options (an image question printed without a stem) was refused in three sets of words, while the library and
the CLI answered "?" beside an image that REST and MCP refused; now a blank question asks what the image shows at
every door, and one typed without a word is refused at every door in the same words. Fast encoders: no model is the
point."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.errors import BadInputError, IndexMissingError
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.library import Atlas
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.api.test_doors_agree import mcp_error, mcp_json
from tests.helpers import hashing_settings, one_error_line, only_error_line, quick, run_cli
from tests.indexer.test_incremental_cases import ENCODER as PIXEL_ENCODER

BONE = ["Which cells resorb bone?", "--option", "A=osteoclast", "--option", "B=osteoblast"]
NOTHING = "nothing is indexed at {} yet: add sources to it, then ask"
NO_WORD = "the question has no word to look for: type two letters or digits in a row, or a CJK character"
OPTIONS = ["tuberculosis", "sarcoidosis"]
SLIDE = "images/DEMO-02-1.jpg"
"""A case image of tuberculosis in the demo corpus."""


def served(settings: Settings) -> TestClient:
    """The REST service on ``settings``'s index, to be entered (``with``)."""
    return TestClient(create_app(settings))


def mcp_server(client: TestClient):
    """The MCP server on the entered service's engine, as ``pathatlas mcp`` builds it."""
    return build_server(Toolbox(client.app.state.engine))


def library(cases: Settings) -> Atlas:
    """The library on the cases' index, with its encoder."""
    return Atlas(cases.index_dir, home=cases.home, encoder=PIXEL_ENCODER, case_keypoints=False)


# -- 1. an index that holds nothing is not answered -----------------------------------------------------------------


@pytest.fixture
def empty(tmp_path) -> Settings:
    """Settings of an index that exists and holds nothing (``pathatlas index`` never run on anything)."""
    settings = hashing_settings(tmp_path)
    Index.open(settings.index_dir, settings, create=True).close()
    return settings


def test_cli_ask_refuses_an_index_that_holds_nothing_in_one_line(empty):
    """It printed "leaning to A. osteoclast" from no evidence and exited 0."""
    asked = run_cli("ask", *BONE, "--index", empty.index_dir, "--json", home=empty.home)
    only_error_line(asked, NOTHING.format(empty.index_dir))


def test_library_ask_refuses_an_index_whose_sources_were_all_removed(tmp_path, demo_corpus):
    with Atlas(tmp_path / "index", **quick(tmp_path)) as atlas:
        atlas.add(demo_corpus / "primer")
        assert atlas.ask(BONE[0], ["osteoclast", "osteoblast"])["citations"]
        atlas.remove("demo-primer.pdf")
        with pytest.raises(IndexMissingError) as refused:
            atlas.ask(BONE[0], ["osteoclast", "osteoblast"])
    assert str(refused.value) == NOTHING.format(tmp_path / "index")


def test_rest_and_mcp_ask_refuse_an_index_that_holds_nothing_naming_it_by_its_folder(empty):
    """REST answered 200 with an answer (the web UI alone checked first); a search finds nothing, as before."""
    with served(empty) as client:
        for body in ({"question": BONE[0], "options": ["osteoclast", "osteoblast"]}, {"question": BONE[0]}):
            asked = client.post("/ask", json=body)
            assert (asked.status_code, asked.json()) == (404, {"detail": NOTHING.format("index")}), body
        assert client.post("/search", json={"text": "bone"}).json()["hits"] == []
        said = mcp_error(mcp_server(client), "ask", {"question": BONE[0], "options": ["osteoclast", "osteoblast"]})
    assert said.endswith(NOTHING.format("index")), said


# -- 2. a blank question beside an image asks what it shows ---------------------------------------------------------


@pytest.fixture(scope="module")
def cases(tmp_path_factory, demo_corpus) -> Settings:
    """The demo primer and cases indexed with an encoder that searches by image (``PixelEncoder``); its settings."""
    root = tmp_path_factory.mktemp("cases")
    with Atlas(root / "index", **quick(root, encoder=PIXEL_ENCODER)) as atlas:
        assert [r["status"] for r in atlas.add(demo_corpus / "primer", demo_corpus / "cases")] == ["indexed"] * 2
    return Settings(**quick(root, encoder=PIXEL_ENCODER), index=root / "index")


@pytest.fixture(scope="module")
def client(cases):
    with served(cases) as opened:
        yield opened


def cli(cases: Settings, *args):
    """``pathatlas ask *args`` on the cases' index, with its encoder."""
    return run_cli("ask", *args, "--index", cases.index_dir, home=cases.home, PATHATLAS_ENCODER=PIXEL_ENCODER)


def asked_everywhere(cases: Settings, client: TestClient, slide: Path, question: str) -> dict[str, dict]:
    """``question`` with ``OPTIONS`` about ``slide``, as each door answers it (its JSON)."""
    options = [item for n, option in enumerate(OPTIONS) for item in ("--option", f"{'AB'[n]}={option}")]
    by_cli = cli(cases, question, *options, "--image", slide, "--json")
    assert by_cli.exit_code == 0, by_cli.output
    with library(cases) as atlas:
        by_library = atlas.ask(question, OPTIONS, image=slide)
    image = base64.b64encode(slide.read_bytes()).decode()
    by_mcp = mcp_json(mcp_server(client), "ask", {"question": question, "options": OPTIONS, "image_base64": image})
    form = {"question": question, "options": json.dumps(OPTIONS)}
    by_rest = client.post("/ask/image", files={"image": ("slide.jpg", slide.read_bytes())}, data=form)
    assert by_rest.status_code == 200, by_rest.text
    return {"cli": json.loads(by_cli.stdout), "library": by_library, "mcp": by_mcp, "rest": by_rest.json()}


@pytest.mark.parametrize("question", ["", "  "])
def test_a_blank_question_beside_an_image_with_options_is_answered_alike_at_every_door(
    cases, client, demo_corpus, question
):
    """The CLI, the library, MCP and REST each refused it in words of their own (an empty form field: 422); it is an
    image question printed without a stem, "What is this?", and each door now answers it as it answers that."""
    slide = demo_corpus / "cases" / SLIDE
    blank = asked_everywhere(cases, client, slide, question)
    worded = asked_everywhere(cases, client, slide, "What is this?")
    assert {door: (a["choice"], a["answer"]) for door, a in blank.items()} == {door: (0, OPTIONS[0]) for door in blank}
    assert {door: a["choice"] for door, a in worded.items()} == {door: 0 for door in worded}
    assert {a["confidence"] for a in blank.values()} == {blank["library"]["confidence"]}, blank


def test_mcp_ask_takes_an_image_with_no_question_at_all(cases, client, demo_corpus):
    """``question`` was required: an image question without a stem had no way to be asked but with ""."""
    image = base64.b64encode((demo_corpus / "cases" / SLIDE).read_bytes()).decode()
    answered = mcp_json(mcp_server(client), "ask", {"options": OPTIONS, "image_base64": image})
    assert (answered["choice"], answered["question"]) == (0, "")
    assert mcp_error(mcp_server(client), "ask", {"options": OPTIONS}).endswith("options without a question")


@pytest.mark.parametrize("question", ["?", "x"])
def test_a_question_typed_beside_an_image_without_a_word_is_refused_alike_at_every_door(
    cases, client, demo_corpus, question
):
    """The library and the CLI answered "?" beside an image that REST and MCP refused (MCP in words of its own)."""
    slide = demo_corpus / "cases" / SLIDE
    one_error_line(cli(cases, question, "--image", slide, "--option", "A=tuberculosis", "--option", "B=fibrosis"))
    assert one_error_line(cli(cases, question, "--image", slide)) == f"error: {NO_WORD}"
    with library(cases) as atlas, pytest.raises(BadInputError) as refused:
        atlas.ask(question, image=slide)
    assert str(refused.value) == NO_WORD
    image = base64.b64encode(slide.read_bytes()).decode()
    assert mcp_error(mcp_server(client), "ask", {"question": question, "image_base64": image}).endswith(f": {NO_WORD}")
    rest = client.post("/ask/image", files={"image": ("slide.jpg", slide.read_bytes())}, data={"question": question})
    assert rest.status_code == 422 and [e["msg"] for e in rest.json()["detail"]] == [NO_WORD], rest.text


def test_a_blank_question_without_an_image_stays_refused_at_every_door(cases, client):
    """The other half of the rule: with no image a blank question asks nothing."""
    assert "the question is empty" in one_error_line(cli(cases, "", "--option", "A=a", "--option", "B=b"))
    refused = "^the question is empty: options without a question$"
    with library(cases) as atlas, pytest.raises(BadInputError, match=refused):
        atlas.ask("", ["a", "b"])
    assert mcp_error(mcp_server(client), "ask", {"question": " ", "options": ["a", "b"]}).endswith(
        "the question is empty: options without a question"
    )
    assert client.post("/ask", json={"question": "", "options": ["a", "b"]}).status_code == 422


def test_cli_search_of_an_index_that_holds_nothing_says_so_not_only_no_hits(empty):
    """A search there is a true "no hits" (exit 0, ``[]`` under --json), but "no hits" alone blamed the query."""
    shown = run_cli("search", "bone", "--index", empty.index_dir, home=empty.home)
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert f"nothing is indexed at {empty.index_dir} yet" in said and said.endswith("no hits"), said
    printed = run_cli("search", "bone", "--index", empty.index_dir, "--json", home=empty.home)
    assert json.loads(printed.stdout) == [] and "nothing is indexed" in printed.stderr
