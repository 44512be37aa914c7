"""The REST door's hardening from a security review: sources named only as GET /sources lists them (never by a server
path), k a JSON integer, uploaded pages and images served sandboxed, and a form's filters echoed at most 200
characters. Fast encoder and tiny files throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.schemas import names_a_path
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.hits import K_MAX
from tests.helpers import index_new, png_bytes
from tests.uploads import api_settings

UNKNOWN = "no source {!r} in the index; GET /sources lists them"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A folder of two PDFs (one whose name holds "..") and a case folder of a JPEG and a TIFF, indexed there."""
    root = tmp_path_factory.mktemp("hardening")
    make_pdf(root / "books" / "book.pdf", 2, "v1")
    make_pdf(root / "books" / "atlas..v2.pdf", 1, "v2")
    cases = root / "cases"
    cases.mkdir()
    Image.effect_noise((48, 48), 40).convert("RGB").save(cases / "a.jpg", "JPEG")
    Image.new("RGB", (40, 40), "red").save(cases / "b.tif", "TIFF")
    rows = [{"image": name, "case": name, "diagnosis": "granuloma"} for name in ("a.jpg", "b.tif")]
    (cases / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    index_new(api_settings(root), root / "books", cases)
    return root


@pytest.fixture(scope="module")
def client(library):
    with TestClient(create_app(api_settings(library))) as c:
        yield c


def refusals(client, name: str) -> list:
    """Every REST route that takes a source by name, given ``name``."""
    image = {"image": ("q.png", png_bytes(Image.new("RGB", (32, 32), "blue")))}
    form = {"filters": json.dumps({"source": name})}
    some_id = client.post("/search", json={"text": "page"}).json()["hits"][0]["id"]
    return [
        client.post("/search", json={"text": "page", "filters": {"source": name}}),
        client.post("/search", json={"text": "page", "filters": {"source": ["book.pdf", name]}}),
        client.post("/search/image", files=image, data=form),
        client.post("/search/similar", json={"id": some_id, "filters": {"source": name}}),
        client.post("/ask", json={"question": "Which page?", "filters": {"source": name}}),
        client.get("/pages", params={"source": name, "page": 1}),
    ]


def test_a_source_named_by_a_server_path_is_refused_as_an_unknown_one(client, library):
    book = library / "books" / "book.pdf"
    paths = [
        str(book),
        f"{library}/books/../books/book.pdf",
        "books/book.pdf",
        "books\\book.pdf",
        str(library / "cases"),
    ]
    for name in [*paths, str(library / "books" / "gone.pdf")]:  # the last one names no file: told apart by nothing
        for response in refusals(client, name):
            assert (response.status_code, response.json()) == (404, {"detail": UNKNOWN.format(name)}), response.url
    for name in ("book.pdf", "atlas..v2.pdf", "cases", *(s["id"] for s in client.get("/sources").json())):
        assert client.post("/search", json={"text": "page", "filters": {"source": name}}).status_code == 200, name
    assert client.get("/pages", params={"source": "book.pdf", "page": 2}).json()["citation"]["page"] == 2


@pytest.mark.parametrize("name", ["/srv/book.pdf", "a/b.pdf", "a\\b.pdf", "book.pdf/", "..", ".", "~", "C:book.pdf"])
def test_names_a_path_takes_each_form_of_path(name):
    assert names_a_path(name)


@pytest.mark.parametrize("name", ["book.pdf", "atlas..v2.pdf", "cases", "Fälle Winter", "26846c09258f"])
def test_names_a_path_leaves_names_and_ids(name):
    assert not names_a_path(name)


@pytest.mark.parametrize("k", [True, "5"])
def test_k_is_a_json_integer(client, k):
    some_id = client.post("/search", json={"text": "page", "k": 1}).json()["hits"][0]["id"]
    for route, body in (("/search", {"text": "page"}), ("/search/similar", {"id": some_id})):
        refused = client.post(route, json={**body, "k": k})
        assert refused.status_code == 422, route
        assert refused.json()["detail"] == [
            {"type": "int_type", "loc": ["body", "k"], "msg": "Input should be a valid integer", "input": k}
        ]
        assert len(client.post(route, json={**body, "k": 1.0}).json()["hits"]) == 1, "JSON Schema's integer, as 1"
        assert client.post(route, json={**body, "k": 101}).status_code == 422, "the bounds stay"


def test_the_schema_documents_k_as_before(tmp_path):
    schemas = create_app(api_settings(tmp_path)).openapi()["components"]["schemas"]
    for model in ("SearchRequest", "SimilarRequest"):
        k = schemas[model]["properties"]["k"]
        assert (k["type"], k["minimum"], k["maximum"], k["default"]) == ("integer", 1, K_MAX, 10), model


def test_pages_and_case_images_are_served_sandboxed_and_inline(client):
    hit = client.post("/search", json={"text": "page", "filters": {"source": "book.pdf"}}).json()["hits"][0]
    cases = {h["citation"]["image"]: h["id"] for h in client.post("/search", json={"text": "granuloma"}).json()["hits"]}
    served = [client.get(hit["page_url"]), *(client.get(f"/media/cases/{cases[name]}") for name in ("a.jpg", "b.tif"))]
    for response in served:
        assert response.status_code == 200 and response.headers["content-security-policy"] == "sandbox", response.url
        assert "attachment" not in response.headers.get("content-disposition", ""), "still shown in the browser"
    assert [r.headers["content-type"] for r in served] == ["image/png", "image/jpeg", "image/png"]
    pdf = client.get(f"/records/{hit['id']}/pdf").headers  # the source PDF too, shown in the browser's viewer
    assert (pdf["content-security-policy"], pdf["content-disposition"]) == ("sandbox", 'inline; filename="book.pdf"')


@pytest.mark.parametrize(
    "filters, said",
    [
        ({"kind": "b" * 300}, "unknown kind 'bbb"),
        ({"f" * 300: "lung"}, "unknown filter field 'fff"),
        ({"organ": [1] * 300}, "filter 'organ' takes text or a list of texts, not [1, 1"),
    ],
)
def test_a_form_filter_refused_echoes_at_most_200_characters(client, filters, said):
    image = {"image": ("q.png", png_bytes(Image.new("RGB", (32, 32), "blue")))}
    refused = client.post("/search/image", files=image, data={"filters": json.dumps(filters)})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["msg"].startswith(said) and " characters)" in error["msg"]
    assert len(error["msg"]) < 200 + 120, "200 echoed characters and the line around them"
    assert len(error["input"]) < 200 + 30, "the form's field echoed cut short, as a JSON body's text is"
