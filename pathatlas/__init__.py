"""PathAtlas: cross-modal search and agentic RAG for pathology and medical education.

The project-wide ground every layer may use lives here (``settings``, ``errors``, ``plugins``, ``tesseract``); the
layers install beside it as ``pathatlas.retrieval``, ``pathatlas.indexer``, ``pathatlas.agent``, ``pathatlas.ui`` and
``pathatlas.corpora`` (see ``docs/ARCHITECTURE.md``).
"""

import os
from importlib.metadata import PackageNotFoundError, version

# Before torch loads: its OpenMP threads otherwise spin between operations, taking the cores that figure OCR's
# tesseract runs need while indexing (the A&P book with OCR: 142.6 s instead of 164.2 s side by side; without
# OCR no change, 72.8 s against 71.5 s). A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("pathatlas")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
