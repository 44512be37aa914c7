"""The library as REST and the web UI list it, where two sources share a file name (two years' "notes.pdf", three
"cases" folders) and a case folder holds several images per case; and the numbers the Ask tab shows. The library of
test_shared_names_rest.py (hashing encoder, tiny files) with a third case folder; the web UI driven by Streamlit's
AppTest in a process of its own (``run_app``, as in test_web_ui_library_and_search_lines.py)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from pathatlas.corpora.demo import draw_pattern
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.present import SCORES_NOTE
from tests.api.test_shared_names_rest import client, library, tail  # noqa: F401 - fixtures: two sources of each name
from tests.helpers import hashing_env
from tests.ui.test_web_ui_library_and_search_lines import run_app, unescaped
from tests.uploads import api_settings

SLIDES = {"S-1": 3, "S-2": 1}
"""The third case folder's cases and how many images each has."""


@pytest.fixture(scope="module", autouse=True)
def slides(library) -> str:  # noqa: F811
    """``library`` with year3/cases: ``SLIDES``, and a row naming a file that is no image (a problem); its id."""
    root = library[0]
    folder = root / "courses" / "year3" / "cases"
    folder.mkdir(parents=True)
    rows = [{"image": f"{case}-{n}.png", "case": case} for case, images in SLIDES.items() for n in range(images)]
    for n, row in enumerate(rows):
        draw_pattern("granuloma", n).save(folder / row["image"])
    (folder / "notes.txt").write_text("not an image")
    rows.append({"image": "notes.txt", "case": "S-2"})
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = api_settings(root)
    with Index.open(settings.index_dir, settings) as index:
        assert not Indexer(index, show_progress=False).add([folder]).failed
        return next(entry["id"] for key, entry in index.manifest.items() if tail(key) == "year3/cases")


def test_sources_are_listed_by_the_names_citations_give_with_their_cases(client, library, slides):  # noqa: F811
    """GET /sources listed both "notes.pdf" (and every "cases") by the bare name, and counted a case folder's images
    alone: a folder of 2 cases in 4 images read as 4."""
    root, named, _ = library
    response = client.get("/sources")
    listed = {source["source"]: source for source in response.json()}
    assert {name: source["id"] for name, source in listed.items()} == {**named, "year3/cases": slides}
    assert (listed["year3/cases"]["cases"], listed["year3/cases"]["entries"]) == (len(SLIDES), sum(SLIDES.values()))
    assert (listed["year1/cases"]["cases"], listed["year1/notes.pdf"]["cases"]) == (1, 0)
    assert str(root) not in response.text, "never a server path"


def test_deleting_a_shared_name_is_refused_naming_each_by_its_folder_and_id(client, library):  # noqa: F811
    """DELETE /sources/notes.pdf answered with two ids alone: which is which?"""
    root, named, _ = library
    response = client.delete("/sources/notes.pdf")
    detail = response.json()["detail"]
    assert response.status_code == 400 and detail.startswith("'notes.pdf' matches several sources: "), detail
    for name in ("year1/notes.pdf", "year2/notes.pdf"):
        assert f"{name} (id {named[name]})" in detail, detail
    assert str(root) not in detail and len(client.get("/sources").json()) == len(named) + 1, "nothing removed"


LIBRARIAN = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()

def remove_menu():
    return next(menu for menu in app.selectbox if menu.label == "Remove a source")

def library():
    return {
        "table": app.table[0].value.to_dict("records"),
        "captions": [caption.value for caption in app.caption],
        "expanders": [expander.label for expander in app.expander],
        "remove": list(remove_menu().options),
        "said": [alert.value for alert in [*app.success, *app.error]],
    }

seen = {"library": library()}
app.text_area[0].input("Which lesion has giant cells?")
app.text_area[1].input("granuloma\\ncarcinoma")
next(button for button in app.button if button.label == "Ask").click().run()
seen["ask"] = {
    "headers": [header.value for header in app.header],
    "captions": [caption.value for caption in app.caption],
    "alerts": [alert.value for alert in [*app.success, *app.warning]],
}
app.session_state["tab"] = "Library"  # the tab a click opens: the Library says a removal only where shown
if "year2/notes.pdf" in seen["library"]["remove"]:  # the menu named it (one "notes.pdf" was all it offered)
    remove_menu().select_index(seen["library"]["remove"].index("year2/notes.pdf")).run()
    next(box for box in app.checkbox if box.label.startswith("Yes, remove")).check().run()
    next(button for button in app.button if button.label == "Remove").click().run()
seen["removed"] = library()
seen["exceptions"] = [exception.value for exception in app.exception]
said(seen)
"""


@pytest.fixture(scope="module")
def shown(library, tmp_path_factory) -> dict:  # noqa: F811
    """What the web UI showed at each step of ``LIBRARIAN`` over a copy of ``library``'s index (it removes one)."""
    settings = api_settings(library[0])
    index = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(settings.index_dir, index)
    quick = f"os.environ.update({hashing_env(settings.home)!r})\n"
    seen = run_app(quick + LIBRARIAN, index, settings.home)
    assert seen["exceptions"] == []
    return seen


def test_the_library_table_and_problems_name_sources_apart(shown):
    """The table ran each name through the file name alone: two "notes.pdf" rows, three "cases" (and "cases: 1
    problem" above the list of one of them)."""
    listed = shown["library"]
    names = ["year1/notes.pdf", "year2/notes.pdf", "year1/cases", "year2/cases", "year3/cases"]
    assert [unescaped(row["source"]) for row in listed["table"]] == names
    assert [unescaped(label) for label in listed["expanders"] if "problem" in label] == ["year3/cases: 1 problem"]


def test_either_source_of_a_shared_name_can_be_removed(shown):
    """The remove menu was keyed by the file name: the second "notes.pdf" overwrote the first, which could not be
    removed from the web UI."""
    assert shown["library"]["remove"] == [unescaped(row["source"]) for row in shown["library"]["table"]]
    removed = shown["removed"]
    said = [unescaped(line) for line in removed["said"]]
    assert any(re.fullmatch(r"removed year2/notes\.pdf: \d+ entries", line) for line in said), removed
    assert [unescaped(row["source"]) for row in removed["table"]][0] == "notes.pdf", "year1's, now the one of its name"
    assert len(removed["table"]) == len(shown["library"]["table"]) - 1


def test_the_library_counts_cases_beside_their_images(shown):
    """A folder of 2 cases in 4 images was counted as 4 case images only: how many cases it holds was nowhere."""
    listed = shown["library"]
    (year3,) = [row for row in listed["table"] if unescaped(row["source"]) == "year3/cases"]
    assert (year3["cases"], year3["case images"]) == (len(SLIDES), sum(SLIDES.values()))
    assert "In total: 4 cases, 6 case images, 2 pages" in listed["captions"]


def test_option_scores_are_called_scores_and_said_once_to_rank_not_to_be_chances(shown):
    """The chosen option's heading said "support 0.89" under "confidence 0.40": two chances a student could not
    reconcile. The CLI's words: each option's score is how the answerer ranks it."""
    ask = shown["ask"]
    options = [header for header in ask["headers"] if header.startswith("**")]
    assert len(options) == 2 and all(re.search(r" · score \d\.\d\d$", header) for header in options), options
    assert not any("support" in header for header in ask["headers"])
    assert ask["captions"].count(SCORES_NOTE) == 1
    assert sum("confidence" in alert for alert in ask["alerts"]) == 1, "the one number that claims a chance"
