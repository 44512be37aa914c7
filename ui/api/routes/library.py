"""The library: indexed sources, index jobs (upload a PDF or a zipped case folder), removal."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool

from pathatlas.errors import UnknownSourceError
from pathatlas.indexer.sources.base import content_hash
from pathatlas.retrieval.index import Index, Manifest, per_generation
from pathatlas.retrieval.records import display_name, distinct_names, source_id
from pathatlas.retrieval.search import echoed, source_names
from pathatlas.ui.api.deps import EngineDep, errors, form_only, require_token
from pathatlas.ui.api.engine import Engine, claim_upload, source_problems
from pathatlas.ui.api.jobs import RECORD_DAYS, Job
from pathatlas.ui.api.routes.search import listed, unknown_source
from pathatlas.ui.api.schemas import JobForm, JobOut, JobsQuery, SourceOut
from pathatlas.ui.api.uploads import (
    extract_zip,
    indexed_copy,
    read_by_sources,
    safe_name,
    save_limited,
    sent_name,
    skipped_note,
    type_problem,
)

router = APIRouter(tags=["library"])
UPLOAD_TYPES_HINT = "upload a .pdf or a .zip of a case folder"
Writer = Depends(require_token)


def job_out(job: Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


@per_generation
def case_counts(index: Index) -> Counter[str]:
    """Distinct cases per source key, read from the case images' payloads once per generation (the manifest counts
    records only)."""
    cases = {(payload["source"], payload.get("case")) for _, payload in index.store.scan({"kind": "case"})}
    return Counter(source for source, _ in cases)


@router.get(
    "/sources", operation_id="list_sources", response_model=list[SourceOut], summary="Indexed sources with counts"
)
def list_sources(engine: EngineDep) -> list[SourceOut]:
    """Each source by its file or folder name; sources sharing one are named as citations name them, by the folders
    telling them apart ("year1/notes.pdf", "year2/notes.pdf"), never by a server path."""
    index = engine.index
    names, cases = source_names(index), case_counts(index)
    return [
        SourceOut(
            id=v.get("id") or source_id(key),
            source=names.get(key, display_name(key)),
            kind=v["kind"],
            entries=v["entries"],
            cases=cases[key],
            problems=source_problems(key, v.get("problems", [])),
        )
        for key, v in index.manifest.items()
    ]


@router.delete(
    "/sources/{source_id}",
    operation_id="delete_source",
    dependencies=[Writer],
    summary="Remove a source by its id (GET /sources lists them) or its unique file name",
    description="A file name several sources share is refused (400), naming each as GET /sources does, with its id.",
    responses=errors(400, 401, 403, 404, 409, 422, 503),
)
def delete_source(source_id: str, engine: EngineDep) -> dict[str, int]:
    try:  # a name several sources share: the app's handler words it (``Engine.client_message``), no server paths
        # never by a server path (``..``, ``~``): 404 as unknown
        return {"removed": engine.remove(listed(source_id, engine))}
    except UnknownSourceError:  # the index's message names the command line's way to list them
        raise unknown_source(source_id) from None


@router.post(
    "/jobs",
    operation_id="create_job",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer, form_only(JobForm)],
    summary="Index an uploaded PDF, or a zip of a case folder (cases.jsonl or labels.csv inside)",
    description="Uploading a file of the same name again replaces that source once the new one is indexed. A PDF "
    "whose bytes an indexed source holds is refused (409), naming that source: each page would be found twice.",
    responses={
        **errors(400, 401, 403, 409, 411, 413, 415, 422, 503, 507),
        409: {
            **errors(409)[409],
            "description": "Another process is changing the index, or the index already holds "
            "the uploaded PDF (the detail names it)",
        },
    },
)
async def create_job(engine: EngineDep, form: Annotated[JobForm, File()]) -> JobOut:
    file = form.file
    name = safe_name(file.filename, "upload")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in ("pdf", "zip"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, UPLOAD_TYPES_HINT)
    await run_in_threadpool(engine.check_can_write)  # 409 now, not a job that can only fail
    settings = engine.settings
    folder = engine.uploads / uuid.uuid4().hex[:12]
    claim = None
    try:  # whatever stops it (a full disk included) leaves nothing of the upload behind
        claim = await run_in_threadpool(claim_upload, folder, engine.index.path)
        stored, notes = folder / name, []
        await save_limited(file, stored, settings.max_upload_mb << 20)
        await run_in_threadpool(check_upload, engine, stored, echoed(sent_name(file.filename)))
        if suffix == "zip":
            target = folder / stored.stem
            keep = None if settings.sources else read_by_sources  # what a plug-in source reads is its own
            unpacked = (stored, target, settings.max_unpacked_mb << 20, settings.max_zip_members, keep)
            if skipped := await run_in_threadpool(extract_zip, *unpacked):  # the images no row lists: the job's
                notes.append(skipped_note(skipped))
            stored.unlink()
            stored = target
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if claim is not None:
            claim.release()
        raise
    return job_out(engine.submit(name, [stored], upload=folder, claim=claim, notes=notes))


def check_upload(engine: Engine, stored: Path, name: str) -> None:
    """Refuse at once, in one line naming the upload as sent (``name``), a file that is not what its name says (415,
    as an image is) and a PDF the index already holds from another file (409): indexed beside it, each of its pages
    would be found and cited twice, once by an upload id. The lecturer who meant to replace that source is told how."""
    if problem := type_problem(stored, name):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{problem}: {UPLOAD_TYPES_HINT}")
    manifest = engine.index.manifest
    if stored.suffix.lower() == ".pdf" and (key := indexed_twin(engine, manifest, stored)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, same_file(manifest, key, name))


def indexed_twin(engine: Engine, manifest: Manifest, stored: Path) -> str | None:
    """The source of ``manifest`` holding the bytes of the uploaded PDF ``stored`` (``indexed_copy``), bar an earlier
    upload of its name, which this one replaces."""

    def replaced(key: str) -> bool:
        return (upload := engine.uploaded(key)) is not None and (upload.name, upload.unpacked) == (stored.name, False)

    return indexed_copy(manifest, content_hash(stored), replaced)


def same_file(manifest: Manifest, key: str, name: str) -> str:
    """``check_upload``'s 409 for an upload holding what the source ``key`` holds, naming it as GET /sources does."""
    shown, source = distinct_names(manifest).get(key, display_name(key)), manifest[key].get("id") or source_id(key)
    return (
        f"{name} is the same file as {shown} (id {source}), already indexed: its pages would appear twice; to index "
        f"this upload in its place, remove that source first (DELETE /sources/{source})"
    )


@router.get(
    "/jobs",
    operation_id="list_jobs",
    response_model=list[JobOut],
    summary="Index jobs, the most recently submitted first",
    description=f"The jobs this server process runs or ran and those earlier processes recorded (kept {RECORD_DAYS} "
    "days), each as GET /jobs/{id} answers it: a client that lost a job's id finds its upload by name and time. "
    "Readable without the token, as every GET route is.",
    responses=errors(422),
)
def list_jobs(engine: EngineDep, query: Annotated[JobsQuery, Query()]) -> list[JobOut]:
    """A plain ``def``: FastAPI runs it in a worker thread, since every record is a file read."""
    jobs = (job for job in engine.all_jobs() if not query.status or job.status in query.status)
    return [job_out(job) for job in islice(jobs, query.limit)]


@router.get(
    "/jobs/{job_id}",
    operation_id="get_job",
    response_model=JobOut,
    summary="Status and progress of an index job",
    responses=errors(404, 422),
)
def get_job(job_id: str, engine: EngineDep) -> JobOut:
    return job_out(
        known_job(
            engine, job_id, "GET /jobs lists those kept; an older job's upload is in GET /sources if it was indexed"
        )
    )


def known_job(engine: Engine, job_id: str, unknown: str) -> Job:
    """A job of this index, run by this process or recorded by an earlier one; 404 otherwise, ending with what the
    client may do (``unknown``): a job older than its record has its source listed, if it was indexed."""
    if (job := engine.job(job_id)) is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no job {echoed(job_id)} of this index (job records are kept for {RECORD_DAYS} days): {unknown}",
        )
    return job


@router.delete(
    "/jobs/{job_id}",
    operation_id="cancel_job",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer],
    summary="Cancel an index job",
    description="202: the cancel is taken (cancel_requested is true); the job stops at its next page or image, and "
    "GET /jobs/{id} then reads cancelled. 409: the job already ended (done, failed, cancelled or interrupted), or "
    "runs in another server process.",
    responses={
        **errors(401, 403, 404, 409, 422),
        409: {**errors(409)[409], "description": "The job already ended, or runs in another server process"},
    },
)
def cancel_job(job_id: str, engine: EngineDep) -> JobOut:
    """202, as RFC 9110 answers a DELETE taken but not yet enacted: the job stops at its next step. A job that has
    ended is 409, naming how it ended: a 200 with its status left the client to guess whether anything was cancelled."""
    job = known_job(engine, job_id, "nothing to cancel; give the job id that POST /jobs answered")
    if not job.running:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already ended ({job.status}): nothing to cancel")
    if job_id not in engine.jobs:  # recorded, and its upload still claimed: another process runs it
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} runs in another server process: cancel it there")
    job.cancel_requested = True
    engine.records.save(job)  # a restart before the job stops still shows the cancel was taken
    return job_out(job)
