"""An integrator's findings, wiring PathAtlas into a teaching portal over REST and an assistant over MCP: an image or
a PDF sent to an upload route as JSON or as the whole body was answered 422 "image: Field required" (it was sent), and
``pathatlas mcp --http`` took a bracketed IPv6 host or a port over 65535 and failed only once the models had loaded.
Hashing encoder."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from tests.helpers import one_error_line, png_bytes, run_cli
from tests.uploads import AUTH, api_settings

IMAGE_ROUTES = [("/search/image", "image"), ("/ask/image", "image"), ("/jobs", "file")]
OTHER_FIELD = {"/search/image": {"k": "3"}, "/ask/image": {"question": "Which organ?"}, "/jobs": {}}
"""A field each route takes beside its file."""


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal")
    with TestClient(create_app(api_settings(root, api_token="t0ken"))) as test_client:
        yield test_client


def a_png() -> bytes:
    from PIL import Image

    return png_bytes(Image.new("RGB", (64, 64), "white"))


@pytest.mark.parametrize(("route", "field"), IMAGE_ROUTES)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"image": base64.b64encode(a_png()).decode(), "question": "Which organ?"})),
        ("image/png", a_png()),
        ("application/pdf", b"%PDF-1.4 not a form"),
        (None, a_png()),
    ],
    ids=["json-base64", "raw-png", "raw-pdf", "no-content-type"],
)
def test_an_upload_route_refuses_a_body_that_is_no_form_with_415_naming_its_file_field(
    client, route, field, content_type, body
):
    headers = {**AUTH, **({"content-type": content_type} if content_type else {})}
    refused = client.post(route, content=body, headers=headers)
    assert refused.status_code == 415, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"send the body as multipart/form-data with the file as its '{field}' field"), detail
    assert detail.endswith(content_type or "a body without a Content-Type"), detail


@pytest.mark.parametrize(("route", "field"), IMAGE_ROUTES)
def test_a_form_without_its_file_still_names_the_missing_field(client, route, field):
    for sent in (client.post(route, data=OTHER_FIELD[route], headers=AUTH), client.post(route, headers=AUTH)):
        assert sent.status_code == 422, sent.text
        assert ["body", field] in [error["loc"] for error in sent.json()["detail"]], sent.text


def test_a_multipart_form_is_answered_as_before(client):
    found = client.post("/search/image", files={"image": ("a.png", a_png())}, data={"text": "page"})
    assert found.status_code != 415
    assert found.json()["detail"].endswith("cannot search by image"), "the form was read, up to the encoder"


def test_the_upload_routes_document_415(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route, _ in IMAGE_ROUTES:
        assert "415" in paths[route]["post"]["responses"], route


# -- pathatlas mcp --http --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "bound"), [("[::1]:8765", ("::1", 8765)), ("127.0.0.1:1", ("127.0.0.1", 1))])
def test_http_address_is_bound_as_given(address, bound):
    pytest.importorskip("mcp")
    from pathatlas.ui.mcp_server import parse_http

    assert parse_http(address) == bound


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:0", "[::1]:65536"])
def test_http_port_out_of_range_is_one_line_before_anything_loads(address, tmp_path, monkeypatch):
    pytest.importorskip("mcp")
    monkeypatch.setattr("pathatlas.ui.mcp_server.Toolbox", lambda *_: pytest.fail("the index was loaded"))
    for insecure in ((), ("--insecure",)):
        refused = run_cli("mcp", "--index", tmp_path / "idx", "--http", address, *insecure, home=tmp_path / "home")
        one_error_line(refused, f"--http {address!r}", "1-65535")
