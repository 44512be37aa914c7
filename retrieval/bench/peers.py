"""Off-the-shelf peers on text to page (``pathatlas bench peers``): txtai's hybrid ``Embeddings`` and LangChain's
BM25 + FAISS ``EnsembleRetriever`` beside PathAtlas's default, scored by the questions, gold-page rule, metrics, chapter
folds and paired tests of ``bench retrieval --mcq`` (``text_to_page``), so a reader can re-run the comparison.

Each peer is built as its user would build it from the same book: every page's text as the index stores it (its page
payloads: the peers read the very text ours do), or with ``text="pdf"`` as PyMuPDF's ``get_text()`` gives it (what a
peer's user who loads the PDF page by page reads: running headers and all), cut by LangChain's
``RecursiveCharacterTextSplitter`` with its defaults and 1000 characters (200 overlap; a chunk never crosses a page,
and keeps its page), embedded by the MiniLM folder PathAtlas ships. A question asks what text to page asks (question
plus options); the peer ranks chunks, and its pages are their pages in the order each first appears.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.plugins import require
from pathatlas.retrieval.bench.common import (
    CURVE_K,
    chance,
    compare_runs,
    cut_through_ties,
    some_queries,
    tied_figures,
    ties_record,
)
from pathatlas.retrieval.bench.pages import (
    DEFAULT,
    PageKey,
    chapter_name,
    collect,
    fold_notes,
    gold_questions,
    rank_pages,
    untuned_note,
)
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.progress import batched, progress
from pathatlas.retrieval.search import Searcher

PEERS_EXTRA = "peers"
PEER_PACKAGES = {
    "txtai": "txtai",
    "langchain_community": "langchain-community",
    "langchain_classic": "langchain-classic",
    "langchain_text_splitters": "langchain-text-splitters",
    "rank_bm25": "rank-bm25",
    "faiss": "faiss-cpu",
}
"""What the peers import (checked before anything runs: a missing one is named in one line with the extra that
installs it) and its distribution (whose version the result records)."""
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
"""LangChain's default overlap, said outright so the result records what the peers were given."""
CHUNK_DEPTH = 100
"""Chunks each peer ranks per question (LangChain: each retriever's ``k``): about three a page, so past the ``CURVE_K``
pages the curve needs. LangChain's default ``k`` of 4 would rank at most 8 chunks."""
PEER_BATCH = 32
"""Questions a peer is asked at a time, as far as its progress bar moves at once."""
PEER_TEXTS = ("index", "pdf")
"""Where the peers' page texts come from: the index's page payloads, or each PDF page's own text (``pdf_pages``)."""
OURS = "pathatlas"
TXTAI = "txtai hybrid"
LANGCHAIN = "langchain ensemble"

PeerSearch = Callable[[list[str]], list[list[int]]]
"""A built peer: the questions' texts to each one's chunk positions, best first."""
PeerBuilder = Callable[[list[str], Path, int], PeerSearch]
"""Builds a peer over the chunks' texts with the MiniLM folder, ranking the given number of chunks per question."""


@dataclass(frozen=True)
class Chunk:
    page: PageKey
    text: str


def check_peers() -> None:
    """Refuse in one line, before the minutes of a run, a machine without the peers (the extra 'peers')."""
    for module in PEER_PACKAGES:
        require(module, PEERS_EXTRA)


def book_pages(index: Index) -> list[tuple[PageKey, str]]:
    """Every page's text as the index stores it, in (source, page) order; pages with no text (scans) left out, as a
    peer given the book would find none there."""
    pages = [((p["source"], p["page"]), p.get("text") or "") for _, p in index.store.scan({"kind": "page"})]
    return sorted((key, text) for key, text in pages if text.strip())


def pdf_pages(index: Index) -> list[tuple[PageKey, str]]:
    """Every indexed page's text as PyMuPDF's ``get_text()`` reads it from its PDF (a peer's user's loader), in (source,
    page) order; a PDF that is gone or unreadable is refused in one line, pages with no text left out."""
    import pymupdf

    keys = sorted((p["source"], p["page"]) for _, p in index.store.scan({"kind": "page"}))
    texts = []
    for source in dict.fromkeys(source for source, _ in keys):
        try:
            with pymupdf.open(source) as pdf:
                texts += [((source, page), pdf[page - 1].get_text()) for s, page in keys if s == source]
        except (pymupdf.FileDataError, pymupdf.FileNotFoundError, IndexError) as error:
            raise BadInputError(f"--peer-text pdf: cannot read the indexed pages of {source}: {error}") from error
    return [(key, text) for key, text in texts if text.strip()]


def chunk_pages(pages: Sequence[tuple[PageKey, str]], size: int = CHUNK_SIZE) -> list[Chunk]:
    """Each page cut as a LangChain user cuts a book (``RecursiveCharacterTextSplitter``, its defaults but the size),
    page by page, so every chunk has one page."""
    splitters = require("langchain_text_splitters", PEERS_EXTRA)
    splitter = splitters.RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=CHUNK_OVERLAP)
    return [Chunk(key, piece) for key, text in pages for piece in splitter.split_text(text)]


def pages_ranked(positions: Sequence[int], chunks: Sequence[Chunk], depth: int = CURVE_K) -> list[PageKey]:
    """A peer's ranked chunks as pages: each page where its first chunk ranks, the first ``depth``."""
    return list(dict.fromkeys(chunks[i].page for i in positions))[:depth]


def txtai_hybrid(texts: list[str], model: Path, depth: int) -> PeerSearch:
    """txtai ``Embeddings(hybrid=True)`` as documented: its BM25 and the model's vectors (exact FAISS below 5000
    chunks), fused by its defaults (normalised scores, equal weights)."""
    embeddings = require("txtai", PEERS_EXTRA).Embeddings(path=str(model), hybrid=True)
    embeddings.index(texts)  # ids are the positions
    return lambda queries: [[int(i) for i, _ in hits] for hits in embeddings.batchsearch(queries, depth)]


def langchain_ensemble(texts: list[str], model: Path, depth: int) -> PeerSearch:
    """LangChain's ``EnsembleRetriever`` of ``BM25Retriever`` (rank_bm25, LangChain's whitespace tokens) and a FAISS
    store of ``HuggingFaceEmbeddings`` of the model, equal weights (weighted reciprocal rank fusion, c = 60).
    ``HuggingFaceEmbeddings`` is langchain-community's: langchain-huggingface's is the same sentence-transformers
    wrapper, but its releases need huggingface-hub below 2, which would downgrade the hub and transformers that
    PathAtlas runs on (its deprecation warnings, which say to switch, are silenced)."""
    require("langchain_community", PEERS_EXTRA)
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS

    with warnings.catch_warnings():  # after the imports, whose filters would show it again
        warnings.simplefilter("ignore", DeprecationWarning)
        embeddings = HuggingFaceEmbeddings(model_name=str(model))
    positions = [{"chunk": i} for i in range(len(texts))]
    bm25 = BM25Retriever.from_texts(texts, metadatas=positions, k=depth)
    vectors = FAISS.from_texts(texts, embeddings, metadatas=positions)
    ensemble = EnsembleRetriever(
        retrievers=[bm25, vectors.as_retriever(search_kwargs={"k": depth})], weights=[0.5, 0.5]
    )
    return lambda queries: [[doc.metadata["chunk"] for doc in ensemble.invoke(query)] for query in queries]


PEERS: dict[str, PeerBuilder] = {TXTAI: txtai_hybrid, LANGCHAIN: langchain_ensemble}


def run_peer(
    name: str, build: PeerBuilder, chunks: list[Chunk], queries: list[str], model: Path, depth: int
) -> dict[str, Any]:
    """One peer's pages per question and what it cost: seconds to build over the chunks, and to answer the questions,
    ``PEER_BATCH`` at a time under a progress bar named by the peer (on a terminal only)."""
    start = time.perf_counter()
    search = build([chunk.text for chunk in chunks], model, depth)
    built = time.perf_counter()
    found = batched(search, queries, PEER_BATCH, desc=f"{name}: ask", unit="question", leave=False)
    answered = time.perf_counter()
    return {
        "ranked": [pages_ranked(positions, chunks) for positions in found],
        "build_s": round(built - start, 1),
        "search_s": round(answered - built, 1),
    }


def scored(
    ids: list[str],
    gold: list[set[PageKey]],
    ranked: dict[str, list[list[PageKey]]],
    page_count: int,
    k: int,
    ties: dict[str, list[list[int]]],
) -> dict[str, Any]:
    """One table, as text to page gives it: each method's figures (MRR@k), chance over the book's pages, and paired
    tests of ours against every other method over its top k; ``ties``: our methods' runs of tied scores by name
    (``rank_pages``), each counted at its expected value over its orders (a peer's order is its own)."""
    methods = {name: tied_figures(lists, gold, ties.get(name), k) for name, lists in ranked.items()}
    methods["chance"] = chance(max(page_count, 1), [len(relevant) for relevant in gold], mrr_depth=k)
    cut, cut_ties = cut_through_ties(ranked, ties, k)
    return {
        "n": len(ids),
        "mrr_depth": k,
        "methods": methods,
        "default": OURS,
        "baselines": [name for name in methods if name != OURS],
        "significance": compare_runs(ids, gold, cut, OURS, ties=cut_ties, depth=k),
        **({"ties": ties_record(ties)} if ties else {}),
    }


def peers_bench(
    index: Index,
    mcq_path: Path,
    folds: int = 5,
    k: int = 10,
    runs: Path | None = None,
    peers: dict[str, PeerBuilder] | None = None,
    model: Path | None = None,
    text: str = "index",
) -> dict[str, Any]:
    """Ours (held out per chapter fold with ``folds``, else the shipped ranker), our BM25 alone and each peer on the
    questions of ``mcq_path`` with gold pages, pooled and per fold; ``runs``: a folder for the TREC qrels and runs.
    ``model``: the peers' MiniLM folder (default: the one PathAtlas ships, extracted into its cache); ``text``: where
    the peers' page texts come from (``PEER_TEXTS``)."""
    from pathatlas.retrieval.encoders.towers import extracted_minilm

    if text not in PEER_TEXTS:  # before the minutes of a run
        raise BadInputError(f"--peer-text {text!r}: use one of {', '.join(PEER_TEXTS)}")
    if peers is None:
        check_peers()
        peers = PEERS
    items, pages, notes = gold_questions(index, mcq_path)
    notes += fold_notes(items, folds, mcq_path)
    ranker = Searcher(index).ranker
    if not folds:
        notes.append(untuned_note(ranker, index.settings.ranker_file))
    depth = max(k, CURVE_K)
    ours = rank_pages(items, collect(index, items, pages), depth, folds, ranker, index.settings.pages_per_section)
    chunks = chunk_pages(pdf_pages(index) if text == "pdf" else book_pages(index))
    model = model or extracted_minilm(index.settings.cache_dir)
    queries = [item.search_text() for item in items]
    measured = {
        name: run_peer(name, build, chunks, queries, model, CHUNK_DEPTH)
        for name, build in progress(peers.items(), desc="peers: build and ask", unit="peer", leave=False)
    }
    ranked = {OURS: ours.ranked[DEFAULT], "bm25": ours.ranked["bm25"]}
    ties = {name: ours.ties[method] for name, method in ((OURS, DEFAULT), ("bm25", "bm25")) if method in ours.ties}
    ranked |= {name: found.pop("ranked") for name, found in measured.items()}
    result = scored(ours.ids, ours.gold, ranked, len(pages), k, ties)
    result |= {"default_label": "held out" if folds else "shipped ranker", "notes": notes}
    if folds:
        chapters = [chapter_name(item) for item in items]
        result["folds"] = [
            fold_table(ours.ids, ours.gold, ranked, ties, [f == fold for f in ours.fold_of], chapters, len(pages), k)
            for fold in sorted(set(ours.fold_of))
        ]
    result["peers"] = {
        "chunks": {"count": len(chunks), "size": CHUNK_SIZE, "overlap": CHUNK_OVERLAP, "text": text},
        "chunks_ranked": CHUNK_DEPTH,
        "model": str(model),
        "cost": measured,
        "versions": peer_versions(),
    }
    if runs is not None:
        written = write_trec(runs, ours.ids, ours.gold, ranked, *((ours.fold_of, [OURS]) if folds else ()), ties=ties)
        result["runs"] = [str(path) for path in written]
    return result


def fold_table(
    ids: list[str],
    gold: list[set[PageKey]],
    ranked: dict[str, list[list[PageKey]]],
    ties: dict[str, list[list[int]]],
    in_fold: list[bool],
    chapters: list[str],
    page_count: int,
    k: int,
) -> dict[str, Any]:
    """One held-out fold's table (the questions ``in_fold``): ours chosen on the other folds, the rest as they are
    (they are tuned on nothing), and the fold's chapters."""
    mine = [i for i, inside in enumerate(in_fold) if inside]
    pick, fold_gold, fold_ties = some_queries(mine, ranked, gold, ties)
    body = scored([ids[i] for i in mine], fold_gold, pick, page_count, k, fold_ties)
    return {**body, "chapters": sorted({chapters[i] for i in mine}), "default_label": "held out"}


def peer_versions() -> dict[str, str]:
    """The installed version of each peer package, so a reader re-runs with the same ones."""
    found = {}
    for package in PEER_PACKAGES.values():
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
