"""The web UI in a real browser: Debian's chromium driven by Playwright, against `pathatlas serve` and
`pathatlas ui` started on loopback over the demo index. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pathatlas.corpora.demo import draw_pattern
from pathatlas.ui.bench_serve import free_port, start_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def ui_url(demo_index, tmp_path_factory):
    api_port, ui_port = free_port(), free_port()
    api = start_server(demo_index.path, api_port)
    env = {**os.environ, "PATHATLAS_API_URL": f"http://127.0.0.1:{api_port}", "HF_HUB_OFFLINE": "1"}
    app = Path(__file__).resolve().parents[1] / "ui" / "streamlit_app.py"
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.port",
            str(ui_port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "minimal",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{ui_port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    yield url
    for process in (ui, api):
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def page(ui_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(60_000)
        tab.goto(ui_url)
        tab.get_by_text("PathAtlas").first.wait_for()
        yield tab
        browser.close()


def test_image_upload_shows_result_thumbnails(page, tmp_path):
    image = tmp_path / "slide.png"
    draw_pattern("granuloma", 99).save(image)
    page.locator("input[type=file]").first.set_input_files(str(image))
    page.get_by_text("slide.png").wait_for()  # Streamlit has received the upload; searching earlier races it
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text(re.compile(r"^\d+ results$")).wait_for()
    page.locator("[data-testid=stImage] img").nth(3).wait_for()
    page.screenshot(path=str(ARTIFACTS / "1-image-search.png"), full_page=True)
    assert page.locator("[data-testid=stImage] img").count() >= 4


def test_text_query_opens_a_cited_page(page):
    page.reload()  # a fresh session, without the previous test's upload
    page.get_by_label("Search text").wait_for()
    page.get_by_label("Search text").fill("koilocytes perinuclear halo")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("demo-primer.pdf, p. 1").first.wait_for()
    page.get_by_role("button", name="View", exact=True).first.click()
    page.get_by_text("page 1 (cited region outlined)").wait_for()
    page.screenshot(path=str(ARTIFACTS / "2-text-search-page.png"), full_page=True)


def test_ask_shows_answer_and_citation_opens_page(page):
    page.get_by_role("tab", name="Ask").click()
    page.get_by_label("Question").fill("Which cells show a clear perinuclear halo in HPV infection of the cervix?")
    page.get_by_label("Options, one per line").fill("Langhans giant cells\nKoilocytes\nGoblet cells")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.get_by_text("Answer: B. Koilocytes").wait_for()
    page.get_by_role("button", name="[1]").first.click()
    page.locator("[data-testid=stImage] img").last.wait_for()
    page.get_by_text("page 1", exact=True).wait_for()  # the cited page opened under the answer
    page.screenshot(path=str(ARTIFACTS / "3-ask-citation.png"), full_page=True)
