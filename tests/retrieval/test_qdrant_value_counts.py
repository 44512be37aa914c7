"""Qdrant's value counts (the facets behind the filter menus and each index run's check) are asked once per state of
the store, and again after each write, as the spellings of a filtered field are."""

from __future__ import annotations

import numpy as np
import pytest

from pathatlas.retrieval.records import StoredVectors
from tests.retrieval.test_qdrant_round_trips_and_serving import counted_store
from tests.retrieval.test_stores import DIMS, unit


@pytest.mark.parametrize("kind", ["qdrant-memory", "qdrant-edge"])
def test_value_counts_are_asked_once_per_state_of_the_store(kind, settings, tmp_path):
    store, counter = counted_store(kind, settings, tmp_path / "store")
    try:
        assert store.value_counts("organ") == {"lung": 4, "Lung": 4, "skin": 4}
        asked = sum(counter.calls.values())
        store.value_counts("organ").clear()  # what a caller does with its counts is its own
        assert store.value_counts("organ") == {"lung": 4, "Lung": 4, "skin": 4}
        assert sum(counter.calls.values()) == asked, f"a second call asked the server again: {counter.calls}"

        vector = unit(np.random.default_rng(9), 1, DIMS["text"])[0]
        store.upsert([StoredVectors("new", {"kind": "case", "source": "s", "organ": "lung"}, {"text": vector})])
        assert store.value_counts("organ")["lung"] == 5, "a write since the last call was not counted"
        assert store.delete({"organ": "skin"}) == 4
        assert store.value_counts("organ") == {"lung": 5, "Lung": 4}, "a delete since the last call was not counted"
    finally:
        store.close()


def test_a_deleted_value_is_not_counted_by_the_embedded_shard(settings, tmp_path):
    """The shard's facet keeps a deleted value, counted 0, until it is opened again: a deleted fingerprint looked like
    a version the index does not list, and the index read every payload instead of the counts."""
    store, _ = counted_store("qdrant-edge", settings, tmp_path / "store")
    try:
        store.commit()
        assert store.delete({"organ": "skin"}) == 4
        assert store.value_counts("organ") == {"lung": 4, "Lung": 4}
        store.commit()
        assert store.value_counts("organ") == {"lung": 4, "Lung": 4}
    finally:
        store.close()
