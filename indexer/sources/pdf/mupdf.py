"""MuPDF's process-wide state kept to one reading at a time: its gathered warnings, and its errors off the
terminal."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_quiet = {"readers": 0, "shown": True}
_quiet_lock = threading.Lock()
_mupdf_lock = threading.RLock()
"""Held by every MuPDF call of a PDF's reading: MuPDF gathers its warnings for the whole process, so while one
reading gathers them (``mupdf_said``) no other may add to them or erase them (a server reads PDFs at once)."""


@contextlib.contextmanager
def quiet_mupdf() -> Iterator[None]:
    """MuPDF's errors kept off the terminal ("MuPDF error: format error: ...") while a PDF is read (``mupdf_said``
    takes what it said). The setting is the process's: the last reader to finish (a server may read two PDFs at once)
    puts it back."""
    import pymupdf

    with _quiet_lock:
        if _quiet["readers"] == 0:
            _quiet["shown"] = pymupdf.TOOLS.mupdf_display_errors()
            pymupdf.TOOLS.mupdf_display_errors(False)
        _quiet["readers"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["readers"] -= 1
            if _quiet["readers"] == 0:
                pymupdf.TOOLS.mupdf_display_errors(_quiet["shown"])


def mupdf_said(read: Callable[[], T]) -> tuple[T, str]:
    """What ``read()`` returns, and the warnings and errors MuPDF gave while it ran, in one line (for a problem or a
    refusal)."""
    import pymupdf

    with _mupdf_lock:
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        result = read()
        return result, one_line_warnings(pymupdf.TOOLS.mupdf_warnings(reset=True))


def one_at_a_time(steps: Iterator[T]) -> Iterator[T]:
    """``steps``, each run holding ``_mupdf_lock``: what the consumer does with an item (embedding a page, its figures'
    OCR) runs beside other readings, and so does a step's own work without MuPDF (``mupdf_let_go``)."""
    try:
        while True:
            with _mupdf_lock:
                try:
                    item = next(steps)
                except StopIteration:
                    return
            yield item
    finally:
        with _mupdf_lock:
            steps.close()  # a reading stopped early closes its document


@contextlib.contextmanager
def mupdf_let_go() -> Iterator[None]:
    """Inside a reading's step (``one_at_a_time``), around work that calls no MuPDF (tesseract reading rendered scans,
    seconds a group): other readings and page renders run meanwhile. Outside a step it does nothing."""
    try:
        _mupdf_lock.release()
    except RuntimeError:  # not held by this thread: nothing to let go
        yield
        return
    try:
        yield
    finally:
        _mupdf_lock.acquire()


@contextlib.contextmanager
def mupdf_alone() -> Iterator[None]:
    """Around MuPDF calls that no reading's ``one_at_a_time`` holds (a PDF's page count, a page rendered for the
    viewer): while they run no reading gathers MuPDF's warnings (``_mupdf_lock``), and MuPDF's errors stay off the
    terminal (``quiet_mupdf``), as ``pymupdf.open`` turns that setting off and back on itself: beside a reading it
    would put back what ``quiet_mupdf`` had turned off."""
    with quiet_mupdf(), _mupdf_lock:
        yield


def one_line_warnings(warnings: str, limit: int = 200) -> str:
    """MuPDF's warnings, each once, in one line of at most ``limit`` characters."""
    lines = dict.fromkeys(line.strip() for line in warnings.splitlines() if line.strip() and line[:3] != "...")
    text = "; ".join(lines)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
