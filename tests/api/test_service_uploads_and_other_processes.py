"""What an operator met running the service beside the CLI: uploads named in any script, re-uploaded zips, commits by
another process, exported Qdrant indexes, server paths in REST and MCP errors, and small refusals that said too much
or too little. Fast encoder throughout."""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.agent.answerers.base import AnswerError
from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.uploads import safe_name
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new, one_error_line, run_cli
from tests.servers import job_ended


def png(colour=(150, 40, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


def case_zip(*folders: str, diagnosis: str) -> bytes:
    """A zip holding case folders (each ``folder/cases.jsonl`` and two images), as a user zips folders."""
    rows = [{"image": f"{n}.png", "diagnosis": diagnosis, "organ": "lung"} for n in ("a", "b")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder in folders:
            archive.writestr(f"{folder}/cases.jsonl", "\n".join(map(json.dumps, rows)))
            archive.writestr(f"{folder}/a.png", png())
            archive.writestr(f"{folder}/b.png", png((40, 150, 90)))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Two books named ``good.pdf`` in different folders, indexed from the command line (not uploaded)."""
    root = tmp_path_factory.mktemp("operator")
    books = [make_pdf(root / "lib" / "one" / "good.pdf", 2, "one"), make_pdf(root / "lib" / "two" / "good.pdf", 2, "2")]
    index_new(hashing_settings(root), *books)
    return root


@pytest.fixture(scope="module")
def client(root):
    with TestClient(create_app(hashing_settings(root))) as test_client:
        yield test_client


def finished(client, name: str, data: bytes) -> dict:
    response = client.post("/jobs", files={"file": (name, data)})
    assert response.status_code == 202, response.text
    return job_ended(client, response.json()["id"])


# -- 1. upload names ---------------------------------------------------------------------------------
def test_upload_names_in_any_script_keep_their_letters_and_their_type(client, root):
    assert safe_name("病理学.pdf", "upload") == "病理学.pdf"
    assert safe_name("Patoloji Atlası.pdf", "upload") == "Patoloji Atlası.pdf"
    hidden = safe_name("../..\\.hidden\u202ea\x00b.pdf", "upload")
    assert hidden == "hidden_a_b~99414f37.pdf", "separators, controls, dots go; a tag of the name sent tells it apart"
    assert safe_name("???.zip", "upload") == "upload~77d8e016.zip", "nothing usable: a neutral stem, the type kept"
    assert len(safe_name("病" * 300 + ".pdf", "upload").encode()) <= 200, "a name the file system can hold"
    book = finished(client, "病理学.pdf", make_pdf(root / "upload.pdf", 2, "zh").read_bytes())
    assert book["status"] == "done" and book["source"] == "病理学.pdf", book
    cases = finished(client, "атлас.zip", case_zip("атлас", diagnosis="sarcoidosis"))
    assert cases["status"] == "done", cases
    names = {s["source"] for s in client.get("/sources").json()}
    assert {"病理学.pdf", "атлас"} <= names


# -- 2. re-uploads -----------------------------------------------------------------------------------
def test_reuploading_a_case_zip_replaces_the_sources_it_gave(client, root):
    """The zip's case folder is named by what it holds (``myc``), not by the zip (``good``)."""
    for diagnosis in ("granuloma", "carcinoid"):
        assert finished(client, "good.zip", case_zip("myc", diagnosis=diagnosis))["status"] == "done"
    myc = [s for s in client.get("/sources").json() if s["source"] == "myc"]
    assert len(myc) == 1 and myc[0]["entries"] == 2, myc
    hits = client.post("/search", json={"text": "granuloma carcinoid", "filters": {"kind": "case"}}).json()["hits"]
    assert {h["diagnosis"] for h in hits if h["citation"]["source"] == "myc"} == {"carcinoid"}
    assert len([p for p in (root / "home" / "uploads").rglob("myc") if p.is_dir()]) == 1, "the old upload went"
    assert finished(client, "good.pdf.zip", case_zip("myc2", diagnosis="x"))["status"] == "done"
    assert len([s for s in client.get("/sources").json() if s["source"] == "myc"]) == 1, "another name replaces none"


def test_reuploading_a_zip_of_several_case_folders_replaces_each_once(client):
    """The second of two folders was kept: the first removal deleted the old upload folder, and the next source of
    it no longer looked uploaded; it stayed with its images gone (410) and its name matching two sources."""
    for diagnosis in ("sarcoid granuloma", "atypical carcinoid"):  # not the cases of myc: a copy of those is refused
        assert finished(client, "two.zip", case_zip("g1", "g2", diagnosis=diagnosis))["status"] == "done"
    sources = [s["source"] for s in client.get("/sources").json() if s["source"] in ("g1", "g2")]
    assert sorted(sources) == ["g1", "g2"], sources
    hits = client.post("/search", json={"text": "granuloma carcinoid", "filters": {"kind": "case"}}).json()["hits"]
    images = [client.get(f"/media/cases/{h['id']}").status_code for h in hits if h["citation"]["source"] == "g2"]
    assert images and set(images) == {200}, images


# -- 3. commits by another process -------------------------------------------------------------------
def test_the_service_follows_commits_another_process_makes(tmp_path):
    settings = hashing_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "keep.pdf", 2, "keep"), make_pdf(tmp_path / "gone.pdf", 2, "gone"))
    with TestClient(create_app(settings)) as client:
        assert {s["source"] for s in client.get("/sources").json()} == {"keep.pdf", "gone.pdf"}
        other = Index.open(settings.index_dir, settings)  # what `pathatlas remove gone.pdf` does
        other.remove_source("gone.pdf")
        other.close()
        deadline = time.time() + 10
        while {s["source"] for s in client.get("/sources").json()} != {"keep.pdf"}:
            assert time.time() < deadline, "the service still serves the generation before the removal"
            time.sleep(0.1)
        hits = client.post("/search", json={"text": "page text"}).json()["hits"]
        assert hits and {h["citation"]["source"] for h in hits} == {"keep.pdf"}
        assert all(client.get(h["thumbnail_url"]).status_code == 200 for h in hits if h["thumbnail_url"])


def test_a_reopen_that_fails_keeps_the_open_index_serving(tmp_path, monkeypatch):
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([make_pdf(tmp_path / "a.pdf", 1, "a")]).failed
    engine = Engine(settings)
    try:
        opened = engine.index
        index.remove_source("a.pdf")
        monkeypatch.setattr(Index, "open", lambda *a, **k: (_ for _ in ()).throw(BadInputError("no")))
        assert engine.refresh() is False and engine.index is opened
        monkeypatch.undo()
        assert engine.refresh() is False, "a failed reopen waits for the next commit"
    finally:
        engine.close()
        index.close()


def test_client_messages_do_not_name_the_llm_server(tmp_path):
    """An LLM answerer's timeout reached MCP clients as "... at http://127.0.0.1:18090/v1 failed"."""
    url = "http://10.0.0.7:8080/v1"
    engine = Engine(hashing_settings(tmp_path).model_copy(update={"llm_base_url": url}))
    try:
        said = engine.client_message(AnswerError(f"openai model 'slow' at {url} failed: Request timed out."))
        assert url not in said and "the answerer's LLM server failed: Request timed out" in said
    finally:
        engine.close()


# -- 4. exported Qdrant indexes ----------------------------------------------------------------------
def test_an_exported_index_searches_its_collection_without_settings(root, tmp_path):
    twin, out = tmp_path / "twin", tmp_path / "exported"
    arguments = ["export", "--index", str(tmp_path / "copy"), "--to", str(twin), "--out", str(out)]
    source = hashing_settings(root, index=tmp_path / "copy")
    original = Index.open(source.index_dir, source, create=True)
    assert not Indexer(original, show_progress=False).add([make_pdf(tmp_path / "e.pdf", 2, "e")]).failed
    count = original.store.count()
    original.close()
    result = run_cli(*arguments, home=root / "home")
    assert result.exit_code == 0, result.output
    assert "PATHATLAS_QDRANT_URL=" not in result.output
    exported_settings = hashing_settings(root, index=out)
    exported = Index.open(out, exported_settings)  # no PATHATLAS_QDRANT_URL nor _COLLECTION
    try:
        assert exported.store.count() == count and exported.store.value_counts("kind")["page"] == 2
    finally:
        exported.close()
    help_text = run_cli("export", "--help").output
    assert "--store" not in help_text and "nothing else to set" in help_text


# -- 5. no server paths ------------------------------------------------------------------------------
def test_a_page_request_by_a_shared_name_names_ids_not_paths(client, root):
    ids = {s["id"] for s in client.get("/sources").json() if s["source"] in ("one/good.pdf", "two/good.pdf")}
    response = client.get("/pages", params={"source": "good.pdf", "page": 1})
    detail = response.json()["detail"]
    assert response.status_code == 400 and all(i in detail for i in ids), detail
    assert str(root) not in detail and "one/good.pdf (id " in detail and "two/good.pdf (id " in detail, detail
    unknown = client.get("/pages", params={"source": "nope.pdf", "page": 1})
    assert unknown.status_code == 404 and str(root) not in unknown.text
    assert client.get("/pages", params={"source": sorted(ids)[0], "page": 1}).status_code == 200


def test_mcp_tools_name_no_server_files(client, root):
    from mcp.server.mcpserver.exceptions import ToolError

    from pathatlas.ui.mcp_server import public_tool
    from pathatlas.ui.tools import Toolbox

    toolbox = Toolbox(client.app.state.engine)
    search, ask = public_tool(toolbox.search, toolbox), public_tool(toolbox.ask, toolbox)
    for source, message in (("nope.pdf", "no source 'nope.pdf'"), ("good.pdf", r"several sources: one/good.pdf \(id")):
        with pytest.raises(ToolError, match=message) as refused:
            search(text="page text", source=source)
        assert str(root) not in str(refused.value) and "lib/" not in str(refused.value), refused.value
    hits = search(text="page text", k=3)["hits"]
    answer = ask(question="Which page has text?", options=["one", "two"])
    assert hits and answer["citations"]
    for document in (hits, answer):
        assert str(root) not in json.dumps(document, ensure_ascii=False) and '"thumbnail"' not in json.dumps(document)
    assert all(h["media"].startswith("pathatlas://thumbnails/") for h in hits)
    assert all(c["media"].startswith("pathatlas://thumbnails/") for c in answer["citations"])


# -- 6. small refusals -------------------------------------------------------------------------------
def test_index_of_nothing_that_exists_creates_no_index(tmp_path):
    one_error_line(run_cli("index", tmp_path / "nosuch.pdf", "--index", tmp_path / "typo"), "no such file or folder")
    assert not (tmp_path / "typo").exists()


def png_of_size(width: int, height: int) -> bytes:
    """A PNG's header for a picture of that size (Pillow reads the size before any pixel)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_an_image_over_pillows_limit_is_refused_in_our_words():
    with pytest.raises(BadInputError) as refused:
        open_image(png_of_size(20_000, 20_000), 60_000_000, name="big.png")
    message = str(refused.value)
    assert message == (
        "big.png is too large to decode safely: 400,000,000 pixels, over the limit of 60,000,000 "
        "(PATHATLAS_MAX_IMAGE_PIXELS): scale it down and try again"
    )


def test_an_image_over_our_limit_says_the_size_to_scale_it_to():
    """A student refused a 12000x12000 scan read the server's setting and no way forward."""
    with pytest.raises(BadInputError) as refused:
        open_image(png_of_size(12_000, 6_000), 60_000_000, name="scan.png")
    assert str(refused.value).endswith("scale it down to at most 10954x5477 and try again")
    assert 10954 * 5477 <= 60_000_000 < 10955 * 5478


def test_a_422_does_not_echo_a_long_input_back(client):
    response = client.post("/search", json={"text": "granuloma " * 500})
    error = response.json()["detail"][0]
    assert response.status_code == 422 and error["loc"] == ["body", "text"] and error["type"] == "string_too_long"
    assert len(response.content) < 1000 and error["input"].endswith("(5,000 characters)")
    missing = client.post("/search", json={"txt": "x" * 5000})
    assert missing.status_code == 422 and len(missing.content) < 1000 and missing.json()["detail"][0]["loc"]


def test_a_filter_on_a_source_the_index_lacks_is_404(client):
    for path, body in (("/search", {"text": "page text"}), ("/ask", {"question": "Which page?"})):
        response = client.post(path, json={**body, "filters": {"source": "nope"}})
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "no source 'nope' in the index; GET /sources lists them"
    image = client.post("/search/image", files={"image": ("a.png", png())}, data={"filters": '{"source": ["nope"]}'})
    assert image.status_code == 404
    ids = [s["id"] for s in client.get("/sources").json() if s["source"] in ("one/good.pdf", "two/good.pdf")]
    assert len(ids) == 2
    assert client.post("/search", json={"text": "page text", "filters": {"source": ids}}).status_code == 200


def test_a_removal_while_another_process_writes_the_index_is_409_and_changes_nothing(client, root):
    """The index is busy, not the request bad: a client should try again, so not 400."""
    sources = client.get("/sources").json()
    settings = hashing_settings(root)
    other = Index.open(settings.index_dir, settings)  # as another process holds it
    try:
        with other.writing():
            response = client.delete(f"/sources/{sources[0]['id']}")
    finally:
        other.close()
    assert response.status_code == 409 and "being changed by another writer" in response.json()["detail"]
    assert client.get("/sources").json() == sources
