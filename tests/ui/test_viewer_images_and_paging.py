"""The viewers as two walkthroughs met them (task KV): the case viewer showed a phone's photo on its side (EXIF
orientation 6, which ``st.image`` drops as it shrinks a picture) and failed on a 16-bit greyscale PNG ("cannot write
mode I;16 as JPEG"), whose full-size link was nearly black; Next and Previous page changed the heading unsaid, and
dropped focus to the page's body where they went off; their arrows were read out as triangles; taking the query image
out with no words in the box sent focus to an empty results line. The viewer and the Search tab drawn in Streamlit's
AppTest, over the API in process or a fake of it (``fetch``)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageOps
from streamlit.proto.ButtonLikeIconPosition_pb2 import ButtonLikeIconPosition
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, index_new
from tests.ui.test_browser import expect, needs_chromium, opened, searched
from tests.ui.test_web_search_walkthrough_fixes import asked, dropped, taken_out  # noqa: F401
from tests.ui.test_web_search_walkthrough_fixes import opened as search_tab_opened
from tests.ui.test_web_search_walkthrough_fixes import searched as searched_in_tab
from tests.ui.test_web_viewer_ask_walkthrough import fake_api, ran

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

BRIGHTEST = 4080
"""A 12-bit camera's brightest pixel, in a 16-bit PNG: 1/16 of the file's range."""


def phone_photo() -> Image.Image:
    """A portrait photo whose top quarter is red, stored on its side as a phone stores it: turned a quarter left, its
    EXIF orientation (6) telling a viewer to turn it back."""
    upright = Image.new("RGB", (300, 400), (230, 220, 235))
    upright.paste((220, 20, 20), (0, 0, 300, 100))
    return upright.transpose(Image.Transpose.ROTATE_90)


def save_phone_photo(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6
    phone_photo().save(path, "JPEG", exif=exif, quality=95)
    return path


def save_sixteen_bit(path: Path) -> Path:
    """A 16-bit greyscale PNG of a 12-bit camera: a gradient up to ``BRIGHTEST``."""
    gradient = np.linspace(0, BRIGHTEST, 300 * 200).reshape(200, 300).astype(np.uint16)
    Image.fromarray(gradient).save(path, "PNG")
    return path


def picture(data: bytes) -> Image.Image:
    """``data`` decoded as a browser shows it: turned by its EXIF orientation, if any, in RGB."""
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def looks_like(shown: Image.Image, thumbnail: Image.Image) -> bool:
    """Whether two pictures show the same, at their shape and 32 x 32 pixels (JPEG noise and scaling aside)."""
    same_shape = (shown.width > shown.height) == (thumbnail.width > thumbnail.height)
    small = [np.asarray(image.resize((32, 32)), dtype=float) for image in (shown, thumbnail)]
    return same_shape and np.abs(small[0] - small[1]).mean() < 12


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, bytes]]:
    """The media the page gave the browser, as (its coordinates, its bytes): a drawn image's, or a link's
    ("full-size-<record>")."""
    added: list[tuple[str, bytes]] = []
    add = MediaFileManager.add

    def kept(manager, data, mimetype, coordinates, *args, **kwargs):
        added.append((coordinates, data))
        return add(manager, data, mimetype, coordinates, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", kept)
    return added


def drawn_and_full_size(sent: list[tuple[str, bytes]]) -> tuple[list[Image.Image], list[Image.Image]]:
    drawn = [picture(data) for where, data in sent if not where.startswith("full-size-")]
    return drawn, [picture(data) for where, data in sent if where.startswith("full-size-")]


# -- the case viewer over the API ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """An index (hashing encoder) of a case folder holding ``save_phone_photo`` and ``save_sixteen_bit``."""
    root = tmp_path_factory.mktemp("odd-images")
    folder = root / "cases"
    folder.mkdir()
    save_phone_photo(folder / "photo.jpg")
    save_sixteen_bit(folder / "grey16.png")
    (folder / "labels.csv").write_text("image,case,diagnosis\nphoto.jpg,PH-1,lipoma\ngrey16.png,GR-1,fibrosis\n")
    index_new(hashing_settings(root), folder)
    return root


def case_viewer(hit: dict) -> None:
    from pathatlas.ui import web_viewer

    web_viewer.viewer(hit, "s")


@pytest.mark.parametrize("image", ["photo.jpg", "grey16.png"])
def test_the_case_viewer_and_its_full_size_link_show_an_image_as_its_thumbnail(cases, monkeypatch, sent, image):
    """The phone's photo lay on its side in the viewer, upright on its card; the 16-bit PNG failed the viewer, and its
    full-size link (the API's as stored) was nearly black, its card's thumbnail not."""
    with TestClient(create_app(hashing_settings(cases))) as client:
        monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: client.request(method, path, **kwargs))
        hits = client.post("/search", json={"text": "lipoma fibrosis", "filters": {"kind": ["case"]}}).json()["hits"]
        (hit,) = [hit for hit in hits if hit["citation"]["image"] == image]
        thumbnail = picture(client.get(hit["thumbnail_url"]).content)
        ran(AppTest.from_function(case_viewer, args=(hit,), default_timeout=60))
    (shown,), (full_size,) = drawn_and_full_size(sent)
    assert looks_like(shown, thumbnail), "the viewer shows it as its card does"
    assert looks_like(full_size, thumbnail), "and so does its link at full size"
    assert full_size.size == Image.open(cases / "cases" / image).size[:: -1 if image == "photo.jpg" else 1]


def case_view(case: dict) -> None:
    from pathatlas.ui import web_viewer

    web_viewer.case_view(case, "s")


def test_a_16_bit_image_served_as_stored_is_drawn_scaled_to_its_range(monkeypatch, sent, tmp_path):
    """As an API before this one sent it: the viewer failed with "cannot write mode I;16 as JPEG"."""
    stored = save_sixteen_bit(tmp_path / "grey16.png").read_bytes()
    media = {"/media/cases/g1": httpx.Response(200, content=stored, headers={"content-type": "image/png"})}
    monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: media.get(path) or fake_api(method, path))
    case = {"case": "GR-1", "images": [{"id": "g1", "image": "grey16.png", "url": "/media/cases/g1", "labels": {}}]}
    ran(AppTest.from_function(case_view, args=(case,), default_timeout=60))
    (shown,), _ = drawn_and_full_size(sent)
    brightest = round(BRIGHTEST * 255 / 4095)  # scaled by the 12 bits it uses, as the index reads it (``eight_bit``)
    assert abs(int(np.asarray(shown).max()) - brightest) <= 3, np.asarray(shown).max()


# -- paging in the page viewer ---------------------------------------------------------------------------------------
def paged_api(method: str, path: str, **kwargs) -> httpx.Response:
    """``fake_api``'s book of three pages, GET /pages answering each page's record."""
    if path != "/pages":
        return fake_api(method, path)
    page = kwargs["params"]["page"]
    citation = {"source_id": "b00c", "source": "book.pdf", "page": page, "label": f"book.pdf, p. {page}"}
    return httpx.Response(200, json={"id": f"p{page}", "kind": "page", "page_url": f"/p{page}", "citation": citation})


def page_viewer(page: int) -> None:
    """The viewer of the page in ``st.session_state.s``, at first page ``page``, as the Search tab draws it."""
    import streamlit as st

    from pathatlas.ui import web_viewer

    citation = {"source_id": "b00c", "source": "book.pdf", "page": page, "label": f"book.pdf, p. {page}"}
    st.session_state.setdefault("s", {"id": f"p{page}", "kind": "page", "page_url": f"/p{page}", "citation": citation})
    web_viewer.viewer(st.session_state.s, "s")


PAGE_BUTTONS = ("Previous page", "Next page")
LEFT, RIGHT = ButtonLikeIconPosition.LEFT, ButtonLikeIconPosition.RIGHT


def buttons(app: AppTest) -> dict[str, object]:
    return {button.label: button for button in app.button}


@pytest.mark.usefixtures("pdf_downloads")  # conftest.py: the PDF buttons' service
@pytest.mark.parametrize(("page", "pressed", "now"), [(2, "Next page", 3), (2, "Previous page", 1)])
def test_paging_takes_focus_to_the_viewers_title_which_names_the_new_page(monkeypatch, page, pressed, now):
    """The heading changed unsaid; on the last page (the first) the button pressed went off under focus, which fell to
    the page's body. Focus goes to the title, as Open moves it (h2 beside the results, h3 under a quote in Ask)."""
    monkeypatch.setattr(web_client, "fetch", paged_api)
    app = ran(AppTest.from_function(page_viewer, args=(page,), default_timeout=60))
    buttons(app)[pressed].click()
    ran(app)
    assert app.session_state["s"]["citation"]["page"] == now
    assert app.session_state["focus"][0] == ".st-key-s-viewer :is(h2, h3)"
    assert buttons(app)[pressed].disabled, "off on the book's last (first) page: focus is on the title"


@pytest.mark.usefixtures("pdf_downloads")
def test_the_page_buttons_arrows_are_icons_left_out_of_their_names(monkeypatch):
    """A screen reader read "◀ Previous page" with a triangle: an icon is drawn beside the name, hidden from it."""
    monkeypatch.setattr(web_client, "fetch", paged_api)
    app = ran(AppTest.from_function(page_viewer, args=(2,), default_timeout=60))
    shown = buttons(app)
    arrows = {label: (shown[label].proto.icon, shown[label].proto.icon_position) for label in PAGE_BUTTONS}
    assert arrows == {"Previous page": ("◀", LEFT), "Next page": ("▶", RIGHT)}, list(shown)


@needs_chromium
def test_paging_by_keyboard_reads_each_page_and_keeps_focus_on_the_last(page):
    """In the browser (conftest.py's ``page``, the demo primer of 4 pages): Previous, then Next onto the last page,
    pressed from the keyboard, each leaves focus on the title naming the new page, Next off; the buttons are named by
    their words alone."""
    cards = searched(page, "small round blue cells in a lymph node")
    viewer = opened(page, cards.filter(has_text="p. 4").first)  # the primer's last page
    for pressed, now in (("Previous page", 3), ("Next page", 4)):
        viewer.get_by_role("button", name=pressed, exact=True).focus()
        page.keyboard.press("Enter")
        expect(viewer.get_by_role("heading", name=re.compile(rf", p\. {now}$"))).to_be_focused()
    expect(viewer.get_by_role("button", name="Next page", exact=True)).to_be_disabled()


# -- the query image taken out ---------------------------------------------------------------------------------------
@pytest.mark.usefixtures("asked")  # the Search tab's fake API
def test_the_query_image_taken_out_with_no_words_takes_focus_to_the_search_box():
    """Focus went to the results line, empty: a screen reader said "status" and nothing."""
    app = taken_out(dropped(search_tab_opened()))
    assert app.session_state["focus"][0] == ".st-key-search-text input"


@pytest.mark.usefixtures("asked")
def test_the_query_image_taken_out_with_words_takes_focus_to_their_results_line():
    app = taken_out(dropped(searched_in_tab(search_tab_opened(), "granuloma")))
    assert app.session_state["focus"][0] == ".results-status"
