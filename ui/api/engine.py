"""The index one API process serves: the open index, its searcher and agent, and the lanes searches and asks queue on.

Models and the index load once, on first use. Searches go through two batching lanes (text queries; image
queries), each one worker thread, so concurrent queries share one encoder call and never run more model
threads than there are cores. Asks (several rounds of searches each) have their own lane at a lower CPU
priority, one at a time, so they never starve searches. Users' images are decoded at most ``DECODES`` at a time.

Each commit is served by a freshly opened index swapped in (``swap_in``), so searches always see the last committed
state and in-flight searches finish on the one they started with: this process's own writes (``IndexWriter``) swap it
in as they end, and a commit by another process (``pathatlas index`` or ``remove`` beside a running server) is noticed
by a watcher thread that asks the index once a second (``Index.changed_on_disk``: one ``stat`` of its pointer file).
The same thread keeps running jobs' records current (``on_watch``, ``Jobs``).
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from pathatlas.agent.answerers import Answerer, create_answerer
from pathatlas.agent.questions import Question
from pathatlas.errors import PathAtlasError
from pathatlas.indexer.pipeline import one_line
from pathatlas.paths import expanded
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import AmbiguousSourceError, Index, pointer_state
from pathatlas.retrieval.records import display_name, distinct_names
from pathatlas.retrieval.search import Found, Query, Searcher
from pathatlas.settings import Settings, os_problem
from pathatlas.ui.api.facets import Facets, count_facets
from pathatlas.ui.api.lanes import BatchingLane
from pathatlas.ui.words import indexed_spellings, indexed_terms

if TYPE_CHECKING:
    from pathatlas.agent.graph import Agent, AgentResult


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


def agent_of(searcher: Searcher, answerer: Answerer, settings: Settings) -> Agent:
    """The agent the settings describe, its module imported here: it imports langgraph, seconds that
    ``Engine.warm_up`` pays in the background rather than ``pathatlas serve`` before its port opens. The answerer is
    made beforehand (``Engine.swap_in``), so a misconfigured one still stops the service at its start."""
    from pathatlas.agent.graph import Agent

    return Agent(searcher, answerer, settings.agent_rounds, settings.agent_k)


WARM_UP_TRIES = 30
WARM_UP_WAIT = 1.0
"""How often, and how far apart, the warm-up tries again after running out of open files."""


def out_of_files(exc: BaseException) -> bool:
    """Whether ``exc`` is this process (EMFILE) or the machine (ENFILE) out of open files: it passes once the
    connections holding them close."""
    return isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE)


class NotReadyError(RuntimeError):
    """The models could not be loaded (``Engine.warm_up``): searches and asks are refused with its one line (503)."""


SEARCH_LANES = 2
DECODES = 2
"""Users' images decoded at once: a 60-megapixel PNG takes about a gigabyte while it decodes, and the shared thread pool
would decode forty at a time."""
WATCH_SECONDS = 1.0
"""How often the engine looks whether another process committed a new generation of its index."""
CLOSE_WAIT = 30.0
"""Seconds ``Engine.close`` waits for each of its threads: the longest step the warm-up or a reopen takes."""
log = logging.getLogger(__name__)


def share_cores(lanes: int) -> int:
    """Model, BLAS and FAISS threads per call: the cores divided among the lanes that run at once (oversubscribed
    OpenMP pools spin against each other and multiply latency); the count, which each lane's thread takes for FAISS as
    it starts (``faiss_threads``). Text queries encode in numpy (OpenBLAS) or ONNX Runtime, image queries in ONNX
    Runtime, index jobs in torch. Torch is told only when loaded: importing it here cost every start seconds; one loaded
    later (an index job) reads ``OMP_NUM_THREADS``, as the ONNX Runtime sessions do (``onnx_cache.threads_per_call``).
    A count the operator set in ``OMP_NUM_THREADS`` is theirs to keep (a container's CPU quota the core count does not
    show)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    threads = int(given) if given.isdigit() and int(given) > 0 else max(1, (os.cpu_count() or 1) // lanes)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if (torch := sys.modules.get("torch")) is not None:
        torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads, user_api="blas")
    faiss_threads(threads)
    return threads


def faiss_threads(threads: int) -> None:
    """FAISS's OpenMP threads in the calling thread. OpenMP keeps the count per thread: a thread started later takes
    the one OpenMP read from ``OMP_NUM_THREADS`` as FAISS loaded, the core count where FAISS was imported before
    ``share_cores`` (tests, the MCP server, LangChain, a notebook), so every lane ran FAISS on all the cores."""
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(threads)


class Engine:
    """The index as served: searches and asks on their lanes, and the last commit swapped in as it comes. Writes are
    an ``IndexWriter``'s, index jobs ``Jobs``'."""

    def __init__(self, settings: Settings, create: bool = True):
        """A missing index is served empty and made on disk by the first job that commits a source, for the store the
        settings name; ``create=False`` refuses it instead (read-only callers)."""
        self.settings = settings
        self.create = create
        self._swap = threading.Lock()
        self.write_lock = threading.Lock()
        """Held while this process writes the index (``IndexWriter``): one write at a time, and no reopen meanwhile."""
        self._watched: tuple[Callable[[], None], ...] = ()
        """What the watcher does besides ``refresh`` at each look (``on_watch``)."""
        self._facets: Facets | None = None
        self.ready = threading.Event()
        self.problem: str | None = None
        """Why the models could not be loaded, as clients read it (no server paths); None while all is well."""
        self._unopenable: tuple[int, int, int] | None = None
        """The pointer state of the last commit whose reopen failed: not tried again until the next commit."""
        self._gone_said = False
        """Whether the watcher has logged that the index is gone from disk (``index_gone``), until it is back."""
        self._words = threading.Lock()
        self._words_due = False
        """Whether a commit was served since the words' reader (``read_words_ahead``) last began reading."""
        self._word_reader: threading.Thread | None = None
        threads = share_cores(SEARCH_LANES)  # before any model loads: torch and ONNX Runtime read the count then
        self.swap_in()
        shared = functools.partial(faiss_threads, threads)
        self.text_lane = BatchingLane("text search", self._search_batch, on_start=shared)
        # Text searches are most requests and must stay interactive under load: an image query's three
        # EfficientNet passes yield the CPU to them (measured in BENCHMARKS.md, "REST service under load").
        self.image_lane = BatchingLane("image search", self._search_batch, max_batch=8, niceness=5, on_start=shared)
        self.ask_lane = BatchingLane("ask", self._ask_one, max_batch=1, max_waiting=64, niceness=10, on_start=shared)
        self._decoder = ThreadPoolExecutor(DECODES, thread_name_prefix="decode")
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="index-watch")
        self._watcher.start()
        self._warmer: threading.Thread | None = None

    def _search_batch(self, queries: list[Query]) -> list[Found]:
        return self.searcher.find_many(queries)

    def _ask_one(self, questions: list[Question]) -> list[AgentResult]:
        return [self.agent().ask(questions[0])]

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
        """Field values the index holds, with counts; computed once per opened index and generation (a job commits
        through the served index itself where its store opens once, ``IndexWriter.target``)."""
        index = self.index
        facets = self._facets
        if facets is None or facets.index is not index or facets.generation != index.generation.number:
            facets = self._facets = count_facets(index)
        return facets

    def warm_up(self) -> None:
        """Do in the background what the first requests would otherwise wait for, then set ``ready``: build the agent
        (``agent``: langgraph's import), load the encoder's models through the lanes (one tiny query per modality) and
        read the index's words every text search looks its query up in (``indexed_terms``). Once ready, the words'
        reader (``read_words_ahead``) reads the spellings a first typo would wait for (``indexed_spellings``: seconds
        for a book, needed by typos only), and the terms of a generation swapped in while it loaded.

        When the agent or the models fail (a PATHATLAS_HOME this user cannot write, a model package missing) ``ready``
        stays unset and ``problem`` says why in one line: /health answers 503 with it and searches and asks are
        refused with it, so a load balancer takes the service out and its admin reads the reason; the log has the line
        with its paths. Running out of open files (a flood of connections while it loads) passes, so it tries again
        (``WARM_UP_TRIES``) rather than leave the service unready for good. Words that cannot be read are only logged:
        the searches needing them read them again."""
        started = time.monotonic()
        for attempt in range(1, WARM_UP_TRIES + 1):
            if self._closed.is_set():
                return
            try:
                self.agent()
                self._load_models()
                break
            except Exception as exc:
                if self._closed.is_set():  # closed while it loaded: the lanes refused its query
                    return
                if out_of_files(exc) and attempt < WARM_UP_TRIES:
                    log.warning("warming up: %s; trying again in %.0f s", one_line(exc), WARM_UP_WAIT)
                    time.sleep(WARM_UP_WAIT)
                    continue
                unnamed = f"the models could not be loaded ({type(exc).__name__}); the server's log says why"
                self.problem = os_problem(exc, self.settings, paths=False) or unnamed
                log.error("not ready, searches are refused: %s", os_problem(exc, self.settings) or one_line(exc))
                return
        self._read_ahead(indexed_terms)
        self.ready.set()
        log.info("ready in %.1f s: models loaded", time.monotonic() - started)
        self.read_words_ahead()  # the spellings, and the terms of a generation swapped in while it loaded

    def start_warm_up(self) -> None:
        """Run ``warm_up`` in a thread of its own, which ``close`` waits for."""
        self._warmer = threading.Thread(target=self.warm_up, daemon=True, name="warm-up")
        self._warmer.start()

    def _load_models(self) -> None:
        """One tiny query per modality the encoder has, through its lane; and MuPDF, which the first page render would
        otherwise import."""
        import pymupdf  # noqa: F401

        encoder = self.index.encoder
        waits = []
        if encoder.text_spaces:
            waits.append(self.search(Query(text="warm up", k=1)))
        if encoder.image_spaces:
            waits.append(self.search(Query(image=Image.new("RGB", (32, 32)), k=1)))
        for future in waits:
            future.result()

    def _read_ahead(self, words: Callable[[Index], object]) -> None:
        """``words`` of the served index (``ui.words``, kept per generation) read before a request needs them."""
        if self._closed.is_set():
            return
        try:
            words(self.index)
        except Exception as exc:
            log.warning("could not read the index's words ahead of the searches needing them: %s", one_line(exc))

    def _check_ready(self) -> None:
        if self.problem is not None:
            raise NotReadyError(self.problem)

    def close(self) -> None:
        """Stop serving: the lanes run what was queued and refuse what comes later, the watcher and the warm-up stop
        at their next step, then the index closes. No thread of the engine is left in a model's, OCR's or the store's
        native code for the process's exit to tear down under it: a warm-up still loading Tesseract or ONNX Runtime
        as the interpreter exited aborted the process ("terminate called without an active exception")."""
        self._closed.set()
        for lane in (self.text_lane, self.image_lane, self.ask_lane):
            lane.close()
        with self._words:
            word_reader = self._word_reader
        for thread in (self._watcher, self._warmer, word_reader):
            if thread is not None:
                thread.join(timeout=CLOSE_WAIT)
        self._decoder.shutdown(wait=False, cancel_futures=True)
        self.index.close()

    def on_watch(self, task: Callable[[], None]) -> None:
        """Run ``task`` at each look of the watcher, after ``refresh``: work that keeps pace with it (running jobs'
        records) without a thread of its own. ``task`` must not raise."""
        self._watched = (*self._watched, task)

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_SECONDS):
            self.refresh()
            self._say_if_gone()
            for task in self._watched:
                task()

    def refresh(self) -> bool:
        """Swap in the index as committed on disk when another process changed it since it was opened; whether it
        did. A new ``Index`` rather than ``Index.refresh`` in place: searches in flight finish on the one they started
        with. Skipped while a job of this engine writes (it swaps in the index itself when it ends); a reopen that
        fails is logged and waits for the next commit, the open index serving meanwhile."""
        if not self._changed_on_disk() or not self.write_lock.acquire(blocking=False):
            return False
        try:
            if self._closed.is_set() or not self._changed_on_disk():
                return False
            self.swap_in()
            return True
        except Exception as exc:  # a watcher thread that raised would stop watching
            self._unopenable = pointer_state(self.index.path)
            log.warning("could not reopen the index another process changed: %s", one_line(exc))
            return False
        finally:
            self.write_lock.release()

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

    def swap_in(self) -> None:
        """Serve the index as committed on disk from now on, with a searcher and an agent of its own (``agent``), built
        here once the engine is ready so that an ask after a commit waits for none, nor a search for its words
        (``read_words_ahead``)."""
        index = Index.open(self.settings.index_dir, self.settings, create=self.create, defer=True)
        index.check_store()  # served, not written: a store without its records would answer every search with nothing
        searcher = Searcher(index)
        answerer = create_answerer(self.settings.answerer, self.settings, index.encoder)
        agent = agent_of(searcher, answerer, self.settings) if self.ready.is_set() else None
        with self._swap:
            self.index, self.searcher, self._answerer, self._agent = index, searcher, answerer, agent
        self.read_words_ahead()

    def read_words_ahead(self) -> None:
        """Read the served generation's words (``indexed_terms``, then ``indexed_spellings``) in the background, as the
        warm-up read the first's: after a commit, a book's first search waited 0.4 s for them and its first typo 1.3 s.
        Returns at once; one reader thread at a time, reading again while commits come, so a class's uploads never
        queue readings. None before the engine is ready (the warm-up reads them) or once it is closed."""
        if not self.ready.is_set():
            return
        with self._words:
            self._words_due = True
            if self._word_reader is None and not self._closed.is_set():
                reader = threading.Thread(target=self._read_served_words, daemon=True, name="read-ahead")
                reader.start()  # before it is kept: one that cannot start is never joined (``close``)
                self._word_reader = reader

    def _read_served_words(self) -> None:
        while True:
            with self._words:
                if not self._words_due or self._closed.is_set():
                    self._word_reader = None
                    return
                self._words_due = False
            self._read_ahead(indexed_terms)
            self._read_ahead(indexed_spellings)

    def agent(self) -> Agent:
        """The served index's agent, built on first use (``warm_up`` builds the first)."""
        with self._swap:
            searcher, answerer, agent = self.searcher, self._answerer, self._agent
        if agent is None:
            agent = agent_of(searcher, answerer, self.settings)
            with self._swap:
                if self.searcher is searcher:  # not swapped out meanwhile
                    self._agent = agent
        return agent

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
        message = without_paths(message, index, (self.settings.uploads_dir, index.parent, self.settings.home))
        if self.settings.llm_base_url:
            message = message.replace(self.settings.llm_base_url, "the answerer's LLM server")
        return message
