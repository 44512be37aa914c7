"""Index jobs as this process runs them: each upload (or folder) indexed in a thread of its own, whole or not at all,
one at a time (``IndexWriter``), at most PATHATLAS_MAX_JOBS waiting or running. Each is recorded as it goes
(``JobRecords``), so that after a restart its client learns how it ended, and what a kill cut short is rolled back."""

from __future__ import annotations

import contextvars
import functools
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock

from pathatlas.errors import IndexBusyError
from pathatlas.indexer.pipeline import Cancelled, Indexer, IndexReport, one_line
from pathatlas.indexer.sources import discover
from pathatlas.indexer.sources.cases import rows_read_once
from pathatlas.indexer.sources.fingerprints import stoppable
from pathatlas.retrieval.index import Index, IndexUnwritableError
from pathatlas.retrieval.records import display_name
from pathatlas.settings import os_problem
from pathatlas.ui.api.engine import CLOSE_WAIT, Engine, source_problems
from pathatlas.ui.api.jobs import Job, JobRecords, newest_first
from pathatlas.ui.api.upload_folder import UploadFolder, sources_of
from pathatlas.ui.api.uploads import remove_unread_images, skipped_note
from pathatlas.ui.api.writer import IndexWriter

CANCEL_SECONDS = 0.1
"""How often a job waiting for its sources to be counted looks whether a cancel was asked."""
ROLLED_BACK = (
    "rolled back at restart: the server stopped before this job ended, so what it had indexed of the upload was removed"
)
"""A job's note when a start removed what the job, cut short by a kill, had committed (``_roll_back_interrupted``)."""
UNCHANGED = "already indexed, unchanged: the earlier upload of this name is kept as it was, nothing read again"
"""A job's note for an upload holding what the earlier upload of its name holds, unchanged (``Jobs.unchanged``)."""
log = logging.getLogger(__name__)


def new_job_id() -> str:
    """A job's id: what ``jobs.JOB_ID`` takes."""
    return uuid.uuid4().hex[:12]


def named_problem(key: str, problem: str) -> str:
    """A problem (``source_problems``) opening with the name its source is listed by, so a job's notes say which of
    its sources it concerns."""
    name, raw = display_name(key), Path(key).name  # a reader's problem may name it either way
    said = any(problem.startswith((f"{n}/", f"{n}:", f"{n} ")) for n in {name, raw})
    return problem if said else f"{name}: {problem}"


class Stopped(Cancelled):
    """The service stops (``Jobs.abandon``): a job ends at its next step, as a cancel ends it, but unpublished."""


class Jobs:
    """The index jobs of one served index: submitted here, run through ``writer``, their uploads in ``writer.uploads``.
    Those of earlier processes are read from ``records``."""

    def __init__(self, writer: IndexWriter):
        self.writer = writer
        self.engine = writer.engine
        self.uploads = writer.uploads
        self.by_id: dict[str, Job] = {}
        """This process's jobs by id; earlier processes' are in ``records``."""
        self._threads: dict[str, threading.Thread] = {}
        """The thread of each job in ``by_id``: what ``abandon`` waits for."""
        self._stopping = threading.Event()
        self._slots = threading.Lock()
        self._arriving = 0
        """Uploads taken under ``job_slot`` and not yet answered: each may become a job."""
        settings = self.engine.settings
        self.records = JobRecords(settings.home / "jobs", settings.index_dir)
        self.engine.on_watch(self.keep_records_current)

    @classmethod
    def around(cls, engine: Engine) -> Jobs:
        """The jobs of the index ``engine`` serves, with a writer to it and the uploads folder of its home."""
        return cls(IndexWriter(engine, UploadFolder(engine.settings.uploads_dir)))

    def keep_records_current(self) -> None:
        """Running jobs' records saved as they progress (``JobRecords.keep_current``): on each look of the engine's
        watcher, not at each step of a job."""
        for job in list(self.by_id.values()):
            if job.status == "running":
                self.records.keep_current(job)

    def abandon(self) -> None:
        """At shutdown (a service stopped or restarted): running jobs stop at their next step, as a cancel stops them
        (what they committed of their upload is rolled back), and their threads are waited for (``CLOSE_WAIT`` in
        all; each waits for its sources' count, ``_prepared``), so that none is left in a model's native code for the
        process's exit to tear down under it ("terminate called without an active exception"). Each job so ended, or
        still running after the wait, is logged, and its record saved as it stands, so that after a restart it reads
        "interrupted" at the progress it had, and what one still running committed of its upload is rolled back then
        (``sweep_uploads``). An ended job whose end could not be recorded (``JobRecords.unsaved``) is saved again."""
        self._stopping.set()
        deadline = time.monotonic() + CLOSE_WAIT
        for thread in list(self._threads.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for job in [job for job in list(self.by_id.values()) if not job.running and job.id in self.records.unsaved]:
            self.records.save(job)  # its end, which a full home kept from its record, written now if space came back
        for job in [job for job in list(self.by_id.values()) if job.running]:
            self.records.save(job)
            log.warning(
                "index job %s (%s) abandoned at shutdown, %d/%d done, indexing %s: %s",
                job.id,
                job.source,
                job.done,
                job.total,
                ", ".join(map(str, job.paths)),
                "still running, what it committed is rolled back when the server starts again"
                if (thread := self._threads.get(job.id)) is not None and thread.is_alive()
                else "stopped, what it committed was rolled back",
            )

    def stop_if_cancelled(self, job: Job) -> None:
        """Stop ``job`` (``Cancelled``) once a cancel of it was asked, or the service stops (``Stopped``): called
        wherever it can stop cleanly."""
        if job.cancel_requested:
            raise Cancelled(f"job {job.id} was cancelled")
        if self._stopping.is_set():
            raise Stopped(f"job {job.id} was stopped with the service")

    def sweep_uploads(self) -> None:
        """At start: roll back the uploads of jobs a kill cut short (``_roll_back_interrupted``), then delete this
        index's upload folders that no source names (theirs, and those of jobs killed before their first commit), under
        the index's write lock so no writer commits meanwhile; skipped when another process holds it (it may be
        indexing one: said at INFO, the next start sweeps), and while the index is not yet on disk. A source names its
        folder by upload id, under whatever home it was uploaded to (``named_uploads``): a moved home's folders stay,
        and one warning says so (``moved_warning``). Folders that a process still claims stay. A sweep that a read-only
        index or an OS error stops (a ``.claim`` of another user, a read-only home) is one warning: the service starts
        all the same. What is removed is a warning too: an index restored from an older copy, or made anew, no longer
        names uploads it may be wanted for."""
        if self.engine.index.unwritten or not self.uploads.path.is_dir():
            return
        try:
            with self.writer.locked() as target:
                rolled_back = self._roll_back_interrupted(target)
                swept = self.uploads.sweep(target)
        except IndexBusyError as exc:
            level = logging.WARNING if isinstance(exc, IndexUnwritableError) else logging.INFO
            log.log(level, "uploads of interrupted jobs not rolled back, upload folders not swept: %s", one_line(exc))
            return
        except OSError as exc:  # a claim of another user, a read-only home: one line, and the service serves
            log.warning("upload folders not swept: %s", os_problem(exc, self.engine.settings) or one_line(exc))
            return
        if rolled_back:
            self.engine.refresh()  # served without them from the first request on
        for warning in swept.moved:
            log.warning("%s", warning)
        if swept.removed:
            removed = ", ".join(f"{name} ({held or 'empty'})" for name, held in sorted(swept.removed.items()))
            log.warning("removed %d upload folder(s) no source of the index names: %s", len(swept.removed), removed)

    def _roll_back_interrupted(self, target: Index) -> bool:
        """An upload is indexed whole or not at all (``_index_job``), across a kill too: the sources a job cut short
        (read "interrupted": no process claims its upload) had committed from its upload are removed
        (``IndexWriter.roll_back``) and its record notes it; ``sweep_uploads`` then deletes its folder. Whether any was
        rolled back."""
        uploads = self.uploads.path.resolve()
        rolled_back = False
        for job in self.records.load_all():
            if job.status != "interrupted" or job.upload is None or job.upload.resolve().parent != uploads:
                continue  # a record's upload outside the uploads (a hand edit) must not take the index's sources
            if not (committed := sources_of(target, job.upload)):
                continue
            self.writer.roll_back(target, job.upload)
            gone = ", ".join(sorted(display_name(key) for key in committed))
            log.warning("index job %s (%s) was cut short by a stop of the server: removed %s", job.id, job.source, gone)
            job.notes = [*job.notes, f"{ROLLED_BACK} ({gone}); upload it again"]
            job.status = "running"  # as the killed run recorded it: read as interrupted, its upload claimed by nobody
            self.records.save(job)
            rolled_back = True
        return rolled_back

    def job(self, job_id: str) -> Job | None:
        """A job of this process, or as an earlier process's record left it (``JobRecords.load``)."""
        return self.by_id.get(job_id) or self.records.load(job_id)

    def all_jobs(self) -> list[Job]:
        """This process's jobs as they stand now and the jobs earlier processes recorded, newest first: what a client
        that lost a job's id looks through; none that ended over ``RECORD_DAYS`` ago (``forget_old_jobs``). (Reads
        files: call it off the event loop.)"""
        self.forget_old_jobs()
        mine = list(self.by_id.values())  # a copy: a job may be submitted meanwhile
        recorded = [job for job in self.records.load_all() if job.id not in self.by_id]
        return newest_first([*mine, *recorded])

    def forget_old_jobs(self) -> None:
        """Forget this process's jobs that ended over ``RECORD_DAYS`` ago, and delete such records
        (``JobRecords.forget_old``): a service running for weeks listed its own finished jobs long after a restart
        would have dropped them, and kept each in memory. Called as jobs are submitted and listed: a glob of the
        records, which a listing reads anyway."""
        now = time.time()
        for job in [job for job in list(self.by_id.values()) if job.expired(now)]:  # a copy: uploads submit meanwhile
            self.by_id.pop(job.id, None)
            self._threads.pop(job.id, None)
        self.records.forget_old()

    @contextmanager
    def job_slot(self) -> Iterator[bool]:
        """Whether an upload may become a job: fewer than PATHATLAS_MAX_JOBS jobs wait or run, counting the uploads
        being taken (each holds its slot until it is answered, so that uploads sent at once cannot all pass). Between
        its job's start and its answer an upload counts twice: near the cap, one sent then may be refused early, never
        let past it."""
        with self._slots:
            active = sum(job.running for job in list(self.by_id.values()))  # a copy: jobs are added meanwhile
            free = self._arriving + active < self.engine.settings.max_jobs
            self._arriving += free
        try:
            yield free
        finally:
            if free:
                with self._slots:
                    self._arriving -= 1

    def submit(
        self,
        source: str,
        paths: list[Path],
        upload: Path | None = None,
        claim: FileLock | None = None,
        notes: list[str] | None = None,
        may_replace: bool = True,
    ) -> Job:
        """``notes``: what the upload itself noted (zip members left out), before the indexer's. ``may_replace``: an
        upload may replace an earlier one of its name holding other bytes (``UploadFolder.replacement_refusal``)."""
        job = Job(
            new_job_id(),
            source,
            paths,
            upload=upload,
            claim=claim,
            notes=list(notes or []),
            may_replace=may_replace,
        )
        self._taken(job)
        thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"index-{job.id}")
        thread.start()  # before it is kept: one that cannot start is never joined (``abandon``)
        self._threads[job.id] = thread
        return job

    def unchanged(self, source: str, keys: list[str], notes: list[str], may_replace: bool) -> Job:
        """A job done at once for an upload holding, unchanged, the sources ``keys`` of the earlier upload of its name
        (``duplicates.unchanged_upload``): nothing is read, the earlier upload stays. Its notes (after the upload's
        own, ``notes``) say so, with the problems those sources were indexed with, as ``pathatlas index`` reports an
        unchanged source's; recorded as any job, so GET /jobs/{id} and GET /jobs answer for it."""
        manifest = self.engine.index.manifest
        problems = [
            self.engine.relative(named_problem(key, problem))
            for key in keys
            for problem in source_problems(key, manifest.get(key, {}).get("problems", []))
        ]
        said = [*notes, f"{source}: {UNCHANGED} ({', '.join(display_name(key) for key in keys)})", *problems]
        job = Job(new_job_id(), source, [], "done", notes=said, may_replace=may_replace, ended=time.time())
        log.info("index job %s (%s) done: %s", job.id, source, UNCHANGED)
        return self._taken(job)

    def _taken(self, job: Job) -> Job:
        """``job``, kept and recorded as this process's."""
        self.forget_old_jobs()
        self.by_id[job.id] = job
        self.records.save(job)
        return job

    def _run(self, job: Job) -> None:
        """Every job ends done, failed (with one line) or cancelled, whatever is raised inside it. The end is
        published last, so a client that sees a job failed finds its upload already gone (kept only while a source
        from it is still in the index: one whose removal failed stays citable) and its end logged, in one line: the
        error as the server sees it (with its paths); the client's ``error`` names the upload as it was sent. Only
        then is the upload's claim released: a server starting meanwhile takes a record saying "running" of an
        unclaimed upload for one a kill cut short, and rolls it back (``_roll_back_interrupted``). A job the service's
        stop ended (``Stopped``) has no end published: its record keeps saying "running" (``abandon`` logs and saves
        it), which a start reads as interrupted."""
        status, problem = "failed", "the job stopped unexpectedly"
        error = problem
        published = True
        try:
            with self.writer.lock, rows_read_once():  # each case folder's metadata read once by the job
                status, problem = self._index_job(job)
                error = None if problem is None else self.job_error(job, problem)
        except Stopped:
            published = False
        except Cancelled:
            status, problem, error = "cancelled", None, None
        except BaseException as exc:  # a worker thread that dies would leave its job running forever
            status, problem = "failed", os_problem(exc, self.engine.settings) or one_line(exc)
            error = os_problem(exc, self.engine.settings, paths=False) or self.job_error(job, one_line(exc))
        finally:
            if job.upload is not None and status != "done" and not sources_of(self.engine.index, job.upload):
                shutil.rmtree(job.upload, ignore_errors=True)
            if published:
                if status == "failed":  # logged before it is published: a client seeing the end finds the line
                    log.warning("index job %s (%s) failed: %s", job.id, job.source, problem)
                else:
                    log.info("index job %s (%s) %s", job.id, job.source, status)
                job.status, job.error, job.ended = status, error, time.time()
                self.records.save(job)
            if job.claim is not None:
                job.claim.release()

    def _index_job(self, job: Job) -> tuple[str, str | None]:
        """Index the job's files; its end as (status, the first problem as the server sees it). An upload is indexed
        whole or not at all: when a source of it fails or the job is cancelled, the sources it already committed are
        removed again (``IndexWriter.roll_back``)."""
        job.status = "running"
        for key, total in self._prepared(job).items():
            job.count(key, 0, total)
        self.records.save(job)

        def progress(source: str, done: int, total: int) -> None:
            job.count(source, done, total)
            self.stop_if_cancelled(job)

        def looking(*_) -> None:
            """A cancel asked while the index opened stops before a source is looked at (``on_source``); one asked
            while it is looked at (its metadata read, its images hashed: minutes for a large folder), there
            (``on_look``)."""
            self.stop_if_cancelled(job)

        whole, refusal = False, None
        with self.writer.writing() as target:
            try:
                indexer = Indexer(target, show_progress=False, on_progress=progress, on_source=looking, on_look=looking)
                report = indexer.add(job.paths)
                job.notes = [*job.notes, *self._problem_notes(job, report), *report.notes]
                if not job.may_replace and job.upload is not None:  # an upload of its name may have come meanwhile
                    refusal = self.uploads.replacement_refusal(target, job.upload, job.paths, job.source)
                whole = not report.failed and not job.cancel_requested and refusal is None
                if whole and job.upload is not None:
                    self._replace_older_uploads(target, job)
            finally:
                if not whole and job.upload is not None:
                    self.writer.roll_back(target, job.upload)
        if job.cancel_requested:
            return "cancelled", None
        if refusal is not None:
            return "failed", refusal
        if report.failed:
            return "failed", report.failed[0].problems[0]
        return "done", None

    def _replace_older_uploads(self, target: Index, job: Job) -> None:
        """An upload sent under the name of an earlier one replaces it, once the new one is committed
        (``UploadFolder.replace_older``); the job's notes say what went."""
        if (words := self.uploads.replace_older(target, job.upload, job.paths)) is not None:
            job.notes = [*job.notes, f"{job.source}: replaced the earlier upload of this name ({words})"]

    def _prepared(self, job: Job) -> dict[str, int]:
        """The job's upload rid of the images no source will read (``unread_removed``, said in its notes), and each
        source's expected progress units (``size_hints``), so that a job's total covers all its sources from its start.
        Both read every case folder's metadata (once: the thread runs in the job's context, ``rows_read_once``, and the
        look then takes the rows read): in a thread of their own, which the job waits for only until a cancel is asked
        (``Cancelled``). A 200,000-row metadata file takes seconds to read, which a cancel asked meanwhile waited for,
        and the upload's request before the job existed. The thread stops too, at its next row or file
        (``stoppable``), so no core stays busy for a job that ended. A job the service's stop ends (``Stopped``) waits
        for it: a step with no stop in it (a PDF opened by MuPDF, a plug-in's ``size_hint``) outlived the shutdown,
        its upload deleted under it."""
        prepared: Future[tuple[list[str], dict[str, int]]] = Future()

        def prepare() -> None:
            try:
                with stoppable(functools.partial(self.stop_if_cancelled, job)):
                    prepared.set_result((self.unread_removed(job), self.size_hints(job.paths)))
            except BaseException as exc:  # the job ends with it (failed, or cancelled), as it did preparing itself
                prepared.set_exception(exc)

        context = contextvars.copy_context()
        preparing = threading.Thread(target=context.run, args=(prepare,), daemon=True, name=f"prepare-{job.id}")
        preparing.start()
        try:
            while True:
                self.stop_if_cancelled(job)
                with suppress(TimeoutError):
                    unread_notes, hints = prepared.result(timeout=CANCEL_SECONDS)
                    job.notes = [*job.notes, *unread_notes]
                    return hints
        except Stopped:
            preparing.join()  # the job's end (its upload deleted) waits for it, and ``abandon`` for the job's end
            raise

    def unread_removed(self, job: Job) -> list[str]:
        """An uploaded zip's images no built-in source will read, deleted (``remove_unread_images``), as the job's
        notes name them, by the case folders of the folder each unpacked to (``skipped_note``); none for a PDF, a
        folder the server was asked to index in place, or where plug-in sources read the uploads."""
        settings = self.engine.settings
        if job.upload is None or settings.sources:
            return []
        return [
            skipped_note(removed, path)
            for path in job.paths
            if path.is_dir() and (removed := remove_unread_images(path, settings))
        ]

    def size_hints(self, paths: list[Path]) -> dict[str, int]:
        """``_prepared``'s count. Only an estimate: paths it cannot read count nothing, and the indexer reports
        why."""
        try:
            return {source.key: source.size_hint() for source in discover(paths, self.engine.settings)}
        except Exception:  # a plug-in source's failure included: the indexer meets it again and says so
            return {}

    def _problem_notes(self, job: Job, report: IndexReport) -> list[str]:
        """Each source's problems (images skipped or unreadable, rows not read, pages that failed), each naming the
        source as ``GET /sources`` lists it: the uploader learns what was left out. The first failure is the job's
        error, not a note."""
        error = report.failed[0] if report.failed else None
        return [
            self.job_error(job, named_problem(source.source, problem))
            for source in report.sources
            for problem in source_problems(source.source, source.problems[1 if source is error else 0 :])
        ]

    def job_error(self, job: Job, message: str) -> str:
        """A job's error as its client reads it: an upload by the name it was sent as (its folder and upload id are
        the server's), other files without server paths."""
        if job.upload is not None:
            for path in job.paths:  # the upload itself, or the folder a zip was unpacked to
                for written in (str(path.resolve()), str(path)):
                    message = message.replace(written, job.source)
        return self.engine.relative(message)
