"""The REST doors refuse texts by the service's own PATHATLAS_MAX_QUERY_CHARS, below or above the default the OpenAPI
schema documents, in pydantic's words, and /health says the limit; so do the agents' tools. Hashing encoder and a
two-page PDF."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.tools import Toolbox
from tests.uploads import api_settings

LIMIT = 100


def indexed(root: Path, **extra) -> Settings:
    settings = api_settings(root, **extra)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([make_pdf(root / "library" / "a.pdf", 2, "a")]).failed
    index.close()
    return settings


def png() -> dict:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, "PNG")
    return {"image": ("a.png", buffer.getvalue(), "image/png")}


def words(count: int) -> str:
    """A searchable text of exactly ``count`` characters."""
    return ("page " * count)[: count - 1] + "x"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = indexed(tmp_path_factory.mktemp("limited"), max_query_chars=LIMIT)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def too_long_at(response, *loc) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert (error["type"], tuple(error["loc"])) == ("string_too_long", loc), error
    assert error["msg"] == f"String should have at most {LIMIT} characters"


def test_json_and_multipart_doors_refuse_texts_over_the_services_limit(client):
    too_long_at(client.post("/search", json={"text": words(LIMIT + 1)}), "body", "text")
    too_long_at(client.post("/ask", json={"question": words(LIMIT + 1)}), "body", "question")
    asked = {"question": "Which page?", "options": ["page a", words(LIMIT + 1)]}
    too_long_at(client.post("/ask", json=asked), "body", "options", 1)
    too_long_at(client.post("/search/image", files=png(), data={"text": words(LIMIT + 1)}), "body", "text")
    too_long_at(client.post("/ask/image", files=png(), data={"question": words(LIMIT + 1)}), "body", "question")
    long_option = {"question": "Which?", "options": json.dumps([words(LIMIT + 1), "b"])}
    too_long_at(client.post("/ask/image", files=png(), data=long_option), "body", "options", 0)


def test_texts_at_the_limit_are_searched_and_health_says_the_limit(client):
    assert client.post("/search", json={"text": words(LIMIT), "k": 1}).status_code == 200
    assert client.post("/ask", json={"question": words(LIMIT - 1) + "?"}).status_code == 200
    assert client.get("/health").json()["limits"]["max_query_chars"] == LIMIT


def test_a_limit_above_the_documented_default_is_honoured_too(tmp_path):
    with TestClient(create_app(indexed(tmp_path, max_query_chars=5000))) as client:
        documented = client.get("/openapi.json").json()["components"]["schemas"]["SearchRequest"]
        assert documented["properties"]["text"]["maxLength"] == 4000, "the schema documents the default"
        assert client.post("/search", json={"text": words(4500), "k": 1}).status_code == 200
        too_long = client.post("/search", json={"text": words(5001)}).json()["detail"][0]
        assert too_long["ctx"] == {"max_length": 5000, "actual_length": 5001} and too_long["input"].endswith(
            "(5,001 characters)"
        )
        assert client.get("/health").json()["limits"]["max_query_chars"] == 5000


def test_the_agents_tools_refuse_texts_over_the_services_limit_too(client):
    """The MCP and LangChain tools (one Toolbox on the service's engine) check the same setting, not the default."""
    toolbox = Toolbox(client.app.state.engine)
    with pytest.raises(
        BadInputError,
        match=rf"the query has {LIMIT + 1:,} characters, over the limit of {LIMIT:,} \(PATHATLAS_MAX_QUERY_CHARS\)$",
    ):
        toolbox.search(words(LIMIT + 1))
    with pytest.raises(BadInputError, match=f"option 2 has {LIMIT + 1} characters, over the limit of {LIMIT}"):
        toolbox.ask("Which page?", ["page a", words(LIMIT + 1)])
    assert toolbox.search(words(LIMIT), k=1)["hits"], "text at the limit is searched"
