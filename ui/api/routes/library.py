"""The library: indexed sources, index jobs (upload a PDF, lecture notes, or a zip of them or of a case folder),
removal."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Depends, File, HTTPException, Query, status

from pathatlas.errors import PathAtlasError, UnknownSourceError
from pathatlas.indexer.pipeline import SAME_CONTENT, indexed_copy
from pathatlas.indexer.sources import CaseFolderSource, NotesSource, PdfSource, Source, discover
from pathatlas.indexer.sources.cases import rows_read_once
from pathatlas.indexer.sources.fingerprints import content_hash, earlier_contents
from pathatlas.indexer.sources.notes import NOTE_SUFFIXES
from pathatlas.retrieval.index import Index, Manifest, per_generation
from pathatlas.retrieval.records import display_name, distinct_names, source_id
from pathatlas.retrieval.search import echoed, source_names
from pathatlas.settings import OWNER_FILE
from pathatlas.ui.api.deps import (
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
from pathatlas.ui.api.engine import source_problems
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.jobs import RECORD_DAYS, Job, claimed
from pathatlas.ui.api.routes.search import listed, unknown_source
from pathatlas.ui.api.schemas import JobForm, JobOut, JobsQuery, SourceOut
from pathatlas.ui.api.upload_folder import UploadFolder, claim_upload, sources_of
from pathatlas.ui.api.uploads import (
    MEMBER_MARK,
    UPLOAD_SUFFIXES,
    extract_zip,
    junk_note,
    mark_content,
    marked_uploads,
    replaces,
    safe_name,
    save_limited,
    sent_name,
    shown,
    skipped_notes,
    type_problem,
    unreadable_notes,
    without_junk,
)

router = APIRouter(tags=["library"])
UPLOAD_TYPES_HINT = f"upload a .pdf, lecture notes ({', '.join(NOTE_SUFFIXES)}), or a .zip of them or of a case folder"
Writer = Depends(require_token)
LECTURERS_JOB = "this job was sent with the lecturer's token (PATHATLAS_API_TOKEN): only that token cancels it"
CONTENT_CHECK = threading.Lock()
"""Held while an upload's content (its bytes, a zip's case folders) is looked for in the index and the other uploads
and then marked as its own (``refuse_held``): two uploads of the same content sent at once must not both pass the look.
One process's lock: servers sharing an uploads folder see each other's marks, but two of them may still both pass at
the same moment."""


class TwinWords(NamedTuple):
    """How a 409 for content already held words it."""

    same_as: str
    """What the upload is to the sources or the upload holding it."""
    came_from: str
    """What indexed sources holding it are said to have come from."""
    twice: str
    """What would appear twice."""


TWIN_WORDS = {
    ".pdf": TwinWords(SAME_CONTENT[PdfSource.kind], "", "its pages"),
    ".zip": TwinWords(SAME_CONTENT[PdfSource.kind], "the zip of ", "each of its sources"),
    **dict.fromkeys(NOTE_SUFFIXES, TwinWords(SAME_CONTENT[NotesSource.kind], "", "its slides")),
    CaseFolderSource.kind: TwinWords(SAME_CONTENT[CaseFolderSource.kind], "", "its cases"),
}
"""By an upload's suffix (its bytes), or a source kind (a case folder a zip unpacked to), the words of its 409."""
DOCUMENT_KINDS = (PdfSource.kind, NotesSource.kind)
"""The sources of a zip that are one file each, left out where held elsewhere (``held_documents``)."""
IN_ITS_PLACE = "to index this upload in its place, remove {those} first (DELETE /sources/{removal})"
"""How the lecturer indexes an upload refused (409) for what indexed sources hold: it is sent again then."""
ZIP_COPY_INSTEAD = "to index the zip's copy instead, remove {those} (DELETE /sources/{removal}) and send the zip again"
"""``IN_ITS_PLACE`` for a zip's member left out (``held_documents``): it is gone from the upload, so the zip is sent
again."""


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
def delete_source(source_id: str, engine: EngineDep, writer: WriterDep) -> dict[str, int]:
    try:  # a name several sources share: the app's handler words it (``Engine.client_message``), no server paths
        # never by a server path (``..``, ``~``): 404 as unknown
        return {"removed": writer.remove(listed(source_id, engine))}
    except UnknownSourceError:  # the index's message names the command line's way to list them
        raise unknown_source(source_id) from None


@router.post(
    "/jobs",
    operation_id="create_job",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Writer, form_only(JobForm)],
    summary="Index an uploaded PDF, lecture notes (.md, .qmd, .markdown), or a zip of them or of a case folder",
    description="Uploading a file of the same name again replaces that source once the new one is indexed; with the "
    "upload token that is refused (403) unless its bytes are the same. Refused (429) while PATHATLAS_MAX_JOBS jobs "
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
    if suffix not in UPLOAD_SUFFIXES:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, UPLOAD_TYPES_HINT)
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
        sent = echoed(sent_name(file.filename))
        check_upload(jobs, stored, sent)
        may_replace = role is Role.LECTURER
        if not may_replace and (refusal := uploads.replacement_refusal(engine.index, folder, [stored], name)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
        if suffix == ".zip":
            target = folder / stored.stem
            readers = None if settings.sources else settings  # what a plug-in source reads is its own
            unpacked = (stored, target, settings.max_unpacked_mb << 20, settings.max_zip_members, readers)
            with rows_read_once():  # a case folder's metadata read once: for the images to unpack, and its twin check
                notes.extend(skipped_notes(extract_zip(*unpacked)))  # the members no source reads
                stored.unlink()
                stored = target
                notes.extend(unreadable_notes(stored, settings) if readers else [])
                check_unpacked(jobs, stored, sent)
                notes.extend(held_documents(jobs, stored, sent))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if claim is not None:
            claim.release()
        raise
    return job_out(jobs.submit(name, [stored], upload=folder, claim=claim, notes=notes, may_replace=may_replace))


def check_upload(jobs: Jobs, stored: Path, name: str) -> None:
    """Refuse at once, in one line naming the upload as sent (``name``), a file that is not what its name says (415,
    as an image is) and one whose bytes the index or another upload already holds (409, ``refuse_held``)."""
    if problem := type_problem(stored, name):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"{problem}: {UPLOAD_TYPES_HINT}")
    if (content := content_hash(stored)) is None:  # unreadable: its job says why
        return
    refuse_held(jobs, stored, name, {content: TWIN_WORDS[stored.suffix.lower()]})


def check_unpacked(jobs: Jobs, unpacked: Path, name: str) -> None:
    """``check_upload`` for the case folders a zip unpacked to (``unpacked``): one whose content (``content_hash``) an
    indexed source or another upload holds is refused (409, ``refuse_held``). The zip's bytes tell little: the same
    folder zipped again, or by another tool, makes another zip, and one indexed from disk was never zipped."""
    try:
        sources = discover([unpacked], jobs.engine.settings)
    except PathAtlasError:  # nothing to index: its job says why
        return
    folders = [source for source in sources if source.kind == CaseFolderSource.kind]
    held = jobs.engine.index.manifest.values()
    contents = (c for source in folders for c in [source.content_hash(), *earlier_contents(source, held)])
    refuse_held(jobs, unpacked, name, dict.fromkeys(filter(None, contents), TWIN_WORDS[CaseFolderSource.kind]))


def held_documents(jobs: Jobs, unpacked: Path, name: str) -> list[str]:
    """The PDFs and notes files of the folder a zip unpacked to (``unpacked``) whose bytes an indexed source or another
    upload holds (``twin_refusal``), or a file of the zip kept before them: each removed, and named in a job's note
    with what holds it, as ``pathatlas index`` of a folder skips such a copy (``Indexer._held_elsewhere``). Indexed,
    each of its pages or slides would be found twice. Not a 409, as a lone file's, where the zip's other sources are
    new; a 409 in one line naming each (the zip sent as ``name``) where none is, as its job could only fail. The files
    kept are marked as the upload's (``MEMBER_MARK``) in one step with the look, as ``refuse_held`` marks a lone file:
    of a zip and a lone copy of its file sent at once, the second is told of the first, whichever it is."""
    try:
        sources = discover([unpacked], jobs.engine.settings)
    except PathAtlasError:  # nothing to index: its job says why
        return []
    documents = hashed_documents(sources, unpacked.resolve())  # hashed before the look, which holds up other uploads
    with CONTENT_CHECK:
        notes, kept = [], {}
        for member, path, content in documents:
            if (held := copy_of(jobs, unpacked, path, content, kept)) is None:
                kept[content] = member
                continue
            path.unlink()
            notes.append(f"left out {member}: {held}")
        if len(notes) == len(sources):
            raise HTTPException(status.HTTP_409_CONFLICT, f"nothing left to index in {name}: {'; '.join(notes)}")
        for content in kept:
            mark_content(unpacked.parent, content, MEMBER_MARK)
    return notes


def hashed_documents(sources: list[Source], root: Path) -> list[tuple[str, Path, str]]:
    """The PDFs and notes files of ``sources`` (found in the folder ``root``, resolved), each as (its path in the zip,
    its path, its ``content_hash``); one that cannot be read is left to its job, which says why."""
    documents = ((source.path, source.content_hash()) for source in sources if source.kind in DOCUMENT_KINDS)
    return [(path.relative_to(root).as_posix(), path, content) for path, content in documents if content is not None]


def copy_of(jobs: Jobs, unpacked: Path, path: Path, content: str, kept: dict[str, str]) -> str | None:
    """What holds the file ``path`` of the folder a zip unpacked to (``unpacked``), holding ``content``: a file of the
    zip ``kept`` before it (by content, its path in the zip), an indexed source or another upload
    (``twin_refusal``), in a note's words; None where nothing does."""
    words = TWIN_WORDS[path.suffix.lower()]
    if (first := kept.get(content)) is not None:
        return f"{path.name} {words.same_as} {first} of this zip: {words.twice} would appear twice"
    return twin_refusal(jobs, unpacked, path.name, content, words, ZIP_COPY_INSTEAD)


def refuse_held(jobs: Jobs, upload: Path, name: str, contents: dict[str, TwinWords]) -> None:
    """409 for the upload ``upload`` (its PDF or zip, or the folder a zip unpacked to) where the index or another
    upload holds one of ``contents`` (``twin_refusal``, worded as each says): indexed beside it, each of its pages or
    cases would be found and cited twice, once by an upload id. The lecturer who meant to replace that source is told
    how. The contents taken are marked as this upload's (``mark_content``) in one step with the look, so that of two
    uploads of them sent at once the second is refused as it is after the first."""
    with CONTENT_CHECK:
        for content, words in contents.items():
            if refusal := twin_refusal(jobs, upload, name, content, words):
                raise HTTPException(status.HTTP_409_CONFLICT, refusal)
        for content in contents:
            mark_content(upload.parent, content)


def twin_refusal(
    jobs: Jobs, upload: Path, name: str, content: str, words: TwinWords, instead: str = IN_ITS_PLACE
) -> str | None:
    """``refuse_held``'s 409 for the upload ``upload`` holding ``content``: a source of the index holding it
    (``indexed_twin``), or another upload of this index marked with it, not yet indexed (its folder still claimed) or
    indexed, or a zip not yet indexed holding it (``MEMBER_MARK``); None where there is none. Not an earlier upload
    this one replaces (``replaces``). ``instead``: how the lecturer indexes it in place of indexed sources."""
    engine, uploads = jobs.engine, jobs.uploads
    manifest = engine.index.manifest
    if (key := indexed_twin(uploads, manifest, upload, content)) is not None:
        return same_file(manifest, [key], name, words, instead)
    for folder in other_uploads(engine.index, upload, marked_uploads(uploads.path, content)):
        if claimed(folder):
            return not_yet_indexed(jobs, folder, name, words)
        if keys := sources_of(engine.index, folder):
            return same_file(manifest, keys, name, words, instead)
    for folder in other_uploads(engine.index, upload, marked_uploads(uploads.path, content, MEMBER_MARK)):
        if claimed(folder):  # once indexed, the manifest holds what its files hold
            return not_yet_indexed(jobs, folder, name, words, "a file of ")
    return None


def other_uploads(index: Index, upload: Path, folders: list[Path]) -> Iterator[Path]:
    """The upload folders of ``folders`` uploaded to ``index`` (``uploaded_to``) which the upload ``upload`` does
    not replace (``replaces``)."""
    return (folder for folder in folders if not replaces(upload, folder) and uploaded_to(folder, index.path))


def uploaded_to(folder: Path, index: Path) -> bool:
    """Whether an upload folder is marked as ``index``'s (``claim_upload``): several indexes may share the uploads."""
    try:
        return (folder / OWNER_FILE).read_text(encoding="utf-8") == str(index.resolve())
    except (OSError, UnicodeDecodeError):
        return False


def indexed_twin(uploads: UploadFolder, manifest: Manifest, upload: Path, content: str) -> str | None:
    """The source of ``manifest`` holding the content (``content``) of the upload ``upload`` (a PDF, or a case folder
    of the folder a zip unpacked to: ``indexed_copy``), bar an earlier upload of its name, which this one replaces."""

    stored_as = (upload.name, upload.is_dir())

    def replaced(key: str) -> bool:
        return (earlier := uploads.uploaded(key)) is not None and (earlier.name, earlier.unpacked) == stored_as

    return indexed_copy(manifest, content, replaced)


def same_file(manifest: Manifest, keys: list[str], name: str, words: TwinWords, instead: str) -> str:
    """``refuse_held``'s 409 for an upload holding what the sources ``keys`` hold (a PDF, or what a zip unpacked
    to), naming them as GET /sources does, and how to index it ``instead`` of them."""
    names, ids = distinct_names(manifest), [manifest[key].get("id") or source_id(key) for key in keys]
    held = shown([f"{names.get(key, display_name(key))} (id {source})" for key, source in zip(keys, ids, strict=True)])
    those, removal = ("that source", ids[0]) if len(ids) == 1 else ("those sources", "{id} for each")
    return (
        f"{name} {words.same_as} {words.came_from}{held}, already indexed: {words.twice} would appear twice; "
        + instead.format(those=those, removal=removal)
    )


def not_yet_indexed(jobs: Jobs, folder: Path, name: str, words: TwinWords, within: str = "") -> str:
    """``refuse_held``'s 409 for an upload holding the bytes of the upload of ``folder`` (``within``: of a file of
    it, a zip's), not yet indexed: named with its job where this process runs it."""
    job = next((job for job in list(jobs.by_id.values()) if job.upload == folder), None)  # a copy: jobs are added
    other = f"{job.source} (job {job.id})" if job else "another upload"
    return f"{name} {words.same_as} {within}{other}, not yet indexed: {words.twice} would appear twice"


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
