"""What the browser tests of the web UI cannot see cheaply: a failed index job's message as the API words it, and
what the in-process UI (``pathatlas ui --index``) asks of its API while a reader opens pages."""

from __future__ import annotations

import io
import re
import shutil
import time
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app


def finished(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_failed_upload_is_named_as_uploaded_without_server_paths_or_upload_ids(session_home, tmp_path):
    """The Library tab shows a job's error as it is: it must name the file the user sent, not the server's copy."""
    no_cases = io.BytesIO()
    with zipfile.ZipFile(no_cases, "w") as archive:
        archive.writestr("readme.txt", "no case folder in here")
    uploads = {"notes.pdf": b"%PDF-1.4 not really a PDF", "bad.zip": no_cases.getvalue()}
    with TestClient(create_app(Settings(home=session_home, index=tmp_path / "index"))) as client:
        for name, data in uploads.items():
            job = client.post("/jobs", files={"file": (name, data)}).json()
            error = finished(client, job["id"])["error"]
            assert error.startswith(name) or f" {name}" in error, error
            assert "/" not in error and not re.search(r"\b[0-9a-f]{12}\b", error), error


def test_the_in_process_ui_opens_a_page_without_fetching_its_pdf(demo_index, tmp_path, monkeypatch):
    """A book's PDF is tens of MB: fetched (and cached) for every page opened, it grew the UI by as much per page.
    It is fetched when its download button is clicked."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    index = tmp_path / "index"
    shutil.copytree(demo_index.path, index)
    monkeypatch.delenv("PATHATLAS_API_URL", raising=False)
    monkeypatch.setenv("PATHATLAS_INDEX", str(index))
    monkeypatch.setenv("PATHATLAS_HOME", str(demo_index.settings.home))
    asked: dict[str, TestClient] = {}
    request = TestClient.request

    def recorded(client, method, url, *args, **kwargs):
        asked[str(url)] = client
        return request(client, method, url, *args, **kwargs)

    monkeypatch.setattr(TestClient, "request", recorded)
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "ui" / "streamlit_app.py"), default_timeout=180)
    try:
        app.run()
        app.text_input[0].input("koilocytes perinuclear halo")
        app.button[0].click().run()  # the search form's button
        opened = [button for button in app.button if (button.key or "").startswith("open-")]
        opened[0].click().run()
        assert app.get("download_button")[0].label == "Download the PDF (page 1)"
        assert not [url for url in asked if url.endswith("/pdf")]
    finally:
        for client in set(asked.values()):  # the app's in-process API: its engine's threads end with it
            client.__exit__(None, None, None)
        st.cache_resource.clear()  # and no later app meets it closed
