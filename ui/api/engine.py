"""Shared state of one API process: the open index, searcher, agent and index jobs.

Models and the index load once. Index jobs write through a private ``Index`` opened from disk and commit;
the engine then swaps in a freshly opened index, so searches always see the last committed state and
in-flight searches finish on the one they started with. (The embedded Qdrant shard cannot be opened
twice, so with ``store=qdrant`` jobs write through the shared index.)
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.graph import Agent
from pathatlas.errors import PathAtlasError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Searcher
from pathatlas.settings import Settings


class JobCancelled(PathAtlasError):
    """Raised inside a job's progress callback to stop it; nothing of it is committed."""


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


class Engine:
    def __init__(self, settings: Settings, create: bool = True):
        """``create=False`` refuses a missing index instead of making an empty one (read-only callers)."""
        self.settings = settings
        self.create = create
        self._swap = threading.Lock()
        self._write = threading.Lock()  # one index job at a time
        # Model work is CPU-bound: more concurrent calls than cores only thrash. Asks (many searches each)
        # get one slot of their own so short searches are not queued behind them.
        self.search_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
        self.ask_slots = threading.BoundedSemaphore(1)
        self.jobs: dict[str, Job] = {}
        self._open()

    def _open(self) -> None:
        index = Index.open(self.settings.index_dir, self.settings, create=self.create)
        searcher = Searcher(index)
        answerer = create_answerer(self.settings.answerer, self.settings, index.encoder)
        agent = Agent(searcher, answerer, self.settings.agent_rounds, self.settings.agent_k)
        with self._swap:
            self.index, self.searcher, self.agent = index, searcher, agent

    def submit(self, source: str, paths: list[Path]) -> Job:
        job = Job(uuid.uuid4().hex[:12], source, paths)
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"index-{job.id}").start()
        return job

    def _run(self, job: Job) -> None:
        with self._write:
            job.status = "running"

            def progress(_source: str, done: int, total: int) -> None:
                job.done, job.total = done, total
                if job.cancel_requested:
                    raise JobCancelled(f"job {job.id} was cancelled")

            shared = self.index.meta.store != "faiss"
            target = self.index if shared else Index.open(self.settings.index_dir, self.settings)
            try:
                report = Indexer(target, show_progress=False, on_progress=progress).add(job.paths)
            except PathAtlasError as exc:
                job.status, job.error = "failed", str(exc)
                return
            failed = report.failed
            if job.cancel_requested:
                job.status = "cancelled"
            elif failed:
                job.status, job.error = "failed", failed[0].problems[0]
            else:
                job.status = "done"
            if not shared and any(s.status == "indexed" for s in report.sources):
                self._open()

    def remove(self, source: str) -> int:
        with self._write:
            removed = self.index.remove_source(source)
        if self.index.meta.store == "faiss":
            self._open()
        return removed
