"""Request and response models of the REST API (they are its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from pathatlas.retrieval.records import Citation, Hit
from pathatlas.settings import Settings


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
        """The source is shown by name: responses never reveal server paths."""
        return cls(label=citation.label(), **{**citation.__dict__, "source": citation.source.rsplit("/", 1)[-1]})


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


MAX_QUERY_CHARS = Settings.model_fields["max_query_chars"].default


def valid_unicode(text: str) -> str:
    """JSON may carry lone surrogates (``"\\ud800"``); no tokenizer can encode them, so refuse them here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (a lone surrogate)") from exc
    return text


QueryText = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS), AfterValidator(valid_unicode)]
OptionText = Annotated[
    str, Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S"), AfterValidator(valid_unicode)
]


class SearchRequest(BaseModel):
    text: QueryText = Field(..., examples=["koilocytes in cervical epithelium"])
    k: int = Field(10, ge=1, le=100)
    filters: dict[str, str | list[str]] = Field(default_factory=dict, examples=[{"kind": "figure"}])


class SearchResponse(BaseModel):
    hits: list[HitOut]


class AskRequest(BaseModel):
    question: QueryText
    options: list[Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS), AfterValidator(valid_unicode)]] = (
        Field(default_factory=list, max_length=10)
    )


class AskResponse(BaseModel):
    answer: str | None = Field(None, description="Option letter for multiple choice.")
    answer_text: str
    confidence: float
    rationale: str
    citations: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    seconds: float

    @classmethod
    def of(cls, result: dict[str, Any]) -> AskResponse:
        """Citations name their source file, never its server path."""
        citations = [
            {**c, "source": str(c["source"]).rsplit("/", 1)[-1]} if c.get("source") else c
            for c in result.get("citations", [])
        ]
        return cls(**{**result, "citations": citations})


class SourceOut(BaseModel):
    id: str = Field(description="Use it in DELETE /sources/{id}.")
    source: str = Field(description="The file or folder name (server paths are not shown).")
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
    index: str = Field(description="The index folder's name.")
    encoder: str
    store: str
    records: int


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]] = Field(description="What was wrong: a sentence, or a list of field errors.")
