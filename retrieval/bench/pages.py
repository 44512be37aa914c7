"""Text to page: an MCQ question (plus options) to its gold textbook pages, through a real index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from pathatlas.retrieval.bench.common import summarise
from pathatlas.retrieval.datasets import read_mcq
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import first_relevant_rank
from pathatlas.retrieval.search import Query, Searcher

METHODS: dict[str, tuple[str, ...]] = {"bm25": ("bm25",), "dense": ("dense",), "hybrid": ("bm25", "dense")}


def ranked_pages(hits) -> list[int]:
    pages: list[int] = []
    for hit in hits:
        if hit.citation.page is not None and hit.citation.page not in pages:
            pages.append(hit.citation.page)
    return pages


def text_to_page(index: Index, mcq_path: Path, k: int = 10) -> dict[str, Any]:
    """Is a page of the question's gold range among the top k pages? Query: question plus options."""
    items = [q for q in read_mcq(mcq_path) if q.gold_pages]
    searcher = Searcher(index)
    methods: dict[str, dict[str, Any]] = {}
    batch = 32  # questions are encoded a batch at a time
    for name, use in METHODS.items():
        ranks = []
        for start in tqdm(range(0, len(items), batch), desc=f"text->page {name}", leave=False):
            chunk = items[start : start + batch]
            results = searcher.search_many([Query(text=item.search_text(), k=k, use=use) for item in chunk])
            ranks += [
                first_relevant_rank(ranked_pages(hits), item.gold_pages.__contains__)
                for item, hits in zip(chunk, results, strict=True)
            ]
        methods[name] = summarise(ranks)
    return {"n": len(items), "methods": methods}
