"""Words printed in images (the labels of a textbook figure), read by Tesseract and cached per image.

Anatomy diagrams and labelled micrographs carry their labels in the pixels ("Periosteum", "Osteoclast"), where
a student's words can match them although neither the caption nor the image vectors do. Tesseract is a system
program (Debian ``tesseract-ocr tesseract-ocr-eng``), run as one subprocess per group of images, a group per core
(starting it takes about 0.2 s, 40 % of a lone figure's 0.48 s; the book with OCR indexes 11 % faster); its
raw output is cached under ``<home>/cache/ocr`` keyed by the image's pixels, so re-indexing and re-benchmarking
read each image once.
``clean_words`` keeps what looks like words. An image query's words are read the same way but never cached (they
are a user's upload), and count only from ``MIN_QUERY_WORDS`` (``query_words``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from PIL import Image

from pathatlas.errors import MissingProgramError

TESSERACT_ARGS = ("--psm", "11", "-l", "eng", "-c", "tessedit_do_invert=0")
"""Page segmentation 11, sparse text: labels scattered over a diagram in no reading order. No second reading of
each line inverted (light on dark): 11 % less time, and caption to figure R@10 0.771 against 0.761 with it."""
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
TSV_COLUMNS = 12
"""level, page_num, block_num, par_num, line_num, word_num, left, top, width, height, conf, text."""
TIMEOUT_S = 60
"""Per image: a group of n images may take n times as long."""
QUERY_MAX_SIDE = 1600
"""An image query is read at most this large (longest side): a 12-megapixel photo takes tesseract seconds; the book's
figures, whose labels it reads, are at most 768 px."""
MIN_QUERY_WORDS = 3
"""An image query's printed words count only from this many: slide-viewer screenshots carry the viewer's controls
("Rotate Image", "native resolution"), which tesseract reads in 25 of the 1,090 dev atlas and LC25000 images, never
more than two words; a labelled diagram has more (chosen on those images, which have no printed labels)."""
WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
MIN_LETTERS = 3
VOWEL = re.compile(r"[aeiouy]", re.IGNORECASE)
TRIPLE = re.compile(r"(.)\1\1", re.IGNORECASE)


class WordReader(Protocol):
    """Reads the words printed in images: one list of words per image, in the order read."""

    def read(self, images: Sequence[Image.Image]) -> list[list[str]]: ...


def clean_words(raw: str) -> list[str]:
    """Distinct words of at least three letters from OCR output; tokens without a vowel or with a letter thrice
    in a row ("lll", "eee": edges and hatching read as text) are dropped."""
    seen: dict[str, str] = {}
    for token in WORD.findall(raw):
        letters = token.replace("-", "").replace("'", "")
        if len(letters) >= MIN_LETTERS and VOWEL.search(letters) and not TRIPLE.search(letters):
            seen.setdefault(token.lower(), token)
    return list(seen.values())


def texts_by_page(tsv: str) -> list[str]:
    """Plain text per input image from tesseract's ``tsv`` output, whose rows name their image (``page_num``);
    the plain-text output gives an image without words no line at all, so a group's texts could not be told
    apart. Words of a line are joined by spaces, lines by newlines, blocks by blank lines."""
    pages: dict[str, dict[tuple[str, ...], list[str]]] = {}
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) != TSV_COLUMNS:
            continue
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


def confident(word: str, confidence: float) -> bool:
    """Whether tesseract read ``word`` surely enough to keep it (short words need more)."""
    short = sum(c.isalpha() for c in word) <= SHORT_WORD_LETTERS
    return confidence >= (SHORT_WORD_CONFIDENCE if short else MIN_CONFIDENCE)


def image_key(image: Image.Image) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(" ".join([image.mode, str(image.size), *READING]).encode())
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
    """An image's printed words as a query: "" when they are fewer than ``MIN_QUERY_WORDS``."""
    return " ".join(words) if len(words) >= MIN_QUERY_WORDS else ""


def require_tesseract(purpose: str = "figure OCR", setting: str = "PATHATLAS_FIGURE_OCR") -> str:
    path = shutil.which("tesseract")
    if path is None:
        raise MissingProgramError(
            f"{purpose} needs the tesseract program: apt-get install tesseract-ocr tesseract-ocr-eng "
            f"(or set {setting}=0)"
        )
    return path


class TesseractReader:
    """``WordReader`` over the tesseract program, ``workers`` images at a time (each run uses one core); without a
    ``cache_dir`` nothing is written (queries)."""

    def __init__(self, cache_dir: Path | None, workers: int | None = None):
        self.program = require_tesseract()
        self.cache = cache_dir / "ocr" if cache_dir is not None else None
        self.workers = max(1, workers or min(os.cpu_count() or 1, 8))

    def read(self, images: Sequence[Image.Image]) -> list[list[str]]:
        keys = [image_key(i) for i in images]
        raw = {}
        if self.cache is not None:
            raw = {k: p.read_text(encoding="utf-8") for k in set(keys) if (p := self.cache / f"{k}.txt").is_file()}
        missing = {k: i for k, i in zip(keys, images, strict=True) if k not in raw}
        if missing:
            groups = [list(missing.items())[n :: self.workers] for n in range(min(self.workers, len(missing)))]
            with ThreadPoolExecutor(len(groups)) as pool:
                for texts in pool.map(self._read_group, groups):
                    raw.update(texts)
        return [clean_words(raw[k] or "") for k in keys]

    def _read_group(self, group: list[tuple[str, Image.Image]]) -> dict[str, str | None]:
        """Raw OCR text per image key, from one tesseract run over the group; when that run fails, one run per
        image, so one unreadable image costs only its own words. Texts are cached; a failed image's is None."""
        texts = self._run([image for _, image in group]) if len(group) > 1 else None
        if texts is None:
            texts = [(self._run([image]) or [None])[0] for _, image in group]
        for (key, _), text in zip(group, texts, strict=True):
            if text is not None and self.cache is not None:
                cache_text(self.cache, key, text)
        return {key: text for (key, _), text in zip(group, texts, strict=True)}

    def _run(self, images: list[Image.Image]) -> list[str] | None:
        """Tesseract over a list file of images: one text per image, or None when it fails."""
        with tempfile.TemporaryDirectory(prefix="pathatlas-ocr-") as folder:
            paths = []
            for n, image in enumerate(images):
                paths.append(Path(folder) / f"{n}.ppm")  # uncompressed: PNG's encoder took 36 ms a figure
                image.convert("RGB").save(paths[-1], "PPM")
            listing = Path(folder) / "images.txt"
            listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
            try:
                done = subprocess.run(
                    [self.program, str(listing), "stdout", *TESSERACT_ARGS, "tsv"],
                    capture_output=True,
                    timeout=TIMEOUT_S * len(images),
                    env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # the pool is the parallelism
                    check=True,
                )
            except (subprocess.SubprocessError, OSError):
                return None
        texts = texts_by_page(done.stdout.decode("utf-8", "replace"))
        return texts if len(texts) == len(images) else None


def cache_text(cache: Path, key: str, text: str) -> None:
    """Atomically, so a reader in another process never sees half a text."""
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(cache / f"{key}.txt")
