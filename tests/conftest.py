"""Shared fixtures: models and the demo index are built once per session; the web UI over a copy of it once per
module (``ui_url``); everything else is per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Figure and query OCR follow whether tesseract is installed; the suite pins them off so results do not depend on the
# machine. Their own tests (test_ocr.py, test_query_ocr.py) turn them on, and check the unset default, explicitly.
os.environ.setdefault("PATHATLAS_FIGURE_OCR", "0")
os.environ.setdefault("PATHATLAS_QUERY_OCR", "0")

import pytest

from pathatlas.settings import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the checkout)")
    return path


@pytest.fixture
def pretend_tesseract(monkeypatch):
    """``pretend_tesseract(True)``: this machine has the tesseract program; ``(False)``: it has neither the program
    nor the library's English data, as where tesseract was never installed."""
    from pathatlas import tesseract

    def pretend(present: bool) -> None:
        monkeypatch.setattr(tesseract.shutil, "which", lambda name: f"/usr/bin/{name}" if present else None)
        if not present:
            monkeypatch.setattr(tesseract, "find_tessdata", lambda: None)

    return pretend


@pytest.fixture
def fast(tmp_path) -> Settings:
    """Settings for a fresh index under ``tmp_path`` with the hashing encoder: no model to load."""
    from tests.helpers import hashing_settings

    return hashing_settings(tmp_path)


@pytest.fixture
def hashing_cli(tmp_path, monkeypatch) -> Path:
    """CLI runs of the test, in process or not, are quick (``hashing_env``) on a home under ``tmp_path``, which is also
    the working folder; returns ``tmp_path``."""
    from tests.helpers import hashing_env

    for name, value in hashing_env(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


TINY_CLIP = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    """A randomly initialised open_clip model saved the way hf-hub repos and local folders hold one."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP)
    folder = tmp_path_factory.mktemp("tiny-clip")
    save_file(model.state_dict(), folder / "open_clip_model.safetensors")
    config = {"model_cfg": TINY_CLIP, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.25] * 3}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Path:
    """Model caches shared by the session (the MiniLM zip is extracted once)."""
    return tmp_path_factory.mktemp("pathatlas-home")


@pytest.fixture
def settings(session_home, tmp_path) -> Settings:
    """Fresh index folder per test, shared model cache."""
    return Settings(home=session_home, index=tmp_path / "index")


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    from pathatlas.corpora.demo import build_demo_corpus

    return build_demo_corpus(tmp_path_factory.mktemp("demo-corpus"))


@pytest.fixture(scope="session")
def demo_index(session_home, demo_corpus, tmp_path_factory):
    """The demo corpus indexed once with the default encoder and FAISS; tests must not modify it."""
    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index

    settings = Settings(home=session_home, index=tmp_path_factory.mktemp("demo") / "index")
    index = Index.open(settings.index_dir, settings, create=True)
    report = Indexer(index, show_progress=False).add([demo_corpus])
    assert not report.failed, report.failed
    return index


@pytest.fixture(scope="module")
def quick_index(tmp_path_factory, demo_corpus):
    """The demo corpus (its primer and cases DEMO-01 to -08, two images each) indexed with the hashing encoder (quick),
    once per module that asks for it; tests must not modify it."""
    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index
    from tests.helpers import hashing_settings

    settings = hashing_settings(tmp_path_factory.mktemp("quick-index"))
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([demo_corpus]).failed
    yield index
    index.close()


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory, demo_corpus) -> Path:
    """A root holding the demo primer and cases indexed by ``Atlas`` with the hashing encoder (``helpers.demo_atlas``),
    once per session; tests must not modify it."""
    from tests.helpers import demo_atlas

    return demo_atlas(tmp_path_factory.mktemp("quick-demo"), demo_corpus)


@pytest.fixture
def quick_atlas(quick_demo):
    """``Atlas`` opened on ``quick_demo`` (``helpers.quick``) for one test, closed after."""
    from pathatlas.ui.library import Atlas
    from tests.helpers import quick

    with Atlas(quick_demo / "index", **quick(quick_demo)) as opened:
        yield opened


@pytest.fixture(scope="module")
def ui_sources() -> list[Path]:
    """What a module's web UI (``ui_url``) serves beside the demo index: nothing, unless the module overrides this."""
    return []


@pytest.fixture(scope="module")
def ui_index(demo_index, ui_sources, tmp_path_factory) -> Path:
    """A copy of the demo index with ``ui_sources`` added: the module's browser tests may add and remove sources. A
    module whose web UI serves another index overrides this fixture."""
    import shutil

    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index

    index = tmp_path_factory.mktemp("ui") / "index"
    shutil.copytree(demo_index.path, index)
    if ui_sources:
        settings = demo_index.settings.model_copy(update={"index": index})
        report = Indexer(Index.open(index, settings), show_progress=False).add(ui_sources)
        assert not report.failed, report.failed
    return index


@pytest.fixture(scope="module")
def ui_url(ui_index) -> Iterator[str]:
    """The URL of the web UI over ``pathatlas serve`` of ``ui_index``, for the module's browser tests."""
    from tests.servers import ui_over

    with ui_over(ui_index) as url:
        yield url


@pytest.fixture(scope="module")
def page(ui_url):
    """The browser's tab on the module's web UI (``ui_url``), its app drawn: Debian's chromium (``test_browser.launch``)
    through Playwright, one tab for the module."""
    from tests.ui.test_browser import ARTIFACTS, launch, sync_api  # here: that module skips itself without Playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        tab = browser.new_page(viewport={"width": 1400, "height": 1300})
        tab.set_default_timeout(60_000)
        tab.goto(ui_url)
        tab.get_by_text("PathAtlas").first.wait_for()
        yield tab
        browser.close()
