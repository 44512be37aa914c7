"""Index jobs and their records. A job runs in the server process that took its upload; its record
(``<PATHATLAS_HOME>/jobs/<id>.json``, written when it is submitted, when it starts, as it progresses
(``PROGRESS_SECONDS``), when a cancel is taken, and when it ends or the server stops) answers ``GET /jobs/{id}`` after
a restart too, for ``RECORD_DAYS``: a client polling across a redeploy learns how its upload ended, or how far it
got."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from filelock import FileLock

from pathatlas.retrieval.durable import write_atomic

log = logging.getLogger(__name__)

RECORD_DAYS = 7
"""Records older than this are deleted when a service starts."""
PROGRESS_SECONDS = 2.0
"""Most seconds a running job's record lags its progress: what "interrupted" shows after a kill."""
JOB_ID = re.compile(r"[0-9a-f]{12}")
"""What ``Jobs.submit`` names a job: a record is looked up only by such a name, never by a path a client wrote."""
CLAIM_FILE = ".claim"
"""In an upload folder: locked (an OS file lock, gone with a killed process) while its upload and job run."""
STATUSES = ("queued", "running", "done", "failed", "cancelled")
"""What a record may say; ``load`` adds "interrupted" for a running job no process claims."""
KEPT = ("source", "status", "done", "total", "error", "notes", "cancel_requested", "submitted")
"""The ``Job`` fields its record keeps as they are (``JobRecords.save``, beside its id, index and upload folder) and
``load`` gives back: what ``GET /jobs/{id}`` (``JobOut``) answers after a restart too."""
INTERRUPTED = (
    "the server stopped before this job ended: a server starting on the index removes what it had indexed of the upload"
    "; upload it again"
)


@dataclass
class Job:
    id: str
    source: str
    paths: list[Path]
    status: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    cancel_requested: bool = False
    upload: Path | None = None
    """The upload's own folder: kept (replacing same-named uploads) if the job is done, else removed with every source
    the job committed from it."""
    notes: list[str] = field(default_factory=list)
    claim: FileLock | None = None
    """The upload folder's claim (``claim_upload``), released when the job ends."""
    units: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per source (its key): progress units done and expected. ``done`` and ``total`` are their sums, so that a zip of
    several case folders counts all of them, not the one in progress."""
    submitted: float | None = field(default_factory=time.time)
    """When the upload was taken (Unix time): what tells a client's jobs apart in ``GET /jobs``. None in a record
    written before it was kept."""
    ended: float | None = None
    """When the job ended (Unix time), as its record's last write says it (``JobRecords.forget_old`` goes by that);
    None while it runs."""
    may_replace: bool = True
    """Whether the upload may replace an earlier one of its name holding other bytes: not one sent with the upload
    token (``UploadFolder.replacement_refusal``). Not recorded: a restart rolls back a job that had not ended."""

    @property
    def running(self) -> bool:
        return self.status in ("queued", "running")

    def expired(self, now: float) -> bool:
        """Whether the job ended over ``RECORD_DAYS`` before ``now``: its record is gone, so its process forgets it."""
        return self.ended is not None and self.ended < now - RECORD_DAYS * 86400

    def count(self, source: str, done: int, total: int) -> None:
        """A source's progress as the indexer reports it, summed into the job's."""
        self.units[source] = (done, total)
        self.done = sum(units[0] for units in self.units.values())
        self.total = sum(units[1] for units in self.units.values())


def newest_first(jobs: list[Job]) -> list[Job]:
    """Jobs by the time they were submitted, the latest first; those without one last, in the order given (a stable
    sort)."""
    return sorted(jobs, key=lambda job: (job.submitted is not None, job.submitted or 0.0), reverse=True)


def well_formed(record: dict) -> bool:
    """Whether a record holds what this version writes, of the types it writes them in: one edited by hand into
    another status or a count that is no number is no job, rather than a server error in every listing of jobs.
    (``submitted`` is missing from records written before it was kept.)"""
    counts = [record.get(name) for name in ("done", "total")]
    notes = record.get("notes")
    return (
        record.get("status") in STATUSES
        and isinstance(record.get("source"), str)
        and all(type(count) is int for count in counts)
        and isinstance(record.get("error"), str | None)
        and isinstance(notes, list)
        and all(isinstance(note, str) for note in notes)
        and type(record.get("submitted")) in (float, int, type(None))
    )


def claimed(folder: Path | None) -> bool:
    """Whether a process holds the upload folder's claim, i.e. its job still runs somewhere (unknown counts as yes)."""
    if folder is None or not folder.is_dir():
        return False
    claim = FileLock(folder / CLAIM_FILE, thread_local=False)
    try:
        claim.acquire(timeout=0)
    except OSError:  # Timeout (held), or a claim of another user
        return True
    claim.release()
    return False


class JobRecords:
    """The job records of one index, in ``folder`` (several indexes may share a home: each reads only its own)."""

    def __init__(self, folder: Path, index: Path):
        self.folder = folder
        self.index = str(index.resolve())
        self._saving = threading.Lock()
        """A job's thread, the watcher and the shutdown may save one record at once: they share its temporary file, and
        the last write must hold the latest state."""
        self._saved: dict[str, tuple[float, int]] = {}
        """When each job's record was last written (``time.monotonic``), and its ``done`` then."""
        self.unsaved: set[str] = set()
        """The jobs whose last save failed (a full home): ``Jobs.abandon`` tries an ended one's again."""

    def keep_current(self, job: Job) -> None:
        """Save a job's record if its progress moved since it was saved over ``PROGRESS_SECONDS`` ago: a job cut short
        by a kill is then read as interrupted at about the progress it had."""
        saved, done = self._saved.get(job.id, (0.0, 0))
        if job.done != done and time.monotonic() - saved >= PROGRESS_SECONDS:
            self.save(job)

    def save(self, job: Job) -> None:
        """The job's state as of now; a record that cannot be written is one warning, never the job's failure. Read
        under the lock its write takes: a "running" read before the job's end, written after it (``Jobs.abandon``, the
        watcher's ``keep_current``), was a finished upload that the next start rolled back as interrupted."""
        with self._saving:
            record = {
                "id": job.id,
                "index": self.index,
                "upload": str(job.upload) if job.upload is not None else None,
                **{name: getattr(job, name) for name in KEPT},
            }
            self._saved[job.id] = (time.monotonic(), job.done)  # one that cannot be written is not tried each step
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                write_atomic(self.folder / f"{job.id}.json", orjson.dumps(record))
            except OSError as exc:
                log.warning("job %s not recorded: %s", job.id, exc)
                self.unsaved.add(job.id)
                if not job.running:
                    self._drop_stale(job.id)
            else:
                self.unsaved.discard(job.id)

    def _drop_stale(self, job_id: str) -> None:
        """Delete the record of an ended job whose end could not be written (a full home): left saying "running", it
        made the next start roll back a finished upload as one a kill cut short, its upload folder deleted. Without a
        record the upload stays as the job left it; only its client learns nothing after a restart."""
        with contextlib.suppress(OSError):
            (self.folder / f"{job_id}.json").unlink(missing_ok=True)

    def load(self, job_id: str) -> Job | None:
        """The job as its record left it: one whose record says it runs while no process claims its upload was cut
        short by a restart or a kill ("interrupted"). None for a name no job of this index has."""
        if not JOB_ID.fullmatch(job_id):
            return None
        try:
            record = orjson.loads((self.folder / f"{job_id}.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(record, dict) or record.get("index") != self.index or not well_formed(record):
            return None  # another index's, or not one this version wrote (a hand edit): no job to answer for
        upload = Path(record["upload"]) if record.get("upload") else None
        job = Job(job_id, paths=[], upload=upload, **{name: record.get(name) for name in KEPT})
        job.cancel_requested = record.get("cancel_requested") is True  # records written before it was kept: False
        if job.running and not claimed(upload):
            job.status, job.error = "interrupted", INTERRUPTED
        return job

    def load_all(self) -> list[Job]:
        """Every job this index's records hold (``load``), newest first (``newest_first``); records without the time
        their job was submitted (an earlier version wrote them) come last, the latest written first."""
        written = []
        for path in self.folder.glob("*.json"):  # no folder yet: no records
            try:
                written.append((path.stat().st_mtime, path.stem))
            except OSError:  # deleted meanwhile (``forget_old`` of another process)
                continue
        jobs = (self.load(job_id) for _, job_id in sorted(written, reverse=True))
        return newest_first([job for job in jobs if job is not None])

    def forget_old(self) -> None:
        """Delete records older than ``RECORD_DAYS`` (any index's: they share the folder): at start, and as jobs are
        listed or submitted (``Jobs.forget_old_jobs``), by several upload threads at once: a record another thread
        deleted meanwhile is one less to delete, not a failure."""
        oldest = time.time() - RECORD_DAYS * 86400
        try:
            for path in self.folder.glob("*.json"):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < oldest:
                        path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("old job records not deleted: %s", exc)
