"""BM25 over the text of every entry (bm25s, English stop words, Snowball stemming).

Entries whose payload says ``"searchable": false`` (pages, whose passages are indexed) stay out.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer

from pathatlas.retrieval.records import FILTER_FIELDS
from pathatlas.retrieval.stores.base import Filters, ScoredIds, matches

_stemmer = Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer, return_ids=False, show_progress=False)


class LexicalIndex:
    """Rebuilt from the store's payloads at every commit, so it can never drift from the vectors."""

    def __init__(self, ids: list[str], fields: list[dict[str, Any]], model: bm25s.BM25 | None):
        self.ids = ids
        self.fields = fields
        self.model = model

    @classmethod
    def build(cls, docs: Iterable[tuple[str, dict[str, Any]]]) -> LexicalIndex:
        ids, fields, texts = [], [], []
        for record_id, payload in docs:
            text = payload.get("text") or ""
            if text.strip() and payload.get("searchable", True):
                text = f"{payload.get('section') or ''}\n{text}"
                ids.append(record_id)
                fields.append({f: payload.get(f) for f in FILTER_FIELDS})
                texts.append(text)
        tokens = tokenize(texts) if texts else []
        if not any(tokens):  # bm25s cannot index an empty vocabulary
            return cls([], [], None)
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        return cls(ids, fields, model)

    def search(self, queries: list[str], k: int, filters: Filters | None = None) -> list[ScoredIds]:
        if self.model is None or k <= 0:
            return [[] for _ in queries]
        mask = np.array([matches(f, filters) for f in self.fields]) if filters else None
        results = []
        for tokens in tokenize(queries):
            if not tokens:
                results.append([])
                continue
            scores = self.model.get_scores(tokens)
            if mask is not None:
                scores = np.where(mask, scores, 0.0)
            top = np.argsort(-scores)[:k]
            results.append([(self.ids[i], float(scores[i])) for i in top if scores[i] > 0])
        return results

    def save(self, folder: Path) -> None:
        """Write a new snapshot next to the live one, then switch to it atomically."""
        staging = folder.with_name(folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "docs.json").write_text(json.dumps({"ids": self.ids, "fields": self.fields}))
        if self.model is not None:
            self.model.save(str(staging / "bm25"))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        if not folder.exists() and folder.with_name(folder.name + ".old").exists():
            folder = folder.with_name(folder.name + ".old")  # a crash between the two renames
        if not (folder / "docs.json").is_file():
            return cls([], [], None)
        docs = json.loads((folder / "docs.json").read_text())
        model = bm25s.BM25.load(str(folder / "bm25")) if (folder / "bm25").exists() else None
        return cls(docs["ids"], docs["fields"], model)
