"""The OpenAPI document and the MCP tools' schemas tell generated clients the truth, and rendered pages are cached.

An integrator generated a client from /openapi.json and fuzzed the service from it: /cases/{id}, a hit's payload and
an answer's trace were untyped objects, the PDF and image routes declared no bytes, the MCP tools' output schemas said
only "an object"; a search text the schema's pattern allowed was refused and some it forbade were searched;
/records/{id} called a record fetched by id a "best match" of rank 1; and a page was rendered again for every request.
Hashing encoder, a two-page book and a case folder."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import anyio
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import unsearchable
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import media
from pathatlas.ui.api.routes.ask import ASK_EXAMPLE
from pathatlas.ui.api.routes.records import RECORD_EXAMPLE
from pathatlas.ui.api.routes.search import SEARCH_EXAMPLE
from pathatlas.ui.api.schemas import SEARCHABLE_PATTERN, AskResponse, RecordOut, SearchResponse
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.uploads import api_settings

LABELS = "image,case,diagnosis,organ,stain,scanner\nc0.png,C-1,granuloma,lung,HE,S1\nc1.png,C-1,granuloma,lung,PAS,S1\n"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A service on ``book.pdf`` (two pages) and a case folder: case C-1, two images sharing only their scanner."""
    root = tmp_path_factory.mktemp("truth")
    cases = root / "cases"
    cases.mkdir()
    for n, colour in enumerate(("red", "blue")):
        Image.new("RGB", (48, 48), colour).save(cases / f"c{n}.png")
    (cases / "labels.csv").write_text(LABELS)
    settings = api_settings(root)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([make_pdf(root / "book.pdf", 2, "v1"), cases]).failed
    index.close()
    with TestClient(create_app(settings)) as served:
        yield served


@pytest.fixture(scope="module")
def schema(client) -> dict:
    return client.get("/openapi.json").json()


def component(schema: dict, reference: dict) -> dict:
    return schema["components"]["schemas"][reference["$ref"].rsplit("/", 1)[-1]]


def ok(schema: dict, path: str, method: str = "get") -> dict:
    """The content of a route's 200 response, by media type."""
    return schema["paths"][path][method]["responses"]["200"]["content"]


def first_hit(client, kind: str) -> dict:
    return client.post("/search", json={"text": "granuloma page", "filters": {"kind": kind}}).json()["hits"][0]


# -- 1. typed responses ---------------------------------------------------------------------------------------------
def test_a_case_is_typed_and_answered_as_its_schema_says(client, schema):
    """/cases/{id} was ``{"type": "object", "additionalProperties": true}``, though README describes its fields."""
    case = component(schema, ok(schema, "/cases/{record_id}")["application/json"]["schema"])
    assert set(case["required"]) == {"case", "title", "diagnosis", "organ", "labels", "source", "source_id", "images"}
    image = component(schema, case["properties"]["images"]["items"])
    assert set(image["properties"]) == {"id", "image", "url", "labels"}
    hit = first_hit(client, "case")
    details = client.get(f"/cases/{hit['id']}").json()
    assert list(details) == ["case", "title", "diagnosis", "organ", "labels", "source", "source_id", "images"]
    assert (details["case"], details["diagnosis"], details["organ"]) == ("C-1", "granuloma", "lung")
    assert details["labels"] == {"scanner": "S1"}, "the label both images share, not the opened one's stain"
    assert [(i["image"], i["labels"]["stain"]) for i in details["images"]] == [("c0.png", "HE"), ("c1.png", "PAS")]
    assert all(urlsplit(i["url"]).path == f"/media/cases/{i['id']}" for i in details["images"])


def test_a_hits_payload_and_an_answers_trace_are_typed(client, schema):
    payload = component(schema, schema["components"]["schemas"]["HitOut"]["properties"]["payload"])
    assert {"kind", "page", "bbox", "figure", "case", "diagnosis", "labels"} <= set(payload["properties"])
    assert payload["properties"]["page"]["anyOf"][0]["type"] == "integer"
    assert payload["additionalProperties"] is True, "a plug-in's stored fields are kept"
    assert not {"text", "source", "extra"} & set(payload["properties"]), "what a hit's payload leaves out"
    trace = schema["components"]["schemas"]["AskResponse"]["properties"]["trace"]["items"]
    assert set(trace["discriminator"]["mapping"]) == {"plan", "search", "support", "weigh", "answer"}
    asked = client.post("/ask", json={"question": "Which page shows granuloma?", "options": ["one", "two"]}).json()
    assert [step["step"] for step in asked["trace"]][0] == "plan"
    assert AskResponse.model_validate(asked).model_dump(mode="json") == asked, "the answer as its schema has it"


def test_file_routes_declare_the_bytes_they_send(schema):
    """A response without a schema is generated as returning nothing: the PDF route declared no content at all."""
    binary = {"type": "string", "format": "binary"}
    assert ok(schema, "/records/{record_id}/pdf") == {"application/pdf": {"schema": binary}}
    assert ok(schema, "/media/pages/{record_id}") == {"image/png": {"schema": binary}}
    assert ok(schema, "/media/thumbnails/{record_id}") == {"image/jpeg": {"schema": binary}}
    assert set(ok(schema, "/media/cases/{record_id}")) == {"image/gif", "image/jpeg", "image/png", "image/webp"}
    assert all(media_type["schema"] == binary for media_type in ok(schema, "/media/cases/{record_id}").values())


def test_mcp_tools_declare_what_they_answer_and_answer_it(client):
    """Every tool's outputSchema was ``{"type": "object", "additionalProperties": true}``."""
    server = build_server(Toolbox(client.app.state.engine))
    schemas = {tool.name: tool.output_schema for tool in anyio.run(server.list_tools)}
    assert set(schemas["search"]["required"]) == set(schemas["search_image"]["required"]) == {"hits"}
    hit = schemas["search"]["$defs"]["ToolHit"]
    assert {"rank", "relevance", "citation", "media"} <= set(hit["required"]) and "thumbnail" not in hit["properties"]
    assert hit["properties"]["payload"]["$ref"] == "#/$defs/StoredPayload"
    assert {"question", "answer", "options", "citations", "trace"} <= set(schemas["ask"]["required"])
    assert set(schemas["get_page"]["required"]) == {"source", "page", "section", "text", "citation", "media", "figures"}
    assert all(schema.get("additionalProperties") is False for schema in schemas.values())
    calls = [
        ("search", {"text": "page", "k": 2}),
        ("ask", {"question": "Which page shows granuloma?", "options": ["one", "two"]}),
        ("get_page", {"source": "book.pdf", "page": 1}),
    ]
    for name, arguments in calls:
        result = anyio.run(server.call_tool, name, arguments)
        assert result.structured_content == json.loads(result.content[0].text), f"{name}: nothing dropped or changed"


# -- 2. examples ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "method", "model", "example"),
    [
        ("/search", "post", SearchResponse, SEARCH_EXAMPLE),
        ("/ask", "post", AskResponse, ASK_EXAMPLE),
        ("/records/{record_id}", "get", RecordOut, RECORD_EXAMPLE),
    ],
)
def test_the_main_routes_show_an_example_their_schema_allows(schema, path, method, model, example):
    assert model.model_validate(example).model_dump(mode="json") == example, "every field, as the service sends it"
    assert ok(schema, path, method)["application/json"]["example"] == without_nulls(example)


def without_nulls(document):
    """``document`` as FastAPI writes an example into the OpenAPI document: every null left out (its issue #5559)."""
    if isinstance(document, dict):
        return {key: without_nulls(value) for key, value in document.items() if value is not None}
    return [without_nulls(item) for item in document] if isinstance(document, list) else document


# -- 3. the schema allows no less, and states what else is refused -------------------------------------------------
ACCEPTED = ["ß", "ﬁ", "Ⅻ", "一", "a_9", "a 1", "A-1", "a&_e", "H&E", "y+", "ca2+", "Na+", "00", "x 0", "cells"]
"""Texts the service searches (``unsearchable`` passes them); the old pattern refused all but the last five."""


@pytest.mark.parametrize("flags", [0, re.ASCII], ids=["python", "ecma-262"])  # JSON Schema's \w is ASCII
def test_the_text_pattern_is_no_stricter_than_the_service(schema, flags):
    pattern = re.compile(SEARCHABLE_PATTERN, flags)
    assert all(unsearchable(text) is None for text in ACCEPTED)
    assert [text for text in ACCEPTED if not pattern.search(text)] == []
    assert not pattern.search("a_"), "an underscore parts words: 'a_' holds none, and the schema says so"
    text = schema["components"]["schemas"]["SearchRequest"]["properties"]["text"]
    assert text["pattern"] == SEARCHABLE_PATTERN
    assert "'a_'" in text["description"] and "stop words" in text["description"]
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["pattern"] == SEARCHABLE_PATTERN and "stop words" in question["description"]


def test_a_text_the_pattern_refuses_is_refused_and_one_it_allows_is_searched(client):
    assert client.post("/search", json={"text": "a_"}).status_code == 422
    assert client.post("/search", json={"text": "ß"}).status_code == 200


def test_forms_say_an_empty_file_is_refused_and_filters_are_json(client, schema):
    for form in ("SearchImageForm", "AskImageForm"):
        fields = schema["components"]["schemas"][form]["properties"]
        assert fields["image"]["minLength"] == 1 and "empty file is refused" in fields["image"]["description"]
        assert fields["filters"]["contentMediaType"] == "application/json"
        assert fields["filters"]["contentSchema"]["additionalProperties"] is False
        assert "kind" in fields["filters"]["contentSchema"]["properties"]
    empty = client.post("/search/image", files={"image": ("empty.png", b"")})
    assert empty.status_code == 400, "as the schema now says"


# -- 4. cached pages and case images --------------------------------------------------------------------------------
def test_a_page_is_rendered_once_then_answered_304_by_its_etag(client, monkeypatch):
    hit = first_hit(client, "page")
    first = client.get(hit["page_url"])
    assert first.status_code == 200 and first.headers["cache-control"] == "private, max-age=3600"
    etag = first.headers["etag"]
    rendered = []
    monkeypatch.setattr(media, "render_page", lambda *args: rendered.append(args) or b"")
    again = client.get(hit["page_url"], headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert again.headers["cache-control"] == "private, max-age=3600"
    assert client.get(hit["page_url"], headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert rendered == [], "a 304 renders nothing"
    other_dpi = client.get(hit["page_url"], params={"dpi": 150}, headers={"If-None-Match": etag})
    assert other_dpi.status_code == 200 and other_dpi.headers["etag"] != etag and len(rendered) == 1


def test_a_case_image_carries_cache_control_and_answers_304(client):
    hit = first_hit(client, "case")
    first = client.get(hit["case_image_url"])
    assert first.status_code == 200 and first.headers["cache-control"] == "private, max-age=3600"
    again = client.get(hit["case_image_url"], headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.headers["cache-control"]) == (304, "private, max-age=3600")


# -- 5. a record fetched by id is ranked by no search ----------------------------------------------------------------
def test_a_fetched_record_has_no_rank_relevance_or_score(client, schema):
    hit = first_hit(client, "page")
    assert (hit["rank"], hit["relevance"], hit["relative_score"]) == (1, "best match", 1.0), "a search's still"
    fetched = client.get(f"/records/{hit['id']}").json()
    page = client.get("/pages", params={"source": "book.pdf", "page": hit["citation"]["page"]}).json()
    for record in (fetched, page):
        assert [record[key] for key in ("rank", "relevance", "relative_score", "score")] == [None] * 4
        assert (record["id"], record["why"], record["matched_by"]) == (hit["id"], "", {})
    assert schema["components"]["schemas"]["RecordOut"]["properties"]["rank"]["type"] == "null"
    assert schema["components"]["schemas"]["HitOut"]["properties"]["rank"]["type"] == "integer"
