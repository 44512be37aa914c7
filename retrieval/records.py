"""The record model of the retrieval layer.

``Payload`` is the stored form of a record (a page, passage, figure or case image): what a store keeps beside
its vectors and what a hit shows and cites. Stores and BM25 hold it as a plain JSON object (``to_payload``);
everything above them reads it typed (``from_payload``). ``Entry`` is what the indexer hands in, ``Hit`` (with
its ``Citation``) what a search hands out; ``Citation.to_dict`` is the one JSON form of a citation.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePosixPath
from typing import Any, Generic, TypeVar

import numpy as np
from PIL import Image

from pathatlas.retrieval.datasets import own_case_ids
from pathatlas.retrieval.local import Keypoints
from pathatlas.retrieval.text import composed, plain_text

BBox = tuple[float, float, float, float]
"""x0, y0, x1, y1 in PDF points (1/72 inch) on the page as stored, before its /Rotate turns it for showing, from the
top left of its crop box, as pymupdf reports them: a picture of a turned page shows a box where the page's
``rotation_matrix`` takes it."""

KINDS = ("page", "passage", "figure", "case")


def union_box(boxes: list[BBox]) -> BBox:
    """The smallest box holding all of ``boxes``."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def source_id(key: str) -> str:
    """A short, URL-safe id for a source (its key is a server path, which never travels in a URL or response)."""
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Marks, embeddings, overrides and isolates that reorder the text after them: a file named "<U+202E>fdp.exe.pdf"
reads "pdf.exe.pdf" wherever its name is printed raw (a table, a citation, a web page)."""


def visible(name: str) -> str:
    """``name`` as it may be shown: each bidi control (``BIDI_CONTROLS``) written out ("<U+202E>"), so the name reads
    in the order it is stored. Only shown names: keys and paths keep theirs, or the file would not open."""
    return BIDI_CONTROLS.sub(lambda found: f"<U+{ord(found[0]):04X}>", name)


def display_name(key: str) -> str:
    """What users see of a source: its file or folder name, never the server path; bidi controls shown (``visible``)."""
    return visible(key.rstrip("/").rsplit("/", 1)[-1])


PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|document\d*|slide \d+|presentation\d*|(microsoft (word|powerpoint|excel)|pdf) - .*"
    r"|.*\.(docx?|pptx?|odt|tex|dvi|indd|pdf))$",
    re.IGNORECASE,
)
"""What PDF writers leave as a document's title when nobody set one ("Microsoft Word - L04_final.docx",
"Untitled", "Slide 1"): no book's title."""
BOOK_TITLE_CHARS = 160


def book_title(book: str | None, source: str) -> str | None:
    """The title a PDF's metadata gives its book, where it tells more than its file's name ("Anatomy and Physiology
    2e" for "book.pdf"); None where it is none (``PLACEHOLDER_TITLE``), longer than a title (``BOOK_TITLE_CHARS``) or
    the file's name again ("L04 notes" for "L04_notes.pdf")."""
    title = " ".join((book or "").split())
    stem = PurePosixPath(source).stem  # as stored: its shown form spells out any bidi control
    words = re.sub(r"[\W_]+", " ", title).strip().casefold()
    if not words or len(title) > BOOK_TITLE_CHARS or PLACEHOLDER_TITLE.match(title):
        return None
    return None if words == re.sub(r"[\W_]+", " ", stem).strip().casefold() else visible(title)


def distinct_names(keys: Iterable[str]) -> dict[str, str]:
    """Names for the sources among ``keys`` whose ``display_name`` another shares: the fewest last parts of each path
    that no other's as many last parts spell ("year2/notes.pdf" beside "year1/notes.pdf"), so a reader tells their
    citations apart; never the path whole from its root. Keys of a name of their own are left out."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(composed(display_name(key)), []).append(key)
    return {key: name for group in groups.values() if len(group) > 1 for key, name in fewest_parts(group).items()}


def fewest_parts(keys: list[str]) -> dict[str, str]:
    """Each of ``keys`` by the fewest last parts of its path that no other key's as many last parts spell the same
    (Unicode forms aside: a Mac's decomposed name reads as the composed one)."""
    parts = {key: [part for part in PurePosixPath(key).parts if part != "/"] for key in keys}
    names: dict[str, str] = {}
    for n in range(1, max(map(len, parts.values()), default=0) + 1):
        tails = {key: "/".join(own[-n:]) for key, own in parts.items()}
        spelt = Counter(map(composed, tails.values()))
        names.update(
            {key: visible(tail) for key, tail in tails.items() if key not in names and spelt[composed(tail)] == 1}
        )
    return names


def slide_label(number: int) -> str:
    """The ``page_label`` of slide ``number`` of lecture notes (``indexer/sources/notes.py``), which have slides, not
    pages: its citation names the slide in place of a page ("week1.qmd, slide 3", ``Citation.slide``)."""
    return f"slide {number}"


def is_slide(page: int | None, page_label: str | None) -> bool:
    """Whether a page and its label name a slide of lecture notes (the label is the page's ``slide_label``)."""
    return page is not None and page_label == slide_label(page)


def organ_text(organ: str | list[str] | None) -> str | None:
    """A case's organ as a reader sees it: a case of several organs (stored as a list, so that a filter on any finds
    it) as "spleen, liver"; the stored payload keeps the list."""
    return ", ".join(organ) if isinstance(organ, list) else organ


RECORD_ID = re.compile(r"[0-9a-f]{24}")
"""What a record's id is (hex, ``indexer.records.stable_id``): nothing else may reach a store, a file path or a URL
path (the API refuses any other; the web UI asks for none)."""


SOURCE_ID = re.compile(r"[0-9a-f]{12}")
"""What a source's id is (``source_id``)."""


@dataclass(frozen=True)
class RecordKey:
    """A case image or a page named as its source names it, whatever its record's id: by the source's ``source_id``
    and the case and image file, or the page's number. A record's id hashes its source's version
    (``indexer.records.stable_id``), so a diagnosis fixed in a case folder's metadata gives each of its images a new
    one; links carry this key beside the id (``params``), which finds the record once that id is gone."""

    source: str
    page: int | None = None
    case: str | None = None
    image: str | None = None

    @classmethod
    def cited(cls, citation: Mapping[str, Any]) -> RecordKey | None:
        """The key of what a citation's JSON (``Citation.to_dict``) cites: a case image, or a page (a passage's page);
        None for a figure, which an edit of its book may renumber or move."""
        if citation.get("case") is not None and citation.get("image"):
            return cls(citation["source_id"], case=citation["case"], image=citation["image"])
        if citation.get("page") is not None and not citation.get("figure"):
            return cls(citation["source_id"], page=citation["page"])
        return None

    def params(self) -> dict[str, str | int]:
        """The key as a link's query parameters: its fields that are set."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    def filters(self, source: str) -> dict[str, str]:
        """The store filter of the records it may name, ``source`` being its source's key (``names`` picks one)."""
        if self.case is None:
            return {"kind": "page", "source": source}
        return {"kind": "case", "source": source, "case": self.case}

    def names(self, stored: Mapping[str, Any]) -> bool:
        """Whether ``stored``, the payload of a record ``filters`` found, is the one it names: read as stored, only the
        one found is decoded (``Payload.from_payload`` was most of a scan's time)."""
        if self.case is None:
            return stored.get("page") == self.page
        return (stored.get("case"), stored.get("image")) == (self.case, self.image)


def image_hash(data: bytes) -> str:
    """What ``Payload.image_hash`` holds for a case image: a content hash of its file's bytes. Here, not in the
    indexer, because a benchmark matches a folder's files to the index's records by it (``bench.stored``)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(slots=True)
class Payload:
    """The stored form of a record, one flat shape for every kind (a field a kind lacks is None).

    ``from_payload`` reads what any index wrote (fields an older index lacks take their defaults; fields this
    version does not know are kept in ``extra``); ``to_payload`` writes it back, leaving out defaults.
    """

    kind: str = "?"
    """One of ``KINDS``."""
    source: str = ""
    """The source's key (its resolved path): users see ``display_name`` and ``source_id`` of it."""
    fingerprint: str | None = None
    """Content hash of the source version the record came from."""
    book: str | None = None
    page: int | None = None
    """1-based page number (pages, passages, figures)."""
    page_label: str | None = None
    """The page number printed on the page (the PDF's page label: "13", "xii"), where it differs from ``page``."""
    page_id: str | None = None
    """A passage's page record."""
    passage: int | None = None
    """A passage's position on its page, in reading order."""
    section: str | None = None
    """The bookmark path leading to the page ("Chapter 4 > 4.2 Epithelial Tissue")."""
    bbox: BBox | None = None
    """Where the record is printed on its page: a passage's the union of its ``blocks``, what its citation gives."""
    blocks: tuple[BBox, ...] | None = None
    """A passage's text blocks' boxes (a long block's piece boxed by its own lines), which its page's render outlines,
    those printed close together as one: their union, ``bbox``, may hold a figure printed between two of them."""
    caption_bbox: BBox | None = None
    """Where a figure's caption is printed: on its page (see ``captioned_bbox``), else on ``caption_page``; None for a
    page's title standing in for one, or a figure indexed before it was kept (records version 17; version 19 for one on
    ``caption_page``)."""
    caption_page: int | None = None
    """The page printing a figure's caption where that is not the figure's (a figure at a page's foot whose caption
    opens the next page: 17 in the A&P book); None where it is the figure's."""
    figure: str | None = None
    """A figure's label, "Figure 3" in every book (else its place, "p3-img1")."""
    figure_printed: str | None = None
    """The label as the book prints it ("Abb. 3", "Figura 3", "Fig. 3"), where it differs from ``figure``: what its
    citation shows. Records indexed before it was kept lack it, and are cited by ``figure``."""
    case: str | None = None
    image: str | None = None
    """A case image's path relative to its case folder."""
    title: str | None = None
    diagnosis: str | None = None
    organ: str | list[str] | None = None
    """A case's organ, or its organs (a list, any of which a filter finds)."""
    labels: dict[str, str] | None = None
    text: str = ""
    caption_from_title: bool = False
    """A figure's ``text`` is its page's title, not a caption: the page prints none for it (a slide's picture)."""
    ocr: str | None = None
    """Words printed in a figure's image (figure OCR): a figure search matches them as a BM25 field beside the
    caption (``Index.printed_words``), and a hit's payload shows them, so a reader sees why a figure matched."""
    searchable: bool = True
    """False keeps the record out of BM25 (pages: their passages are indexed instead)."""
    image_hash: str | None = None
    """A hash of the picture its image vectors encode: a case image's file bytes (``image_hash``), a PDF
    figure's, or a page's encoded by its image, decoded mode, size and pixels (``pixels_hash``). A re-index of its
    changed source reuses the vectors, keypoints and thumbnail of each image whose hash a record of the source's last
    version holds (records written before it was kept have none: their images are encoded once more)."""
    text_hash: str | None = None
    """A short hash of the text its text vectors encode and of the spaces they fill (``pipeline.text_key``), where it
    has text vectors: a re-index of its changed source (a newer reader, a fixed label) reuses them for each entry of
    the same hash (records written before it was kept have none: their texts are encoded once more)."""
    thumbnail_hash: str | None = None
    """What its thumbnail is made of (``pipeline.thumbnail_key``: its kind, the size, and its ``image_hash`` or a text
    page's rendered pixels): a re-index of its changed source copies the thumbnail of each entry of the same hash
    (records written before it was kept have none: their thumbnails are made once more)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Stored fields this version does not know (a newer index, a plugin): kept so they round-trip."""

    @classmethod
    def from_payload(cls, stored: Mapping[str, Any]) -> Payload:
        if _STORED_FIELDS.issuperset(stored):  # the usual case, and the fast one (searches read hundreds)
            payload = cls(**stored)
        else:
            payload = cls(**{k: v for k, v in stored.items() if k in _STORED_FIELDS})
            payload.extra = {k: v for k, v in stored.items() if k not in _STORED_FIELDS}
        for name in BOXES:
            if (box := getattr(payload, name)) is not None:
                setattr(payload, name, tuple(box))
        if payload.blocks is not None:
            payload.blocks = tuple(map(tuple, payload.blocks))
        if payload.text is None:
            payload.text = ""
        return payload

    @classmethod
    def from_payloads(cls, stored: Mapping[str, Mapping[str, Any]]) -> dict[str, Payload]:
        """A store's ``payloads(ids)`` answer, typed."""
        return {record_id: cls.from_payload(p) for record_id, p in stored.items()}

    def to_payload(self) -> dict[str, Any]:
        """The JSON object a store keeps: fields that differ from their defaults, ``kind`` and ``source`` always."""
        out: dict[str, Any] = {"kind": self.kind, "source": self.source}
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                out[name] = [list(b) for b in value] if name == "blocks" else list(value) if name in BOXES else value
        return {**out, **self.extra}

    @property
    def captioned_bbox(self) -> BBox | None:
        """A figure's box with its caption's (``caption_bbox``): what a quote of its caption outlines, so that the
        quoted words, printed beside the picture, lie inside the box; its own box where none was kept, or where the
        caption is printed on another page (``caption_page``), whose box is no place on this one."""
        if self.bbox is None or self.caption_bbox is None or self.caption_page is not None:
            return self.bbox
        return union_box([self.bbox, self.caption_bbox])

    @property
    def body(self) -> str:
        """What a hit quotes of the record: its text, else its title; a figure's caption less the label opening it,
        which its citation names beside the quote ("..., Figure 21.31" over "Figure 21.31. Karposi's ..." read twice).
        """
        labels = (self.figure_printed, self.figure) if self.kind == "figure" else ()
        text = next((rest for label in labels if label and (rest := after_label(self.text, label))), self.text)
        return text or self.title or ""


LABEL_END = r"(?![.\-]?\w)[\s.:;,\-\u2013\u2014]*"
"""After a figure's label in its caption: the label's end (not "Figure 2" of "Figure 2.1" or "Figure 21"), then the
punctuation and spaces setting it off ("Figure 3. ", "Fig. 3: ", "Figure 3 - ")."""


def after_label(caption: str, label: str) -> str:
    """``caption`` after ``label`` where the caption opens with it ("Figure 21.31. Karposi's ..." is "Karposi's ..."),
    its spaces as printed ("Fig.3" for "Fig. 3"), any case; else "", as for a caption that is its label alone."""
    spaced = r"\s*".join(re.escape(part) for part in label.split())
    opening = re.match(rf"\s*{spaced}{LABEL_END}", caption, re.IGNORECASE) if spaced else None
    return caption[opening.end() :].strip() if opening else ""


_STORED_FIELDS = frozenset(f.name for f in fields(Payload)) - {"extra"}
BOXES = ("bbox", "caption_bbox")
"""Payload fields holding one box: a JSON list where stored, a tuple where read."""
_DEFAULTS = {f.name: f.default for f in fields(Payload) if f.name not in ("kind", "source", "extra")}

FILTER_FIELDS = ("kind", "source", "fingerprint", "organ", "diagnosis", "case", "section")
"""Payload fields that every store indexes for filtering."""


@dataclass
class Entry:
    """One searchable unit: a page, a passage, a figure or one image of a case.

    ``text`` feeds BM25 and the text encoders; ``image`` feeds the image encoders. ``payload`` is
    what a hit shows and cites.
    """

    id: str
    payload: Payload
    text: str = ""
    image: Image.Image | None = None
    """What the image encoders see; None for entries found by text alone."""
    thumbnail: Image.Image | None = None
    """What a hit shows; saved under the index's media folder."""
    keypoints: Keypoints | None = None
    """A case image's SIFT keypoints (``case_keypoints``), saved beside its thumbnail for same-specimen search."""


@dataclass
class StoredVectors:
    """A record's id, stored payload (``Payload.to_payload()``) and its vector per named space, as a
    ``VectorStore`` takes and gives them."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray]


@dataclass(frozen=True)
class Citation:
    """Where a hit comes from, precisely enough for a reader to open it."""

    source: str
    """The source's key (a server path): ``to_dict`` and ``label`` show its name and id instead."""
    page: int | None = None
    figure: str | None = None
    """A figure's label as its book prints it ("Abb. 3"; ``Payload.figure`` where the record lacks that)."""
    bbox: BBox | None = None
    case: str | None = None
    image: str | None = None
    page_label: str | None = None
    """The page number printed on the page where it differs from ``page`` (the PDF's page index, which viewers,
    benchmarks and media routes use): the label shows it first, "L04.pdf, p. 13 (PDF p. 2)"."""
    name: str | None = None
    """What the label and JSON call the source where its ``display_name`` would not tell it from another of its index
    (``distinct_names``: "year2/notes.pdf"); None: its ``display_name``."""
    key_id: str | None = None
    """The ``source_id`` of the source's key where ``source`` is not that key (a citation read back by ``from_dict``,
    whose ``source`` is the name): so its JSON names the same source again. None: ``source_id(source)``."""
    book: str | None = None
    """The book's title from its PDF's metadata (``book_title``), which the label names before its file."""
    caption_page: int | None = None
    """The page printing a figure's caption where that is not ``page`` (``Payload.caption_page``: a caption opening
    the next page), which the label names; None where the caption is printed beside the figure."""
    caption_bbox: BBox | None = None
    """Where that caption is printed on ``caption_page``: a second box, on its own page, beside the figure's ``bbox``
    on ``page``."""

    @classmethod
    def of(cls, payload: Payload, name: str | None = None) -> Citation:
        """The record's citation, its source called ``name`` where given; a figure by its label as the book prints it
        ("Abb. 3"), and by its caption's page and box where those are on another page."""
        figure = payload.figure_printed or payload.figure
        book = book_title(payload.book, payload.source)
        return cls(
            payload.source,
            payload.page,
            figure,
            payload.bbox,
            payload.case,
            payload.image,
            payload.page_label,
            name,
            book=book,
            caption_page=payload.caption_page,
            caption_bbox=payload.caption_bbox if payload.caption_page is not None else None,
        )

    @property
    def source_name(self) -> str:
        """The source as a reader sees it: by ``name`` (``visible``: one read back by ``from_dict`` may be anyone's),
        else its ``display_name``; never by server path."""
        return visible(self.name) if self.name else display_name(self.source)

    def label(self) -> str:
        """The citation as a reader reads it: "L04.pdf, p. 13 (PDF p. 2), Abb. 1", a book by its title and file
        ("Anatomy and Physiology 2e (book.pdf), p. 13"), a slide by its number ("week1.qmd, slide 3": ``slide``); a
        case image as ``case_parts`` names it; a figure whose caption is printed on another page with that page
        ("p. 170 (PDF p. 171), Figure 6.8 (caption on PDF p. 172)": the book's page labels are the figure page's)."""
        parts = [f"{self.book} ({self.source_name})" if self.book else self.source_name]
        if place := self.place():
            parts.append(place)
        if self.figure:
            printed = "PDF " if self.page_label else ""
            elsewhere = f" (caption on {printed}p. {self.caption_page})" if self.caption_page is not None else ""
            parts.append(self.figure + elsewhere)
        if self.case:
            parts.extend(self.case_parts())
        return ", ".join(parts)

    def place(self) -> str | None:
        """Where in its source it lies, as ``label`` names it: "slide 3", "p. 13 (PDF p. 2)", "p. 3"; None without a
        page (a case image)."""
        if self.slide:
            return self.page_label
        if self.page is None:
            return None
        return f"p. {self.page_label} (PDF p. {self.page})" if self.page_label else f"p. {self.page}"

    def copy_label(self) -> str:
        """The source by its name and the place, without the book's title: how a hit's label names a copy of its page
        in another source ("week2.qmd, slide 4", ``repeated_in_note``), many of which are read in one line."""
        return ", ".join(part for part in (self.source_name, self.place()) if part)

    @property
    def slide(self) -> bool:
        """Whether it cites a slide of lecture notes (``is_slide``)."""
        return is_slide(self.page, self.page_label)

    def case_parts(self) -> list[str]:
        """A case image by its case and its file, so two images of one case read apart ("case C-05", "IMG_2049.jpg");
        an image named after its case once (one without a case id, ``datasets.own_case_ids``): by its case where
        that is its file's stem ("case slide1"), by its file where that is its path ("liver/slide1.jpg" beside
        "lung/slide1.jpg"), not "case liver/slide1.jpg, liver/slide1.jpg"."""
        if not self.image:
            return [f"case {self.case}"]
        stem, path = own_case_ids(self.image.replace("\\", "/"))
        case = plain_text(self.case or "")
        if case == path:
            return [self.image]
        return [f"case {self.case}"] + ([] if case == stem else [self.image])

    def to_dict(self) -> dict[str, Any]:
        """The one JSON form of a citation (CLI ``--json``, REST, MCP, answers): the source by name and id
        (``source_id``, which every command and route taking a source accepts), never by server path; a figure whose
        caption is printed on another page names that page and the caption's box on it (None for every other)."""
        return {
            "source": self.source_name,
            "source_id": self.key_id or source_id(self.source),
            "page": self.page,
            "figure": self.figure,
            "bbox": list(self.bbox) if self.bbox else None,
            "case": self.case,
            "image": self.image,
            "label": self.label(),
            "page_label": self.page_label,
            "book": self.book,
            "caption_page": self.caption_page,
            "caption_bbox": list(self.caption_bbox) if self.caption_bbox else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Citation:
        """Back from ``to_dict``, whose dict it gives again exactly (its ``source`` is then the name, shown whole:
        "year2/notes.pdf", beside the key's ``source_id``). A server path put in its place (a benchmark matching its
        book) is shown by its ``display_name``."""
        bbox, caption_bbox = data.get("bbox"), data.get("caption_bbox")
        box = tuple(bbox) if bbox else None
        source = data["source"]
        return cls(
            source,
            data.get("page"),
            data.get("figure"),
            box,
            data.get("case"),
            data.get("image"),
            data.get("page_label"),
            None if PurePosixPath(source).is_absolute() else source,
            data.get("source_id"),
            data.get("book"),
            data.get("caption_page"),
            tuple(caption_bbox) if caption_bbox else None,
        )


HIDDEN_FIELDS = ("text", "source", "text_hash", "thumbnail_hash")
"""Payload fields a hit's JSON leaves out: its text (the snippet shows it), its source (the citation names it), and
the indexer's keys for reusing text vectors and thumbnails."""


T = TypeVar("T")


class OnFirstRead(Generic[T]):
    """A dataclass field given as its value or as a function making it, which runs when the field is first read, its
    value kept: ``Hit.snippet`` scans its record's text for the query's words, and the agent, which weighs the records'
    own texts, reads no snippet."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = f"_{name}"

    def __get__(self, instance: object | None, owner: type | None = None) -> T:
        if instance is None:  # asked of the class: no default, so the dataclass field is required
            raise AttributeError(self.key[1:])
        value = instance.__dict__[self.key]
        if callable(value):
            value = instance.__dict__[self.key] = value()
        return value

    def __set__(self, instance: object, value: T | Callable[[], T]) -> None:
        instance.__dict__[self.key] = value


@dataclass
class Hit:
    id: str
    score: float
    kind: str
    snippet: OnFirstRead[str] = OnFirstRead()
    """What the hit quotes of its record: text, or the function making it when first read (``Searcher.make_hit``)."""
    citation: Citation
    thumbnail: str | None = None
    payload: Payload = field(default_factory=Payload)
    matched_by: dict[str, int] = field(default_factory=dict)
    """Ranker name to the 1-based rank it gave this hit, so users see why it matched."""
    also_on_page: list[str] = field(default_factory=list)
    """Ids of the other records found on the same page, folded into this hit (it shows the best, or the figure an image
    query's look found)."""
    passage: str | None = None
    """For a page hit: the id of the passage that matched best (its text is the snippet, its box the citation's)."""
    repeated_on: list[int] = field(default_factory=list)
    """For a page hit: the other pages of its source printing the same page (the same words and look: a handout's
    cover printed again, a slide shown twice), folded into this hit of the first; PDF page numbers, as
    ``Citation.page``."""
    repeated_in: list[Citation] = field(default_factory=list)
    """For a page hit: the same page (the same words and look) in other sources, folded into this hit of the source
    whose copy the search placed best, each cited by its page or slide (no box, no figure), in order of source and
    page: a Quarto partial included in every deck of a course gave a hit of each deck, filling the list."""
    relative: float = 1.0
    """Score relative to the list's first hit (``fusion.relative_scores``): a reader's relevance words."""
    agreeing: int | None = None
    """An image query's hit: how many of the query's nearest candidates share its diagnosis (``search.with_agreement``;
    0 without one), which says whether its badge may claim a match (``ui.hits.looks_alike``); None for a text
    query's."""

    def label(self) -> str:
        """The hit's citation as a reader reads it (``Citation.label``), naming the pages that repeat it
        (``repeated_on``): "handout.pdf, p. 1 (repeated on p. 2, 4)", by PDF page where it gives a printed one; the
        slides, for a slide ("week1.qmd, slide 2 (repeated on slide 9)"); then its copies in other sources
        (``repeated_in_note``: "week1.qmd, slide 2 (also in week2.qmd, slide 3)")."""
        if self.citation.slide:
            repeats = repeated_note(self.repeated_on, False, "slide")
        else:
            repeats = repeated_note(self.repeated_on, bool(self.citation.page_label))
        return self.citation.label() + repeats + repeated_in_note(self.repeated_in)

    def to_dict(self) -> dict[str, Any]:
        """The hit's own fields as JSON: its payload less ``HIDDEN_FIELDS``. What the doors print (``search --json``,
        REST, MCP, ``Atlas.search``) is ``ui.hits.hit_record``, built on this with the rank, relevance words and
        why it matched."""
        return {
            "id": self.id,
            "score": self.score,
            "kind": self.kind,
            "snippet": self.snippet,
            "thumbnail": self.thumbnail,
            "citation": self.citation.to_dict(),
            "matched_by": self.matched_by,
            "also_on_page": self.also_on_page,
            "passage": self.passage,
            "repeated_on": self.repeated_on,
            "repeated_in": [copy.to_dict() for copy in self.repeated_in],
            "relative": self.relative,
            "payload": {k: v for k, v in self.payload.to_payload().items() if k not in HIDDEN_FIELDS},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hit:
        """Back from ``to_dict``, or from a door's hit record built on it (REST, ``search --json``, ``Atlas.search``:
        its added fields are left out), whose ``to_dict`` it gives again: a client keeps hits as the library returns
        them. Its payload lacks ``HIDDEN_FIELDS`` as the JSON does (the record's text: GET /records/{id} has it)."""
        return cls(
            id=data["id"],
            score=data["score"],
            kind=data["kind"],
            snippet=data["snippet"],
            citation=Citation.from_dict(data["citation"]),
            thumbnail=data.get("thumbnail"),
            payload=Payload.from_payload(data.get("payload") or {}),
            matched_by=dict(data.get("matched_by") or {}),
            also_on_page=list(data.get("also_on_page") or []),
            passage=data.get("passage"),
            repeated_on=list(data.get("repeated_on") or []),
            repeated_in=[Citation.from_dict(copy) for copy in data.get("repeated_in") or []],
            relative=data.get("relative", data.get("relative_score", 1.0)),  # a door's record rounds it
        )


def repeated_note(pages: list[int], printed_numbers: bool, unit: str = "p.") -> str:
    """What a page hit's label adds for the pages of its source that repeat it (``Hit.repeated_on``): " (repeated on
    p. 2, 4)", by PDF page where the book prints other numbers, each named by ``unit`` ("slide" for lecture notes); ""
    for none. The web UI adds the same to its cards."""
    if not pages:
        return ""
    return f" (repeated on {'PDF ' if printed_numbers else ''}{unit} {', '.join(map(str, pages))})"


COPIES_NAMED = 3
"""How many copies in other sources a hit's label names (``repeated_in_note``); its JSON lists them all."""


def repeated_in_note(copies: Sequence[Citation]) -> str:
    """What a page hit's label adds for the same page in other sources (``Hit.repeated_in``): " (also in week2.qmd,
    slide 3; b.pdf, p. 4)", the first ``COPIES_NAMED`` and how many more (a partial in twelve decks named eleven);
    "" for none. The web UI adds the same to its cards."""
    if not copies:
        return ""
    named = "; ".join(copy.copy_label() for copy in copies[:COPIES_NAMED])
    more = f"; and {len(copies) - COPIES_NAMED} more" if len(copies) > COPIES_NAMED else ""
    return f" (also in {named}{more})"
