"""Abuse and bad input: jobs that always end, zip bombs, uploads refused before they are read, no server paths,
malformed text, one-line CLI errors with exit status 1, settings that do what they say. Fast encoder throughout."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import PathAtlasError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api import indexing
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, one_error_line, run_cli
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, upload, zipped


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("guards")


@pytest.fixture(scope="module")
def client(root):
    with TestClient(create_app(api_settings(root, api_token=TOKEN, max_unpacked_mb=2, max_zip_members=50))) as c:
        job = c.post(
            "/jobs", files={"file": ("book.pdf", make_pdf(root / "b.pdf", 3, "v0").read_bytes())}, headers=AUTH
        )
        assert job_ended(c, job.json()["id"])["status"] == "done"
        yield c


# -- jobs ----------------------------------------------------------------------------------------
def test_a_job_ends_failed_with_one_line_whatever_is_raised(client, root, monkeypatch):
    def crash(*_, **__):
        raise RuntimeError("sqlite said no\nand more")

    monkeypatch.setattr(Indexer, "encode", crash)
    job = job_ended(client, upload(client, "other.pdf", make_pdf(root / "o.pdf", 2, "x").read_bytes()).json()["id"])
    assert job["status"] == "failed" and job["error"] == "RuntimeError: sqlite said no and more"
    monkeypatch.setattr(Indexer, "add", crash)  # outside the per-source guard: the worker itself
    statuses_while_deleting = []
    delete = indexing.shutil.rmtree

    def rmtree(path, **kwargs):
        statuses_while_deleting.extend(j.status for j in client.app.state.jobs.by_id.values() if j.upload == path)
        delete(path, **kwargs)

    monkeypatch.setattr(indexing.shutil, "rmtree", rmtree)
    job = job_ended(client, upload(client, "third.pdf", make_pdf(root / "t.pdf", 2, "y").read_bytes()).json()["id"])
    assert job["status"] == "failed" and "sqlite said no" in job["error"]
    assert statuses_while_deleting == ["running"], "a job reads failed only once its upload is gone"
    assert not [p for p in (root / "home" / "uploads").rglob("*.pdf") if p.name != "book.pdf"], "failed uploads go"


# -- zips ----------------------------------------------------------------------------------------
def link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16) | 0x20  # a symlink, as `zip --symlinks` stores it
    return info, target.encode()


@pytest.mark.parametrize(
    ("members", "code", "message"),
    [
        ([("cases.jsonl", b"{}"), ("big.bin", b"\0" * (3 << 20))], 413, "unpacks to over 2 MB"),
        ([(f"f{i}.txt", b"x") for i in range(51)], 413, "over 50 members"),
        ([("cases.jsonl", b"{}"), link("images/a.jpg", "/etc/passwd")], 400, "is a link"),
        ([("/etc/cron.d/x", b"x")], 400, "absolute path"),
        ([("C:/windows/x", b"x")], 400, "absolute path"),
        ([("cases/../../escape.txt", b"x")], 400, "leaves the archive"),
        ([("cases\\..\\..\\escape.txt", b"x")], 400, "leaves the archive"),
        ([("cases.jsonl", b"{}"), ("images/a.jpg", b"1"), ("images/a.jpg", b"2")], 400, "'images/a.jpg' appears twice"),
    ],
)
@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zipfile's, making the zip that repeats a name
def test_hostile_zips_are_refused_before_anything_is_indexed(client, root, members, code, message):
    before = set((root / "home" / "uploads").iterdir())
    response = upload(client, "cases.zip", zipped(*members))
    assert response.status_code == code and message in response.json()["detail"], response.text
    assert set((root / "home" / "uploads").iterdir()) == before, "the refused upload left nothing behind"


def test_a_zip_that_lies_about_its_sizes_still_stops_at_the_cap(tmp_path):
    from pathatlas.ui.api.uploads import UnusableZipError, UploadTooLargeError, extract_zip

    archive = tmp_path / "liar.zip"
    archive.write_bytes(zipped(("a.bin", b"\0" * (3 << 20))))
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # declared size in the central directory: 3 MB -> 1 KB
    data[central + 24 : central + 28] = (1024).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises((UnusableZipError, UploadTooLargeError)):
        extract_zip(archive, tmp_path / "out", max_bytes=1 << 20, max_members=10)
    assert sum(f.stat().st_size for f in (tmp_path / "out").rglob("*") if f.is_file()) <= 1 << 20


# -- uploads: limits before reading, replace by name, ids ------------------------------------------
def body_of(size_header: int, chunks: int, read: list):
    def stream():
        for _ in range(chunks):
            read.append(1)
            yield b"x" * (256 << 10)

    return stream()


@pytest.mark.parametrize(("headers", "code"), [({}, 401), (AUTH, 413)])
def test_big_or_unauthorised_uploads_are_refused_before_the_body_is_read(client, headers, code):
    read: list[int] = []
    response = client.post(
        "/jobs",
        content=body_of(1 << 30, 64, read),
        headers={**headers, "content-type": "multipart/form-data; boundary=x", "content-length": str(1 << 30)},
    )
    assert response.status_code == code
    assert len(read) <= 1, f"{len(read)} chunks of the body were read before the refusal"


def test_cross_origin_writes_need_a_token(root):
    settings = api_settings(root / "open")
    with TestClient(create_app(settings)) as open_client:
        pdf = make_pdf(root / "open.pdf", 2, "z").read_bytes()
        evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        refused = open_client.post("/jobs", files={"file": ("x.pdf", pdf)}, headers=evil)
        assert refused.status_code == 403 and "PATHATLAS_API_TOKEN" in refused.json()["detail"]
        same_site = open_client.post("/jobs", files={"file": ("x.pdf", pdf)})
        assert same_site.status_code == 202


def test_reupload_replaces_by_name_and_ids_travel_in_urls(client, root):
    job = upload(client, "book.pdf", make_pdf(root / "b2.pdf", 5, "v1").read_bytes()).json()
    assert job_ended(client, job["id"])["status"] == "done"
    books = [s for s in client.get("/sources").json() if s["source"] == "book.pdf"]
    # 5 pages and their 5 passages (the old version had 3 of each)
    assert len(books) == 1 and books[0]["entries"] == 10, "the new upload replaced the old one"
    assert len(list((root / "home" / "uploads").rglob("book.pdf"))) == 1, "the old upload's files went"
    assert client.delete(f"/sources/{books[0]['id']}", headers=AUTH).json() == {"removed": 10}
    assert client.delete(f"/sources/{books[0]['id']}", headers=AUTH).status_code == 404
    assert not list((root / "home" / "uploads").rglob("book.pdf"))
    job = upload(client, "book.pdf", make_pdf(root / "b.pdf", 3, "v0").read_bytes()).json()
    assert job_ended(client, job["id"])["status"] == "done"


def test_responses_never_show_server_paths(client, root):
    bodies = [
        client.get("/health").text,
        client.get("/sources").text,
        client.post("/search", json={"text": "granuloma necrosis"}).text,
        client.delete("/sources/nope", headers=AUTH).text,
        client.get("/facets").text,
    ]
    assert json.loads(bodies[2])["hits"], "the search found something to show"
    for body in bodies:
        assert str(root) not in body and "/home/" not in body, body


# -- malformed text and API schema fixes -----------------------------------------------------------
def test_lone_surrogates_and_huge_queries_are_422_not_500(client):
    raw = b'{"text": "granuloma \\ud800"}'
    for path, body in (("/search", raw), ("/ask", raw.replace(b'"text"', b'"question"'))):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422 and isinstance(response.json()["detail"], list)
    assert client.post("/search", json={"text": "x" * 100_000}).status_code == 422


def test_405_names_every_method_of_the_path(client):
    response = client.put("/jobs/abc")
    assert response.status_code == 405 and set(response.headers["allow"].split(", ")) == {"GET", "DELETE"}


def test_a_path_with_dots_reaches_the_record_id_guard(client):
    """Sent raw (no client-side normalisation of '..' or %2F): the route's own guard answers."""
    scope_paths = ["/media/thumbnails/..", "/media/pages/..%2F..%2Fetc%2Fpasswd", "/cases/%2E%2E"]
    import asyncio

    async def raw_get(path: str) -> tuple[int, bytes]:
        sent: list[dict] = []
        scope = {
            "type": "http",
            "method": "GET",
            "path": path.replace("%2F", "/").replace("%2E", "."),
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 1),
            "root_path": "",
            "app": client.app,
        }

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        await client.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    status, body = asyncio.run(raw_get(scope_paths[0]))
    assert status == 404 and b"not a record id" in body
    status, body = asyncio.run(raw_get(scope_paths[2]))
    assert status == 404 and b"not a record id" in body
    status, _ = asyncio.run(raw_get(scope_paths[1]))
    assert status == 404


def test_rendered_pages_are_pixel_capped_and_cached(root):
    settings = api_settings(root / "pages", api_token=TOKEN, max_page_pixels=20_000)
    with TestClient(create_app(settings)) as c:
        job = upload(c, "p.pdf", make_pdf(root / "p.pdf", 2, "p").read_bytes()).json()
        assert job_ended(c, job["id"])["status"] == "done"
        hit = c.post("/search", json={"text": "granuloma"}).json()["hits"][0]
        from pathatlas.ui.api.routes.media import render_page

        render_page.cache_clear()
        for _ in range(2):
            page = c.get(hit["page_url"], params={"dpi": 300})
            assert page.status_code == 200 and page.headers["content-type"] == "image/png"
            width, height = Image.open(io.BytesIO(page.content)).size
            assert width * height <= 20_000
        assert render_page.cache_info().hits == 1


# -- CLI -------------------------------------------------------------------------------------------
@pytest.fixture
def small_index(tmp_path):
    pdf = make_pdf(tmp_path / "book.pdf", 3, "v0")
    assert run_cli("index", pdf, "--index", tmp_path / "index", home=tmp_path / "home").exit_code == 0
    return tmp_path / "index"


def test_cli_bad_input_is_one_line_and_exit_1(tmp_path, small_index):
    home = tmp_path / "home"  # small_index's
    one_error_line(
        run_cli("search", "x", "--filter", "colour=red", "--index", small_index, home=home), "use kind, source"
    )
    (tmp_path / "afile").write_text("x")
    one_error_line(run_cli("index", tmp_path / "book.pdf", "--index", tmp_path / "afile", home=home), "is a file")
    big = make_pdf(tmp_path / "big.pdf", 6, "b")
    one_error_line(run_cli("index", big, "--index", small_index, home=home, PATHATLAS_MAX_PDF_PAGES=5), "6 pages, over")
    one_error_line(run_cli("search", "y" * 5000, "--index", small_index, home=home), "PATHATLAS_MAX_QUERY_CHARS")
    one_error_line(run_cli("serve", "--host", "0.0.0.0", "--index", small_index, home=home), "PATHATLAS_API_TOKEN")


def test_cli_invalid_utf8_and_damaged_pdfs_in_a_real_process(tmp_path, small_index):
    good = make_pdf(tmp_path / "src.pdf", 3, "t").read_bytes()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "truncated.pdf").write_bytes(good[: len(good) // 2])
    env = {**os.environ, "PATHATLAS_ENCODER": HashingEncoder.name}
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()"]
    query = subprocess.run([*command.copy(), "search", b"granuloma \xff\xfe", "--index", small_index], env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert query.returncode == 1 and query.stderr.strip().startswith("error: the query is not valid UTF-8")
    indexed = subprocess.run(
        [*command, "index", tmp_path / "lib", "--index", small_index, "--json"], env=env, capture_output=True, text=True
    )
    assert json.loads(indexed.stdout)[0]["source"].endswith("truncated.pdf"), "stdout holds the JSON only"


# -- settings and code named by an index -----------------------------------------------------------
def test_an_index_that_names_code_is_refused_unless_trusted(tmp_path):
    settings = hashing_settings(tmp_path)
    plugin = "py:pathatlas.retrieval.stores.faiss_store.FaissStore"
    Index.open(settings.index_dir, settings, create=True, store=plugin).close()
    with pytest.raises(PathAtlasError, match="names code"):
        Index.open(settings.index_dir, settings)
    Index.open(settings.index_dir, settings, store=plugin).close()
    Index.open(settings.index_dir, settings.model_copy(update={"store": plugin})).close()


def test_pillow_guard_untouched_and_device_auto(tmp_path):
    import PIL.Image

    import pathatlas.retrieval.images  # noqa: F401

    assert int(1024 * 1024 * 1024 // 4 // 3) == PIL.Image.MAX_IMAGE_PIXELS
    from pathatlas.retrieval.encoders import create_encoder

    encoder = create_encoder(HashingEncoder.name, Settings(device="auto", home=tmp_path))
    assert encoder.settings.device in ("cpu", "cuda")
