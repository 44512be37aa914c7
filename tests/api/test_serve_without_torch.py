"""``pathatlas serve`` on an index that needs no torch starts without importing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings

REPO = Path(__file__).parents[2]


def test_the_service_starts_and_searches_a_text_only_index_without_importing_torch(tmp_path):
    """Dividing the cores among the search lanes imported torch only to tell it its thread count: 3-4 s of CPU at
    every start of a service whose index needs none."""
    settings = hashing_settings(tmp_path)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([make_pdf(tmp_path / "a.pdf", 2, "a")]).failed
    probe = f"""
import os, sys
from pathlib import Path
from fastapi.testclient import TestClient
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings

with TestClient(create_app(hashing_settings(Path({str(tmp_path)!r})))) as client:
    assert client.get("/health").status_code == 200
    assert client.post("/search", json={{"text": "a page"}}).json()["hits"]
assert os.environ["OMP_NUM_THREADS"], "torch, when an index job loads it, reads its share of the cores there"
loaded = sorted({{"torch", "torchvision"}} & set(sys.modules))
assert not loaded, f"starting the service imported {{loaded}}"
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-800:]


def test_the_services_share_of_the_cores_keeps_a_count_the_operator_set(monkeypatch):
    """``share_cores`` replaced an ``OMP_NUM_THREADS`` set for a container's CPU quota, which the core count does not
    show; a count set there is kept, and an unusable one is replaced by the share."""
    from pathatlas.ui.api.engine import share_cores

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    share_cores(1)
    assert os.environ["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    share_cores(1)
    assert os.environ["OMP_NUM_THREADS"] == str(max(1, os.cpu_count() or 1))
