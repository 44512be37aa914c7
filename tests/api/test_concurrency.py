"""20 clients search while an index job runs and a source is deleted: no errors, and every response shows
each source whole or not at all (an old or a new committed state, never a partial one)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings
from tests.servers import running_service
from tests.uploads import AUTH, TOKEN

PAGES = {"a.pdf": 3, "b.pdf": 4, "c.pdf": 90}
"""Every page holds the query's words; c.pdf spans two write batches; all pages fit in one response (k=100)."""


def wait(base: str, job_id: str) -> dict:
    while (job := httpx.get(f"{base}/jobs/{job_id}").json())["status"] in ("queued", "running"):
        time.sleep(0.05)
    return job


@pytest.mark.parametrize("store", ["faiss", "qdrant"])
def test_searches_see_whole_committed_states_while_indexing_and_deleting(tmp_path, store):
    settings = hashing_settings(tmp_path, store=store, api_token=TOKEN, max_upload_mb=5)
    books = {name: make_pdf(tmp_path / name, pages, name).read_bytes() for name, pages in PAGES.items()}
    with running_service(settings) as base:
        for name in ("a.pdf", "b.pdf"):
            job = httpx.post(f"{base}/jobs", files={"file": (name, books[name])}, headers=AUTH).json()
            assert wait(base, job["id"])["status"] == "done"
        b_id = next(s["id"] for s in httpx.get(f"{base}/sources").json() if s["source"] == "b.pdf")

        stop = threading.Event()
        seen: list[Counter] = []
        errors: list[str] = []

        def client() -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                while not stop.is_set():
                    try:
                        response = http.post("/search", json={"text": "page granuloma necrosis", "k": 100})
                        response.raise_for_status()
                        seen.append(Counter(h["citation"]["source"] for h in response.json()["hits"]))
                    except httpx.HTTPError as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=client) for _ in range(20)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        job = httpx.post(f"{base}/jobs", files={"file": ("c.pdf", books["c.pdf"])}, headers=AUTH).json()
        done = wait(base, job["id"])  # a removal sent while the job writes is refused (test_delete_while_indexing)
        removed = httpx.delete(f"{base}/sources/{b_id}", headers=AUTH, timeout=120)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

    # every page of these PDFs is one passage: a page record and a passage record each
    assert removed.status_code == 200 and removed.json() == {"removed": 2 * PAGES["b.pdf"]}
    assert done["status"] == "done", done
    assert errors == [] and len(seen) > 40, (errors[:3], len(seen))
    for counts in seen:
        partial = {name: n for name, n in counts.items() if n != PAGES[name]}
        assert not partial, f"a response showed part of a source: {dict(counts)}"
        assert counts["a.pdf"] == PAGES["a.pdf"]
    states = {frozenset(c) for c in seen}
    assert frozenset({"a.pdf", "c.pdf"}) in states, "the final state was seen"
