"""A tester's report: only the CLI said a query or option word matches nothing in the index; REST and the web UI
searched "stratifed squamus epithelim" by meaning alone, silently, and leant away from a mistyped option "adipos" that
found no evidence. Now one shared check (``ui.words``) feeds the CLI's warnings, REST's ``unknown_words`` and the web
UI's line. And a multipart field given twice was read as its last value (a second image searched alone, a second file
indexed alone): it is refused."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.present import unknown_words_note
from pathatlas.ui.words import UnknownWord, closest_words, unknown_words
from tests.helpers import app_test_said, hashing_settings, indexed_lecture, run_cli

LECTURE = "Adipose tissue stores fat in adipocytes. Compact bone is laid down in osteons around a central canal."


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page of a connective tissue lecture (hashing encoder)."""
    return indexed_lecture(tmp_path_factory.mktemp("tissue"), "tissue.pdf", LECTURE)


# -- the shared check -------------------------------------------------------------------------------------------------


def test_unknown_words_names_each_field_word_and_its_closest_indexed_words(lecture):
    idx = Index.open(lecture / "idx", hashing_settings(lecture, index=lecture / "idx"))
    asked = [("question", "Which tissue stores fat?"), ("option A", "adipos"), ("option B", "Compact bone")]
    assert unknown_words(asked, idx) == [UnknownWord("option A", "adipos", ("adipose", "adipocytes"))]
    assert unknown_words([("text", "osteonz of bone, osteonz")], idx) == [UnknownWord("text", "osteonz", ("osteons",))]
    assert unknown_words([("text", "what is it")], idx) == [], "filler words are not looked for, so not warned"


def test_an_index_is_read_once_per_generation_and_again_after_a_commit(lecture, tmp_path):
    """A service must not scan its store per request: the words are read again only when a commit changed them."""
    root = tmp_path / "copy"
    shutil.copytree(lecture, root)
    settings = hashing_settings(root, index=root / "idx")
    idx = Index.open(root / "idx", settings)
    assert [u.word for u in unknown_words([("text", "adipos hyalin")], idx)] == ["adipos", "hyalin"]
    scan = idx.store.scan
    idx.store.scan = lambda *_: pytest.fail("the store was scanned again for the same generation")
    assert [u.word for u in unknown_words([("text", "adipos hyalin")], idx)] == ["adipos", "hyalin"]
    idx.store.scan = scan
    doc = pymupdf.open()
    doc.new_page().insert_text((40, 60), "Hyalin cartilage covers joints.", fontsize=11)
    doc.save(root / "cartilage.pdf")
    report = Indexer(idx, show_progress=False).add([root / "cartilage.pdf"])
    assert not report.failed, report.failed
    assert [u.word for u in unknown_words([("text", "adipos hyalin")], idx)] == ["adipos"]


def test_the_web_uis_line_names_words_their_fields_and_what_was_meant():
    adipos = {"field": "option A", "word": "adipos", "closest": ["adipose", "adipocytes"]}
    assert unknown_words_note([adipos]) == "No indexed text has 'adipos' (option A); did you mean adipose?"
    typed = [{"field": "text", "word": w, "closest": c} for w, c in [("stratifed", ["stratified"]), ("zzq", [])]]
    typed.append({"field": "text", "word": "squamus", "closest": ["squamous"]})
    assert unknown_words_note(typed) == (
        "No indexed text has 'stratifed', 'zzq' or 'squamus'; did you mean stratified, squamous?"
    )
    assert unknown_words_note([{"field": "question", "word": "zzq", "closest": []}]) == (
        "No indexed text has 'zzq' (question)."
    )
    assert unknown_words_note([]) == ""


# -- the CLI prints as it did -----------------------------------------------------------------------------------------


def test_the_cli_still_warns_search_and_option_words_in_its_own_lines(lecture):
    index = (lecture / "idx").resolve()
    said = f"no indexed word 'adipos' in index {index}; closest: 'adipose', 'adipocytes'"
    searched = run_cli("search", "adipos tissue", "--index", lecture / "idx", home=lecture / "home")
    assert searched.exit_code == 0, searched.output
    warned = [line for line in searched.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: query 'adipos tissue': {said}"]
    options = ("--option", "A=adipos", "--option", "B=bone")
    asked = run_cli("ask", "Which tissue stores fat?", *options, "--index", lecture / "idx", home=lecture / "home")
    assert asked.exit_code == 0, asked.output
    warned = [line for line in asked.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: option A 'adipos': {said}"]


def test_the_cli_names_the_words_rest_names_and_none_where_none_is_close(lecture):
    """The CLI's warning offered what a --filter value's refusal offers (spelt 0.6 alike, any first letter): "blue" for
    "goblet", "bone" for "tone", and any indexed words where none was close; REST and the web UI offered nothing."""
    index = (lecture / "idx").resolve()
    searched = run_cli("search", "tone tissue", "--index", lecture / "idx", home=lecture / "home")
    warned = [line for line in searched.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: query 'tone tissue': no indexed word 'tone' in index {index}"]
    with Index.open(index, hashing_settings(lecture)) as idx:
        assert [u.closest for u in unknown_words([("query", "tone tissue")], idx)] == [()]


# -- REST -------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(demo_index, tmp_path_factory):
    """The API over a copy of the demo index (the primer and the case folder)."""
    index = tmp_path_factory.mktemp("words") / "index"
    shutil.copytree(demo_index.path, index)
    with TestClient(create_app(Settings(home=demo_index.settings.home, index=index))) as test_client:
        yield test_client


def test_a_search_lists_its_words_no_indexed_text_holds_with_the_closest(client):
    found = client.post("/search", json={"text": "stratifed squamus epithelim"}).json()
    by_word = {u["word"]: u for u in found["unknown_words"]}
    assert list(by_word) == ["stratifed", "squamus", "epithelim"], found["unknown_words"]
    assert {u["field"] for u in by_word.values()} == {"text"}
    assert by_word["stratifed"]["closest"][0] == "stratified"
    assert by_word["squamus"]["closest"][0] == "squamous"
    assert by_word["epithelim"]["closest"][0] == "epithelium"
    assert found["hits"], "the search still runs, by meaning"
    assert client.post("/search", json={"text": "stratified squamous epithelium"}).json()["unknown_words"] == []


def test_a_search_does_not_scan_the_store_per_request(client):
    engine = client.app.state.engine
    assert client.post("/search", json={"text": "koilocites"}).json()["unknown_words"][0]["word"] == "koilocites"
    engine.index.store.scan = lambda *_: pytest.fail("a search scanned the store again")
    try:
        again = client.post("/search", json={"text": "koilocites halo"}).json()
    finally:
        del engine.index.store.scan
    assert [u["word"] for u in again["unknown_words"]] == ["koilocites"]


def test_an_ask_lists_the_question_and_option_words_no_indexed_text_holds(client):
    question = "Which cells are the hallmark of productive HPV infektion?"
    asked = {"question": question, "options": ["koilocites", "keratin pearls"]}
    answer = client.post("/ask", json=asked)
    assert answer.status_code == 200, answer.text
    unknown = answer.json()["unknown_words"]
    assert [(u["field"], u["word"]) for u in unknown] == [("question", "infektion"), ("option A", "koilocites")]
    assert unknown[0]["closest"][0] == "infection" and unknown[1]["closest"][0] == "koilocytes", unknown
    pasted = {"question": "Which cells are the hallmark of HPV?\nA. koilocytes\nB. keratin pearlz"}
    unknown = client.post("/ask", json=pasted).json()["unknown_words"]
    assert [(u["field"], u["word"]) for u in unknown] == [("option B", "pearlz")], "options read from the question"


def test_an_image_question_s_reference_to_its_image_is_no_word_to_find(client):
    """ "Which diagnosis best fits this slide?", the image questions' wording, was told "No indexed text has 'slide';
    did you mean side?" above its answer."""
    question = "Which stromal cells with a perinuclear halo are in this slide?"
    asked = {"question": question, "options": ["Koilocytes", "Langhans giant cells"]}
    unknown = client.post("/ask", json=asked).json()["unknown_words"]
    assert [(u["field"], u["word"]) for u in unknown] == [("question", "stromal")], unknown
    said = client.post("/ask", json={**asked, "question": "Which stromal cells in the slide have a perinuclear halo?"})
    assert [u["word"] for u in said.json()["unknown_words"]] == ["stromal", "slide"], "a slide not in front of one"


def test_the_openapi_document_says_every_search_and_answer_lists_unknown_words(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for response in ("SearchResponse", "AskResponse"):
        shown = schemas[response]["properties"]["unknown_words"]
        assert shown["items"] == {"$ref": "#/components/schemas/UnknownWordOut"}
        assert "always present" in shown["description"]
    assert set(schemas["UnknownWordOut"]["properties"]) == {"field", "word", "closest"}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "pink").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_repeated_image_or_upload_is_refused_naming_the_field(client):
    images = [("image", ("a.png", png())), ("image", ("b.png", png()))]
    refused = client.post("/search/image", files=images)
    assert refused.status_code == 422, refused.text
    assert [(e["loc"], e["msg"]) for e in refused.json()["detail"]] == [
        (["body", "image"], "given 2 times: give one image")
    ]
    asked = client.post("/ask/image", files=images, data={"question": "What is it?"})
    assert asked.status_code == 422 and asked.json()["detail"][0]["loc"] == ["body", "image"], asked.text
    texts = client.post("/search/image", files=images[:1], data={"text": ["bone", "lung"]})
    assert texts.status_code == 422 and texts.json()["detail"][0]["msg"] == "given 2 times: give it once", texts.text
    sources = client.get("/sources").json()
    pdfs = [("file", ("a.pdf", b"%PDF-1.4 a")), ("file", ("b.pdf", b"%PDF-1.4 b"))]
    job = client.post("/jobs", files=pdfs)
    assert job.status_code == 422, job.text
    assert [(e["loc"], e["msg"]) for e in job.json()["detail"]] == [
        (["body", "file"], "given 2 times: give one file per job")
    ]
    assert client.get("/sources").json() == sources, "nothing was indexed"


# -- the web UI -------------------------------------------------------------------------------------------------------

SEARCH_MISSPELT = """
import json, sys
from streamlit.testing.v1 import AppTest

app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input(sys.argv[2])
app.button[0].click().run()  # the search form's button
said = [*(e.value for e in app.error), *(str(e.value) for e in app.exception), *(m.value for m in app.markdown)]
print(json.dumps({"warnings": [warning.value for warning in app.warning], "said": said}))
"""


def ui_warnings_for(query: str, demo_index, tmp_path) -> dict[str, list[str]]:
    """The warnings the search tab shows for ``query`` over a copy of the demo index, and what else it ``said`` (its
    errors and text: why, where a warning is missing). The app runs in a process of its own, as in
    test_web_ui_api_requests (Streamlit parses the script; an earlier test can leave the parser unable to)."""
    index = tmp_path / "index"
    if not index.exists():
        shutil.copytree(demo_index.path, index)
    env = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    env.update(PATHATLAS_INDEX=str(index), PATHATLAS_HOME=str(demo_index.settings.home), HF_HUB_OFFLINE="1")
    script = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"
    return app_test_said([sys.executable, "-c", SEARCH_MISSPELT, str(script), query], env)


def test_the_search_tab_says_which_words_of_a_misspelt_query_no_indexed_text_has(demo_index, tmp_path):
    shown = ui_warnings_for("stratifed squamus epithelim", demo_index, tmp_path)
    assert len(shown["warnings"]) == 1, shown
    (line,) = shown["warnings"]
    assert line.replace("\\", "") == (
        "No indexed text has 'stratifed', 'squamus' or 'epithelim'; did you mean stratified, squamous, epithelium?"
    ), line


def test_an_unknown_word_is_offered_only_words_spelt_like_it():
    """Among a book's words "adipos" was offered "lips, does, adds" and "mitochondria" "michigan": a wrong suggestion
    misleads more than none."""
    words = {w: w for w in ["lips", "does", "adds", "adipose", "michigan", "mitosis", "death", "kolata", "detail"]}
    assert closest_words("adipos", words) == ("adipose",)
    assert closest_words("mitochondria", words) == ()
    assert closest_words("data", words) == ()
    assert closest_words("stratifed", {"striated": "striated", "stratified": "stratified"})[0] == "stratified"
