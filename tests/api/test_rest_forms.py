"""REST forms in FastAPI's public terms: the multipart routes take pydantic form models (unknown fields refused by
``extra="forbid"``), a repeated field is named beside every other problem of the form, and a form field's value that
fails a rule is a 422 in FastAPI's validation-error shape, as a JSON body's is, before the image is read; the image's
content keeps its own status (400). Hashing encoder: no model is the point."""

from __future__ import annotations

import inspect
import json

import pytest
from PIL import Image

from pathatlas.ui.api import deps
from tests.helpers import png_bytes
from tests.indexer.test_incremental_cases import ENCODER as PIXEL_ENCODER
from tests.uploads import book_service

NOT_AN_IMAGE = ("slide.png", b"not an image: read only once the fields pass")
NO_WORD = "the question has no word to look for: type two letters or digits in a row, or a CJK character"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A service on a two-page book, with an encoder that searches by image too, its texts limited to 300 characters
    (below the 4,000 the schema documents)."""
    root = tmp_path_factory.mktemp("s38")
    with book_service(root, "forms", encoder=PIXEL_ENCODER, max_query_chars=300) as served:
        yield served


def png() -> bytes:
    return png_bytes(Image.new("RGB", (48, 48), (200, 80, 160)))


def errors_of(response) -> list[tuple[str, list, str]]:
    assert response.status_code == 422, response.text
    return [(error["type"], error["loc"], error["msg"]) for error in response.json()["detail"]]


# -- 1. the form guard in public terms --------------------------------------------------------------------------------
def test_the_form_guard_calls_no_fastapi_internals():
    """It listed a form's other problems with ``fastapi.dependencies.utils.request_body_to_args``, which any FastAPI
    upgrade may change or remove."""
    assert "fastapi.dependencies" not in inspect.getsource(deps)


def test_a_repeated_field_is_named_beside_every_other_problem_of_the_form(client):
    twice = [("image", ("a.png", png())), ("image", ("b.png", png()))]
    refused = client.post("/search/image", files=twice, data={"k": "abc", "txet": "cells"})
    assert [(kind, loc) for kind, loc, _ in errors_of(refused)] == [
        ("int_parsing", ["body", "k"]),
        ("extra_forbidden", ["body", "txet"]),
        ("repeated_field", ["body", "image"]),
    ]
    asked = client.post("/ask/image", files=twice, data={"options": '["a"]', "filters": '{"kind": "pages"}'})
    assert [(kind, loc) for kind, loc, _ in errors_of(asked)] == [
        ("value_error", ["body", "options"]),
        ("invalid_filters", ["body", "filters"]),
        ("repeated_field", ["body", "image"]),
    ]


def test_an_empty_field_beside_a_repeated_one_takes_its_default_as_fastapi_reads_it(client):
    twice = [("image", ("a.png", png())), ("image", ("b.png", png()))]
    refused = client.post("/search/image", files=twice, data={"k": "", "filters": ""})
    assert errors_of(refused) == [("repeated_field", ["body", "image"], "given 2 times: give one image")]
    alone = client.post("/search/image", files=twice[:1], data={"k": "", "filters": ""})
    assert alone.status_code == 200, alone.text


def test_a_job_form_names_its_repeated_file_beside_an_unknown_field(client):
    pdfs = [("file", ("a.pdf", b"%PDF-1.4 a")), ("file", ("b.pdf", b"%PDF-1.4 b"))]
    refused = client.post("/jobs", files=pdfs, data={"name": "a.pdf"})
    assert [(kind, loc) for kind, loc, _ in errors_of(refused)] == [
        ("extra_forbidden", ["body", "name"]),
        ("repeated_field", ["body", "file"]),
    ]


def test_a_text_field_sent_as_a_file_is_refused_at_its_place_not_a_server_error(client):
    """``curl -F options=@opts.json``: FastAPI read a JSON field holding a file as a list and failed (500)."""
    sent_as_file = client.post("/ask/image", files={"image": ("a.png", png()), "options": ("opts.json", b'["a", "b"]')})
    assert [(kind, loc) for kind, loc, _ in errors_of(sent_as_file)] == [("json_type", ["body", "options"])]
    text_as_file = client.post("/search/image", files={"image": ("a.png", png()), "text": ("t.txt", b"cells")})
    assert [(kind, loc) for kind, loc, _ in errors_of(text_as_file)] == [("string_type", ["body", "text"])]


def test_the_options_schema_takes_what_the_route_takes(client):
    """The list's rules stood beside the JSON text, where they refused every value, the default too: a client or
    fuzzer checking its requests against the document refused them all."""
    jsonschema = pytest.importorskip("jsonschema")
    options = client.get("/openapi.json").json()["components"]["schemas"]["AskImageForm"]["properties"]["options"]
    assert all(jsonschema.Draft202012Validator(options).is_valid(text) for text in ('["a", "b"]', "[]"))
    content = jsonschema.Draft202012Validator(options["contentSchema"])
    assert content.is_valid(["a", "b"]) and content.is_valid([])
    assert not content.is_valid(["a"]) and not content.is_valid(["a", "a"])


def test_the_openapi_document_states_the_forms_rules(client):
    """The forms' schemas say what JSON bodies' say: no other field (``additionalProperties``), the options' rules
    (``contentSchema``); the routes still take multipart bodies."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, form, file_field in (
        ("/search/image", "SearchImageForm", "image"),
        ("/ask/image", "AskImageForm", "image"),
        ("/jobs", "JobForm", "file"),
    ):
        body = document["paths"][path]["post"]["requestBody"]["content"]
        assert body == {"multipart/form-data": {"schema": {"$ref": f"#/components/schemas/{form}"}}}, path
        assert schemas[form]["additionalProperties"] is False and schemas[form]["required"] == [file_field]
    options = schemas["AskImageForm"]["properties"]["options"]
    assert (options["type"], options["contentMediaType"], options["contentSchema"]["maxItems"]) == (
        "string",
        "application/json",
        10,
    )
    assert schemas["SearchImageForm"]["properties"]["k"] == {
        "type": "integer",
        "maximum": 100,
        "minimum": 1,
        "title": "K",
        "default": 10,
    }


# -- 2. one kind of refusal, one status, at both doors ----------------------------------------------------------------
def test_a_wordless_typed_question_is_a_422_at_the_question_at_both_doors(client):
    """/ask refused "?" with options with a 422, /ask/image with a 400 "detail" line."""
    options = ["Koilocytes", "Mitosis"]
    asked = client.post("/ask", json={"question": "?", "options": options})
    about_image = client.post(
        "/ask/image", data={"question": "?", "options": json.dumps(options)}, files={"image": NOT_AN_IMAGE}
    )
    assert [(kind, loc) for kind, loc, _ in errors_of(asked)] == [("unsearchable_text", ["body", "question"])]
    assert errors_of(about_image) == [("unsearchable_text", ["body", "question"], NO_WORD)]
    assert about_image.json()["detail"][0]["input"] == "?"


@pytest.mark.parametrize(
    ("route", "form", "refused"),
    [
        ("/ask/image", {"question": "x"}, ("unsearchable_text", ["body", "question"])),
        ("/ask/image", {"options": "Koilocytes, Mitosis"}, ("json_invalid", ["body", "options"])),
        ("/ask/image", {"options": '["Koilocytes"]'}, ("value_error", ["body", "options"])),
        ("/ask/image", {"options": '["Koilocytes", 3]'}, ("string_type", ["body", "options", 1])),
        ("/ask/image", {"options": json.dumps(["a", "b" * 301])}, ("string_too_long", ["body", "options", 1])),
        ("/ask/image", {"question": "b" * 301}, ("string_too_long", ["body", "question"])),
        ("/ask/image", {"filters": '{"organ": 3}'}, ("invalid_filters", ["body", "filters"])),
        ("/search/image", {"filters": "[]"}, ("invalid_filters", ["body", "filters"])),
        ("/search/image", {"filters": '{"kind": "pages"}'}, ("invalid_filters", ["body", "filters"])),
        ("/search/image", {"text": "b" * 301}, ("string_too_long", ["body", "text"])),
        ("/search/image", {"k": "0"}, ("greater_than_equal", ["body", "k"])),
    ],
)
def test_a_form_field_failing_a_rule_is_a_422_before_the_image_is_read(client, route, form, refused):
    """Each was a 400 with a "detail" line (an option over the service's limit, the filters, the options' JSON), where a
    JSON body's field is a 422 naming it; the image sent is no image, so a 400 would mean it was read first."""
    assert [
        (kind, loc) for kind, loc, _ in errors_of(client.post(route, data=form, files={"image": NOT_AN_IMAGE}))
    ] == [refused]


def test_a_filters_refusal_keeps_the_command_lines_words(client):
    refused = client.post("/search/image", data={"filters": '{"kind": "pages"}'}, files={"image": ("a.png", png())})
    assert errors_of(refused) == [
        ("invalid_filters", ["body", "filters"], "unknown kind 'pages'; use page, passage, figure, case")
    ]


@pytest.mark.parametrize("route", ["/search/image", "/ask/image"])
def test_the_images_content_keeps_its_own_status(client, route):
    """Fields that pass: the unreadable image is refused for what it is (400), as before."""
    form = {"question": "Which cells?", "options": '["a", "b"]', "filters": '{"kind": "page"}'}
    if route == "/search/image":
        form = {"text": "cells", "k": "3", "filters": '{"kind": "page"}'}
    refused = client.post(route, data=form, files={"image": NOT_AN_IMAGE})
    assert refused.status_code == 400 and refused.json()["detail"].endswith(
        "is not a readable image (JPEG, PNG, TIFF, ...)"
    )
    answered = client.post(route, data=form, files={"image": ("a.png", png())})
    assert answered.status_code == 200, answered.text


def test_option_lines_that_cannot_be_read_are_refused_alike_at_both_doors(client):
    """Unchanged, and the same at both doors: a 400 naming why (the question's own lines, not a field's rule)."""
    pasted = "Which cell secretes mucus?\nA. goblet\nB. squamous\nD. basal"
    asked = client.post("/ask", json={"question": pasted})
    about_image = client.post("/ask/image", data={"question": pasted}, files={"image": NOT_AN_IMAGE})
    assert asked.status_code == about_image.status_code == 400
    assert asked.json() == about_image.json()
