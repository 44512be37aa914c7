"""The web UI as a medical student met it on a phone and a laptop (a tester's findings): a case's viewer showed one
image's stain as the whole case's; "Select all" in a filter dropped every record without the field; an empty index was
"no results: try other words"; Back left the tab chosen; on a phone the results came below five stacked filter menus
and the viewer below every card; a healthy service was "not reachable" after a keep-alive connection closed.

Hashing encoder throughout: the app runs in a process of its own through AppTest (as in
test_web_ui_library_and_search_lines.py), or in chromium over ``pathatlas serve`` (conftest.py's ``ui_url``)."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.corpora.demo import draw_pattern
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from tests.helpers import app_test_said, hashing_env, hashing_settings
from tests.ui.devices import SMALL_IPHONE

APP = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"
ROWS = [
    {"image": "liver/bs18_cmyk.jpg", "case": "LIV-18", "diagnosis": "cystic fibrosis", "organ": "liver",
     "Stain": "H&E", "Notes": "old CMYK scanner", "Scanner": "Leica GT450"},
    {"image": "liver/bs18_pas.png", "case": "LIV-18", "diagnosis": "cystic fibrosis", "organ": "liver",
     "Stain": "PAS", "Scanner": "Leica GT450"},
    {"image": "lung/aca.png", "case": "LUNG-A", "diagnosis": "adenocarcinoma", "organ": "lung", "Stain": "H&E"},
    {"image": "tiles/lungaca1.png", "diagnosis": "adenocarcinoma"},  # an LC25000 tile: no case, no organ
]  # fmt: skip


def case_library(root: Path, rows: list[dict]) -> Path:
    """``root`` whose index (``root/index``, home ``root/home``) holds a case folder of ``rows``; returns it."""
    folder = root / "csvcoll"
    for n, row in enumerate(rows):
        (folder / row["image"]).parent.mkdir(parents=True, exist_ok=True)
        draw_pattern("glands", n).save(folder / row["image"])
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = hashing_settings(root)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([folder]).failed
    return root


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A case folder like the tester's: case LIV-18's two images stained apart, a lung case, and a tile naming no
    organ."""
    return case_library(tmp_path_factory.mktemp("student"), ROWS)


def test_case_details_give_each_image_its_own_labels_and_the_case_those_all_share(library):
    """GET /cases gave the opened image's labels as the case's and none per image: LIV-18 read "Stain: PAS" beside
    its H&E image."""
    with TestClient(create_app(hashing_settings(library))) as client:
        hits = client.post("/search", json={"text": "cystic fibrosis", "filters": {"kind": ["case"]}}).json()["hits"]
        for hit in (h for h in hits if h["citation"]["case"] == "LIV-18"):
            details = client.get(f"/cases/{hit['id']}").json()
            assert (details["diagnosis"], details["organ"]) == ("cystic fibrosis", "liver")
            assert details["labels"] == {"Scanner": "Leica GT450"}, details
            images = {image["image"]: image["labels"] for image in details["images"]}
            assert images == {
                "liver/bs18_cmyk.jpg": {"Stain": "H&E", "Notes": "old CMYK scanner", "Scanner": "Leica GT450"},
                "liver/bs18_pas.png": {"Stain": "PAS", "Scanner": "Leica GT450"},
            }


PRELUDE = """
import html, json, os, re, sys
from streamlit.testing.v1 import AppTest

def said(seen):
    print(json.dumps(seen), flush=True)
    os._exit(0)  # the in-process API's threads can abort the interpreter's exit

def status(app):
    return [html.unescape(re.sub(r"<[^>]+>", "", m.value)) for m in app.markdown if "class='results-status" in m.value]
"""


def run_app(script: str, root: Path, index: Path | None = None, **env: str) -> dict:
    """What ``script`` (AppTest driving the app, given its path; ``said`` ends it with what it saw) says over the
    index at ``index`` (``root/index`` by default), home ``root/home``; ``env`` adds variables."""
    variables = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    variables.update(hashing_env(root / "home"), PATHATLAS_INDEX=str(index or root / "index"), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-c", PRELUDE + script, str(APP)]
    return app_test_said(command, {**variables, **env})


def unescaped(markdown: str) -> str:
    """Text the app wrote as Markdown with its special characters escaped (``present.plain``), as read."""
    return re.sub(r"\\(.)", r"\1", markdown)


VIEWER = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input("cystic fibrosis")
app.button[0].click().run()  # the search form's button
next(b for b in app.button if b.label.startswith("Open case LIV")).click().run()
said({"markdown": [m.value for m in app.markdown], "exceptions": [e.value for e in app.exception]})
"""


def test_the_case_viewer_shows_each_images_labels_below_it_and_the_shared_ones_once(library):
    """LIV-18's viewer read "Stain: PAS" above both images, one of them H&E: each image's own labels are below it."""
    seen = run_app(VIEWER, library)
    assert seen["exceptions"] == []
    shown = [unescaped(m) for m in seen["markdown"]]
    start = next(n for n, m in enumerate(shown) if m.startswith("**Diagnosis:** cystic fibrosis"))
    viewer = [m for m in shown[start:] if m.startswith(("**Stain", "**Scanner", "[Open image"))]
    assert [re.sub(r"\]\(.*\)$", "]", m) for m in viewer] == [
        "**Scanner:** Leica GT450",
        "**Stain:** H&E  \n**Notes:** old CMYK scanner",
        "[Open image 1 of case LIV-18 at full size]",
        "**Stain:** PAS",
        "[Open image 2 of case LIV-18 at full size]",
    ], viewer


EVERY_ORGAN = """
seen = {}
for name, params in (("none", {"q": "adenocarcinoma"}), ("every", {"q": "adenocarcinoma", "organ": ["liver", "lung"]})):
    app = AppTest.from_file(sys.argv[1], default_timeout=180)
    app.query_params.update(params)
    app.run()
    seen[name] = {"url": dict(app.query_params), "organ": app.multiselect(key="filter-organ").value,
                  "status": status(app)}
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.query_params.update({"q": "adenocarcinoma"})
app.run()
menu = app.multiselect(key="filter-organ")
menu.set_value(["liver", "lung"]).run()  # as the menu's "Select all" picks
seen["picked"] = {"url": dict(app.query_params), "organ": app.multiselect(key="filter-organ").value,
                  "status": status(app), "exceptions": [e.value for e in app.exception]}
said(seen)
"""


def test_a_filter_with_every_value_picked_is_no_filter(library):
    """ "Select all" in the organ menu dropped the tile naming no organ (LC25000's have none), and the URL named every
    organ: a filter of every value finds what none finds, its menu says "any" and the URL names none."""
    seen = run_app(EVERY_ORGAN, library)
    none = seen["none"]
    assert re.match(r"\d+ results? .*for “adenocarcinoma”$", none["status"][0]), none
    for way in ("every", "picked"):
        assert seen[way]["status"] == none["status"], seen
        assert seen[way]["url"] == {"q": "adenocarcinoma"}, seen[way]
    assert seen["every"]["organ"] == [], seen  # a link naming every organ shows "any"
    assert seen["picked"]["organ"] == ["liver", "lung"], seen  # "Select all" stays shown, so one can be unpicked


ONE_ORGAN = """
seen = {}
for name, params in (("none", {"q": "adenocarcinoma"}), ("lung", {"q": "adenocarcinoma", "organ": "lung"})):
    app = AppTest.from_file(sys.argv[1], default_timeout=180)
    app.query_params.update(params)
    app.run()
    seen[name] = {"url": dict(app.query_params), "status": status(app)}
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.query_params.update({"q": "adenocarcinoma"})
app.run()
app.multiselect(key="filter-organ").set_value(["lung"]).run()
seen["picked"] = {"url": dict(app.query_params), "status": status(app)}
said(seen)
"""


def test_the_one_value_of_a_menu_picked_is_a_filter(tmp_path):
    """A library whose cases all name one organ beside tiles naming none: picking that organ, its menu's only value,
    counted as "every value" and showed the tiles too, and a shared link's organ was dropped."""
    seen = run_app(ONE_ORGAN, case_library(tmp_path, ROWS[2:]))
    assert seen["none"]["status"][0].startswith("2 results"), seen
    for way in ("lung", "picked"):
        assert seen[way]["status"][0].startswith("1 result "), seen
        assert seen[way]["url"] == {"q": "adenocarcinoma", "organ": "lung"}, seen


NOTHING_INDEXED = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input("liver")
app.button[0].click().run()  # the search form's button
search = status(app)
app.text_area[0].input("Which organ holds hepatocytes?")
app.text_area[1].input("liver\\nlung")
next(b for b in app.button if b.label == "Ask").click().run()
answers = [a.value for a in (*app.success, *app.warning)]
said({"search": search, "infos": [i.value for i in app.info], "answers": answers})
"""


def test_an_empty_index_says_nothing_is_indexed_and_how_to_add_sources(library):
    """`pathatlas ui --index PATH` on a new or empty index answered a search with "No results for “liver”: try other
    words" and a question with a guess from no evidence."""
    seen = run_app(NOTHING_INDEXED, library, index=library / "new-index")
    line = "Nothing is indexed at new-index yet: add sources in the Library tab (or 'pathatlas index')."
    assert seen["search"] == [line]
    assert line in seen["infos"] and seen["answers"] == [], seen


@contextmanager
def closing_kept_connections(answers: dict[str, object]) -> Iterator[tuple[str, list[str]]]:
    """A stand-in REST API on loopback, its URL and the requests it met: it answers the first request on each
    connection (``answers`` by path, else 404) and closes a kept connection at the next one, unanswered, as uvicorn's
    keep-alive timeout does to a request sent as it ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []

    def serve(connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as stream:
            for kept in (False, True):
                head = [line for line in iter(stream.readline, b"\r\n") if line]
                if not head:
                    return
                method, path, _ = head[0].decode().split(" ", 2)
                fields = dict(line.decode().rstrip().split(": ", 1) for line in head[1:])
                stream.read(int(fields.get("content-length", 0)))
                seen.append(f"{method} {path}")
                if kept:
                    return
                body = json.dumps(answers.get(path, {"detail": "not found"})).encode()
                status = "200 OK" if path in answers else "404 Not Found"
                head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
                connection.sendall(head.encode() + body)

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()


SOURCE = {"id": "c7358c06b126", "source": "notes.pdf", "kind": "pdf", "entries": 3, "cases": 0, "problems": []}
FACETS = {"fields": {"kind": [{"value": "page", "count": 3}]}, "by_source": {SOURCE["id"]: {"page": 3}}}
REMOVE = """
app = AppTest.from_file(sys.argv[1], default_timeout=60)
app.run()
opened = [e.value for e in app.error]
if not app.checkbox:  # no source listed
    said({"opened": opened})
app.checkbox[0].check().run()  # "Yes, remove notes.pdf and its 3 entries"
next(b for b in app.button if b.label == "Remove").click().run()
said({"opened": opened, "removed": [e.value for e in app.error]})
"""


def test_a_read_is_sent_again_where_a_kept_connection_closed_but_a_removal_is_not(library):
    """The UI said "The PathAtlas service ... is not reachable" of a healthy service: its client reused a connection
    the service closed as it went idle. A request that only reads is sent once more; a removal, which may have been
    done, is not."""
    with closing_kept_connections({"/facets": FACETS, "/sources": [SOURCE]}) as (url, seen):
        shown = run_app(REMOVE, library, PATHATLAS_API_URL=url)
    assert shown["opened"] == [], shown
    assert seen.count("GET /sources") >= 2 * 3, seen  # each run's was met on a kept connection, and again on a new one
    assert seen.count(f"DELETE /sources/{SOURCE['id']}") == 1, seen
    assert [line for line in shown["removed"] if "is not reachable" in line], shown


@pytest.fixture(scope="module")
def ui_index(library) -> Iterator[Path]:
    """The library's index for the web UI (``ui_url``), its servers started quick (``hashing_env``)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in hashing_env(library / "home").items():
            patch.setenv(name, value)
        yield library / "index"


def results_line(page):
    return page.locator(".results-status[role=status]")


def test_back_and_forward_open_the_tab_their_url_names(chromium, ui_url):
    """Back after choosing the Ask tab dropped "tab=Ask" from the URL and left the Ask tab open: a tab chosen now
    replaces the URL's history entry, and Back and Forward open the tab their entry names."""
    from tests.ui.test_browser import expect, finished, search

    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    page.goto(ui_url)
    for text in ("adenocarcinoma", "cystic fibrosis"):
        search(page, text)
        expect(results_line(page)).to_have_text(re.compile(f"for “{text}”$"))
        finished(page)
    page.get_by_role("tab", name="Ask").click()
    expect(page).to_have_url(re.compile(r"/\?q=cystic\+fibrosis&tab=Ask$"))
    finished(page)  # Back while the tab's own run still runs can be lost in Streamlit (one CI run of four, loaded)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/\?q=adenocarcinoma$"))
    # the app runs again before its tab follows the URL: seconds on a loaded machine (expect's own wait is 5 s)
    expect(page.get_by_role("tab", name="Search")).to_have_attribute("aria-selected", "true", timeout=60_000)
    expect(results_line(page)).to_have_text(re.compile("for “adenocarcinoma”$"), timeout=60_000)
    page.go_forward()
    expect(page.get_by_role("tab", name="Ask")).to_have_attribute("aria-selected", "true", timeout=60_000)
    expect(page).to_have_url(re.compile(r"/\?q=cystic\+fibrosis&tab=Ask$"))


def test_on_a_phone_results_come_first_and_the_viewer_opens_below_its_card(chromium, ui_url):
    """At 375x667 five filter menus stacked full width put the first result below the first screen, and Open drew
    the viewer below every card (some 7000 pixels down): the filters fold into one expander counting those chosen,
    and the viewer opens below the card opened."""
    from tests.ui.test_browser import expect, finished

    page = chromium.new_context(**SMALL_IPHONE).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{ui_url}/?q=adenocarcinoma")
    expect(results_line(page)).to_have_text(re.compile(r"^\d+ results"))
    finished(page)
    filters = page.locator("[data-testid=stExpander]", has_text="Filters")
    expect(filters.locator("details")).not_to_have_attribute("open", re.compile(".*"))  # closed
    cards = page.locator("[class*=st-key-card-]")
    on_first_screen = cards.first.bounding_box()["y"] < SMALL_IPHONE["viewport"]["height"]
    assert cards.count() > 1 and on_first_screen
    cards.first.get_by_role("button", name=re.compile("^Open ")).click()
    viewer = page.locator(".st-key-selected-viewer")
    expect(viewer.get_by_text("Diagnosis:")).to_be_visible()
    first, shown, second = (box.bounding_box() for box in (cards.nth(0), viewer, cards.nth(1)))
    assert first["y"] + first["height"] <= shown["y"] < second["y"], (first, shown, second)
    expect(filters.locator("summary")).to_have_text(re.compile(r"Filters$"))
    page.goto(f"{ui_url}/?q=adenocarcinoma&organ=lung")
    expect(results_line(page)).to_have_text(re.compile("in organ lung$"))
    expect(filters.locator("summary")).to_have_text(re.compile(r"Filters \(1 chosen\)$"))
