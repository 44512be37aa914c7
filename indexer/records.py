"""Typed records a source yields. Each knows how to become index entries, whose ``Payload`` is its stored form.

Ids are derived from the source file's content hash and the record's position in it, so
re-indexing an unchanged file gives the same ids and a changed file gives new ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from PIL import Image

from pathatlas.retrieval.records import BBox, Entry, Payload, organ_text


def stable_id(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


def pixels_hash(image: Image.Image) -> str:
    """What ``Payload.image_hash`` holds for a picture a source decodes itself (a PDF's figure, a page rendered for its
    image vectors): a content hash of its mode, size and pixels (and palette), the very input of its image vectors and
    thumbnail, so that a source read again (a newer reader) reuses them for each picture it decodes alike. About 2 ms
    a figure: 1.4 s of CPU for the A&P book's 720."""
    digest = hashlib.blake2b(f"{image.mode} {image.size}".encode(), digest_size=16)
    if image.palette is not None:  # a palette image's pixels are indexes into it
        digest.update(bytes(image.getpalette() or ()))
    digest.update(image.tobytes())
    return digest.hexdigest()


@dataclass
class Page:
    """A page, found by its text vector and (without a text layer) its image; BM25 reads its words only in the
    ``Passage`` records of the same page, which a source yielding pages must yield too.

    A source without pages (a folder of text files) yields one per part all the same, numbered from 1 (its files in
    name order), named by ``section`` (the file's name) and without ``image``: a passage's hit is shown as its page's,
    under the page record's id, which opens no record where the page is missing."""

    source: str
    fingerprint: str
    page: int
    text: str
    image: Image.Image | None
    """The rendered page (thumbnail resolution); None for a page found by its text that its reader did not render
    again, whose ``thumbnail_hash`` names its earlier render, and for a source with nothing to render (a text file: no
    thumbnail, no page image)."""
    book: str = ""
    section: str = ""
    """The bookmark path leading to this page ("Chapter 4 > 4.2 Epithelial Tissue"), when the PDF has one."""
    page_label: str | None = None
    """The page number printed on it (the PDF's page label), where that differs from ``page``; likewise below."""
    scanned: bool = False
    """A page without a text layer, or whose text is an OCR tool's invisible layer over the picture filling it (a
    scan): whatever OCR read of it, it is found by its image too, as the picture filling it is no figure of its own,
    unless the page is a plate (a born-digital document's page that is one picture), whose picture is a figure too."""
    thumbnail_hash: str | None = None
    """Where ``image`` is None: the thumbnail key (``Payload.thumbnail_hash``) of the same page rendered alike by the
    source's earlier reading (``pdf.drawing.EarlierRenders``), whose thumbnail the indexer copies."""
    progress_units = 1
    """What a source's ``size_hint`` counts: pages, case images."""

    @property
    def id(self) -> str:
        return stable_id(self.fingerprint, "page", self.page)

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())

    def entries(self) -> list[Entry]:
        payload = Payload(
            kind="page",
            source=self.source,
            fingerprint=self.fingerprint,
            book=self.book,
            page=self.page,
            page_label=self.page_label,
            section=self.section,
            text=self.text,
            # BM25 sees the page through its passages (page-level BM25 measured no better, BENCHMARKS.md).
            searchable=False,
            thumbnail_hash=self.thumbnail_hash,
        )
        # Pages without a text layer (scans) are findable through their rendered image, beside any text read from it.
        image = self.image if self.scanned or not self.has_text else None
        # only an encoded image is hashed: a hash lends image vectors, and a text page's joint vector is its text's
        payload.image_hash = pixels_hash(image) if image is not None else None
        # The page keeps one text vector (passage vectors would cost ~2.9x the encoding time, BENCHMARKS.md);
        # the heading tells the encoder what a page mid-section is about.
        text = f"{self.section}\n{self.text}" if self.has_text and self.section else self.text
        return [Entry(self.id, payload, text=text, image=image, thumbnail=self.image)]


@dataclass
class Passage:
    """A run of a page's text blocks (roughly 60-200 words, reading order, never across pages).

    Passages are what BM25 and the text encoder see for a PDF; a page's score comes from its passages,
    and a page hit cites its best passage's box. ``blocks`` keeps each merged block's box for outlining.
    """

    source: str
    fingerprint: str
    page: int
    index: int
    """Position on the page, in reading order."""
    text: str
    bbox: BBox | None
    """Where it is printed on its page: the union of its block boxes, in PDF points (``BBox``), which citations carry;
    the page render outlines the blocks themselves (``Payload.blocks``), so a figure between them stays clear. None for
    a source without a page layout (a text file), whose citations then hold no box; never a made-up one such as (0, 0,
    0, 0), which every door would pass on as a place on the page."""
    blocks: list[BBox] = field(default_factory=list)
    book: str = ""
    section: str = ""
    vector: bool = False
    """Whether the text encoder sees it too (``PATHATLAS_PASSAGE_VECTORS``); BM25 always does."""
    page_label: str | None = None
    progress_units = 0

    @property
    def id(self) -> str:
        return stable_id(self.fingerprint, "passage", self.page, self.index)

    def entries(self) -> list[Entry]:
        payload = Payload(
            kind="passage",
            source=self.source,
            fingerprint=self.fingerprint,
            book=self.book,
            page=self.page,
            page_label=self.page_label,
            page_id=stable_id(self.fingerprint, "page", self.page),
            passage=self.index,
            section=self.section,
            bbox=self.bbox,
            blocks=tuple(self.blocks),
            text=self.text,
        )
        if not self.vector:
            return [Entry(self.id, payload)]
        # The section's own title tells the text encoder what a passage mid-section is about (BM25 gets the path).
        title = self.section.rsplit(" > ", 1)[-1]
        return [Entry(self.id, payload, text=f"{title}\n{self.text}" if title else self.text)]


@dataclass
class Figure:
    source: str
    fingerprint: str
    page: int
    index: int
    """Position of the image on its page, in reading order."""
    bbox: BBox
    caption: str
    image: Image.Image
    label: str | None = None
    book: str = ""
    page_label: str | None = None
    caption_from_title: bool = False
    """The caption is the page's title: the page prints none for the image (a slide's picture)."""
    printed_label: str | None = None
    """The label as its caption prints it ("Abb. 3", "Fig. 1"), where that differs from ``label`` ("Figure 3")."""
    section: str = ""
    """Its page's bookmark path, so a chapter or section filter finds the figures there too (it found none)."""
    caption_bbox: BBox | None = None
    """Where its caption is printed (None for a title standing in): on its page, where a quote of the caption is
    outlined with the figure (``Payload.captioned_bbox``), words and picture alike; else on ``caption_page``."""
    caption_page: int | None = None
    """The page printing its caption where that is not its own (a figure at a page's foot whose caption opens the
    next page), which its citation names beside its own."""
    progress_units = 0

    @property
    def id(self) -> str:
        return stable_id(self.fingerprint, "figure", self.page, self.index)

    def entries(self) -> list[Entry]:
        payload = Payload(
            kind="figure",
            source=self.source,
            fingerprint=self.fingerprint,
            book=self.book,
            page=self.page,
            page_label=self.page_label,
            figure=self.label or f"p{self.page}-img{self.index + 1}",
            bbox=self.bbox,
            caption_bbox=self.caption_bbox,
            caption_page=self.caption_page,
            text=self.caption,
            caption_from_title=self.caption_from_title,
            figure_printed=self.printed_label,
            section=self.section,
            image_hash=pixels_hash(self.image),
        )
        return [Entry(self.id, payload, text=self.caption, image=self.image, thumbnail=self.image)]


@dataclass
class Case:
    """A case: one or more images with what is known about them."""

    source: str
    fingerprint: str
    case_id: str
    images: list[tuple[str, Image.Image]]
    """(path relative to the case folder, decoded image)."""
    title: str = ""
    description: str = ""
    diagnosis: str | None = None
    organ: str | list[str] | None = None
    """One organ, or several (stored as a list: a filter on any of them finds the case)."""
    labels: dict[str, str] = field(default_factory=dict)
    image_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per image (by its path in ``images``), labels of that image alone (its stain): its entry's labels instead of
    ``labels``."""
    image_hashes: dict[str, str] = field(default_factory=dict)
    """Per image (by its path in ``images``), ``image_hash`` of the bytes it was decoded from."""
    unread: list[str] = field(default_factory=list)
    """Paths of images listed but unreadable now (a damaged or half-written file): each gives an entry without a
    picture, which the indexer gives the picture its source's committed version indexed from that file, or leaves out
    where there is none (``Indexer._kept_pictures``)."""

    @property
    def progress_units(self) -> int:
        return len(self.images)

    @property
    def text(self) -> str:
        """What the case says of itself, its title and diagnosis first (what a quote of it opens with), each part
        once."""
        parts = [self.title, self.diagnosis or "", organ_text(self.organ) or "", self.description]
        seen: list[str] = []
        for part in parts:
            if part and part not in seen and not any(part.lower() in s.lower() for s in seen):
                seen.append(part)
        return ". ".join(seen)

    def labels_of(self, image: str) -> dict[str, str]:
        """One image's labels: its own (its stain), else the case's."""
        return self.image_labels.get(image, self.labels)

    def text_of(self, image: str) -> str:
        """What BM25 and the text encoder read of one of its images: the case's ``text``, then that image's labels
        by name ("Stain: PAS"), so a search by a stain, or by any other column of the metadata, finds the image."""
        labels = [f"{name}: {value}" if name else value for name, value in self.labels_of(image).items()]
        return ". ".join(part for part in [self.text, *labels] if part)

    def entries(self) -> list[Entry]:
        entries = []
        for rel_path, image in [*self.images, *((rel_path, None) for rel_path in self.unread)]:
            text = self.text_of(rel_path)
            payload = Payload(
                kind="case",
                source=self.source,
                fingerprint=self.fingerprint,
                case=self.case_id,
                image=rel_path,
                title=self.title,
                diagnosis=self.diagnosis,
                organ=self.organ,
                labels=self.labels_of(rel_path),
                text=text,
                image_hash=self.image_hashes.get(rel_path),
            )
            entry_id = stable_id(self.fingerprint, "case", self.case_id, rel_path)
            entries.append(Entry(entry_id, payload, text=text, image=image, thumbnail=image))
        return entries


Record = Page | Passage | Figure | Case
