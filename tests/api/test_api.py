"""The REST API through FastAPI's TestClient: search, ask, media, index jobs, auth, uploads, errors."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.corpora.demo import draw_pattern
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from tests.servers import job_ended

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def client(session_home, demo_corpus, tmp_path_factory):
    index = tmp_path_factory.mktemp("api") / "index"
    settings = Settings(home=session_home, index=index, api_token=TOKEN, max_upload_mb=5, max_query_image_mb=5)
    with TestClient(create_app(settings)) as test_client:
        pdf = (demo_corpus / "primer" / "demo-primer.pdf").read_bytes()
        job = test_client.post("/jobs", files={"file": ("primer.pdf", pdf)}, headers=auth()).json()
        job_ended(test_client, job["id"])
        yield test_client


def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["records"] > 0 and health["encoder"] == "default"
    schema = client.get("/openapi.json").json()
    assert {"/search", "/search/image", "/ask", "/jobs", "/sources", "/media/pages/{record_id}"} <= set(schema["paths"])
    assert "SearchRequest" in schema["components"]["schemas"]


def test_text_search_returns_cited_hits_with_media(client):
    response = client.post("/search", json={"text": "koilocytes perinuclear halo", "k": 3})
    hit = response.json()["hits"][0]
    assert hit["citation"]["page"] == 1 and hit["citation"]["source"] == "primer.pdf"
    thumb = client.get(hit["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    figure = client.post("/search", json={"text": "koilocytes", "filters": {"kind": "figure"}}).json()["hits"][0]
    page = client.get(figure["page_url"])
    assert page.status_code == 200 and page.content[:4] == b"\x89PNG"
    assert client.post("/search", json={"text": ""}).status_code == 422
    stop_words = client.post("/search", json={"text": "the of and"})  # nothing to look for is no "best match"
    assert stop_words.status_code == 422 and "only common words" in stop_words.json()["detail"][0]["msg"]


def test_image_search_and_bad_images(client):
    files = {"image": ("slide.png", png(draw_pattern("granuloma", 3)))}
    hits = client.post("/search/image", files=files, data={"k": "3", "filters": json.dumps({"kind": "figure"})})
    assert hits.status_code == 200 and hits.json()["hits"][0]["citation"]["figure"] == "Figure 2.1"
    fake = client.post("/search/image", files={"image": ("x.png", b"plain text")})
    assert fake.status_code == 400 and "not a readable image" in fake.json()["detail"]
    assert "UnidentifiedImageError" not in fake.json()["detail"], "a student reads it: no exception class names"
    big = client.post("/search/image", files={"image": ("big.png", b"0" * (6 << 20))})
    assert big.status_code == 413


def test_ask_answers_with_citations(client):
    body = {
        "question": "Which cells show a clear perinuclear halo in HPV infection of the cervix?",
        "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
    }
    answer = client.post("/ask", json=body).json()
    assert answer["choice"] == 1 and answer["answer"] == "Koilocytes" and answer["trace"][0]["step"] == "plan"
    assert answer["citations"] and answer["options"][1]["evidence"][0]["quote"]
    cited = [*answer["citations"], *(q["citation"] for o in answer["options"] for q in o["evidence"])]
    assert all("/" not in c["source"] and c["source_id"] for c in cited), "sources by name and id, never by path"
    thumbs = [c["thumbnail_url"] for c in answer["citations"] if c["thumbnail_url"]]
    assert thumbs and client.get(thumbs[0]).status_code == 200, "answer thumbnails are URLs, not server files"
    scoped = client.post("/ask", json={**body, "filters": {"source": "primer.pdf"}}).json()
    assert scoped["choice"] == 1 and {c["source"] for c in scoped["citations"]} == {"primer.pdf"}
    elsewhere = client.post("/ask", json={**body, "filters": {"source": "another-book.pdf"}})
    assert elsewhere.status_code == 404 and "no source 'another-book.pdf'" in elsewhere.json()["detail"]
    one = client.post("/ask", json={**body, "options": ["Koilocytes"]})  # no choice; answered "certain" once
    assert one.status_code == 422 and "one option is no choice" in one.text
    same = client.post("/ask", json={**body, "options": ["Koilocytes", "Goblet cells", "koilocytes "]})
    assert same.status_code == 422 and "options A and C are the same" in same.text, "a tie by construction"
    assert client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]["options"][
        "uniqueItems"
    ]
    files = {"image": ("slide.png", png(draw_pattern("granuloma", 3)))}
    one = client.post("/ask/image", files=files, data={"question": "What is it?", "options": '["granuloma"]'})
    assert one.status_code == 422 and "one option is no choice" in one.text


def test_a_filter_on_an_unknown_field_is_refused_not_matched_to_nothing(client):
    typo = {"organs": "lung"}
    search = client.post("/search", json={"text": "koilocytes", "filters": typo})
    assert search.status_code == 422 and search.json()["detail"][0]["loc"][-2:] == ["filters", "organs"]
    kind = client.post("/search", json={"text": "koilocytes", "filters": {"kind": ["page", "pag"]}})
    assert kind.status_code == 422 and "'page', 'passage', 'figure' or 'case'" in kind.text, "a kind no record has"
    assert client.post("/search/similar", json={"id": "0" * 24, "filters": typo}).status_code == 422
    ask = client.post("/ask", json={"question": "Which cells show a halo?", "filters": typo})
    assert ask.status_code == 422
    files = {"image": ("slide.png", png(draw_pattern("granuloma", 3)))}
    image = client.post("/search/image", files=files, data={"filters": json.dumps(typo)})
    assert image.status_code == 422 and image.json()["detail"][0]["loc"] == ["body", "filters"], image.text
    assert "unknown filter field 'organs'; use kind, source" in image.json()["detail"][0]["msg"]
    asked = client.post("/ask/image", files=files, data={"question": "What is it?", "filters": json.dumps(typo)})
    assert asked.status_code == 422 and "chapter" in asked.json()["detail"][0]["msg"], asked.text
    chapter = client.post("/search", json={"text": "koilocytes", "filters": {"chapter": "1 Cells"}})
    assert chapter.status_code == 404 and "no chapter" in chapter.json()["detail"], "a chapter the index lacks"


def test_writes_need_the_token_and_uploads_are_checked(client):
    assert client.post("/jobs", files={"file": ("a.pdf", b"%PDF")}).status_code == 401
    assert client.delete("/sources/primer.pdf", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/jobs", files={"file": ("notes.txt", b"x")}, headers=auth()).status_code == 415
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escape.txt", "x")
    bad_zip = client.post("/jobs", files={"file": ("cases.zip", evil.getvalue())}, headers=auth())
    assert bad_zip.status_code == 400 and "leaves the archive" in bad_zip.json()["detail"]
    broken = client.post("/jobs", files={"file": ("../../broken.pdf", b"%PDF-1.4 junk")}, headers=auth()).json()
    assert broken["source"] == "broken.pdf"
    done = job_ended(client, broken["id"])
    assert done["status"] == "failed" and "not a readable PDF" in done["error"]
    assert client.get("/health").json()["records"] > 0  # nothing already indexed was lost


def test_case_zip_job_then_case_details_and_removal(client, demo_corpus):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for path in (demo_corpus / "cases").rglob("*"):
            if path.is_file():
                z.write(path, path.relative_to(demo_corpus / "cases"))
    job = client.post("/jobs", files={"file": ("demo-cases.zip", archive.getvalue())}, headers=auth()).json()
    assert job_ended(client, job["id"])["status"] == "done"
    assert {s["kind"] for s in client.get("/sources").json()} == {"pdf", "cases"}
    hit = client.post("/search", json={"text": "sarcoidosis lymph node", "filters": {"kind": "case"}}).json()["hits"][0]
    details = client.get(f"/cases/{hit['id']}").json()
    assert details["diagnosis"] == "sarcoidosis" and len(details["images"]) == 2
    assert client.get(details["images"][0]["url"]).status_code == 200
    removed = client.delete("/sources/demo-cases", headers=auth())
    assert removed.status_code == 200 and removed.json()["removed"] == 16
    assert client.get("/cases/" + hit["id"]).status_code == 404
    assert client.get("/media/thumbnails/../../etc/passwd").status_code == 404


def test_bench_serve_drives_a_real_server_without_errors(demo_index):
    """The load harness against a separately started `pathatlas serve` on loopback (small and short)."""
    from pathatlas.ui.bench_serve import bench_serve

    result = bench_serve(demo_index.path, clients=3, seconds=6)
    assert result["errors"] == 0, result["error_kinds"]
    assert result["text"]["n"] > 0 and result["image"]["n"] > 0
    assert result["throughput_rps"] > 0 and result["text"]["p95_ms"] >= result["text"]["p50_ms"]


def test_an_unknown_id_is_echoed_cut_short(client):
    """``DELETE /sources/<5000 characters>`` answered with all 5000 in its 404: an id is echoed as a 422's input is."""
    long_id = "x" * 5000
    deleted = client.delete(f"/sources/{long_id}", headers=auth())
    for response in (deleted, client.get("/pages", params={"source": long_id, "page": 1})):
        detail = response.json()["detail"]
        assert response.status_code == 404 and len(detail) < 400 and "(5,000 characters)" in detail, detail
