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


class HitOut(BaseModel):
    id: str
    score: float
    kind: str
    snippet: str
    citation: CitationOut
    thumbnail_url: str | None = Field(None, description="GET this for the hit's thumbnail.")
    page_url: str | None = Field(None, description="GET this for the rendered page with the hit highlighted.")
    matched_by: dict[str, int] = {}
    passage: str | None = Field(None, description="For a page hit: the id of the passage that matched best.")
    diagnosis: str | None = None
    organ: str | None = None

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(
            id=hit.id,
            score=hit.score,
            kind=hit.kind,
            snippet=hit.snippet,
            citation=CitationOut.of(hit.citation),
            thumbnail_url=f"/media/thumbnails/{hit.id}" if hit.thumbnail else None,
            page_url=f"/media/pages/{hit.passage or hit.id}" if hit.citation.page is not None else None,
            matched_by=hit.matched_by,
            passage=hit.passage,
            diagnosis=hit.payload.get("diagnosis"),
            organ=hit.payload.get("organ"),
        )


class SearchRequest(BaseModel):
    text: str = Field(..., min_length=1, examples=["koilocytes in cervical epithelium"])
    k: int = Field(10, ge=1, le=100)
    filters: dict[str, str | list[str]] = Field(default_factory=dict, examples=[{"kind": "figure"}])


class SearchResponse(BaseModel):
    hits: list[HitOut]


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
