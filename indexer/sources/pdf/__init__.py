"""Textbook PDFs: one ``Page`` per page, its ``Passage``s, and one ``Figure`` per embedded image, with its caption
(``PdfSource``). This module names what the other layers use; the modules beside it each hold one part of a reading."""

from pathatlas.indexer.sources.pdf.damage import recount_pages
from pathatlas.indexer.sources.pdf.drawing import page_as_pdf, render
from pathatlas.indexer.sources.pdf.mupdf import mupdf_alone
from pathatlas.indexer.sources.pdf.source import PdfSource
from pathatlas.indexer.sources.pdf.text import merge_blocks

__all__ = ["PdfSource", "merge_blocks", "mupdf_alone", "page_as_pdf", "recount_pages", "render"]
