"""What the browser tests of the web UI cannot see cheaply: a failed index job's message as the API words it, and
what the in-process UI (``pathatlas ui --index``) asks of its API while a reader opens pages."""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from tests.helpers import app_test_said
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
import json, os, sys
from pathlib import Path
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

asked = []
request = TestClient.request

def recorded(client, method, url, *args, **kwargs):
    asked.append([method, str(url)])
    return request(client, method, url, *args, **kwargs)

TestClient.request = recorded
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input("koilocytes perinuclear halo")
app.button[0].click().run()  # the search form's button
opened = [button for button in app.button if (button.key or "").startswith("open-")]
opened[0].click().run()
print(json.dumps({"download": app.get("download_button")[0].label, "asked": asked}), flush=True)
os._exit(0)  # threads left by the in-process API can abort the interpreter's exit (134)
"""


def test_the_in_process_ui_opens_a_page_without_fetching_its_pdf(demo_index, tmp_path):
    """A book's PDF is tens of MB: fetched (and cached) for every page opened, it grew the UI by as much per page.
    It is fetched when its download button is clicked (a HEAD, which reads none of it, asks whether it is still
    there: ``page_gone``). The app runs in a process of its own: Python 3.11.7's parser can be left unable to parse
    by an earlier test's RecursionError, and Streamlit parses the script."""
    index = tmp_path / "index"
    shutil.copytree(demo_index.path, index)
    env = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    env.update(PATHATLAS_INDEX=str(index), PATHATLAS_HOME=str(demo_index.settings.home), HF_HUB_OFFLINE="1")
    script = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"
    seen = app_test_said([sys.executable, "-c", OPEN_A_PAGE, str(script)], env)
    assert seen["download"] == "Download page 1 as a PDF"
    assert any("/search" in url for _, url in seen["asked"]), "the app's own API was recorded"
    assert [method for method, url in seen["asked"] if url.endswith("/pdf")] == ["HEAD"]


def test_show_more_asks_for_twelve_more_up_to_the_apis_largest_k():
    """The search tab showed 12 results and no way to see more: "Show more" asks for 12 more each time, up to the
    API's largest k, and is not offered where the API had no more to give."""
    from pathatlas.ui.api.schemas import SearchRequest, SimilarRequest
    from pathatlas.ui.present import MAX_RESULTS, PAGE_SIZE, more_results

    for request in (SearchRequest, SimilarRequest):
        assert [m.le for m in request.model_fields["k"].metadata if hasattr(m, "le")] == [MAX_RESULTS]
    assert more_results(PAGE_SIZE, PAGE_SIZE) == 2 * PAGE_SIZE and more_results(24, 24) == 24 + PAGE_SIZE
    assert more_results(96, 96) == MAX_RESULTS
    assert more_results(MAX_RESULTS, MAX_RESULTS) is None
    assert more_results(24, 17) is None  # fewer found than asked: that was all


def test_api_errors_read_as_sentences_without_status_codes():
    """Errors began "400: ..." and "422: question: String should have at least 1 character"."""
    from pathatlas.ui.present import error_message

    tiny = "the image is 10x10 pixels: too small to compare; give one of at least 32 a side"
    assert error_message(tiny) == tiny
    empty = {"type": "string_too_short", "loc": ["body", "question"], "msg": "...", "ctx": {"min_length": 1}}
    assert error_message([empty]) == "Please fill in the question."
    assert error_message([{"type": "missing", "loc": ["body", "question"], "msg": "Field required"}]) == (
        "Please fill in the question."
    )
    short = {"type": "string_too_short", "loc": ["body", "text"], "msg": "...", "ctx": {"min_length": 2}}
    one = "Value error, one option is no choice: give two or more, or none for an open question"
    option = {"type": "value_error", "loc": ["body", "options"], "msg": one}
    assert error_message([short, option]) == (
        "The search text is too short: type at least 2 characters. "
        "Options: one option is no choice: give two or more, or none for an open question."
    )
    kind = ["body", "filters", "kind"]
    union = [  # one wrong value, reported once per branch of the field's type
        {"type": "literal_error", "loc": [*kind, "literal['page','case']"], "msg": "Input should be 'page' or 'case'"},
        {"type": "list_type", "loc": [*kind, "list[literal['page','case']]"], "msg": "Input should be a valid list"},
    ]
    assert error_message(union) == "Filters kind: Input should be 'page' or 'case'."


def test_image_results_without_a_case_do_not_call_a_figure_a_best_match():
    """An image searched in a textbook-only index listed unrelated figures as "best match" and "strong match"."""
    from pathatlas.ui.present import look_alike_note, relevance_words

    figure = {"kind": "figure", "relevance": "best match", "matched_by": {"visual:image": 1}}
    by_words = {"kind": "figure", "relevance": "strong match", "matched_by": {"bm25:image": 1, "visual:image": 4}}
    case = {"kind": "case", "relevance": "best match", "matched_by": {"visual:image": 1}}
    assert look_alike_note([figure, by_words], index_has_cases=False).startswith("This index holds no cases: ")
    assert look_alike_note([figure], index_has_cases=True).startswith("No case is among these results: ")
    assert look_alike_note([case, figure], index_has_cases=True) is None
    assert look_alike_note([], index_has_cases=False) is None
    assert [relevance_words(hit, look_alike=True) for hit in (figure, by_words)] == ["looks alike", "strong match"]
    assert relevance_words(figure, look_alike=False) == "best match"
