"""Words printed in images (the labels of a textbook figure), read by Tesseract and cached per image.

Anatomy diagrams and labelled micrographs carry their labels in the pixels ("Periosteum", "Osteoclast"), where
a student's words can match them although neither the caption nor the image vectors do. Tesseract is a system
program (Debian ``tesseract-ocr tesseract-ocr-eng``), run as a subprocess per image, a few at a time; its raw
output is cached under ``<home>/cache/ocr`` keyed by the image's pixels, so re-indexing and re-benchmarking read
each image once. ``clean_words`` keeps what looks like words.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from PIL import Image

from pathatlas.errors import MissingProgramError

TESSERACT_ARGS = ("--psm", "11", "-l", "eng")
"""Page segmentation 11, sparse text: labels scattered over a diagram in no reading order."""
TIMEOUT_S = 60
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


def image_key(image: Image.Image) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(" ".join([image.mode, str(image.size), *TESSERACT_ARGS]).encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def require_tesseract() -> str:
    path = shutil.which("tesseract")
    if path is None:
        raise MissingProgramError(
            "figure OCR needs the tesseract program: apt-get install tesseract-ocr tesseract-ocr-eng "
            "(or set PATHATLAS_FIGURE_OCR=0)"
        )
    return path


class TesseractReader:
    """``WordReader`` over the tesseract program, ``workers`` images at a time (each run uses one core)."""

    def __init__(self, cache_dir: Path, workers: int | None = None):
        self.program = require_tesseract()
        self.cache = cache_dir / "ocr"
        self.workers = max(1, workers or min(os.cpu_count() or 1, 8))

    def read(self, images: Sequence[Image.Image]) -> list[list[str]]:
        keys = [image_key(i) for i in images]
        raw = {k: p.read_text(encoding="utf-8") for k in set(keys) if (p := self.cache / f"{k}.txt").is_file()}
        missing = {k: i for k, i in zip(keys, images, strict=True) if k not in raw}
        if missing:
            with ThreadPoolExecutor(min(self.workers, len(missing))) as pool:
                raw.update(zip(missing, pool.map(self._run, missing, missing.values()), strict=True))
        return [clean_words(raw[k] or "") for k in keys]

    def _run(self, key: str, image: Image.Image) -> str | None:
        """Raw OCR text of one image, cached; None (not cached) when tesseract fails on it."""
        png = io.BytesIO()
        image.convert("RGB").save(png, "PNG")
        try:
            done = subprocess.run(
                [self.program, "stdin", "stdout", *TESSERACT_ARGS],
                input=png.getvalue(),
                capture_output=True,
                timeout=TIMEOUT_S,
                env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # the pool is the parallelism
                check=True,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        text = done.stdout.decode("utf-8", "replace")
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = self.cache / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.cache / f"{key}.txt")
        return text
