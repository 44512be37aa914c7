"""Request and response models of the REST API (they are its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from pathatlas.retrieval.records import Citation, Hit


class CitationOut(BaseModel):
    source: str
    label: str
    page: int | None = None
    figure: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    case: str | None = None
    image: str | None = None

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls(label=citation.label(), **citation.__dict__)


RANKER_NAMES = {"bm25": "words", "text": "meaning", "joint": "meaning", "visual": "appearance"}
"""What each ranker means to a reader: BM25 matched the words, a text space the meaning, image spaces the look."""


def relevance_label(rank: int, relative: float) -> str:
    """A reader's relevance from the rank and the fused score relative to the best hit (RRF scores alone
    mean nothing to a person)."""
    if rank == 1:
        return "best match"
    if relative >= 0.75:
        return "strong match"
    if relative >= 0.5:
        return "good match"
    return "related"


def matched_why(matched_by: dict[str, int]) -> str:
    """'words #1, meaning #3': which rankers found the hit and where they put it."""
    best: dict[str, int] = {}
    for ranker, rank in matched_by.items():
        name = RANKER_NAMES.get(ranker.split(":")[0], ranker)
        if ranker.endswith(":image") and name == "meaning":
            name = "appearance"
        best[name] = min(rank, best.get(name, rank))
    return ", ".join(f"{name} #{rank}" for name, rank in sorted(best.items(), key=lambda item: item[1]))


class HitOut(BaseModel):
    id: str
    rank: int = Field(..., description="1-based position in the results.")
    relevance: str = Field(..., description="best match, strong match, good match or related (from rank and score).")
    relative_score: float = Field(..., description="Fused score divided by the best hit's (1.0 for the first).")
    why: str = Field("", description="Which rankers found it and at which rank, e.g. 'words #1, meaning #3'.")
    score: float = Field(..., description="The raw fused (RRF) score; comparable only within one result list.")
    kind: str
    snippet: str
    citation: CitationOut
    thumbnail_url: str | None = Field(None, description="GET this for the hit's thumbnail.")
    page_url: str | None = Field(None, description="GET this for the rendered page with the hit highlighted.")
    matched_by: dict[str, int] = {}
    diagnosis: str | None = None
    organ: str | None = None
    title: str | None = None
    section: str | None = None
    book: str | None = None
    has_image: bool = Field(False, description="Whether 'find similar' (POST /search/similar) can use its image.")

    @classmethod
    def of(cls, hit: Hit, rank: int = 1, top_score: float | None = None) -> HitOut:
        relative = hit.score / top_score if top_score else 1.0
        payload = hit.payload
        return cls(
            id=hit.id,
            rank=rank,
            relevance=relevance_label(rank, relative),
            relative_score=round(relative, 3),
            why=matched_why(hit.matched_by),
            score=hit.score,
            kind=hit.kind,
            snippet=hit.snippet,
            citation=CitationOut.of(hit.citation),
            thumbnail_url=f"/media/thumbnails/{hit.id}" if hit.thumbnail else None,
            page_url=f"/media/pages/{hit.id}" if hit.citation.page is not None else None,
            matched_by=hit.matched_by,
            diagnosis=payload.get("diagnosis"),
            organ=payload.get("organ"),
            title=payload.get("title"),
            section=payload.get("section"),
            book=payload.get("book"),
            has_image=hit.kind in ("figure", "case")
            or (hit.kind == "page" and not (payload.get("text") or "").strip()),
        )

    @classmethod
    def ranked(cls, hits: list[Hit]) -> list[HitOut]:
        top = hits[0].score if hits else None
        return [cls.of(hit, rank, top) for rank, hit in enumerate(hits, start=1)]


class SearchRequest(BaseModel):
    text: str = Field(..., min_length=1, examples=["koilocytes in cervical epithelium"])
    k: int = Field(10, ge=1, le=100)
    filters: dict[str, str | list[str]] = Field(
        default_factory=dict,
        examples=[{"kind": "figure"}, {"organ": ["lung", "cervix"]}],
        description="Field to value (or list of values): kind, source, organ, diagnosis, case, section, chapter.",
    )


class SimilarRequest(BaseModel):
    id: str = Field(..., pattern=r"^[0-9a-f]{24}$", description="A hit's id: find records that look like it.")
    k: int = Field(10, ge=1, le=100)
    filters: dict[str, str | list[str]] = Field(default_factory=dict, examples=[{"kind": "case"}])


class SearchResponse(BaseModel):
    hits: list[HitOut]


class FacetValue(BaseModel):
    value: str
    count: int


class FacetsOut(BaseModel):
    fields: dict[str, list[FacetValue]] = Field(
        ..., description="Filter field to the values the index holds, most frequent first."
    )
    by_source: dict[str, dict[str, int]] = Field(..., description="Source to kind to number of records.")


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1)
    options: list[str] = Field(default_factory=list, max_length=10)


class AskResponse(BaseModel):
    answer: str | None = Field(None, description="Option letter for multiple choice.")
    answer_text: str
    confidence: float
    rationale: str
    citations: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    seconds: float


class SourceOut(BaseModel):
    source: str
    kind: str
    entries: int
    problems: list[str] = []


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    source: str
    done: int = 0
    total: int = 0
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    index: str
    encoder: str
    store: str
    records: int
    ready: bool = Field(False, description="The models are loaded: searches answer at full speed.")
