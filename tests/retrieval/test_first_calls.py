"""What a service's first calls pay: a value held per index generation is computed once however many threads meet it
at once, and importing the agent's scoring loads no BM25 library it may never run."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from pathatlas.retrieval.index import per_generation
from tests.helpers import imported_after

THREADS = 8


class Opened:
    """What ``per_generation`` reads of an open index: its identity and its committed generation's number."""

    def __init__(self) -> None:
        self.generation = SimpleNamespace(number=1)


class SlowReading:
    """A per-generation value that takes a while to compute, counting its computations; the first ``failing`` raise."""

    def __init__(self, failing: int = 0, seconds: float = 0.2) -> None:
        self.calls = 0
        self.failing = failing
        self.seconds = seconds
        self._lock = threading.Lock()

    def __call__(self, index: Opened) -> dict[str, int]:
        with self._lock:
            self.calls += 1
            call = self.calls
        time.sleep(self.seconds)
        if call <= self.failing:
            raise OSError("the store was busy")
        return {"generation": index.generation.number}


def met_at_once(cached, index: Opened) -> list:
    """What ``THREADS`` callers meeting ``cached(index)`` at the same moment each got: its value or its error."""
    start = threading.Barrier(THREADS)

    def caller(_: int):
        start.wait()
        try:
            return cached(index)
        except OSError as error:
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(caller, range(THREADS)))


def test_threads_meeting_a_value_at_once_compute_it_once():
    reading = SlowReading()
    index = Opened()
    got = met_at_once(per_generation(reading), index)
    assert reading.calls == 1
    assert all(value is got[0] for value in got), "every caller holds the one value computed"


def test_a_failing_computation_lets_the_next_caller_compute():
    """The first caller's error is its own; one of those waiting on it computes the value, and the rest share it."""
    reading = SlowReading(failing=1)
    got = met_at_once(per_generation(reading), Opened())
    errors = [value for value in got if isinstance(value, OSError)]
    assert len(errors) == 1 and reading.calls == 2
    assert len({id(value) for value in got if value not in errors}) == 1


def test_a_commit_computes_again_and_other_indexes_wait_on_no_computation():
    opened, other = Opened(), Opened()
    release = threading.Event()

    def reading(index: Opened) -> int:
        if index is opened:
            assert release.wait(10), "the test never released the first index's computation"
        return index.generation.number

    cached = per_generation(reading)
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(cached, opened)
        other.generation.number = 4
        assert cached(other) == 4, "answered while the first index's value is still being computed"
        assert not blocked.done(), "the other index waited for this computation"
        release.set()
        assert blocked.result(timeout=10) == 1
    opened.generation.number = 2
    assert cached(opened) == 2


@pytest.mark.parametrize("module", ["pathatlas.agent.scoring", "pathatlas.agent.graph"])
def test_importing_the_agent_loads_no_bm25s(module):
    """bm25s imports numba and scipy.sparse (most of a second) for scorers PathAtlas never runs; ``pathatlas serve``
    imports the agent whether or not anyone asks a question."""
    assert imported_after(f"import sys\nimport {module}\nprint('bm25s' in sys.modules)") == ["False"]


def test_the_offline_answer_scores_bm25_without_numba_or_scipy():
    script = """
import sys
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload
texts = ["The right lung consists of three lobes.", "The left lung consists of two lobes."]
found = [
    Evidence(f"p{rank}", "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))
    for rank, text in enumerate(texts, start=1)
]
answered = OfflineAnswerer(encoder=None).answer(Question("How many lobes does the right lung have?", ["2", "3"]), found)
print(answered.letter, "bm25s" in sys.modules, [name for name in ("numba", "scipy.sparse") if name in sys.modules])
"""
    assert imported_after(script) == ["B True []"]
