"""Security review of what the web UI shows from untrusted input: text an upload, its job's notes, the library's
table and an API refusal carry is shown as written, never as Markdown (an image fetched from another server, a link,
LaTeX, a colour); direction overrides in indexed text do not turn the rest of a line around. The web UI driven by
Streamlit's AppTest in a process of its own (``run_app``), quick (the hashing encoder) over a new index."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from pathatlas.ui.present import highlight, image_alt, plain
from tests.helpers import hashing_env
from tests.ui.test_web_ui_library_and_search_lines import run_app, unescaped
from tests.uploads import zipped

PIXEL = "![pixel](https:evil.example/p.png)"
"""Markdown for an image on another server ("https:host" is read as "https://host"): shown, it is fetched."""
FOLDER = "[answers](https:evil.example)"
"""A case folder's name in an uploaded zip: a link, where the library's table reads its cells as Markdown."""
SHARED_QUERY = "![a](//1.2.3.4/a)"
"""A query of single letters and punctuation, which the API refuses quoting it: sent as a link (``?q=``), its
refusal must not show the image."""


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40 + seed).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def case_zip() -> bytes:
    """A zipped case folder named ``FOLDER`` whose two rows of one case disagree on its diagnosis, one being
    ``PIXEL``: the job's notes quote both, and the folder's name."""
    rows = [
        {"image": "a.jpg", "case": "C1", "diagnosis": "granuloma"},
        {"image": "b.jpg", "case": "C1", "diagnosis": PIXEL},
    ]
    metadata = "".join(json.dumps(row) + "\n" for row in rows).encode()
    return zipped((f"{FOLDER}/cases.jsonl", metadata), (f"{FOLDER}/a.jpg", jpeg(0)), (f"{FOLDER}/b.jpg", jpeg(1)))


UPLOADER = """
import time
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input(sys.argv[2])
app.button[0].click().run()  # the search form's button: the API refuses the query, quoting it
refused = [m.value for m in app.markdown if "class='results-status" in m.value]  # the results line, which says why
app.session_state["tab"] = "Library"  # the tab a click opens: the Library says a job's end only where shown
app.file_uploader(key="library-upload-0").set_value(("cases.zip", bytes.fromhex(sys.argv[3]), "application/zip")).run()
next(button for button in app.button if button.label == "Index it").click().run()
for _ in range(900):  # the job followed as the jobs' fragment reruns in a browser, until it ends
    if not app.session_state["library_jobs"] or app.exception:
        break
    time.sleep(0.2)
    app.run()
said({
    "refused": refused,
    "alerts": [a.value for a in [*app.success, *app.error]],
    "notes": [i.value for i in app.info],
    "table": [row["source"] for row in app.table[0].value.to_dict("records")],
    "exceptions": [e.value for e in app.exception],
})
"""


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> dict:
    """What the web UI showed for a refused ``SHARED_QUERY`` and for the upload of ``case_zip``."""
    root = tmp_path_factory.mktemp("s30-ui")
    quick = f"os.environ.update({hashing_env(root / 'home')!r})\nsys.argv[2:] = {[SHARED_QUERY, case_zip().hex()]!r}\n"
    seen = run_app(quick + UPLOADER, root / "index", root / "home")
    assert seen["exceptions"] == [], seen["exceptions"]
    return seen


def as_text(markdown: str, raw: str) -> bool:
    """Whether ``markdown`` shows ``raw`` as written: escaped (``plain``), so that Markdown reads none of it."""
    return raw not in markdown and plain(raw) in markdown and raw in unescaped(markdown)


def test_a_refused_query_from_a_link_is_shown_as_text(shown):
    """The results line says the refusal, alone (session 46): one line of HTML, a block whose text Markdown does not
    read, the query quoted in it as written."""
    (refusal,) = shown["refused"]
    assert refusal.startswith("<p ") and refusal.endswith("</p>") and "\n" not in refusal, refusal
    assert SHARED_QUERY in refusal and "<img" not in refusal, refusal


def test_an_uploads_notes_show_its_rows_and_names_as_text(shown):
    assert any(alert.startswith("done: cases") for alert in map(unescaped, shown["alerts"])), shown["alerts"]
    (note,) = [note for note in shown["notes"] if "disagree" in note]
    assert as_text(note, PIXEL) and as_text(note, FOLDER), note


def test_the_library_table_names_a_source_as_text(shown):
    (source,) = shown["table"]
    assert as_text(source, FOLDER), source


RLO, PDI = "\u202e", "\u2069"  # right-to-left override; pop directional isolate


@pytest.mark.parametrize("shown_as", [plain, lambda text: highlight(text, ["carcinoma"])])
def test_direction_overrides_in_indexed_text_are_dropped(shown_as):
    """A diagnosis "benign <RLO>amonicrac" shows as "benign carcinoma", and turned the case's "· 2 images" after it
    around too."""
    assert RLO not in shown_as(f"benign {RLO}amonicrac") and PDI not in shown_as(f"a{PDI}b")


def test_a_thumbnails_text_alternative_has_no_direction_override():
    hit = {"kind": "case", "citation": {"case": "C1", "source": "cases"}, "diagnosis": f"{RLO}amonicrac"}
    assert image_alt(hit) == "Case C1: amonicrac"
