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

from pathatlas.retrieval.images import open_image
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


def big_phone_photo() -> bytes:
    """A 4000x3000 JPEG of ``phone_photo`` (its top quarter red once upright), stored on its side (EXIF 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    phone_photo().resize((4000, 3000)).save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def test_a_case_image_that_cannot_be_drawn_is_one_line_and_the_others_are_drawn(monkeypatch, sent, tmp_path):
    """An image over the UI's pixel limit (indexed under a raised PATHATLAS_MAX_IMAGE_PIXELS), or a file damaged since,
    failed the whole viewer: its refusal in a red box, no Close button, the case's other images hidden."""
    monkeypatch.setenv("PATHATLAS_MAX_IMAGE_PIXELS", str(4000 * 4000))
    media = {"/media/cases/i1": big_phone_photo(), "/media/cases/i2": b"\xff\xd8\xff damaged"}
    media["/media/cases/i3"] = save_sixteen_bit(tmp_path / "grey16.png").read_bytes()
    media["/media/cases/i4"] = png_bytes(Image.new("RGB", (5000, 4000)))

    def answered(method, path, **kwargs):
        if path in media:
            return httpx.Response(200, content=media[path], headers={"content-type": "image/png"})
        return fake_api(method, path)

    monkeypatch.setattr(web_client, "fetch", answered)
    images = [{"id": f"i{n}", "image": f"{n}.png", "url": f"/media/cases/i{n}", "labels": {}} for n in range(1, 5)]
    app = ran(AppTest.from_function(case_view, args=({"case": "X-1", "images": images},), default_timeout=60))
    lines = [warning.value.replace("\\", "") for warning in app.warning]  # as typed, not as Markdown
    assert lines[0] == "Image 2 of case X-1 cannot be shown: it is not a readable image (JPEG, PNG, TIFF, ...)"
    assert lines[1].startswith("Image 4 of case X-1 cannot be shown: it is 5000x4000 pixels, over the limit of")
    assert len(lines) == 2 and len(drawn_and_full_size(sent)[0]) == 2, "images 1 and 3 drawn, each with its link"


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_large_case_image_is_decoded_about_twice_the_drawn_width_upright_and_once(monkeypatch):
    """Each rerun decoded every case image in full (a 48 MP photo: 2.2 s and 401 MB a rerun): a JPEG is decoded at a
    fraction of its size, no narrower than twice the drawn width once upright, and kept for the next run."""
    from pathatlas.ui import web_viewer

    decoded = []
    opened = web_viewer.open_image
    monkeypatch.setattr(web_viewer, "open_image", lambda *args, **kw: decoded.append(args) or opened(*args, **kw))
    data = big_phone_photo()
    shown = web_viewer.drawn(data, 10**8)
    assert web_viewer.DRAWN_SIDE <= shown.width < 3000 / 2 and shown.height > shown.width, shown.size
    assert looks_like(shown, open_image(data, 10**8)), "upright, as the index read it"
    assert web_viewer.drawn(data, 10**8).size == shown.size and len(decoded) == 1, "decoded once"


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


def page_line(app: AppTest) -> str:
    """The text of the viewer's page line (``web_viewer.page_line``), checked a polite live region."""
    (line,) = [m.value for m in app.markdown if "class='page-line'" in m.value]
    assert "role='status' aria-live='polite'" in line
    return re.sub(r"<[^>]+>", "", line)


@pytest.fixture
def paged(monkeypatch) -> None:
    monkeypatch.setattr(web_client, "fetch", paged_api)


@pytest.mark.usefixtures("pdf_downloads", "paged")  # conftest.py: the PDF buttons' service
def test_paging_leaves_focus_on_the_button_pressed_and_says_the_new_page():
    """Focus went to the title on each page: Next, Tab, Tab again for the next, three keys a page."""
    app = paged_viewer(1)
    assert page_line(app) == "Page 1 of 3", "there before the first paging, so that its change is read out"
    buttons(app)["Next page"].click()
    ran(app)
    assert app.session_state["s"]["citation"]["page"] == 2 and page_line(app) == "Page 2 of 3"
    assert "focus" not in app.session_state, "left on Next page"


@pytest.mark.usefixtures("pdf_downloads", "paged")
@pytest.mark.parametrize(
    ("page", "pressed", "now", "other"), [(2, "Next page", 3, "prev"), (2, "Previous page", 1, "next")]
)
def test_paging_onto_the_last_or_first_page_moves_focus_to_the_other_page_button(page, pressed, now, other):
    """On the last page (the first) the button pressed goes off under focus, which fell to the page's body."""
    app = paged_viewer(page)
    buttons(app)[pressed].click()
    ran(app)
    assert app.session_state["s"]["citation"]["page"] == now and page_line(app) == f"Page {now} of 3"
    assert buttons(app)[pressed].disabled
    assert app.session_state["focus"][0] == f".st-key-s-{other} button"


def paged_viewer(page: int) -> AppTest:
    return ran(AppTest.from_function(page_viewer, args=(page,), default_timeout=60))


@pytest.mark.usefixtures("pdf_downloads", "paged")
def test_the_page_buttons_arrows_are_icons_left_out_of_their_names():
    """A screen reader read "◀ Previous page" with a triangle: an icon is drawn beside the name, hidden from it."""
    app = paged_viewer(2)
    shown = buttons(app)
    arrows = {label: (shown[label].proto.icon, shown[label].proto.icon_position) for label in PAGE_BUTTONS}
    assert arrows == {"Previous page": ("◀", LEFT), "Next page": ("▶", RIGHT)}, list(shown)


@needs_chromium
def test_paging_by_keyboard_leaves_focus_on_the_button_and_reads_each_page(page):
    """In the browser (conftest.py's ``page``, the demo primer of 4 pages): Previous, then Next onto the last page,
    pressed from the keyboard; focus stays on Previous, and on Next until it goes off, then is on Previous; each new
    page is said by the page line there from the first; the buttons are named by their words alone."""
    cards = searched(page, "small round blue cells in a lymph node")
    viewer = opened(page, cards.filter(has_text="p. 4").first)  # the primer's last page
    line = viewer.locator(".page-line")
    expect(line).to_have_text("Page 4 of 4")
    line.evaluate("e => { window.keptLine = e; }")
    previous = viewer.get_by_role("button", name="Previous page", exact=True)
    for pressed, now in ((previous, 3), (viewer.get_by_role("button", name="Next page", exact=True), 4)):
        pressed.focus()
        page.keyboard.press("Enter")
        expect(viewer.get_by_role("heading", name=re.compile(rf", p\. {now}$"))).to_be_visible()
        expect(line).to_have_text(f"Page {now} of 4")
        expect(previous).to_be_focused()
    assert line.evaluate("e => window.keptLine === e"), "said in the line there before, not one inserted with it"
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
