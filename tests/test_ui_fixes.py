"""What the browser tests of the web UI cannot see cheaply: a failed index job's message as the API words it, and
what the in-process UI (``pathatlas ui --index``) asks of its API while a reader opens pages."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from tests.servers import job_ended


def test_a_failed_upload_is_named_as_uploaded_without_server_paths_or_upload_ids(session_home, tmp_path):
    """The Library tab shows a job's error as it is: it must name the file the user sent, not the server's copy."""
    no_cases = io.BytesIO()
    with zipfile.ZipFile(no_cases, "w") as archive:
        archive.writestr("readme.txt", "no case folder in here")
    uploads = {"notes.pdf": b"%PDF-1.4 not really a PDF", "bad.zip": no_cases.getvalue()}
    with TestClient(create_app(Settings(home=session_home, index=tmp_path / "index"))) as client:
        for name, data in uploads.items():
            job = client.post("/jobs", files={"file": (name, data)}).json()
            error = job_ended(client, job["id"])["error"]
            assert error.startswith(name) or f" {name}" in error, error
            assert "/" not in error and not re.search(r"\b[0-9a-f]{12}\b", error), error


OPEN_A_PAGE = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

asked = []
request = TestClient.request

def recorded(client, method, url, *args, **kwargs):
    asked.append(str(url))
    return request(client, method, url, *args, **kwargs)

TestClient.request = recorded
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input("koilocytes perinuclear halo")
app.button[0].click().run()  # the search form's button
opened = [button for button in app.button if (button.key or "").startswith("open-")]
opened[0].click().run()
print(json.dumps({"download": app.get("download_button")[0].label, "asked": asked}))
"""


def test_the_in_process_ui_opens_a_page_without_fetching_its_pdf(demo_index, tmp_path):
    """A book's PDF is tens of MB: fetched (and cached) for every page opened, it grew the UI by as much per page.
    It is fetched when its download button is clicked. The app runs in a process of its own: Python 3.11.7's
    parser can be left unable to parse by an earlier test's RecursionError, and Streamlit parses the script."""
    index = tmp_path / "index"
    shutil.copytree(demo_index.path, index)
    env = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    env.update(PATHATLAS_INDEX=str(index), PATHATLAS_HOME=str(demo_index.settings.home), HF_HUB_OFFLINE="1")
    script = Path(__file__).resolve().parents[1] / "ui" / "streamlit_app.py"
    run = subprocess.run(
        [sys.executable, "-c", OPEN_A_PAGE, str(script)], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["download"] == "Download the PDF (page 1)"
    assert any("/search" in url for url in seen["asked"]), "the app's own API was recorded"
    assert not [url for url in seen["asked"] if url.endswith("/pdf")]
