"""The REST API as a web front end uses it: behind a reverse proxy's path prefix (the write guard still applies, hit
URLs carry the prefix), CORS headers on early refusals, unknown request fields refused, errors without server paths,
readiness, HEAD and conditional GETs. Hashing encoder and tiny files throughout."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Hit, Payload
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.schemas import HitOut
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.hits import hit_record
from tests.helpers import one_error_line, run_cli
from tests.uploads import api_settings, upload

PREFIX = "/atlas"
CROSS_SITE = {"Origin": "https://evil.example"}


def indexed(root: Path, *more: Path, **extra) -> Settings:
    """Settings (``api_settings``) of an index holding ``a.pdf``, two text pages, and the sources ``more``."""
    settings = api_settings(root, **extra)
    index = Index.open(settings.index_dir, settings, create=True)
    pdf = make_pdf(root / "library" / "a.pdf", 2, "a")
    assert not Indexer(index, show_progress=False).add([pdf, *more]).failed
    index.close()
    return settings


def case_folder(folder: Path) -> Path:
    """A case folder of one case, C-1, with one image."""
    folder.mkdir(parents=True)
    (folder / "cases.jsonl").write_text('{"image": "c1.jpg", "case": "C-1", "diagnosis": "granuloma"}\n')
    Image.effect_noise((64, 64), 40).convert("RGB").save(folder / "c1.jpg", "JPEG")
    return folder


def source_names(client: TestClient, prefix: str = "") -> list[str]:
    return sorted(s["source"] for s in client.get(f"{prefix}/sources").json())


# -- 1. behind a path prefix the write guard still runs -------------------------------------------
def test_behind_a_path_prefix_cross_origin_writes_are_still_refused(tmp_path):
    with TestClient(create_app(indexed(tmp_path)), root_path=PREFIX) as client:
        refused = client.delete(f"{PREFIX}/sources/a.pdf", headers=CROSS_SITE)
        assert refused.status_code == 403 and "cross-origin" in refused.json()["detail"]
        assert source_names(client, PREFIX) == ["a.pdf"], "nothing was removed"
        assert client.post(f"{PREFIX}/jobs", files={"file": ("b.pdf", b"%PDF")}, headers=CROSS_SITE).status_code == 403
        assert client.delete(f"{PREFIX}/sources/a.pdf").json() == {"removed": 2 + 2}, "same-origin: through"


# -- 2. URLs in answers carry the proxy's prefix; serve passes it (and the proxy settings) to uvicorn --------------
@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Settings:
    """An index of ``a.pdf`` and a case folder that tests only read (no token: reads need none)."""
    root = tmp_path_factory.mktemp("library")
    return indexed(root, case_folder(root / "cases"))


@pytest.fixture(scope="module")
def prefixed(library):
    """The service as a proxy forwards it under ``PREFIX`` (``uvicorn --root-path``)."""
    with TestClient(create_app(library), root_path=PREFIX) as client:
        yield client


def test_media_urls_carry_the_root_path_and_are_served_under_it(prefixed):
    hits = prefixed.post(f"{PREFIX}/search", json={"text": "page", "k": 2}).json()["hits"]
    record = prefixed.get(f"{PREFIX}/records/{hits[0]['id']}").json()
    for hit in [*hits, record]:
        assert urlsplit(hit["thumbnail_url"]).path == f"{PREFIX}/media/thumbnails/{hit['id']}", hit["thumbnail_url"]
        assert hit["page_url"].startswith(f"{PREFIX}/media/pages/"), hit["page_url"]
        assert prefixed.get(hit["thumbnail_url"]).headers["content-type"] == "image/jpeg"
        assert prefixed.get(hit["page_url"]).headers["content-type"] == "image/png"
    answer = prefixed.post(f"{PREFIX}/ask", json={"question": "What is on page 1?"}).json()
    urls = [c["thumbnail_url"] for c in answer["citations"] if c["thumbnail_url"]]
    assert urls and all(url.startswith(f"{PREFIX}/media/thumbnails/") for url in urls), answer["citations"]
    case = prefixed.post(f"{PREFIX}/search", json={"text": "granuloma", "filters": {"kind": "case"}}).json()["hits"][0]
    image = prefixed.get(f"{PREFIX}/cases/{case['id']}").json()["images"][0]
    assert urlsplit(image["url"]).path == f"{PREFIX}/media/cases/{case['id']}"
    assert prefixed.get(image["url"]).headers["content-type"] == "image/jpeg"


def test_serve_passes_the_root_path_and_proxy_settings_to_uvicorn(tmp_path, monkeypatch):
    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    settings = indexed(tmp_path)
    serve = ("serve", "--index", settings.index_dir, "--port", free_port(), "--forwarded-allow-ips", "10.0.0.1")
    assert run_cli(*serve, "--root-path", "/atlas/", home=settings.home).exit_code == 0
    assert run_cli(*serve, "--no-proxy-headers", home=settings.home, PATHATLAS_ROOT_PATH="/web").exit_code == 0
    assert [(o["root_path"], o["proxy_headers"], o["forwarded_allow_ips"]) for o in started] == [
        ("/atlas", True, "10.0.0.1"),
        ("/web", False, "10.0.0.1"),
    ]
    one_error_line(run_cli(*serve, "--root-path", "atlas", home=settings.home), "--root-path 'atlas'")


# -- 3. a page on an allowed origin can read the guard's refusals ---------------------------------
def test_refusals_before_any_route_carry_cors_headers_for_allowed_origins(tmp_path):
    course = "https://course.example"
    settings = api_settings(tmp_path, cors_origins=[course], api_token="t0ken", max_query_image_mb=1)
    with TestClient(create_app(settings)) as client:
        big = client.post("/search/image", files={"image": ("a.png", b"0" * (3 << 20))}, headers={"Origin": course})
        no_token = upload(client, "a.pdf", b"%PDF", headers={"Origin": course})
        foreign = upload(client, "a.pdf", b"%PDF", headers=CROSS_SITE)
    assert (big.status_code, no_token.status_code, foreign.status_code) == (413, 401, 401)
    assert big.headers["access-control-allow-origin"] == no_token.headers["access-control-allow-origin"] == course
    assert "access-control-allow-origin" not in foreign.headers


# -- 4. unknown request fields are refused, not ignored -------------------------------------------
@pytest.fixture(scope="module")
def client(library):
    with TestClient(create_app(library)) as test_client:
        yield test_client


def png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def refused_fields(response) -> list[tuple]:
    assert response.status_code == 422, response.text
    return [tuple(e["loc"]) for e in response.json()["detail"] if e["type"] == "extra_forbidden"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/search", {"text": "page", "filter": {"kind": "case"}}),
        ("/search/similar", {"id": "0" * 24, "filter": {"kind": "case"}}),
        ("/ask", {"question": "What is on page 1?", "filter": {"kind": "case"}}),
    ],
)
def test_json_bodies_refuse_unknown_fields_by_name(client, path, body):
    assert refused_fields(client.post(path, json=body)) == [("body", "filter")]


def test_multipart_forms_refuse_unknown_fields_by_name(client):
    image = {"image": ("a.png", png(), "image/png")}
    mistyped = client.post("/search/image", files=image, data={"k": "2", "filter": '{"kind": "case"}'})
    assert refused_fields(mistyped) == [("body", "filter")]
    asked = client.post("/ask/image", files=image, data={"question": "What is it?", "option": '["a", "b"]'})
    assert refused_fields(asked) == [("body", "option")]
    text = {"file": ("notes.txt", b"not a book", "text/plain")}
    assert refused_fields(client.post("/jobs", files=text, data={"name": "notes.pdf"})) == [("body", "name")]
    assert client.post("/jobs", files=text).status_code == 415, "its own fields pass, to the route's checks"


# -- 5. errors name no server path and point to API routes ----------------------------------------
def test_errors_name_the_index_by_its_folder_and_point_to_api_routes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the server started from here with a relative --index, as "--index home/demo-index"
    with TestClient(create_app(indexed(Path("."), home=Path("home"), index=Path("home/demo-index")))) as client:
        replies = [
            client.post("/search", json={"text": "page", "filters": {"chapter": "Chapter 99"}}),
            client.post("/search", json={"text": "page", "filters": {"organ": "spleen"}}),
            client.delete("/sources/nope.pdf"),
        ]
    details = [reply.json()["detail"] for reply in replies]
    assert [reply.status_code for reply in replies] == [404, 404, 404], details
    assert all(str(tmp_path) not in detail and "/home" not in detail for detail in details), details
    assert details[0].startswith("no chapter 'Chapter 99' in index demo-index "), details[0]
    assert details[1].startswith("no organ 'spleen' in index demo-index"), details[1]
    assert "GET /sources" in details[2] and "pathatlas" not in details[2], details[2]


# -- 6. a slide's figure is called by its slide's title ---------------------------------------------
@pytest.mark.parametrize(
    ("caption_from_title", "title"),
    [(True, "Koilocytes in a Pap smear"), (False, "Lecture 4 > Cervix")],  # a printed caption: the section
)
def test_a_figure_captioned_by_its_slide_title_is_titled_by_it(caption_from_title, title):
    payload = Payload(
        kind="figure",
        source="/srv/decks/deck.pdf",
        page=6,
        figure="p6-img1",
        section="Lecture 4 > Cervix",
        text="Koilocytes in a Pap smear",
        caption_from_title=caption_from_title,
    )
    hit = Hit(id="0" * 24, score=1.0, kind="figure", snippet="", citation=Citation.of(payload), payload=payload)
    assert hit_record(hit, 1)["title"] == HitOut.of(hit).title == title


# -- 7. readiness apart from liveness; limits a client can check before sending ----------------------
def test_ready_answers_503_until_the_models_are_loaded_and_health_says_the_limits(tmp_path, monkeypatch):
    loading = threading.Event()
    warm_up = Engine.warm_up
    monkeypatch.setattr(Engine, "warm_up", lambda engine: loading.wait(60) and warm_up(engine))
    settings = api_settings(tmp_path, max_image_pixels=4_000_000)
    with TestClient(create_app(settings)) as client:
        try:
            waiting = client.get("/ready")
            health = client.get("/health")
        finally:
            loading.set()
        assert (waiting.status_code, waiting.json()) == (503, {"ready": False, "problem": None})
        assert health.status_code == 200 and not health.json()["ready"], "alive while it warms up"
        limits = {
            "max_upload_mb": 1,
            "max_query_image_mb": 20,
            "max_jobs": 8,
            "max_image_pixels": 4_000_000,
            "max_query_chars": 4000,
            "k_max": 100,
        }
        assert health.json()["limits"] == limits
        deadline = time.monotonic() + 60
        while not client.app.state.engine.ready.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = client.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "problem": None})


# -- 8. HEAD on GET routes; thumbnails revalidated by their ETag ------------------------------------
def test_head_is_answered_as_get_without_a_body(client):
    hit = client.post("/search", json={"text": "page", "k": 1}).json()["hits"][0]
    for url in ("/health", hit["thumbnail_url"], hit["page_url"]):
        got, head = client.get(url), client.head(url)
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["content-type"] == got.headers["content-type"], url
        assert head.headers.get("content-length") in (None, str(len(got.content))), url  # a render's is unknown
    refused = client.head("/search")
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"


def test_thumbnails_are_cached_and_revalidated_by_their_etag(client):
    hit = client.post("/search", json={"text": "page", "k": 1}).json()["hits"][0]
    first = client.get(hit["thumbnail_url"])
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=86400"
    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.get(hit["thumbnail_url"], headers={"If-None-Match": held})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, held
    changed = client.get(hit["thumbnail_url"], headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.content == first.content


# -- 9. the snippet's marked words come with the hit ---------------------------------------------
def test_a_hits_snippet_says_which_words_the_query_marks_as_the_web_ui_does(tmp_path):
    from pathatlas.retrieval.marks import marked_spans, query_terms

    hit = Hit(
        "h",
        1.0,
        "page",
        "Koilocytes have a clear, perinuclear halo; non-koilocytic cells do not.",
        Citation("a.pdf", page=1),
    )
    record = hit_record(hit, 1, "koilocytes with a halo")
    marked = [hit.snippet[start:end] for start, end in record["snippet_marks"]]
    assert marked == ["Koilocytes", "halo", "koilocytic"], "each word the query's words start, as the UI marks them"
    assert record["snippet_marks"] == [list(s) for s in marked_spans(hit.snippet, query_terms("koilocytes halo"))]
    assert hit_record(hit, 1)["snippet_marks"] == [], "no query, nothing marked"
    with TestClient(create_app(indexed(tmp_path))) as client:
        found = client.post("/search", json={"text": "page", "k": 3}).json()["hits"]
    marked = [h["snippet"][start:end] for h in found for start, end in h["snippet_marks"]]
    assert marked and all(word.lower() == "page" for word in marked), "REST marks what the web UI would"
