"""Open user images safely: real image files only, within a pixel budget, always RGB."""

from __future__ import annotations

import io
import math
import os
import re
import stat
import warnings
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pathatlas.errors import BadInputError


def open_image(
    data: Path | bytes, max_pixels: int, name: str | None = None, query: bool = False, fit: int | None = None
) -> Image.Image:
    """Decode an image, refusing non-images and decompression bombs before pixels are decoded.

    ``max_pixels`` (PATHATLAS_MAX_IMAGE_PIXELS) is checked per call; Pillow's own process-wide guard is left
    as it is, and its refusal (an image far over Pillow's limit) becomes the same one-line error. Bytes without a
    ``name`` are "the image given": an upload's, or the Python API's (``Atlas.search(image=b"...")``), alike.
    ``query``: decoded no larger than a search uses it (``query_factor``), so a huge query image costs little;
    ``fit``: no smaller than ``fit`` a side where larger, for a viewer drawing it (a 48 MP photo decoded whole at
    every draw cost 2.2 s and 401 MB).
    """
    label = name or (str(data) if isinstance(data, Path) else "the image given")
    if isinstance(data, Path) and os.path.isdir(data):  # "" given as a path is "."; a name too long is no folder
        empty = " (an empty path names the working folder)" if str(data) == "." else ""
        raise BadInputError(f"{label} is a folder, not an image: give an image file{empty}")
    if isinstance(data, Path) and os.path.exists(data) and not os.path.isfile(data):  # read until memory or a writer
        raise BadInputError(f"{label} is not a regular file (a device or a pipe): give an image file")
    try:
        raw = capped_bytes(data, label, max_image_bytes(max_pixels)) if isinstance(data, Path) else data
    except BadInputError as exc:
        raise BadInputError(f"{exc}: scale it down and try again") from exc
    except OSError as exc:
        raise BadInputError(f"cannot read image {label}: {exc.strerror or exc}") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below decides, quietly
        warnings.filterwarnings("ignore", CORRUPT_EXIF, UserWarning)  # Pillow's lines, naming its own source file
        image = decoded(raw, label, max_pixels, query, fit)
        if query or fit:  # before the copies below
            image = reduced(image, fit)
        ImageOps.exif_transpose(image, in_place=True)  # a copy would double a 60-megapixel image's memory
    image = on_white(image)
    return reduced(image, fit) if query or fit else image


IMAGE_BYTES_PER_PIXEL = 8
"""Bytes a pixel of the largest image file read (``max_image_bytes``): an uncompressed 16-bit RGBA or CMYK TIFF, as
a scanner writes one."""
IMAGE_HEADROOM_BYTES = 64 << 20
"""Bytes an image file may hold beyond its pixels (``max_image_bytes``): EXIF, an ICC profile, a TIFF's previews."""


def max_image_bytes(max_pixels: int) -> int:
    """The largest image file read: an uncompressed image at the pixel limit (``IMAGE_BYTES_PER_PIXEL``) and its
    metadata (``IMAGE_HEADROOM_BYTES``). Raising PATHATLAS_MAX_IMAGE_PIXELS raises it."""
    return max_pixels * IMAGE_BYTES_PER_PIXEL + IMAGE_HEADROOM_BYTES


def capped_bytes(path: Path, label: str, limit: int) -> bytes:
    """The bytes of the file at ``path`` where it is a regular file of at most ``limit`` bytes, both checked on the
    open file before a byte is read (a file checked by name and then opened by name may be another by then), opened
    without waiting: a listed pipe would block ``index`` forever, holding the index's write lock, and a sparse 3 GB file
    named .jpg would be read whole (3.1 GB) to be found no image. A file grown since its check is read no further than
    the limit. One reader for case images and query images alike."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise BadInputError(f"{label} is not a regular file (a pipe, a device or a folder)")
        if found.st_size <= limit:
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(limit + 1)
            if len(data) <= limit:
                return data
        raise BadInputError(too_many_bytes(label, os.fstat(fd).st_size, limit))
    finally:
        os.close(fd)


def too_many_bytes(label: str, size: int, limit: int) -> str:
    return (
        f"{label} is {size / 2**20:,.1f} MB, over the limit of {limit / 2**20:,.1f} MB for an image "
        f"({IMAGE_BYTES_PER_PIXEL} bytes a pixel of PATHATLAS_MAX_IMAGE_PIXELS)"
    )


CORRUPT_EXIF = "(Possibly )?[Cc]orrupt EXIF"
"""Pillow's warnings about a damaged EXIF block (a phone's or an editor's): printed as two lines naming Pillow's source
file, on stderr beside the CLI's results, though the picture is read whole; its orientation is then unknown, and the
image is taken as stored."""


def decoded(raw: bytes, label: str, max_pixels: int, query: bool, fit: int | None = None) -> Image.Image:
    """``raw`` decoded (``open_image``), or refused in one line: a query too small to compare (named by ``label``, as
    ``check_query_image`` cannot: it has the pixels alone), over the pixel limit, no image (``not_readable``) or
    damaged."""
    try:
        image = Image.open(io.BytesIO(raw))
        width, height = image.size
        if query and min(width, height) < MIN_QUERY_SIDE:
            raise BadInputError(too_small(label, width, height))
        if width * height > max_pixels:
            raise BadInputError(too_large(label, width, height, max_pixels))
        if (query or fit) and (factor := shrink_factor(image.size, fit)) > 1:  # a JPEG at 1/2, 1/4 or 1/8 its size
            image.draft(image.mode, (width // factor, height // factor))
        image.load()
    except BadInputError:
        raise
    except Image.DecompressionBombError as exc:  # over Pillow's own limit, which it checks on opening
        raise BadInputError(over_limit(label, str(exc), max_pixels)) from exc
    except UnidentifiedImageError as exc:
        raise BadInputError(not_readable(label, raw)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"{label} is a damaged image: {exc}") from exc
    return image


HEIC_HINT = "HEIC photos are not read; export them as JPEG (on iPhone: Settings > Camera > Formats > Most Compatible)"
"""What an iPhone's HEIF photo is told, whether a query image or a case folder's image (``indexer.sources.cases``)."""
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
"""The ``ftyp`` brands of HEIF files (ISO/IEC 23008-12): an iPhone's photo, whatever it is named."""


def not_readable(label: str, raw: bytes) -> str:
    """Why bytes Pillow cannot open are no image, in words a student can act on: an empty file (a copy or download
    that never finished), an iPhone's HEIC photo, or a PDF, SVG drawing or web page (a browser's "Save page" in place
    of "Save image"), each named by its content, not its name; anything else as no readable image."""
    if not raw:
        return f"{label} is empty (0 bytes): copy or download the image again"
    if raw[4:8] == b"ftyp" and raw[8:12] in HEIF_BRANDS:
        return f"{label}: {HEIC_HINT}"
    if kind := document_kind(raw):
        return f"{label} is {kind}, not an image: save or export the picture itself as JPEG or PNG"
    return f"{label} is not a readable image (JPEG, PNG, TIFF, ...)"


def document_kind(raw: bytes) -> str | None:
    """What ``raw`` is where it opens as a PDF, an SVG drawing or a web page (HTML), else None."""
    if raw.startswith(b"%PDF-"):
        return "a PDF"
    head = raw[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head.startswith(b"<"):
        return None
    if b"<svg" in head:
        return "an SVG drawing"
    return "a web page (HTML)" if head.startswith(b"<!doctype html") or b"<html" in head else None


QUERY_LONG_SIDE = 2048
QUERY_SHORT_SIDE = 448
"""The sides a query image keeps at least when decoded reduced: a search reads it at most 1600 pixels large (its
printed words, ``ocr.QUERY_MAX_SIDE``), 768 (its keypoints, ``local.SIDE``) and 224 a tile (the encoder, up to 8
tiles along a panorama). Below twice these nothing is reduced: such a query is decoded as the index decodes it."""
REDUCED_MODES = ("L", "LA", "RGB", "RGBA")
"""Modes ``Image.reduce`` averages as a viewer shows them (transparency premultiplied); others are reduced once RGB
(``on_white``: a palette's indices are no colours to average, a 16-bit image is scaled by its brightest pixel)."""


def query_factor(size: tuple[int, int]) -> int:
    """The whole factor a query image of ``size`` can be reduced by, keeping ``QUERY_LONG_SIDE`` and
    ``QUERY_SHORT_SIDE``; 1 for most."""
    return max(1, min(max(size) // QUERY_LONG_SIDE, min(size) // QUERY_SHORT_SIDE))


def shrink_factor(size: tuple[int, int], fit: int | None = None) -> int:
    """The whole factor an image of ``size`` can be reduced by: keeping ``fit`` a side where given, else a query's
    sides (``query_factor``)."""
    return max(1, min(size) // fit) if fit else query_factor(size)


def reduced(image: Image.Image, fit: int | None = None) -> Image.Image:
    """An image reduced by ``shrink_factor`` (averaging each block of pixels), in ``REDUCED_MODES``; any other
    image as it is."""
    factor = shrink_factor(image.size, fit)
    return image.reduce(factor) if factor > 1 and image.mode in REDUCED_MODES else image


HIGH_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
"""Greyscale modes with more than 8 bits a pixel (16-bit PNG and TIFF, 32-bit integer and float TIFF), which
``convert("RGB")`` clips at 255: a 16-bit micrograph becomes white."""


def on_white(image: Image.Image) -> Image.Image:
    """RGB as a viewer shows the image: transparent parts over white (dropping alpha keeps whatever colour they hide,
    often black). Pasted through its alpha onto white: the pixels ``alpha_composite`` gives, without its two more
    full-size RGBA copies. High-bit-depth greyscale is scaled to 8 bits first (``eight_bit``)."""
    if image.mode in HIGH_BIT_MODES:
        image = eight_bit(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        white = Image.new("RGB", rgba.size, "white")
        white.paste(rgba, mask=rgba)
        return white
    return image.convert("RGB")


def eight_bit(image: Image.Image) -> Image.Image:
    """A high-bit-depth greyscale image as 8-bit ("L"), scaled by the range its camera wrote rather than clipped.

    The range is the smallest bit depth, of 8 or more, that holds the brightest pixel (``full_scale``): a 12-bit
    camera's 0-4095 in a 16-bit file is divided by 4095, not 65535 (which would show it 16 times too dark), and a
    file using the whole 16 bits by 65535. Stretching each image to its own maximum would also show a 12-bit image
    well, but would stretch a dim or nearly blank field's noise to full contrast; this keeps it dim. Values below 0
    read 0; a float image whose values lie within 0-1 is taken as 0-1. Index and query images alike come through
    here (``open_image``). Pillow does the arithmetic (on a 32-bit copy of 16-bit input), not a float array."""
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    brightest = image.getextrema()[1]
    scale = 255 / full_scale(brightest, floating=image.mode == "F")
    return image.point(lambda value: value * scale).convert("L")  # "L" clips below 0 and above 255


def full_scale(brightest: float, floating: bool = False) -> float:
    """The white point of a high-bit-depth image: 2**bits - 1 for the fewest bits (at least 8) holding ``brightest``;
    1.0 for a float image within 0-1."""
    if floating and brightest <= 1.0:
        return 1.0
    if math.isnan(brightest) or brightest <= 0:  # nothing above 0: black whatever the scale
        return 255.0
    return float(2 ** max(8, int(brightest).bit_length()) - 1)


MIN_QUERY_SIDE = 32
"""Pixels a query image needs on each side to be compared with anything (an icon or a 1x1 pixel matches at random)."""

TOO_SMALL = f"too small to compare; give one of at least {MIN_QUERY_SIDE} a side"


BORDER_TOLERANCE = 12
"""How far (of 255, per channel) a border's pixels may stray from its corners' colour: JPEG noise around a flat fill."""
BORDER_SHARE = 0.03
"""The least share of a side a border must take to be trimmed (``border_trimmed``): a frame line is no border."""


def border_trimmed(image: Image.Image) -> Image.Image | None:
    """``image`` without the uniform border around it (a screenshot's or a slide's white or black margin, a picture
    pasted onto a page), where its four corners share one colour and the border takes ``BORDER_SHARE`` of a side or
    more; None where it has none, or where trimming would leave less than ``MIN_QUERY_SIDE`` a side. An image search
    compares the query both ways (``search.Searcher``): padded with a 40 px white border, an atlas screenshot found
    itself at rank 57."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    height, width = pixels.shape[:2]
    corners = pixels[[0, 0, -1, -1], [0, -1, 0, -1]]
    if np.abs(corners - corners[0]).max() > BORDER_TOLERANCE:
        return None
    content = np.abs(pixels - corners[0]).max(axis=2) > BORDER_TOLERANCE
    rows, columns = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if not len(rows):
        return None
    box = (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)
    kept_width, kept_height = box[2] - box[0], box[3] - box[1]
    if min(kept_width, kept_height) < MIN_QUERY_SIDE:
        return None
    if kept_width > width * (1 - BORDER_SHARE) and kept_height > height * (1 - BORDER_SHARE):
        return None
    return image.crop(box)


def check_query_image(image: Image.Image) -> None:
    """Refuse a query image too small to see anything in (an icon, a 1x1 pixel): its nearest cases agree by chance, and
    could settle an answer on them. Given as pixels alone (a PIL image), it is "the image"; a file or an upload is
    refused by its name where it is decoded (``open_image``)."""
    width, height = image.size
    if min(width, height) < MIN_QUERY_SIDE:
        raise BadInputError(too_small("the image", width, height))


def too_small(label: str, width: int, height: int) -> str:
    """The refusal of an image under ``MIN_QUERY_SIDE`` a side, named by ``label`` as every door names its file."""
    return f"{label} is {width}x{height} pixels: {TOO_SMALL}"


def too_large(label: str, width: int, height: int, max_pixels: int) -> str:
    """The refusal of an image over ``max_pixels``; one whose short side is under ``MIN_QUERY_SIDE`` is told at once
    it is too small to compare, as any crop of it would be (a 1000000x30 strip is not told "crop it to 33333x30")."""
    if min(width, height) < MIN_QUERY_SIDE:
        return too_small(label, width, height)
    return (
        f"{label} is {width}x{height} pixels, over the limit of {max_pixels:,} (PATHATLAS_MAX_IMAGE_PIXELS): "
        f"{within(width, height, max_pixels)} and try again"
    )


def within(width: int, height: int, max_pixels: int) -> str:
    """What to do with an image over ``max_pixels``: scale it to the largest size of the same shape under it (what a
    student refused a slide scan does), or crop it (``cropped``) where that size's short side would be under
    ``MIN_QUERY_SIDE``: a 300000x210 strip scaled to 11952x8 would be refused as too small."""
    scale = math.sqrt(max_pixels / (width * height))
    scaled = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    if min(scaled) >= MIN_QUERY_SIDE:
        return f"scale it down to at most {size(scaled)}"
    crop = size(cropped(width, height, max_pixels))
    return f"crop it to at most {crop} (scaled whole it would be {size(scaled)}, too small to compare)"


def size(sides: tuple[int, int]) -> str:
    return f"{sides[0]}x{sides[1]}"


def cropped(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest part of the image under ``max_pixels`` (width, height): its whole short side, as much of the long
    one as the limit leaves; a square where the short side alone is over the limit."""
    short = max(1, min(width, height, math.isqrt(max_pixels)))
    long = min(max(width, height), max_pixels // short)
    return (long, short) if width >= height else (short, long)


def over_limit(label: str, refusal: str, max_pixels: int) -> str:
    """The one-line refusal of an image Pillow refused to open, in the words (and with the setting) of ours: the size
    is read from Pillow's message; the limit is the lower of the two."""
    pixels = re.search(r"\((\d+) pixels\)", refusal)
    size = f"{int(pixels[1]):,} pixels" if pixels else "too many pixels"
    limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or max_pixels))
    return (
        f"{label} is too large to decode safely: {size}, over the limit of {limit:,} (PATHATLAS_MAX_IMAGE_PIXELS): "
        "scale it down and try again"
    )


def thumbnail(image: Image.Image, longest_side: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((longest_side, longest_side))
    return copy


PANORAMA_RATIO = 2
"""An image whose long side exceeds this many times its short side is a panorama (lecturers' slides and atlases set
micrographs side by side in a strip): squashed whole into a square, each micrograph in an 8:1 strip would be
compressed 8x across, so the encoder cuts it into square tiles instead (``panorama_tiles``)."""
PANORAMA_TILES = 8
"""The most tiles a panorama is cut into: each costs the recipe's passes again, and a hairline banner (2000 x 4 pixels)
would otherwise make hundreds of backbone inputs at once."""


def panorama_tiles(image: Image.Image) -> list[Image.Image]:
    """A panorama cut along its long side into tiles as wide as its short side is long, at its own scale; any other
    image whole, as it is.

    Up to ``PANORAMA_TILES`` tiles it is cut end to end into round(ratio) equal tiles, each within 4:5 to 5:4 (a 6:1
    strip of six micrographs gives each back as drawn). A longer one gives ``PANORAMA_TILES`` exact squares spread
    evenly from end to end: cut into 8 equal tiles, a 12000 x 224 strip's would be 1500 x 224 each, squashed 6.7x across
    into the encoder's square, and its own micrographs would find it far behind look-alikes."""
    width, height = image.size
    long_side, short_side = max(width, height), min(width, height)
    if long_side <= PANORAMA_RATIO * short_side:
        return [image]
    count = round(long_side / short_side)
    if count <= PANORAMA_TILES:
        edges = [round(long_side * n / count) for n in range(count + 1)]
        return [crop_along(image, start, end) for start, end in pairwise(edges)]
    starts = [round((long_side - short_side) * n / (PANORAMA_TILES - 1)) for n in range(PANORAMA_TILES)]
    return [crop_along(image, start, start + short_side) for start in starts]


def crop_along(image: Image.Image, start: int, end: int) -> Image.Image:
    """The part of the image from ``start`` to ``end`` along its long side, its whole short side."""
    width, height = image.size
    return image.crop((start, 0, end, height) if width > height else (0, start, width, end))


def indexed_view(image: Image.Image, longest_side: int) -> Image.Image:
    """What an index encodes of an image: ``thumbnail`` (``longest_side`` at most), but a panorama reduced as a query
    is (``reduced``), so its tiles (``panorama_tiles``) are seen at the scale a query's are: thumbnailed to 1024, a
    12000 x 224 strip would become 1024 x 19, its tiles 19 pixels a side where a query's are 224."""
    if max(image.size) <= PANORAMA_RATIO * min(image.size):
        return thumbnail(image, longest_side)
    return reduced(image)
