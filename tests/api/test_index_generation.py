"""GET /health names the index's committed generation, and GET /facets carries an ETag made of it (304 to an
If-None-Match naming it), so a client keeping what it read of the index (the web UI's filter counts) tells at once
when a job, a removal or `pathatlas index` in another process changed it, instead of keeping it for a fixed time.
Hashing encoder, tiny books."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.servers import job_ended
from tests.uploads import api_settings, book_service, upload


@pytest.fixture
def client(tmp_path):
    """A service on an index of one two-page book, indexed from disk (one commit)."""
    with book_service(tmp_path, "osteoid") as served:
        yield served


def health(client) -> dict:
    return client.get("/health").json()


def moved_on(client, generation: int, timeout: float = 30) -> dict:
    """/health once its generation is past ``generation``: the service takes up another process's commit within a
    second."""
    deadline = time.monotonic() + timeout
    while (said := health(client))["generation"] == generation and time.monotonic() < deadline:
        time.sleep(0.1)
    return said


def test_health_names_the_committed_generation_and_when_the_index_was_made(client, tmp_path):
    first = health(client)
    assert first["generation"] == 1 and first["index_created"], first
    job = upload(client, "atlas.pdf", make_pdf(tmp_path / "atlas.pdf", 1, "haversian").read_bytes()).json()
    assert job_ended(client, job["id"])["status"] == "done"
    after = health(client)
    assert after["generation"] > first["generation"], "the job committed"
    assert after["index_created"] == first["index_created"], "the same index"


def test_health_names_a_commit_of_another_process(client, tmp_path):
    before = health(client)["generation"]
    index_new(client.app.state.engine.settings, make_pdf(tmp_path / "atlas.pdf", 1, "haversian"))  # as the CLI does
    assert moved_on(client, before)["generation"] > before


def test_an_index_not_yet_on_disk_is_at_generation_0_made_at_no_time(tmp_path):
    with TestClient(create_app(api_settings(tmp_path))) as served:
        said = health(served)
    assert (said["generation"], said["index_created"]) == (0, None)


def test_facets_answer_304_to_their_etag_until_the_index_changes(client, tmp_path):
    first = client.get("/facets")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    held = client.get("/facets", headers={"If-None-Match": etag})
    assert (held.status_code, held.content, held.headers["ETag"]) == (304, b"", etag)
    job = upload(client, "atlas.pdf", make_pdf(tmp_path / "atlas.pdf", 1, "haversian").read_bytes()).json()
    assert job_ended(client, job["id"])["status"] == "done"
    changed = client.get("/facets", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert len(changed.json()["by_source"]) == len(first.json()["by_source"]) + 1


def test_the_openapi_document_says_so(client):
    schema = client.get("/openapi.json").json()
    health_fields = schema["components"]["schemas"]["Health"]["properties"]
    assert all(health_fields[name].get("description") for name in ("generation", "index_created"))
    facets = schema["paths"]["/facets"]["get"]
    assert "304" in facets["responses"] and "ETag" in facets["responses"]["200"]["headers"]
    assert any(parameter["name"] == "if-none-match" for parameter in facets["parameters"])
