"""The web UI as an accessibility and UX tester found it, shown by Streamlit's AppTest over a copy of the demo index
(the app in a process of its own, as in test_web_ui_api_requests.py). What needs a browser (the URL kept for Reload
and Back, the outlined box shown above the fold) is in test_browser.py."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from pathatlas.corpora.demo import draw_pattern
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.present import error_message
from tests.helpers import app_test_said

APP = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"


PRELUDE = """
import json, os, sys
from streamlit.testing.v1 import AppTest

def said(seen):
    print(json.dumps(seen), flush=True)
    os._exit(0)  # the in-process API's threads can abort the interpreter's exit ("terminate called without ...")
"""


def run_app(script: str, index: Path, home: Path) -> dict:
    """What ``script`` (AppTest driving the app, given its path; ``said`` ends it with what it saw) says, over
    ``index``."""
    env = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    env.update(PATHATLAS_INDEX=str(index), PATHATLAS_HOME=str(home), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-c", PRELUDE + script, str(APP)]
    return app_test_said(command, env)


def searched(query: str) -> str:
    """The start of a ``run_app`` script: the app drawn, then ``query`` searched with the search form's button."""
    return f"""
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input({query!r})
app.button[0].click().run()  # the search form's button
"""


def unescaped(markdown: str) -> str:
    """Text the app wrote as Markdown with its special characters escaped (``present.plain``), as read."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture(scope="module")
def library_index(demo_index, tmp_path_factory) -> Path:
    """The demo index and a case folder of one case (two images) whose metadata also names a file that is no image."""
    root = tmp_path_factory.mktemp("library")
    index = root / "index"
    shutil.copytree(demo_index.path, index)
    folder = root / "slides-2024"
    folder.mkdir()
    for n in (1, 2):
        draw_pattern("granuloma", n).save(folder / f"S-1-{n}.png")
    (folder / "notes.txt").write_text("not an image")
    names = ("S-1-1.png", "S-1-2.png", "notes.txt")
    rows = [{"image": name, "case": "S-1", "diagnosis": "granuloma"} for name in names]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = demo_index.settings.model_copy(update={"index": index})
    assert not Indexer(Index.open(index, settings), show_progress=False).add([folder]).failed
    return index


LIBRARY = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
said({
    "captions": [c.value for c in app.caption],
    "headers": [h.value for h in app.header],
    "table_name": app.table[0].proto.alt,
    "expanders": {e.label: [m.value for m in e.markdown] for e in app.expander},
    "exceptions": [e.value for e in app.exception],
})
"""


@pytest.fixture(scope="module")
def library(library_index, demo_index) -> dict:
    """What the Library tab shows over ``library_index``."""
    seen = run_app(LIBRARY, library_index, demo_index.settings.home)
    assert seen["exceptions"] == []
    return seen


def test_the_library_total_counts_case_images_figures_and_pages_not_passages(library):
    """The total read "16 cases, 6 figures, 4 pages, 4 passages" for 8 cases of 16 images: kind names with an "s",
    passages (an internal record kind, parts of pages) among them."""
    totals = [caption for caption in library["captions"] if caption.startswith("In total:")]
    assert totals == ["In total: 9 cases, 18 case images, 6 figures, 4 pages"]  # 8 demo cases and S-1


def test_the_library_lists_each_sources_problems_under_a_heading_and_a_named_table(library):
    """The "problems" column was a count alone: an instructor could not learn which images were skipped, nor why.
    The tab had no heading below the app's h1, and its table no caption."""
    (problems,) = [lines for label, lines in library["expanders"].items() if label.startswith("slides")]
    assert any("notes.txt: not an image file" in unescaped(line) for line in problems), problems
    assert library["headers"] == ["Indexed sources"]  # the only heading of a page without results, an h2
    assert library["table_name"] and library["table_name"] in library["captions"]  # named, and shown above it


REFUSED = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
seen = []
for text in ("the", "?!"):
    app.text_input[0].input(text)
    app.button[0].click().run()  # the search form's button
    status = [m.value for m in app.markdown if "class='results-status" in m.value]
    seen.append({"status": status, "errors": [e.value for e in app.error], "details": [c.value for c in app.code]})
said(seen)
"""


def test_a_refused_search_says_why_in_the_live_region(library_index, demo_index):
    """A search of stop words or punctuation ("the", "?!") emptied the live region: its refusal was an alert alone,
    and a screen reader heard nothing of the search's outcome. The live region says it alone, boxed as an error: an
    alert below it repeated the sentence on the screen (session 46). What the API answered is under Details."""
    for seen in run_app(REFUSED, library_index, demo_index.settings.home):
        (status,) = seen["status"]
        (sent,) = seen["details"]
        asked, answer = sent.split("\n", 1)
        assert asked == "POST /search: 422" and seen["errors"] == [], seen
        assert html.unescape(re.sub(r"<[^>]+>", "", status)) == error_message(json.loads(answer)["detail"]), seen
        assert "class='results-status refused'" in status


def test_the_app_script_holds_no_bare_string_for_streamlit_to_draw():
    """Streamlit's magic draws every bare expression of the script: a constant's docstring was drawn above the app's
    title."""
    tree = ast.parse(APP.read_text(encoding="utf-8"))
    bare = [node for node in tree.body[1:] if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]
    drawn = [node.lineno for node in bare]
    assert drawn == [], f"bare strings at lines {drawn}"


CASES = (
    searched("granuloma giant cells")
    + """
cards = [h.value for h in app.header]
opener = next(b for b in app.button if b.label.startswith("Open case "))
opener.click().run()
said({"cards": cards, "opened": opener.label, "headings": [h.value for h in app.header]})
"""
)
FILE_NAME = re.compile(r"/|\.(png|jpe?g|tiff?)\b", re.IGNORECASE)


def test_a_case_is_headed_by_the_case_on_its_card_and_in_its_viewer(library_index, demo_index):
    """A case of two images was headed by one image's file, "Case · cases, case DEMO-02, images/DEMO-02-1.jpg", on its
    card and over its viewer: it is headed by the case, what it shows and how many images it has."""
    seen = run_app(CASES, library_index, demo_index.settings.home)
    cases = [unescaped(heading) for heading in seen["cards"] if heading.startswith("**Case**")]
    assert cases and not [heading for heading in cases if FILE_NAME.search(heading)], cases
    assert "**Case** S-1 · granuloma · 2 images" in " ".join(cases)  # the folder made here: one case, two images
    case = unescaped(seen["opened"]).removeprefix("Open case ")
    (viewer,) = Counter(map(unescaped, seen["headings"])) - Counter(map(unescaped, seen["cards"]))  # the one opened
    assert re.fullmatch(rf"\*\*Case\*\* {re.escape(case)} · [^·/]+ · \d+ images", viewer), viewer


URL_FILTERS = """
seen = []
for params in (
    {"q": "granuloma", "organ": "brain"},
    {"q": "lung", "organ": "Lung", "kind": "Case"},
    {"q": "epithelium", "source": "demo-primer.pdf"},
):
    app = AppTest.from_file(sys.argv[1], default_timeout=180)
    app.query_params.update(params)
    app.run()
    seen.append({
        "url": app.query_params,
        "menus": {m.label: m.value for m in app.multiselect},
        "warnings": [w.value for w in app.warning],
        "status": [m.value for m in app.markdown if "class='results-status" in m.value],
        "exceptions": [e.value for e in app.exception],
    })
said(seen)
"""


def test_a_url_filter_is_read_as_the_menus_hold_it_and_one_the_library_lacks_is_said_and_dropped(
    library_index, demo_index
):
    """``/?q=granuloma&organ=brain`` and ``organ=Lung`` (the menu holds "lung") showed unfiltered results with no word
    of it, empty menus and a URL still naming the filter: the UI compared URL values exactly, where REST ignores an
    organ's case and takes a source by its file name."""
    brain, lung, primer = run_app(URL_FILTERS, library_index, demo_index.settings.home)
    for seen in (brain, lung, primer):
        assert seen["exceptions"] == [] and re.search(r">\d+ results?( \(.+\))? for", seen["status"][0]), seen
    assert brain["url"] == {"q": "granuloma"}  # the URL says what is shown
    assert "filter organ=brain is not in this library; showing results without it" in map(unescaped, brain["warnings"])
    assert (lung["menus"]["Organ"], lung["menus"]["Kind"]) == (["lung"], ["case"])
    assert lung["url"] == {"q": "lung", "organ": "lung", "kind": "case"}
    (source,) = primer["menus"]["Source"]  # the menu holds the source's id
    assert primer["url"] == {"q": "epithelium", "source": source}
    for seen in (lung, primer):
        assert not [w for w in seen["warnings"] if "not in this library" in w], seen["warnings"]
