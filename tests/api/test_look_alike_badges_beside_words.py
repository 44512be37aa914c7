"""Four small fixes. An image search with words badged a hit the words never found "best match" (a gallbladder beside
"keratin pearls", in LC25000: a benign lung tile). A scanned page read before tesseract's orientation data was
installed stayed read as given. A PDF was hashed twice per index run. JSON routes each added 415 to their documented
refusals by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient

from pathatlas import tesseract
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.pdf import source as pdf_source
from pathatlas.retrieval import ocr
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Hit
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.deps import JSON_BODY
from pathatlas.ui.api.schemas import HitOut
from pathatlas.ui.hits import AGREEING, hit_records
from pathatlas.ui.present import relevance_words
from tests.api.test_image_badges import case_hit
from tests.helpers import hashing_settings
from tests.retrieval.test_ocr_orientation import LINES, printed_page
from tests.uploads import api_settings

LOOK = {"visual:image": 1, "joint:image": 1}
WORDS = {"bm25": 1, "text": 1}


def badges_at_every_door(hits: list[Hit], words: str | None = "keratin pearls") -> list[str]:
    """The badges the JSON doors (CLI --json, MCP, library) and REST (the CLI's table too) give for a search with
    ``words`` (as each door passes them: typed and read in the image), and the web UI shows (``relevance_words`` of
    REST's records): the same at each."""
    records = hit_records(hits, words)
    served = [hit.model_dump() for hit in HitOut.ranked(hits, query=words)]
    shown = [relevance_words(record, look_alike=False) for record in served]
    assert [r["relevance"] for r in records] == [r["relevance"] for r in served] == shown
    return shown


def test_beside_words_a_hit_the_pictures_alone_found_looks_alike_whatever_its_rank():
    """Most of its neighbours share its diagnosis (``AGREEING``), which let an image search call it a match; the words
    asked for something else, and found the second hit."""
    hits = [
        case_hit(LOOK, relative=1.0),
        case_hit(WORDS | LOOK, relative=0.9),
        case_hit(LOOK | {"majority": 1}, relative=0.8),
    ]
    assert hits[0].agreeing >= AGREEING
    assert badges_at_every_door(hits) == ["looks alike", "strong match", "looks alike"]


def test_beside_words_that_found_none_of_the_hits_shown_they_all_look_alike():
    """``-k 3``: the benign lung tiles came first, the squamous cell carcinoma the words found fourth."""
    assert badges_at_every_door([case_hit(LOOK, relative=1.0), case_hit(LOOK, relative=0.9)]) == [
        "looks alike",
        "looks alike",
    ]


def test_without_words_the_same_look_alike_keeps_its_match():
    assert badges_at_every_door([case_hit(LOOK, relative=1.0), case_hit(LOOK, relative=0.9)], None) == [
        "best match",
        "strong match",
    ]


@pytest.mark.parametrize(
    "found",
    [
        {"specimen": 1, **LOOK},  # verified as the same specimen: the picture asked about
        {"bm25:image": 1, **LOOK},  # the words printed in the image found it too
        {"text": 40, **LOOK},  # the words' meaning found it too
    ],
)
def test_beside_words_a_hit_found_by_more_than_its_look_keeps_its_badge(found):
    assert badges_at_every_door([case_hit(found, relative=1.0), case_hit(WORDS, relative=0.9)])[0] == "best match"


def turned_page_read(tmp_path: Path, tessdata: Path) -> str:
    """The words of an upside-down scanned page as a reader caching in ``tmp_path`` reads them with ``tessdata``."""
    reader = ocr.TesseractReader(tmp_path, engine=ocr.TesseractLibrary(str(tessdata)))
    (read,) = reader.read_pages([printed_page().rotate(180)], 300)
    return "\n".join(text for _, text in read).lower()


def test_a_turned_page_cached_without_the_orientation_data_is_read_upright_once_it_is_installed(tmp_path):
    tessdata = tesseract.find_tessdata()
    if not tesseract.library_installed() or not (Path(tessdata) / "osd.traineddata").is_file():
        pytest.skip("needs tesserocr with tesseract's English and osd data")
    english_only = tmp_path / "eng-only"
    english_only.mkdir()
    (english_only / "eng.traineddata").symlink_to(Path(tessdata) / "eng.traineddata")
    upright = "\n".join(LINES).lower()
    assert turned_page_read(tmp_path, english_only) != upright  # read as given, and cached
    assert turned_page_read(tmp_path, Path(tessdata)) == upright, "the cached reading as given was kept"


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract program")
def test_the_program_is_asked_for_its_orientation_data_once_per_process(monkeypatch):
    asked = []
    real_run = ocr.subprocess.run
    monkeypatch.setattr(ocr.subprocess, "run", lambda command, **kw: asked.append(command) or real_run(command, **kw))
    ocr.program_languages.cache_clear()
    program = shutil.which("tesseract")
    said = {ocr.TesseractProgram(program).detects_orientation for _ in range(3)}
    assert said == {"osd" in real_run([program, "--list-langs"], capture_output=True, text=True).stdout.split()}
    assert len(asked) == 1


def test_a_pdf_is_hashed_once_per_index_run_and_its_records_carry_that_hash(tmp_path, monkeypatch):
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Coagulative necrosis preserves the architecture of dead cells.")
    doc.save(tmp_path / "notes.pdf")
    hashed = []
    real_hash = pdf_source.hash_files
    monkeypatch.setattr(pdf_source, "hash_files", lambda *args: hashed.append(args[0]) or real_hash(*args))
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([tmp_path / "notes.pdf"]).failed
    assert len(hashed) == 1
    fingerprint = index.manifest[str((tmp_path / "notes.pdf").resolve())]["fingerprint"]
    assert {payload["fingerprint"] for _, payload in index.store.scan({})} == {fingerprint}
    source = pdf_source.PdfSource(tmp_path / "notes.pdf", settings)
    assert next(iter(source.records())).fingerprint == fingerprint  # records asked alone hash the PDF themselves


def test_every_json_route_documents_its_refusals_by_json_body_alone(tmp_path):
    """A body sent as text is refused with a code ``JSON_BODY`` lists, which each JSON route documents."""
    with TestClient(create_app(api_settings(tmp_path))) as client:
        paths = client.app.openapi()["paths"]
        json_routes = {
            path: op["responses"]
            for path, ops in paths.items()
            for method, op in ops.items()
            if method == "post" and "application/json" in op.get("requestBody", {}).get("content", {})
        }
        assert set(json_routes) == {"/search", "/search/similar", "/ask"}
        for path, documented in json_routes.items():
            refused = client.post(path, content="koilocytes", headers={"Content-Type": "text/plain"})
            assert refused.status_code in JSON_BODY, path
            assert {str(code) for code in JSON_BODY} <= set(documented), path
