"""A cover's text is no running header: a line repeated in the top margin of three pages or more is dropped as a
running header, except on a page where it is the page's title, printed larger than the document's body text and as
large as anything on its page (a cover's title, a handout's heading opening each page)."""

from __future__ import annotations

import numpy as np
import pymupdf
from PIL import Image

from pathatlas.indexer.records import Figure, Passage
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.indexer.sources.pdf.running import RunningLines, line_height
from pathatlas.indexer.sources.pdf.text import TextBlock
from tests.helpers import png_bytes

BODY = "Copper accumulates in hepatocytes, then in the brain and the cornea; serum ceruloplasmin is low. " * 3
PICTURE = png_bytes(Image.fromarray(np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)))


def passages_by_page(path, settings) -> dict[int, str]:
    """Each page's passages' text, joined."""
    pages: dict[int, str] = {}
    for record in PdfSource(path, settings).records():
        if isinstance(record, Passage):
            pages[record.page] = pages.get(record.page, "") + record.text + "\n"
    return pages


def test_a_covers_title_is_searched_though_later_pages_repeat_it_as_their_running_header(tmp_path, fast):
    """The cover prints "Atlas of Liver Pathology" large at its top, over its picture; pages 2-5 print it small as
    their running header. The cover's title was dropped as a running header: its passages and its picture's caption
    lost the book's title."""
    doc = pymupdf.open()
    cover = doc.new_page(width=612, height=792)
    cover.insert_text((72, 45), "Atlas of Liver Pathology", fontsize=30)
    cover.insert_image(pymupdf.Rect(106, 120, 506, 420), stream=PICTURE)
    for _ in range(4):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 30), "Atlas of Liver Pathology", fontsize=9)
        page.insert_textbox(pymupdf.Rect(72, 80, 540, 400), BODY, fontsize=11)
    doc.save(tmp_path / "atlas.pdf")
    pages = passages_by_page(tmp_path / "atlas.pdf", fast)
    assert "Atlas of Liver Pathology" in pages[1]
    assert all("Atlas of Liver" not in pages[n] for n in (2, 3, 4, 5)), "the running header is still dropped"
    figures = [r for r in PdfSource(tmp_path / "atlas.pdf", fast).records() if isinstance(r, Figure)]
    assert [(f.page, f.caption) for f in figures] == [(1, "Atlas of Liver Pathology")]


def test_a_handouts_heading_opening_each_page_is_kept_its_small_running_header_dropped(tmp_path, fast):
    """Three pages, each opening with the heading "Wilson disease" in the top margin, under the course's header:
    both repeat on all three pages; the heading, printed larger than the text, is what the pages are about."""
    doc = pymupdf.open()
    for _ in range(3):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 22), "Liver pathology | handout 4", fontsize=8)
        page.insert_text((72, 52), "Wilson disease", fontsize=16)
        page.insert_textbox(pymupdf.Rect(72, 90, 520, 400), BODY, fontsize=11)
    doc.save(tmp_path / "handout.pdf")
    pages = passages_by_page(tmp_path / "handout.pdf", fast)
    assert sorted(pages) == [1, 2, 3]
    for text in pages.values():
        assert text.startswith("Wilson disease\n"), text
        assert "handout 4" not in text


def running_of(pages: list[list[TextBlock]], height: float = 792.0) -> RunningLines:
    running = RunningLines()
    for number, blocks in enumerate(pages):
        running.add(number, blocks, height)
    return running


HEADER = ((72.0, 30.0, 300.0, 41.0), "Anatomy and Physiology 2e")  # 11 points a line, as the book's (8 pt)
TEXT = ((60.0, 63.0, 551.0, 133.0), "\n".join(["Body text of the page, about 10.5 points."] * 5))  # 14 a line


def test_a_repeated_line_heads_its_page_only_printed_larger_than_the_body_and_as_large_as_the_page_prints():
    """The rule itself, on boxes (a block's height over its lines stands for its font's size)."""
    big = ((60.0, 10.0, 400.0, 50.0), "Anatomy and Physiology 2e")  # 40 points: a cover's title
    heading = ((60.0, 140.0, 300.0, 190.0), "Unit 1: Levels of Organization")
    banner = ((60.0, 20.0, 400.0, 40.0), "Anatomy and Physiology 2e")  # 20 points: larger than the text...
    running = running_of([[big], [HEADER, TEXT], [HEADER, TEXT], [HEADER, TEXT], [banner, heading, TEXT]])
    assert running.on_page([big], 792.0) == [False], "the cover's title is the cover's text"
    assert running.on_page([HEADER, TEXT], 792.0) == [True, False], "a running header, smaller than the text"
    assert running.on_page([banner, heading, TEXT], 792.0) == [True, False, False], "...but a heading is larger"
    assert running.on_page([HEADER], 792.0) == [True], "the only text on its page, yet no larger than the body's"
    assert line_height(*TEXT) == 14.0 and line_height((0.0, 0.0, 10.0, 11.0), "one line\n") == 11.0
