"""Durable file steps (fsync of files and of the folder that changed) and the crash points between them.

Every step that makes index state durable goes through ``crash_point`` first. With ``PATHATLAS_CRASH_AT=N``
(a testing hook; ``pathatlas bench crash`` and the crash suite use it) the process kills itself with SIGKILL
just before the N-th step, so the states between durable steps can be enumerated instead of hoping that a
random ``kill -9`` lands inside a commit that lasts milliseconds. ``PATHATLAS_CRASH_COUNT=FILE`` appends
each step's label to FILE, so a run can count its steps first.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_steps = 0


def crash_point(label: str) -> None:
    """Called before each durable step; dies there when the crash hook says so."""
    global _steps
    _steps += 1
    log = os.environ.get("PATHATLAS_CRASH_COUNT")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{_steps} {label}\n")
    if os.environ.get("PATHATLAS_CRASH_AT") == str(_steps):
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (given a file, its data)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` when it names no file: a write or fsync that fails (a full disk) says only its errno, and
    the one line a user reads should say which file of which index."""
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it; an error names the file."""
    try:
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise named(exc, path) from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader sees the old or the new file, never a mix, even after a crash."""
    tmp = path.with_name(f".{path.name}.tmp")
    write_file(tmp, data)
    crash_point(f"replace {path.name}")
    os.replace(tmp, path)
    fsync_dir(path.parent)
