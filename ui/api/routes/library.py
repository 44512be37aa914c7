"""The library: indexed sources, index jobs (upload a PDF or a zipped case folder), removal."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile, status

from pathatlas.ui.api.deps import EngineDep, require_token
from pathatlas.ui.api.engine import Job
from pathatlas.ui.api.schemas import JobOut, SourceOut
from pathatlas.ui.api.uploads import extract_zip, read_limited, safe_name

router = APIRouter(tags=["library"])
Writer = Depends(require_token)


def job_out(job: Job) -> JobOut:
    return JobOut(id=job.id, status=job.status, source=job.source, done=job.done, total=job.total, error=job.error)


@router.get("/sources", response_model=list[SourceOut], summary="Indexed sources with counts")
def list_sources(engine: EngineDep) -> list[SourceOut]:
    return [
        SourceOut(source=key, kind=v["kind"], entries=v["entries"], problems=v.get("problems", []))
        for key, v in engine.index.manifest.items()
    ]


@router.delete("/sources/{name}", dependencies=[Writer], summary="Remove a source by its file or folder name")
def delete_source(name: str, engine: EngineDep) -> dict[str, int]:
    return {"removed": engine.remove(name)}


@router.post(
    "/jobs",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer],
    summary="Index an uploaded PDF, or a zip of a case folder (cases.jsonl or labels.csv inside)",
)
async def create_job(engine: EngineDep, file: Annotated[UploadFile, File()]) -> JobOut:
    name = safe_name(file.filename, "upload")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in ("pdf", "zip"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "upload a .pdf or a .zip of a case folder")
    data = await read_limited(file, engine.settings.max_upload_mb << 20)
    folder = engine.settings.home / "uploads" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    stored = folder / name
    stored.write_bytes(data)
    if suffix == "zip":
        target = folder / stored.stem
        extract_zip(stored, target)
        stored.unlink()
        stored = target
    return job_out(engine.submit(name, [stored]))


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Status and progress of an index job")
def get_job(job_id: str, engine: EngineDep) -> JobOut:
    if job_id not in engine.jobs:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return job_out(engine.jobs[job_id])


@router.delete("/jobs/{job_id}", response_model=JobOut, dependencies=[Writer], summary="Cancel an index job")
def cancel_job(job_id: str, engine: EngineDep) -> JobOut:
    if job_id not in engine.jobs:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    job = engine.jobs[job_id]
    job.cancel_requested = job.status in ("queued", "running")
    return job_out(job)
