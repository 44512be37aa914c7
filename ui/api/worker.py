"""Image searches and asks in a worker process with its own open index, so they never hold the GIL that text
searches need.

Why: a text query is a few milliseconds of Python around ONNX Runtime; in one process the image and ask lanes'
Python work (image decoding, fusion, the agent's scoring) holds the interpreter lock for milliseconds at a time
and text searches wait for it, whatever the threads' niceness (BENCHMARKS.md, "REST service under load"). In a
child process that work competes for the cores only, where the scheduler honours its lower priority.

One pipe carries everything: the API process sends ``(id, kind, item)``, ``REOPEN`` after an index job commits,
or ``None`` to stop; the worker answers ``(id, ok, result or exception)``. The worker runs the same batching
lanes as before (image searches batched, asks one at a time), and exits as soon as the API process is gone.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol

from pathatlas.errors import PathAtlasError
from pathatlas.settings import Settings
from pathatlas.ui.api.lanes import BatchingLane

REOPEN = "reopen"


class Lanes(Protocol):
    """What the worker serves: lanes by kind over an open index that can be opened again."""

    def lane(self, kind: str) -> BatchingLane: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...


class WorkerGoneError(PathAtlasError):
    """The worker process stopped; its requests fail with one line instead of waiting forever."""


class Worker:
    """The API process's side: ``submit(kind, item)`` returns a future; one thread resolves them as answers come."""

    def __init__(self, settings: Settings, start: Callable[[Settings], Lanes]):
        context = multiprocessing.get_context("spawn")  # a fork would copy the API process's threads and pools
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=run_worker, args=(settings, child, start), name="pathatlas-worker", daemon=True
        )
        self.process.start()
        child.close()
        self._pending: dict[int, Future] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="worker-answers", daemon=True)
        self._reader.start()

    def submit(self, kind: str, item: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                future.set_exception(WorkerGoneError("the image and ask worker has stopped"))
                return future
            n = next(self._ids)
            self._pending[n] = future
            try:
                self._conn.send((n, kind, item))
            except (OSError, ValueError, pickle.PicklingError) as exc:
                del self._pending[n]
                future.set_exception(WorkerGoneError(f"the image and ask worker is unreachable: {exc}"))
        return future

    def reopen(self) -> None:
        """The index changed on disk: the worker opens it again (searches in flight finish on the old one)."""
        with self._lock:
            if not self._closed:
                self._conn.send((REOPEN,))

    def _read(self) -> None:
        while True:
            try:
                n, ok, value = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._pending.pop(n, None)
            if future is not None and future.set_running_or_notify_cancel():
                future.set_result(value) if ok else future.set_exception(value)
        with self._lock:  # the worker is gone: nothing pending may wait forever
            self._closed = True
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if future.set_running_or_notify_cancel():
                future.set_exception(WorkerGoneError("the image and ask worker stopped"))

    def close(self, timeout: float = 30) -> None:
        """Stop the worker (it finishes the batches it is running), killing it if it does not stop in time."""
        with self._lock:
            if not self._closed:
                self._closed = True
                with contextlib.suppress(OSError):
                    self._conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._reader.join(5)
        self._conn.close()


class RemoteLane:
    """A lane whose work runs in the worker: the ``submit`` of ``BatchingLane``."""

    def __init__(self, worker: Worker, kind: str):
        self.worker, self.kind = worker, kind

    def submit(self, item: Any) -> Future:
        return self.worker.submit(self.kind, item)


def run_worker(settings: Settings, conn, start: Callable[[Settings], Lanes]) -> None:
    """The worker process: ``start`` opens the index and makes the lanes."""
    lanes = start(settings)
    sending = threading.Lock()

    def answer(n: int, future: Future) -> None:
        error = future.exception()
        with sending:
            try:
                conn.send((n, error is None, future.result() if error is None else error))
            except (pickle.PicklingError, TypeError, AttributeError) as exc:  # an answer that does not pickle
                conn.send((n, False, WorkerGoneError(f"{type(error or exc).__name__}: {error or exc}")))
            except OSError:
                pass  # the API process is gone; the loop below sees it

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the API process died: nothing here is worth finishing (the index is only read)
        if message is None:
            break
        if message[0] == REOPEN:
            lanes.reopen()
            continue
        n, kind, item = message
        try:
            future = lanes.lane(kind).submit(item)
        except Exception as exc:  # noqa: BLE001 - answered, never fatal to the worker
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(partial(answer, n))
    lanes.close()
