"""The web UI's viewers outline a record as REST's page render does: a passage printed above and below a figure block
by block, never round the figure, whether opened from an answer's quote or from a search result; and on a turned page
the strip shown holds the whole outline. Two PDFs indexed with the hashing encoder; the app driven by Streamlit's
AppTest in a process of its own (``run_app``), which saves each page picture the viewers draw; REST by FastAPI's
TestClient."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.web_viewer import READING_DPI
from tests.helpers import hashing_env, hashing_settings, index_new
from tests.indexer.test_passage_boxes import PICTURE, figure_between_paragraphs, prose, red
from tests.ui.test_web_ui_library_and_search_lines import run_app

TURNED_WORDS = 100
"""Where the turned page's words start counting (``prose``): the figure page's run from 0 to 69, so no question or
search about one finds the other."""

DRIVER = """
import io
from PIL import Image
from pathatlas.ui import web_common

folder, questions, query = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
drawn_picture = web_common.picture

def saved(images, alts, *args, **kwargs):
    # each page picture the viewers draw, saved under its text alternative (the last drawing of each kept)
    for image, alt in zip(images, alts):
        if alt.startswith("Page "):
            name = f"{len(os.listdir(folder))}.png"
            shown = image if isinstance(image, Image.Image) else Image.open(io.BytesIO(image))
            shown.save(os.path.join(folder, name))
            pictures[alt] = name
    return drawn_picture(images, alts, *args, **kwargs)

pictures = {}
web_common.picture = saved  # before the app's modules import it
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
app.text_input[0].input(query)
app.button[0].click().run()  # the search form's button
next(button for button in app.button if (button.key or "").startswith("open-")).click().run()
for question, options in questions:
    app.text_area[0].input(question)
    app.text_area[1].input(options)
    next(button for button in app.button if button.label == "Ask").click().run()
    next(button for button in app.button if button.label.startswith("Open quote")).click().run()
said({"pictures": pictures, "exceptions": [e.value for e in app.exception]})
"""

FIGURE_QUESTION = ("Which is epithelium0 basement1 membrane2 collagen3?", "keratin4 squamous5\nmucus")
TURNED_QUESTION = (
    f"Which is {prose(4, TURNED_WORDS)}?",
    f"{prose(2, TURNED_WORDS + 4)}\nmucus",
)


def turned_page(path: Path) -> Path:
    """A 400 x 500 point page turned by /Rotate 270 (shown landscape), one paragraph in its lower part."""
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=500)
    page.insert_textbox(pymupdf.Rect(40, 270, 360, 470), prose(70, TURNED_WORDS), fontsize=9)
    page.set_rotation(270)
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """The root of an index of a page printing a passage above and below a figure (``figure.pdf``) and a turned page
    (``turned.pdf``), and REST's render of each one's passage at the viewer's dpi, by file name."""
    root = tmp_path_factory.mktemp("outlines")
    books = root / "books"
    books.mkdir()
    figure_between_paragraphs(books / "figure.pdf")
    turned_page(books / "turned.pdf")
    settings = hashing_settings(root)
    index_new(settings, books)
    with TestClient(create_app(settings)) as client:
        passages = client.app.state.engine.index.store.scan({"kind": "passage"})
        renders = {}
        for record_id, payload in passages:
            shown = client.get(f"/media/pages/{record_id}", params={"dpi": READING_DPI})
            assert shown.status_code == 200, shown.text
            renders[Path(payload["source"]).name] = shown.content
    assert set(renders) == {"figure.pdf", "turned.pdf"}, "one passage on each page"
    return root, renders


@pytest.fixture(scope="module")
def pictures(library, tmp_path_factory) -> dict[str, Image.Image]:
    """The page pictures the viewers drew, by text alternative: a search result opened, then a quote of each answer."""
    root, _ = library
    folder = tmp_path_factory.mktemp("pictures")
    questions = json.dumps([FIGURE_QUESTION, TURNED_QUESTION])
    query = "epithelium0 basement1 membrane2"
    arguments = f"os.environ.update({hashing_env(root / 'home')!r})\nsys.argv += {[str(folder), questions, query]!r}\n"
    shown = run_app(arguments + DRIVER, root / "index", root / "home")
    assert shown["exceptions"] == []
    return {alt: Image.open(folder / name).convert("RGB") for alt, name in shown["pictures"].items()}


def whole_page(pictures: dict[str, Image.Image], name: str, outlined: str) -> Image.Image:
    return pictures[f"Page 1 of {name}, the whole page, the {outlined} outlined in red"]


def assert_outlined_as_rest_renders(page: Image.Image, render: bytes) -> None:
    """``page`` shows its outline where REST's render does: the same pixels, so the same boxes and none other."""
    assert red(page).sum() > 1000, "the passage is outlined"
    assert np.array_equal(np.asarray(page), np.asarray(Image.open(io.BytesIO(render)).convert("RGB")))


def assert_the_figure_is_not_outlined(page: Image.Image) -> None:
    scale = READING_DPI / 72
    beside_the_figure = red(page)[round(PICTURE.y0 * scale) : round(PICTURE.y1 * scale)]
    assert not beside_the_figure.any(), "no outline runs beside the figure, nor round it"


@pytest.mark.parametrize("outlined", ["cited passage", "matched passage"], ids=["answer-quote", "search-result"])
def test_a_viewer_outlines_a_passage_around_a_figure_as_rest_renders_it(library, pictures, outlined):
    _, renders = library
    page = whole_page(pictures, "figure.pdf", outlined)
    assert_the_figure_is_not_outlined(page)
    assert_outlined_as_rest_renders(page, renders["figure.pdf"])


def test_a_quote_on_a_turned_page_is_outlined_as_rest_renders_it_and_its_strip_holds_the_outline(library, pictures):
    _, renders = library
    page = whole_page(pictures, "turned.pdf", "cited passage")
    assert page.width > page.height, "the page is shown turned"
    assert_outlined_as_rest_renders(page, renders["turned.pdf"])
    strip = pictures["Page 1 of turned.pdf, around the cited passage outlined in red"]
    assert red(strip).sum() == red(page).sum(), "the strip holds the whole outline"
