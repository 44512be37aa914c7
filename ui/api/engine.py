"""Shared state of one API process: the open index, searcher, agent, work lanes and index jobs.

Models and the index load once, on first use. Searches go through two batching lanes (text queries; image
queries), each one worker thread, so concurrent queries share one encoder call and never run more model
threads than there are cores. Asks (several rounds of searches each) have their own lane at a lower CPU
priority, one at a time, so they never starve searches. Users' images are decoded at most ``DECODES`` at a time.

Index jobs write through a private ``Index`` opened from disk and commit; the engine then swaps in a
freshly opened index, so searches always see the last committed state and in-flight searches finish on
the one they started with. (The embedded Qdrant shard cannot be opened
twice, so with ``store=qdrant`` jobs write through the shared index.) A commit by another process (``pathatlas
index`` or ``remove`` beside a running server) is noticed by a watcher thread that asks the index once a second
(``Index.changed_on_disk``: one ``stat`` of its pointer file), and swapped in the same way; the same thread keeps
running jobs' records current (``JobRecords.keep_current``).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

from filelock import FileLock, Timeout
from PIL import Image

from pathatlas.agent.graph import Agent, AgentResult
from pathatlas.agent.questions import Question
from pathatlas.errors import IndexBusyError, PathAtlasError
from pathatlas.indexer.pipeline import Cancelled, Indexer, IndexReport, one_line
from pathatlas.indexer.sources import discover
from pathatlas.indexer.sources.cases import rows_read_once
from pathatlas.indexer.sources.fingerprints import stoppable
from pathatlas.paths import expanded
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import AmbiguousSourceError, Index, IndexUnwritableError, pointer_state
from pathatlas.retrieval.records import display_name, distinct_names
from pathatlas.retrieval.search import Found, Query, Searcher
from pathatlas.retrieval.stores import store_class
from pathatlas.settings import OWNER_FILE, UPLOADS, Settings, os_problem
from pathatlas.ui.api.facets import Facets, count_facets
from pathatlas.ui.api.jobs import CLAIM_FILE, Job, JobRecords, newest_first
from pathatlas.ui.api.lanes import BatchingLane
from pathatlas.ui.api.uploads import CONTENT_MARK, remove_unread_images, skipped_note


def without_paths(message: str, index: Path, folders: Iterable[Path]) -> str:
    """``message`` with ``index`` named by its folder's name and paths under ``folders`` by their path below them.
    Each is matched as absolute paths (as messages name them; a relative ``--index home/x`` must not cut "home/" out
    of "/srv/home/x") and whole: not inside another path ("/mnt/srv/x"), nor the start of a longer name (an index
    "/srv/book" in "/srv/book-2", an index "/book" in ".../uploads/ab12/book.pdf"); the longest first, so a home
    beside the index ("/srv/book-home/uploads/...") loses its own folder, not the index's name."""

    def forms(path: Path) -> set[str]:
        return {str(expanded(path).absolute()), str(path.resolve())}

    shown = {f"{form}/": "" for folder in folders for form in forms(folder)}
    shown |= {form: index.name for form in forms(index)}
    for path in sorted(shown, key=len, reverse=True):
        whole = "" if path.endswith("/") else r"(?![\w-]|\.[\w-])"  # a folder's path ends at its "/"
        message = re.sub(rf"(?<![\w.~/-]){re.escape(path)}{whole}", lambda _, name=shown[path]: name, message)
    return message


def source_problems(key: str, problems: list[str]) -> list[str]:
    """A source's problems as clients read them: paths by their place beside the source (its folder's name first),
    not on the server."""
    return [problem.replace(str(Path(key).parent) + "/", "") for problem in problems]


def named_problem(key: str, problem: str) -> str:
    """A problem (``source_problems``) opening with the name its source is listed by, so a job's notes say which of
    its sources it concerns."""
    name, raw = display_name(key), Path(key).name  # a reader's problem may name it either way
    said = any(problem.startswith((f"{n}/", f"{n}:", f"{n} ")) for n in {name, raw})
    return problem if said else f"{name}: {problem}"


class Uploaded(NamedTuple):
    """An upload as stored: its own folder under ``uploads/`` holds one entry, the PDF or notes file under the name it
    was sent as or the folder a zip was unpacked into (the zip's name without ``.zip``)."""

    folder: str
    name: str
    unpacked: bool


def stored_as(path: Path) -> tuple[str, bool]:
    """The (name, unpacked) an upload at ``path`` is stored by in its folder (``Uploaded``): a PDF or notes file by its
    name, a zip, before it is unpacked too, as the folder it unpacks to (its name without ``.zip``)."""
    if path.suffix.lower() == ".zip":
        return path.stem, True
    return path.name, path.is_dir()


def content_marks(folder: Path) -> frozenset[str]:
    """The content marks of an upload folder (``mark_content``): its bytes', and a zip's case folders' once unpacked."""
    return frozenset(mark.name for mark in folder.glob(f"{CONTENT_MARK}*"))


class NotReadyError(RuntimeError):
    """The models could not be loaded (``Engine.warm_up``): searches and asks are refused with its one line (503)."""


def claim_upload(folder: Path, index: Path) -> FileLock:
    """Make an upload's folder, claimed (so no sweep takes it) and then marked as ``index``'s; the claim is held until
    its job ends."""
    folder.mkdir(parents=True)
    claim = FileLock(folder / CLAIM_FILE, thread_local=False)  # the job's thread releases it
    claim.acquire(timeout=0)  # a new folder: nobody else can hold it
    try:
        (folder / OWNER_FILE).write_text(str(index.resolve()), encoding="utf-8")
    except BaseException:  # the caller gets no claim to release: its lock's handle must not leak
        claim.release()
        raise
    return claim


def sweep_unclaimed(folder: Path, index: Path) -> bool:
    """Delete an upload folder of ``index`` that no process claims; whether it did. A folder without a mark (made by
    an older version, or being made now) is left alone. A claim that cannot be taken for another reason (a ``.claim``
    of another user, a read-only home) raises its OSError."""
    try:
        if (folder / OWNER_FILE).read_text(encoding="utf-8") != str(index.resolve()):
            return False
    except (OSError, UnicodeDecodeError):
        return False
    claim = FileLock(folder / CLAIM_FILE, thread_local=False)
    try:
        claim.acquire(timeout=0)
    except Timeout:
        return False
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        claim.release()
    return not folder.exists()


def replaced_words(replaced: Iterable[str], now: set[str]) -> str:
    """What replacing an earlier upload did to its sources (``replaced``, keys), by name: those this upload holds too
    were read again from it, the others removed. "removed: week1.qmd, ..." read as if a re-sent course had lost every
    deck."""
    names = sorted({display_name(key) for key in replaced})
    again, gone = [n for n in names if n in now], [n for n in names if n not in now]
    said = ([f"read again from this upload: {', '.join(again)}"] if again else []) + (
        [f"removed, not in this upload: {', '.join(gone)}"] if gone else []
    )
    return "; ".join(said)


def named_uploads(keys: Iterable[str]) -> dict[str, Path]:
    """The upload ids the sources' recorded paths name (``.../uploads/<upload id>/<name>``), each with the uploads
    folder it is recorded under: that of the home it was uploaded to, which need not be this process's (a home moved,
    a backup restored elsewhere, a volume mounted at another path). A user's own folder named "uploads" may add an id
    no upload has: it only keeps a folder of that name from a sweep."""
    named: dict[str, Path] = {}
    for key in keys:
        parts = Path(key).parts
        for at, part in enumerate(parts[:-2]):
            if part == UPLOADS:
                named.setdefault(parts[at + 1], Path(*parts[: at + 1]))
    return named


def moved_uploads(named: dict[str, Path], uploads: Path) -> dict[Path, list[str]]:
    """The upload folders under ``uploads`` whose sources the index records under another uploads folder (``named``),
    their ids by that folder. A link from it to ``uploads`` counts as the same folder."""
    here = uploads.resolve()
    moved: dict[Path, list[str]] = {}
    for upload_id, recorded in sorted(named.items()):
        if (uploads / upload_id).is_dir() and recorded.resolve() != here:
            moved.setdefault(recorded, []).append(upload_id)
    return moved


def moved_warning(recorded: Path, uploads: Path, upload_ids: list[str]) -> str:
    """The line saying that upload folders of ``uploads`` are indexed as under ``recorded``, and what to do."""
    old_home, home = recorded.parent, uploads.parent
    return (
        f"{len(upload_ids)} upload folder(s) in {uploads} hold sources the index records under {recorded} "
        f"(PATHATLAS_HOME moved, or restored elsewhere?): kept. Their files are read where recorded, so where those "
        f"are gone their PDFs, page previews and case images answer 410: put the home back at {old_home} (move it, or "
        f"'ln -s {home} {old_home}'), or index the folders from here and remove the old copies (README, Backups): "
        f"{', '.join(upload_ids)}"
    )


def held_names(folder: Path) -> str:
    """What an upload folder holds (its PDF, or the folder its zip unpacked to), its marks left out; "" where it
    cannot be listed (another user's: ``sweep_unclaimed`` leaves it)."""
    with suppress(OSError):
        return ", ".join(sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith(".")))
    return ""


SEARCH_LANES = 2
DECODES = 2
"""Users' images decoded at once: a 60-megapixel PNG takes about a gigabyte while it decodes, and the shared thread pool
would decode forty at a time."""
WATCH_SECONDS = 1.0
"""How often the engine looks whether another process committed a new generation of its index."""
CANCEL_SECONDS = 0.1
"""How often a job waiting for its sources to be counted looks whether a cancel was asked."""
ROLLED_BACK = (
    "rolled back at restart: the server stopped before this job ended, so what it had indexed of the upload was removed"
)
"""A job's note when a start removed what the job, cut short by a kill, had committed (``_roll_back_interrupted``)."""
log = logging.getLogger(__name__)


def share_cores(lanes: int) -> None:
    """Model, BLAS and FAISS threads per call: the cores divided among the lanes that run at once
    (oversubscribed OpenMP pools spin against each other and multiply latency). Text queries encode in
    numpy (OpenBLAS) or ONNX Runtime, image queries in ONNX Runtime, index jobs in torch. Torch is told only when
    loaded: importing it here cost every start seconds; one loaded later (an index job) reads ``OMP_NUM_THREADS``, as
    the ONNX Runtime sessions do (``onnx_cache.threads_per_call``). A count the operator set in ``OMP_NUM_THREADS``
    is theirs to keep (a container's CPU quota the core count does not show)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    threads = int(given) if given.isdigit() and int(given) > 0 else max(1, (os.cpu_count() or 1) // lanes)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if (torch := sys.modules.get("torch")) is not None:
        torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads, user_api="blas")
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(threads)


def stop_if_cancelled(job: Job) -> None:
    """Stop ``job`` (``Cancelled``) once a cancel of it was asked: called wherever it can stop cleanly."""
    if job.cancel_requested:
        raise Cancelled(f"job {job.id} was cancelled")


class Engine:
    def __init__(self, settings: Settings, create: bool = True):
        """A missing index is served empty and made on disk by the first job that commits a source, for the store the
        settings name; ``create=False`` refuses it instead (read-only callers)."""
        self.settings = settings
        self.create = create
        self._swap = threading.Lock()
        self._write = threading.Lock()  # one index job at a time
        self.jobs: dict[str, Job] = {}
        """This process's jobs; earlier processes' are in ``records``."""
        self._slots = threading.Lock()
        self._arriving = 0
        """Uploads taken under ``job_slot`` and not yet answered: each may become a job."""
        self.records = JobRecords(settings.home / "jobs", settings.index_dir)
        self._facets: Facets | None = None
        self.ready = threading.Event()
        self.problem: str | None = None
        """Why the models could not be loaded, as clients read it (no server paths); None while all is well."""
        self._unopenable: tuple[int, int, int] | None = None
        """The pointer state of the last commit whose reopen failed: not tried again until the next commit."""
        self._gone_said = False
        """Whether the watcher has logged that the index is gone from disk (``index_gone``), until it is back."""
        share_cores(SEARCH_LANES)  # before any model loads: torch and ONNX Runtime read the count then
        self._open()
        self.text_lane = BatchingLane("text search", self._search_batch)
        # Text searches are most requests and must stay interactive under load: an image query's three
        # EfficientNet passes yield the CPU to them (measured in BENCHMARKS.md, "REST service under load").
        self.image_lane = BatchingLane("image search", self._search_batch, max_batch=8, niceness=5)
        self.ask_lane = BatchingLane("ask", self._ask_one, max_batch=1, max_waiting=64, niceness=10)
        self._decoder = ThreadPoolExecutor(DECODES, thread_name_prefix="decode")
        self._closed = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="index-watch").start()

    def _search_batch(self, queries: list[Query]) -> list[Found]:
        return self.searcher.find_many(queries)

    def _ask_one(self, questions: list[Question]) -> list[AgentResult]:
        return [self.agent.ask(questions[0])]

    def search(self, query: Query) -> Future[Found]:
        """Queue a search; concurrent ones are encoded and searched as one batch."""
        self._check_ready()
        query.validate()
        return (self.text_lane if query.image is None else self.image_lane).submit(query)

    def open_image(self, data: Path | bytes, name: str | None = None) -> Future[Image.Image]:
        """Decode an image (``retrieval.images.open_image``), at most ``DECODES`` at once: the others wait holding
        only their encoded bytes. A user's upload (bytes) is a query, decoded no larger than a search uses it; a file
        of the index (a case image served) whole. ``name``: what a refusal calls it (an upload's file name)."""
        query = isinstance(data, bytes)
        return self._decoder.submit(open_image, data, self.settings.max_image_pixels, name=name, query=query)

    def ask(self, question: Question) -> Future[AgentResult]:
        self._check_ready()
        question.validate()
        return self.ask_lane.submit(question)

    def facets(self) -> Facets:
        """Field values the index holds, with counts; computed once per opened index."""
        index = self.index
        facets = self._facets
        if facets is None or facets.index is not index:
            facets = self._facets = count_facets(index)
        return facets

    def warm_up(self) -> None:
        """Load the encoder's models through the lanes (one tiny query per modality), then set ``ready``.

        When that fails (a PATHATLAS_HOME this user cannot write, a model package missing) ``ready`` stays unset and
        ``problem`` says why in one line: /health answers 503 with it and searches and asks are refused with it, so
        a load balancer takes the service out and its admin reads the reason; the log has the line with its paths."""
        started = time.monotonic()
        try:
            encoder = self.index.encoder
            waits = []
            if encoder.text_spaces:
                waits.append(self.search(Query(text="warm up", k=1)))
            if encoder.image_spaces:
                waits.append(self.search(Query(image=Image.new("RGB", (32, 32)), k=1)))
            for future in waits:
                future.result()
        except Exception as exc:
            unnamed = f"the models could not be loaded ({type(exc).__name__}); the server's log says why"
            self.problem = os_problem(exc, self.settings, paths=False) or unnamed
            log.error("not ready, searches are refused: %s", os_problem(exc, self.settings) or one_line(exc))
            return
        self.ready.set()
        log.info("ready in %.1f s: models loaded", time.monotonic() - started)

    def _check_ready(self) -> None:
        if self.problem is not None:
            raise NotReadyError(self.problem)

    def close(self) -> None:
        self._closed.set()
        self._abandon_jobs()
        for lane in (self.text_lane, self.image_lane, self.ask_lane):
            lane.close()
        self._decoder.shutdown(wait=False, cancel_futures=True)
        self.index.close()

    def _abandon_jobs(self) -> None:
        """At shutdown (a service stopped or restarted): jobs still running die with the process. Each is logged, and
        its record saved as it stands, so that after a restart it reads "interrupted" at the progress it had, and what
        it committed of its upload is rolled back (``sweep_uploads``)."""
        for job in list(self.jobs.values()):
            if job.running:
                self.records.save(job)
                log.warning(
                    "index job %s (%s) abandoned at shutdown, %d/%d done, indexing %s: what it committed is rolled "
                    "back when the server starts again",
                    job.id,
                    job.source,
                    job.done,
                    job.total,
                    ", ".join(map(str, job.paths)),
                )

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_SECONDS):
            self.refresh()
            self._say_if_gone()
            for job in list(self.jobs.values()):
                if job.status == "running":
                    self.records.keep_current(job)

    def refresh(self) -> bool:
        """Swap in the index as committed on disk when another process changed it since it was opened; whether it
        did. A new ``Index`` rather than ``Index.refresh`` in place: searches in flight finish on the one they started
        with. Skipped while a job of this engine writes (it swaps in the index itself when it ends); a reopen that
        fails is logged and waits for the next commit, the open index serving meanwhile."""
        if not self._changed_on_disk() or not self._write.acquire(blocking=False):
            return False
        try:
            if self._closed.is_set() or not self._changed_on_disk():
                return False
            self._open()
            return True
        except Exception as exc:  # a watcher thread that raised would stop watching
            self._unopenable = pointer_state(self.index.path)
            log.warning("could not reopen the index another process changed: %s", one_line(exc))
            return False
        finally:
            self._write.release()

    def index_gone(self) -> str | None:
        """Why the open index is no longer served as on disk, as clients read it: its folder was deleted (or its
        volume unmounted) after it committed, and searches answer from what this process loaded. None while its
        commit is on disk, or it never committed. An index made there again (restored, ``pathatlas index``, a job) is
        picked up by the watcher (``refresh``) as any commit is."""
        index = self.index
        if not (index.manifest or index.generation.number) or pointer_state(index.path) is not None:
            return None
        return (
            f"index {index.path.name} is gone from disk (deleted, or its volume unmounted): searches answer from what "
            "was loaded until it is restored or indexed again there, which the service picks up by itself"
        )

    def _say_if_gone(self) -> None:
        """Log once that the index went (``index_gone``), and once that it is back."""
        gone = self.index_gone() is not None
        if gone == self._gone_said:
            return
        self._gone_said = gone
        if gone:
            log.warning("index %s is gone from disk: /ready answers 503 until it is back", self.index.path)
        else:
            log.info("index %s is back on disk: served again", self.index.path)

    def _changed_on_disk(self) -> bool:
        return self.index.changed_on_disk() and pointer_state(self.index.path) != self._unopenable

    def _open(self) -> None:
        index = Index.open(self.settings.index_dir, self.settings, create=self.create, defer=True)
        index.check_store()  # served, not written: a store without its records would answer every search with nothing
        searcher = Searcher(index)
        agent = Agent.from_settings(searcher, self.settings)
        with self._swap:
            self.index, self.searcher, self.agent = index, searcher, agent

    @property
    def uploads(self) -> Path:
        return self.settings.uploads_dir

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
        if self.index.unwritten or not self.uploads.is_dir():
            return
        try:
            with self._locked() as target:
                rolled_back = self._roll_back_interrupted(target)
                named = named_uploads(target.manifest)
                unused = [folder for folder in self.uploads.iterdir() if folder.name not in named and folder.is_dir()]
                held = {folder.name: held_names(folder) for folder in unused}
                swept = [name for name in held if sweep_unclaimed(self.uploads / name, target.path)]
        except IndexBusyError as exc:
            level = logging.WARNING if isinstance(exc, IndexUnwritableError) else logging.INFO
            log.log(level, "uploads of interrupted jobs not rolled back, upload folders not swept: %s", one_line(exc))
            return
        except OSError as exc:  # a claim of another user, a read-only home: one line, and the service serves
            log.warning("upload folders not swept: %s", os_problem(exc, self.settings) or one_line(exc))
            return
        if rolled_back:
            self.refresh()  # served without them from the first request on
        for recorded, upload_ids in moved_uploads(named, self.uploads).items():
            log.warning("%s", moved_warning(recorded, self.uploads, upload_ids))
        if swept:
            removed = ", ".join(f"{name} ({held[name] or 'empty'})" for name in sorted(swept))
            log.warning("removed %d upload folder(s) no source of the index names: %s", len(swept), removed)

    def _roll_back_interrupted(self, target: Index) -> bool:
        """An upload is indexed whole or not at all (``_index_job``), across a kill too: the sources a job cut short
        (read "interrupted": no process claims its upload) had committed from its upload are removed (``_roll_back``)
        and its record notes it; ``sweep_uploads`` then deletes its folder. Whether any was rolled back."""
        uploads = self.uploads.resolve()
        rolled_back = False
        for job in self.records.load_all():
            if job.status != "interrupted" or job.upload is None or job.upload.resolve().parent != uploads:
                continue  # a record's upload outside the uploads (a hand edit) must not take the index's sources
            if not (committed := self.sources_of(target, job.upload)):
                continue
            self._roll_back(target, job.upload)
            gone = ", ".join(sorted(display_name(key) for key in committed))
            log.warning("index job %s (%s) was cut short by a stop of the server: removed %s", job.id, job.source, gone)
            job.notes = [*job.notes, f"{ROLLED_BACK} ({gone}); upload it again"]
            job.status = "running"  # as the killed run recorded it: read as interrupted, its upload claimed by nobody
            self.records.save(job)
            rolled_back = True
        return rolled_back

    @contextmanager
    def _locked(self) -> Iterator[Index]:
        """A writer (``_writer``) holding the index's write lock for the block, then closed: for work that commits
        nothing. Another process writing raises ``IndexBusyError`` (409), in the words a removal is refused with."""
        target = self._writer()
        try:
            with target.writing():
                yield target
        finally:
            if target is not self.index:
                target.close()

    def check_can_write(self) -> None:
        """Refuse now, in one line, an upload whose job could only fail and its upload be thrown away: an index this
        process cannot write (read-only), or one another process is writing (409, as ``DELETE /sources`` answers).
        While a job or removal of this process writes, a new job waits its turn instead; an index not yet on disk has
        no writer to wait for."""
        self.index.check_writable()
        if self.index.unwritten or not self._write.acquire(blocking=False):
            return
        try:
            with self._locked():
                pass
        finally:
            self._write.release()

    def job(self, job_id: str) -> Job | None:
        """A job of this process, or as an earlier process's record left it (``JobRecords.load``)."""
        return self.jobs.get(job_id) or self.records.load(job_id)

    def all_jobs(self) -> list[Job]:
        """This process's jobs as they stand now and the jobs earlier processes recorded, newest first: what a client
        that lost a job's id looks through; none that ended over ``RECORD_DAYS`` ago (``forget_old_jobs``). (Reads
        files: call it off the event loop.)"""
        self.forget_old_jobs()
        mine = list(self.jobs.values())  # a copy: a job may be submitted meanwhile
        recorded = [job for job in self.records.load_all() if job.id not in self.jobs]
        return newest_first([*mine, *recorded])

    def forget_old_jobs(self) -> None:
        """Forget this process's jobs that ended over ``RECORD_DAYS`` ago, and delete such records
        (``JobRecords.forget_old``): a service running for weeks listed its own finished jobs long after a restart
        would have dropped them, and kept each in memory. Called as jobs are submitted and listed: a glob of the
        records, which a listing reads anyway."""
        now = time.time()
        for job in [job for job in list(self.jobs.values()) if job.expired(now)]:  # a copy: uploads submit meanwhile
            self.jobs.pop(job.id, None)
        self.records.forget_old()

    @contextmanager
    def job_slot(self) -> Iterator[bool]:
        """Whether an upload may become a job: fewer than PATHATLAS_MAX_JOBS jobs wait or run, counting the uploads
        being taken (each holds its slot until it is answered, so that uploads sent at once cannot all pass). Between
        its job's start and its answer an upload counts twice: near the cap, one sent then may be refused early, never
        let past it."""
        with self._slots:
            active = sum(job.running for job in list(self.jobs.values()))  # a copy: jobs are added meanwhile
            free = self._arriving + active < self.settings.max_jobs
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
        upload may replace an earlier one of its name holding other bytes (``replacement_refusal``)."""
        self.forget_old_jobs()
        job = Job(
            uuid.uuid4().hex[:12],
            source,
            paths,
            upload=upload,
            claim=claim,
            notes=list(notes or []),
            may_replace=may_replace,
        )
        self.jobs[job.id] = job
        self.records.save(job)
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"index-{job.id}").start()
        return job

    def _run(self, job: Job) -> None:
        """Every job ends done, failed (with one line) or cancelled, whatever is raised inside it. The end is
        published last, so a client that sees a job failed finds its upload already gone (kept only while a source
        from it is still in the index: one whose removal failed stays citable) and its end logged, in one line: the
        error as the server sees it (with its paths); the client's ``error`` names the upload as it was sent. Only
        then is the upload's claim released: a server starting meanwhile takes a record saying "running" of an
        unclaimed upload for one a kill cut short, and rolls it back (``_roll_back_interrupted``)."""
        status, problem = "failed", "the job stopped unexpectedly"
        error = problem
        try:
            with self._write, rows_read_once():  # each case folder's metadata read once by the job
                status, problem = self._index_job(job)
                error = None if problem is None else self.job_error(job, problem)
        except Cancelled:
            status, problem, error = "cancelled", None, None
        except BaseException as exc:  # a worker thread that dies would leave its job running forever
            status, problem = "failed", os_problem(exc, self.settings) or one_line(exc)
            error = os_problem(exc, self.settings, paths=False) or self.job_error(job, one_line(exc))
        finally:
            if job.upload is not None and status != "done" and not self.sources_of(self.index, job.upload):
                shutil.rmtree(job.upload, ignore_errors=True)
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
        removed again (``_roll_back``)."""
        job.status = "running"
        for key, total in self._prepared(job).items():
            job.count(key, 0, total)
        self.records.save(job)

        def progress(source: str, done: int, total: int) -> None:
            job.count(source, done, total)
            stop_if_cancelled(job)

        def looking(*_) -> None:
            """A cancel asked while the index opened stops before a source is looked at (``on_source``); one asked
            while it is looked at (its metadata read, its images hashed: minutes for a large folder), there
            (``on_look``)."""
            stop_if_cancelled(job)

        target = self._writer()
        whole, refusal = False, None
        try:
            indexer = Indexer(target, show_progress=False, on_progress=progress, on_source=looking, on_look=looking)
            report = indexer.add(job.paths)
            job.notes = [*job.notes, *self._problem_notes(job, report), *report.notes]
            if not job.may_replace and job.upload is not None:  # an upload of its name may have come meanwhile
                refusal = self.replacement_refusal(target, job.upload, job.paths, job.source)
            whole = not report.failed and not job.cancel_requested and refusal is None
            if whole and job.upload is not None:
                self._replace_older_uploads(target, job)
        finally:
            try:
                if not whole and job.upload is not None:
                    self._roll_back(target, job.upload)
            finally:
                self._written(target)
        if job.cancel_requested:
            return "cancelled", None
        if refusal is not None:
            return "failed", refusal
        if report.failed:
            return "failed", report.failed[0].problems[0]
        return "done", None

    def _prepared(self, job: Job) -> dict[str, int]:
        """The job's upload rid of the images no source will read (``unread_removed``, said in its notes), and each
        source's expected progress units (``size_hints``), so that a job's total covers all its sources from its start.
        Both read every case folder's metadata (once: the thread runs in the job's context, ``rows_read_once``, and the
        look then takes the rows read): in a thread of their own, which the job waits for only until a cancel is asked
        (``Cancelled``). A 200,000-row metadata file takes seconds to read, which a cancel asked meanwhile waited for,
        and the upload's request before the job existed. The thread stops too, at its next row or file
        (``stoppable``), so no core stays busy for a job that ended."""
        prepared: Future[tuple[list[str], dict[str, int]]] = Future()

        def prepare() -> None:
            try:
                with stoppable(functools.partial(stop_if_cancelled, job)):
                    prepared.set_result((self.unread_removed(job), self.size_hints(job.paths)))
            except BaseException as exc:  # the job ends with it (failed, or cancelled), as it did preparing itself
                prepared.set_exception(exc)

        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(prepare,), daemon=True, name=f"prepare-{job.id}").start()
        while True:
            stop_if_cancelled(job)
            with suppress(TimeoutError):
                removed, hints = prepared.result(timeout=CANCEL_SECONDS)
                if removed:
                    job.notes = [*job.notes, skipped_note(removed)]
                return hints

    def unread_removed(self, job: Job) -> list[str]:
        """An uploaded zip's images no built-in source will read, deleted (``remove_unread_images``); none for a PDF,
        a folder the server was asked to index in place, or where plug-in sources read the uploads."""
        if job.upload is None or self.settings.sources:
            return []
        return [name for path in job.paths if path.is_dir() for name in remove_unread_images(path, self.settings)]

    def size_hints(self, paths: list[Path]) -> dict[str, int]:
        """``_prepared``'s count. Only an estimate: paths it cannot read count nothing, and the indexer reports
        why."""
        try:
            return {source.key: source.size_hint() for source in discover(paths, self.settings)}
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

    def _roll_back(self, target: Index, upload: Path) -> None:
        """Remove the sources a failed or cancelled upload committed: its files go with it, and a corrected upload of
        the same name must not find half of the old one (cited files gone, a name matching two sources)."""
        for key in self.sources_of(target, upload):
            target.remove_source(key)

    def sources_of(self, index: Index, upload: Path) -> list[str]:
        """The index's sources that came from one upload folder."""
        return [key for key in index.manifest if Path(key).is_relative_to(upload.resolve())]

    def replaced_by(self, index: Index, upload: Path, paths: Iterable[Path]) -> dict[str, str]:
        """The sources of ``index`` that the upload of folder ``upload``, stored as ``paths``, replaces once it is
        indexed, each with its upload folder: every source that came from an earlier upload of its name (a zip's case
        folders are named by what they hold, not by the zip). Names are compared as stored (``stored_as``), which
        tells apart names sent differently (``safe_name``)."""
        sent = {stored_as(path) for path in paths}
        return {  # all found before any folder goes: ``uploaded`` looks at the folder
            key: older.folder
            for key in index.manifest
            if (older := self.uploaded(key)) is not None
            and older.folder != upload.name
            and (older.name, older.unpacked) in sent
        }

    def replacement_refusal(self, index: Index, upload: Path, paths: Iterable[Path], name: str) -> str | None:
        """Why the upload of folder ``upload`` (``paths``, sent as ``name``) needs the lecturer's token, in one line:
        it would replace an earlier upload of its name (``replaced_by``) that held other bytes. None where it replaces
        none, or only uploads of the very same bytes sent again (their content marks alike), which replace as ever."""
        marks = content_marks(upload)
        replaced = set(self.replaced_by(index, upload, paths).values())
        if not replaced or (marks and all(marks <= content_marks(self.uploads / older) for older in replaced)):
            return None
        return (
            f"{name} is the name of an indexed upload: replacing it needs the lecturer's token (PATHATLAS_API_TOKEN); "
            "upload it under another name"
        )

    def _replace_older_uploads(self, target: Index, job: Job) -> None:
        """An upload sent under the name of an earlier one replaces it, once the new one is committed
        (``replaced_by``); the job's notes say what went."""
        replaced = self.replaced_by(target, job.upload, job.paths)
        for key in replaced:
            target.remove_source(key)
        for folder in set(replaced.values()):
            shutil.rmtree(self.uploads / folder, ignore_errors=True)
        if replaced:
            now = {display_name(key) for key in target.manifest if self.uploaded_from(key, job.upload)}
            job.notes = [
                *job.notes,
                f"{job.source}: replaced the earlier upload of this name ({replaced_words(replaced, now)})",
            ]

    def uploaded_from(self, key: str, upload: Path) -> bool:
        """Whether the source ``key`` came from the upload of folder ``upload``."""
        return (uploaded := self.uploaded(key)) is not None and uploaded.folder == upload.name

    def uploaded(self, key: str) -> Uploaded | None:
        """Where a source came from, if it came from an upload (None for files indexed in place): an upload folder of
        this home's uploads. A source recorded under another home's (``named_uploads``: the home moved, a backup
        restored elsewhere) is one where this home holds its folder, so removing it removes that folder, not the one
        recorded. A key is data, not a trusted path: only plain names under this home's uploads are looked at."""
        uploads = self.uploads.resolve()
        for folder, recorded in named_uploads([key]).items():
            name = Path(key).relative_to(recorded).parts[1]
            if ".." in (folder, name):  # "uploads/../home" would name the home itself
                continue
            if recorded == uploads or (uploads / folder).is_dir():
                return Uploaded(folder, name, (uploads / folder / name).is_dir())
        return None

    def job_error(self, job: Job, message: str) -> str:
        """A job's error as its client reads it: an upload by the name it was sent as (its folder and upload id are
        the server's), other files without server paths."""
        if job.upload is not None:
            for path in job.paths:  # the upload itself, or the folder a zip was unpacked to
                for written in (str(path.resolve()), str(path)):
                    message = message.replace(written, job.source)
        return self.relative(message)

    def client_message(self, exc: PathAtlasError) -> str:
        """An error as API and tool clients read it: sources by name and id, never by server path. Sources sharing a
        file name are named as citations name them (``distinct_names`` of one name's sources: "year1/notes.pdf")."""
        if isinstance(exc, AmbiguousSourceError):
            names = distinct_names(exc.ids)
            shown = ", ".join(f"{names[key]} (id {source})" for key, source in exc.ids.items())
            return f"{display_name(next(iter(exc.ids)))!r} matches several sources: {shown}; give one of the ids"
        return self.relative(str(exc))

    def relative(self, message: str) -> str:
        """Messages for API clients without server paths (``without_paths``: the index by its folder's name, files
        under the uploads, the index's parent folder or the home by their path below it), nor the address of the LLM
        server behind the answerer."""
        index = self.index.path
        message = without_paths(message, index, (self.uploads, index.parent, self.settings.home))
        if self.settings.llm_base_url:
            message = message.replace(self.settings.llm_base_url, "the answerer's LLM server")
        return message

    def _writer(self) -> Index:
        """Writes go through a private index, swapped in after it commits, where the store opens twice
        (``VectorStore.opens_twice``: FAISS); else through the shared one (Qdrant). A new index is made on disk by the
        job's first commit, for the store the settings name."""
        if not store_class(self.index.meta.store).opens_twice:
            return self.index
        return Index.open(self.settings.index_dir, self.settings, create=self.create, defer=True)

    def _written(self, target: Index) -> None:
        """After a job's writes: a private index's commits swapped in; the shared one knows its own commits, so the
        watcher does not reopen it for them."""
        if target is not self.index:
            target.close()
            self._open()

    def remove(self, source: str) -> int:
        with self._write:
            target = self._writer()
            try:
                key = target.resolve_source(source)
                removed = target.remove_source(key)
            finally:
                self._written(target)
        log.info("source %s removed: %d records", key, removed)
        upload = self.uploaded(key)
        if upload is not None and not any(self.uploaded(k) == upload for k in self.index.manifest):
            shutil.rmtree(self.uploads / upload.folder, ignore_errors=True)  # an uploaded source: its files go too
        return removed
