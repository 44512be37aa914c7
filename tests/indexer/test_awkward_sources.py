"""A librarian's awkward sources: a PDF whose page tree states the wrong number of pages lost pages without a word (or
promised ten of three), a scan stored as strips gave each strip as a figure cut through the page's lines, and a case
image reached through a link out of its folder was refused as a path that 'leaves' it though its name did not."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Figure, Page
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf import PdfSource, page_as_pdf, recount_pages
from pathatlas.indexer.sources.pdf.damage import page_tree_counts
from tests.helpers import hashing_settings, png_bytes, run_cli

PAGE_WORDS = ["alpha granuloma", "beta infarct", "gamma thrombus", "delta embolus"]


def typed_pdf(path: Path, pages: int = 3) -> Path:
    """A PDF of ``pages`` typed pages, page n saying ``PAGE_WORDS[n - 1]``."""
    doc = pymupdf.open()
    for words in PAGE_WORDS[:pages]:
        doc.new_page().insert_text((72, 72), f"Page about {words}.")
    doc.save(path)
    return path


def stating(path: Path, count: int) -> Path:
    """``path`` saved again with its page tree's root stating ``count`` pages, whatever its kids hold (as a damaged or
    hand-edited file does)."""
    doc = pymupdf.open(path)
    root = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
    doc.xref_set_key(root, "Count", str(count))
    out = path.with_name(f"stating{count}-{path.name}")
    doc.save(out)
    return out


def nested(path: Path, inner: int, root_count: int) -> Path:
    """A four-page PDF whose page tree holds two nodes of two pages, each stating ``inner`` and the root
    ``root_count``: MuPDF, told 2 of 1 + 1, reads pages 1 and 3 as pages 1 and 2."""
    doc = pymupdf.open(typed_pdf(path, 4))
    root = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
    pages = [doc[n].xref for n in range(4)]
    nodes = []
    for kids in (pages[:2], pages[2:]):
        node = doc.get_new_xref()
        refs = " ".join(f"{kid} 0 R" for kid in kids)
        doc.update_object(node, f"<< /Type /Pages /Parent {root} 0 R /Kids [{refs}] /Count {inner} >>")
        for kid in kids:
            doc.xref_set_key(kid, "Parent", f"{node} 0 R")
        nodes.append(node)
    doc.xref_set_key(root, "Kids", f"[{nodes[0]} 0 R {nodes[1]} 0 R]")
    doc.xref_set_key(root, "Count", str(root_count))
    out = path.with_name(f"nested-{path.name}")
    doc.save(out)
    return out


def page_texts(source: PdfSource) -> list[tuple[int, str]]:
    return [(r.page, r.text) for r in source.records() if isinstance(r, Page)]


@pytest.mark.parametrize(
    ("build", "stated", "held"),
    [
        (lambda tmp: stating(typed_pdf(tmp / "handout.pdf"), 1), 1, 3),
        (lambda tmp: stating(typed_pdf(tmp / "handout.pdf"), 10), 10, 3),
        (lambda tmp: nested(tmp / "handout.pdf", inner=1, root_count=2), 2, 4),
    ],
    ids=["too-few", "too-many", "nested-too-few"],
)
def test_a_page_tree_stating_the_wrong_count_is_read_as_it_holds_and_said_once(build, stated, held, tmp_path):
    """Stating 1 of 3 indexed page 1 alone and said nothing; 2 of a nested 4 indexed pages 1 and 3 as pages 1 and 2;
    10 of 3 promised 10 pages to the progress bar. Each page is now read as the page it is, in one problem line."""
    source = PdfSource(build(tmp_path), hashing_settings(tmp_path))
    assert source.size_hint() == held
    texts = page_texts(source)
    assert [page for page, _ in texts] == list(range(1, held + 1))
    assert all(PAGE_WORDS[page - 1] in text for page, text in texts), texts
    pages = "page" if stated == 1 else "pages"
    said = f"its page tree states {stated} {pages} but holds {held}; read all {held} (save it again to mend it)"
    assert source.problems == [f"{source.path}: {said}"]


def test_a_right_page_tree_is_left_as_it_is(tmp_path):
    """Nothing to say of a PDF whose count is right, nested or not (MuPDF reads one whose nodes alone miscount)."""
    for path in (typed_pdf(tmp_path / "plain.pdf"), nested(tmp_path / "deep.pdf", inner=1, root_count=4)):
        with pymupdf.open(path) as doc:
            assert recount_pages(doc) is None
        source = PdfSource(path, hashing_settings(tmp_path))
        assert len(page_texts(source)) == source.size_hint() and source.problems == []


def test_a_page_tree_that_loops_is_left_to_mupdf(tmp_path):
    """A node listing its own parent among its kids is not walked for ever: MuPDF's count stands."""
    path = tmp_path / "loop.pdf"
    doc = pymupdf.open(typed_pdf(tmp_path / "plain.pdf"))
    root = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
    kids = doc.xref_get_key(root, "Kids")[1]
    doc.xref_set_key(root, "Kids", kids.replace("]", f" {root} 0 R]"))
    doc.save(path)
    with pymupdf.open(path) as doc:
        assert page_tree_counts(doc) is None and recount_pages(doc) is None


def test_search_cites_the_page_a_miscounting_pdf_prints_a_word_on(tmp_path):
    """Through the CLI: the word on page 3 of a file stating 1 page was not found at all."""
    path = stating(typed_pdf(tmp_path / "handout.pdf"), 1)
    home, index = tmp_path / "home", tmp_path / "idx"
    indexed = run_cli("index", path, "--index", index, "--json", home=home)
    assert indexed.exit_code == 0, indexed.output
    (report,) = json.loads(indexed.stdout)
    assert report["status"] == "indexed" and "states 1 page but holds 3" in report["problems"][0]
    found = run_cli("search", "thrombus", "--index", index, "--json", "-k", "1", home=home)
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["citation"]["page"] == 3


def test_a_page_downloaded_from_a_miscounting_pdf_is_the_page_indexed(tmp_path):
    lying = nested(tmp_path / "book.pdf", inner=1, root_count=2)
    for number, words in enumerate(PAGE_WORDS, start=1):
        with pymupdf.open(stream=page_as_pdf(lying.read_bytes(), number), filetype="pdf") as one:
            assert one.page_count == 1 and words in one[0].get_text(), (number, one[0].get_text())


def scanned_page(lines: list[str]) -> Image.Image:
    """A scanner's grey image of a page of words, 150 dpi on US letter."""
    image = Image.new("L", (1275, 1650), 240)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((110, 120 + 60 * row), line, fill=20, font_size=30)
    return image


def strip_scan(path: Path, strips: int = 8, inset: bool = False, ocr_layer: bool = False) -> Path:
    """Two scanned pages, each stored as ``strips`` horizontal strips of its image (as some scanners and PDF tools
    write them); with ``inset``, a micrograph pasted on page 1 beside them, half the page wide; with ``ocr_layer``, the
    words over them as an OCR tool's invisible text."""
    doc = pymupdf.open()
    for number in (1, 2):
        image = scanned_page([f"Scanned page {number}", "Sickle cells and target cells in a smear."])
        page = doc.new_page(width=612, height=792)
        height = image.height // strips
        for n in range(strips):
            strip = png_bytes(image.crop((0, n * height, image.width, (n + 1) * height)))
            page.insert_image(
                pymupdf.Rect(0, n * 792 / strips, 612, (n + 1) * 792 / strips), stream=strip, keep_proportion=False
            )
        if inset and number == 1:
            micrograph = Image.new("RGB", (400, 300), (200, 120, 180))
            ImageDraw.Draw(micrograph).ellipse((100, 80, 300, 220), fill=(70, 30, 110))
            page.insert_image(pymupdf.Rect(150, 400, 456, 630), stream=png_bytes(micrograph))
        if ocr_layer:
            page.insert_text((53, 72), f"Scanned page {number}", fontsize=14, render_mode=3)
    doc.save(path)
    return path


@pytest.mark.parametrize("ocr_layer", [False, True], ids=["bare", "under-ocr-layer"])
def test_a_scan_stored_as_strips_is_its_pages_own_image_not_figures(ocr_layer, tmp_path):
    """Each of a page's eight strips was a figure (``fills`` asked of each alone), captioned by the page's first
    words: a figure search listed slices of text. Together they fill the page: a scan, as one image filling it is."""
    path = strip_scan(tmp_path / "scanned.pdf", ocr_layer=ocr_layer)
    records = list(PdfSource(path, hashing_settings(tmp_path, figure_ocr=False)).records())
    assert [r for r in records if isinstance(r, Figure)] == []
    pages = [r for r in records if isinstance(r, Page)]
    assert [p.page for p in pages] == [1, 2] and all(p.scanned for p in pages)
    assert all(p.entries()[0].image is p.image for p in pages), "found by its image, as a scan"


def test_a_picture_pasted_beside_a_strip_scan_stays_a_figure(tmp_path):
    """Only the strips are the page: a micrograph pasted over half the page is still a figure."""
    path = strip_scan(tmp_path / "scanned.pdf", inset=True)
    records = list(PdfSource(path, hashing_settings(tmp_path, figure_ocr=False)).records())
    figures = [r for r in records if isinstance(r, Figure)]
    assert [(f.page, f.bbox[0], f.bbox[2]) for f in figures] == [(1, 150.0, 456.0)], "the pasted micrograph"


def test_a_case_image_reached_through_a_link_out_of_the_folder_is_named_as_one(tmp_path):
    """'scans/a.jpg leaves the case folder' read as a falsehood where scans/ is a link to another disk's folder: the
    refusal says the name leaves through a link, and names no server path (an upload's problems show it)."""
    outside = tmp_path / "archive"
    outside.mkdir()
    Image.new("RGB", (64, 64), (200, 120, 180)).save(outside / "a.jpg")
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "scans").symlink_to(outside, target_is_directory=True)
    (folder / "b.jpg").symlink_to(outside / "a.jpg")
    rows = [{"image": "scans/a.jpg"}, {"image": "b.jpg"}, {"image": "../archive/a.jpg"}]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(BadInputError) as error:
        CaseFolderSource(folder, hashing_settings(tmp_path)).fingerprint()
    assert str(error.value).endswith(
        "3 image paths leave the case folder: 'scans/a.jpg' (a link out of it), 'b.jpg' (a link out of it), "
        "'../archive/a.jpg'"
    )
    assert str(outside) not in str(error.value).split(": ", 1)[1]
