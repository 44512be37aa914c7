"""PDF and case-folder sources: records, captions, stable ids, and refusal of bad files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Case, Figure, Page
from pathatlas.indexer.sources import discover
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf.captions import caption_block, figure_label
from pathatlas.indexer.sources.pdf.running import opening_caption
from pathatlas.indexer.sources.pdf.text import Spelling, clean_text
from pathatlas.retrieval.images import open_image
from tests.conftest import shared_data


def caption_text(*args) -> str:
    """The caption's words ``caption_block`` finds."""
    return caption_block(*args)[1]


def test_find_caption_prefers_figure_block_then_block_below():
    image = (100.0, 100.0, 300.0, 200.0)
    blocks = [
        ((60.0, 40.0, 500.0, 80.0), "Body text above."),
        ((60.0, 210.0, 500.0, 240.0), "Plain text just below."),
        ((60.0, 260.0, 500.0, 290.0), "Figure 4.2. Goblet cells: arrows."),
    ]
    assert caption_text(image, blocks).startswith("Figure 4.2")
    assert caption_text(image, blocks[:2]) == "Plain text just below."
    assert caption_text(image, blocks[:1]) == ""
    assert figure_label("Fig. 12.3b: x") == "Figure 12.3b"
    assert figure_label("Plain") is None


def test_figures_side_by_side_each_take_the_caption_under_them():
    """The demo primer's p. 2: Figure 4.1 and 4.2 side by side, captions at the same distance below; both images were
    labelled Figure 4.1 (the tie broken by the caption's text), so the viewer outlined the lung for "small round
    blue cells"."""
    left, right = (72.0, 100.0, 290.0, 300.0), (320.0, 100.0, 540.0, 300.0)
    blocks = [
        ((72.0, 310.0, 290.0, 330.0), "Figure 4.1 Small round blue cells."),
        ((320.0, 310.0, 540.0, 330.0), "Figure 4.2 Benign lung."),
    ]
    assert caption_text(left, blocks).startswith("Figure 4.1")
    assert caption_text(right, blocks).startswith("Figure 4.2")
    above = [((box[0], 60.0, box[2], 80.0), text) for box, text in blocks]
    assert caption_text(right, above).startswith("Figure 4.2"), "captions above them, likewise"
    shared = [((72.0, 310.0, 540.0, 330.0), "Figure 4.1 (a) Small round blue cells. (b) Benign lung.")]
    assert caption_text(right, shared).startswith("Figure 4.1"), "one caption under both: both take it"
    kidney, flow = (158.0, 66.0, 454.0, 235.0), (158.0, 444.0, 454.0, 681.0)  # the book's p. 873
    short = [((60.0, 237.0, 150.0, 249.0), "Figure 25.8. Left Kidney"), ((60.0, 683.0, 201.0, 694.0), "Figure 25.9.")]
    assert caption_text(kidney, short).startswith("Figure 25.8"), "a caption set left of the image is still its own"
    assert caption_text(flow, short).startswith("Figure 25.9")


def test_a_figure_at_a_pages_foot_takes_the_caption_opening_the_next_page():
    """The book's Figure 6.8 sits at the foot of p. 171 under Figure 6.7's caption; its own caption opens p. 172.
    It was labelled Figure 6.7 (16 of the book's 720 figures were mislabelled or unlabelled so)."""
    first, second = (218.0, 66.0, 394.0, 365.0), (158.0, 578.0, 454.0, 726.0)
    page = [
        ((60.0, 367.0, 470.0, 379.0), "Figure 6.7. Anatomy of a Long Bone: a typical long bone."),
        ((60.0, 400.0, 550.0, 560.0), "Body text between the two figures."),
    ]
    following = [
        ((72.0, 41.0, 335.0, 52.0), "Anatomy and Physiology 2e | Chapter 6"),  # a running header comes first
        ((60.0, 65.0, 543.0, 88.0), "Figure 6.8. Periosteum and Endosteum: the periosteum forms the outer surface."),
        ((60.0, 95.0, 551.0, 152.0), "Flat bones consist of a layer of spongy bone."),
    ]
    continued = opening_caption(following, 792.0)
    assert continued is not None and continued[1].startswith("Figure 6.8")
    assert caption_text(first, page, continued).startswith("Figure 6.7"), "its own caption below comes first"
    assert caption_text(second, page, continued).startswith("Figure 6.8")
    assert caption_text(second, page, None).startswith("Figure 6.7"), "no next page: the nearest caption, as before"
    followed = [*page, ((60.0, 730.0, 550.0, 760.0), "Text under the image on its own page.")]
    assert caption_text(second, followed, continued).startswith("Figure 6.7"), "text follows it: not carried over"
    assert opening_caption(following[2:], 792.0) is None


def test_the_books_figures_carry_the_labels_figures_jsonl_gives_them_on_pages_where_captions_cross_a_page(settings):
    """Pages 170-172 and 117-119 of the real book: Figure 6.8 and Figure 4.7 (whose two parts straddle a page)."""
    import pymupdf

    book = pymupdf.open(shared_data("openstax_ap2e/book.pdf"))
    part = pymupdf.open()
    for first, last in ((117, 119), (170, 172)):
        part.insert_pdf(book, from_page=first - 1, to_page=last - 1)
    path = settings.home / "part.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    part.save(path)
    labels = [r.label for r in PdfSource(path, settings).records() if isinstance(r, Figure)]
    assert labels.count("Figure 4.7") == 2 and labels.count("Figure 6.7") == 1 and labels.count("Figure 6.8") == 1


def test_clean_text_expands_ligatures_and_joins_hyphens():
    assert clean_text("scientiﬁc ﬂow epi-\nthelium") == "scientific flow epithelium"


def test_a_hyphen_at_a_line_break_stays_where_the_document_prints_it():
    spelling = Spelling.of(["X-rays show bone; physiology of the cord and of cells like these.", "pigment, producing"])
    assert clean_text("X-\nrays and physi-\nology", spelling) == "X-rays and physiology"  # printed so elsewhere
    assert clean_text("a cord-\nlike pigment-\nproducing cell", spelling) == "a cord-like pigment-producing cell"
    assert clean_text("granulo-\nmatous", spelling) == "granulomatous", "halves that are no words: one word split"


def test_the_real_textbook_keeps_its_hyphenated_words(settings):
    """Words the book prints with a hyphen, broken at the hyphen at a line's end (pages 118, 158, 323)."""
    source = PdfSource(shared_data("openstax_ap2e/book.pdf"), settings)
    with source._open() as doc:
        read = {page.number + 1: blocks for page, blocks, _ in source._read(doc)}
    text = {n: "\n".join(words for _, words in read[n]) for n in (118, 158, 323)}
    assert "mucous-secreting" in text[118] and "pigment-producing" in text[158] and "cord-like" in text[323]


def test_pdf_source_yields_pages_and_captioned_figures(demo_corpus, settings):
    source = PdfSource(demo_corpus / "primer" / "demo-primer.pdf", settings)
    records = list(source.records())
    pages = [r for r in records if isinstance(r, Page)]
    figures = [r for r in records if isinstance(r, Figure)]
    assert [p.page for p in pages] == [1, 2, 3, 4]
    assert "Koilocytes are the hallmark" in pages[0].text
    assert len(figures) == 6
    first = figures[0]
    assert first.page == 1 and first.label == "Figure 1.1"
    assert "perinuclear halos" in first.caption
    x0, y0, x1, y1 = first.bbox
    assert 50 < x0 < x1 < 320 and 400 < y0 < y1 < 600
    assert {r.id for r in records} == {r.id for r in PdfSource(source.path, settings).records()}


def test_image_only_pages_are_indexed_by_image(tmp_path, settings):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(50, 50, 300, 300), stream=_png_bytes())
    doc.save(tmp_path / "scan.pdf")
    (page_record,) = [r for r in PdfSource(tmp_path / "scan.pdf", settings).records() if isinstance(r, Page)]
    (entry,) = page_record.entries()
    assert entry.text == "" and entry.image is not None


def _png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (200, 100, 150)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["corrupt", "empty", "encrypted"])
def test_unreadable_pdfs_raise_one_line_errors(kind, tmp_path, settings):
    path = tmp_path / f"{kind}.pdf"
    if kind == "corrupt":
        path.write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        doc = pymupdf.open()
        doc.new_page().insert_text((72, 72), "secret")
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")
    with pytest.raises(BadInputError) as info:
        list(PdfSource(path, settings).records())
    message = str(info.value)
    assert "\n" not in message and path.name in message
    if kind == "encrypted":
        assert "encrypted: it needs a password" in message and "qpdf --password=" in message


def test_open_image_refuses_non_images_and_bombs(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("just some text")
    with pytest.raises(BadInputError, match="notes.png is not a readable image"):
        open_image(fake, max_pixels=10_000_000)
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)
    with pytest.raises(BadInputError, match="20000x20000|too large to decode safely"):
        open_image(huge, max_pixels=60_000_000)


def test_an_oversized_image_is_refused_in_one_plain_sentence_and_without_a_warning(tmp_path):
    """Over Pillow's warning size (89 million pixels) but under its error size: the limit speaks, Pillow stays quiet."""
    big = tmp_path / "big.png"
    Image.new("1", (10000, 10000)).save(big)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BadInputError, match=r"big.png is 10000x10000 pixels, over the limit of 60,000,000 "):
            open_image(big, max_pixels=60_000_000)
        upload = big.read_bytes()
        with pytest.raises(BadInputError, match=r"^the image given is 10000x10000 pixels, over the limit"):
            open_image(upload, max_pixels=60_000_000)


def test_case_folder_groups_images_and_reports_bad_ones(tmp_path, settings):
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("a1.jpg", "a2.jpg", "b1.jpg"):
        Image.new("RGB", (64, 64), (120, 40, 90)).save(folder / name)
    (folder / "broken.jpg").write_text("not an image")
    rows = [
        {"image": "a1.jpg", "case": "A", "diagnosis": "sarcoidosis", "organ": "lung", "stain": "H&E"},
        {"image": "a2.jpg", "case": "A", "diagnosis": "sarcoidosis", "organ": "lung"},
        {"image": "b1.jpg", "diagnosis": "tuberculosis"},
        {"image": "broken.jpg", "case": "C"},
    ]
    (folder / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    source = CaseFolderSource(folder, settings)
    cases = {c.case_id: c for c in source.records()}
    assert set(cases) == {"A", "b1"}
    assert len(cases["A"].images) == 2 and cases["A"].labels == {"stain": "H&E"}
    assert cases["b1"].diagnosis == "tuberculosis"
    assert any("broken.jpg" in p for p in source.problems)
    entries = cases["A"].entries()
    assert [e.payload.image for e in entries] == ["a1.jpg", "a2.jpg"]
    assert all(e.payload.case == "A" and e.image is not None for e in entries)


def test_labels_csv_and_discovery(tmp_path, settings):
    folder = tmp_path / "tiles"
    folder.mkdir()
    Image.new("RGB", (32, 32)).save(folder / "t1.jpg")
    (folder / "labels.csv").write_text("image,label,diagnosis\nt1.jpg,lung_aca,lung adenocarcinoma\n")
    (case,) = CaseFolderSource(folder, settings).records()
    assert isinstance(case, Case) and case.diagnosis == "lung adenocarcinoma"
    assert case.labels == {"label": "lung_aca"}
    assert [type(s).__name__ for s in discover([tmp_path], settings)] == ["CaseFolderSource"]
    with pytest.raises(BadInputError, match="no such file"):
        discover([tmp_path / "missing.pdf"], settings)


def test_case_paths_cannot_leave_the_folder(tmp_path, settings):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "cases.jsonl").write_text(json.dumps({"image": "../../etc/passwd"}))
    with pytest.raises(BadInputError, match="leaves the case folder"):
        CaseFolderSource(folder, settings).fingerprint()


def test_real_textbook_captions_match_the_figure_list(settings):
    """On the shared OpenStax PDF, the captions found for pages 8-40 carry the labels figures.jsonl gives."""
    book = shared_data("openstax_ap2e/book.pdf")
    figures_file = Path(book).parent / "figures.jsonl"
    expected = {}
    for line in figures_file.read_text().splitlines():
        row = json.loads(line)
        if 8 <= row["pdf_page"] <= 40:
            expected.setdefault(row["pdf_page"], set()).add(row["label"])
    source = PdfSource(book, settings)
    found: dict[int, set] = {}
    with source._open() as doc:
        for page, blocks, continued in source._read(doc):
            if 8 <= page.number + 1 <= 40:
                for figure in source._figures(page, blocks, "fp", "book", continued):
                    found.setdefault(figure.page, set()).add(figure.label)
    pages = sorted(expected)
    agree = sum(1 for p in pages if found.get(p) == expected[p])
    assert agree / len(pages) >= 0.9, {p: (expected[p], found.get(p)) for p in pages if found.get(p) != expected[p]}
