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
            page_url=f"/media/pages/{hit.id}" if hit.citation.page is not None else None,
            matched_by=hit.matched_by,
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


class QuoteCitation(BaseModel):
    evidence: str = Field(..., description="Record id: GET /media/pages/{evidence} shows the cited page.")
    source: str
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    figure: str | None = None
    case: str | None = None
    label: str


class OptionQuote(BaseModel):
    quote: str = Field(..., description="A sentence quoted verbatim from the cited evidence.")
    citation: QuoteCitation
    stance: Literal["supports", "contradicts"]


class OptionOut(BaseModel):
    label: str
    text: str
    score: float = Field(..., description="How likely this option is the answer (the answerer's probability).")
    evidence: list[OptionQuote]


class AnswerCitation(QuoteCitation):
    thumbnail: str | None = None


class AskResponse(BaseModel):
    """The one JSON form of an answer (also ``pathatlas ask --json``); options in label order."""

    question: str
    choice: int | None = Field(None, description="0-based index of the chosen option; null for open questions.")
    answer: str = Field(..., description="The chosen option's text (or the answer to an open question).")
    confidence: float = Field(..., ge=0, le=1)
    settled: bool = Field(..., description="False when the evidence does not settle the question.")
    rationale: str
    options: list[OptionOut]
    citations: list[AnswerCitation]
    trace: list[dict[str, Any]]


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
