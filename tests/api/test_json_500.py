"""A fault of the server answers 500 with the JSON body every other error has (``{"detail": ...}``), as the OpenAPI
document says, and no traceback: Starlette's own was "Internal Server Error" in plain text."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pathatlas.retrieval.search import Searcher
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from tests.helpers import quick


def test_a_bug_answers_500_in_json_naming_its_kind_only(quick_demo, monkeypatch):
    def broken(self, queries):
        raise ZeroDivisionError("secret /srv/path")

    app = create_app(Settings(index=quick_demo / "index", **quick(quick_demo)))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.app.state.engine.ready.wait(60) and client.get("/ready").status_code == 200
        monkeypatch.setattr(Searcher, "find_many", broken)
        response = client.post("/search", json={"text": "granuloma"})
        documented = client.get("/openapi.json").json()["paths"]["/search"]["post"]["responses"]
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "internal error (ZeroDivisionError); the server logged it"}
    assert "500" in documented
