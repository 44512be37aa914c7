"""The one JSON form of a hit that every door shows (CLI ``--json``, ``Atlas``, LangChain, MCP, Streamlit, REST), its
relevance words, and the k every door takes. Pure rules, apart from the REST models that declare this form
(``ui.api.schemas``), so that a door which only searches does not import FastAPI (a quarter of a second)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pathatlas.errors import BadInputError
from pathatlas.retrieval.marks import marked_spans, query_terms
from pathatlas.retrieval.records import Hit, organ_text
from pathatlas.retrieval.search import LABEL, SPECIMEN
from pathatlas.ui.present import LOOK_ALIKE_RANKERS, matched_why

Relevance = Literal["best match", "strong match", "good match", "related", "looks alike"]
AGREEING = 8
"""Of an image query's 10 nearest candidates (``search.AGREEMENT_DEPTH``), how many must share a hit's diagnosis
for a look-alike's badge to claim a match. Each half of the atlas cases and LC25000 tile groups chose 7 or 8 (the
stricter kept); on the other half 0.989 of first hits still called "best match" had the query's diagnosis (0.874 of
all before) and 50 of 54 wrong first hits said "looks alike" (BENCHMARKS.md)."""


def by_pictures_alone(hit: Hit) -> bool:
    """Whether only comparing pictures found a hit (``LOOK_ALIKE_RANKERS``): no words, no verified same specimen."""
    found = set(hit.matched_by)
    return bool(found) and found <= LOOK_ALIKE_RANKERS


def looks_alike(hit: Hit, beside_words: bool = False) -> bool:
    """Whether an image query's hit merely looks like the query: found by comparing pictures alone
    (``by_pictures_alone``), and either its diagnosis shared by fewer than ``AGREEING`` of the nearest candidates
    (``Hit.agreeing``) or words searched beside the image (``beside_words``: typed, or read in it) that did not find
    it. Its rank would call a tinted tile's wrong diagnosis "best match" and the next "strong match"; and a benign lung
    tile, the nearest look of a gallbladder searched with "keratin pearls" in LC25000, "best match" of those words."""
    if hit.agreeing is None or not by_pictures_alone(hit):  # None: no image query's hit
        return False
    return beside_words or hit.agreeing < AGREEING


def relevance_label(rank: int, relative: float, meaning_alone: bool = False, look_alike: bool = False) -> Relevance:
    """A reader's relevance from the rank and the fused score relative to the best hit (RRF scores alone
    mean nothing to a person); "related" for every hit of a search found by ``meaning_alone`` (``by_meaning_alone``),
    whose first hit is merely the nearest to the query's meaning, not a match; "looks alike" for an image query's
    hit that is no more than that (``looks_alike``)."""
    if meaning_alone:
        return "related"
    if look_alike:
        return "looks alike"
    if rank == 1:
        return "best match"
    if relative >= 0.75:
        return "strong match"
    if relative >= 0.5:
        return "good match"
    return "related"


def found_by_words_or_image(matched_by: Mapping[str, int]) -> bool:
    """Whether BM25 (the query's words, or those printed in its image), a figure label the query named, or the query
    image found a hit: a ranker ``bm25``, ``label``, ``<space>:image`` or ``specimen``, not only a text space's
    meaning."""
    return any(ranker in ("bm25", LABEL, SPECIMEN) or ranker.endswith(":image") for ranker in matched_by)


def by_meaning_alone(hits: Sequence[Hit], query: str | None) -> bool:
    """Whether a search had words (``query``) yet none of its hits was found by them or by an image: every word
    unknown to the index or too common to count (or BM25 weighted 0). Nonsense has a nearest meaning too, so a first
    hit's rank vouches for nothing ("xyzzy" once showed a green "best match")."""
    return bool(query) and not any(found_by_words_or_image(hit.matched_by) for hit in hits)


def has_image(hit: Hit) -> bool:
    """Whether the record has an image of its own (a figure, a case image, a page without text): what "find similar"
    searches with."""
    return hit.kind in ("figure", "case") or (hit.kind == "page" and not hit.payload.text.strip())


def hit_title(hit: Hit) -> str:
    """What to call a hit: a case's title; a figure whose page prints no caption by its page's title (a slide's: its
    ``text`` then is that title, ``caption_from_title``); else its section; else its citation."""
    payload = hit.payload
    slide_title = payload.text.strip() if payload.caption_from_title else ""
    return payload.title or slide_title or payload.section or hit.citation.label()


def hit_record(
    hit: Hit, rank: int, query: str | None = None, meaning_alone: bool = False, marked: list[str] | None = None
) -> dict[str, Any]:
    """The one JSON form of a hit, which every door shows (CLI ``--json``, REST, MCP, LangChain): what a reader sees
    (rank, relevance, why, title, the payload's fields by name, the snippet's words ``query`` marks) beside the stored
    record (``payload``, as ``Hit.to_dict`` gives it). ``meaning_alone``: its search's ``by_meaning_alone``, which only
    the whole list tells. ``thumbnail`` is a file on this machine: REST shows its URL instead (``HitOut``), the MCP and
    LangChain tools its ``pathatlas://`` resource (``tools.public``). Words in ``query`` beside an image say a hit
    its look alone found is none of theirs (``looks_alike``). ``marked``: ``query_terms(query)``, read once for a
    whole list (``hit_records``)."""
    stored, payload = hit.to_dict(), hit.payload
    searched_words = bool(query and query.strip())
    return {
        "id": hit.id,
        "rank": rank,
        "relevance": relevance_label(rank, hit.relative, meaning_alone, looks_alike(hit, searched_words)),
        "relative_score": round(hit.relative, 3),
        "why": matched_why(hit.matched_by),
        "score": hit.score,
        "kind": hit.kind,
        "title": hit_title(hit),
        "snippet": hit.snippet,
        "snippet_marks": [
            list(span) for span in marked_spans(hit.snippet, query_terms(query) if marked is None else marked)
        ],
        "citation": stored["citation"],
        "section": payload.section,
        "book": stored["citation"]["book"],  # a PDF's title where it tells more than its file name, as cited
        "diagnosis": payload.diagnosis,
        "organ": organ_text(payload.organ),
        "printed_words": payload.ocr,
        "has_image": has_image(hit),
        "matched_by": hit.matched_by,
        "passage": hit.passage,
        "also_on_page": hit.also_on_page,
        "repeated_on": hit.repeated_on,
        "repeated_in": stored["repeated_in"],
        "thumbnail": hit.thumbnail,
        "payload": stored["payload"],
    }


def hit_records(hits: list[Hit], query: str | None = None) -> list[dict[str, Any]]:
    """``hit_record`` of each hit, ranked from 1."""
    alone, marked = by_meaning_alone(hits, query), query_terms(query)
    return [hit_record(hit, rank, query, alone, marked) for rank, hit in enumerate(hits, start=1)]


K_MAX = 100
"""The most hits one search returns."""


def check_k(k: int) -> int:
    """``k`` within REST's limit, refused in one line otherwise: every door (tools, LangChain, ``Atlas``, the CLI) takes
    the same k. Here, not in ``ui.tools`` or ``ui.api.schemas``, so that the Python API checks it without importing
    the service, its agent or FastAPI."""
    if not 1 <= k <= K_MAX:
        raise BadInputError(f"k must be between 1 and {K_MAX}, not {k}")
    return k
