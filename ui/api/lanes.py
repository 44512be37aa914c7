"""Work lanes of the service: one worker thread each, so model work never runs more threads than it should.

A ``BatchingLane`` takes every query waiting when its worker comes free and runs them as one batch: twenty
users typing at once cost one encoder call, not twenty. A lane's worker can run at a lower CPU priority, so
long work (an ask: several rounds of searches and scoring) yields the cores to short searches.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def lower_priority(niceness: int) -> None:
    """Raise this thread's nice value (Linux schedules threads separately); a no-op where unsupported."""
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except OSError:
        pass


class BatchingLane(Generic[In, Out]):
    """Queue items; one worker runs ``run_batch`` on everything waiting (at most ``max_batch``) at once.

    If a batch fails, its items are retried one at a time, so one bad query cannot fail its neighbours.
    """

    def __init__(
        self,
        name: str,
        run_batch: Callable[[list[In]], Sequence[Out]],
        max_batch: int = 32,
        max_waiting: int = 256,
        niceness: int = 0,
        on_start: Callable[[], object] | None = None,
    ):
        """``on_start``: run first in the worker, for what each thread keeps of its own (FAISS's OpenMP threads)."""
        self.name = name
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.niceness = niceness
        self.on_start = on_start
        self._queue: queue.Queue[tuple[In, Future[Out]] | None] = queue.Queue()
        self.batches = 0
        self.items = 0
        self._closing = threading.Lock()
        self._closed = False
        self._worker = threading.Thread(target=self._loop, name=f"lane-{name}", daemon=True)
        self._worker.start()

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def submit(self, item: In) -> Future[Out]:
        future: Future[Out] = Future()
        with self._closing:
            if self._closed:
                future.set_exception(LaneClosedError(f"the {self.name} lane has closed"))
            elif self._queue.qsize() >= self.max_waiting:
                future.set_exception(LaneFullError(f"the {self.name} queue is full ({self.max_waiting}); try again"))
            else:
                self._queue.put((item, future))
        return future

    def close(self) -> None:
        """Run what was queued, then stop; work submitted from now on is refused (``LaneClosedError``), so none
        waits for an answer that never comes."""
        with self._closing:
            self._closed = True
            self._queue.put(None)
        self._worker.join(timeout=30)

    def _loop(self) -> None:
        lower_priority(self.niceness)
        if self.on_start is not None:
            self.on_start()
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._run(batch)

    def _run(self, batch: list[tuple[In, Future[Out]]]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        self.items += len(live)
        try:
            results = self.run_batch([item for item, _ in live])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request, never swallowed
            if len(live) == 1:
                live[0][1].set_exception(exc)
                return
            for item, future in live:
                self._retry_one(item, future)
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)

    def _retry_one(self, item: In, future: Future[Out]) -> None:
        try:
            future.set_result(self.run_batch([item])[0])
        except Exception as exc:  # noqa: BLE001
            future.set_exception(exc)


class LaneFullError(RuntimeError):
    """More work is waiting than the service accepts; the client should retry later (HTTP 503)."""


class LaneClosedError(RuntimeError):
    """The lane's service is stopping: the work was not run."""
