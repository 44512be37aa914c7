"""The web viewer of a figure whose caption the book prints on the next page (``caption_page``) shows that page's strip
too, the caption outlined as REST renders it (``caption_url``), under a text alternative naming the caption and its
page: the reader saw the picture alone and had to press "Next page" to find an unmarked caption. A figure captioned on
its own page is shown as before, one page. A quote of that caption opened from an answer in Ask shows the caption's page
as Search does (its viewer kept only the figure's page: the quoted sentence was nowhere on screen). The two-page book
of ``test_caption_next_page``, indexed with the hashing encoder; the app driven by Streamlit's AppTest in a process of
its own (``run_app``), which saves each page picture the viewer draws."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app
from pathatlas.ui.web_viewer import READING_DPI, around_box
from tests.helpers import hashing_env, hashing_settings, index_new
from tests.indexer.test_caption_next_page import write_book
from tests.indexer.test_passage_boxes import red
from tests.ui.test_web_ui_library_and_search_lines import run_app

DRIVER = """
import io
from PIL import Image
from pathatlas.ui import web_common

folder, searches, (question, options) = sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
drawn_picture = web_common.picture

def saved(images, alts, *args, **kwargs):
    # each page picture the viewer draws in the run after a click, saved under its text alternative
    for image, alt in zip(images, alts):
        if alt.startswith("Page "):
            name = f"{len(os.listdir(folder))}.png"
            shown = image if isinstance(image, Image.Image) else Image.open(io.BytesIO(image))
            shown.save(os.path.join(folder, name))
            opened[-1][alt] = name
    return drawn_picture(images, alts, *args, **kwargs)

opened = [{}]
web_common.picture = saved  # before the app's modules import it
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
for query, figure in searches:
    app.text_input[0].input(query)
    app.button[0].click().run()  # the search form's button
    opened.append({})
    next(button for button in app.button if button.key == f"open-{figure}").click().run()
app.button(key="selected-close").click().run()
app.text_area[0].input(question)
app.text_area[1].input("\\n".join(options))
next(button for button in app.button if button.label == "Ask").click().run()
[quote] = [
    f"quote-{option['label']}-{n}"
    for option in app.session_state["answer"]["options"]
    for n, quoted in enumerate(option["evidence"])
    if quoted["citation"]["caption_page"]
]
opened.append({})
app.button(key=quote).click().run()
said({"opened": opened[1:], "exceptions": [e.value for e in app.exception]})
"""

SEARCHES = ("Osteon concentric lamellae central canal", "Figure 2.2 Spongy bone")
"""Words of each figure's caption, which find it: Figure 2.1, then Figure 2.2, opened in turn."""
ASKED = ("What do concentric lamellae ring in compact bone?", ["a central canal", "keratin pearls"])
"""A question whose answer quotes Figure 2.1's caption, printed on p. 2 (its figure on p. 1)."""
CAPTION_ALT = "Page 2 of book.pdf, around the caption of Figure 2.1 outlined in red"


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> tuple[list[dict[str, Image.Image]], bytes, list[float]]:
    """(the page pictures the viewer drew on opening Figure 2.1, then Figure 2.2, then ``ASKED``'s quote of Figure 2.1's
    caption, each by text alternative; REST's render of Figure 2.1's caption page at the viewer's dpi; the caption's
    box)."""
    root = tmp_path_factory.mktemp("caption-viewer")
    books = root / "books"
    books.mkdir()
    write_book(books / "book.pdf")
    settings = hashing_settings(root)
    index_new(settings, books)
    with TestClient(create_app(settings)) as client:
        figures = {p["figure"]: (rid, p) for rid, p in client.app.state.engine.index.store.scan({"kind": "figure"})}
        (first, payload), (second, _) = figures["Figure 2.1"], figures["Figure 2.2"]
        render = client.get(f"/media/pages/{first}", params={"caption_page": "true", "dpi": READING_DPI})
        assert render.status_code == 200, render.text
    folder = tmp_path_factory.mktemp("pictures")
    arguments = f"os.environ.update({hashing_env(root / 'home')!r})\n"
    searches = json.dumps([[SEARCHES[0], first], [SEARCHES[1], second]])
    arguments += f"sys.argv += {[str(folder), searches, json.dumps(ASKED)]!r}\n"
    said = run_app(arguments + DRIVER, root / "index", root / "home")
    assert said["exceptions"] == []
    opened = [{alt: Image.open(folder / name).convert("RGB") for alt, name in one.items()} for one in said["opened"]]
    return opened, render.content, payload["caption_bbox"]


def test_a_figure_captioned_on_the_next_page_shows_that_page_with_its_caption_outlined(shown):
    (figure, _, _), render, caption_box = shown
    assert "Page 1 of book.pdf, around the figure outlined in red" in figure, "its own page first, as before"
    assert_caption_page(figure, render, caption_box)


def test_a_caption_quote_opened_from_an_answer_shows_the_caption_s_page_as_search_does(shown):
    (_, _, quoted), render, caption_box = shown
    assert "Page 1 of book.pdf, around the cited figure outlined in red" in quoted, "the figure's page, as before"
    assert_caption_page(quoted, render, caption_box)


def assert_caption_page(pictures: dict[str, Image.Image], render: bytes, caption_box: list[float]) -> None:
    """``pictures`` (a viewer's, by text alternative) hold Figure 2.1's caption page as REST renders it (``render``),
    the strip around the caption (``caption_box``) and the whole page."""
    assert CAPTION_ALT in pictures, sorted(pictures)
    strip = pictures[CAPTION_ALT]
    assert red(strip).sum() > 500, "the caption is outlined"
    whole = Image.open(io.BytesIO(render)).convert("RGB")
    expected = around_box(whole, caption_box, READING_DPI)
    assert np.array_equal(np.asarray(strip), np.asarray(expected)), "REST's caption render, around the caption"
    shown_whole = pictures["Page 2 of book.pdf, the whole page, the caption of Figure 2.1 outlined in red"]
    assert np.array_equal(np.asarray(shown_whole), np.asarray(whole))


def test_a_figure_captioned_on_its_own_page_shows_its_page_alone(shown):
    (_, figure, _), _, _ = shown
    assert {alt for alt in figure if "outlined" in alt} == {
        "Page 2 of book.pdf, around the figure outlined in red",
        "Page 2 of book.pdf, the whole page, the figure outlined in red",
    }
