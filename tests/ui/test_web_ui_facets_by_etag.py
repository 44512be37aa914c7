"""The web UI keeps the facets (its filter menus and the Library's counts) by the ETag /facets sends them with, and
asks again with it (If-None-Match) at most once a ``FACETS_RECHECK_SECONDS``: a 304 keeps them, a book indexed by
``pathatlas index`` beside the service shows at the next check. They were kept by /health's generation, which could
be a newer worker's than the one that counted the facets: the older count was kept as the newer generation's until
the index changed again. A refusal (a busy service's 503) is not kept; a service sending no ETag is asked anew at each
check. The real API in process over a hashing index, or a fake one."""

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


def checked_again() -> None:
    """``FACETS_RECHECK_SECONDS`` later: the facets are asked for again, with their ETag."""
    web_client.cached_facets.clear()


def test_a_book_indexed_beside_the_service_shows_at_the_next_check(tmp_path, monkeypatch):
    with book_service(tmp_path, "osteoid") as served:
        answered: Counter[int] = Counter()

        def fetch(method: str, path: str, **kwargs) -> httpx.Response:
            response = served.request(method, path, **kwargs)
            answered[response.status_code] += 1
            return response

        monkeypatch.setattr(web_client, "fetch", fetch)
        assert source_count() == 1
        checked_again()
        assert source_count() == 1 and answered == {200: 1, 304: 1}, "unchanged: nothing counted or sent again"
        before = served.get("/health").json()["generation"]
        index_new(served.app.state.engine.settings, make_pdf(tmp_path / "atlas.pdf", 1, "haversian"))  # the CLI's
        deadline = time.monotonic() + 30
        while served.get("/health").json()["generation"] == before and time.monotonic() < deadline:
            time.sleep(0.05)  # the service takes up another process's commit within a second
        assert source_count() == 1, "the facets checked a moment ago still stand"
        checked_again()
        assert source_count() == 2 and answered[200] == 2


class Api:
    """Workers of one service behind a proxy: /health names ``generation``; /facets counts the index at ``counted``
    (another worker's, which may lag), sends it with its ETag (none where ``tagged`` is False) and answers an
    If-None-Match naming it 304; ``facets_status`` refuses. ``sent`` counts the facets sent in full."""

    def __init__(self) -> None:
        self.generation = self.counted = 1
        self.tagged, self.facets_status = True, 200
        self.sent = 0

    def __call__(self, method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
        if path == "/health":
            return httpx.Response(200, json={"version": "1", "index_created": 1.5, "generation": self.generation})
        if self.facets_status >= 400:
            return httpx.Response(self.facets_status, json={"detail": "The service is busy: try again in a moment."})
        etag = f'"1-1.5-{self.counted}"'
        if self.tagged and (headers or {}).get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        self.sent += 1
        body = {"fields": {}, "by_source": {"a1": {"page": self.counted}}}
        return httpx.Response(200, json=body, headers={"ETag": etag} if self.tagged else {})


@pytest.fixture
def api(monkeypatch) -> Api:
    fake = Api()
    monkeypatch.setattr(web_client, "fetch", fake)
    return fake


def pages() -> int:
    return web_client.facets()["by_source"]["a1"]["page"]


def test_the_facets_of_an_etag_are_sent_once_and_again_when_the_index_changes(api):
    assert [pages() for _ in range(3)] == [1, 1, 1] and api.sent == 1
    checked_again()
    assert pages() == 1 and api.sent == 1, "a 304: the facets kept"
    api.generation = api.counted = 2
    checked_again()
    assert pages() == 2 and api.sent == 2


def test_facets_counted_by_a_worker_behind_healths_generation_are_not_kept_as_its(api):
    """/health answered by a worker that took up generation 2, /facets by one still at 1: that count was kept as
    generation 2's, and shown until the index changed again."""
    api.generation = 2
    assert pages() == 1
    api.counted = 2  # the lagging worker takes up the commit
    time.sleep(web_client.FACETS_RECHECK_SECONDS + 0.1)
    assert pages() == 2


def test_a_refusal_is_not_kept(api):
    api.facets_status = 503
    assert web_client.facets() == web_client.NO_FACETS
    api.facets_status = 200
    assert web_client.facets()["by_source"], "asked again at the next run"


def test_a_service_sending_no_etag_is_asked_anew_at_each_check(api):
    api.tagged = False
    assert [pages() for _ in range(3)] == [1, 1, 1] and api.sent == 1
    api.counted = 2
    checked_again()
    assert pages() == 2 and api.sent == 2
