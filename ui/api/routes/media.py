"""Images: thumbnails, rendered pages with the cited region highlighted, case images and details."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import warnings
import zlib
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
from fastapi import APIRouter, Header, HTTPException, Query, status
from fastapi.responses import FileResponse, Response
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.sources.fingerprints import on_disk
from pathatlas.indexer.sources.pdf import mupdf_alone, recount_pages, render
from pathatlas.retrieval.images import HIGH_BIT_MODES
from pathatlas.retrieval.records import (
    RECORD_ID,
    BBox,
    Payload,
    RecordKey,
    display_name,
    organ_text,
    source_id,
    union_box,
)
from pathatlas.retrieval.search import keyed_record, source_names
from pathatlas.ui.api.deps import EngineDep, HeadDep, LinksDep, errors, headers_only
from pathatlas.ui.api.schemas import (
    IN_DIGITS,
    NOT_A_RECORD_ID,
    CaseImageOut,
    CaseOut,
    LinkKey,
    Links,
    has_rendered_pages,
)
from pathatlas.ui.api.uploads import HEADER_BYTES, PDF_HEADER
from pathatlas.ui.present import HALO_RGB, OUTLINE_MARGIN, OUTLINE_POINTS, OUTLINE_RGB, PAGE_TURN_KEY, around

if TYPE_CHECKING:
    import pymupdf

router = APIRouter(tags=["media"])
WEB_IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
"""Formats (as Pillow names them) a case image is served in as it is; other readable images are sent as PNG, and so is
greyscale of more than 8 bits (``HIGH_BIT_MODES``), scaled to its range as its thumbnail is (``eight_bit``): a 12-bit
camera's 16-bit PNG, served as stored, was nearly black in a browser (its brightest 4080 of 65535)."""


SANDBOXED = {"Content-Security-Policy": "sandbox"}
"""Headers of what an uploader made, served from the API's own origin (a PDF's pages, case images): a browser that
takes one for a document runs it sandboxed, without scripts, forms, or the origin's cookies and storage (a PDF's
embedded JavaScript). It is still shown inline."""

THUMBNAIL_CACHE = "public, max-age=86400"
"""A thumbnail's URL is its record's id, which hashes its source's content, so it keeps its picture: caches keep it a
day (one a newer version draws anew is fetched by then, or at once on revalidation, by its ETag). Its key
(``LinkKey``) reaches the same case image or page once that id is gone: a fixed label leaves the picture as it was,
but the page of an edited book may draw otherwise, and a browser may show its old picture for up to that day."""
PRIVATE_CACHE = "private, max-age=3600"
"""A rendered page or a case image: a browser keeps it an hour, so a reader going back and forth between pages and
hits is not made to wait for a render (0.2-1 s a page) again; after that its ETag makes asking again cheap (a 304,
nothing rendered), and a source deleted or changed on disk is seen within the hour. Private: it shows a whole page of
an uploaded book, or a patient's image, which caches shared by several users (proxies) must not keep."""
OUTLINE_DRAWING = 4
"""How ``draw_outline`` draws, counted: raise it when the outline changes (2: a white band under the red line, seen on
pink and purple stains; 3: a passage's blocks outlined apart where a figure lies between them, the render saying how
its page is turned, ``PAGE_TURN_KEY``; 4: a side moved onto the blank lines between the box and the next printed
line, ``band_place``), so a browser holding a render of the same version asks for the new one."""
RENDERER = f"{version('pathatlas')}+outline{OUTLINE_DRAWING}"
"""The version drawing pages: a render's ETag changes with it (a newer outline, ``draw_outline``)."""

SOURCE_CHECK_SECONDS = 2.0
"""How long a source's state on disk (``on_disk``) is taken as known: a case folder's is a ``stat`` of each of its
files (and, once per new state of them, a hash of what they hold), and a page viewer asks for several images at
once."""
_checked: dict[tuple, tuple[float, str]] = {}
CHANGED = "the source changed since it was indexed; re-index it"
PDF_GONE = "the source PDF is no longer on disk"
PDF_UNREADABLE = "the source PDF is no longer readable"
IMAGE_UNREADABLE = "the case image on disk is no longer a readable image"


def check_source(engine, payload: Payload) -> None:
    """410 when the record's source changed on disk since it was indexed: a page rendered from the new file would
    carry the old one's highlight, and a case image another picture under the old labels. A source gone from disk is
    left to each route (its file cannot be opened)."""
    entry = engine.index.manifest.get(payload.source)
    if entry is None:
        return
    key = (payload.source, entry.get("stat"), entry.get("indexed_at"))
    now = time.monotonic()
    known = _checked.get(key)
    if known is None or now - known[0] > SOURCE_CHECK_SECONDS:
        if len(_checked) > 1024:
            _checked.clear()
        known = _checked[key] = (now, on_disk(payload.source, entry, engine.settings))
    if known[1] == "changed":
        raise HTTPException(status.HTTP_410_GONE, CHANGED)


KeyDep = Annotated[LinkKey, Query()]
"""The key a link carries beside its record's id (``LinkKey``), as query parameters."""


def payload_of(engine, record_id: str, key: LinkKey | None = None) -> Payload:
    return record_of(engine, record_id, key)[1]


def record_of(engine, record_id: str, key: LinkKey | None = None) -> tuple[str, Payload]:
    """The id and payload of the record a link names: by its id, else by the key it carries (``LinkKey``), which finds
    the same case image or page under the id indexing its source again gave it; 404 where neither names one (removed
    since, or a link without a key)."""
    if not RECORD_ID.fullmatch(record_id):  # ids are hex: nothing else may reach a file path
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_A_RECORD_ID)
    payload = Payload.from_payloads(engine.index.store.payloads([record_id])).get(record_id)
    if payload is not None:
        return record_id, payload
    if key and (natural := key.key()) and (found := keyed_record(engine.index, natural)):
        return found
    raise HTTPException(status.HTTP_404_NOT_FOUND, "no such record")


def binary(*media_types: str) -> dict:
    """The OpenAPI response of a file in one of ``media_types``, its schema binary: a generated client then returns its
    bytes (one without a schema returned nothing)."""
    return {"content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in media_types}}


CACHED = {"headers": {name: {"schema": {"type": "string"}} for name in ("ETag", "Cache-Control")}}
NOT_MODIFIED = {304: {"description": "Not modified: the ETag in If-None-Match is this version's", **CACHED}}


@router.get(
    "/media/thumbnails/{record_id}",
    operation_id="get_thumbnail",
    response_class=FileResponse,
    summary="A hit's thumbnail (JPEG)",
    responses={200: binary("image/jpeg") | CACHED, **NOT_MODIFIED, **errors(404, 422)},
)
def thumbnail(
    record_id: str,
    engine: EngineDep,
    head: HeadDep,
    key: KeyDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """304 when the client holds this version (its ETag): a page of results shows many thumbnails, again and again."""
    record_id, _ = record_of(engine, record_id, key)
    path = engine.index.thumbnail_path(record_id)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no thumbnail for this record")
    readable(path, status.HTTP_404_NOT_FOUND, "this record's thumbnail cannot be read by the service")
    cache = {"Cache-Control": THUMBNAIL_CACHE}
    served = FileResponse(path, media_type="image/jpeg", stat_result=path.stat(), headers=cache)
    return not_modified(if_none_match, served.headers["etag"], THUMBNAIL_CACHE) or file_answer(served, head)


def readable(path: Path, code: int, detail: str) -> None:
    """Refuse (``code``, ``detail``) a file the service cannot open (its mode, its owner): a ``FileResponse`` of it
    answered 200 and broke off the body, the access log calling it a success."""
    try:
        path.open("rb").close()
    except OSError:
        raise HTTPException(code, detail) from None


def file_answer(served: FileResponse, head: bool) -> Response:
    """A file served (``served``, made with its ``stat_result``: its headers are known), or for a HEAD its headers
    alone, the file not read."""
    return headers_only(served.headers) if head else served


def not_modified(if_none_match: str | None, etag: str, cache: str) -> Response | None:
    """A 304 with ``etag`` and the ``cache`` rule where ``If-None-Match`` names ``etag``; None where the client does not
    hold this version."""
    if if_none_match and etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag, "Cache-Control": cache})
    return None


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (compared weakly, as RFC 9110 says for it) or is ``*``."""
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


@router.get(
    "/media/pages/{record_id}",
    operation_id="get_page_image",
    response_class=Response,
    summary="The cited page rendered as PNG, its region outlined",
    description="The dpi is lowered when the page would exceed PATHATLAS_MAX_PAGE_PIXELS. Cached privately for an "
    "hour; an If-None-Match naming its ETag is answered 304 without rendering the page, and so is a HEAD (200, "
    "without Content-Length).",
    responses={200: binary("image/png") | CACHED, **NOT_MODIFIED, **errors(404, 410, 422)},
)
def page(
    record_id: str,
    engine: EngineDep,
    head: HeadDep,
    key: KeyDep,
    dpi: Annotated[int, Query(ge=36, le=300), IN_DIGITS] = 110,
    captioned: bool = Query(False, description="Outline a figure with its caption (where an answer quotes it)."),
    caption_page: bool = Query(
        False,
        description="For a figure whose caption the book prints on another page (its citation's caption_page): "
        "render that page, the caption outlined (the record's caption_url). 404 for any other record.",
    ),
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    payload = payload_of(engine, record_id, key)
    if payload.page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this record is not on a page")
    number, boxes = caption_place(payload) if caption_page else (payload.page, outlined_boxes(payload, captioned))
    if not has_rendered_pages(payload.source, number):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this record's source is not a PDF: its pages are not rendered")
    if not Path(payload.source).is_file():  # moved or deleted: said before any render, so a HEAD says it too
        raise HTTPException(status.HTTP_410_GONE, PDF_GONE)
    check_source(engine, payload)
    if not has_pdf_header(Path(payload.source)):  # damaged in place or unreadable: a HEAD says it too
        raise HTTPException(status.HTTP_410_GONE, PDF_UNREADABLE)
    key = (payload.source, payload.fingerprint, number, boxes, dpi)
    max_pixels = engine.settings.max_page_pixels
    etag = render_etag(key, max_pixels)
    if unchanged := not_modified(if_none_match, etag, PRIVATE_CACHE):
        return unchanged
    headers = {**SANDBOXED, "ETag": etag, "Cache-Control": PRIVATE_CACHE, "Content-Type": "image/png"}
    if head:
        return headers_only(headers)
    return Response(render_page(key, max_pixels), headers=headers)


OUTLINE_GAP = 2 * (OUTLINE_MARGIN + OUTLINE_POINTS)
"""Blocks of a passage printed closer than this, in points, are outlined as one (``outlined_boxes``): an outline of each
would cross the other's letters, and nothing else printed fits between them (the A&P book's paragraphs and headings
lie 3-8 points apart, a figure between two of a passage's blocks 80 or more)."""


def outlined_boxes(payload: Payload, captioned: bool) -> tuple[BBox, ...]:
    """The boxes a render of the record's page outlines: a passage's blocks, each run of them printed close together
    as one (``close_runs``), so that a figure printed between two is not outlined as if quoted; a figure's box (with
    its caption's where ``captioned``)."""
    if payload.blocks and not captioned:
        return close_runs(payload.blocks, OUTLINE_GAP)
    box = payload.captioned_bbox if captioned else payload.bbox
    return (box,) if box else ()


NO_CAPTION_ELSEWHERE = "this record has no caption printed on another page"


def caption_place(payload: Payload) -> tuple[int, tuple[BBox, ...]]:
    """The page printing a figure's caption where that is not the figure's (``Payload.caption_page``: a caption opening
    the next page), and the box outlined there, the caption's; 404 for any other record, whose caption (if any) its
    own page shows (``captioned``)."""
    if payload.caption_page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_CAPTION_ELSEWHERE)
    return payload.caption_page, (payload.caption_bbox,) if payload.caption_bbox else ()


def close_runs(blocks: Sequence[BBox], gap: float) -> tuple[BBox, ...]:
    """``blocks`` (reading order) as the boxes of their runs: a block starting less than ``gap`` below the run before it
    joins that run."""
    runs = [blocks[0]]
    for block in blocks[1:]:
        if block[1] - runs[-1][3] < gap:
            runs[-1] = union_box([runs[-1], block])
        else:
            runs.append(block)
    return tuple(runs)


def has_pdf_header(path: Path) -> bool:
    """Whether the file at ``path`` opens and holds a PDF's header where readers look for it (``HEADER_BYTES``), as
    every indexed PDF did (MuPDF only repairs a file without it, and the indexer refuses that as damaged): a PDF
    overwritten in place (its size and time kept, so ``check_source`` sees no change) or made unreadable is told
    without a render. Damage past the header only a render finds."""
    try:
        with path.open("rb") as pdf:
            return PDF_HEADER in pdf.read(HEADER_BYTES)
    except OSError:
        return False


def render_etag(key: tuple, max_pixels: int) -> str:
    """The ETag of a page's render, known before rendering it: a hash of all that decides its pixels, ``render_page``'s
    arguments (the source's version by its fingerprint, the page, the box outlined, the dpi, the pixel limit) and the
    version drawing it (``RENDERER``)."""
    return f'"{hashlib.blake2b(repr((key, max_pixels, RENDERER)).encode(), digest_size=16).hexdigest()}"'


@lru_cache(maxsize=32)
def render_page(key: tuple, max_pixels: int) -> bytes:
    """PNG of a page (cached by source version, page, boxes outlined and dpi), at most ``max_pixels`` pixels, saying how
    its page is turned (``PAGE_TURN_KEY``); rendered while no PDF's reading gathers MuPDF's warnings
    (``mupdf_alone``)."""
    source, _, number, boxes, dpi = key
    try:
        import pymupdf  # a page render needs it, not the service's start (the warm-up imports it)

        with mupdf_alone(), pymupdf.open(source) as doc:
            recount_pages(doc)  # page N is the page N indexed, whatever the page tree states
            pdf_page = doc[number - 1]
            pixmap = render(pdf_page, dpi, max_pixels)
            zoom = pixmap.width / max(pdf_page.rect.width, 1e-3)  # below dpi / 72 for a huge page
            for box in boxes:
                draw_outline(pixmap, pymupdf.Rect(around(box)) * pdf_page.rotation_matrix * zoom, OUTLINE_POINTS * zoom)
            shown = min(dpi, 72 * zoom)
            pixmap.set_dpi(round(shown), round(shown))  # PyMuPDF labels every render 96 dpi: say what it is
            return with_text(pixmap.tobytes("png"), PAGE_TURN_KEY, str(pdf_page.rotation))
    except (RuntimeError, ValueError, IndexError) as exc:
        raise HTTPException(status.HTTP_410_GONE, PDF_UNREADABLE) from exc


def draw_outline(pixmap: pymupdf.Pixmap, box: pymupdf.Rect, width: float) -> None:
    """``box`` (the render's pixels) outlined in ``OUTLINE_RGB`` on the render, a stroke ``width`` pixels wide centred
    on its edges, over a ``HALO_RGB`` band half as wide on each side of it: red alone was 1.6:1 on pink and purple H&E,
    and the halo keeps it seen on any picture. A side whose band would cover the ink of a line printed next to the box
    (a word's box reaches past its letters into the lines above and below) goes on the blank lines between them
    (``band_place``). Drawn on the picture, where the page shows the box (its unrotated points turned by the page's
    ``rotation_matrix``), not into the page: on a page both turned by /Rotate and trimmed by a crop box not at 0,0,
    MuPDF placed a drawn rectangle 36-73 points off the passage. Painted into the pixmap's memory: PyMuPDF's
    ``set_rect`` sets one pixel at a time in Python, 0.1 s an outline at 110 dpi and 0.5 s at 300 dpi."""
    half = max(width, 1) / 2
    picture = np.frombuffer(pixmap.samples_mv, np.uint8).reshape(pixmap.height, pixmap.width, pixmap.n)
    halo, red = side_bands(box, 2 * half), side_bands(box, half)
    for side in (TOP, BOTTOM, LEFT, RIGHT):  # the top and bottom first: the left and right sides run between them
        across = side in (TOP, BOTTOM)
        along = (halo[LEFT][0], halo[RIGHT][1]) if across else (halo[TOP][0], halo[BOTTOM][1])
        lines = picture if across else picture.transpose(1, 0, 2)
        middle = round((box.y0 + box.y1) / 2 if across else (box.x0 + box.x1) / 2)
        inward = 1 if side in (LEFT, TOP) else -1
        halo[side], red[side] = band_place(lines, along, middle, halo[side], red[side], inward)
    for colour, (left, top, right, bottom) in ((HALO_RGB, halo), (OUTLINE_RGB, red)):
        for x0, y0, x1, y1 in (
            (left[0], top[0], right[1], top[1]),
            (left[0], bottom[0], right[1], bottom[1]),
            (left[0], top[0], left[1], bottom[1]),
            (right[0], top[0], right[1], bottom[1]),
        ):
            picture[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = colour  # clipped to the picture


Band = tuple[int, int]
"""A side's band across the box's edge: its first pixel line (a column on the left and right, a row on the top and
bottom) and the line past its last."""
LEFT, TOP, RIGHT, BOTTOM = range(4)
"""A box's sides, in the order of a rectangle's edges (x0, y0, x1, y1)."""
NARROWEST_BAND = 2
"""The fewest blank lines a side's band is narrowed into (a red line and white beside it): where the gap between the
passage and the next line is narrower, the band stays where it is drawn on any picture."""


def side_bands(box: pymupdf.Rect, reach: float) -> list[Band]:
    """The pixel lines of a band ``reach`` pixels either side of each of ``box``'s edges (left, top, right, bottom)."""
    import pymupdf

    bands = (pymupdf.Rect(edge - reach, edge - reach, edge + reach, edge + reach).irect for edge in box)
    return [(band.x0, band.x1) for band in bands]


def band_place(lines: np.ndarray, along: Band, middle: int, halo: Band, red: Band, inward: int) -> tuple[Band, Band]:
    """The halo's and the red's bands of one side moving ``inward`` (+1 or -1): ``lines`` is the picture, each row a
    line along the side, ``along`` the columns the side runs over, ``middle`` the box's middle line, which no side
    passes. A band on blank lines (``blank_line``) stays; else it moves in, at most its own width, to the first place
    it fits on blank lines (a word's box reaches 1-2 points into the next printed line, and its letters start 2-5
    points inside it); else it is narrowed into the widest run of blank lines there, ``NARROWEST_BAND`` or more; else
    it stays: a picture's detail, with no gap to move to, is covered as before."""
    band = halo[1] - halo[0]
    outermost = halo[0] if inward > 0 else halo[1] - 1
    movable = max((middle - outermost) * inward, band)  # a box thinner than its outline: drawn as it was
    blank = [step < movable and blank_line(lines, outermost + inward * step, along) for step in range(2 * band)]
    shift = next((step for step in range(band + 1) if all(blank[step : step + band])), None)
    if shift is not None:
        return moved(halo, inward * shift), moved(red, inward * shift)
    start, length = widest_run(blank)
    if length < NARROWEST_BAND:
        return halo, red
    stroke = max(1, round(length * (red[1] - red[0]) / band))
    return inside(outermost, inward, start, length), inside(outermost, inward, start + (length - stroke) // 2, stroke)


def blank_line(lines: np.ndarray, line: int, along: Band) -> bool:
    """Whether pixel line ``line`` of ``lines`` holds one colour over the columns ``along``: nothing printed there that
    a band would hide. A line off the picture is not: a band there is not seen."""
    if not 0 <= line < lines.shape[0]:
        return False
    pixels = lines[line, max(along[0], 0) : max(along[1], 0)]
    return pixels.size > 0 and bool((pixels == pixels[0]).all())


def widest_run(blank: Sequence[bool]) -> tuple[int, int]:
    """The first index and the length of the longest run of True in ``blank``; length 0 where it holds none."""
    best, start = (0, 0), 0
    for is_blank, run in groupby(blank):
        length = len(list(run))
        if is_blank and length > best[1]:
            best = (start, length)
        start += length
    return best


def moved(band: Band, by: int) -> Band:
    return band[0] + by, band[1] + by


def inside(outermost: int, inward: int, start: int, length: int) -> Band:
    """The lines ``start`` to ``start + length`` counted in from ``outermost``, as a band (first line, past last)."""
    first = outermost + inward * start
    return (first, first + length) if inward > 0 else (first - length + 1, first + 1)


PNG_HEADER_END = 33
"""Where a PNG's header chunk (IHDR) ends: its 8-byte signature, then the chunk's length, type, 13 bytes and CRC."""


def with_text(png: bytes, key: str, value: str) -> bytes:
    """``png`` with the text field ``key`` (a tEXt chunk) right after its header, where a reader finds it before the
    pixels (Pillow's ``Image.info``): added to the encoded bytes, the pixels not encoded again."""
    data = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:PNG_HEADER_END] + chunk + png[PNG_HEADER_END:]


@router.get(
    "/media/cases/{record_id}",
    operation_id="get_case_image",
    response_class=Response,
    summary="A case image at full size (JPEG, PNG, GIF or WebP as stored; other formats and 16-bit greyscale as PNG)",
    description="Cached privately for an hour; an If-None-Match naming its ETag is answered 304. A HEAD decodes no "
    "image, only reads its header (one converted to PNG is answered without Content-Length).",
    responses={
        200: binary(*sorted(set(WEB_IMAGE_TYPES.values()))) | CACHED,
        **NOT_MODIFIED,
        **errors(404, 410, 422),
    },
)
def case_image(
    record_id: str,
    engine: EngineDep,
    head: HeadDep,
    key: KeyDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Typed by what the file holds, never by its name: the name is the uploader's (a JPEG named x.html must not
    reach a browser as a page). A format browsers do not show, or greyscale they would show too dark (``as_stored``),
    is sent as PNG, under the file's ETag marked as its PNG copy's (``png_etag``)."""
    payload = payload_of(engine, record_id, key)
    if payload.kind != "case" or not payload.image:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a case image")
    path = (Path(payload.source) / payload.image).resolve()
    if not path.is_relative_to(Path(payload.source).resolve()) or not path.is_file():
        raise HTTPException(status.HTTP_410_GONE, "the case image is no longer on disk")
    check_source(engine, payload)
    if (header := image_header(path)) is None:  # read from its header, so a HEAD says it too
        raise HTTPException(status.HTTP_410_GONE, IMAGE_UNREADABLE)
    media_type = as_stored(*header)
    headers = {**SANDBOXED, "Cache-Control": PRIVATE_CACHE}
    served = FileResponse(path, media_type=media_type or "image/png", stat_result=path.stat(), headers=headers)
    etag = served.headers["etag"] if media_type else png_etag(served.headers["etag"])
    if unchanged := not_modified(if_none_match, etag, PRIVATE_CACHE):
        return unchanged
    if media_type:
        return file_answer(served, head)
    converted = {**headers, "ETag": etag, "Content-Type": "image/png"}
    if head:
        return headers_only(converted)
    try:
        picture = engine.open_image(path).result()
    except BadInputError as exc:
        raise HTTPException(status.HTTP_410_GONE, IMAGE_UNREADABLE) from exc
    png = io.BytesIO()
    picture.save(png, "PNG")
    return Response(png.getvalue(), headers=converted)


def png_etag(etag: str) -> str:
    """The ETag of a case image file's PNG copy: the file's, marked ("-png"). Under the file's own, a browser holding
    the file as an older API served it (a 16-bit PNG as stored, nearly black) was answered 304 and kept it."""
    return etag.removesuffix('"') + '-png"'


def image_header(path: Path) -> tuple[str, str] | None:
    """The format of an image file as Pillow names it and its mode, read from its header (no pixel decoded); None where
    Pillow reads no image there: damaged, unreadable, or over its pixel limit, which decoding it would fail on too."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.format or "", image.mode
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def as_stored(stored_as: str, mode: str) -> str | None:
    """The media type a case image stored in format ``stored_as`` and ``mode`` is served as it is; None where it is
    sent as PNG (``WEB_IMAGE_TYPES``)."""
    return None if mode in HIGH_BIT_MODES else WEB_IMAGE_TYPES.get(stored_as)


@router.get(
    "/cases/{record_id}",
    operation_id="get_case",
    response_model=CaseOut,
    summary="Case details: diagnosis, organ, the labels its images share, and each image with its own labels",
    responses=errors(404, 422),
)
def case_details(record_id: str, engine: EngineDep, links: LinksDep, key: KeyDep) -> CaseOut:
    """The title, diagnosis and organ belong to the case; labels (a stain, notes) to each image, so the case's
    ``labels`` are those every image shares: they were the opened image's, shown as the whole case's."""
    payload = payload_of(engine, record_id, key)
    if payload.kind != "case":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a case image")
    siblings = engine.index.store.scan({"kind": "case", "source": payload.source, "case": payload.case})
    images = sorted(
        (case_image_out(rid, Payload.from_payload(p), links) for rid, p in siblings), key=lambda out: out.image or ""
    )
    return CaseOut(
        case=payload.case,
        title=payload.title,
        diagnosis=payload.diagnosis,
        organ=organ_text(payload.organ),
        labels=shared_labels([image.labels for image in images]),
        # as citations name it ("year2/cases" beside "year1/cases"); responses never reveal server paths
        source=source_names(engine.index).get(payload.source, display_name(payload.source)),
        source_id=source_id(payload.source),
        images=images,
    )


def case_image_out(record_id: str, image: Payload, links: Links) -> CaseImageOut:
    url = links.case_image(record_id, RecordKey(source_id(image.source), case=image.case, image=image.image))
    return CaseImageOut(id=record_id, image=image.image, url=url, labels=image.labels or {})


def shared_labels(labels: list[dict[str, str]]) -> dict[str, str]:
    """The labels every image holds with the same value (a scanner used for all), in the first image's order."""
    first, *others = labels or [{}]
    return {name: value for name, value in first.items() if all(other.get(name) == value for other in others)}
