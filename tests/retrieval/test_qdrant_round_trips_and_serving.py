"""Qdrant in service: a filtered search makes one round trip (the spellings of a field are read once per state of the
store, and again after each write), and a collection that is missing is one error line when ``pathatlas serve``
starts and a failing /health when it goes while serving. Stores on the embedded shard and qdrant-client's twin."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient

from pathatlas.retrieval.records import StoredVectors
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_serve import free_port
from tests.helpers import one_error_line
from tests.retrieval.test_index_folder_faults import qdrant_index, run
from tests.retrieval.test_stores import DIMS, make_store, unit

# -- 1. the spellings of a filtered field are read once per state of the store ---------------------------------------


class CountingCalls:
    """Stands for a qdrant-client client or an embedded shard: counts each method called on it by name."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def counted_store(kind: str, settings, location):
    """A Qdrant store of a few cases whose organs are spelled three ways, and the counter of its engine's calls."""
    store = make_store(kind, location, settings)
    organs = ["lung", "Lung", "skin"]
    vectors = unit(np.random.default_rng(3), 12, DIMS["text"])
    store.upsert(
        [
            StoredVectors(f"r{i}", {"kind": "case", "source": "s", "organ": organs[i % 3]}, {"text": v})
            for i, v in enumerate(vectors)
        ]
    )
    engine = store.engine
    attribute = "shard" if kind == "qdrant-edge" else "client"
    counter = CountingCalls(getattr(engine, attribute))
    setattr(engine, attribute, counter)
    return store, counter


def found(store, organ: str) -> set[str]:
    (hits,) = store.search("text", unit(np.random.default_rng(5), 1, DIMS["text"]), k=50, filters={"organ": organ})
    return {record_id for record_id, _ in hits}


@pytest.mark.parametrize("kind", ["qdrant-edge", "qdrant-memory"])
def test_repeated_filtered_searches_make_one_call_each(kind, settings, tmp_path):
    store, counter = counted_store(kind, settings, tmp_path / "store")
    try:
        lung = {f"r{i}" for i in range(12) if i % 3 < 2}
        for _ in range(5):
            assert found(store, "LUNG") == lung
        query = "query_batch" if kind == "qdrant-edge" else "query_batch_points"
        assert counter.calls == {"facet": 1, query: 5}, counter.calls
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["qdrant-edge", "qdrant-memory"])
def test_a_write_makes_the_next_search_read_the_spellings_again(kind, settings, tmp_path):
    store, counter = counted_store(kind, settings, tmp_path / "store")
    try:
        assert found(store, "lung") == {f"r{i}" for i in range(12) if i % 3 < 2}
        store.upsert(
            [
                StoredVectors(
                    "new", {"kind": "case", "organ": "LUNG"}, {"text": unit(np.random.default_rng(9), 1, 16)[0]}
                )
            ]
        )
        assert "new" in found(store, "lung"), "a spelling written since the last search was not searched for"
        assert store.delete({"organ": "SKIN"}) == 4
        assert found(store, "skin") == set()
        found(store, "lung")
        store.commit()
        found(store, "lung")
        found(store, "lung")
        assert counter.calls["facet"] == 4, "one read per state: the first, after the upsert, the delete, the commit"
    finally:
        store.close()


# -- 2. a missing collection: one line when serving starts, a failing /health while serving ------------------------


@pytest.fixture
def no_listening(monkeypatch):
    """``pathatlas serve`` must stop before it listens: reaching uvicorn fails the test instead of serving."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("serve went on to listen on an index it cannot search")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_serve_on_a_deleted_collection_is_one_error_line(tmp_path, no_listening):
    settings, twin = qdrant_index(tmp_path)
    client = QdrantClient(path=str(twin))
    client.delete_collection("index")
    client.close()
    line = one_error_line(run(settings, "serve", "--index", settings.index_dir, "--port", free_port()))
    assert "the Qdrant collection 'index'" in line and "does not exist" in line, line
    client = QdrantClient(path=str(twin))
    try:
        assert not client.collection_exists("index"), "serve made an empty collection in its place"
    finally:
        client.close()


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        (
            {"PATHATLAS_QDRANT_URL": "{root}/twin", "PATHATLAS_QDRANT_COLLECTION": "elsewhere"},
            "the Qdrant collection 'elsewhere'",
        ),
        ({"PATHATLAS_QDRANT_URL": "{root}/no-twin"}, "does not exist (no such folder)"),
    ],
)
def test_serve_configured_for_a_collection_that_does_not_exist_is_one_error_line(
    tmp_path, no_listening, variables, says
):
    settings, _ = qdrant_index(tmp_path)
    env = {name: value.format(root=tmp_path) for name, value in variables.items()}
    line = one_error_line(run(settings, "serve", "--index", settings.index_dir, "--port", free_port(), **env))
    assert says in line and "set PATHATLAS_QDRANT_URL" in line, line


def test_serve_listens_with_the_index_it_opened(tmp_path, monkeypatch):
    settings, _ = qdrant_index(tmp_path)
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    assert run(settings, "serve", "--index", settings.index_dir, "--port", free_port()).exit_code == 0
    with TestClient(served[0]) as client:
        body = client.get("/health").json()
        assert body["status"] == "ok" and body["store"] == "qdrant" and body["records"] > 0, body


def test_health_fails_when_the_collection_is_deleted_while_serving(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.json()
        assert client.app.state.engine.ready.wait(120), "the warm-up never ended"
        store = client.app.state.engine.index.raw_store
        store.engine.client.delete_collection("index")  # as the server's other clients can
        health = client.get("/health")
        body = health.json()
        assert health.status_code == 503 and body["status"] == "failing", body
        assert body["ready"] is False and client.get("/ready").json()["ready"] is False, "/health said ready"
        assert body["problem"].startswith("the Qdrant collection 'index' at twin does not exist any more"), body
        assert str(tmp_path) not in body["problem"], "clients never read server paths"
