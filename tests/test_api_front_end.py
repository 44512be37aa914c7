"""The REST API as a web front end uses it: behind a reverse proxy's path prefix (the write guard still applies, hit
URLs carry the prefix), CORS headers on early refusals, unknown request fields refused, errors without server paths,
readiness, HEAD and conditional GETs. Hashing encoder and tiny files throughout."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import api_settings

PREFIX = "/atlas"
CROSS_SITE = {"Origin": "https://evil.example"}


def indexed(root: Path, **extra) -> Settings:
    """Settings (``api_settings``) of an index holding ``a.pdf``, two text pages."""
    settings = api_settings(root, **extra)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([make_pdf(root / "library" / "a.pdf", 2, "a")]).failed
    index.close()
    return settings


def source_names(client: TestClient, prefix: str = "") -> list[str]:
    return sorted(s["source"] for s in client.get(f"{prefix}/sources").json())


# -- 1. behind a path prefix the write guard still runs -------------------------------------------
def test_behind_a_path_prefix_cross_origin_writes_are_still_refused(tmp_path):
    with TestClient(create_app(indexed(tmp_path)), root_path=PREFIX) as client:
        refused = client.delete(f"{PREFIX}/sources/a.pdf", headers=CROSS_SITE)
        assert refused.status_code == 403 and "cross-origin" in refused.json()["detail"]
        assert source_names(client, PREFIX) == ["a.pdf"], "nothing was removed"
        assert client.post(f"{PREFIX}/jobs", files={"file": ("b.pdf", b"%PDF")}, headers=CROSS_SITE).status_code == 403
        assert client.delete(f"{PREFIX}/sources/a.pdf").json() == {"removed": 2 + 2}, "same-origin: through"
