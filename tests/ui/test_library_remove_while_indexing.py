"""Remove a source while an index job writes: the API refuses at once (409, ``indexing_now``), naming the job and
where a REST client follows it (GET /jobs/{id}), which means nothing on the page: the Library leaves it out (its own
list shows another user's job only once it asks again), the answer as sent kept under Details."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client, web_library
from pathatlas.ui.api.routes.library import indexing_now
from tests.ui.test_web_ui_library_and_search_lines import unescaped
from tests.ui.test_web_ui_library_jobs import library
from tests.ui.test_web_ui_library_jobs_under_way import OLD, Api

RUNNING = SimpleNamespace(id="0e1f2a3b4c5d", source="atlas.pdf", done=2, total=3)


class Indexing(Api):
    """The fake API, a job writing the index: every DELETE refused as the service refuses it."""

    def __call__(self, method: str, path: str, **kwargs) -> httpx.Response:
        if method == "DELETE":
            self.asked[method, path] = self.asked.get((method, path), 0) + 1
            return httpx.Response(409, json={"detail": indexing_now(RUNNING)}, headers={"Retry-After": "30"})
        return super().__call__(method, path, **kwargs)


@pytest.fixture
def api(monkeypatch, fresh_cache) -> Indexing:
    fake = Indexing([OLD], [])
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fake)
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    return fake


def test_a_removal_refused_while_a_job_indexes_names_it_without_the_rest_call(api):
    app = AppTest.from_function(library, default_timeout=60).run()
    app.checkbox[0].check().run()
    next(button for button in app.button if button.label == "Remove").click().run()
    assert api.asked["DELETE", f"/sources/{OLD['id']}"] == 1
    said = " ".join(unescaped(error.value) for error in app.error)
    assert "atlas.pdf" in said and "2/3 done" in said and "try again" in said
    assert said.endswith("try again once it has ended") and "GET /jobs" not in said
    assert any("GET /jobs/" in code.value for code in app.code), "Details keep the answer as sent"
