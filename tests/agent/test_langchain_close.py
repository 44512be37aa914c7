"""``PathAtlasRetriever`` releases its engine: ``close()``, the end of a ``with`` block, or the interpreter's exit for a
retriever never closed. It let the engine's threads run into the process's exit, where one still inside native code
(ONNX Runtime, Tesseract, torch) aborts it ("terminate called without an active exception")."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest

from pathatlas.retrieval.search import Query
from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.lanes import LaneClosedError
from pathatlas.ui.langchain import PathAtlasRetriever
from tests.helpers import hashing_env, hashing_settings, index_new, note

ENGINE_THREADS = {"warm-up", "index-watch", "read-ahead", "lane-text search", "lane-image search", "lane-ask"}
"""The names of the threads an engine starts (``ui.api.engine``, ``ui.api.lanes``)."""


def lung_index(root: Path) -> Settings:
    """Settings of a one-page index under ``root``, made with the hashing encoder (no model to load)."""
    settings = hashing_settings(root)
    index_new(settings, note(root / "lib", "lung.md", "# Lung\n\nA granuloma with Langhans giant cells.\n"))
    return settings


def assert_closed(engine: Engine, before: set[threading.Thread]) -> None:
    """No thread of ``engine`` started after ``before`` runs on, and its lanes refuse work."""
    left = [thread.name for thread in set(threading.enumerate()) - before if thread.name in ENGINE_THREADS]
    assert left == [], left
    with pytest.raises(LaneClosedError):
        engine.search(Query(text="granuloma", k=1)).result(timeout=5)


def test_a_retriever_used_as_a_context_manager_closes_its_engine(tmp_path):
    settings = lung_index(tmp_path)
    before = set(threading.enumerate())  # other tests' engines may still run theirs
    with PathAtlasRetriever.from_index(settings=settings) as retriever:
        assert retriever.invoke("granuloma")[0].metadata["title"] == "Lung"
    assert_closed(retriever.toolbox.engine, before)
    retriever.close()  # closing again does nothing


def test_a_closed_retriever_lets_its_engine_go(tmp_path):
    """``close()`` also drops the close kept for the interpreter's exit, which held the engine (its models and index)
    in memory until then."""
    before = set(threading.enumerate())
    retriever = PathAtlasRetriever.from_index(settings=lung_index(tmp_path))
    retriever.invoke("granuloma")
    engine = weakref.ref(retriever.toolbox.engine)
    retriever.close()
    assert_closed(engine(), before)
    del retriever
    gc.collect()
    assert engine() is None


def test_a_retriever_never_closed_is_closed_at_the_interpreter_exit(tmp_path):
    """A program that searches once and ends: its retriever's engine is closed before the interpreter tears down the
    threads (the check, registered first, runs last of the exit's callbacks)."""
    settings = lung_index(tmp_path)
    script = f"""
import atexit, threading
atexit.register(lambda: print(sorted(t.name for t in threading.enumerate() if t.name in {ENGINE_THREADS!r})))
from pathatlas.ui.langchain import PathAtlasRetriever
retriever = PathAtlasRetriever.from_index({str(settings.index_dir)!r})
print(retriever.invoke("granuloma")[0].metadata["title"])
"""
    env = {**os.environ, **hashing_env(settings.home), "HF_HUB_OFFLINE": "1"}
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["Lung", "[]"], ran.stdout
