"""What the REST service pays once, it pays before its first request and off its event loop: the OpenAPI document is
built at start-up, the agent (langgraph) and the index's words are loaded by the warm-up, and a search's hit records
are built in the thread pool, so health checks and images are answered while they are."""

from __future__ import annotations

import threading

import fastapi.applications
import pytest
from fastapi.testclient import TestClient

from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.schemas import HitOut
from tests.helpers import imported_after, on_event_loop, quick

TYPO_SEARCH = {"text": "granulomma of the lung", "k": 3}


@pytest.fixture
def served(quick_demo):
    """A client of the service over the quick demo index, once its warm-up thread has ended (ready, words read)."""
    with TestClient(create_app(Settings(index=quick_demo / "index", **quick(quick_demo)))) as client:
        assert client.app.state.engine.ready.wait(60), "the warm-up never ended"
        assert client.get("/ready").status_code == 200
        for thread in threading.enumerate():
            if thread.name == "warm-up":
                thread.join(60)
        yield client


def printed_words_calls(monkeypatch) -> list[str]:
    """The names of the threads that ask an index for its figures' printed words (which reading its words does)."""
    calls: list[str] = []
    printed_words = Index.printed_words

    def recorded(index: Index):
        calls.append(threading.current_thread().name)
        return printed_words(index)

    monkeypatch.setattr(Index, "printed_words", recorded)
    return calls


def test_hit_records_are_built_off_the_event_loop(served, monkeypatch):
    ranked = HitOut.ranked
    seen: list[bool] = []

    def recorded(*args, **kwargs):
        seen.append(on_event_loop())
        return ranked(*args, **kwargs)

    monkeypatch.setattr(HitOut, "ranked", recorded)
    searched = served.post("/search", json={"text": "granuloma", "k": 5})
    assert searched.status_code == 200 and searched.json()["hits"]
    assert seen == [False]


def test_the_first_search_reads_no_index_words(served, monkeypatch):
    """The warm-up read the words a text search looks its query up in, and those a typo is offered from."""
    calls = printed_words_calls(monkeypatch)
    searched = served.post("/search", json=TYPO_SEARCH)
    assert searched.status_code == 200 and [u["word"] for u in searched.json()["unknown_words"]] == ["granulomma"]
    assert calls == []


def test_an_ask_after_ready_builds_no_agent(served, monkeypatch):
    """The agent (langgraph, seconds to import) is built by the warm-up, before /ready says ready."""
    from pathatlas.agent.graph import Agent

    built: list[Agent] = []
    post_init = Agent.__post_init__

    def recorded(agent: Agent) -> None:
        built.append(agent)
        post_init(agent)

    monkeypatch.setattr(Agent, "__post_init__", recorded)
    asked = served.post("/ask", json={"question": "Which cells form a granuloma?", "options": ["macrophages", "RBCs"]})
    assert asked.status_code == 200 and built == []


def test_the_openapi_document_is_built_at_start_up_only(quick_demo, monkeypatch):
    builds: list[str] = []
    get_openapi = fastapi.applications.get_openapi

    def counted(**arguments):
        builds.append(arguments["title"])
        return get_openapi(**arguments)

    monkeypatch.setattr(fastapi.applications, "get_openapi", counted)
    with TestClient(create_app(Settings(index=quick_demo / "index", **quick(quick_demo)))) as client:
        assert builds == ["PathAtlas"]
        assert client.get("/health").status_code in (200, 503)
        assert client.get("/openapi.json").json()["info"]["title"] == "PathAtlas"
    assert builds == ["PathAtlas"]


@pytest.mark.parametrize("module", ["langgraph", "pymupdf"])
def test_importing_the_service_leaves_slow_imports_for_the_warm_up(module):
    """``pathatlas serve`` opens its port without the seconds langgraph and MuPDF take to import (the agent's graph
    and page renders need them, the warm-up imports them)."""
    script = f"import sys, pathatlas.ui.api.app; print(sorted(m for m in sys.modules if m.split('.')[0] == {module!r}))"
    assert imported_after(script) == ["[]"]


def test_a_misconfigured_answerer_still_stops_the_service_at_its_start(quick_demo):
    """The agent's graph waits for the warm-up, its answerer does not: an LLM answerer with no server to ask is the
    operator's one line at start-up, not a service that starts and stays unready."""
    from pathatlas.errors import PathAtlasError

    settings = Settings(index=quick_demo / "index", answerer="llm", llm_base_url=None, **quick(quick_demo))
    with pytest.raises(PathAtlasError), TestClient(create_app(settings)):
        pass


def test_running_out_of_open_files_while_warming_up_is_tried_again(quick_demo, monkeypatch):
    """A flood of connections while the models load takes the process's open files for a moment: the service warms
    up once they close, rather than staying unready for good."""
    import errno

    from pathatlas.ui.api import engine as engine_module

    load, failures = engine_module.Engine._load_models, []

    def out_of_files_once(self):
        if not failures:
            failures.append(1)
            raise OSError(errno.EMFILE, "Too many open files")
        return load(self)

    monkeypatch.setattr(engine_module.Engine, "_load_models", out_of_files_once)
    monkeypatch.setattr(engine_module, "WARM_UP_WAIT", 0.01)
    with TestClient(create_app(Settings(index=quick_demo / "index", **quick(quick_demo)))) as client:
        assert client.app.state.engine.ready.wait(60), client.app.state.engine.problem
        assert failures and client.get("/ready").status_code == 200
