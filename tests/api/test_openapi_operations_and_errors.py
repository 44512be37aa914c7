"""The OpenAPI document as a client generator reads it: a stable snake_case operation id per route, every error with
the one error body the service sends (``ErrorOut``), the errors a route really answers documented on it, and fields
of a few values as enums. Hashing encoder, an empty index."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pathatlas.retrieval.records import KINDS
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.schemas import ErrorOut
from tests.uploads import AUTH, api_settings

OPERATIONS = {
    ("/health", "get"): "health",
    ("/ready", "get"): "ready",
    ("/search", "post"): "search",
    ("/search/image", "post"): "search_by_image",
    ("/search/similar", "post"): "search_similar",
    ("/facets", "get"): "facets",
    ("/ask", "post"): "ask",
    ("/ask/image", "post"): "ask_about_image",
    ("/sources", "get"): "list_sources",
    ("/sources/{source_id}", "delete"): "delete_source",
    ("/jobs", "post"): "create_job",
    ("/jobs", "get"): "list_jobs",
    ("/jobs/{job_id}", "get"): "get_job",
    ("/jobs/{job_id}", "delete"): "cancel_job",
    ("/records/{record_id}", "get"): "get_record",
    ("/pages", "get"): "get_page",
    ("/records/{record_id}/pdf", "get"): "get_record_pdf",
    ("/media/thumbnails/{record_id}", "get"): "get_thumbnail",
    ("/media/pages/{record_id}", "get"): "get_page_image",
    ("/media/cases/{record_id}", "get"): "get_case_image",
    ("/cases/{record_id}", "get"): "get_case",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = api_settings(tmp_path_factory.mktemp("openapi"), api_token="t0ken")
    with TestClient(create_app(settings)) as client:
        yield client, client.app.openapi()


def test_every_route_has_its_stable_snake_case_operation_id(served):
    _, schema = served
    ids = {(path, method): op["operationId"] for path, ops in schema["paths"].items() for method, op in ops.items()}
    assert ids == OPERATIONS
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in ids.values())


def test_every_error_is_documented_with_the_one_error_body(served):
    _, schema = served
    assert "HTTPValidationError" not in schema["components"]["schemas"], "422 is documented with ErrorOut too"
    own_bodies = {"/health": "Health", "/ready": "Readiness"}  # their 503 is the document itself, failing
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                if int(code) < 400:
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[-1] == own_bodies.get(path, "ErrorOut"), (path, method, code)


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/search", "post", {"400", "404", "413", "415", "422", "503"}),
        ("/search/image", "post", {"400", "404", "411", "413", "415", "422", "503"}),
        ("/ask", "post", {"400", "404", "413", "415", "422", "502", "503"}),
        ("/ask/image", "post", {"400", "404", "411", "413", "415", "422", "502", "503"}),
        ("/jobs", "post", {"400", "401", "403", "409", "411", "413", "415", "422", "429", "503", "507"}),
        ("/sources/{source_id}", "delete", {"400", "401", "403", "404", "409", "422", "503"}),
        ("/media/pages/{record_id}", "get", {"400", "404", "410", "422"}),
        ("/search/similar", "post", {"400", "404", "413", "415", "422"}),
    ],
)
def test_routes_document_the_errors_they_answer(served, path, method, codes):
    _, schema = served
    documented = {code for code in schema["paths"][path][method]["responses"] if int(code) >= 400}
    assert documented == codes | {"500"}  # a bug's answer (``add_error_handlers``), documented on every route


def test_the_errors_provoked_are_documented_and_have_the_error_body(served):
    client, schema = served
    replies = [
        ("/search", "post", client.post("/search", json={"txt": "x"})),
        ("/search", "post", client.post("/search", content=b"{}", headers={"content-length": str(3 << 20)})),
        ("/search/similar", "post", client.post("/search/similar", json={"id": "0" * 24})),
        ("/ask/image", "post", client.post("/ask/image", data={"question": "Which?"})),
        ("/jobs", "post", client.post("/jobs", files={"file": ("notes.txt", b"text")}, headers=AUTH)),
        ("/jobs", "post", client.post("/jobs", files={"file": ("a.pdf", b"%PDF")})),
        ("/jobs/{job_id}", "get", client.get("/jobs/nope")),
        ("/media/pages/{record_id}", "get", client.get(f"/media/pages/{'0' * 24}", params={"dpi": 5})),
    ]
    seen = set()
    for path, method, reply in replies:
        seen.add(reply.status_code)
        assert str(reply.status_code) in schema["paths"][path][method]["responses"], (path, reply.status_code)
        ErrorOut.model_validate(reply.json())
    assert seen == {401, 404, 413, 415, 422}


def test_fields_of_a_few_values_are_enums(served):
    _, schema = served
    hit = schema["components"]["schemas"]["HitOut"]["properties"]
    assert hit["kind"]["enum"] == list(KINDS)
    assert hit["relevance"]["enum"] == ["best match", "strong match", "good match", "related", "looks alike"]
