"""Registry of sources and discovery of what a user's paths contain."""

from __future__ import annotations

from pathlib import Path

from pathatlas.errors import BadInputError
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.settings import Settings

SOURCES: dict[str, type[Source]] = {"pdf": PdfSource, "cases": CaseFolderSource}


def discover(paths: list[Path], settings: Settings) -> list[Source]:
    """Expand user paths into sources: a PDF, a case folder, or a folder searched for both."""
    found: list[Source] = []
    for path in paths:
        if not path.exists():
            raise BadInputError(f"no such file or folder: {path}")
        sources = _discover_one(path, settings)
        if not sources:
            raise BadInputError(f"no PDFs or case folders found in {path}")
        found.extend(sources)
    return found


def _discover_one(path: Path, settings: Settings) -> list[Source]:
    for source_type in SOURCES.values():
        if source_type.accepts(path):
            return [source_type(path, settings)]
    if path.is_dir():
        sources: list[Source] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir() or any(s.accepts(child) for s in SOURCES.values()):
                sources.extend(_discover_one(child, settings))
        return sources
    raise BadInputError(f"{path} is neither a PDF nor a case folder (a folder with cases.jsonl or labels.csv)")
