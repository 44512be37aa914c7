"""The REST door's hardening from a security tester's scripts: uploads whose names the server cuts or cleans no longer
replace each other, a PDF inside a zipped case folder is noted instead of silently kept, JSON bodies are held to 1 MB,
a huge query image is decoded no larger than a search needs, HTML pages refuse to be framed, and binary input is not
echoed. Hashing encoder and tiny files throughout."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.sources import discover
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.search import ECHO_CHARS
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.deps import BODY_BYTES, read_within
from pathatlas.ui.api.uploads import safe_name
from pathatlas.ui.bench_crash import make_pdf
from tests.conftest import shared_data
from tests.helpers import png_bytes
from tests.servers import job_ended
from tests.uploads import api_settings, counted_body, upload, zipped

PIXELS = 60_000_000
LONG = "Robbins_and_Cotran_Pathologic_Basis_of_Disease_10th_edition_lecture_handout_for_second_year_students_"


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(api_settings(tmp_path))) as c:
        yield c


def indexed(client, name: str, data: bytes) -> dict:
    """Upload ``data`` as ``name`` and wait for its job to end."""
    response = upload(client, name, data)
    assert response.status_code == 202, response.text
    return job_ended(client, response.json()["id"])


def pdf(root: Path, tag: str) -> bytes:
    return make_pdf(root / f"{tag}.pdf", 1, tag).read_bytes()


def sources(client) -> list[str]:
    return sorted(source["source"] for source in client.get("/sources").json())


# -- 1. uploads replace only an upload of the very same name ---------------------------------------------------------
def test_names_the_server_cuts_or_cleans_stay_apart():
    first, second = safe_name(LONG + "chapter01.pdf", "upload"), safe_name(LONG + "chapter02.pdf", "upload")
    assert first != second and first.endswith(".pdf") and len(first) <= 100, (first, second)
    assert safe_name("<a>.pdf", "upload") != safe_name("a.pdf", "upload") == "a.pdf"
    tagged = safe_name("<a>.pdf", "upload")
    assert safe_name(tagged, "upload") != tagged, "a name sent as another's stored name is told apart too"
    assert safe_name(LONG + "chapter01.pdf", "upload") == first, "the same name is stored the same way each time"


def test_uploads_sharing_their_first_100_characters_are_both_kept(client, tmp_path):
    tags = ("alpha", "beta")
    jobs = [indexed(client, f"{LONG}chapter_{tag}.pdf", pdf(tmp_path, tag)) for tag in tags]
    assert [job["status"] for job in jobs] == ["done", "done"] and jobs[1]["notes"] == [], jobs
    assert len(sources(client)) == 2, sources(client)
    for tag in tags:
        assert client.post("/search", json={"text": f"{tag} page", "k": 1}).json()["hits"][0]["snippet"].startswith(tag)


def test_names_differing_only_in_dropped_characters_are_both_kept(client, tmp_path):
    assert indexed(client, "<a>.pdf", pdf(tmp_path, "alpha"))["status"] == "done"
    assert indexed(client, "a.pdf", pdf(tmp_path, "beta"))["notes"] == []
    assert len(sources(client)) == 2 and "a.pdf" in sources(client), sources(client)


def test_the_same_long_name_again_replaces_the_earlier_upload_and_says_so(client, tmp_path):
    name = f"{LONG}chapter01.pdf"
    assert indexed(client, name, pdf(tmp_path, "alpha"))["notes"] == []
    again = indexed(client, name, pdf(tmp_path, "beta"))
    (stored,) = sources(client)
    replaced = f"{stored}: replaced the earlier upload of this name (read again from this upload: {stored})"
    assert again["notes"] == [replaced], again
    assert client.post("/search", json={"text": "alpha beta page", "k": 5}).json()["hits"][0]["snippet"][:4] == "beta"


# -- 2. a PDF inside a zipped case folder ----------------------------------------------------------------------------
def case_folder(*extra: tuple[str, bytes]) -> list[tuple[str, bytes]]:
    image = png_bytes(Image.effect_noise((64, 64), 40).convert("RGB"))
    return [("c/cases.jsonl", b'{"image": "a.png", "diagnosis": "granuloma"}\n'), ("c/a.png", image), *extra]


def test_a_pdf_inside_a_zipped_case_folder_is_noted_and_not_unpacked(client, tmp_path):
    """As ``pathatlas index`` reads a case folder: as cases only, its PDFs left out (here, said so)."""
    job = indexed(client, "cases.zip", zipped(*case_folder(("c/notes.pdf", pdf(tmp_path, "notes")))))
    assert job["status"] == "done", job
    assert job["notes"] == ["c/notes.pdf: a PDF inside a case folder is not indexed; upload it on its own"]
    assert not list((tmp_path / "home" / "uploads").rglob("*.pdf")), "nothing kept that no source reads"
    assert sources(client) == ["c"]


def test_pathatlas_index_reads_a_case_folder_holding_a_pdf_as_cases_only(tmp_path):
    library = tmp_path / "library"
    for name, data in case_folder(("c/notes.pdf", pdf(tmp_path, "notes"))):
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        (library / name).write_bytes(data)
    assert [source.key for source in discover([library], api_settings(tmp_path))] == [str(library / "c")]


def test_a_pdf_beside_a_case_folder_in_a_zip_is_indexed(client, tmp_path):
    job = indexed(client, "both.zip", zipped(*case_folder(("book.pdf", pdf(tmp_path, "book")))))
    assert job["status"] == "done" and job["notes"] == [], job
    assert sources(client) == ["book.pdf", "c"]


# -- 3. bodies of routes that take no file ---------------------------------------------------------------------------
def chunks(count: int, read: list[int]) -> Iterator[bytes]:
    """A JSON body of ``count`` chunks of 256 KB, counting in ``read`` those read."""
    return counted_body(b'{"text": "lung", "pad": "', b'"}', count, read)


def test_a_json_body_over_1_mb_is_refused_before_it_is_read(tmp_path):
    with TestClient(create_app(api_settings(tmp_path, max_upload_mb=200))) as client:  # the default upload limit
        read: list[int] = []
        headers = {"content-type": "application/json", "content-length": str(190 << 20)}
        refused = client.post("/search", content=chunks(760, read), headers=headers)
        assert (refused.status_code, refused.json()) == (413, {"detail": "request body over 1 MB"})
        assert len(read) <= 1, f"{len(read)} chunks of the body were read before the refusal"
        sent = client.post("/search", json={"text": "lung", "pad": "x" * (2 << 20)})
        assert (sent.status_code, sent.json()) == (413, {"detail": "request body over 1 MB"})
        multipart = {"content-type": "multipart/form-data; boundary=b", "content-length": str(300 << 20)}
        upload_limit = client.post("/jobs", content=b"x", headers=multipart)
        assert upload_limit.json() == {"detail": "upload is over the limit of 200 MB"}, "uploads keep their own limit"


def test_a_chunked_json_body_is_read_within_the_same_limit(client):
    refused = client.post("/ask", content=chunks(40, []), headers={"content-type": "application/json"})
    assert (refused.status_code, refused.json()) == (413, {"detail": "request body over 1 MB"})
    body = iter([b'{"text": "granuloma",', b' "k": 3}'])
    assert client.post("/search", content=body, headers={"content-type": "application/json"}).status_code == 200
    received: list[int] = []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * (256 << 10), "more_body": True}

    assert asyncio.run(read_within(receive, BODY_BYTES)) is None
    assert len(received) == BODY_BYTES // (256 << 10) + 1, "reading stops once over the limit"


# -- 4. huge query images ---------------------------------------------------------------------------------------------
def encoded(image: Image.Image, form: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, form, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("form", ["PNG", "JPEG", "GIF"])  # GIF: a palette, reduced once RGB
def test_a_huge_query_image_is_decoded_reduced_and_an_index_image_whole(form):
    data = encoded(Image.effect_noise((4200, 900), 60).convert("RGB"), form)
    assert open_image(data, PIXELS, query=True).size == (2100, 450)
    assert open_image(data, PIXELS).size == (4200, 900), "what is indexed is decoded whole"


def test_a_reduced_query_image_keeps_its_orientation_and_transparency():
    image = Image.new("RGBA", (4200, 900), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 420, 900))
    turned = open_image(encoded(image, "TIFF", tiffinfo={274: 6}), PIXELS, query=True)  # rotate 90° to be seen
    assert turned.size == (450, 2100) and turned.mode == "RGB"
    assert turned.getpixel((225, 100)) == (200, 0, 0) and turned.getpixel((225, 2000)) == (255, 255, 255)


def test_query_images_below_twice_the_sizes_a_search_reads_are_decoded_as_before():
    for size in ((4000, 3000), (5200, 800), (640, 480)):
        data = encoded(Image.effect_noise(size, 60).convert("RGB"), "JPEG")
        assert open_image(data, PIXELS, query=True).tobytes() == open_image(data, PIXELS).tobytes(), size


def test_atlas_images_decode_identically_as_queries():
    for path in sorted(shared_data("atlas/images").iterdir())[::50]:
        assert open_image(path.read_bytes(), PIXELS, query=True).tobytes() == open_image(path, PIXELS).tobytes()


def test_the_service_decodes_an_uploaded_image_reduced(client, tmp_path):
    data = encoded(Image.effect_noise((4200, 900), 60).convert("RGB"), "PNG")
    (tmp_path / "big.png").write_bytes(data)
    engine = client.app.state.engine
    assert engine.open_image(data).result().size == (2100, 450)
    assert engine.open_image(tmp_path / "big.png").result().size == (4200, 900), "a case image served whole"


def test_every_door_reads_a_huge_query_image_reduced(tmp_path, monkeypatch):
    """REST decoded a huge query reduced, the CLI, MCP and Python doors whole: one image scored apart by door."""
    import base64
    from types import SimpleNamespace

    import numpy as np

    from pathatlas.retrieval import images
    from pathatlas.settings import Settings
    from pathatlas.ui.library import image_of
    from pathatlas.ui.tools import Toolbox
    from tests.helpers import run_cli

    picture = Image.effect_noise((4200, 900), 60).convert("RGB")
    data = encoded(picture, "PNG")
    (tmp_path / "big.png").write_bytes(data)
    for given in (tmp_path / "big.png", data, io.BytesIO(data), picture, np.asarray(picture)):
        assert image_of(given, PIXELS).size == (2100, 450), type(given)
    tools = Toolbox(SimpleNamespace(settings=Settings(home=tmp_path / "home")), allow_dirs=[tmp_path])
    assert tools._image(base64.b64encode(data).decode(), None).size == (2100, 450)
    assert tools._image(None, str(tmp_path / "big.png")).size == (2100, 450)
    from pathatlas.agent.bench.items import load_items

    row = {"id": "q", "question": "Which?", "options": ["a", "b"], "answer": "A", "image": "big.png"}
    (tmp_path / "questions.jsonl").write_text(json.dumps(row) + "\n")
    (item,), _ = load_items(tmp_path / "questions.jsonl", PIXELS)
    assert item.question.image.size == (2100, 450), "the QA benchmark asks as the doors do"
    sizes = []
    decode = images.open_image
    monkeypatch.setattr(images, "open_image", lambda *a, **k: sizes.append(decode(*a, **k).size) or picture)
    run_cli("search", "--image", tmp_path / "big.png", "--index", tmp_path / "none", home=tmp_path / "home")
    run_cli("ask", "Which?", "--option", "A=a", "--option", "B=b", "--image", tmp_path / "big.png",
            "--index", tmp_path / "none", home=tmp_path / "home")  # fmt: skip
    assert sizes == [(2100, 450)] * 2


# -- 5. pages that refuse to be framed --------------------------------------------------------------------------------
def test_html_pages_refuse_to_be_framed_and_docs_still_load(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert "x-frame-options" not in client.get("/health").headers, "JSON is never shown in a frame"


# -- 6. binary input in a 422 ----------------------------------------------------------------------------------------
def test_an_image_sent_as_a_text_field_is_not_echoed(client):
    for size in (2, 64):  # a PNG under and over the length at which an echo is cut
        data = png_bytes(Image.effect_noise((size, size), 40).convert("RGB"))
        body = b'--b\r\nContent-Disposition: form-data; name="image"\r\n\r\n' + data + b"\r\n--b--\r\n"
        refused = client.post(
            "/search/image", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["input"] == f"({len(data):,} characters of binary data, not shown)", error
        assert len(refused.content) < 300


def test_a_long_text_is_still_echoed_cut(client):
    refused = client.post("/search", json={"text": "lung", "k": "x" * 5000}).json()["detail"][0]
    assert refused["input"] == f"{'x' * ECHO_CHARS}... (5,000 characters)"
    tabbed = client.post("/search", json={"text": "lung", "k": "a\tb\nc"}).json()["detail"][0]
    assert tabbed["input"] == "a\tb\nc", "tabs and line breaks are text"
