"""The web UI as a student met it (tester findings): a refused upload under the earlier image's results, a pasted
paragraph's warning and results line, a PDF button that named a page and downloaded the book, and a page whose source
was removed since it was found, which the viewer showed as a server path and a download doing nothing. Streamlit's
AppTest drives the app in a process of its own over a copy of the demo index (``run_app``, as in
test_web_ui_library_and_search_lines.py)."""

from __future__ import annotations

import html
import re
import shutil

import httpx
import pymupdf
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.indexer.sources.cases import HEIC_HINT
from pathatlas.ui import present, web_client
from pathatlas.ui.web_viewer import PAGE_GONE
from tests.helpers import hashing_env
from tests.ui.test_web_ui_library_and_search_lines import run_app

UNKNOWN_SHOWN = 8  # the unknown words a warning names (the app's constant)

PARAGRAPH = (
    "The alveoli are the functional units of the lungs where gas exchange takes place. Type I alveolar cells are thin "
    "squamous cells that make up the alveolar walls, while type II alveolar cells secrete pulmonary surfactant, a "
    "substance composed of phospholipids and proteins that reduces the surface tension within the alveoli. Alveolar "
    "macrophages remove debris and pathogens that have reached the alveoli. The respiratory membrane is formed by the "
    "alveolar and capillary walls. Koilocytez are not found in the lung."
)
TYPO = ("Koilocytez", "koilocytes")  # the last sentence's typo as typed, and the indexed word it meant

STUDENT = r"""
import io, re
import pymupdf
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager

made = []  # each download button's file name and data (made when clicked: made here as a click would)
add_deferred = MediaFileManager.add_deferred

def kept(manager, data, mimetype, coordinates, file_name=None, **kwargs):
    made.append((file_name, data))
    return add_deferred(manager, data, mimetype, coordinates, file_name=file_name, **kwargs)

MediaFileManager.add_deferred = kept
jpeg = io.BytesIO()
Image.new("RGB", (64, 64), (200, 100, 150)).save(jpeg, "JPEG")
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()

def unescaped(markdown):
    return re.sub(r"\\(.)", r"\1", markdown)

def shown():
    return {
        "errors": [unescaped(e.value) for e in app.error],
        "warnings": [unescaped(w.value) for w in app.warning],
        "status": [m.value for m in app.markdown if "class='results-status" in m.value],
        "cards": [h.value for h in app.header if "badge[" in h.value],
        "url": dict(app.query_params),
        "exceptions": [e.value for e in app.exception],
    }

def search(text):
    app.text_input[0].input(text)
    app.button[0].click().run()  # the search form's button

def upload(name, data):
    app.file_uploader(key="image").set_value((name, data, "image/jpeg")).run()

def download(label):
    # the download button of the viewer the button ``label`` opens, and the PDF it gives
    next(b for b in app.button if unescaped(b.label) == label).click().run()
    name, data = made[-2]  # the page's; the whole book's download is made after it
    with pymupdf.open(stream=data(), filetype="pdf") as pdf:
        pages = [{"text": page.get_text(), "images": len(page.get_images())} for page in pdf]
    return {"label": app.get("download_button")[0].label, "file": name, "pages": pages}

seen = {}
upload("slide.jpg", jpeg.getvalue())
seen["image"] = shown()
upload("IMG_2049.heic", b"ftypheic")
seen["heic"] = shown()
app.run()
seen["heic again"] = shown()
search("koilocytes")
seen["text"] = shown()
upload("drawing.svg", b"<svg/>")
seen["svg"] = shown()
search("granuloma giant cell")
seen["text under a refusal"] = shown()
seen["page"] = download("Open p. 2")
app.multiselect(key="filter-kind").set_value(["figure"]).run()
search("granuloma giant cell")
seen["figure"] = download("Open Figure 2.1, p. 2")
app.multiselect(key="filter-kind").set_value([]).run()
search(PARAGRAPH)
seen["paragraph"] = shown()
app.file_uploader(key="ask-image").set_value(("IMG_2049.heic", b"ftypheic", "image/heic")).run()
seen["ask"] = shown()
said(seen)
"""


@pytest.fixture(scope="module")
def student(demo_index, tmp_path_factory) -> dict:
    """What the app showed at each step of ``STUDENT`` over a copy of the demo index."""
    index = tmp_path_factory.mktemp("s27") / "index"
    shutil.copytree(demo_index.path, index)
    return run_app(f"PARAGRAPH = {PARAGRAPH!r}\n{STUDENT}", index, demo_index.settings.home)


def status(step: dict) -> str:
    """The live region's text."""
    (line,) = step["status"]
    return html.unescape(re.sub(r"<[^>]+>", "", line))


def test_a_refused_upload_leaves_no_earlier_results_under_its_refusal(student):
    """A JPEG searched, then a .heic or .svg uploaded: the red "not a ... image" showed above the 12
    earlier results and their "best match" badges, as if they were that file's. The results line says why, alone (a
    red box repeated it, session 46); once a text search is shown, the box beside the uploader says it."""
    assert student["image"]["cards"] and not student["image"]["errors"]
    assert student["text"]["url"] == {"q": "koilocytes"} and student["text"]["cards"]
    for step in ("heic", "heic again", "svg"):
        seen = student[step]
        refusal = status(seen)  # the live region says why no results show
        assert "is not a JPEG, PNG, TIFF, WebP, BMP or GIF image" in refusal, seen
        assert seen["cards"] == [] and seen["warnings"] == [] and seen["errors"] == [], seen
        assert "q" not in seen["url"], "nor does the URL name the search gone"
    later = student["text under a refusal"]
    assert later["cards"] and status(later).endswith("for “granuloma giant cell”"), "a new search still runs"
    assert later["errors"] == [status(student["svg"])]


def test_a_refused_heic_photo_says_how_to_export_it_as_a_case_folder_does(student):
    """The refusal of an iPhone's photo, in Search or Ask, gives the advice README and a case folder's problems
    give."""
    heic = status(student["heic"])
    assert heic.endswith(f" {HEIC_HINT}.") and "Most Compatible" in HEIC_HINT
    (asked,) = [error for error in student["ask"]["errors"] if "or none" in error]  # the Ask tab's
    assert asked.startswith("IMG_2049.heic ") and asked.endswith(f" {HEIC_HINT}."), asked
    assert "HEIC" not in status(student["svg"])


def test_a_pasted_paragraph_is_named_shortly_in_the_warning_and_the_results_line(student):
    """A paragraph pasted as the query listed its 26 unindexed words before "did you mean", and the results line
    repeated the whole paragraph. A typo's suggestion is kept, wherever the typo stands."""
    seen = student["paragraph"]
    (warning,) = seen["warnings"]
    listed, more = re.fullmatch(
        r"No indexed text has (.+?)[;.].* Not listed: (\d+) more such words\.", warning
    ).groups()
    assert len(re.findall(r"'[^']+'", listed)) == UNKNOWN_SHOWN and int(more) > 0, warning
    assert f"'{TYPO[0]}'" in listed and TYPO[1] in warning.split("did you mean")[1], warning
    line = status(seen)
    assert re.fullmatch(r"\d+ results( \(.+\))? for “.{20,60}…”", line), line
    assert line.split("“")[1].removesuffix("…”") in PARAGRAPH


def test_the_pdf_button_downloads_the_page_it_names_from_a_page_or_a_figure(student, demo_corpus):
    """The button read "Download the PDF (page 750)" and downloaded the whole book, which opens at page 1: it
    downloads that page, a PDF of its own named by its page, figure and all, from a page's viewer and a figure's."""
    with pymupdf.open(demo_corpus / "primer" / "demo-primer.pdf") as book:
        page_two = book[1].get_text()
    for opened in (student["figure"], student["page"]):
        assert (opened["label"], opened["file"]) == ("Download page 2 as a PDF", "demo-primer-p2.pdf"), opened
        (page,) = opened["pages"]
        assert page["text"] == page_two and page["images"] == 1, page


STALE = r"""
import re
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()

def unescaped(markdown):
    return re.sub(r"\\(.)", r"\1", markdown)

def viewer():
    # the lines shown (the viewer's, and those above the tabs) and the viewer's download buttons: whether a click reruns
    return {
        "errors": [unescaped(e.value) for e in app.error],
        "reruns": [not button.proto.ignore_rerun for button in app.get("download_button")],
        "exceptions": [e.value for e in app.exception],
    }

def click(label):
    next(b for b in app.button if unescaped(b.label) == label).click().run()

app.text_input[0].input("granuloma giant cell")
app.button[0].click().run()  # the search form's button
pages = [unescaped(b.label) for b in app.button if unescaped(b.label).startswith("Open p. ")]
click(pages[0])
seen = {"pages": pages[:2], "open": viewer()}
source = app.session_state["selected"]["citation"]["source_id"]
next(box for box in app.selectbox if box.label == "Remove a source").set_value(source).run()
app.checkbox(key=f"remove-sure-{source}").check().run()
click("Remove")  # as if from a second tab: the viewer stays open on the page removed
app.run()  # the rerun a click on its Download button makes
seen["clicked"] = viewer()
click(pages[1])  # another page of the source, listed before it was removed
seen["reopened"] = viewer()
said(seen)
"""


@pytest.fixture(scope="module")
def stale(quick_index, tmp_path_factory) -> dict:
    """What the app showed over a copy of the quick demo index at each step of ``STALE``: a page of the primer opened,
    then the primer removed, then Download clicked, then another page of it opened from the results."""
    index = tmp_path_factory.mktemp("stale") / "index"
    shutil.copytree(quick_index.path, index)
    home = quick_index.settings.home
    return run_app(f"os.environ.update({hashing_env(home)!r})\n{STALE}", index, home)


def test_a_page_removed_since_it_was_found_is_said_in_one_line_in_place_of_its_download(stale):
    """Download did nothing (its deferred file failed in Streamlit's thread, a traceback in the server's log) and
    Open showed "1 image could not be loaded ...: /media/pages/...?dpi=110: no such record.": the viewer says the page
    is gone in one line, with no download button; a click on Download reruns the page, which says it."""
    assert stale["open"] == {"errors": [], "reruns": [True, True], "exceptions": []}, "a click reruns the page"
    for step, opened in zip(("clicked", "reopened"), stale["pages"], strict=True):
        page = opened.removeprefix("Open p. ")
        seen = stale[step]
        assert seen["reruns"] == [] and seen["exceptions"] == [], seen
        assert seen["errors"] == [f"Page {page} of demo-primer.pdf {PAGE_GONE[404]}"], seen


def page_viewer() -> None:
    from pathatlas.ui import web_viewer

    citation = {"source_id": "s1", "source": "book.pdf", "page": 2, "label": "book.pdf, p. 2"}
    web_viewer.viewer({"id": "r1", "kind": "page", "page_url": "/media/pages/r1", "citation": citation}, "selected")


@pytest.mark.parametrize("status", [404, 410], ids=["removed", "changed-on-disk"])
def test_a_page_whose_pdf_the_api_refuses_is_said_in_one_line_in_place_of_its_pictures_and_download(
    monkeypatch, status
):
    """A HEAD of the page's PDF (no body to read a reason from) tells a page gone since it was found from one whose
    file moved or changed on disk; neither is drawn: its pictures would show a server path, its download nothing."""
    asked = []

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        asked.append((method, path))
        return httpx.Response(status)

    monkeypatch.setattr(web_client, "fetch", fetch)
    app = AppTest.from_function(page_viewer, default_timeout=60).run()
    assert not app.exception, app.exception
    assert [error.value for error in app.error] == [present.plain(f"Page 2 of book.pdf {PAGE_GONE[status]}")]
    kept = ("GET", "/facets")  # the filters' counts, which tell the book's last page (Next page)
    assert [sent for sent in asked if sent != kept] == [("HEAD", "/records/r1/pdf")], "no picture asked for"
    assert not app.get("download_button")
