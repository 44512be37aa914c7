"""Response schemas require every field the service always sends.

A client generated from /openapi.json typed a hit's ``why``, ``page_url`` and ``payload``, an answer's ``choice`` and
``tied``, /health's ``status`` and ``ready`` and a job's ``done`` as optional: each had a default, so the schema left it
out of ``required``, though every response holds it. Live responses of each kind are checked against their schemas,
which require each field they declare (a hit's ``payload`` holds only the keys stored, none required); a request's
defaulted fields stay optional. Hashing encoder, a two-page book and a case folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from jsonschema import Draft202012Validator
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.servers import job_ended
from tests.uploads import api_settings

KEYS_AS_STORED = {"StoredPayload"}
"""Response schemas whose keys are sent only where there is a value: a hit's payload, as stored."""


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("required")
    cases = root / "cases"
    cases.mkdir()
    Image.new("RGB", (48, 48), "red").save(cases / "c0.png")
    (cases / "labels.csv").write_text("image,case,diagnosis\nc0.png,C-1,granuloma\n")
    settings = api_settings(root)
    index_new(settings, make_pdf(root / "book.pdf", 2, "v1"), cases)
    with TestClient(create_app(settings)) as served:
        yield served


@pytest.fixture(scope="module")
def schema(client) -> dict:
    return client.get("/openapi.json").json()


def documented(schema: dict, path: str, method: str, response: Response) -> dict:
    """``response``'s JSON, checked against the schema ``path`` documents for its status."""
    content = schema["paths"][path][method]["responses"][str(response.status_code)]["content"]
    body = response.json()
    validator = Draft202012Validator({**content["application/json"]["schema"], "components": schema["components"]})
    assert not (errors := [e.message for e in validator.iter_errors(body)]), (path, response.status_code, errors)
    return body


def reached(schema: dict, node: object, seen: set[str]) -> set[str]:
    """The names of the component schemas ``node`` refers to, and those they refer to in turn."""
    if isinstance(node, dict):
        name = node.get("$ref", "").removeprefix("#/components/schemas/")
        if name and name not in seen:
            seen.add(name)
            reached(schema, schema["components"]["schemas"][name], seen)
        for value in node.values():
            reached(schema, value, seen)
    elif isinstance(node, list):
        for value in node:
            reached(schema, value, seen)
    return seen


def response_components(schema: dict) -> set[str]:
    responses = [op["responses"] for operations in schema["paths"].values() for op in operations.values()]
    return reached(schema, responses, set())


def required(schema: dict, name: str) -> set[str]:
    return set(schema["components"]["schemas"][name].get("required", []))


def test_every_response_schema_requires_each_field_it_declares(schema):
    components = response_components(schema)
    assert {"HitOut", "RecordOut", "AskResponse", "Health", "ServiceLimits", "JobOut", "ErrorOut"} <= components
    optional = {
        name: sorted(set(schema["components"]["schemas"][name].get("properties", {})) - required(schema, name))
        for name in components - KEYS_AS_STORED
    }
    assert not {name: fields for name, fields in optional.items() if fields}, "always sent, so required"
    assert not required(schema, "StoredPayload"), "a payload holds the keys stored, each only where it is"


def test_the_fields_clients_typed_optional_are_required(schema):
    hit = {"why", "matched_by", "page_url", "thumbnail_url", "has_image", "also_on_page", "repeated_on"}
    assert hit | {"snippet_marks", "payload", "case_url", "caption_url"} <= required(schema, "HitOut")
    assert {"choice", "tied", "unknown_words", "options_from_question"} <= required(schema, "AskResponse")
    assert {"status", "ready", "problem"} <= required(schema, "Health")
    assert "k_max" in required(schema, "ServiceLimits")
    assert {"done", "total", "notes", "error", "cancel_requested"} <= required(schema, "JobOut")


def test_requests_keep_their_defaulted_fields_optional(schema):
    assert required(schema, "SearchRequest") == {"text"}
    assert required(schema, "AskRequest") == {"question"}
    assert required(schema, "SimilarRequest") == {"id"}


def test_each_kind_of_response_is_answered_as_its_schema_requires(client, schema):
    searched = documented(schema, "/search", "post", client.post("/search", json={"text": "granuloma page"}))
    kinds = {hit["kind"]: hit for hit in searched["hits"]}
    assert {"page", "case"} <= set(kinds), searched
    case_id = kinds["case"]["id"]
    similar = client.post("/search/similar", json={"id": case_id})
    documented(schema, "/search/similar", "post", similar)
    documented(schema, "/records/{record_id}", "get", client.get(f"/records/{kinds['page']['id']}"))
    documented(schema, "/pages", "get", client.get("/pages", params={"source": "book.pdf", "page": 1}))
    documented(schema, "/cases/{record_id}", "get", client.get(f"/cases/{case_id}"))
    documented(schema, "/facets", "get", client.get("/facets"))
    asked = client.post("/ask", json={"question": "Which page shows granuloma?", "options": ["one", "two"]})
    assert documented(schema, "/ask", "post", asked)["trace"]
    documented(schema, "/health", "get", client.get("/health"))
    documented(schema, "/ready", "get", client.get("/ready"))
    documented(schema, "/records/{record_id}", "get", client.get(f"/records/{'0' * 24}"))  # 404: the error body


def test_a_job_and_the_sources_are_answered_as_their_schemas_require(client, schema, tmp_path):
    upload = {"file": ("more.pdf", make_pdf(tmp_path / "more.pdf", 1, "v2").read_bytes())}
    queued = documented(schema, "/jobs", "post", client.post("/jobs", files=upload))
    assert job_ended(client, queued["id"])["status"] == "done"
    documented(schema, "/jobs/{job_id}", "get", client.get(f"/jobs/{queued['id']}"))
    assert documented(schema, "/jobs", "get", client.get("/jobs"))
    assert documented(schema, "/sources", "get", client.get("/sources"))
