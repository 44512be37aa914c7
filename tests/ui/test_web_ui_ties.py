"""The web UI's answer where the evidence ties options: a True/False question whose two options scored alike was
headed "The evidence does not settle this. Best supported: A. True", as if A had won, while ``pathatlas ask`` said
"tie of A. True and B. False". REST now names the tie (``tied``) and the Ask tab says it. A one-page lecture indexed
with the hashing encoder; REST by FastAPI's TestClient, the web UI by Streamlit's AppTest in a process of its own
(``run_app``, as in test_web_ui_library_and_search_lines.py). And the file uploaders as a screen reader meets them, in
conftest.py's ``page`` over the demo index: each Upload button was named "Upload" alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers import hashing_env, hashing_settings, indexed_lecture
from tests.ui.test_browser import expect, finished, needs_chromium, start_over
from tests.ui.test_web_ui_library_and_search_lines import run_app, unescaped

LECTURE = "Osteoblasts lay down osteoid, the unmineralised matrix of bone. Osteoclasts resorb bone."
STATEMENT = {"question": "Osteoclasts lay down osteoid.", "options": ["True", "False"]}
"""No sentence says true or false of a statement: the answerer scores its two options alike."""
UNRELATED = {"question": "Which cells lay down osteoid?", "options": ["Chondrocytes", "Neurons", "Myocytes"]}
"""Three options no sentence names: all three score alike."""
SETTLED = {"question": "Which cells lay down osteoid?", "options": ["Osteoblasts", "Osteoclasts"]}


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    """A root holding the lecture's index (``idx``) and home (``home``)."""
    return indexed_lecture(tmp_path_factory.mktemp("s32-web-ui"), "bone.pdf", LECTURE)


@pytest.fixture(scope="module")
def client(lecture):
    from pathatlas.ui.api.app import create_app

    with TestClient(create_app(hashing_settings(lecture, index=lecture / "idx"))) as client:
        yield client


def asked(client, question: dict) -> dict:
    response = client.post("/ask", json=question)
    assert response.status_code == 200, response.text
    return response.json()


def test_rest_names_the_options_the_evidence_ties(client):
    """``tied`` holds the labels of the options scored alike at the top, the choice among them; the choice itself
    stays (the first by its words), and the answer is not settled."""
    verdict = asked(client, STATEMENT)
    assert verdict["tied"] == ["A", "B"] and not verdict["settled"]
    assert verdict["choice"] in (0, 1)
    unrelated = asked(client, UNRELATED)
    assert unrelated["tied"] == ["A", "B", "C"] and not unrelated["settled"]


def test_rest_names_no_tie_where_the_choice_leads_or_the_question_is_open(client):
    settled = asked(client, SETTLED)
    assert settled["settled"] and settled["tied"] == []
    assert asked(client, {"question": "What do osteoclasts do?"})["tied"] == []


def test_the_openapi_schema_documents_the_tie(client):
    field = client.get("/openapi.json").json()["components"]["schemas"]["AskResponse"]["properties"]["tied"]
    assert field["type"] == "array" and "alike" in field["description"]


ASKER = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()

def ask(question, options):
    app.text_area[0].input(question)
    app.text_area[1].input(options)
    next(button for button in app.button if button.label == "Ask").click().run()
    return {
        "headline": [alert.value for alert in [*app.success, *app.warning] if not alert.value.startswith("No indexed")],
        "headers": [header.value for header in app.header],
        "exceptions": [exception.value for exception in app.exception],
    }

said({name: ask(q["question"], "\\n".join(q["options"])) for name, q in json.loads(sys.argv[2]).items()})
"""


@pytest.fixture(scope="module")
def shown(lecture) -> dict:
    """What the Ask tab showed for each question, by its name."""
    asked_questions = json.dumps({"verdict": STATEMENT, "unrelated": UNRELATED, "settled": SETTLED})
    quick = f"os.environ.update({hashing_env(lecture / 'home')!r})\nsys.argv.append({asked_questions!r})\n"
    return run_app(quick + ASKER, lecture / "idx", lecture / "home")


def test_the_ask_tab_says_a_tie_as_a_tie(shown):
    """A True/False tie is said as the two options not told apart, never "Best supported" of one of them; no
    option's heading is ticked as the choice."""
    verdict = shown["verdict"]
    assert verdict["exceptions"] == []
    (alert,) = verdict["headline"]
    assert unescaped(alert).startswith(
        "The evidence does not settle this. It does not tell A. True from B. False apart"
    )
    assert "Best supported" not in alert
    assert not any("✓" in header for header in verdict["headers"]), verdict["headers"]


def test_the_ask_tab_names_every_option_of_a_wider_tie(shown):
    (alert,) = shown["unrelated"]["headline"]
    assert "It does not tell A. Chondrocytes, B. Neurons and C. Myocytes apart" in unescaped(alert)


def test_a_settled_answer_is_still_headed_by_its_choice(shown):
    (alert,) = shown["settled"]["headline"]
    assert unescaped(alert).startswith("Answer: A. Osteoblasts")
    assert sum("✓ chosen" in header for header in shown["settled"]["headers"]) == 1


UPLOADERS = {
    "Search": "Find pages, figures and cases like this image (JPEG, PNG, TIFF, WebP, BMP or GIF)",
    "Ask": "Image (optional; JPEG, PNG, TIFF, WebP, BMP or GIF)",
    "Library": "Add a PDF, lecture notes (.md, .qmd, .markdown) or a .zip of them or of a case folder",
}
"""Each tab's file uploader by its label."""


@needs_chromium
def test_each_upload_button_says_what_it_uploads(page):
    """A screen reader met each uploader's button as "Upload" and its file input as "file upload": the label above
    them is hidden from assistive technology. Both now carry the uploader's label, in every tab."""
    start_over(page)
    finished(page)
    page.get_by_text("Search by image").click()
    for tab, label in UPLOADERS.items():
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("button", name=f"Upload: {label}", exact=True)).to_be_visible()
        expect(page.locator(f"input[type=file][aria-label='{label}']")).to_have_count(1)
    expect(page.get_by_role("button", name="Upload", exact=True)).to_have_count(0)
    expect(page.locator("input[type=file][aria-label='file upload']")).to_have_count(0)
