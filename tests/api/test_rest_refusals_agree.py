"""REST answers that agree with each other: the same bad input refused with the same status and words at every route
(an empty and a blank search text, a question and a search text without a word, a record id in a path and in a body),
every route taking query parameters refusing those it does not take, a form missing its file named beside its unknown
fields, an unreadable upload named by its file name, and a long-running service forgetting its own old jobs. Hashing
encoder: no model is the point."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from pathatlas.retrieval.search import EMPTY_QUERY
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import RECORD_DAYS
from tests.servers import job_ended
from tests.uploads import api_settings, book_service, upload

UNKNOWN = {"type": "extra_forbidden", "msg": "Extra inputs are not permitted"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A service on a two-page book."""
    with book_service(tmp_path_factory.mktemp("agree"), "agree") as served:
        yield served


def refusal(response) -> tuple[int, str]:
    """A refusal's status and its one message (a 422's first field error's)."""
    detail = response.json()["detail"]
    return response.status_code, detail if isinstance(detail, str) else detail[0]["msg"]


def test_an_empty_search_text_is_refused_in_the_words_of_a_blank_one(client):
    """ "" answered pydantic's "String should have at least 1 character", "   " the doors' own words."""
    for text in ("", "   "):
        assert refusal(client.post("/search", json={"text": text})) == (422, EMPTY_QUERY), repr(text)


@pytest.mark.parametrize("text", ["what is it", "x", "", " "])
def test_a_question_without_a_word_is_refused_as_a_search_text_is(client, text):
    """/ask answered "what is it" with 400 and "x" with a 422 starting "Value error, ", where /search answers both
    with 422 in the words every door uses; the question's words are those the command line asks it in."""
    from pathatlas.agent.questions import Question
    from pathatlas.errors import BadInputError

    with pytest.raises(BadInputError) as said:
        Question(text).validate()
    asked = client.post("/ask", json={"question": text})
    searched = client.post("/search", json={"text": text})
    assert refusal(asked) == (422, str(said.value))
    assert asked.json()["detail"][0]["type"] == searched.json()["detail"][0]["type"] == "unsearchable_text"
    assert searched.status_code == 422


def test_a_question_about_an_image_needs_a_word_not_one_that_counts(client):
    """ "What is it?" asks about the image; "x" asks nothing (refused as before, without "Value error, ")."""
    image = {"image": ("slide.png", b"not read before the question")}
    refused = client.post("/ask/image", data={"question": "x"}, files=image)
    assert refusal(refused) == (
        422,
        "the question has no word to look for: type two letters or digits in a row, or a CJK character",
    )
    assert "question" not in refusal(client.post("/ask/image", data={"question": "What is it?"}, files=image))[1]


def test_a_question_the_doors_ask_is_not_refused_by_its_schema(client):
    """ "H&E?" has a word to look for (as /search and the command line take it), not two letters in a row."""
    for request in ({"question": "H&E?"}, {"text": "H&E"}):
        route = "/ask" if "question" in request else "/search"
        answered = client.post(route, json=request)
        assert answered.status_code != 422, answered.text


def test_every_route_taking_query_parameters_refuses_one_it_does_not_take(client):
    """A mistyped ``?dip=300`` was dropped and the page rendered at the default dpi; only GET /jobs refused it. A
    route taking only a link's key (a thumbnail's) lets a cache buster through (below)."""
    link_key = {"source", "page", "case", "image"}
    operations = [
        (path, method)
        for path, methods in client.get("/openapi.json").json()["paths"].items()
        for method, operation in methods.items()
        if {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
        not in (set(), link_key)
    ]
    assert {"/media/pages/{record_id}", "/pages", "/jobs"} <= {path for path, _ in operations}
    for path, method in operations:
        url = path.replace("{record_id}", "0" * 24)
        refused = client.request(method, url, params={"bogus": "1"})
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json()["detail"] == [{**UNKNOWN, "loc": ["query", "bogus"]}]


def test_a_mistyped_dpi_is_refused_and_routes_without_query_parameters_ignore_any(client):
    page = client.post("/search", json={"text": "agree", "filters": {"kind": "page"}}).json()["hits"][0]
    assert client.get(page["page_url"], params={"dpi": 200}).status_code == 200
    assert client.get(page["page_url"], params={"dip": 300}).status_code == 422
    assert client.head(page["page_url"], params={"dip": 300}).status_code == 422
    assert client.get(page["thumbnail_url"], params={"v": 2}).status_code == 200  # a cache buster, as it was
    assert client.get(f"/records/{page['id']}", params={"v": 2}).status_code == 200


def test_a_job_form_of_an_unknown_field_alone_names_the_missing_file_too(client):
    refused = client.post("/jobs", data={"k": "1"}, files={"other": ("x.txt", b"x")})
    assert refused.status_code == 422
    assert [(error["type"], error["loc"]) for error in refused.json()["detail"]] == [
        ("missing", ["body", "file"]),
        ("extra_forbidden", ["body", "k"]),
        ("extra_forbidden", ["body", "other"]),
    ]
    given = client.post("/search/image", data={"k": "3", "txet": "cells"}, files={"image": ("a.png", b"x")})
    assert [error["loc"] for error in given.json()["detail"]] == [["body", "txet"]], "nothing missing: not named"


def test_a_malformed_record_id_is_refused_in_the_same_words_in_a_body_as_in_a_path(client):
    """/search/similar answered "String should match pattern '^[0-9a-f]{24}$'" where /records/nope "not a record
    id"."""
    in_path = refusal(client.get("/records/nope"))
    assert in_path == (404, "not a record id")
    for bad in ("nope", "0" * 24 + "\n", "0" * 23):
        assert refusal(client.post("/search/similar", json={"id": bad})) == (422, in_path[1]), repr(bad)
        assert refusal(client.get(f"/records/{quote(bad)}")) == in_path, repr(bad)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SimilarRequest"]
    assert schema["properties"]["id"]["pattern"] == "^[0-9a-f]{24}$"  # still documented for clients


@pytest.mark.parametrize("route", ["/search/image", "/ask/image"])
def test_an_unreadable_upload_is_named_by_its_file_name(client, route):
    """It was "the image given", where the command line and MCP say "notes.png is ..."."""
    form = {"question": "which cells?"} if route == "/ask/image" else {}
    for sent in ("notes.png", "C:\\fakepath\\notes.png", "/home/me/notes.png"):
        refused = client.post(route, data=form, files={"image": (sent, b"just notes")})
        assert refusal(refused) == (400, "notes.png is not a readable image (JPEG, PNG, TIFF, ...)"), sent
    long = client.post(route, data=form, files={"image": ("n" * 300, b"just notes")})
    assert refusal(long)[1].startswith(f"{'n' * 200}... (300 characters) is not a readable image")  # cut, as echoed


def test_a_long_running_service_forgets_its_own_jobs_past_the_records_lifetime(tmp_path):
    """``Jobs.by_id`` was never pruned: a service running for weeks listed its finished jobs past ``RECORD_DAYS``
    (a restart drops their records), and kept each in memory."""
    settings = api_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        jobs = client.app.state.jobs
        old, recent = (job_ended(client, upload(client, f"b{n}.pdf", b"%PDF-1.7 no").json()["id"]) for n in range(2))
        records = {job["id"]: settings.home / "jobs" / f"{job['id']}.json" for job in (old, recent)}
        for record in records.values():  # the end is published before the record is written
            while json.loads(record.read_text())["status"] != "failed":
                time.sleep(0.05)
        weeks_ago = time.time() - (RECORD_DAYS + 1) * 86400
        jobs.by_id[old["id"]].ended = weeks_ago
        os.utime(records[old["id"]], (weeks_ago, weeks_ago))
        assert [job["id"] for job in client.get("/jobs").json()] == [recent["id"]]
        assert old["id"] not in jobs.by_id and recent["id"] in jobs.by_id
        assert client.get(f"/jobs/{old['id']}").status_code == 404
        assert not records[old["id"]].exists() and records[recent["id"]].exists()
