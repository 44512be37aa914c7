"""Shared state of one API process: the open index, searcher, agent and index jobs.

Models and the index load once. Index jobs write through a private ``Index`` opened from disk and commit;
the engine then swaps in a freshly opened index, so searches always see the last committed state and
in-flight searches finish on the one they started with. (The embedded Qdrant shard cannot be opened
twice, so with ``store=qdrant`` jobs write through the shared index.)
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.graph import Agent
from pathatlas.indexer.pipeline import Cancelled, Indexer, one_line
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Searcher
from pathatlas.settings import Settings


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
    """The upload's own folder: removed if the job fails, kept (replacing same-named uploads) if it is done."""


class Engine:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._swap = threading.Lock()
        self._write = threading.Lock()  # one index job at a time
        # Model work is CPU-bound: more concurrent calls than cores only thrash. Asks (many searches each)
        # get one slot of their own so short searches are not queued behind them.
        self.search_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
        self.ask_slots = threading.BoundedSemaphore(1)
        self.jobs: dict[str, Job] = {}
        self._open()

    def _open(self) -> None:
        index = Index.open(self.settings.index_dir, self.settings, create=True)
        searcher = Searcher(index)
        answerer = create_answerer(self.settings.answerer, self.settings, index.encoder)
        agent = Agent(searcher, answerer, self.settings.agent_rounds, self.settings.agent_k)
        with self._swap:
            self.index, self.searcher, self.agent = index, searcher, agent

    @property
    def uploads(self) -> Path:
        return self.settings.home / "uploads"

    def submit(self, source: str, paths: list[Path], upload: Path | None = None) -> Job:
        job = Job(uuid.uuid4().hex[:12], source, paths, upload=upload)
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"index-{job.id}").start()
        return job

    def _run(self, job: Job) -> None:
        """Every job ends done, failed (with one line) or cancelled, whatever is raised inside it."""
        try:
            with self._write:
                self._index_job(job)
        except Cancelled:
            job.status = "cancelled"
        except BaseException as exc:  # a worker thread that dies would leave its job running forever
            job.status, job.error = "failed", one_line(exc)
        finally:
            if job.status in ("queued", "running"):
                job.status, job.error = "failed", job.error or "the job stopped unexpectedly"
            if job.upload is not None and job.status != "done":
                shutil.rmtree(job.upload, ignore_errors=True)

    def _index_job(self, job: Job) -> None:
        job.status = "running"

        def progress(_source: str, done: int, total: int) -> None:
            job.done, job.total = done, total
            if job.cancel_requested:
                raise Cancelled(f"job {job.id} was cancelled")

        target = self._writer()
        try:
            report = Indexer(target, show_progress=False, on_progress=progress).add(job.paths)
            if not report.failed and not job.cancel_requested and job.upload is not None:
                self._replace_older_uploads(target, job)
        finally:
            self._written(target)
        if job.cancel_requested:
            job.status = "cancelled"
        elif report.failed:
            job.status, job.error = "failed", self.relative(report.failed[0].problems[0])
        else:
            job.status = "done"

    def _replace_older_uploads(self, target: Index, job: Job) -> None:
        """An upload named like an earlier one replaces it, once the new one is committed."""
        new_keys = {str(p.resolve()) for p in job.paths}
        for key in list(target.manifest):
            path = Path(key)
            if key in new_keys or not path.is_relative_to(self.uploads.resolve()):
                continue
            if path.name in {p.name for p in job.paths}:
                target.remove_source(key)
                shutil.rmtree(self.uploads / path.relative_to(self.uploads.resolve()).parts[0], ignore_errors=True)

    def relative(self, message: str) -> str:
        """Messages for API clients without server paths."""
        for folder in (self.uploads.resolve(), self.settings.index_dir.parent, self.settings.home):
            message = message.replace(f"{folder}/", "")
        return message

    def _writer(self) -> Index:
        """FAISS writes go through a private index, swapped in after it commits (Qdrant: one shard, shared)."""
        return self.index if self.index.meta.store != "faiss" else Index.open(self.settings.index_dir, self.settings)

    def _written(self, target: Index) -> None:
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
        path = Path(key)
        if path.is_relative_to(self.uploads.resolve()):  # an uploaded source: its files go too
            shutil.rmtree(self.uploads / path.relative_to(self.uploads.resolve()).parts[0], ignore_errors=True)
        return removed
