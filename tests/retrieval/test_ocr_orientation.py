"""A scanned page fed upside down or sideways is read the right way up, its boxes where the page shows its words; an
upright page and a figure pay nothing for it, and a page whose orientation cannot be told is read as given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval import ocr
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.ocr import TesseractReader
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from tests.helpers import png_bytes

LINES = [
    "Coagulative necrosis preserves the",
    "architecture of dead cells for days;",
    "liquefactive necrosis follows a",
    "bacterial or fungal infection.",
]
TURNS = (90, 180, 270)


def printed_page(lines: list[str] = LINES) -> Image.Image:
    """A grey A4 page at 150 dpi with printed lines at its top left, as a scanner gives it."""
    page = Image.new("L", (1240, 1754), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=36)
    for row, line in enumerate(lines):
        draw.text((120, 150 + 60 * row), line, font=font, fill=20)
    return page


def turned_box(box, size: tuple[int, int], degrees: int) -> tuple[int, int, int, int]:
    """Where a box of an upright page of ``size`` lies once the page is turned: PIL turns a mask of it."""
    mask = Image.new("L", size, 0)
    x0, y0, x1, y1 = (round(v) for v in box)
    ImageDraw.Draw(mask).rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
    return mask.rotate(degrees, expand=True).getbbox()


@pytest.fixture(params=["program", "library"])
def engine(request) -> ocr.TesseractEngine:
    """Each way of running tesseract, where installed with the orientation data (``osd.traineddata``)."""
    if request.param == "library":
        tessdata = tesseract.find_tessdata()
        if not tesseract.library_installed() or not (tessdata and (Path(tessdata) / "osd.traineddata").is_file()):
            pytest.skip("needs tesserocr with tesseract's English and osd data")
        return ocr.TesseractLibrary(tessdata)
    if shutil.which("tesseract") is None:
        pytest.skip("needs the tesseract program (apt-get install tesseract-ocr tesseract-ocr-osd)")
    return ocr.TesseractProgram(shutil.which("tesseract"))


@pytest.mark.parametrize("degrees", TURNS)
def test_a_box_read_on_a_turned_page_is_turned_back_into_the_pages_pixels(degrees):
    size, box = (1240, 1754), (120, 150, 900, 400)
    left, top, right, bottom = turned_box(box, size, degrees)
    row = f"5\t1\t1\t1\t1\t1\t{left}\t{top}\t{right - left}\t{bottom - top}\t95.0\tnecrosis"
    back = ocr.turned_back(ocr.TSV_HEADER + row + "\n", degrees, size)
    assert ocr.paragraphs(back) == [(tuple(float(v) for v in box), "necrosis")]


def test_a_page_fed_upside_down_or_sideways_is_read_upright_with_its_boxes_on_the_page_as_given(tmp_path, engine):
    upright = printed_page()
    reader = TesseractReader(tmp_path, workers=2, engine=engine)
    (expected,) = reader.read_pages([upright], 300)
    assert [text.lower() for _, text in expected] == ["\n".join(LINES).lower()]
    turned = [upright.rotate(degrees, expand=True) for degrees in TURNS]
    for degrees, read in zip(TURNS, reader.read_pages(turned, 300), strict=True):
        assert [text for _, text in read] == [text for _, text in expected], f"turned {degrees} degrees"
        (box, _), ((x0, y0, x1, y1), _) = read[0], expected[0]
        on_the_page = turned_box((x0, y0, x1, y1), upright.size, degrees)
        assert box == pytest.approx(on_the_page, abs=3), f"turned {degrees} degrees: the box misses the words"


def test_an_upright_page_and_a_figure_detect_no_orientation(tmp_path, engine, monkeypatch):
    """Detecting costs about half a reading: only a page read with little confidence pays for it."""

    def detect(*args):
        raise AssertionError("an orientation detected for an upright page or a figure")

    monkeypatch.setattr(engine, "orientation", detect)
    reader = TesseractReader(None, engine=engine)
    assert reader.read_pages([printed_page()], 300)[0]
    assert {"coagulative", "necrosis"} <= {w.lower() for w in reader.read([printed_page()])[0]}


def test_a_page_of_too_few_letters_to_tell_its_orientation_is_read_as_given(engine):
    few = printed_page(["Liver"]).rotate(180)
    assert engine.orientation(few, 300) is None
    as_given = ocr.paragraphs(engine.page_tsvs([few], 300)[0])
    assert TesseractReader(None, engine=engine).read_pages([few], 300) == [as_given]


def test_without_the_orientation_data_a_turned_page_is_read_as_given(tmp_path):
    tessdata = tesseract.find_tessdata()
    if not tesseract.library_installed():
        pytest.skip("needs tesserocr with tesseract's English data")
    (tmp_path / "eng.traineddata").symlink_to(Path(tessdata) / "eng.traineddata")
    library = ocr.TesseractLibrary(str(tmp_path))
    upside_down = printed_page().rotate(180)
    assert library.orientation(upside_down, 300) is None
    as_given = ocr.paragraphs(library.page_tsvs([upside_down], 300)[0])
    assert TesseractReader(None, engine=library).read_pages([upside_down], 300) == [as_given]


@pytest.mark.skipif(not tesseract.installed(), reason=f"needs tesseract ({tesseract.INSTALL_HINT})")
def test_an_upside_down_scan_is_found_by_its_words_and_cited_where_the_pdf_shows_them(tmp_path):
    """A teaching assistant's scan, one sheet fed upside down (the PDF page not rotated: /Rotate 0): its words were
    read as "mous pue pel & JO" and never found."""
    doc = pymupdf.open()
    for image in (printed_page(["Lecture 5. Cell injury"]), printed_page().rotate(180)):
        page = doc.new_page(width=595, height=842)
        page.insert_image(page.rect, stream=png_bytes(image))
    doc.save(tmp_path / "L05.pdf")
    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name, figure_ocr=True)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([tmp_path / "L05.pdf"]).failed
    hits = Searcher(index).search(Query("coagulative necrosis architecture", use=("bm25",)))
    assert [(h.kind, h.citation.page) for h in hits][:1] == [("page", 2)]
    assert "architecture of dead cells" in hits[0].snippet
    x0, y0, x1, y1 = hits[0].citation.bbox  # upside down (595 x 842 points): the lines stand at its foot, on its right
    assert 195 < x0 < x1 < 545 and 642 < y0 < y1 < 782
