"""Paths as people type them."""

from __future__ import annotations

import os
from pathlib import Path


def expanded(path: str | os.PathLike[str]) -> Path:
    """``path`` with ``~`` and ``~user`` expanded as a shell does: a ``~name`` of no user on this machine stays as
    typed, a name like any other (``Path.expanduser`` raises RuntimeError there: a search filtered on source
    "~nosuchuser" would answer 500)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)
