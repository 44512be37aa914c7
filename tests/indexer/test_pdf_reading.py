"""Reading a lecturer's own PDFs: a damaged copy never replaces the good one, two columns read column by column, the
printed page number cited, captions kept on rotated pages and across a page break, scanned pages searchable, and
the micro sign as printed."""

from __future__ import annotations

import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Figure, Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource, mupdf_alone
from pathatlas.indexer.sources.pdf import ocr as pdf_ocr
from pathatlas.indexer.sources.pdf.columns import reading_order
from pathatlas.indexer.sources.pdf.running import is_running_line
from pathatlas.indexer.sources.pdf.text import clean_text
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from tests.conftest import shared_data

LEFT = [
    "Acute inflammation is the rapid host response that delivers leukocytes and plasma proteins to sites of "
    "infection or tissue injury.",
    "Vascular changes come first: arteriolar vasodilation, then increased permeability of postcapillary venules, "
    "leading to exudate formation and stasis of blood flow.",
    "Neutrophil margination and rolling are mediated by selectins; firm adhesion depends on integrins binding ICAM-1.",
]
RIGHT = [
    "Chronic inflammation is inflammation of prolonged duration in which active inflammation, tissue destruction "
    "and attempts at repair proceed simultaneously.",
    "Granulomatous inflammation is a distinctive pattern: aggregates of activated epithelioid macrophages, often "
    "with Langhans giant cells.",
    "Caseating granulomas are typical of tuberculosis; non-caseating granulomas suggest sarcoidosis.",
]
MIDDLE = 297.5
"""Between the columns (50-285 and 310-545)."""
ROUNDS = 30
"""Readings of each PDF read at once with others: enough for their MuPDF calls to interleave."""


def make_index(tmp_path) -> Index:
    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name)
    return Index.open(settings.index_dir, settings, create=True)


def records(path, settings: Settings) -> list:
    return list(PdfSource(path, settings).records())


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def handout(path, pages: int = 3):
    """A lecture handout in two columns, pages printed from 12 on (page labels), with bookmarks."""
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_text((50, 60), f"Lecture 4. Inflammation part {n + 1}", fontsize=16)
        page.insert_textbox(pymupdf.Rect(50, 90, 285, 780), "\n\n".join(LEFT), fontsize=10)
        page.insert_textbox(pymupdf.Rect(310, 90, 545, 780), "\n\n".join(RIGHT), fontsize=10)
        if n == pages - 1:
            page.insert_text((50, 700), "Amyloidosis may complicate longstanding chronic inflammation.", fontsize=10)
        page.insert_text((290, 815), str(12 + n), fontsize=9)
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "D", "firstpagenum": 12}])
    doc.set_toc([[1, f"Part {n + 1}", n + 1] for n in range(pages)])
    doc.save(path)
    return path


def repaired_whole(path, good: bytes):
    """``good`` with a wrong cross-reference offset (a tool that edited the file carelessly): MuPDF repairs it with
    nothing lost."""
    offset = re.compile(rb"startxref\s+(\d+)")
    path.write_bytes(offset.sub(lambda m: b"startxref\n" + str(int(m.group(1)) + 7).encode(), good))
    return path


def glitched(path):
    """One page whose content stream has a syntax error: MuPDF reads the rest of it, and says so each time."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Squamous epithelium lines the ectocervix.")
    xref = page.get_contents()[0]
    doc.update_stream(xref, doc.xref_stream(xref) + b"\nBT /F9 12 Tf (broken) Tj ET ] ] } (")
    doc.save(path)
    return path


def test_a_damaged_copy_fails_alone_in_one_line_and_the_indexed_one_stays(tmp_path, capfd):
    """A truncated download: MuPDF repaired it, lost the last page and the bookmarks, and the good copy's records
    were replaced ("indexed", exit 0), while "MuPDF error: ..." lines went to the terminal."""
    path = handout(tmp_path / "L04.pdf")
    good = path.read_bytes()
    index = make_index(tmp_path)
    [first] = Indexer(index, show_progress=False).add([path]).sources
    assert first.status == "indexed", first.problems
    indexed = dict(index.manifest[first.source])
    amyloidosis = Query("amyloidosis", use=("bm25",))
    assert [h.citation.page for h in Searcher(index).search(amyloidosis)] == [3]

    cut = good[: len(good) // 2]
    for damaged in (cut, cut + b"\n%%EOF\n"):  # cut short; cut short but ending as a PDF does
        path.write_bytes(damaged)
        [again] = Indexer(index, show_progress=False).add([path]).sources
        assert again.status == "failed"
        assert len(again.problems) == 1 and "is damaged" in again.problems[0] and "\n" not in again.problems[0]
        assert "MuPDF" in again.problems[0], "what MuPDF said is in the one line"
        assert index.manifest[first.source] == indexed, "the good copy's records stay"
        assert [h.citation.page for h in Searcher(index).search(amyloidosis)] == [3]
    assert "MuPDF error" not in capfd.readouterr().err


def test_a_pdf_mupdf_repairs_whole_is_still_indexed(tmp_path, settings):
    """A wrong cross-reference offset (a tool that edited the file carelessly) is repaired with nothing lost: such a
    PDF reads as before."""
    path = repaired_whole(tmp_path / "offset.pdf", handout(tmp_path / "good.pdf").read_bytes())
    assert pymupdf.open(path).is_repaired
    source = PdfSource(path, settings)
    pages = [r for r in source.records() if isinstance(r, Page)]
    assert [p.section for p in pages] == ["Part 1", "Part 2", "Part 3"] and "Amyloidosis" in pages[2].text
    assert source.problems == []


def test_a_page_mupdf_reads_with_errors_is_indexed_with_one_problem_line(tmp_path, settings, capfd):
    """A content stream with a syntax error in an otherwise sound PDF: its page is kept, what MuPDF said is noted."""
    source = PdfSource(glitched(tmp_path / "glitch.pdf"), settings)
    [page_record] = [r for r in source.records() if isinstance(r, Page)]
    assert "Squamous epithelium" in page_record.text
    assert len(source.problems) == 1 and "syntax error in content stream" in source.problems[0]
    assert "MuPDF error" not in capfd.readouterr().err


def test_the_real_book_and_the_demo_primer_need_no_repair(demo_corpus):
    for path in (shared_data("openstax_ap2e/book.pdf"), demo_corpus / "primer" / "demo-primer.pdf"):
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        with pymupdf.open(path) as doc:
            assert not doc.is_repaired and pymupdf.TOOLS.mupdf_warnings() == "", path


def test_two_columns_are_read_column_by_column_and_no_passage_joins_them(tmp_path, settings):
    """The handout's passages read "...stasis of blood flow. Granulomatous inflammation ..." (across the columns)."""
    found = records(handout(tmp_path / "L04.pdf", pages=1), settings)
    text = next(r for r in found if isinstance(r, Page)).text.replace("\n", " ")
    starts = [text.index(paragraph[:40]) for paragraph in LEFT + RIGHT]
    assert starts == sorted(starts), "the left column, then the right"
    passages = [r for r in found if isinstance(r, Passage)]
    assert len(passages) >= 2
    for passage in passages:  # all in the left column, all in the right, or all across both (a title)
        sides = {"left" if box[2] <= MIDDLE else "right" if box[0] >= MIDDLE else "across" for box in passage.blocks}
        assert sides in ({"left"}, {"right"}, {"across"}), passage.blocks
        assert sides != {"left"} or passage.bbox[2] <= MIDDLE, passage.bbox
        assert sides != {"right"} or passage.bbox[0] >= MIDDLE, passage.bbox
        flat = passage.text.replace("\n", " ")
        assert not (any(p[:40] in flat for p in LEFT) and any(p[:40] in flat for p in RIGHT)), flat


def test_a_page_of_one_column_keeps_its_order():
    """Side-by-side captions, a table's short cells and a figure's labels are not columns."""
    blocks = [
        ((60.0, 60.0, 550.0, 120.0), "Body text of one column\nover two lines and more\nthree."),
        ((72.0, 310.0, 290.0, 330.0), "Figure 4.1 Small round blue cells."),
        ((320.0, 310.0, 540.0, 330.0), "Figure 4.2 Benign lung."),
        ((60.0, 340.0, 200.0, 352.0), "Neutrophil"),
        ((320.0, 340.0, 540.0, 352.0), "Bacterial infection"),
        ((60.0, 360.0, 200.0, 372.0), "Eosinophil"),
        ((320.0, 360.0, 540.0, 372.0), "Parasites and allergy"),
        ((60.0, 400.0, 550.0, 500.0), "More text of the one column\nover two lines."),
    ]
    assert reading_order(blocks, 792.0) == blocks


def test_a_citation_shows_the_printed_page_number_beside_the_pdf_page(tmp_path):
    """The handout prints "12" on its first page, which was cited as "p. 1"."""
    path = handout(tmp_path / "L04.pdf")
    index = make_index(tmp_path)
    assert not Indexer(index, show_progress=False).add([path]).failed
    [hit] = Searcher(index).search(Query("amyloidosis", use=("bm25",)))
    assert hit.citation.page == 3, "the PDF page stays what the viewer and the benchmarks use"
    assert hit.citation.label() == "L04.pdf, p. 14 (PDF p. 3)"
    data = hit.citation.to_dict()
    assert data["page"] == 3 and data["page_label"] == "14" and Citation.from_dict(data).label() == data["label"]
    assert hit.payload.page_label == "14"
    assert Payload.from_payload({"kind": "page", "source": "a.pdf", "page": 3}).page_label is None, "old indexes"
    assert Citation("a.pdf", page=3).label() == "a.pdf, p. 3" and Citation("a.pdf").to_dict()["page_label"] is None


def test_pages_without_labels_or_with_labels_equal_to_their_number_carry_none(tmp_path, settings):
    doc = pymupdf.open()
    for _ in range(2):
        doc.new_page().insert_text((72, 100), "Squamous epithelium lines the ectocervix.")
    doc.save(tmp_path / "plain.pdf")
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "D", "firstpagenum": 1}])
    doc.save(tmp_path / "same.pdf")
    for name in ("plain.pdf", "same.pdf"):
        assert {r.page_label for r in records(tmp_path / name, settings) if hasattr(r, "page_label")} == {None}


def test_a_rotated_pages_caption_is_not_taken_for_a_footer(tmp_path, settings):
    """/Rotate 90: the caption's unrotated y (755) was compared with the rotated height (595) and dropped."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(50, 50, 545, 400), "Table 6.1 Hallmarks of cancer: sustained proliferative "
                        "signalling, evasion of growth suppressors.", fontsize=12)  # fmt: skip
    page.insert_image(pymupdf.Rect(50, 450, 450, 750), stream=png(Image.new("RGB", (400, 300), (200, 150, 170))))
    page.insert_textbox(pymupdf.Rect(50, 755, 545, 800), "Figure 6.1 Granular cell tumour, colon (H&E).", fontsize=10)
    page.set_rotation(90)
    doc.save(tmp_path / "rotated.pdf")
    [figure] = [r for r in records(tmp_path / "rotated.pdf", settings) if isinstance(r, Figure)]
    assert figure.label == "Figure 6.1" and figure.caption.startswith("Figure 6.1 Granular cell tumour")


def test_a_one_line_caption_opening_the_next_page_is_not_a_running_header(tmp_path, settings):
    """A figure at the page's foot; its one-line caption opens the next page, in the top margin."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(50, 50, 545, 300), "Angiosarcoma is a malignant endothelial neoplasm.")
    page.insert_image(pymupdf.Rect(100, 480, 495, 800), stream=png(Image.new("RGB", (395, 320), (180, 90, 110))))
    page = doc.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(50, 40, 545, 90), "Figure 3.2 Angiosarcoma of the spleen, H&E.", fontsize=10)
    page.insert_textbox(pymupdf.Rect(50, 120, 545, 600), "Granular cell tumour shows granular cytoplasm.")
    doc.save(tmp_path / "caption.pdf")
    [figure] = [r for r in records(tmp_path / "caption.pdf", settings) if isinstance(r, Figure)]
    assert figure.page == 1 and figure.label == "Figure 3.2"
    assert not is_running_line((50.0, 41.0, 260.0, 53.0), "Figure 3.2 Angiosarcoma of the spleen, H&E.", 842.0)
    assert is_running_line((50.0, 41.0, 260.0, 53.0), "Lecture 3 | Soft tissue tumours", 842.0)


def scanned_pdf(path, lines: list[str]):
    """Page 1 typed, page 2 a scan: only an image of printed lines, as a scanner makes it."""
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 545, 780), "Lecture 5. Cell injury", fontsize=12)
    scan = Image.new("L", (1240, 1754), 245)
    draw = ImageDraw.Draw(scan)
    font = ImageFont.load_default(size=36)
    for row, line in enumerate(lines):
        draw.text((120, 150 + 60 * row), line, font=font, fill=20)
    page = doc.new_page()
    page.insert_image(page.rect, stream=png(scan))
    doc.save(path)
    return path


class FakeScanReader:
    """Stands in for tesseract: every page 'reads' one paragraph at the same pixels."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def read_pages(self, images, dpi):
        self.calls.append((len(images), dpi))
        return [[((300.0, 600.0, 1500.0, 900.0), "Coagulative necrosis preserves\nthe architecture")] for _ in images]


@pytest.mark.parametrize("figure_ocr", [True, False])
def test_a_scanned_pages_text_is_its_text_and_passages_in_page_points(tmp_path, monkeypatch, figure_ocr):
    reader = FakeScanReader()
    monkeypatch.setattr(pdf_ocr, "scan_reader", lambda settings: reader)
    doc = pymupdf.open()
    for _ in range(3):  # three scans: read in one call
        page = doc.new_page(width=595, height=842)
        page.insert_image(page.rect, stream=png(Image.new("L", (595, 842), 240)))
    doc.save(tmp_path / "scans.pdf")
    settings = Settings(home=tmp_path / "home", figure_ocr=figure_ocr)
    found = records(tmp_path / "scans.pdf", settings)
    pages = [r for r in found if isinstance(r, Page)]
    passages = [r for r in found if isinstance(r, Passage)]
    if not figure_ocr:  # as before: found by their rendered image
        assert reader.calls == [] and [p.text for p in pages] == ["", "", ""] and passages == []
        return
    assert [p.text for p in pages] == ["Coagulative necrosis preserves\nthe architecture"] * 3
    assert reader.calls == [(3, pdf_ocr.SCAN_DPI)], "one call for the three"
    scale = 72 / pdf_ocr.SCAN_DPI  # pixels at 300 dpi to points (the render's whole pixels round a little)
    for passage in passages:
        assert passage.bbox == pytest.approx([v * scale for v in (300, 600, 1500, 900)], abs=0.2)


def test_a_page_renders_while_another_pdfs_scans_are_read(tmp_path, monkeypatch):
    """Tesseract reading a group of scanned pages (seconds) held the MuPDF lock, so the page viewer waited for it."""
    reading, done = threading.Event(), threading.Event()

    class SlowScanReader(FakeScanReader):
        def read_pages(self, images, dpi):
            reading.set()
            done.wait(timeout=30)  # until the render beside it finished (or not: then the test fails below)
            return super().read_pages(images, dpi)

    monkeypatch.setattr(pdf_ocr, "scan_reader", lambda settings: SlowScanReader())
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, stream=png(Image.new("L", (595, 842), 240)))
    doc.save(tmp_path / "scans.pdf")
    other = handout(tmp_path / "handout.pdf")
    settings = Settings(home=tmp_path / "home", figure_ocr=True)
    with ThreadPoolExecutor(1) as pool:
        read = pool.submit(records, tmp_path / "scans.pdf", settings)
        assert reading.wait(timeout=30)
        started = time.perf_counter()
        with mupdf_alone(), pymupdf.open(other) as shown:
            shown[0].get_pixmap(dpi=20)
        waited = time.perf_counter() - started
        done.set()
        assert [p.text for p in read.result() if isinstance(p, Page)] == [
            "Coagulative necrosis preserves\nthe architecture"
        ]
    assert waited < 5, f"the render waited {waited:.1f} s for the scans' OCR"


@pytest.mark.skipif(not tesseract.installed(), reason=f"needs tesseract ({tesseract.INSTALL_HINT})")
def test_a_scanned_page_is_found_and_cited_like_any_page(tmp_path):
    """Its words were only a figure's printed words: a page search and ``ask`` never saw them."""
    lines = ["Coagulative necrosis preserves the", "architecture of dead cells for days;", "", "Liquefactive necrosis"]
    path = scanned_pdf(tmp_path / "L05.pdf", lines)
    settings = Settings(home=tmp_path / "home", index=tmp_path / "index", encoder=HashingEncoder.name, figure_ocr=True)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([path]).failed
    hits = Searcher(index).search(Query("coagulative necrosis architecture", use=("bm25",)))
    assert [(h.kind, h.citation.page) for h in hits][:1] == [("page", 2)]
    assert "architecture of dead cells" in hits[0].snippet
    x0, y0, x1, y1 = hits[0].citation.bbox  # the printed lines' place on the page (1240 px across 595 pt)
    assert 50 < x0 < 70 and 60 < y0 < 90 and x1 < 400 and y1 < 200


def test_the_micro_sign_stays_as_printed():
    assert clean_text("7.5 \u00b5m \ufb01brin, 2 \u03bcg") == "7.5 \u00b5m fibrin, 2 \u03bcg"


def test_pdfs_read_at_once_each_keep_what_mupdf_said_of_them(tmp_path, settings):
    """MuPDF gathers its warnings for the whole process, and a server reads PDFs at once (two uploads, two index
    jobs): however their readings interleave, a damaged copy is refused, a PDF repaired whole is read without a
    problem, and one page MuPDF reads with errors is noted once."""
    good = handout(tmp_path / "good.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(good[: len(good) // 2] + b"\n%%EOF\n")
    paths = [repaired_whole(tmp_path / "offset.pdf", good), tmp_path / "cut.pdf", glitched(tmp_path / "glitch.pdf")]
    settings = settings.model_copy(update={"page_render_dpi": 20})
    together = threading.Barrier(len(paths), timeout=60)
    shown = pymupdf.TOOLS.mupdf_display_errors()

    def read(path) -> set[str]:
        outcomes = set()
        for _ in range(ROUNDS):
            source = PdfSource(path, settings)
            together.wait()
            try:
                pages = [r for r in source.records() if isinstance(r, Page)]
            except BadInputError as exc:
                outcomes.add(str(exc).replace(str(tmp_path), ""))
            else:
                outcomes.add(f"{len(pages)} pages; problems: {' | '.join(source.problems)}".replace(str(tmp_path), ""))
        return outcomes

    with ThreadPoolExecutor(len(paths)) as pool:
        repaired, damaged, glitch = pool.map(read, paths)
    assert repaired == {"3 pages; problems: "}
    assert len(damaged) == 1 and "/cut.pdf is damaged: MuPDF repaired it and then failed to read it" in damaged.pop()
    assert len(glitch) == 1 and re.fullmatch(r"1 pages; problems: \S+ MuPDF reported .*syntax error[^|]*", glitch.pop())
    assert pymupdf.TOOLS.mupdf_display_errors() == shown, "the last reading to finish put MuPDF's setting back"
