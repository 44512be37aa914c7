"""A teaching assistant's own PDFs: a page label "p. 1" cited once as "p. 1", a word split at a line break by a
Unicode hyphen or before a space found whole, a scan whose pages no words were read from said so, and a page printed
from the web as one long page keeping its headings."""

from __future__ import annotations

import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf import ocr as pdf_ocr
from pathatlas.indexer.sources.pdf.text import Spelling, clean_text, without_page_word
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from tests.indexer.test_pdf_reading import make_index, png, records


def front_matter_book(path):
    """Ten sheets of front matter numbered i-x, then chapter pages whose labels read "p. 1", "p. 2"."""
    doc = pymupdf.open()
    for n in range(12):
        words = "Preface and contents." if n < 10 else f"Amyloid stains with Congo red, sheet {n + 1}."
        doc.new_page().insert_text((72, 100), words, fontsize=11)
    doc.set_page_labels(
        [
            {"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
            {"startpage": 10, "prefix": "p. ", "style": "D", "firstpagenum": 1},
        ]
    )
    doc.save(path)
    return path


def test_a_page_labelled_p_1_is_cited_as_p_1_not_p_p_1(tmp_path):
    """The 11th sheet, labelled "p. 1" by the PDF, was cited "book.pdf, p. p. 1 (PDF p. 11)"."""
    path = front_matter_book(tmp_path / "book.pdf")
    index = make_index(tmp_path)
    assert not Indexer(index, show_progress=False).add([path]).failed
    [hit] = Searcher(index).search(Query("sheet 11", k=1, use=("bm25",)))
    assert hit.citation.label() == "book.pdf, p. 1 (PDF p. 11)" and hit.payload.page_label == "1"
    labels = {r.page: r.page_label for r in records(path, index.settings) if isinstance(r, Page)}
    assert labels[4] == "iv" and labels[12] == "2"


@pytest.mark.parametrize(
    ("label", "printed"),
    [
        *[("p. 1", "1"), ("P.12", "12"), ("Page 3", "3"), ("page iv", "iv"), ("S. 5", "5"), ("Seite 7", "7")],
        *[("pp. 4", "4"), ("A-3", "A-3"), ("xiv", "xiv"), ("Pagination", "Pagination"), ("p.", "p.")],
        ("Plate 2", "Plate 2"),
    ],
)
def test_only_a_labels_word_for_page_is_left_out(label, printed):
    assert without_page_word(label) == printed


@pytest.mark.parametrize(
    ("printed", "read"),
    [
        ("The physi- \nology of the kidney", "The physiology of the kidney"),
        ("hepato\u2010\ncellular carcinoma", "hepatocellular carcinoma"),
        ("co\u2010operation, cooperation, co\u2010\noperation", "co\u2010operation, cooperation, co-operation"),
    ],
)
def test_a_word_split_by_a_unicode_hyphen_or_before_a_space_is_joined(printed, read):
    """A line ending "physi- " or "hepato\u2010" (U+2010, the Unicode hyphen) kept both halves, and a search for
    "physiology" missed the page; a word the document prints with a Unicode hyphen keeps one at a line break."""
    assert clean_text(printed, Spelling.of([printed])) == read


def test_a_pdf_line_ending_in_a_hyphen_and_a_space_is_read_whole(tmp_path, settings):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "Renal physi- ", fontsize=11)
    page.insert_text((72, 114), "ology in the elderly.", fontsize=11)
    doc.save(tmp_path / "hyphen.pdf")
    [passage] = [r for r in records(tmp_path / "hyphen.pdf", settings) if isinstance(r, Passage)]
    assert passage.text == "Renal physiology in the elderly."


def scans(path, pages: int = 3, typed: int = 0):
    """``typed`` pages with a text layer, then ``pages`` that are only an image (a scan without OCR, or a plate)."""
    doc = pymupdf.open()
    for _ in range(typed):
        doc.new_page().insert_text((72, 100), "Cell injury and necrosis: an overview of the lecture.")
    for _ in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_image(page.rect, stream=png(Image.new("L", (595, 842), 240)))
    doc.save(path)
    return path


def read(path, settings) -> tuple[list, list[str]]:
    source = PdfSource(path, settings)
    return list(source.records()), source.problems


def test_a_scan_indexed_with_figure_ocr_off_says_its_pages_were_not_read(tmp_path):
    """Indexed as any PDF, no problem noted: a search for its words found nothing, and nothing said why."""
    found, problems = read(scans(tmp_path / "scan.pdf"), Settings(home=tmp_path / "home", figure_ocr=False))
    assert [r.page for r in found if isinstance(r, Page)] == [1, 2, 3], "still indexed, by its image"
    assert problems == [
        f"{tmp_path / 'scan.pdf'}: no text layer on pages 1-3, not read (figure OCR is off; PATHATLAS_FIGURE_OCR=1 "
        "reads them): found by their image only"
    ]


def test_a_born_digital_pdfs_plates_are_no_problem_with_figure_ocr_off(tmp_path):
    """Pages that are one picture in a typed PDF are plates: their picture holds no words to read."""
    _, problems = read(scans(tmp_path / "atlas.pdf", pages=1, typed=2), Settings(home=tmp_path / "h", figure_ocr=False))
    assert problems == []


class BlankScanReader:
    """Stands in for tesseract on scans it reads no word on (blank sheets, handwriting), but the second page's."""

    def read_pages(self, images, dpi):
        return [[((300.0, 600.0, 1500.0, 900.0), "Coagulative necrosis")] if n == 1 else [] for n in range(len(images))]


def test_scanned_pages_tesseract_reads_no_word_on_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_ocr, "scan_reader", lambda settings: BlankScanReader())
    found, problems = read(scans(tmp_path / "scan.pdf"), Settings(home=tmp_path / "home", figure_ocr=True))
    assert [r.text for r in found if isinstance(r, Page)] == ["", "Coagulative necrosis", ""]
    assert problems == [
        f"{tmp_path / 'scan.pdf'}: no text layer on pages 1, 3, and tesseract read no words there: found by their "
        "image only"
    ]


def test_pages_are_named_as_a_reader_counts_them():
    assert pdf_ocr.pages_named([3]) == "page 4"
    assert pdf_ocr.pages_named([6, 0, 1, 2, 9, 10]) == "pages 1-3, 7, 10-11"


def test_a_long_pages_headings_are_no_running_lines(tmp_path, settings):
    """Three case reports printed from the web, each one page 6000 points tall: its margins (7.5%) reached 450 points
    down, and each case's headings there, printed on all three, were dropped from its passages as running headers."""
    doc = pymupdf.open()
    for case in ("lymphocytic thyroiditis", "Graves disease", "papillary carcinoma"):
        page = doc.new_page(width=612, height=6000)
        page.insert_text((72, 30), "Thyroid teaching cases | pathology.example.org", fontsize=9)
        page.insert_text((72, 150), "Clinical history", fontsize=13)
        page.insert_textbox(pymupdf.Rect(72, 160, 540, 300), f"A woman with a neck swelling: {case}.", fontsize=11)
        page.insert_text((72, 340), "Microscopic findings", fontsize=13)
        page.insert_textbox(pymupdf.Rect(72, 350, 540, 500), "Follicles and colloid as described. " * 3, fontsize=11)
    doc.save(tmp_path / "cases.pdf")
    passages = [r for r in records(tmp_path / "cases.pdf", settings) if isinstance(r, Passage)]
    assert {p.page for p in passages} == {1, 2, 3}
    for passage in passages:
        assert passage.text.startswith("Clinical history\n") and "\nMicroscopic findings\n" in passage.text
        assert "teaching cases" not in passage.text, "the running header at the very top is still dropped"
