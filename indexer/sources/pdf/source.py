"""``PdfSource``: a textbook PDF read page by page into its ``Page``, ``Passage`` and ``Figure`` records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Figure, Page, Passage, Record
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.fingerprints import hash_files
from pathatlas.indexer.sources.pdf.captions import (
    CAPTION_START,
    Caption,
    caption_block,
    carried_over,
    figure_label,
    page_title,
)
from pathatlas.indexer.sources.pdf.columns import column_runs, reading_order
from pathatlas.indexer.sources.pdf.damage import ends_whole, recount_pages, set_aside_damaged_images
from pathatlas.indexer.sources.pdf.drawing import EarlierRenders, drawing_key, render
from pathatlas.indexer.sources.pdf.images import as_shown, embedded_image, placed_images
from pathatlas.indexer.sources.pdf.mupdf import mupdf_alone, mupdf_said, one_at_a_time, quiet_mupdf
from pathatlas.indexer.sources.pdf.ocr import ScannedPages
from pathatlas.indexer.sources.pdf.running import RunningLines, body_blocks, opening_caption, unrotated_height
from pathatlas.indexer.sources.pdf.scans import behind_ocr_layer, fills, scan_parts
from pathatlas.indexer.sources.pdf.sections import PageSections, sections_by_page
from pathatlas.indexer.sources.pdf.templates import template_images
from pathatlas.indexer.sources.pdf.text import (
    Line,
    Spelling,
    TextBlock,
    clean_text,
    merge_blocks,
    printed_label,
    printed_lines,
)
from pathatlas.retrieval.images import thumbnail
from pathatlas.retrieval.records import BBox, book_title, union_box

if TYPE_CHECKING:
    import pymupdf

    from pathatlas.settings import Settings


class PdfSource(Source):
    kind = "pdf"
    records_version = 24
    """3: a hyphenated word keeps its hyphen at a line break; 4: a figure at a page's foot takes the caption that opens
    the next page, not the previous figure's; 5: page labels, two-column reading order and scanned pages read by OCR,
    text without invisible format characters; 6: a figure's image turned and masked as its page shows it, a scanned
    page's own image no figure; 7: a slide master's image a figure only on its first page, a figure without a caption
    captioned by its page's title, a figure's label as printed; 8: a plate (a born-digital PDF's page that is one
    picture) a figure, captioned by its bookmark's title without a caption, a scan under an OCR tool's invisible text
    layer a scanned page, found by its image and no figure; 10: a short line in a page's margin is dropped as a running
    header only where it repeats or is a page number, so a slide's title keeps its words and captions its picture, and a
    passage takes the bookmark in force where it starts on the page; 12: a PDF whose page tree states the wrong number
    of pages is read page by page as the tree holds them, and a scan stored as strips is its page's own image, no
    figures; a figure carries its page's section, so chapter and section filters find it; 13: a page label's word for
    page left out, "p. 1" cited as p. 1, a word split by U+2010 or "- " at a line break joined, a page over 20 inches
    tall keeps its headings, its margins at most 1.5 inches, a scanned page fed upside down or sideways is read upright,
    a page over 3:1 tall thumbnailed by its top; 14: a line a PDF repeats in its top margin is kept on a page it heads,
    a cover's title that later pages print small as their running header; 15: a page's text leaves out its running
    headers, footers and page numbers, as its passages do; 16: a bookmark's section begins where its title is printed
    on its page, not where the bookmark leads (the A&P book's all lead to its pages' tops: a chapter's introduction was
    filed under its first section), each figure takes the section where it stands, not its page's last, and a
    record's book is the title its citation names (``book_title``: no "Microsoft Word - x.docx"), else none; 17: a
    figure records where its caption is printed, so a caption quoted is outlined with its figure; 18: each piece of a
    long block split into passages is boxed by its own lines, not the whole block; 19: a figure whose caption opens
    the next page records that page and the caption's box on it (the A&P book's 17 such figures cited no place for
    their captions); 20: a caption opening the next page under a picture of its own is that picture's alone, unless it
    names more parts than that page's pictures above it (a figure continued over the break); 21: parts named as
    other books name them ("A, gross ... B, ...", "a) ...", "Left, ... Right, ...", "(b-c)") count for that; 22: a
    figure at a page's foot keeps the caption printed just above it, not the next page's opening caption, and parts
    named "(A, B)" or "A. Normal. B. ..." count too; 23: two figures stacked in a book printing captions above them
    each take their own, not both the one between them, and a caption going on in lower case with a plural noun
    ("Figure 5 cells of ...") is no sentence naming its figure; 24: a sentence putting an adverb between a figure's
    label and its verb ("Figure 5 also shows ...") is no caption. Up to 14 the version every built-in reader shared
    (``Source.records_version``): the numbers not named here changed case folders only."""
    reads_settings = (
        "passage_min_words",
        "passage_max_words",
        "passage_vectors",
        "min_figure_px",
        "page_render_dpi",
        "max_page_pixels",  # caps the page renders of huge pages
        "max_image_pixels",  # a figure over it is skipped: raised, the PDF is read again for its figures
        "figure_ocr",  # its figures get their printed words, and its pages without text are told plate or scan
    )

    def __init__(self, path: Path, settings: Settings):
        super().__init__(path, settings)
        self._hashed: str | None = None
        """The fingerprint ``fingerprint`` last found, until ``records`` reads the PDF by it."""
        self.earlier: EarlierRenders | None = None
        """What the index's committed reading of this PDF rendered (``recall``): pages it drew alike are not rendered
        again."""
        self.drawing: str | None = None
        """This reading's ``drawing_key``, once ``records`` opened the PDF: kept for the next one (``remembered``)."""

    def recall(self, entry: Mapping[str, Any] | None, page_thumbnails: Mapping[int, str]) -> None:
        self.earlier = EarlierRenders((entry or {}).get("drawing"), page_thumbnails)

    def remembered(self) -> dict[str, Any]:
        return {"drawing": self.drawing} if self.drawing else {}

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".pdf"

    def fingerprint(self) -> str:
        """The PDF's path, bytes and reading settings (``hash_files``), kept for ``records``: an ``index`` run hashes
        a book once, not once for the fingerprint and again for its records (as ``CaseFolderSource`` keeps its
        look)."""
        self._hashed = hash_files([self.path], self.reading(), self.records_version)
        return self._hashed

    def size_hint(self) -> int:
        try:
            with mupdf_alone(), self._open() as doc:
                return doc.page_count
        except Exception:  # records() reports the real problem
            return 0

    def _open(self) -> pymupdf.Document:
        """The document, its pages counted as its page tree holds them (``recount_pages``, noted once in
        ``problems``), or a one-line ``BadInputError`` (with what MuPDF said while opening it)."""
        import pymupdf  # here, not at import: finding an unchanged PDF needs no reader (half a second)

        try:
            doc, said = mupdf_said(lambda: pymupdf.open(self.path, filetype="pdf"))
        except Exception as exc:
            if self.path.is_file() and self.path.stat().st_size == 0:  # MuPDF: "Cannot open empty file: filename=..."
                raise BadInputError(f"{self.path} is empty (0 bytes): copy or download the PDF again") from exc
            raise BadInputError(f"{self.path} is not a readable PDF: {exc}") from exc
        if not doc.is_pdf:  # MuPDF reads by content whatever the type says: HTML, SVG, images named .pdf
            doc.close()
            raise BadInputError(f"{self.path} is not a PDF")
        if doc.is_repaired and not ends_whole(self.path):  # cut short: MuPDF rebuilt what it could find
            doc.close()
            raise self._damaged(f"it ends early (MuPDF: {said or 'repaired'})")
        if doc.needs_pass:
            doc.close()
            raise BadInputError(
                f"{self.path} is encrypted: it needs a password; save an unlocked copy first "
                "(e.g. qpdf --password=PASSWORD --decrypt in.pdf out.pdf)"
            )
        if (recounted := recount_pages(doc)) and (problem := f"{self.path}: {recounted}") not in self.problems:
            self.problems.append(problem)
        if doc.page_count == 0:
            doc.close()
            raise BadInputError(f"{self.path} has no pages")
        if (pages := doc.page_count) > self.settings.max_pdf_pages:
            doc.close()
            raise BadInputError(
                f"{self.path} has {pages} pages, over PATHATLAS_MAX_PDF_PAGES={self.settings.max_pdf_pages}"
            )
        return doc

    def _damaged(self, why: str) -> BadInputError:
        return BadInputError(f"{self.path} is damaged: {why}; download or export it again")

    def records(self) -> Iterator[Record]:
        return one_at_a_time(self._records())

    def _records(self) -> Iterator[Record]:
        """The PDF's records, carrying the fingerprint ``fingerprint`` last found (a hash of its own where it was not
        asked), which ``index`` compares them with."""
        fingerprint, self._hashed = self._hashed or self.fingerprint(), None
        with quiet_mupdf(), self._open() as doc:
            for xref, (number, why) in set_aside_damaged_images(doc).items():
                self.problems.append(f"{self.path} page {number}: skipped an image (object {xref} is damaged: {why})")
            self.drawing = drawing_key(self.content_hash(), doc, self.settings)
            same = self.earlier is not None and self.drawing is not None and self.earlier.drawing == self.drawing
            kept = self.earlier.thumbnails if same else {}  # no key (a file that could not be hashed): rendered
            book = book_title((doc.metadata or {}).get("title"), self.key) or ""
            sections = sections_by_page(doc.get_toc(simple=False), doc.page_count)
            masters = template_images(doc)
            without_text: set[int] = set()
            plates: set[int] = set()
            running = RunningLines()
            for page, blocks, continued in self._read(doc, without_text, plates, running):
                yield from self._page_records(
                    page,
                    blocks,
                    fingerprint=fingerprint,
                    book=book,
                    running=running,
                    sections=sections[page.number + 1],
                    continued=continued,
                    scanned=page.number in without_text,
                    templates=masters.first_pages,
                    plate=page.number in plates,
                    placements=masters.placements.get(page.number),
                    drawn=kept.get(page.number + 1),
                )

    def _read(
        self,
        doc: pymupdf.Document,
        without_text: set[int] | None = None,
        plates: set[int] | None = None,
        running: RunningLines | None = None,
    ) -> Iterator[tuple[pymupdf.Page, list[TextBlock], TextBlock | None]]:
        """Each readable page, its text blocks as the book spells them in reading order, and the caption block opening
        the next page that a figure at its foot may take (``_carried_caption``); ``without_text`` gets the (0-based)
        numbers of the pages without a text layer, whatever tesseract reads of them, ``plates`` those of them that are
        pictures, not scans (each before its page comes), and ``running`` the lines in the pages' margins (every page
        with a text layer before the first comes, a scan's when tesseract read it).

        A page without a text layer is a plate (a full-page micrograph, an atlas's figure page) in a born-digital
        document, where at least half the pages have a text layer, unless tesseract read it as a page of words
        (``words_hold_ink``: a scan inserted among them). Where tesseract does not read it (figure OCR off, tesseract
        missing) nothing tells words from a picture, and such a page is most often a picture placed whole: a plate.
        In a scanned document (most pages without a text layer) every such page is a scan, as before.

        Every page's text is read first (3 s for the 998-page book): the spelling is the whole book's, a
        figure at a page's foot may find its caption on the next, and a document MuPDF had to repair is refused before
        any record when reading it went wrong (a damaged file must not replace the copy indexed before). Pages without
        a text layer are read by tesseract where figure OCR is on, a group at a time as they come."""
        raw, said = mupdf_said(lambda: [self._read_blocks(page) for page in doc])
        if said:
            if doc.is_repaired:
                raise self._damaged(f"MuPDF repaired it and then failed to read it ({said})")
            self.problems.append(f"{self.path}: MuPDF reported problems reading it ({said})")
        spelling = Spelling.of("".join(text for _, text in blocks or []) for blocks in raw)
        heights = [unrotated_height(page) for page in doc]
        cleaned = [None if b is None else [(box, clean_text(text, spelling)) for box, text in b] for b in raw]
        running = RunningLines() if running is None else running
        for n, blocks in enumerate(cleaned):
            running.add(n, blocks or [], heights[n])
        pages = [
            None if blocks is None else reading_order(blocks, height, running)
            for blocks, height in zip(cleaned, heights, strict=True)
        ]
        bare = {n for n, blocks in enumerate(raw) if blocks == []}
        if without_text is not None:
            without_text.update(bare)
        born_digital = len(bare) <= sum(1 for blocks in raw if blocks)
        scans = ScannedPages(self, doc, pages, spelling, running, judge=born_digital and plates is not None)
        for page in doc:
            n = page.number
            scans.read_from(n)
            if plates is not None and born_digital and n in bare and n not in scans.of_words:
                plates.add(n)
            blocks, following = pages[n], pages[n + 1] if n + 1 < len(pages) else None
            if blocks is not None:
                yield page, blocks, self._carried_caption(doc[n + 1], following) if following else None
        if not born_digital:  # a scan's pages hold words: say where none were read (a plate's picture holds none)
            self.problems += scans.unread()

    def _carried_caption(self, page: pymupdf.Page, blocks: list[TextBlock]) -> TextBlock | None:
        """The caption block opening ``page`` (``opening_caption`` among its ``blocks``) where a figure at the previous
        page's foot may take it (``carried_over``, by the page's pictures over ``min_figure_px``, which are placed
        only on a page a caption opens)."""
        caption = opening_caption(blocks, unrotated_height(page))
        if caption is None:
            return None
        pictures = [info["bbox"] for info in page.get_image_info() if self._figure_sized(info)]
        return caption if carried_over(caption, pictures) else None

    def _figure_sized(self, info: dict) -> bool:
        """Whether an image placed on a page (``get_image_info``'s ``info``) is large enough to be a figure: at least
        ``min_figure_px`` pixels either side."""
        return min(info["width"], info["height"]) >= self.settings.min_figure_px

    def _read_blocks(self, page: pymupdf.Page) -> list[TextBlock] | None:
        """The page's text blocks, top to bottom (None, with the problem noted, when the page cannot be read)."""
        try:
            return [(tuple(b[:4]), b[4]) for b in page.get_text("blocks", sort=True) if b[6] == 0 and b[4].strip()]
        except Exception as exc:
            self.problems.append(f"{self.path} page {page.number + 1}: cannot be read ({exc})")
            return None

    def _page_records(
        self,
        page: pymupdf.Page,
        blocks: list[TextBlock],
        *,
        fingerprint: str,
        book: str,
        running: RunningLines,
        sections: PageSections,
        continued: TextBlock | None = None,
        scanned: bool = False,
        templates: Mapping[int, int] | None = None,
        plate: bool = False,
        placements: list[dict] | None = None,
        drawn: str | None = None,
    ) -> Iterator[Record]:
        """The page, its passages and its figures. The page is filed under its last section (``PageSections.last``),
        each passage and figure under its own. ``running`` are its document's running lines, left out of its text (its
        snippet and what its vector encodes: the body its passages read, captions included), its passages and captions;
        a page printing nothing else (a blank separator's number) has no text, and is found by its image.
        ``placements`` are its ``placed_images`` where ``template_images`` read them already. ``drawn`` is the
        thumbnail key of the page's render by an earlier reading of the same drawing (``EarlierRenders``): a page found
        by its text is then not rendered again."""
        number = page.number + 1
        try:
            rendered = None if drawn else self._rendered(page)  # a page drawn alike before renders now as well
        except Exception as exc:
            self.problems.append(f"{self.path} page {number}: cannot be read ({exc})")
            return
        body = body_blocks(blocks, unrotated_height(page), running)
        text = "\n".join(text for _, text in body)
        printed = printed_label(page)
        if placements is None:
            placements = placed_images(page)
        # an OCR tool's scan keeps its text layer (the page's words) but is a scan all the same; checked only where an
        # image (or strips of one) fills the page, so a book's other pages cost nothing more
        scanned = scanned or (bool(scan_parts(page, placements)) and behind_ocr_layer(page))
        if rendered is None and (scanned or not text.strip()):  # found by its image, whose pixels are encoded
            rendered, drawn = self._rendered(page), None
        yield Page(self.key, fingerprint, number, text, rendered, book, sections.last, printed, scanned, drawn)
        yield from self._passages(page, body, fingerprint, book, sections, printed)
        yield from self._figures(
            page,
            body,
            fingerprint,
            book,
            continued,
            page_label=printed,
            scanned=scanned,
            templates=templates,
            plate=plate,
            sections=sections,
            placements=placements,
        )

    def _rendered(self, page: pymupdf.Page) -> Image.Image:
        """The page as its thumbnail shows it (``render`` at ``page_render_dpi``)."""
        pixmap = render(page, self.settings.page_render_dpi, self.settings.max_page_pixels)
        return Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)

    def _passages(
        self,
        page: pymupdf.Page,
        body: list[TextBlock],
        fingerprint: str,
        book: str,
        sections: PageSections,
        page_label: str | None = None,
    ) -> Iterator[Passage]:
        """The passages of the page's ``body`` (``body_blocks``), each within one column and one section."""
        min_words, max_words = self.settings.passage_min_words, self.settings.passage_max_words
        lines = long_block_lines(page, body, max_words)
        groups = [
            (section, group)
            for section, run in column_runs(body, unrotated_height(page), sections.of_blocks(body))
            for group in merge_blocks(run, min_words, max_words, lines)
        ]
        for index, (section, group) in enumerate(groups):
            boxes = list(dict.fromkeys(box for box, _ in group))
            yield Passage(
                self.key,
                fingerprint,
                page.number + 1,
                index,
                "\n".join(text for _, text in group),
                tuple(round(v, 1) for v in union_box(boxes)),
                [tuple(round(v, 1) for v in box) for box in boxes],
                book=book,
                section=section,
                vector=self.settings.passage_vectors,
                page_label=page_label,
            )

    def _figures(
        self,
        page: pymupdf.Page,
        body: list[TextBlock],
        fingerprint: str,
        book: str,
        continued: TextBlock | None,
        *,
        page_label: str | None = None,
        scanned: bool = False,
        templates: Mapping[int, int] | None = None,
        plate: bool = False,
        sections: PageSections = PageSections(),  # noqa: B008 (frozen)
        placements: list[dict] | None = None,
    ) -> Iterator[Figure]:
        """The page's embedded images over ``min_figure_px``, each with its caption among the page's ``body``
        (``body_blocks``); on a ``scanned`` page (without a text layer, or under an OCR tool's), the image filling it
        (or the strips filling it together: ``scan_parts``) is the page itself (its ``Page`` carries it), not a figure
        too, unless the page is a ``plate`` (``_read``: a picture, which a figure search must list); a slide master's
        image (``templates``, from ``template_images``) only on its first page or with a caption of its own. An image
        the page gives no caption (a slide's picture) takes the page's title (``page_title``), and a plate's picture,
        above which the page prints nothing, the last title of its bookmark path (``sections``: each figure is filed
        under ``PageSections.of_image``); a master's image takes neither: a logo is not what each slide's title names.
        Figures are numbered top to bottom among the page's figures (``Figure.index``, whence an unlabelled one's
        "p6-img1"), not among its images: a logo left out takes no number. ``placements`` are the page's
        ``placed_images``, where the caller has them (placing them draws the page). ``continued`` is the caption block
        opening the next page that a figure at its foot may take (``_carried_caption``): a figure taking it records
        that page (``Figure.caption_page``)."""
        import pymupdf

        number = page.number + 1
        doc = page.parent
        templates = templates or {}
        seen: set[int] = set()
        boxed: list[tuple[dict, BBox]] = []  # placement, box
        if placements is None:
            placements = placed_images(page)
        placements = sorted(placements, key=lambda info: (info["bbox"][1], info["bbox"][0]))
        scan = scan_parts(page, placements) if scanned and not plate else []
        for info in placements:
            xref = info.get("xref", 0)
            if not xref or xref in seen:
                continue
            seen.add(xref)
            if not self._figure_sized(info) or info in scan:
                continue
            boxed.append((info, tuple(round(v, 1) for v in info["bbox"])))
        pictures = [bbox for _, bbox in boxed]
        shown: list[tuple[dict, BBox, Caption]] = [
            (info, bbox, caption_block(bbox, body, continued, pictures)) for info, bbox in boxed
        ]
        # a master's image owns a caption no other image takes: a logo under a slide's figure finds that one's above it
        claimed = {caption.text for info, _, caption in shown if info["xref"] not in templates}
        index = 0
        for info, bbox, found in shown:
            xref, caption = info["xref"], found.text
            if templates.get(xref, number) != number and (caption in claimed or not CAPTION_START.match(caption)):
                continue
            section = sections.of_image(bbox, body)
            heading = section.rsplit(" > ", 1)[-1] if plate and fills(page, info) else ""  # sections_by_page's path
            title = "" if caption or xref in templates else page_title(body, bbox) or heading
            label, printed = figure_label(caption), figure_label(caption, printed=True)
            try:
                image = embedded_image(doc, xref, self.settings.max_image_pixels, f"{self.path} p.{number} image")
            except Exception as exc:  # one damaged image must not lose the page
                self.problems.append(f"{self.path} page {number}: skipped an image ({exc})")
                continue
            image = as_shown(thumbnail(image, 1024), pymupdf.Matrix(info["transform"]) * page.rotation_matrix)
            yield Figure(
                self.key,
                fingerprint,
                number,
                index,
                bbox,
                caption or title,
                image,
                label=label,
                book=book,
                page_label=page_label,
                caption_from_title=bool(title),
                printed_label=printed if printed != label else None,
                section=section,
                caption_bbox=tuple(round(v, 1) for v in found.box) if found.box else None,
                caption_page=number + 1 if found.next_page else None,
            )
            index += 1


def long_block_lines(page: pymupdf.Page, blocks: list[TextBlock], max_words: int) -> dict[BBox, list[Line]]:
    """The printed lines of each of the page's ``blocks`` over ``max_words`` words, by block box: ``split_long`` boxes
    each piece of such a block by its own lines. The page's words are read only where it has such a block."""
    long = [box for box, text in blocks if len(text.split()) > max_words]
    if not long:
        return {}
    words = page.get_text("words")
    return {box: printed_lines(words, box) for box in long}
