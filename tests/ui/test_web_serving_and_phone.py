"""The web UI as a student's walkthrough in Chromium met it (session 49): Streamlit's "File change. Rerun" banner
showed in the student's page once the package's files changed under a running UI; on a phone the viewer's strip, at
reading size in a frame narrower than itself, opened at the page's left margin, a quarter of the screen blank and
the outlined figure cut off on the right; and an image too large was refused naming "(PATHATLAS_MAX_IMAGE_PIXELS)", a
setting of the server a student can do nothing with.

The browser tests drive chromium over ``pathatlas serve`` of the quick demo index (conftest.py's ``ui_url``); a
refusal of the real service (a TestClient) and the service's other sentences naming a setting are read as the app
reads them (``detail_of``, ``refused``)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from PIL import Image
from streamlit import config
from streamlit.testing.v1 import AppTest
from streamlit.web.cli import main_run

from pathatlas.ui import web_client
from pathatlas.ui.api.deps import jobs_full, query_image_over
from pathatlas.ui.api.routes.library import LECTURERS_JOB
from pathatlas.ui.cli import streamlit_command
from pathatlas.ui.present import error_message, plain
from tests.helpers import hashing_env, png_bytes
from tests.ui.devices import IPHONE, LAPTOP
from tests.uploads import book_service


# -- Streamlit as a student's page needs it ----------------------------------------------------------------------------
def test_pathatlas_ui_runs_streamlit_without_watching_its_files_nor_developer_chrome():
    """``streamlit run`` as ``pathatlas ui`` starts it, parsed by Streamlit's own command line: no file watcher (its
    "File change. Rerun / Always rerun" banner), no rerun on save, the viewer's toolbar, no traceback nor web search
    links under an error. Each option is one this Streamlit knows: an unknown one stops ``streamlit run``."""
    command = streamlit_command(8501)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("streamlit_app.py")
    names = command[5::2]
    assert all(name.startswith("--") for name in names) and len(names) == len(command[6::2])
    assert {name[2:] for name in names} <= set(config.get_config_options()), names
    given = main_run.make_context("run", command[4:]).params
    assert given["server_fileWatcherType"] == "none", given
    assert given["server_runOnSave"] is False, given
    assert given["client_toolbarMode"] == "minimal", given
    assert given["client_showErrorDetails"] == "type" and given["client_showErrorLinks"] == "false", given
    assert given["server_headless"] is True and given["server_address"] == "127.0.0.1", given


# -- a refusal names no setting of the server --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A service on a two-page book that takes images up to 2 megapixels."""
    with book_service(tmp_path_factory.mktemp("s49-z2"), "koilocytes mitosis cells", max_image_pixels=2_000_000) as s:
        yield s


def test_an_image_too_large_is_refused_with_its_limit_in_megapixels(service):
    """The service's sentence named "(PATHATLAS_MAX_IMAGE_PIXELS)" after "over the limit of 2,000,000"; the page says
    the limit as a camera does, and what to do."""
    image = png_bytes(Image.new("RGB", (2000, 1500), (200, 80, 160)))
    response = service.post(
        "/search/image", data={"text": "", "filters": "{}", "k": "12"}, files={"image": ("s.png", image)}
    )
    assert response.status_code == 400 and "(PATHATLAS_MAX_IMAGE_PIXELS)" in response.text, response.text
    assert error_message(web_client.detail_of(response)) == (
        "s.png is 2000x1500 pixels, over the limit of 2 megapixels: scale it down to at most 1632x1224 and try again"
    )


SETTINGS = SimpleNamespace(max_query_image_mb=20, max_jobs=3)  # what the service's sentences read of its settings
NAMING_A_SETTING = {
    "query image": (query_image_over(SETTINGS), f"image query is over the limit of {SETTINGS.max_query_image_mb} MB"),
    "jobs full": (
        jobs_full(SETTINGS),
        f"{SETTINGS.max_jobs} index jobs are waiting or running: send it again once one has ended",
    ),
    "lecturer's job": (LECTURERS_JOB, "this job was sent with the lecturer's token: only that token cancels it"),
    "small limit": (
        "a.png is 300x200 pixels, over the limit of 10,000 (PATHATLAS_MAX_IMAGE_PIXELS): crop it",
        "a.png is 300x200 pixels, over the limit of 10,000 pixels: crop it",
    ),
    "bytes of pixels": (
        "a.png is 400.0 MB, over the limit of 300.0 MB for an image (5 bytes a pixel of PATHATLAS_MAX_IMAGE_PIXELS)",
        "a.png is 400.0 MB, over the limit of 300.0 MB for an image",
    ),
    "a number set": (
        "the answerer failed: no reply within PATHATLAS_LLM_TIMEOUT=60 s",
        "the answerer failed: no reply within 60 s",
    ),
    "what to set": (
        "the llm answerer needs PATHATLAS_LLM_BASE_URL (or PATHATLAS_LLM_API_KEY for OpenAI)",
        web_client.NOT_SET_UP,
    ),
}


@pytest.mark.parametrize("case", NAMING_A_SETTING)
def test_each_refusal_naming_a_setting_is_said_without_it(case):
    sent, said = NAMING_A_SETTING[case]
    assert "PATHATLAS_" in sent
    refusal = httpx.Response(400, json={"detail": sent})
    assert web_client.detail_of(refusal) == said


NAMING_NO_SETTING = {
    "a file's name": "PATHATLAS_NOTES.pdf is not a PDF: its bytes are not what its name says",
    "a folder's name": "the zip holds 'atlas (PATHATLAS_X copy)/a.pdf' twice",
}


@pytest.mark.parametrize("case", NAMING_NO_SETTING)
def test_a_name_that_only_looks_like_a_setting_is_said_as_sent(case):
    sent = NAMING_NO_SETTING[case]
    assert web_client.detail_of(httpx.Response(400, json={"detail": sent})) == sent


def test_a_limit_of_one_megapixel_is_said_in_the_singular():
    sent = "a.png is 1200x1000 pixels, over the limit of 1,000,000 (PATHATLAS_MAX_IMAGE_PIXELS)"
    assert web_client.without_settings(sent) == "a.png is 1200x1000 pixels, over the limit of 1 megapixel"


@pytest.mark.parametrize(
    "echoed",
    [
        "1" * 40_000 + " (PATHATLAS_MAX_IMAGE_PIXELS)",
        "(PATHATLAS_" + "A" * 40_000,
        "(" + "x" * 40_000 + "PATHATLAS_HOME",
    ],
    ids=["digits", "open aside", "long aside"],
)
def test_a_refusal_echoing_a_long_name_is_read_at_once(echoed):
    """A zip member named with 40,000 digits, echoed by a refusal: the unbounded patterns took 10 s, holding the
    interpreter's lock, every session of the UI stopped meanwhile."""
    started = time.perf_counter()
    web_client.without_settings(f"the zip holds {echoed} twice")
    assert time.perf_counter() - started < 0.5


def refused_search() -> None:
    """A search by image the service refused, as the page shows a refusal (``refused``)."""
    from pathatlas.ui import web_client

    web_client.refused("POST", "/search/image", web_client.fetch("POST", "/search/image"))


def test_the_page_says_the_limit_and_details_keep_the_answer_as_sent(monkeypatch):
    sent = "huge.png is 20000x4000 pixels, over the limit of 60,000,000 (PATHATLAS_MAX_IMAGE_PIXELS): scale it down"
    refusal = httpx.Response(400, json={"detail": sent})
    monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: refusal)
    drawn = AppTest.from_function(refused_search, default_timeout=60).run()
    assert not drawn.exception, drawn.exception
    [line] = [error.value for error in drawn.error]
    assert line == plain("huge.png is 20000x4000 pixels, over the limit of 60 megapixels: scale it down"), line
    assert [expander.label for expander in drawn.expander] == ["Details"]
    assert sent in drawn.code[0].value


# -- the phone's strip opens at its outlined box -----------------------------------------------------------------------
STRIP = ".st-key-selected-viewer [class*=st-key-selected-strip-] [data-testid=stImage]"
OUTLINE_IN_SIGHT = """frame => {
    // the outline's red columns in the drawn strip (the API's OUTLINE_RGB), and the part of it the frame shows
    const img = frame.querySelector('img'), canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d'); context.drawImage(img, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data, red = [];
    for (let x = 0; x < canvas.width; x++) for (let y = 0; y < canvas.height; y++) {
        const at = 4 * (y * canvas.width + x);
        if (pixels[at] > 200 && pixels[at + 1] < 60 && pixels[at + 2] < 60) { red.push(x); break; }
    }
    const scale = img.getBoundingClientRect().width / img.naturalWidth;
    const scrolled = frame.scrollLeft, seen = frame.clientWidth, box = frame.getBoundingClientRect();
    const caption = frame.querySelector('[data-testid=stImageCaption]').getBoundingClientRect();
    const strip = frame.closest('[class*=st-key-selected-strip-]').getBoundingClientRect();
    return {left: red[0] * scale, right: red[red.length - 1] * scale, scrolled, seen,
            caption: caption.left - box.left, room: strip.height - box.height};
}"""


@pytest.fixture(scope="module")
def ui_index(quick_index, tmp_path_factory) -> Iterator[Path]:
    """A copy of the quick demo index for the web UI (``ui_url``), its servers started quick (``hashing_env``)."""
    index = tmp_path_factory.mktemp("phone-strip") / "index"
    shutil.copytree(quick_index.path, index)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in hashing_env(quick_index.settings.home).items():
            patch.setenv(name, value)
        yield index


def outline_in_sight(chromium, ui_url: str, device: dict) -> dict[str, float]:
    """The primer's Figure 1.1 opened in ``device``'s viewer: where its outline lies across the strip as drawn, the
    strip's scroll and the width its frame shows, where its caption starts in the frame, and the room its container
    takes beyond the frame."""
    from tests.ui.test_browser import expect, finished

    page = chromium.new_context(**device).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{ui_url}/?q=koilocytes")
    expect(page.locator(".results-status[role=status]")).to_have_text(re.compile(r"^\d+ results"))
    finished(page)
    page.get_by_role("button", name=re.compile(r"^Open Figure 1\.1")).first.click()
    strip = page.locator(STRIP).first
    expect(strip.locator("img")).to_have_js_property("complete", True)
    finished(page)
    if device is IPHONE:  # the strip's script scrolls it once its picture is drawn
        page.wait_for_function("frame => frame.scrollLeft > 0", arg=strip.element_handle())
    return strip.evaluate(OUTLINE_IN_SIGHT)


def test_on_a_phone_the_strip_opens_at_its_outlined_figure(chromium, ui_url):
    """The figure, wider than the phone's frame at reading size, is shown from its left edge: the page's margin left
    of it is scrolled out of sight."""
    shown = outline_in_sight(chromium, ui_url, IPHONE)
    assert shown["right"] - shown["left"] > shown["seen"], shown  # wider than the frame: shown from its left edge
    assert shown["scrolled"] <= shown["left"] <= shown["scrolled"] + 20, shown
    assert shown["caption"] == 0 and abs(shown["room"]) < 1, shown  # its caption in sight, no gap below it


def test_on_a_laptop_the_strip_is_not_scrolled(chromium, ui_url):
    shown = outline_in_sight(chromium, ui_url, LAPTOP)
    assert shown["scrolled"] == 0 and shown["right"] <= shown["seen"] and abs(shown["room"]) < 1, shown
