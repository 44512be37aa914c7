"""Search by text (JSON), by image (multipart) or both."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.search import Query
from pathatlas.ui.api.deps import EngineDep
from pathatlas.ui.api.schemas import MAX_QUERY_CHARS, HitOut, SearchRequest, SearchResponse, valid_unicode
from pathatlas.ui.api.uploads import read_limited

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse, summary="Search by text")
def search_text(request: SearchRequest, engine: EngineDep) -> SearchResponse:
    with engine.search_slots:
        hits = engine.searcher.search(Query(text=request.text, k=request.k, filters=request.filters))
    return SearchResponse(hits=[HitOut.of(h) for h in hits])


@router.post("/search/image", response_model=SearchResponse, summary="Search by image, optionally with text")
async def search_image(
    engine: EngineDep,
    image: Annotated[UploadFile, File(description="A micrograph or figure (JPEG, PNG, TIFF...).")],
    text: Annotated[str | None, Form(max_length=MAX_QUERY_CHARS)] = None,
    k: Annotated[int, Form(ge=1, le=100)] = 10,
    filters: Annotated[str, Form(description='JSON object, e.g. {"kind": "case"}')] = "{}",
) -> SearchResponse:
    try:
        parsed = json.loads(filters)
        assert isinstance(parsed, dict)
        valid_unicode(text or "")
    except (json.JSONDecodeError, AssertionError, ValueError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "filters must be a JSON object; text valid Unicode") from exc
    data = await read_limited(image, engine.settings.max_upload_mb << 20)
    return await run_in_threadpool(_search_image, engine, data, text, k, parsed)  # decoding and models block


def _search_image(engine, data: bytes, text: str | None, k: int, filters: dict) -> SearchResponse:
    picture = open_image(data, engine.settings.max_image_pixels, name="the uploaded image")
    with engine.search_slots:
        hits = engine.searcher.search(Query(text=text, image=picture, k=k, filters=filters))
    return SearchResponse(hits=[HitOut.of(h) for h in hits])
