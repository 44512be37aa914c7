"""The web UI keeps the facets (its filter menus and the Library's counts) by the index's generation as /health names
it: a book indexed by ``pathatlas index`` beside the service shows at the next run (its generation read again within a
second), where the facets were kept for every session for a fixed time whatever changed. A refusal (a busy service's
503) is not kept; a service naming no generation has them kept for a while, as before. The real API in process over a
hashing index, or a fake one."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from pathatlas.ui import web_client
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new
from tests.uploads import book_service

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py


def source_count() -> int:
    return len(web_client.facets()["by_source"])


def generation_read_again() -> None:
    """A second later: the generation kept ``GENERATION_FRESH_SECONDS`` is asked for again."""
    web_client.index_generation.clear()


def test_a_book_indexed_beside_the_service_shows_at_once(tmp_path, monkeypatch):
    with book_service(tmp_path, "osteoid") as served:
        monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: served.request(method, path, **kwargs))
        assert source_count() == 1
        before = served.get("/health").json()["generation"]
        index_new(served.app.state.engine.settings, make_pdf(tmp_path / "atlas.pdf", 1, "haversian"))  # the CLI's
        deadline = time.monotonic() + 30
        while served.get("/health").json()["generation"] == before and time.monotonic() < deadline:
            time.sleep(0.05)  # the service takes up another process's commit within a second
        assert source_count() == 1, "the generation read a moment ago still stands"
        generation_read_again()
        assert source_count() == 2


class Api:
    """/health naming ``generation`` (none where it is None), /facets answering ``facets_status``; what was asked."""

    def __init__(self) -> None:
        self.generation: int | None = 1
        self.facets_status = 200
        self.asked: Counter[str] = Counter()

    def __call__(self, method: str, path: str, **kwargs) -> httpx.Response:
        self.asked[path] += 1
        if path == "/health":
            named = {} if self.generation is None else {"generation": self.generation, "index_created": 1.5}
            return httpx.Response(200, json={"version": "1", **named})
        if self.facets_status >= 400:
            return httpx.Response(self.facets_status, json={"detail": "The service is busy: try again in a moment."})
        return httpx.Response(200, json={"fields": {}, "by_source": {"a1": {"page": self.asked[path]}}})


@pytest.fixture
def api(monkeypatch) -> Api:
    fake = Api()
    monkeypatch.setattr(web_client, "fetch", fake)
    return fake


def test_the_facets_of_a_generation_are_asked_for_once_and_again_for_the_next(api):
    assert [web_client.facets()["by_source"]["a1"]["page"] for _ in range(3)] == [1, 1, 1]
    api.generation = 2
    generation_read_again()
    assert web_client.facets()["by_source"]["a1"]["page"] == 2
    assert api.asked["/facets"] == 2


def test_a_refusal_is_not_kept_for_the_generation(api):
    api.facets_status = 503
    assert web_client.facets() == web_client.NO_FACETS
    api.facets_status = 200
    assert web_client.facets()["by_source"], "asked again at the next run"


def test_a_service_naming_no_generation_has_them_kept_for_a_while(api):
    api.generation = None
    assert [web_client.facets()["by_source"]["a1"]["page"] for _ in range(3)] == [1, 1, 1]
    web_client.fallback_key.clear()  # ``FACETS_FRESH_SECONDS`` later
    assert web_client.facets()["by_source"]["a1"]["page"] == 2
