"""A form's or a query's integer is written in digits: "3.0" was read as 3 and "3_0" as 30, text no client writes an
integer as (a JSON body's 3.0 is JSON Schema's integer 3: test_api_source_paths_and_sandbox). The schema still says
integer. Hashing encoder, a two-page book."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.hits import K_MAX
from tests.helpers import index_new, png_bytes
from tests.uploads import api_settings

NOT_PARSED = "Input should be a valid integer, unable to parse string as an integer"
HASHING_TAKES_NO_IMAGE = "encoder 'py:pathatlas.retrieval.encoders.hashing.HashingEncoder' cannot search by image"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("strict")
    settings = api_settings(root)
    index_new(settings, make_pdf(root / "book.pdf", 2, "strict"))
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize("given", ["3.0", "1.5", "3_0", "１"])
def test_a_form_or_query_integer_written_otherwise_than_in_digits_is_refused(client, given):
    image = {"image": ("q.png", png_bytes(Image.new("RGB", (32, 32), "blue")))}
    searched = client.post("/search/image", files=image, data={"k": given})
    listed = client.get("/jobs", params={"limit": given})
    for refused, loc in ((searched, ["body", "k"]), (listed, ["query", "limit"])):
        assert refused.status_code == 422, loc
        assert refused.json()["detail"] == [{"type": "int_parsing", "loc": loc, "msg": NOT_PARSED, "input": given}]


def test_a_form_or_query_integer_in_digits_is_still_taken(client):
    """The form passes its fields' checks: the hashing encoder's refusal to search by image is what answers."""
    image = {"image": ("q.png", png_bytes(Image.new("RGB", (32, 32), "blue")))}
    searched = client.post("/search/image", files=image, data={"k": " 2 "})
    assert (searched.status_code, searched.json()["detail"]) == (400, HASHING_TAKES_NO_IMAGE)
    assert client.get("/jobs", params={"limit": "+3"}).status_code == 200


def test_the_schema_still_documents_integers_with_their_bounds(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for model in ("SearchRequest", "SimilarRequest", "SearchImageForm"):
        k = schemas[model]["properties"]["k"]
        assert (k["type"], k["minimum"], k["maximum"], k["default"]) == ("integer", 1, K_MAX, 10), model
    (limit,) = [p["schema"] for p in document["paths"]["/jobs"]["get"]["parameters"] if p["name"] == "limit"]
    assert (limit["type"], limit["minimum"]) == ("integer", 1)
