"""Images: thumbnails, rendered pages with the cited region highlighted, case images and details."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pymupdf
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response

from pathatlas.retrieval.records import Payload, display_name, source_id
from pathatlas.ui.api.deps import EngineDep, errors

router = APIRouter(tags=["media"])
RECORD_ID = re.compile(r"^[0-9a-f]{24}$")


def payload_of(engine, record_id: str) -> Payload:
    if not RECORD_ID.match(record_id):  # ids are hex: nothing else may reach a file path
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a record id")
    payload = Payload.from_payloads(engine.index.store.payloads([record_id])).get(record_id)
    if payload is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such record")
    return payload


@router.get(
    "/media/thumbnails/{record_id}",
    response_class=FileResponse,
    summary="A hit's thumbnail (JPEG)",
    responses={200: {"content": {"image/jpeg": {}}}, **errors(404)},
)
def thumbnail(record_id: str, engine: EngineDep) -> FileResponse:
    payload_of(engine, record_id)
    path = engine.index.thumbnail_path(record_id)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no thumbnail for this record")
    return FileResponse(path, media_type="image/jpeg")


@router.get(
    "/media/pages/{record_id}",
    response_class=Response,
    summary="The cited page rendered as PNG, its region outlined",
    description="The dpi is lowered when the page would exceed PATHATLAS_MAX_PAGE_PIXELS.",
    responses={200: {"content": {"image/png": {}}}, **errors(404, 410)},
)
def page(record_id: str, engine: EngineDep, dpi: int = Query(110, ge=36, le=300)) -> Response:
    payload = payload_of(engine, record_id)
    if payload.page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this record is not on a page")
    key = (payload.source, payload.fingerprint, payload.page, payload.bbox, dpi)
    png = render_page(key, engine.settings.max_page_pixels)
    return Response(png, media_type="image/png")


@lru_cache(maxsize=32)
def render_page(key: tuple, max_pixels: int) -> bytes:
    """PNG of a page (cached by source version, page, box and dpi), at most ``max_pixels`` pixels."""
    source, _, number, bbox, dpi = key
    try:
        with pymupdf.open(source) as doc:
            pdf_page = doc[number - 1]
            width, height = pdf_page.rect.width / 72, pdf_page.rect.height / 72  # inches
            dpi = min(dpi, int(math.sqrt(max_pixels / max(width * height, 1e-6))))
            if bbox:
                pdf_page.draw_rect(pymupdf.Rect(bbox), color=(0.9, 0.1, 0.1), width=3)
            return pdf_page.get_pixmap(dpi=max(dpi, 1)).tobytes("png")
    except (RuntimeError, ValueError, IndexError) as exc:
        raise HTTPException(status.HTTP_410_GONE, "the source PDF is no longer readable") from exc


@router.get(
    "/media/cases/{record_id}",
    response_class=FileResponse,
    summary="A case image at full size",
    responses={200: {"content": {"image/*": {}}}, **errors(404, 410)},
)
def case_image(record_id: str, engine: EngineDep) -> FileResponse:
    payload = payload_of(engine, record_id)
    if payload.kind != "case" or not payload.image:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a case image")
    path = (Path(payload.source) / payload.image).resolve()
    if not path.is_relative_to(Path(payload.source).resolve()) or not path.is_file():
        raise HTTPException(status.HTTP_410_GONE, "the case image is no longer on disk")
    return FileResponse(path)


@router.get(
    "/cases/{record_id}",
    summary="Case details: diagnosis, organ, labels and all its images",
    responses=errors(404),
)
def case_details(record_id: str, engine: EngineDep) -> dict[str, Any]:
    payload = payload_of(engine, record_id)
    if payload.kind != "case":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a case image")
    siblings = engine.index.store.scan({"kind": "case", "source": payload.source, "case": payload.case})
    images = [{"id": rid, "image": Payload.from_payload(p).image, "url": f"/media/cases/{rid}"} for rid, p in siblings]
    return {
        "case": payload.case,
        "title": payload.title,
        "diagnosis": payload.diagnosis,
        "organ": payload.organ,
        "labels": payload.labels,
        "source": display_name(payload.source),  # responses never reveal server paths
        "source_id": source_id(payload.source),
        "images": sorted(images, key=lambda i: i["image"] or ""),
    }
