"""A name like "~nosuchuser" (no user of that name here) is a name, not a crash: ``Path.expanduser`` raises
RuntimeError for it, which the source filter of every door turned into a 500 or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.errors import UnknownSourceError
from pathatlas.paths import expanded
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from tests.helpers import one_error_line, quick, run_cli

NOBODY = "~pathatlas-no-such-user"


def test_an_unknown_users_tilde_stays_as_typed_and_a_known_one_expands(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expanded(f"{NOBODY}/book.pdf") == Path(f"{NOBODY}/book.pdf")
    assert expanded("~/book.pdf") == tmp_path / "book.pdf"


def test_a_source_named_like_an_unknown_users_home_is_no_source_at_every_door(quick_demo, quick_atlas):
    with pytest.raises(UnknownSourceError, match="no source"):
        quick_atlas.search("granuloma", filters={"source": NOBODY})
    settings = Settings(index=quick_demo / "index", **quick(quick_demo))
    with TestClient(create_app(settings)) as client:
        assert client.get("/pages", params={"source": NOBODY, "page": 1}).status_code == 404
        searched = client.post("/search", json={"text": "granuloma", "filters": {"source": NOBODY}})
        assert searched.status_code in (404, 422) and "no source" in searched.json()["detail"], searched.text
    home = {"PATHATLAS_HOME": str(quick_demo / "home"), "PATHATLAS_ENCODER": quick(quick_demo)["encoder"]}
    found = run_cli("search", "granuloma", "--filter", f"source={NOBODY}", "--index", quick_demo / "index", **home)
    one_error_line(found, "no source")
