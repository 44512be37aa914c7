"""PathAtlas: cross-modal search and agentic RAG for pathology and medical education.

The project-wide ground every layer may use lives here (``settings``, ``errors``, ``plugins``); the layers
install beside it as ``pathatlas.retrieval``, ``pathatlas.indexer``, ``pathatlas.agent``, ``pathatlas.ui`` and
``pathatlas.corpora`` (see ``docs/ARCHITECTURE.md``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pathatlas")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
