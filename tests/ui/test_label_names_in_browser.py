"""Checkbox labels in a real browser: Streamlit shows a label as Markdown but gives the checkbox the label as written
for its accessible name, so a screen reader heard "Yes, remove demo\\-primer\\.pdf and its 14 entries". Labels
escaped by ``present.label_plain`` must read as written both ways, whatever Streamlit's Markdown (its directives,
LaTeX, emoji, strikethrough) would make of them. Debian's chromium driven by Playwright, as in test_browser.py, over
a Streamlit script of checkboxes alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from pathatlas.ui.bench_serve import stop_server
from pathatlas.ui.bench_startup import free_port
from pathatlas.ui.present import label_plain
from tests.ui.test_browser import expect, needs_chromium

pytestmark = needs_chromium

PLAIN = [
    "Yes, remove demo-primer.pdf and its 14 entries",
    "Also match the words “block-positive p16”",
    "1. week_2 notes (draft) #3 + more.pdf",
    "- a list's marker, > a quote's, 2) another, 10:30, R&D, x < y",
]
"""Labels that Markdown, escaped where it would read them, reads as written without an escape."""
MARKED = [
    "_x_ *y* `z` ~s~ $m$ [t](u) ![i](s) <http://a.b> <b>bold</b> &amp; a\\*b C:\\docs\\f.pdf",
    "Stain:H&E :red[y] :small p16:block",
]
"""Labels that hold Markdown: shown as written, their accessible names keep the escapes that show them so."""
NAMES = PLAIN + MARKED
SCRIPT = """
import streamlit as st
from pathatlas.ui.present import label_plain
for n, name in enumerate({names}):
    st.checkbox(label_plain(name), key=f"box-{{n}}")
"""


@pytest.fixture(scope="module")
def boxes_url(tmp_path_factory) -> Iterator[str]:
    """The URL of Streamlit serving a checkbox per name of ``NAMES``, each labelled ``label_plain(name)``."""
    script = tmp_path_factory.mktemp("labels") / "labels.py"
    script.write_text(SCRIPT.format(names=json.dumps(NAMES)))
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        answering(url)
        yield url
    finally:
        stop_server(server)


def answering(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"Streamlit did not answer at {url}")


def test_a_checkboxs_label_reads_as_written_on_screen_and_as_its_name(boxes_url, chromium):
    page = chromium.new_page()
    page.goto(boxes_url)
    boxes = page.locator("[data-testid=stCheckbox]")
    expect(boxes).to_have_count(len(NAMES), timeout=60_000)
    for n, name in enumerate(NAMES):
        expect(boxes.nth(n).get_by_test_id("stWidgetLabel")).to_have_text(name)
        named = name if name in PLAIN else label_plain(name)
        expect(page.get_by_role("checkbox", name=named, exact=True)).to_have_count(1)
