"""The service reads each committed generation's words (``ui.words``: every text search looks its query up in them, a
typo its closest spellings) in the background as it swaps it in, as the warm-up read the first's: the first search after
a lecturer's upload would otherwise wait for them (0.4 s on a book, 1.3 s for a typo)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.api import engine as engine_module
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.upload_folder import UploadFolder
from pathatlas.ui.api.writer import IndexWriter
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new

WORDS = ("indexed_terms", "indexed_spellings")
WAIT = 10.0
"""Seconds a test waits for what must happen."""
HOLD = 60.0
"""Seconds a held reading waits for its test to release it: longer than any test waits, so the test says what failed."""


class WordReads:
    """The engine's readings of an index's words, as (which words, index, its generation), and the threads reading
    them; each waits, once ``reading`` says it began, until ``release`` is set (set from the start unless ``held``)."""

    def __init__(self, monkeypatch, held: bool = False):
        self.reads: list[tuple[str, Index, int]] = []
        self.readers: set[threading.Thread] = set()
        self.reading, self.release = threading.Event(), threading.Event()
        if not held:
            self.release.set()
        for name in WORDS:
            monkeypatch.setattr(engine_module, name, self._spy(name, getattr(engine_module, name)))

    def _spy(self, name: str, words):
        def read(index: Index):
            self.readers.add(threading.current_thread())
            self.reading.set()
            assert self.release.wait(HOLD), "the test never released the reading"
            self.reads.append((name, index, index.generation.number))
            return words(index)

        return read

    def of(self, index: Index) -> set[str]:
        return {
            name for name, read, generation in self.reads if read is index and generation == index.generation.number
        }

    def wait_for(self, index: Index) -> set[str]:
        """The words read of ``index``'s generation once both were, or when ``WAIT`` ends."""
        deadline = time.monotonic() + WAIT
        while self.of(index) != set(WORDS) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.of(index)


@pytest.fixture()
def served(tmp_path, request) -> Iterator[Engine]:
    """A ready engine on an index of one PDF, in the store a test's parameter names (FAISS unless one does)."""
    settings = hashing_settings(tmp_path, store=getattr(request, "param", "faiss"))
    index_new(settings, make_pdf(tmp_path / "first.pdf", 1, "hepatocyte"))
    engine = Engine(settings)
    try:
        engine.warm_up()
        assert engine.ready.is_set(), engine.problem
        deadline = time.monotonic() + WAIT  # the warm-up's own reading ends before a test counts readings
        while any(t.name == "read-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.02)
        yield engine
    finally:
        engine.close()


def commit_here(engine: Engine, pdf) -> None:
    """What an upload's job does: index ``pdf`` through the engine's writer, whose commit is then served."""
    writer = IndexWriter(engine, UploadFolder(engine.settings.uploads_dir))
    with writer.lock, writer.writing() as target:
        assert not Indexer(target, show_progress=False).add([pdf]).failed


def commit_elsewhere(engine: Engine, pdf) -> None:
    """What ``pathatlas index`` beside the service does: a commit the watcher then swaps in (``refresh``)."""
    other = Index.open(engine.settings.index_dir, engine.settings)
    try:
        assert not Indexer(other, show_progress=False).add([pdf]).failed
    finally:
        other.close()
    assert engine.refresh()


@pytest.mark.parametrize(
    ("served", "commit"),
    [("faiss", commit_here), ("faiss", commit_elsewhere), ("qdrant", commit_here)],
    ids=["this process", "another process", "this process, written through the served index"],
    indirect=["served"],
)
def test_a_served_commits_words_are_read_before_any_search(served, tmp_path, monkeypatch, commit):
    reads = WordReads(monkeypatch)
    before = served.index.generation.number
    commit(served, make_pdf(tmp_path / "lecture.pdf", 1, "glomerulus"))
    assert served.index.generation.number > before, "the commit is served"
    assert reads.wait_for(served.index) == set(WORDS), "the new generation's words were left to its first search"


def test_a_swap_never_waits_for_the_words_and_commits_during_a_reading_are_read_once_after_it(
    served, tmp_path, monkeypatch
):
    """A class's uploads commit one after another: the reading in flight goes on with the last generation, whose words
    are then all read, and none of a generation swapped out meanwhile."""
    reads = WordReads(monkeypatch, held=True)
    served.swap_in()
    assert reads.reading.wait(WAIT), "the words are being read"
    read_first = served.index
    pdfs = [make_pdf(tmp_path / f"{name}.pdf", 1, name) for name in ("second", "third")]
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: [commit_here(served, pdf) for pdf in pdfs]).result(timeout=WAIT)
    assert reads.reads == [], "the reading in flight is still held"
    reads.release.set()
    assert reads.wait_for(served.index) == set(WORDS)
    assert {index for _, index, _ in reads.reads} == {read_first, served.index}, "a generation swapped out was read"


def test_a_closing_engine_waits_for_the_reading_in_flight_and_a_closed_one_reads_nothing(served, monkeypatch):
    reads = WordReads(monkeypatch, held=True)
    served.swap_in()
    assert reads.reading.wait(WAIT)
    closing = threading.Thread(target=served.close)
    closing.start()
    closing.join(0.5)
    assert closing.is_alive(), "close returned while the words were still read"
    reads.release.set()
    closing.join(WAIT)
    assert not closing.is_alive()
    assert not any(reader.is_alive() for reader in reads.readers), "close left the reader running"
    read = list(reads.reads)
    served.read_words_ahead()
    time.sleep(0.2)
    assert reads.reads == read, "a closed engine read words"


def test_a_commit_served_while_the_warm_up_reads_has_its_words_read_too(tmp_path, monkeypatch):
    """Another process commits while the warm-up reads the first generation's terms, before the engine is ready: the
    generation swapped in then is read once the engine is ready, not left to its first search."""
    settings = hashing_settings(tmp_path)
    index_new(settings, make_pdf(tmp_path / "first.pdf", 1, "hepatocyte"))
    reads, engine = WordReads(monkeypatch), Engine(settings)
    terms = engine_module.indexed_terms

    def a_commit_lands(index: Index):
        words = terms(index)
        if len(reads.reads) == 1:  # the warm-up's reading of the first generation
            commit_elsewhere(engine, make_pdf(tmp_path / "lecture.pdf", 1, "glomerulus"))
        return words

    monkeypatch.setattr(engine_module, "indexed_terms", a_commit_lands)
    try:
        first = engine.index
        engine.warm_up()
        assert engine.ready.is_set() and engine.index is not first, "the commit was served while it warmed up"
        assert reads.wait_for(engine.index) == set(WORDS)
    finally:
        engine.close()
