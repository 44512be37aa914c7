"""Fixes from the security review: case images typed by content, writes only to this machine's host names without a
token, failed uploads rolled back whole, page renders and image decodes within memory, zip members that collide, files
that only claim to be PDFs, and image paths that are no regular file. Fast encoder and tiny files throughout."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval import images
from pathatlas.retrieval.index import Index
from pathatlas.ui.api import engine as engine_module
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.tools import Toolbox
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, upload, zipped


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(api_settings(tmp_path, api_token=TOKEN))) as c:
        yield c


def jpeg(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40 + seed).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def sources(client) -> list[str]:
    return sorted(s["source"] for s in client.get("/sources").json())


def case_folder(folder: Path, images_: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    rows = [{"image": name, "case": name, "diagnosis": "granuloma"} for name in images_]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    for name, data in images_.items():
        (folder / name).write_bytes(data)
    return folder


# -- 1. case images: typed by content, never as a page; nosniff on every response ------------------
def test_case_images_are_served_by_their_content_type_never_by_their_name(tmp_path, monkeypatch):
    tiff = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(tiff, "TIFF")
    folder = case_folder(tmp_path / "cases", {"x.html": jpeg(), "y.svg": jpeg(1), "slide.tif": tiff.getvalue()})
    settings = api_settings(tmp_path)
    # An index made before case images were checked by name (or by a plug-in source) may hold such files.
    monkeypatch.setattr("pathatlas.indexer.sources.cases.IMAGE_SUFFIXES", (".html", ".svg", ".tif"))
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    index.close()
    with TestClient(create_app(settings)) as c:
        ids = {p["image"]: rid for rid, p in c.app.state.engine.index.store.scan({"kind": "case"})}
        for name, expected in (("x.html", "image/jpeg"), ("y.svg", "image/jpeg"), ("slide.tif", "image/png")):
            served = c.get(f"/media/cases/{ids[name]}")
            assert served.status_code == 200 and served.headers["content-type"] == expected, name
            assert served.headers["x-content-type-options"] == "nosniff"
        assert Image.open(io.BytesIO(served.content)).format == "PNG", "a TIFF is re-encoded for browsers"


def test_case_folders_skip_images_whose_name_is_no_raster_image_type(tmp_path, settings):
    folder = case_folder(tmp_path / "cases", {"a.jpg": jpeg(), "x.html": jpeg(1), "y.svg": jpeg(2)})
    source = CaseFolderSource(folder, settings)
    kept = [name for case in source.records() for name, _ in case.images]
    assert kept == ["a.jpg"]
    assert len(source.problems) == 2 and all("not an image file" in p for p in source.problems)


def test_every_response_says_nosniff(client):
    assert client.get("/health").headers["x-content-type-options"] == "nosniff"
    refused = upload(client, "a.pdf", b"%PDF", headers={})  # refused by the guard, before any route
    assert refused.status_code == 401 and refused.headers["x-content-type-options"] == "nosniff"


# -- 2. DNS rebinding: without a token, writes only through this machine's host names --------------
def test_without_a_token_writes_to_a_foreign_host_name_are_refused(tmp_path):
    pdf = make_pdf(tmp_path / "b.pdf", 1, "x").read_bytes()
    with TestClient(create_app(api_settings(tmp_path))) as c:
        rebound = {"Host": "evil.example:8918", "Origin": "http://evil.example:8918"}
        posted = upload(c, "b.pdf", pdf, headers=rebound)
        assert posted.status_code == 403 and "localhost, 127.0.0.1, [::1]" in posted.json()["detail"]
        assert c.delete("/sources/b.pdf", headers=rebound).status_code == 403
        for host in ("localhost:8918", "127.0.0.1:8918", "[::1]:8918"):
            local = {"Host": host, "Origin": f"http://{host}"}
            assert c.delete("/sources/b.pdf", headers=local).status_code == 404, host  # passed the guard
        assert c.get("/sources", headers=rebound).status_code == 200, "reads stay open"


# -- 3. an upload is indexed whole or not at all --------------------------------------------------
def test_a_failed_upload_keeps_nothing_and_its_fixed_version_adds_each_source_once(client, tmp_path):
    good = make_pdf(tmp_path / "a.pdf", 2, "a").read_bytes()
    failed = job_ended(
        client, upload(client, "two.zip", zipped(("a.pdf", good), ("z.pdf", b"%PDF-1.4 junk"))).json()["id"]
    )
    assert failed["status"] == "failed" and "not a readable PDF" in failed["error"]
    assert sources(client) == [], "a.pdf committed before z.pdf failed, and was rolled back"
    assert not any((tmp_path / "home" / "uploads").iterdir())
    fixed = zipped(("a.pdf", good), ("z.pdf", make_pdf(tmp_path / "z.pdf", 2, "z").read_bytes()))
    assert job_ended(client, upload(client, "two.zip", fixed).json()["id"])["status"] == "done"
    assert sources(client) == ["a.pdf", "z.pdf"]
    assert client.delete("/sources/a.pdf", headers=AUTH).status_code == 200, "one source by that name"


def test_a_job_cancelled_after_its_first_source_committed_keeps_nothing(client, tmp_path, monkeypatch):
    add_source = Indexer._add_source

    def then_cancel(self, *args, **kwargs):
        report = add_source(self, *args, **kwargs)
        for job in client.app.state.jobs.by_id.values():
            job.cancel_requested = True  # the next source's first page stops it
        return report

    monkeypatch.setattr(Indexer, "_add_source", then_cancel)
    members = {name: make_pdf(tmp_path / name, 2, name).read_bytes() for name in ("a.pdf", "b.pdf")}
    job = job_ended(client, upload(client, "two.zip", zipped(*members.items())).json()["id"])
    assert job["status"] == "cancelled"
    assert sources(client) == [] and not any((tmp_path / "home" / "uploads").iterdir())


# -- 4. page renders within a pixel budget ---------------------------------------------------------
def test_a_huge_page_is_rendered_at_a_lower_dpi_within_the_pixel_cap(tmp_path, settings):
    doc = pymupdf.open()
    doc.new_page(width=3000, height=3000).insert_text((72, 72), "necrosis on a giant page", fontsize=40)
    doc.new_page(width=300, height=300).insert_text((20, 40), "a normal page", fontsize=9)
    doc.save(tmp_path / "giant.pdf")
    capped = settings.model_copy(update={"max_page_pixels": 100_000, "page_render_dpi": 40})
    pages = [r for r in PdfSource(tmp_path / "giant.pdf", capped).records() if type(r).__name__ == "Page"]
    width, height = pages[0].image.size
    assert width * height <= 100_000 and width == height, "40 dpi would be 1667 x 1667 pixels"
    assert pages[1].image.size == (167, 167), "a page within the cap keeps the set dpi"


# -- 5. image decodes: a few at a time, without full-size copies -----------------------------------
def test_image_queries_are_decoded_at_most_two_at_a_time(client, monkeypatch):
    running, most = [0], [0]
    lock = threading.Lock()

    def slow_on_white(image):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        raise BadInputError("decoded")

    monkeypatch.setattr(images, "on_white", slow_on_white)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, "PNG")
    codes: list[int] = []

    def query() -> None:
        codes.append(client.post("/search/image", files={"image": ("q.png", buffer.getvalue())}).status_code)

    threads = [threading.Thread(target=query) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [400] * 6 and most[0] == engine_module.DECODES == 2


DECODE_PEAK = """
import re, sys
from pathatlas.retrieval.images import open_image

def peak():  # this process's own peak (ru_maxrss would count the forked test runner's)
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]) * 1024

data = open(sys.argv[1], "rb").read()
before = peak()
open_image(data, 60_000_000)
print(peak() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_a_transparent_image_decodes_without_full_size_rgba_copies(tmp_path):
    """A 4000 x 4000 RGBA PNG is 64 MB decoded and 48 MB as RGB; with the copies compositing over white made, 300 MB."""
    Image.new("RGBA", (4000, 4000), (200, 30, 30, 128)).save(tmp_path / "big.png")
    peak = subprocess.run(
        [sys.executable, "-c", DECODE_PEAK, str(tmp_path / "big.png")], capture_output=True, text=True, check=True
    )
    assert int(peak.stdout) < 3 * 4000 * 4000 * 4, f"{int(peak.stdout) >> 20} MB"


def test_transparent_images_are_flattened_onto_white_as_before():
    pixels = Image.effect_noise((64, 64), 60).convert("L")
    rgba = Image.merge(
        "RGBA", (pixels, pixels.rotate(90), pixels.rotate(180), pixels.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    for image in (rgba, rgba.convert("LA"), rgba.convert("PA")):
        want = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA")).convert("RGB")
        assert images.on_white(image).tobytes() == want.tobytes(), image.mode


# -- 6. zip members that collide -------------------------------------------------------------------
@pytest.mark.parametrize("order", [("a.jpg", "a.jpg/b.jpg"), ("a.jpg/b.jpg", "a.jpg")])
def test_zip_members_that_collide_are_a_400_naming_the_member(client, order):
    refused = upload(client, "cases.zip", zipped(*dict.fromkeys(order, jpeg()).items()))
    assert refused.status_code == 400 and f"zip member {order[1]!r} cannot be unpacked" in refused.json()["detail"]


# -- 7. files that only claim to be PDFs -----------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b'<html><body><p>granuloma</p><img src="file:///etc/hostname"></body></html>', "a web page (HTML)"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><text y='20'>granuloma</text></svg>", "an SVG drawing"),
    ],
)
def test_html_or_svg_named_pdf_is_refused(client, content, kind):
    refused = upload(client, "book.pdf", content)
    assert refused.status_code == 415
    assert refused.json()["detail"] == (
        f"book.pdf is {kind}, not a PDF: upload a .pdf, lecture notes (.md, .qmd, .markdown), or a .zip of them or of "
        "a case folder"
    )
    assert sources(client) == []


# -- MCP: an allowed path that is no regular file ---------------------------------------------------
def test_an_image_path_that_is_a_fifo_is_refused_not_read(tmp_path, settings):
    fifo = tmp_path / "q.jpg"
    os.mkfifo(fifo)
    engine = type("FakeEngine", (), {"settings": settings})()
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            Toolbox(engine, [tmp_path])._image(None, str(fifo))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # the old code blocks in open(): a writer lets it end
        os.close(os.open(fifo, os.O_WRONLY))
        thread.join(5)
        pytest.fail("reading the FIFO blocked")
    assert isinstance(outcome[0], BadInputError) and "q.jpg is not a regular file" in str(outcome[0])
