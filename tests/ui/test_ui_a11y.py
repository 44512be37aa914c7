"""The web UI's accessibility and robustness fixes that need no browser: the words and labels it shows (pure helpers of
``ui/present.py``), the cited box's outline scale, the page PNG's dpi, the page with its API stopped (Streamlit's
AppTest in a process of its own, as in test_web_ui_api_requests.py) and ``pathatlas ui`` stopped by SIGTERM (real
processes). What a browser shows (text alternatives, the live region, contrast, headings) is in test_browser.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.bench_serve import free_port
from pathatlas.ui.present import (
    case_image_text,
    distinct_places,
    focus_script,
    found_by,
    image_alt,
    img_html,
    relevance_words,
    results_status,
    unreachable_message,
    unsupported_file,
)
from tests.helpers import app_test_said

APP = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"


def test_the_api_labels_a_page_png_with_the_dpi_it_was_rendered_at(demo_index, tmp_path):
    """``/media/pages/{id}?dpi=110`` sent 110-dpi pixels labelled 96 dpi."""
    from pathatlas.ui.api.app import create_app

    index = tmp_path / "index"
    shutil.copytree(demo_index.path, index)
    with TestClient(create_app(demo_index.settings.model_copy(update={"index": index}))) as client:
        hits = client.post("/search", json={"text": "koilocytes perinuclear halo", "k": 3}).json()["hits"]
        hit = next(hit for hit in hits if hit.get("page_url") and hit["citation"]["bbox"])
        for dpi in (110, 72):
            png = client.get(hit["page_url"], params={"dpi": dpi})
            assert png.status_code == 200
            assert Image.open(io.BytesIO(png.content)).info["dpi"] == pytest.approx((dpi, dpi), abs=0.5)
    drawn = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB"))  # 72 dpi: a pixel a point
    red = (drawn[..., 0] > 180) & (drawn[..., 1] < 120) & (drawn[..., 2] < 120)
    blocks = [[round(c) for c in box] for box in hit["payload"]["blocks"]]
    assert red.any() and not any(red[y0:y1, x0:x1].any() for x0, y0, x1, y1 in blocks), "it clears the letters"


def test_the_why_line_names_each_ranker_from_matched_by():
    """The card's "found by" re-read the API's ``why`` string, which calls the visual and the joint (image-text)
    rankings of an image query both "appearance"; it reads the hit's ``matched_by`` and names them apart."""
    by_image = {
        "kind": "figure",
        "relevance": "best match",
        "why": "appearance #1",  # the API's words for both rankings
        "matched_by": {"visual:image": 1, "joint:image": 3},
    }
    assert found_by(by_image) == "appearance #1, image-text match #3"
    assert relevance_words(by_image, look_alike=True) == "looks alike"  # pictures alone found it
    by_text = {"kind": "page", "relevance": "best match", "matched_by": {"bm25": 2, "text": 1, "joint": 4, "text:x": 6}}
    assert found_by(by_text) == "meaning #1, words #2, image-text match #4"  # a space's two rankings: its better rank
    printed = {"kind": "figure", "relevance": "strong match", "matched_by": {"bm25:image": 1, "visual:image": 2}}
    assert found_by(printed) == "printed words #1, appearance #2"
    assert relevance_words(printed, look_alike=True) == "strong match"  # its words matched too
    assert found_by({"kind": "page", "why": "words #1"}) == "words #1"  # an older server: its words as written
    assert found_by({"kind": "page", "matched_by": {"plugin-space": 2}}) == "plugin-space #2"


def test_buttons_and_images_are_named_from_the_citation():
    """Buttons were all "Open" / "Find similar"; thumbnails had no text alternative; case images were captioned with
    their file paths. Names are distinct, and alternatives say what the image is, from citation, caption, diagnosis."""
    page = {"kind": "page", "rank": 1, "citation": {"source": "primer.pdf", "page": 1}}
    other_book = {"kind": "page", "rank": 2, "citation": {"source": "atlas.pdf", "page": 1}}
    figure = {
        "kind": "figure",
        "rank": 3,
        "snippet": "Figure 2.1 Koilocytes with perinuclear halos.",
        "citation": {"source": "primer.pdf", "page": 2, "figure": "Figure 2.1"},
    }
    case = {
        "kind": "case",
        "rank": 4,
        "diagnosis": "LSIL",
        "organ": "cervix",
        "citation": {"source": "cases", "case": "DEMO-01", "image": "images/demo-01-a.png"},
    }
    assert distinct_places([page, other_book, figure, case]) == [
        "p. 1 of primer.pdf",
        "p. 1 of atlas.pdf",
        "Figure 2.1, p. 2",
        "case DEMO-01",
    ]
    assert distinct_places([page, dict(page, rank=7)]) == ["p. 1 of primer.pdf (#1)", "p. 1 of primer.pdf (#2)"]
    assert image_alt(page) == "Page 1 of primer.pdf"
    assert image_alt(figure) == "Figure 2.1 on p. 2 of primer.pdf: Figure 2.1 Koilocytes with perinuclear halos."
    assert image_alt(case, (2, 3)) == "Case DEMO-01, image 2 of 3: LSIL, cervix"
    assert len(image_alt(dict(figure, snippet="word " * 200))) <= 160
    details = {"case": "DEMO-01", "diagnosis": "LSIL", "organ": "cervix"}
    assert case_image_text(details, 1, 2) == "Case DEMO-01, image 1 of 2: LSIL, cervix"
    assert case_image_text(details, 1, 1) == "Case DEMO-01: LSIL, cervix"


def test_an_image_drawn_as_html_escapes_its_text_alternative():
    """Where Streamlit's st.image takes no ``alt`` the app writes the ``<img>``: indexed text is escaped (this
    project had a stored XSS once)."""
    planted = "x' onerror='alert(1)' data-x='<script>alert(2)</script>"
    drawn = img_html(b"\xff\xd8\xff\xe0 not really a JPEG", planted, width=48)
    assert drawn.startswith("<img src='data:image/jpeg;base64,") and " width='48'>" in drawn
    assert "<script" not in drawn and "onerror='" not in drawn and "&#x27; onerror=&#x27;" in drawn


def test_a_search_without_results_is_said_in_the_live_region():
    """The live region was emptied when a search found nothing: "No results" was a note beside it, which a screen reader
    never reads out, so the search seemed to do nothing."""
    assert results_status(12, "for “cells”") == "12 results for “cells”"
    assert results_status(1, "like slide.png") == "1 result like slide.png"
    assert results_status(0, "for “cells”") == "No results for “cells”: try other words or fewer filters."
    assert results_status(0, "") == "No results: try other words or fewer filters."


def test_the_focus_script_names_its_target_as_a_string_and_each_request_apart():
    """The selector is written as a JavaScript string (a key holding a quote cannot end it), and two requests for one
    target differ, so Streamlit draws the second as a new element, whose script runs."""
    script = focus_script('.st-key-open-x button[title="a\'b"]', 2)
    assert (
        script.startswith("<script>") and 'document.querySelector(".st-key-open-x button[title=\\"a\'b\\"]")' in script
    )
    assert focus_script(".x", 1) != focus_script(".x", 2)
    closing = focus_script('.st-key-open-x button[title="</script><img src=x onerror=alert(1)>"]', 3)
    assert closing.count("</script>") == 1 and closing.endswith("</script>"), closing


def test_uploads_are_checked_by_the_app_not_in_a_tooltip():
    types = ("png", "jpg", "jpeg")
    assert not unsupported_file("Slide.JPG", types) and not unsupported_file("a.b.png", types)
    assert unsupported_file("slide.gif", types) and unsupported_file("png", types) and unsupported_file("x.", types)


SERVER_DOWN = """
import json, os, sys
from streamlit.testing.v1 import AppTest

def seen(app):
    return {
        "errors": [e.value for e in app.error],
        "exceptions": [e.value for e in app.exception],
        "tabs": [t.label for t in app.tabs],
        "inputs": [t.label for t in app.text_input],
    }

app = AppTest.from_file(sys.argv[1], default_timeout=120)
app.run()
loaded = seen(app)
app.text_input[0].input("granuloma with giant cells")
app.button[0].click().run()  # the search form's button
print(json.dumps([loaded, seen(app)]), flush=True)
os._exit(0)  # threads left by the in-process API can abort the interpreter's exit (134)
"""


def test_a_stopped_api_is_one_sentence_and_the_page_still_draws(tmp_path):
    """With ``pathatlas serve`` stopped, reloading the UI or searching showed httpx's ConnectError traceback."""
    api = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "PATHATLAS_API_URL": api, "HF_HUB_OFFLINE": "1"}
    shown = app_test_said([sys.executable, "-c", SERVER_DOWN, str(APP)], env, timeout=300)
    sentence = unreachable_message(api)
    assert sentence == f"The PathAtlas service at {api} is not reachable; start it with 'pathatlas serve' or try again."
    for seen in shown:
        assert seen["exceptions"] == [], seen["exceptions"]
        assert seen["errors"] == [sentence], seen["errors"]  # once, however many calls failed
        assert seen["tabs"] == ["Search", "Ask", "Library"] and "Search text" in seen["inputs"]
        assert "Traceback" not in json.dumps(seen)


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_sigterm_to_pathatlas_ui_stops_its_streamlit():
    """``pathatlas ui`` ran Streamlit with subprocess.call: a SIGTERM (kill, a service manager) ended the CLI and
    left Streamlit running, holding its port."""
    port = free_port()
    command = [sys.executable, "-c", "from pathatlas.ui.cli import app; app()", "ui", "--port", str(port)]
    command += ["--api", f"http://127.0.0.1:{free_port()}"]  # no index to load: Streamlit alone is started
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cli = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    streamlit: list[int] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("pathatlas ui never served its page")
        streamlit = children_of(cli.pid)
        assert len(streamlit) == 1, streamlit
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=60)
        deadline = time.time() + 30
        while alive(streamlit[0]) and time.time() < deadline:
            time.sleep(0.2)
        assert not alive(streamlit[0]), "Streamlit outlived pathatlas ui"
        with pytest.raises(httpx.HTTPError):  # and its port is free again
            httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        for pid in streamlit:  # the processes this test started, by their ids
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if cli.poll() is None:
            cli.kill()
            cli.wait()
