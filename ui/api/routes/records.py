"""Single records for the page viewer: a record by id, the page record of a book page and the pages beside it that
have one (previous/next page), and the source PDF of a record (opened in the browser's PDF viewer at ``#page=N``)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response

from pathatlas.retrieval.records import Hit, Payload, RecordKey, source_id
from pathatlas.retrieval.search import echoed
from pathatlas.ui.api.deps import EngineDep, HeadDep, LinksDep, errors
from pathatlas.ui.api.routes.media import (
    PDF_GONE,
    PDF_UNREADABLE,
    SANDBOXED,
    KeyDep,
    binary,
    check_source,
    file_answer,
    payload_of,
    readable,
    record_of,
)
from pathatlas.ui.api.routes.search import BOOK, CITATION_EXAMPLE, SECTION, example_of, source_key
from pathatlas.ui.api.schemas import IN_DIGITS, Links, PageOut, RecordOut

router = APIRouter(tags=["records"], responses=errors(404, 422))  # unknown records, pages and PDFs
RECORD_EXAMPLE = {
    "id": "64967f351f4d57c8dbd70f22",
    "rank": None,
    "relevance": None,
    "relative_score": None,
    "why": "",
    "score": None,
    "kind": "page",
    "title": SECTION,
    "snippet": "Figure 6.11. Bone Cells: Four types of cells are found within bone tissue. Osteogenic cells are "
    "undifferentiated and develop into osteoblasts. When osteoblasts get trapped within the calcified matrix, their "
    "structure and function changes,\u2026",
    "snippet_marks": [],
    "citation": {**CITATION_EXAMPLE, "bbox": None},
    "section": SECTION,
    "book": BOOK,
    "diagnosis": None,
    "organ": None,
    "printed_words": None,
    "has_image": False,
    "matched_by": {},
    "passage": None,
    "also_on_page": [],
    "repeated_on": [],
    "repeated_in": [],
    "payload": {
        "kind": "page",
        "fingerprint": "40852cccdf01f9c97285279647bb4480",
        "book": BOOK,
        "page": 174,
        "section": SECTION,
        "searchable": False,
    },
    "thumbnail_url": "/media/thumbnails/64967f351f4d57c8dbd70f22?source=2cd42bf39015&page=174",
    "page_url": "/media/pages/64967f351f4d57c8dbd70f22?source=2cd42bf39015&page=174",
    "caption_url": None,
    "case_url": None,
    "case_image_url": None,
    "text": "Figure 6.11. Bone Cells: Four types of cells are found within bone tissue. Osteogenic cells are "
    "undifferentiated and develop into osteoblasts. When osteoblasts get trapped within the calcified matrix, their "
    "structure and function changes, and they become osteocytes. ...",
}
"""The page record of the search example's hit (its ``id``), as the web UI opens an answer's citation of it."""


def record_out(engine, record_id: str, payload: Payload, links: Links) -> RecordOut:
    hit: Hit = engine.searcher.make_hit(record_id, 0.0, {}, payload, None)
    return RecordOut.fetched(hit, links)


@router.get(
    "/records/{record_id}",
    operation_id="get_record",
    response_model=RecordOut,
    summary="One record, shaped like a search hit (ranked by none: its rank, relevance and scores are null)",
    responses={200: example_of(RECORD_EXAMPLE)},
)
def record(record_id: str, engine: EngineDep, links: LinksDep, key: KeyDep) -> RecordOut:
    """Where the id is gone but the link's key (``LinkKey``) names the same case image or page, that record under its
    id now."""
    return record_out(engine, *record_of(engine, record_id, key), links)


Way = Literal["before", "after"]
NEAREST = "The nearest page before or after page that has a record, rather than page itself."


@router.get(
    "/pages",
    operation_id="get_page",
    response_model=PageOut,
    summary="The page record of a book page, and the pages beside it that have one (for previous/next page)",
)
def book_page(
    engine: EngineDep,
    links: LinksDep,
    source: str = Query(..., description="The source as hits cite it (citation.source_id, or citation.source)."),
    *,  # page, required, after source's default
    page: Annotated[int, Query(ge=1), IN_DIGITS],
    nearest: Annotated[Way | None, Query(description=NEAREST)] = None,
) -> PageOut:
    """``nearest`` steps over the pages without a record (a slide with a title alone) in one request: stepping by
    number, the web viewer asked up to 17 times at a deck's end."""
    key = source_key(engine, source)  # hits cite a file name; the index keys sources by path
    records = page_records(engine, key)
    held = sorted(records)
    wanted = page if nearest is None else beside(held, page, nearest)
    if wanted in records:
        record_id, stored = records[wanted]
        record = record_out(engine, record_id, Payload.from_payload(stored), links)
        around = {"previous_page": beside(held, wanted, "before"), "next_page": beside(held, wanted, "after")}
        return PageOut(**record.model_dump(), **around)
    where = f"page {page}" if nearest is None else f"page {nearest} {page}"
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {where} of {echoed(source)} in the index")


def page_records(engine, source: str) -> dict[int, tuple[str, dict[str, Any]]]:
    """Each page of ``source`` (its key) that has a page record, to that record's id and stored payload: one filtered
    store scan gives the page asked and its neighbours (``keyed_record`` beside it scanned them twice)."""
    records: dict[int, tuple[str, dict[str, Any]]] = {}
    for record_id, stored in engine.index.store.scan(RecordKey(source_id(source)).filters(source)):
        records.setdefault(stored["page"], (record_id, stored))
    return records


def beside(pages: list[int], page: int, way: Way) -> int | None:
    """The nearest of ``pages`` (in order) before or after ``page``; None where none is that way."""
    if way == "before":
        at = bisect_left(pages, page)
        return pages[at - 1] if at else None
    at = bisect_right(pages, page)
    return pages[at] if at < len(pages) else None


@router.get(
    "/records/{record_id}/pdf",
    operation_id="get_record_pdf",
    response_class=FileResponse,
    summary="The source PDF of a record",
    responses={200: binary("application/pdf"), **errors(410)},  # 410: changed on disk, its pages another book's
)
def source_pdf(record_id: str, engine: EngineDep, head: HeadDep, key: KeyDep) -> Response:
    """A HEAD reads none of the file (a book may be hundreds of megabytes)."""
    payload = payload_of(engine, record_id, key)
    source = payload.source
    path = Path(source)
    # Only a file the index lists as a source, and only a PDF: the id never names an arbitrary path.
    if source not in engine.index.manifest or path.suffix.lower() != ".pdf":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this record has no source PDF")
    if not path.is_file():  # moved or deleted since it was indexed, as the page views answer it
        raise HTTPException(status.HTTP_410_GONE, PDF_GONE)
    check_source(engine, payload)
    readable(path, status.HTTP_410_GONE, PDF_UNREADABLE)
    served = FileResponse(  # shown in the browser, sandboxed (``SANDBOXED``): the PDF's own JavaScript does not run
        path,
        media_type="application/pdf",
        headers=SANDBOXED,
        content_disposition_type="inline",
        filename=path.name,
        stat_result=path.stat(),
    )
    return file_answer(served, head)
