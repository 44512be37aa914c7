"""FAISS searches share the store: a service's text and image lanes search at once (FAISS searches outside the GIL),
while each write holds it alone, so no search meets a write half applied."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores.faiss_store import FaissStore

DIMS = {"text": 8, "visual": 4}
WAIT = 10.0
"""Seconds a test waits for what must happen; what must not happen is given ``MUST_NOT_WAIT``."""
MUST_NOT_WAIT = 0.5
HOLD = 60.0
"""Seconds a held call waits for its test to release it: longer than any test waits, so the test says what failed."""


def records(prefix: str, count: int, seed: int) -> list[StoredVectors]:
    rng = np.random.default_rng(seed)
    return [
        StoredVectors(
            f"{prefix}{i}",
            {"source": prefix},
            {space: rng.normal(size=dim).astype(np.float32) for space, dim in DIMS.items()},
        )
        for i in range(count)
    ]


@pytest.fixture()
def store(tmp_path, settings) -> FaissStore:
    store = FaissStore(tmp_path / "store", DIMS, settings)
    store.upsert(records("old", 20, seed=0))
    store.commit()
    return store


class HeldIndex:
    """A FAISS index whose searches or adds (``held``) wait inside the call for ``release``, after ``inside`` says
    one got there."""

    def __init__(self, index, held: str, meet: threading.Barrier | None = None):
        self._index, self._held, self._meet = index, held, meet
        self.inside, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):
        call = getattr(self._index, name)
        if name != self._held:
            return call

        def held(*args, **kwargs):
            self.inside.set()
            if self._meet is not None:
                with contextlib.suppress(threading.BrokenBarrierError):  # the test asks ``meet.broken``
                    self._meet.wait(WAIT)
            assert self.release.wait(HOLD), "the test never released the held call"
            return call(*args, **kwargs)

        return held


def hold(store: FaissStore, space: str, call: str, meet: threading.Barrier | None = None) -> HeldIndex:
    """``space``'s FAISS index held at ``call`` (``HeldIndex``)."""
    store._spaces[space].index = HeldIndex(store._spaces[space].index, call, meet)
    return store._spaces[space].index


def found(store: FaissStore, space: str) -> set[str]:
    (hits,) = store.search(space, np.ones((1, DIMS[space]), np.float32), 100)
    return {record_id for record_id, _ in hits}


def test_a_search_held_inside_faiss_does_not_hold_the_other_lanes_search(store):
    held = hold(store, "visual", "search")
    with ThreadPoolExecutor(2) as pool:
        image = pool.submit(found, store, "visual")
        assert held.inside.wait(WAIT)
        text = pool.submit(found, store, "text")
        try:
            assert len(text.result(timeout=WAIT)) == 20, "the text search ran while the image search was in faiss"
        finally:
            held.release.set()
        assert len(image.result(timeout=WAIT)) == 20


def test_two_searches_of_one_space_are_inside_faiss_together(store):
    """Each search waits inside faiss's call for the other to get there: one at a time, neither would."""
    meet = threading.Barrier(2)
    held = hold(store, "text", "search", meet)
    held.release.set()
    with ThreadPoolExecutor(2) as pool:
        searches = [pool.submit(found, store, "text") for _ in range(2)]
        assert [len(search.result(timeout=2 * WAIT)) for search in searches] == [20, 20]
    assert not meet.broken, "the second search waited for the first to leave faiss"


def test_a_write_waits_for_the_searches_in_flight_and_they_answer_from_before_it(store):
    held = hold(store, "text", "search")
    with ThreadPoolExecutor(2) as pool:
        search = pool.submit(found, store, "text")
        assert held.inside.wait(WAIT)
        write = pool.submit(lambda: (store.upsert(records("new", 5, seed=1)), store.commit()))
        try:
            with pytest.raises(TimeoutError):
                write.result(timeout=MUST_NOT_WAIT)
        finally:
            held.release.set()
        assert search.result(timeout=WAIT) == {f"old{i}" for i in range(20)}
        write.result(timeout=WAIT)
    assert len(found(store, "text")) == 25


def test_a_search_waits_for_a_write_in_flight_and_sees_all_of_it(store):
    held = hold(store, "text", "add_with_ids")
    with ThreadPoolExecutor(2) as pool:
        write = pool.submit(store.upsert, records("old", 20, seed=2) + records("new", 5, seed=3))
        assert held.inside.wait(WAIT), "the write is adding its vectors"
        search = pool.submit(found, store, "visual")
        try:
            with pytest.raises(TimeoutError):
                search.result(timeout=MUST_NOT_WAIT)
        finally:
            held.release.set()
        write.result(timeout=WAIT)
        assert search.result(timeout=WAIT) == {f"old{i}" for i in range(20)} | {f"new{i}" for i in range(5)}


def test_a_search_coming_while_a_write_waits_answers_after_the_write(store):
    """A waiting write goes first: searches arriving all the time would otherwise keep it waiting for good."""
    held = hold(store, "visual", "search")
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(found, store, "visual")
        assert held.inside.wait(WAIT)
        write = pool.submit(store.upsert, records("new", 5, seed=1))
        try:
            with pytest.raises(TimeoutError):
                write.result(timeout=MUST_NOT_WAIT)
            later = pool.submit(found, store, "text")
            with pytest.raises(TimeoutError):
                later.result(timeout=MUST_NOT_WAIT)
        finally:
            held.release.set()
        assert len(first.result(timeout=WAIT)) == 20
        write.result(timeout=WAIT)
        assert len(later.result(timeout=WAIT)) == 25, "the later search answered from before the write"


def test_searches_during_replacing_writes_see_each_write_whole(store):
    """Each write replaces the same twenty records (their new keys in, their old keys out) and adds or removes three
    more: a search meeting one half applied would find a record twice or miss it, or find some of the three."""
    written = threading.Event()
    seen: list[list[str]] = []

    def write() -> None:
        for seed in range(1, 60):
            store.upsert(records("old", 20, seed=seed) + records("extra", 3, seed=seed))
            store.delete({"source": "extra"})
            if seed % 10 == 0:
                store.commit()
        written.set()

    def search() -> None:
        deadline = time.monotonic() + 6 * WAIT  # searches starving the writes must not hang the suite
        while not written.is_set() and time.monotonic() < deadline:
            for space, filters in itertools.product(DIMS, (None, {"source": ["old", "extra"]})):
                (hits,) = store.search(space, np.ones((1, DIMS[space]), np.float32), 100, filters)
                seen.append(sorted(record_id for record_id, _ in hits))

    with ThreadPoolExecutor(3) as pool:
        for job in [pool.submit(write), pool.submit(search), pool.submit(search)]:
            job.result(timeout=12 * WAIT)
    old = [f"old{i}" for i in range(20)]
    wholes = (sorted(old), sorted(old + [f"extra{i}" for i in range(3)]))
    halves = [found for found in seen if found not in wholes]
    assert seen and not halves, f"{len(halves)} of {len(seen)} searches met a write half applied: {halves[0]}"


def test_searches_folding_the_same_new_filter_values_at_once_list_each_code_once(monkeypatch):
    """Reads share the store, so two filtered searches may fold a field's new values together (``FieldCodes``); the
    second waits for the first (a fold waiting for the other search gives up after a second), and each code is listed
    once."""
    from pathatlas.retrieval.stores import base

    met = threading.Barrier(2, timeout=1.0)
    fold = base.fold

    def meeting(field, value):
        with contextlib.suppress(threading.BrokenBarrierError):
            met.wait()
        return fold(field, value)

    codes = base.FieldCodes()
    codes.put(np.arange(2), [{"section": name} for name in ("Bone", "Skin")])
    assert codes.mask("section", "Bone", 2).tolist() == [True, False]  # folded: later values add to these folds
    codes.put(np.arange(2, 4), [{"section": name} for name in ("Lung", "bone")])
    monkeypatch.setattr(base, "fold", meeting)
    with ThreadPoolExecutor(2) as pool:
        masks = list(pool.map(lambda _: codes.mask("section", "Bone", 4).tolist(), range(2)))
    assert masks == [[True, False, False, False]] * 2
    _, by_fold = codes.folds["section"]
    assert all(len(listed) == len(set(listed)) for listed in by_fold.values()), by_fold
