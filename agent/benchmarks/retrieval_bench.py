"""Retrieval quality: MCQ question to its gold textbook pages, per ranker group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from agent.benchmarks.datasets import read_mcq
from agent.benchmarks.metrics import first_relevant_rank, recall_and_mrr
from retrieval.index import Index
from retrieval.search import Query, Searcher

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
    methods: dict[str, dict[str, float]] = {}
    for name, use in METHODS.items():
        ranks = []
        for item in tqdm(items, desc=f"text->page {name}", leave=False):
            hits = searcher.search(Query(text=item.search_text(), k=k, use=use))
            ranks.append(first_relevant_rank(ranked_pages(hits), item.gold_pages.__contains__))
        methods[name] = recall_and_mrr(ranks)
    return {"n": len(items), "methods": methods}
