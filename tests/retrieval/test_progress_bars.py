"""Progress bars only on a terminal: a run whose stderr goes to a file (``2>log``) finds messages there, not bars."""

from __future__ import annotations

import io
import sys
import types

import numpy as np
import pytest

from pathatlas.retrieval.bench.speed import SOURCE_SIZE, Synthetic, _build
from pathatlas.retrieval.encoders.base import run_batched
from pathatlas.retrieval.progress import stderr_is_terminal

BAR = "%|"
"""What every tqdm bar draws between its percentage and the bar itself."""


class Stream(io.StringIO):
    """A stderr that says whether it is a terminal."""

    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


class DiscardingIndex:
    """Just what ``_build`` calls on an index, keeping nothing."""

    def __init__(self) -> None:
        self.store = self

    def upsert(self, records) -> None:
        pass

    def commit(self, manifest) -> None:
        pass


def encode_batches(batches: int, stderr: Stream, monkeypatch) -> str:
    """What ``run_batched`` writes to ``stderr`` while encoding ``batches`` batches with a fake encoder."""
    monkeypatch.setattr(sys, "stderr", stderr)
    encoded = run_batched(list(range(batches * 4)), 4, lambda chunk: {"text": np.ones((len(chunk), 2))}, "fake")
    assert encoded["text"].shape == (batches * 4, 2)
    return stderr.getvalue()


def test_no_bar_reaches_a_stderr_that_is_not_a_terminal(monkeypatch):
    assert BAR not in encode_batches(10, Stream(terminal=False), monkeypatch)


def test_a_terminal_sees_the_bar(monkeypatch):
    assert BAR in encode_batches(10, Stream(terminal=True), monkeypatch)


def test_a_call_keeps_its_own_reason_to_hide_the_bar(monkeypatch):
    assert BAR not in encode_batches(7, Stream(terminal=True), monkeypatch)  # under 8 batches: not worth a bar


@pytest.mark.parametrize("terminal", [False, True])
def test_bench_search_progress_messages_go_to_stderr(monkeypatch, terminal):
    stdout, stderr = io.StringIO(), Stream(terminal)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    _build(DiscardingIndex(), Synthetic({"text": 8}), SOURCE_SIZE, "faiss 1,000")
    assert stdout.getvalue() == ""
    assert "faiss 1,000: commit" in stderr.getvalue()
    assert (BAR in stderr.getvalue()) == terminal


def test_a_notebook_draws_its_bars_though_its_stderr_is_no_terminal(monkeypatch):
    """A Jupyter kernel's stderr is no terminal, yet ``tqdm.auto`` draws its bars there as widgets."""
    monkeypatch.setattr(sys, "stderr", Stream(terminal=False))
    assert not stderr_is_terminal()
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert stderr_is_terminal()
