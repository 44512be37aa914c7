"""Images: thumbnails, rendered pages with the cited region highlighted, case images and details."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pymupdf
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, Response

from pathatlas.ui.api.deps import EngineDep

router = APIRouter(tags=["media"])
RECORD_ID = re.compile(r"^[0-9a-f]{24}$")


def payload_of(engine, record_id: str) -> dict[str, Any]:
    if not RECORD_ID.match(record_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such record")
    payload = engine.index.store.payloads([record_id]).get(record_id)
    if payload is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such record")
    return payload


@router.get("/media/thumbnails/{record_id}", response_class=FileResponse, summary="A hit's thumbnail (JPEG)")
def thumbnail(record_id: str, engine: EngineDep) -> FileResponse:
    payload_of(engine, record_id)
    path = engine.index.thumbnail_path(record_id)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no thumbnail for this record")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/media/pages/{record_id}", summary="The cited page rendered as PNG, its region outlined")
def page(record_id: str, engine: EngineDep, dpi: int = Query(110, ge=36, le=300)) -> Response:
    payload = payload_of(engine, record_id)
    if payload.get("page") is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this record is not on a page")
    try:
        with pymupdf.open(payload["source"]) as doc:
            pdf_page = doc[payload["page"] - 1]
            if payload.get("bbox"):
                pdf_page.draw_rect(pymupdf.Rect(payload["bbox"]), color=(0.9, 0.1, 0.1), width=3)
            png = pdf_page.get_pixmap(dpi=dpi).tobytes("png")
    except (RuntimeError, ValueError, IndexError) as exc:
        raise HTTPException(status.HTTP_410_GONE, f"the source PDF is no longer readable: {exc}") from exc
    return Response(png, media_type="image/png")


@router.get("/media/cases/{record_id}", response_class=FileResponse, summary="A case image at full size")
def case_image(record_id: str, engine: EngineDep) -> FileResponse:
    payload = payload_of(engine, record_id)
    if payload.get("kind") != "case":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a case image")
    path = (Path(payload["source"]) / payload["image"]).resolve()
    if not path.is_relative_to(Path(payload["source"]).resolve()) or not path.is_file():
        raise HTTPException(status.HTTP_410_GONE, "the case image is no longer on disk")
    return FileResponse(path)


@router.get("/cases/{record_id}", summary="Case details: diagnosis, organ, labels and all its images")
def case_details(record_id: str, engine: EngineDep) -> dict[str, Any]:
    payload = payload_of(engine, record_id)
    if payload.get("kind") != "case":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a case image")
    images = [
        {"id": rid, "image": p.get("image"), "url": f"/media/cases/{rid}"}
        for rid, p in engine.index.store.scan({"kind": "case", "source": payload["source"], "case": payload["case"]})
    ]
    keep = ("case", "title", "diagnosis", "organ", "labels", "source")
    return {**{k: payload.get(k) for k in keep}, "images": sorted(images, key=lambda i: i["image"] or "")}
