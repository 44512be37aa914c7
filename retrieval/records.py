"""What the index stores (``Entry``) and what a search returns (``Hit`` with its ``Citation``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

BBox = tuple[float, float, float, float]
"""x0, y0, x1, y1 in PDF points (1/72 inch), origin top left, as pymupdf reports them."""

FILTER_FIELDS = ("kind", "source", "fingerprint", "organ", "diagnosis", "case", "section")
"""Payload fields that every store indexes for filtering."""


@dataclass
class Entry:
    """One searchable unit: a page, a figure or one image of a case.

    ``text`` feeds BM25 and the text encoders; ``image`` feeds the image encoders. ``payload`` is
    what a hit shows and cites; it always has ``kind`` and ``source``.
    """

    id: str
    payload: dict[str, Any]
    text: str = ""
    image: Image.Image | None = None
    """What the image encoders see; None for entries found by text alone."""
    thumbnail: Image.Image | None = None
    """What a hit shows; saved under the index's media folder."""


@dataclass
class StoredVectors:
    """An entry's id, payload and its vector per named space, as handed to a ``VectorStore``."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray]


@dataclass(frozen=True)
class Citation:
    """Where a hit comes from, precisely enough for a reader to open it."""

    source: str
    page: int | None = None
    figure: str | None = None
    bbox: BBox | None = None
    case: str | None = None
    image: str | None = None

    def label(self) -> str:
        parts = [self.source.rsplit("/", 1)[-1]]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.figure:
            parts.append(self.figure)
        if self.case:
            parts.append(f"case {self.case}")
        return ", ".join(parts)


@dataclass
class Hit:
    id: str
    score: float
    kind: str
    snippet: str
    citation: Citation
    thumbnail: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    matched_by: dict[str, int] = field(default_factory=dict)
    """Ranker name to the 1-based rank it gave this hit, so users see why it matched."""
    also_on_page: list[str] = field(default_factory=list)
    """Ids of lower-ranked hits from the same page, folded into this one."""
    passage: str | None = None
    """For a page hit: the id of the passage that matched best (its text is the snippet, its box the citation's)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "kind": self.kind,
            "snippet": self.snippet,
            "thumbnail": self.thumbnail,
            "citation": {**self.citation.__dict__, "label": self.citation.label()},
            "matched_by": self.matched_by,
            "also_on_page": self.also_on_page,
            "passage": self.passage,
            "payload": {k: v for k, v in self.payload.items() if k != "text"},
        }
