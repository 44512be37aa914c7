"""Closing the service: the lanes run what was queued and refuse what comes later, and the engine waits for its
warm-up, so no thread is left in native model code for the process's exit to tear down (CI's web UI test aborted with
"terminate called without an active exception" when the app exited while the warm-up still loaded the models)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from pathatlas.retrieval.search import Searcher
from pathatlas.ui.api import engine
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.lanes import BatchingLane, LaneClosedError
from tests.uploads import api_settings


def test_a_closing_lane_runs_what_was_queued_and_refuses_what_comes_later():
    started, release = threading.Event(), threading.Event()

    def run(batch: list[int]) -> list[int]:
        started.set()
        release.wait(10)
        return [item * 2 for item in batch]

    lane = BatchingLane("test", run, max_batch=1)
    running = lane.submit(1)
    assert started.wait(10)
    waiting = lane.submit(2)
    closer = threading.Thread(target=lane.close)
    closer.start()
    time.sleep(0.1)
    release.set()
    closer.join(10)
    assert (running.result(timeout=1), waiting.result(timeout=1)) == (2, 4), "work queued before closing is answered"
    with pytest.raises(LaneClosedError, match="the test lane has closed"):
        lane.submit(3).result(timeout=1)


def test_the_app_ending_waits_for_the_warm_up_it_started(tmp_path, monkeypatch):
    """The warm-up's search and the reading after it are slowed to outlast the app: its lifespan's end finishes the
    search in flight, the warm-up stops there, and no engine thread is left running."""
    searching, searched = threading.Event(), []
    find_many = Searcher.find_many

    def slow(searcher, queries):
        searching.set()
        time.sleep(1.5)
        searched.append(len(queries))
        return find_many(searcher, queries)

    monkeypatch.setattr(Searcher, "find_many", slow)
    terms = engine.indexed_terms
    monkeypatch.setattr(engine, "indexed_terms", lambda index: time.sleep(3) or terms(index))  # what it reads next
    before = set(threading.enumerate())  # other tests' engines may still run theirs
    with TestClient(create_app(api_settings(tmp_path))):
        assert searching.wait(60), "the warm-up searched"
    assert searched, "the warm-up's search in flight was finished before the app ended"
    engines = {"warm-up", "index-watch", "lane-text search", "lane-image search", "lane-ask"}
    left = [thread.name for thread in set(threading.enumerate()) - before if thread.name in engines]
    assert left == [], left
