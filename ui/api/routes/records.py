"""Single records for the page viewer: a record by id, the page record of a book page (previous/next page),
and the source PDF of a record (to open it in the browser's PDF viewer at ``#page=N``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse

from pathatlas.retrieval.records import Hit, Payload
from pathatlas.retrieval.search import echoed
from pathatlas.ui.api.deps import EngineDep, LinksDep, errors
from pathatlas.ui.api.routes.media import SANDBOXED, check_source, payload_of
from pathatlas.ui.api.routes.search import source_key
from pathatlas.ui.api.schemas import HitOut, Links

router = APIRouter(tags=["records"], responses=errors(404, 422))  # unknown records, pages and PDFs


def hit_out(engine, record_id: str, payload: Payload, links: Links) -> HitOut:
    hit: Hit = engine.searcher.make_hit(record_id, 0.0, {}, payload, None)
    return HitOut.of(hit, links=links)


@router.get(
    "/records/{record_id}",
    operation_id="get_record",
    response_model=HitOut,
    summary="One record, shaped like a search hit",
)
def record(record_id: str, engine: EngineDep, links: LinksDep) -> HitOut:
    return hit_out(engine, record_id, payload_of(engine, record_id), links)


@router.get(
    "/pages",
    operation_id="get_page",
    response_model=HitOut,
    summary="The page record of a book page (for previous/next page)",
)
def book_page(
    engine: EngineDep,
    links: LinksDep,
    source: str = Query(..., description="The source as hits cite it (citation.source_id, or citation.source)."),
    page: int = Query(..., ge=1),
) -> HitOut:
    key = source_key(engine, source)  # hits cite a file name; the index keys sources by path
    for record_id, stored in engine.index.store.scan({"kind": "page", "source": key}):
        payload = Payload.from_payload(stored)
        if payload.page == page:
            return hit_out(engine, record_id, payload, links)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no page {page} of {echoed(source)} in the index")


@router.get(
    "/records/{record_id}/pdf",
    operation_id="get_record_pdf",
    response_class=FileResponse,
    summary="The source PDF of a record",
    responses=errors(410),  # changed on disk since it was indexed: its pages are another book's
)
def source_pdf(record_id: str, engine: EngineDep) -> FileResponse:
    payload = payload_of(engine, record_id)
    source = payload.source
    path = Path(source)
    # Only a file the index lists as a source, and only a PDF: the id never names an arbitrary path.
    if source not in engine.index.manifest or path.suffix.lower() != ".pdf":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this record has no source PDF")
    if not path.is_file():  # moved or deleted since it was indexed, as the page views answer it
        raise HTTPException(status.HTTP_410_GONE, "the source PDF is no longer on disk")
    check_source(engine, payload)
    return FileResponse(  # shown in the browser, sandboxed (``SANDBOXED``): the PDF's own JavaScript does not run
        path, media_type="application/pdf", headers=SANDBOXED, content_disposition_type="inline", filename=path.name
    )
