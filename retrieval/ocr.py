"""Words printed in images (the labels of a textbook figure), read by Tesseract and cached per image.

Anatomy diagrams and labelled micrographs carry their labels in the pixels ("Periosteum", "Osteoclast"), where
a student's words can match them although neither the caption nor the image vectors do. Tesseract runs in this
process through ``tesserocr`` (libtesseract, kept loaded between calls) where that wheel and English data are
installed (``pathatlas.tesseract``), else as the system program, one subprocess per group of images, a group per
core (starting it takes about 0.2 s: most of what a lone image query's words cost). Raw output is
cached under ``<home>/cache/ocr`` keyed by the image's pixels and the engine, so re-indexing and re-benchmarking
read each image once. ``clean_words`` keeps what looks like words. An image query's words are read the same way
but never cached (they are a user's upload), a slide viewer's own words are dropped, and the rest count only from
``MIN_QUERY_WORDS`` (``query_words``).

A scanned page (a PDF page without a text layer) is read the same way but as a page (``TesseractReader.read_pages``):
tesseract finds its columns and paragraphs itself, and each paragraph comes back whole, with its box, to become the
page's text and passages. A page fed upside down or sideways reads as garbage ("mous pue pel & JO") with little
confidence: such a page alone has its orientation detected (tesseract's OSD) and is read again turned upright, its
boxes turned back into the page's pixels (``TesseractReader.read_pages``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from PIL import Image

from pathatlas import tesseract
from pathatlas.errors import MissingProgramError

LANGUAGE = "eng"
SPARSE_TEXT = 11
"""Page segmentation mode: labels scattered over a diagram in no reading order."""
NO_INVERT = ("tessedit_do_invert", "0")
"""No second reading of each line inverted (light on dark): 11 % less time, and caption to figure R@10 0.771
against 0.761 with it."""
TESSERACT_ARGS = ("--psm", str(SPARSE_TEXT), "-l", LANGUAGE, "-c", "=".join(NO_INVERT))
UNKNOWN_DPI = 70
"""The resolution tesseract assumes for an image that states none (the program's PPM files): the library is told
the same, since an image's own DPI field (a JPEG's 72 or 300) changed what it read (30 book figures: 15 of 30
identical to the program's words at 300 dpi, 19 at 70, the rest differing by the library's newer version)."""
MIN_CONFIDENCE = 60.0
"""Words tesseract reads with less confidence (0-100) are dropped: on textures and micrographs it "reads" short
junk ("oe", "Sse", "dalle") at 0-55, while printed labels read at 85-97. 60 is a common cut, not tuned here."""
SHORT_WORD_LETTERS = 4
SHORT_WORD_CONFIDENCE = 90.0
"""Words of at most ``SHORT_WORD_LETTERS`` letters need this much: on LC25000 tiles, micrographs without a printed
word, 22 of 300 still gave a word at 60 ("big", "fet", "sate"), all of 3-4 letters; none did at 85, the lowest
cut without any on those tiles, but `pathatlas demo`'s drawn gland micrograph still gave "ete" at 86.3, so the cut
is the next step measured, 90. The book's figures keep their labels: caption to figure by printed words alone
stays at R@10 0.771 at 85 and 90 (BENCHMARKS.md)."""
READING = (*TESSERACT_ARGS, f"conf>={MIN_CONFIDENCE}", f"short<={SHORT_WORD_LETTERS}:{SHORT_WORD_CONFIDENCE}")
"""Everything that decides the cached text of an image besides its pixels."""
AUTOMATIC = 3
"""Page segmentation mode of a scanned page: columns and paragraphs found by tesseract, read in order."""
PAGE_ARGS = ("--psm", str(AUTOMATIC), "-l", LANGUAGE, "-c", "=".join(NO_INVERT))
UPRIGHT_CONFIDENCE = 60.0
"""A page whose words tesseract reads with less confidence on average (0-100) may be upside down or sideways, and has
its orientation detected: 10 book pages at 300 dpi read upright at 90-96 (70-96 blurred at half the resolution), upside
down or turned 90 degrees at 34-47. Upright pages above it (nearly every scan) cost nothing more."""
ORIENTATION_LANGUAGE = "osd"
"""Tesseract's data for orientation and script detection (``osd.traineddata``, beside English in its packages)."""
ORIENTATION_ONLY = 0
"""Page segmentation mode that only detects orientation and script."""
ORIENTATION_ARGS = ("--psm", str(ORIENTATION_ONLY), "-l", ORIENTATION_LANGUAGE)
MIN_ORIENTATION_CONFIDENCE = 2.0
"""How much more surely (tesseract's margin over the next orientation) a doubtful page must be found turned to be read
turned: two printed lines turned any way gave 2.9-4.0, book pages 18-34, atlas screenshots of slides (no words) none or
0-0.3."""
PAGE_READING = (*PAGE_ARGS, "tsv", f"conf>={MIN_CONFIDENCE}", f"upright<{UPRIGHT_CONFIDENCE}")
"""What decides the cached reading of a page besides its pixels and resolution: the raw TSV is cached (its boxes
are needed), prose keeps every word read with ``MIN_CONFIDENCE`` (short words included: "of", "is"), and a page read
with less than ``UPRIGHT_CONFIDENCE`` is read again turned upright where tesseract finds it turned."""
Turn = tuple[int, float]
"""A page's orientation as tesseract detects it: the degrees to turn it anticlockwise to stand upright (0, 90, 180,
270), and the confidence of it (``MIN_ORIENTATION_CONFIDENCE``)."""
TSV_COLUMNS = 12
"""level, page_num, block_num, par_num, line_num, word_num, left, top, width, height, conf, text."""
TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
TIMEOUT_S = 60
"""Per image: a group of n images may take n times as long."""
QUERY_MAX_SIDE = 1600
"""An image query is read at most this large (longest side): a 12-megapixel photo takes tesseract seconds; the book's
figures, whose labels it reads, are at most 768 px."""
MIN_QUERY_WORDS = 3
"""An image query's printed words count only from this many: slide-viewer screenshots carry the viewer's controls
("Rotate Image", "native resolution"), which tesseract reads in 25 of the 1,090 dev atlas and LC25000 images, never
more than two words; a labelled diagram has more (chosen on those images, which have no printed labels). Counted
after ``VIEWER_WORDS`` are dropped."""
VIEWER_WORDS = (("rotate", "image"), ("scale", "bar"), ("native", "resolution"), ("rotate",), ("zoom",), ("home",))
"""What a slide viewer prints around the tissue (its scale bar, buttons and title bar), each a run of words read in
a row: no words of the picture asked about, so an image query drops them before counting. Each was read or printed in
a viewer's screenshot: "Rotate Image" (23 dev atlas screenshots), "native resolution" (one), and a tester's "Scale bar
100 um Rotate Image Home" under a "zoom 20x" title, read "Scale bar Folate Image", whose three words put a textbook
figure above the case. "image", "scale" and "native" go only in their pairs, since they mean things in a diagram too:
the book's Figure 14.24 prints "Integrated image", which its caption names (dropping the word alone cost it rank 1).
None of the book's 720 figures prints a pair, "rotate", "zoom" or "home"."""
WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
MIN_LETTERS = 3
VOWEL = re.compile(r"[aeiouy]", re.IGNORECASE)
TRIPLE = re.compile(r"(.)\1\1", re.IGNORECASE)


class WordReader(Protocol):
    """Reads the words printed in images: one list of words per image, in the order read (benchmarks report a
    reader's ``name`` when it has one)."""

    def read(self, images: Sequence[Image.Image]) -> list[list[str]]: ...


class TesseractEngine(Protocol):
    """Runs tesseract: one raw text per image (``texts_by_page``), None for an image it could not read; one TSV
    per scanned page, read as a page at ``dpi`` (``page_tsvs``); and a page's orientation (``orientation``), None
    where it cannot be told (too few letters, no ``osd.traineddata``)."""

    name: str
    """What runs, for reports; besides the pixels and ``READING`` it decides the texts (part of the cache key)."""
    detects_orientation: bool
    """Whether tesseract has its orientation data (``osd.traineddata``), without which a turned page is read as given
    (part of a page's cache key: installing it later reads such a page again)."""

    def texts(self, images: Sequence[Image.Image]) -> list[str | None]: ...

    def page_tsvs(self, images: Sequence[Image.Image], dpi: int) -> list[str | None]: ...

    def orientation(self, image: Image.Image, dpi: int) -> Turn | None: ...


Paragraph = tuple[tuple[float, float, float, float], str]
"""A paragraph read on a page image: the box of its words in pixels (x0, y0, x1, y1), its lines."""


def clean_words(raw: str) -> list[str]:
    """Distinct words of at least three letters from OCR output; tokens without a vowel or with a letter thrice
    in a row ("lll", "eee": edges and hatching read as text) are dropped."""
    seen: dict[str, str] = {}
    for token in WORD.findall(raw):
        letters = token.replace("-", "").replace("'", "")
        if len(letters) >= MIN_LETTERS and VOWEL.search(letters) and not TRIPLE.search(letters):
            seen.setdefault(token.lower(), token)
    return list(seen.values())


def tsv_rows(tsv: str) -> Iterator[list[str]]:
    """The fields of each row of tesseract's ``tsv`` output below its header; a row without ``TSV_COLUMNS`` fields is
    skipped."""
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) == TSV_COLUMNS:
            yield fields


def texts_by_page(tsv: str) -> list[str]:
    """Plain text per input image from tesseract's ``tsv`` output, whose rows name their image (``page_num``);
    the plain-text output gives an image without words no line at all, so a group's texts could not be told
    apart. Words of a line are joined by spaces, lines by newlines, blocks by blank lines."""
    pages: dict[str, dict[tuple[str, ...], list[str]]] = {}
    for fields in tsv_rows(tsv):
        level, page, *where, text = fields[0], fields[1], *fields[2:5], fields[-1]
        lines = pages.setdefault(page, {})  # level 1 rows name every image, words or not
        if level == "5" and text.strip() and confident(text, float(fields[10])):
            lines.setdefault(tuple(where), []).append(text)
    texts = []
    for lines in pages.values():
        blocks: dict[str, list[str]] = {}
        for (block, *_), words in lines.items():
            blocks.setdefault(block, []).append(" ".join(words))
        texts.append("\n\n".join("\n".join(block) for block in blocks.values()))
    return texts


def tsv_by_page(tsv: str) -> list[str]:
    """Tesseract's TSV of a group of images split into one TSV per image (each with the header row)."""
    pages: dict[str, list[str]] = {}
    for fields in tsv_rows(tsv):
        pages.setdefault(fields[1], []).append("\t".join(fields))
    return [TSV_HEADER + "".join(f"{row}\n" for row in rows) for rows in pages.values()]


def paragraphs(tsv: str) -> list[Paragraph]:
    """The paragraphs of one page's TSV in tesseract's reading order: words read with ``MIN_CONFIDENCE`` joined by
    spaces, lines by newlines, each paragraph boxed by its words."""
    found: dict[tuple[str, str], tuple[list[tuple[float, float, float, float]], dict[str, list[str]]]] = {}
    for fields in tsv_rows(tsv):
        if fields[0] != "5" or not fields[-1].strip() or float(fields[10]) < MIN_CONFIDENCE:
            continue
        left, top, width, height = (float(v) for v in fields[6:10])
        boxes, lines = found.setdefault((fields[2], fields[3]), ([], {}))
        boxes.append((left, top, left + width, top + height))
        lines.setdefault(fields[4], []).append(fields[-1].strip())
    return [
        (
            (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)),
            "\n".join(" ".join(words) for words in lines.values()),
        )
        for boxes, lines in found.values()
    ]


def mean_confidence(tsv: str) -> float:
    """The average confidence (0-100) of the words of one page's TSV; 0 without any."""
    confidences = [float(fields[10]) for fields in tsv_rows(tsv) if fields[0] == "5" and fields[-1].strip()]
    return sum(confidences) / len(confidences) if confidences else 0.0


def turned_back(tsv: str, degrees: int, size: tuple[int, int]) -> str:
    """The TSV read on a page image turned ``degrees`` anticlockwise (``Image.rotate`` with ``expand``), its boxes
    in the pixels of the page as given, of ``size``: the page's passages are boxed where its PDF shows them."""
    width, height = size
    back = {
        90: lambda x, y: (width - y, x),
        180: lambda x, y: (width - x, height - y),
        270: lambda x, y: (y, height - x),
    }[degrees]
    rows = []
    for fields in tsv_rows(tsv):
        left, top, box_width, box_height = (int(v) for v in fields[6:10])
        corners = [back(left, top), back(left + box_width, top + box_height)]
        xs, ys = sorted(x for x, _ in corners), sorted(y for _, y in corners)
        fields[6:10] = (str(xs[0]), str(ys[0]), str(xs[1] - xs[0]), str(ys[1] - ys[0]))
        rows.append("\t".join(fields) + "\n")
    return TSV_HEADER + "".join(rows)


def confident(word: str, confidence: float) -> bool:
    """Whether tesseract read ``word`` surely enough to keep it (short words need more)."""
    short = sum(c.isalpha() for c in word) <= SHORT_WORD_LETTERS
    return confidence >= (SHORT_WORD_CONFIDENCE if short else MIN_CONFIDENCE)


def image_key(image: Image.Image, engine: str, reading: Sequence[str] = READING) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(" ".join([image.mode, str(image.size), *reading, engine]).encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def query_words(reader: WordReader, images: Sequence[Image.Image]) -> list[str]:
    """Each image query's printed words as one BM25 query (``query_text``), read at most ``QUERY_MAX_SIDE`` large."""
    shrunk = []
    for image in images:
        if max(image.size) > QUERY_MAX_SIDE:
            image = image.copy()
            image.thumbnail((QUERY_MAX_SIDE, QUERY_MAX_SIDE), Image.BICUBIC)
        shrunk.append(image)
    return [query_text(words) for words in reader.read(shrunk)]


def query_text(words: Sequence[str]) -> str:
    """An image's printed words as a query, a slide viewer's (``VIEWER_WORDS``) left out: "" when fewer than
    ``MIN_QUERY_WORDS`` remain."""
    kept = without_viewer_words(words)
    return " ".join(kept) if len(kept) >= MIN_QUERY_WORDS else ""


def without_viewer_words(words: Sequence[str]) -> list[str]:
    """``words`` less each run of them that spells one of ``VIEWER_WORDS`` (any case)."""
    lowered = [word.lower() for word in words]
    dropped = {
        at + n
        for phrase in VIEWER_WORDS
        for at in range(len(words) - len(phrase) + 1)
        if tuple(lowered[at : at + len(phrase)]) == phrase
        for n in range(len(phrase))
    }
    return [word for at, word in enumerate(words) if at not in dropped]


class TesseractReader:
    """``WordReader`` over a tesseract engine (``tesseract_engine()`` unless given), ``workers`` images at a time
    (each uses one core); without a ``cache_dir`` nothing is written (queries)."""

    def __init__(self, cache_dir: Path | None, workers: int | None = None, engine: TesseractEngine | None = None):
        self.engine = engine or tesseract_engine()
        self.cache = cache_dir / "ocr" if cache_dir is not None else None
        self.workers = max(1, workers or min(os.cpu_count() or 1, 8))

    @property
    def name(self) -> str:
        """What reads (benchmarks report it)."""
        return self.engine.name

    def read(self, images: Sequence[Image.Image]) -> list[list[str]]:
        keys = [image_key(i, self.engine.name) for i in images]
        raw = self._raw(keys, images, self.engine.texts)
        return [clean_words(raw[k] or "") for k in keys]

    def read_pages(self, images: Sequence[Image.Image], dpi: int) -> list[list[Paragraph]]:
        """Each scanned page's paragraphs (boxes in the image's pixels), read upright (``_upright_tsv``); ``dpi`` is
        what the page was rendered at."""
        turning = ORIENTATION_LANGUAGE if self.engine.detects_orientation else f"no {ORIENTATION_LANGUAGE}"
        keys = [image_key(i, self.engine.name, (*PAGE_READING, f"{dpi} dpi", turning)) for i in images]
        raw = self._raw(keys, images, lambda group: self._upright_tsvs(group, dpi))
        return [paragraphs(raw[k] or "") for k in keys]

    def _upright_tsvs(self, images: list[Image.Image], dpi: int) -> list[str | None]:
        """The pages' TSVs, each read as given, and again turned where that reading is doubtful (``_upright_tsv``)."""
        tsvs = self.engine.page_tsvs(images, dpi)
        return [None if t is None else self._upright_tsv(image, t, dpi) for image, t in zip(images, tsvs, strict=True)]

    def _upright_tsv(self, image: Image.Image, tsv: str, dpi: int) -> str:
        """``tsv``, read on the page as given; where its words are read with less than ``UPRIGHT_CONFIDENCE`` (a page
        fed upside down or sideways reads as garbage) and tesseract finds the page turned surely enough, the page's
        reading turned upright instead, boxed in the given page's pixels, if its words read with more confidence.
        Where the orientation cannot be told (few letters) the page is read as given."""
        if mean_confidence(tsv) >= UPRIGHT_CONFIDENCE:
            return tsv
        turn = self.engine.orientation(image, dpi)
        if turn is None or turn[0] == 0 or turn[1] < MIN_ORIENTATION_CONFIDENCE:
            return tsv
        turned = self.engine.page_tsvs([image.rotate(turn[0], expand=True)], dpi)[0]
        if turned is None or mean_confidence(turned) <= mean_confidence(tsv):
            return tsv
        return turned_back(turned, turn[0], image.size)

    def _raw(
        self, keys: list[str], images: Sequence[Image.Image], run: Callable[[list[Image.Image]], list[str | None]]
    ) -> dict[str, str | None]:
        """Raw output per image key: cached, else ``run`` over groups of the missing images, one group per worker."""
        raw: dict[str, str | None] = {}
        if self.cache is not None:
            raw = {k: p.read_text(encoding="utf-8") for k in set(keys) if (p := self.cache / f"{k}.txt").is_file()}
        missing = list({k: i for k, i in zip(keys, images, strict=True) if k not in raw}.items())
        if len(missing) == 1:  # an image query: no thread to start
            raw.update(self._read_group(missing, run))
        elif missing:
            groups = [missing[n :: self.workers] for n in range(min(self.workers, len(missing)))]
            with ThreadPoolExecutor(len(groups)) as pool:
                for texts in pool.map(lambda group: self._read_group(group, run), groups):
                    raw.update(texts)
        return raw

    def _read_group(
        self, group: list[tuple[str, Image.Image]], run: Callable[[list[Image.Image]], list[str | None]]
    ) -> dict[str, str | None]:
        """Raw OCR output per image key; outputs are cached, a failed image's (None) is not."""
        texts = run([image for _, image in group])
        for (key, _), text in zip(group, texts, strict=True):
            if text is not None and self.cache is not None:
                cache_text(self.cache, key, text)
        return {key: text for (key, _), text in zip(group, texts, strict=True)}


def tesseract_engine(purpose: str = "figure OCR", setting: str = "PATHATLAS_FIGURE_OCR") -> TesseractEngine:
    """The library where it is installed, else the program; without either ``MissingProgramError`` naming
    ``purpose`` and the ``setting`` that turns it off."""
    if tesseract.library_installed():
        with contextlib.suppress(ImportError, OSError):  # a wheel that cannot load here: the program, if any
            return _library(tesseract.find_tessdata())
    program = tesseract.program()
    if program is None:
        raise MissingProgramError(f"{purpose} needs tesseract ({tesseract.INSTALL_HINT}); or set {setting}=0")
    return TesseractProgram(program)


def engine_name() -> str | None:
    """What would read images' printed words on this machine, as ``pathatlas info`` says it: the engine, and the
    resolution it reads every figure and image query at (``UNKNOWN_DPI``), which the library's ``name`` (its cache's
    key) ends in without a word of what it is; None without tesseract."""
    try:
        name = tesseract_engine().name
    except MissingProgramError:
        return None
    dpi = f"{UNKNOWN_DPI} dpi"
    return f"{name.removesuffix(f' {dpi}')}, images read as {dpi} whatever resolution they state (tesseract's default)"


@functools.cache
def _library(tessdata: str) -> TesseractLibrary:
    """One per process, so its loaded readers serve every later call."""
    return TesseractLibrary(tessdata)


class TesseractProgram:
    """The tesseract program over a list file of images, one run per group; when that run fails, one run per
    image, so one unreadable image costs only its own words."""

    name = "tesseract program"

    def __init__(self, program: str):
        self.program = program

    @property
    def detects_orientation(self) -> bool:
        return ORIENTATION_LANGUAGE in program_languages(self.program)

    def texts(self, images: Sequence[Image.Image]) -> list[str | None]:
        return self._each(list(images), lambda group: self._texts(self._run(group, TESSERACT_ARGS), len(group)))

    def page_tsvs(self, images: Sequence[Image.Image], dpi: int) -> list[str | None]:
        def run(group: list[Image.Image]) -> list[str] | None:
            tsvs = tsv_by_page(self._run(group, (*PAGE_ARGS, "--dpi", str(dpi)), "L") or "")
            return tsvs if len(tsvs) == len(group) else None

        return self._each(list(images), run)

    def orientation(self, image: Image.Image, dpi: int) -> Turn | None:
        output = self._run([image], (*ORIENTATION_ARGS, "--dpi", str(dpi)), "L")
        degrees = re.search(r"^Orientation in degrees: (\d+)$", output or "", re.MULTILINE)
        confidence = re.search(r"^Orientation confidence: ([\d.]+)$", output or "", re.MULTILINE)
        return (int(degrees[1]), float(confidence[1])) if degrees and confidence else None

    @staticmethod
    def _each(images: list[Image.Image], run: Callable[[list[Image.Image]], list[str] | None]) -> list[str | None]:
        """``run`` over the group; when it fails, over each image alone (None for one that fails alone)."""
        outputs = run(images) if len(images) > 1 else None
        return outputs if outputs is not None else [(run([image]) or [None])[0] for image in images]

    @staticmethod
    def _texts(tsv: str | None, count: int) -> list[str] | None:
        texts = texts_by_page(tsv) if tsv is not None else []
        return texts if len(texts) == count else None

    def _run(self, images: list[Image.Image], args: Sequence[str], mode: str = "RGB") -> str | None:
        """The output of one run over the images (saved in ``mode``: a page's grey is a third of its colour), or None
        when the run fails: a TSV, or with ``ORIENTATION_ONLY`` the orientation's lines."""
        with tempfile.TemporaryDirectory(prefix="pathatlas-ocr-") as folder:
            paths = []
            for n, image in enumerate(images):
                paths.append(Path(folder) / f"{n}.ppm")  # uncompressed: PNG's encoder takes 36 ms a figure
                image.convert(mode).save(paths[-1], "PPM")
            listing = Path(folder) / "images.txt"
            listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
            try:
                done = subprocess.run(
                    [self.program, str(listing), "stdout", *args, "tsv"],
                    capture_output=True,
                    timeout=TIMEOUT_S * len(images),
                    env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # the pool is the parallelism
                    check=True,
                )
            except (subprocess.SubprocessError, OSError):
                return None
        return done.stdout.decode("utf-8", "replace")


@functools.cache
def program_languages(program: str) -> frozenset[str]:
    """The languages the tesseract ``program`` has data for (``--list-langs``: a heading, then one a line), asked once
    per process; none where it cannot tell."""
    try:
        done = subprocess.run([program, "--list-langs"], capture_output=True, timeout=TIMEOUT_S, check=True)
    except (subprocess.SubprocessError, OSError):
        return frozenset()
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and " " not in line.strip())


class TesseractLibrary:
    """libtesseract through ``tesserocr``, loaded once per concurrent reader and kept for the next call: an image
    query's words in about 0.07 s instead of the program's 0.2 s (loading English takes 0.1 s). At most ``readers``
    (default: one per core) read at once, each holding 10-20 MB; more callers (a busy REST server) wait for one,
    since reading is CPU-bound. The wheel bundles a newer tesseract than Debian's program, so its readings differ a
    little and are cached apart (``name``)."""

    def __init__(self, tessdata: str, readers: int | None = None):
        import tesserocr

        self.tesserocr = tesserocr
        self.tessdata = tessdata
        self.name = f"tesserocr {tesserocr.__version__} tesseract {tesserocr.PyTessBaseAPI.Version()} {UNKNOWN_DPI} dpi"
        self.idle: dict[str, queue.SimpleQueue] = {n: queue.SimpleQueue() for n in (LANGUAGE, ORIENTATION_LANGUAGE)}
        self.slots = threading.BoundedSemaphore(max(1, readers or os.cpu_count() or 1))
        quiet_leptonica(Path(tesserocr.__file__).parent.parent / "tesserocr.libs")

    def texts(self, images: Sequence[Image.Image]) -> list[str | None]:
        with self._api() as api:
            return [self._text(api, image) for image in images]

    def page_tsvs(self, images: Sequence[Image.Image], dpi: int) -> list[str | None]:
        with self._api() as api:
            api.SetPageSegMode(AUTOMATIC)
            try:
                return [self._tsv(api, image.convert("L"), dpi) for image in images]
            finally:
                api.SetPageSegMode(SPARSE_TEXT)

    @functools.cached_property
    def detects_orientation(self) -> bool:
        return (Path(self.tessdata) / f"{ORIENTATION_LANGUAGE}.traineddata").is_file()

    def orientation(self, image: Image.Image, dpi: int) -> Turn | None:
        """Detected by a reader of ``osd.traineddata`` (``_load_orientation``); None without it."""
        if not self.detects_orientation:
            return None
        try:
            with self._api(ORIENTATION_LANGUAGE) as api:
                try:
                    api.SetImage(image.convert("L"))
                    api.SetSourceResolution(dpi)
                    found = api.DetectOrientationScript()  # None with too few letters
                finally:
                    api.Clear()
        except (RuntimeError, MissingProgramError):  # a damaged osd.traineddata: read as given
            return None
        return (found["orient_deg"], found["orient_conf"]) if found else None

    @contextlib.contextmanager
    def _api(self, language: str = LANGUAGE) -> Iterator:
        """A loaded reader of ``language`` for this thread, given back for the next call when done."""
        with self.slots:
            try:
                api = self.idle[language].get_nowait()
            except queue.Empty:
                api = self._load() if language == LANGUAGE else self._load_orientation()
            try:
                yield api
            finally:
                self.idle[language].put(api)

    def _load(self):
        """A reader of English, reading ``SPARSE_TEXT`` (a page: ``page_tsvs`` sets its mode)."""
        api = self._loaded(LANGUAGE, SPARSE_TEXT, "English")
        api.SetVariable(*NO_INVERT)
        return api

    def _load_orientation(self):
        """A reader of ``osd.traineddata``, which only detects orientation: English's cannot (detecting with it
        aborted the process)."""
        return self._loaded(ORIENTATION_LANGUAGE, ORIENTATION_ONLY, "orientation")

    def _loaded(self, language: str, mode: int, named: str):
        try:
            return self.tesserocr.PyTessBaseAPI(path=self.tessdata, lang=language, psm=mode)
        except RuntimeError as exc:  # a damaged or foreign traineddata
            message = f"tesseract could not load the {named} data in {self.tessdata} ({tesseract.INSTALL_HINT})"
            raise MissingProgramError(message) from exc

    @classmethod
    def _text(cls, api, image: Image.Image) -> str | None:
        tsv = cls._tsv(api, image.convert("RGB"), UNKNOWN_DPI)
        texts = texts_by_page(tsv) if tsv is not None else None
        return None if texts is None else texts[0] if texts else ""

    @staticmethod
    def _tsv(api, image: Image.Image, dpi: int) -> str | None:
        try:
            api.SetImage(image)
            api.SetSourceResolution(dpi)
            return TSV_HEADER + api.GetTSVText(0)
        except RuntimeError:
            return None
        finally:
            api.Clear()


def quiet_leptonica(libs: Path) -> None:
    """Silence the image library under tesseract, which prints notes such as "Error in boxClipToRectangle" on
    stderr for harmless cases; the program's are captured with its output, the library's would reach the user's
    terminal. The wheel's own copy is the one loaded (``setMsgSeverity``, L_SEVERITY_NONE)."""
    for library in libs.glob("libleptonica*.so*"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(str(library)).setMsgSeverity(6)


def cache_text(cache: Path, key: str, text: str) -> None:
    """Atomically, so a reader in another process never sees half a text."""
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(cache / f"{key}.txt")
