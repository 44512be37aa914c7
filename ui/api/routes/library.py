"""The library: indexed sources, index jobs (upload a PDF, lecture notes, or a zip of them or of a case folder),
removal."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, status
from filelock import FileLock

from pathatlas.errors import UnknownSourceError
from pathatlas.indexer.sources.cases import rows_read_once
from pathatlas.indexer.sources.notes import NOTE_SUFFIXES
from pathatlas.retrieval.index import Index, per_generation
from pathatlas.retrieval.records import display_name, source_id
from pathatlas.retrieval.search import echoed, source_names
from pathatlas.settings import Settings
from pathatlas.ui.api.deps import (
    JOB_RETRY_SECONDS,
    EngineDep,
    JobsDep,
    Role,
    RoleDep,
    UploadsDep,
    WriterDep,
    errors,
    form_only,
    require_token,
)
from pathatlas.ui.api.duplicates import check_copies, unchanged_job
from pathatlas.ui.api.engine import source_problems
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.jobs import RECORD_DAYS, Job
from pathatlas.ui.api.routes.search import listed, unknown_source
from pathatlas.ui.api.schemas import JobForm, JobOut, JobsQuery, SourceOut
from pathatlas.ui.api.upload_folder import claim_upload
from pathatlas.ui.api.uploads import (
    UPLOAD_SUFFIXES,
    extract_zip,
    junk_note,
    safe_name,
    save_limited,
    sent_name,
    skipped_notes,
    type_problem,
    unreadable_notes,
    without_junk,
)

router = APIRouter(tags=["library"])
UPLOAD_TYPES_HINT = f"upload a .pdf, lecture notes ({', '.join(NOTE_SUFFIXES)}), or a .zip of them or of a case folder"
Writer = Depends(require_token)
LECTURERS_JOB = "this job was sent with the lecturer's token (PATHATLAS_API_TOKEN): only that token cancels it"


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
    description="A file name several sources share is refused (400), naming each as GET /sources does, with its id. "
    "While an index job of this service writes the index, a removal is refused at once (409, with Retry-After), naming "
    "the job and how far it is: send it again once the job has ended (GET /jobs/{id} follows it); a removal in "
    "progress is waited for.",
    responses={
        **errors(400, 401, 403, 404, 409, 422, 503),
        409: {
            **errors(409)[409],
            "description": "An index job of this service is writing the index (the detail names it: GET /jobs/{id} "
            "follows it), or another process is changing it: try again when it has ended, after Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
        },
    },
)
def delete_source(source_id: str, engine: EngineDep, writer: WriterDep, jobs: JobsDep) -> dict[str, int]:
    try:  # a name several sources share: the app's handler words it (``Engine.client_message``), no server paths
        # never by a server path (``..``, ``~``): 404 as unknown
        return {"removed": writer.remove(listed(source_id, engine), waiting=partial(refuse_while_indexing, jobs))}
    except UnknownSourceError:  # the index's message names the command line's way to list them
        raise unknown_source(source_id) from None


def refuse_while_indexing(jobs: Jobs) -> None:
    """Refuse (409) a removal waiting for the index while an index job of this process writes it: it would hold a
    server thread until the job's end (minutes), and removals sent meanwhile would take every thread."""
    job = next((job for job in list(jobs.by_id.values()) if job.status == "running"), None)  # a copy: jobs are added
    if job is not None:
        retry = {"Retry-After": str(JOB_RETRY_SECONDS)}
        raise HTTPException(status.HTTP_409_CONFLICT, indexing_now(job), headers=retry)


def indexing_now(job: Job) -> str:
    """Why a removal is refused while ``job`` writes the index, and what to do, in one line."""
    progress = f"{job.done}/{job.total} done" if job.total else "starting"
    return (
        f"nothing removed: index job {job.id} ({job.source}) is writing the index, {progress}; try again once it has "
        f"ended (GET /jobs/{job.id} follows it)"
    )


@router.post(
    "/jobs",
    operation_id="create_job",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer, form_only(JobForm)],
    summary="Index an uploaded PDF, lecture notes (.md, .qmd, .markdown), or a zip of them or of a case folder",
    description="Uploading a file of the same name again replaces that source once the new one is indexed; with the "
    "upload token that is refused (403) unless its bytes are the same. The same bytes sent again, where what the "
    "earlier upload gave is indexed unchanged, are not read again: the job answered is done at once, its notes saying "
    "so. Refused (429) while PATHATLAS_MAX_JOBS jobs "
    "wait or run. A file that is not what its name says (a binary file named .md) is refused (415). A zip's PDFs and "
    "notes are indexed each as a source, its case folders (cases.jsonl or labels.csv inside) as cases; a README or "
    "licence in it is left out, as a folder's walk leaves it out, and a Quarto partial (_name.qmd) is read only where "
    "notes include it. A PDF, notes or zip "
    "file whose bytes, or a zip with a case folder whose files, an indexed source or another upload not yet indexed "
    "holds is refused (409), naming it: each page, slide or case would be found twice. A zip's PDF or notes file so "
    "held, or held by a file of the zip before it, is left out, and the job's notes name what holds it; a zip left "
    "with nothing to index by them is refused (409), naming them.",
    responses={
        **errors(400, 401, 403, 409, 411, 413, 415, 422, 429, 503, 507),
        409: {
            **errors(409)[409],
            "description": "Another process is changing the index, or the index or another upload already "
            "holds the uploaded file or case folder (the detail names it)",
        },
    },
)
def create_job(
    engine: EngineDep,
    writer: WriterDep,
    uploads: UploadsDep,
    jobs: JobsDep,
    form: Annotated[JobForm, File()],
    role: RoleDep,
) -> JobOut:
    """A plain ``def``, which FastAPI runs in a worker thread: its steps write, read, unpack and delete files (an upload
    may be 200 MB), which on the event loop would hold up every other request."""
    file = form.file
    name = safe_name(file.filename, "upload")
    suffix = Path(name).suffix.lower()
    sent = echoed(sent_name(file.filename))
    if suffix not in UPLOAD_SUFFIXES:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, unindexed_type(sent, suffix))
    writer.check_can_write()  # 409 now, not a job that can only fail
    settings = engine.settings
    folder = uploads.path / uuid.uuid4().hex[:12]
    claim = None
    try:  # whatever stops it (a full disk included) leaves nothing of the upload behind
        claim = claim_upload(folder, engine.index.path)
        stored, notes = folder / name, []
        save_limited(file.file, stored, settings.max_upload_mb << 20)
        if suffix == ".pdf" and (cut := without_junk(stored)):
            notes.append(junk_note(cut))
        if problem := type_problem(stored, sent):  # not what its name says, refused as an image is
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{problem}: {UPLOAD_TYPES_HINT}")
        notes.extend(check_copies(jobs, stored, sent))
        may_replace = role is Role.LECTURER
        if not may_replace and (refusal := uploads.replacement_refusal(engine.index, folder, [stored], name)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
        # a case folder's metadata read once: for the images to unpack, its copy check and the look at it unchanged
        with rows_read_once():
            if suffix == ".zip":
                stored, unpacked_notes = unpacked_zip(stored, settings)
                notes.extend(unpacked_notes + check_copies(jobs, stored, sent))
            unchanged = unchanged_job(jobs, folder, folder / name, stored, notes, may_replace)
    except BaseException:
        discard(folder, claim)
        raise
    if unchanged is not None:  # the same bytes sent again (a reload, a second click): nothing to read again
        discard(folder, claim)
        return job_out(unchanged)
    return job_out(jobs.submit(name, [stored], upload=folder, claim=claim, notes=notes, may_replace=may_replace))


def discard(folder: Path, claim: FileLock | None) -> None:
    """An upload's folder deleted, and then its claim released (``claim_upload``), where no job takes it."""
    shutil.rmtree(folder, ignore_errors=True)
    if claim is not None:
        claim.release()


def unindexed_type(sent: str, suffix: str) -> str:
    """The refusal of an upload whose name is of no type PathAtlas indexes, naming it as the client sent it (``sent``:
    the name the user knows, never the path it would be stored at) and its type (``suffix``, "" for none)."""
    what = f"is a {suffix} file" if suffix else "has no file type in its name"
    return f"{sent or 'the file uploaded'} {what}: {UPLOAD_TYPES_HINT}"


def unpacked_zip(stored: Path, settings: Settings) -> tuple[Path, list[str]]:
    """The folder the uploaded zip ``stored`` unpacks to beside it, the zip deleted, with the notes naming what it
    leaves out: the members no source reads, and the notes files that yield nothing to index."""
    target = stored.parent / stored.stem
    readers = None if settings.sources else settings  # what a plug-in source reads is its own
    notes = skipped_notes(
        extract_zip(stored, target, settings.max_unpacked_mb << 20, settings.max_zip_members, readers), target
    )
    stored.unlink()
    return target, notes + (unreadable_notes(target, settings) if readers else [])


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
def list_jobs(jobs: JobsDep, query: Annotated[JobsQuery, Query()]) -> list[JobOut]:
    """A plain ``def``: FastAPI runs it in a worker thread, since every record is a file read."""
    listed = (job for job in jobs.all_jobs() if not query.status or job.status in query.status)
    return [job_out(job) for job in islice(listed, query.limit)]


@router.get(
    "/jobs/{job_id}",
    operation_id="get_job",
    response_model=JobOut,
    summary="Status and progress of an index job",
    responses=errors(404, 422),
)
def get_job(job_id: str, jobs: JobsDep) -> JobOut:
    return job_out(
        known_job(
            jobs, job_id, "GET /jobs lists those kept; an older job's upload is in GET /sources if it was indexed"
        )
    )


def known_job(jobs: Jobs, job_id: str, unknown: str) -> Job:
    """A job of this index, run by this process or recorded by an earlier one; 404 otherwise, ending with what the
    client may do (``unknown``): a job older than its record has its source listed, if it was indexed."""
    if (job := jobs.job(job_id)) is None:
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
def cancel_job(job_id: str, jobs: JobsDep, role: RoleDep) -> JobOut:
    """202, as RFC 9110 answers a DELETE taken but not yet enacted: the job stops at its next step. A job that has
    ended is 409, naming how it ended: a 200 with its status left the client to guess whether anything was cancelled.
    The upload token cancels no job the lecturer's token sent (403): a cancel rolls the upload back and deletes it."""
    job = known_job(jobs, job_id, "nothing to cancel; give the job id that POST /jobs answered")
    if role is Role.UPLOADER and job.may_replace:
        raise HTTPException(status.HTTP_403_FORBIDDEN, LECTURERS_JOB)
    if not job.running:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already ended ({job.status}): nothing to cancel")
    if job_id not in jobs.by_id:  # recorded, and its upload still claimed: another process runs it
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} runs in another server process: cancel it there")
    job.cancel_requested = True
    jobs.records.save(job)  # a restart before the job stops still shows the cancel was taken
    return job_out(job)
