"""This process's writes to the index it serves: one at a time, each through an index swapped in once it commits, so
searches always see the last committed state and in-flight searches finish on the one they started with. (The
embedded Qdrant shard cannot be opened twice, so with ``store=qdrant`` writes go through the served index.)"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.stores import store_class
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.upload_folder import UploadFolder, sources_of

log = logging.getLogger(__name__)

WAIT_STEP = 0.05
"""Seconds between the calls of a removal's ``waiting`` while another write of this process holds the lock."""


class IndexWriter:
    """Writes to ``engine``'s index under its ``write_lock`` (which keeps its watcher from reopening the index
    meanwhile); a source's removal takes its upload's files with it (``uploads``)."""

    def __init__(self, engine: Engine, uploads: UploadFolder):
        self.engine = engine
        self.uploads = uploads

    @property
    def lock(self) -> threading.Lock:
        """Held by each write of this process (an index job, a removal): one at a time."""
        return self.engine.write_lock

    def target(self) -> Index:
        """Writes go through a private index, swapped in after it commits, where the store opens twice
        (``VectorStore.opens_twice``: FAISS); else through the shared one (Qdrant). A new index is made on disk by the
        job's first commit, for the store the settings name."""
        engine = self.engine
        if not store_class(engine.index.meta.store).opens_twice:
            return engine.index
        return Index.open(engine.settings.index_dir, engine.settings, create=engine.create, defer=True)

    def written(self, target: Index) -> None:
        """After a job's writes: a private index's commits swapped in; the shared one knows its own commits, so the
        watcher does not reopen it for them, and only their words are read ahead (``Engine.read_words_ahead``)."""
        if target is not self.engine.index:
            target.close()
            self.engine.swap_in()
        else:
            self.engine.read_words_ahead()

    @contextmanager
    def writing(self) -> Iterator[Index]:
        """A ``target`` for the block, its commits served once it ends (``written``), however it ends."""
        target = self.target()
        try:
            yield target
        finally:
            self.written(target)

    @contextmanager
    def locked(self) -> Iterator[Index]:
        """A writer (``target``) holding the index's write lock for the block, then closed: for work that commits
        nothing. Another process writing raises ``IndexBusyError`` (409), in the words a removal is refused with."""
        target = self.target()
        try:
            with target.writing():
                yield target
        finally:
            if target is not self.engine.index:
                target.close()

    def check_can_write(self) -> None:
        """Refuse now, in one line, an upload whose job could only fail and its upload be thrown away: an index this
        process cannot write (read-only), or one another process is writing (409, as ``DELETE /sources`` answers).
        While a job or removal of this process writes, a new job waits its turn instead; an index not yet on disk has
        no writer to wait for."""
        index = self.engine.index
        index.check_writable()
        if index.unwritten:
            return
        with self.unless_writing() as free:
            if free:
                with self.locked():
                    pass

    @contextmanager
    def unless_writing(self) -> Iterator[bool]:
        """Whether no write of this process runs now; if none does, none starts until the block ends (``lock`` held):
        for a look at the index and an answer by it that no write may come between, where waiting for a job's end
        (minutes) is no option."""
        free = self.lock.acquire(blocking=False)
        try:
            yield free
        finally:
            if free:
                self.lock.release()

    @contextmanager
    def taken(self, waiting: Callable[[], None]) -> Iterator[None]:
        """``lock`` held for the block. While another write holds it, ``waiting`` is called every ``WAIT_STEP``: what
        it raises ends the wait, the lock not taken."""
        while not self.lock.acquire(timeout=WAIT_STEP):
            waiting()
        try:
            yield
        finally:
            self.lock.release()

    def roll_back(self, target: Index, upload: Path) -> None:
        """Remove the sources a failed or cancelled upload committed: its files go with it, and a corrected upload of
        the same name must not find half of the old one (cited files gone, a name matching two sources)."""
        for key in sources_of(target, upload):
            target.remove_source(key)

    def remove(self, source: str, waiting: Callable[[], None]) -> int:
        """Remove a source (as ``Index.resolve_source`` finds it) and its records; an uploaded source's files go too,
        once no other source comes from its upload. The number of records removed. While another write of this
        process holds the lock, ``waiting`` may end the wait by raising (``taken``): an index job holds it for
        minutes, a removal for moments."""
        with self.taken(waiting), self.writing() as target:
            key = target.resolve_source(source)
            removed = target.remove_source(key)
        log.info("source %s removed: %d records", key, removed)
        self.uploads.remove_unused(key, self.engine.index)
        return removed
