"""An operator's and a lecturer's reports: an index job's progress that moved only per encoder batch ("0/250" for 12 s
of a zipped case folder, then 64 at a time), and a case card whose organ line printed a 3000-character organ whole."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings
from tests.ui.test_web_ui_library_and_search_lines import run_app, searched, unescaped


def case_folder(folder: Path, images: int, organ: str = "lung") -> Path:
    """``folder`` holding ``images`` cases of one image each, every one a granuloma of ``organ``."""
    folder.mkdir()
    rows = []
    for n in range(images):
        Image.new("RGB", (64, 64), (40 * n, 120, 200 - 30 * n)).save(folder / f"img{n}.png")
        rows.append({"image": f"img{n}.png", "case": f"C{n}", "diagnosis": "granuloma", "organ": organ})
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def events_of_indexing(tmp_path: Path, monkeypatch, path: Path, case_keypoints: bool) -> list:
    """What indexing ``path`` did, in order: "keypoints" (an image's), "encode" (a batch's) and each progress report's
    units done."""
    events: list = []
    keypoints, encode = pipeline.keypoints, Indexer.encode
    monkeypatch.setattr(pipeline, "keypoints", lambda images: events.append("keypoints") or keypoints(images))
    monkeypatch.setattr(Indexer, "encode", lambda self, *a: events.append("encode") or encode(self, *a))
    settings = hashing_settings(tmp_path, case_keypoints=case_keypoints)
    index = Index.open(settings.index_dir, settings, create=True)
    indexer = Indexer(index, show_progress=False, on_progress=lambda key, done, total: events.append(done))
    assert [s.status for s in indexer.add([path]).sources] == ["indexed"]
    return events


def test_case_images_count_one_by_one_as_their_keypoints_are_made_not_once_their_batch_is_encoded(
    tmp_path, monkeypatch
):
    """Four images, one batch: each counts once read with its keypoints (the 0.2 s each that kept a 250-image upload
    at "0/250"), before the batch is encoded; below the total (4) until committed."""
    events = events_of_indexing(tmp_path, monkeypatch, case_folder(tmp_path / "cases", 4), case_keypoints=True)
    first_encode = events.index("encode")
    assert events[:first_encode] == [0, "keypoints", 1, "keypoints", 2, "keypoints", 3, "keypoints", 3], events
    assert events[-1] == 4


def test_pages_count_one_by_one_before_their_batch_is_encoded(tmp_path, monkeypatch):
    """A PDF's pages count as they are read, as case images do, within the first batch (64 entries)."""
    events = events_of_indexing(tmp_path, monkeypatch, make_pdf(tmp_path / "atlas.pdf", 5, "paged"), False)
    assert events[: events.index("encode")] == [0, 1, 2, 3, 4, 4], events
    assert events[-1] == 5


CASE_CARD = (
    searched("granuloma")
    + """
captions = [c.value for c in app.caption]
next(b for b in app.button if b.label.startswith("Open case ")).click().run()
said({"captions": captions, "viewer": [m.value for m in app.markdown], "exceptions": [e.value for e in app.exception]})
"""
)


def test_a_case_card_shortens_a_long_organ_and_its_viewer_shows_it_whole(tmp_path, monkeypatch):
    """A 900-character organ (a case folder allows 1,000) filled the card; cut there (``CARD_ORGAN_CHARS``), the
    collection still named after it, while the case viewer shows it whole."""
    organ = ", ".join(f"organ number {n}" for n in range(56))
    assert 800 < len(organ) <= 1000
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([case_folder(tmp_path / "slides", 1, organ)]).failed
    monkeypatch.setenv("PATHATLAS_ENCODER", HashingEncoder.name)
    seen = run_app(CASE_CARD, settings.index_dir, settings.home)
    assert seen["exceptions"] == [], seen["exceptions"]
    (line,) = [unescaped(c) for c in seen["captions"] if c.startswith("organ number 0")]
    shown, collection = line.split(" · ")
    assert collection == "slides" and shown.endswith("…") and len(shown) <= 80, line[:200]
    assert organ.startswith(shown.removesuffix("…")), shown
    assert any(f"**Organ:** {organ}" in unescaped(text) for text in seen["viewer"]), "the viewer shows it whole"
