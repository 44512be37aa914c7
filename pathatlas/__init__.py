"""PathAtlas: cross-modal search and agentic RAG for pathology and medical education.

From Python, ``Atlas`` is one index to add PDFs and case folders to, search (text, an image or both), ask questions
of and list, with what the CLI prints as plain values (``help(pathatlas.Atlas)``)::

    from pathatlas import Atlas

    with Atlas("my-index") as atlas:
        atlas.add("book.pdf", "cases/")
        hits = atlas.search("koilocytes in cervical epithelium", k=5)

The project-wide ground every layer may use lives here (``settings``, ``errors``, ``plugins``, ``tesseract``); the
layers install beside it as ``pathatlas.retrieval``, ``pathatlas.indexer``, ``pathatlas.agent``, ``pathatlas.ui`` and
``pathatlas.corpora`` (see ``docs/ARCHITECTURE.md``).
"""

import os
from importlib.metadata import PackageNotFoundError, version

# Before torch loads: its OpenMP threads otherwise spin between operations, taking the cores that figure OCR's
# tesseract runs need while indexing (the A&P book with OCR: 142.6 s against 164.2 s spinning, side by side; without OCR
# no change, 72.8 s against 71.5 s). A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("pathatlas")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    """``pathatlas.Atlas`` (``ui.library``) imported on first use, so that ``import pathatlas`` stays light."""
    if name == "Atlas":
        from pathatlas.ui.library import Atlas

        return Atlas
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
