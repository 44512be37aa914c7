"""Registry of sources and discovery of what a user's paths contain.

Built-in kinds are ``pdf`` and ``cases``; ``PATHATLAS_SOURCES='["py:package.module.Class"]'`` adds your own
``Source`` subclasses, which are asked first whether they accept a path.
"""

from __future__ import annotations

from pathlib import Path

from pathatlas.errors import BadInputError
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.plugins import import_plugin
from pathatlas.settings import Settings

SOURCES: dict[str, type[Source]] = {"pdf": PdfSource, "cases": CaseFolderSource}


def source_types(settings: Settings) -> list[type[Source]]:
    """Plugin sources named in settings first, then the built-in ones."""
    plugins = [import_plugin(name, Source, "source") for name in settings.sources]
    return plugins + list(SOURCES.values())


def discover(paths: list[Path], settings: Settings) -> list[Source]:
    """Expand user paths into sources: a PDF, a case folder, or a folder searched for both."""
    found: list[Source] = []
    types = source_types(settings)
    for path in paths:
        if not path.exists():
            raise BadInputError(f"no such file or folder: {path}")
        sources = _discover_one(path, settings, types)
        if not sources:
            raise BadInputError(f"no PDFs or case folders found in {path}")
        found.extend(sources)
    return found


def _discover_one(path: Path, settings: Settings, types: list[type[Source]]) -> list[Source]:
    for source_type in types:
        if source_type.accepts(path):
            return [source_type(path, settings)]
    if path.is_dir():
        sources: list[Source] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir() or any(s.accepts(child) for s in types):
                sources.extend(_discover_one(child, settings, types))
        return sources
    raise BadInputError(f"{path} is neither a PDF nor a case folder (a folder with cases.jsonl or labels.csv)")
