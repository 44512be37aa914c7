"""Plug-ins that break their protocol (encoders, sources, answerers, stores) are refused in one line naming them, and
what was indexed before stays as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.agent.answerers import AnswerError, create_answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.questions import Question
from pathatlas.errors import EncoderError, PathAtlasError, UnknownNameError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Page, Passage, Record
from pathatlas.indexer.sources import discover
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.indexer.sources.fingerprints import on_disk, unloaded_reader
from pathatlas.plugins import import_plugin
from pathatlas.retrieval import search
from pathatlas.retrieval.encoders import Encoder, create_encoder
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.similar import similar
from pathatlas.retrieval.stores import open_store
from pathatlas.retrieval.stores.faiss_store import FaissStore
from pathatlas.ui import words
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.schemas import HitOut, Links
from tests.helpers import calls_to, hashing_settings, run_cli

HERE = "py:tests.core.test_plugins_misbehave"
BROKEN = "PATHATLAS_TEST_BROKEN"
"""The variable saying how ``Unreliable`` breaks its promise (unset: it keeps it); a variable, as pytest and the
encoder registry may each import this module under its own name."""


class Unreliable(HashingEncoder):
    """The hashing encoder, broken on demand (``BROKEN``) the ways testers' plug-ins were."""

    def encode_text(self, texts):
        if os.environ.get(BROKEN) == "raise":
            raise RuntimeError("GPU on fire")
        vectors = super().encode_text(texts)["text"]
        broken = {
            "width": {"text": vectors[:, :8]},
            "rows": {"text": vectors[:-1]},
            "space": {"txt": vectors},
            "nan": {"text": np.full_like(vectors, np.nan)},
            "list": [vectors],
        }
        return broken.get(os.environ.get(BROKEN, ""), {"text": vectors})


class Notes(Source):
    """A folder of ``*.md`` notes, a page (and its passage) each, as its own records should be."""

    kind = "notes"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_dir() and any(path.glob("*.md"))

    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.md"))

    def fingerprint(self) -> str:
        return hash_files(self.files())

    def size_hint(self) -> int:
        return len(self.files())

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        for number, file in enumerate(self.files(), start=1):
            yield from self.page(self.key, fingerprint, number, file.read_text())

    @staticmethod
    def page(source: str, fingerprint: str, number: int, text: str) -> list[Record]:
        image = Image.new("RGB", (10, 10), "white")
        return [
            Page(source=source, fingerprint=fingerprint, page=number, text=text, image=image),
            Passage(source=source, fingerprint=fingerprint, page=number, index=0, text=text, bbox=(0, 0, 1, 1)),
        ]


class PerFileNotes(Notes):
    """Names each record by its own file: a natural reading of ``source`` that ``remove`` cannot undo."""

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        for number, file in enumerate(self.files(), start=1):
            yield from self.page(str(file), fingerprint, number, file.read_text())


class SamePageNotes(Notes):
    """Every note as page 1: records of one id, of which a store would keep one."""

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        for file in self.files():
            yield from self.page(self.key, fingerprint, 1, file.read_text())


class NoImages(Encoder):
    """Leaves ``encode_image`` out."""

    name = "no-images"
    dims = {"text": 4}
    text_spaces = ("text",)

    def __init__(self, settings):
        self.settings = settings

    def encode_text(self, texts):
        return {"text": np.ones((len(texts), 4), np.float32) / 2}


class FailsToStart(HashingEncoder):
    def __init__(self, settings):
        raise RuntimeError("model file /models/x.bin missing")


class StoreFailsToStart(FaissStore):
    def __init__(self, location, dims, settings, version=None):
        raise RuntimeError("cluster unreachable")


class NotesFailToStart(Notes):
    def __init__(self, path, settings):
        raise RuntimeError("no parser for this dialect")


class Raises(OfflineAnswerer):
    name = "raises"

    def answer(self, question, evidence, support=None):
        raise ValueError("my model fell over")


class ReturnsDict(OfflineAnswerer):
    name = "dict"

    def answer(self, question, evidence, support=None):
        return {"choice": 0, "text": "x"}


def notes(folder: Path, **texts: str) -> Path:
    folder.mkdir(parents=True)
    for name, text in texts.items():
        (folder / f"{name}.md").write_text(text)
    return folder


@pytest.fixture
def plugged(tmp_path):
    """Settings of an index read by the ``Unreliable`` encoder and the ``Notes`` source plug-in."""
    return hashing_settings(tmp_path, encoder=f"{HERE}.Unreliable", sources=[f"{HERE}.Notes"])


def index_with(settings, *paths) -> Index:
    index = Index.open(settings.index_dir, settings, create=True)
    index.report = Indexer(index, show_progress=False).add(list(paths))
    return index


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("width", "shape (2, 8) for 2 inputs; expected (2, 16)"),
        ("rows", "shape (1, 16) for 2 inputs; expected (2, 16)"),
        ("space", "returned space 'txt', which it does not declare"),
        ("nan", "NaN"),
        ("list", "returned list, not a dict"),
    ],
)
def test_an_encoder_breaking_its_promise_fails_its_source_and_keeps_the_index(
    plugged, tmp_path, monkeypatch, mode, said
):
    settings = plugged
    kept = notes(tmp_path / "kept", granuloma="Caseating granuloma with giant cells")
    index_with(settings, kept)
    monkeypatch.setenv(BROKEN, mode)
    index = index_with(settings, notes(tmp_path / "new", fat="Adipose tissue", hpv="Koilocytes"))
    (failed,) = index.report.failed
    assert f"encoder '{HERE}.Unreliable': encode_text returned" in failed.problems[0] and said in failed.problems[0]
    monkeypatch.delenv(BROKEN)
    reopened = Index.open(settings.index_dir, settings)
    assert list(reopened.manifest) == [str(kept.resolve())] and reopened.store.count() == 2
    (hit, *_) = Searcher(reopened).search(Query(text="granuloma"))
    assert hit.citation.source == str(kept.resolve())


@pytest.mark.parametrize(
    ("mode", "said"),
    [("width", "encode_query returned 'text' vectors"), ("raise", "encode_query failed: RuntimeError")],
)
def test_a_query_encoder_breaking_its_promise_is_one_line_naming_it(plugged, tmp_path, monkeypatch, mode, said):
    settings = plugged
    index = index_with(settings, notes(tmp_path / "kept", granuloma="Caseating granuloma"))
    with TestClient(create_app(settings)) as client:
        assert client.app.state.engine.ready.wait(60), "warmed up while the encoder works"
        monkeypatch.setenv(BROKEN, mode)
        with pytest.raises(EncoderError, match=rf"encoder '{HERE}.Unreliable': {said}"):
            Searcher(index).search(Query(text="granuloma"))
        answered = client.post("/search", json={"text": "granuloma"})
    assert answered.status_code == 500 and f"encoder '{HERE}.Unreliable'" in answered.json()["detail"], answered.text


def test_an_encoder_raising_while_indexing_fails_its_source_naming_it(plugged, tmp_path, monkeypatch):
    settings = plugged
    index_with(settings, notes(tmp_path / "kept", granuloma="Caseating granuloma"))
    monkeypatch.setenv(BROKEN, "raise")
    index = index_with(settings, notes(tmp_path / "new", fat="Adipose tissue"))
    (failed,) = index.report.failed
    assert f"encoder '{HERE}.Unreliable': encode_text failed: RuntimeError: GPU on fire" in failed.problems[0]
    assert Index.open(settings.index_dir, settings).store.count() > 0, "what was indexed before stays"


@pytest.mark.parametrize(
    ("plugin", "said"),
    [
        ("PerFileNotes", "a record's source must be its Source's key"),
        ("SamePageNotes", "yielded two page records of id"),
    ],
)
def test_records_not_the_sources_own_are_refused_naming_the_plugin(plugged, tmp_path, plugin, said):
    settings = plugged.model_copy(update={"sources": [f"{HERE}.{plugin}"]})
    index = index_with(settings, notes(tmp_path / "n", fat="Adipose tissue", hpv="Koilocytes"))
    (failed,) = index.report.failed
    assert failed.problems[0].startswith(f"source '{HERE}.{plugin}' yielded") and said in failed.problems[0]
    assert Index.open(settings.index_dir, settings).store.count() == 0


def test_info_names_the_source_plugin_that_is_not_loaded(plugged, tmp_path):
    settings = plugged
    folder = notes(tmp_path / "n", fat="Adipose tissue")
    index = index_with(settings, folder)
    (entry,) = index.manifest.values()
    assert entry["reader"] == f"{HERE}.Notes"
    (folder / "fat.md").write_text("Adipose tissue, mature fat cells")  # changed: only the plug-in can tell how
    unplugged = settings.model_copy(update={"sources": []})
    assert unloaded_reader(entry, unplugged) == f"source plug-in {HERE}.Notes not loaded (set PATHATLAS_SOURCES)"
    assert on_disk(str(folder.resolve()), entry, unplugged) == "unknown"  # not "changed": re-indexing would fail too
    assert on_disk(str(folder.resolve()), entry, settings) == "changed"
    shown = run_cli("info", "--index", settings.index_dir, home=settings.home, PATHATLAS_ENCODER=f"{HERE}.Unreliable")
    assert shown.exit_code == 0 and f"source plug-in {HERE}.Notes not loaded" in shown.stdout, shown.output
    older = {key: value for key, value in entry.items() if key != "reader"}  # a manifest written before readers
    assert unloaded_reader(older, unplugged) is None and on_disk(str(folder.resolve()), older, unplugged) == "changed"


def test_page_links_only_for_pages_the_media_route_renders(plugged, tmp_path):
    settings = plugged
    folder = notes(tmp_path / "n", granuloma="Caseating granuloma")
    index = index_with(settings, folder)
    hits = Searcher(index).search(Query(text="granuloma"))
    assert hits and all(HitOut.of(hit, links=Links()).page_url is None for hit in hits)
    pdf_hit = Hit("a" * 24, 1.0, "page", "", Citation("/books/primer.pdf", page=2))
    assert urlsplit(HitOut.of(pdf_hit).page_url).path == f"/media/pages/{'a' * 24}"
    with TestClient(create_app(settings)) as client:
        answered = client.get(f"/media/pages/{hits[0].id}")
    assert answered.status_code == 404 and "not a PDF" in answered.json()["detail"]


def test_plugin_import_errors_say_why(tmp_path, monkeypatch):
    (tmp_path / "brokendep_mod.py").write_text("import nonexistent_lib_xyz\n")
    (tmp_path / "brokensyntax_mod.py").write_text("class E(object)\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownNameError, match="No module named 'nonexistent_lib_xyz'"):
        import_plugin("py:brokendep_mod.E", Encoder, "encoder")
    with pytest.raises(UnknownNameError, match=r"cannot import brokensyntax_mod.E \(SyntaxError: "):
        import_plugin("py:brokensyntax_mod.E", Encoder, "encoder")
    with pytest.raises(UnknownNameError, match=r"NoImages does not define encode_image \(abstract in Encoder\)"):
        import_plugin(f"{HERE}.NoImages", Encoder, "encoder")


def test_a_plugin_failing_to_start_is_one_line_naming_it(fast, tmp_path):
    with pytest.raises(PathAtlasError, match=rf"^encoder '{HERE}.FailsToStart' failed to start: RuntimeError: model"):
        create_encoder(f"{HERE}.FailsToStart", fast)
    with pytest.raises(PathAtlasError, match=rf"^store '{HERE}.StoreFailsToStart' failed to start: RuntimeError: clu"):
        open_store(f"{HERE}.StoreFailsToStart", tmp_path / "store", {"text": 16}, fast)
    folder = notes(tmp_path / "n", fat="Adipose tissue")
    sourced = fast.model_copy(update={"sources": [f"{HERE}.NotesFailToStart"]})
    with pytest.raises(PathAtlasError, match=rf"^source '{HERE}.NotesFailToStart' failed to start: RuntimeError: no"):
        discover([folder], sourced)


@pytest.mark.parametrize(
    ("answerer", "said"),
    [("Raises", "failed: ValueError: my model fell over"), ("ReturnsDict", "returned dict, not an Answer")],
)
def test_answerer_failures_are_one_answer_error_naming_it(fast, answerer, said):
    built = create_answerer(f"{HERE}.{answerer}", fast, None)
    with pytest.raises(AnswerError, match=rf"^answerer '\w+' \(tests.core.test_plugins_misbehave.{answerer}\) {said}"):
        built.answer(Question("What is a granuloma?"), [])


def test_rest_answers_an_answerer_failure_502_with_a_json_detail(plugged, tmp_path):
    settings = plugged
    index_with(settings, notes(tmp_path / "n", granuloma="Caseating granuloma with giant cells"))
    failing = settings.model_copy(update={"answerer": f"{HERE}.Raises"})
    with TestClient(create_app(failing)) as client:
        answered = client.post("/ask", json={"question": "What is a caseating granuloma?"})
        documented = client.get("/openapi.json").json()["paths"]
    assert answered.status_code == 502, answered.text
    assert all("502" in documented[path]["post"]["responses"] for path in ("/ask", "/ask/image")), "said in the schema"
    assert "answerer 'raises'" in answered.json()["detail"] and "my model fell over" in answered.json()["detail"]


def test_more_like_this_gives_the_store_a_batch(tmp_path):
    settings = hashing_settings(tmp_path, store="py:tests.retrieval.test_stores.BatchesOnly", sources=[f"{HERE}.Notes"])
    index = index_with(settings, notes(tmp_path / "n", fat="Adipose tissue fat", hpv="Koilocytes in cervix"))
    page = next(rid for rid, payload in index.store.scan({"kind": "page"}) if "Adipose" in payload["text"])
    assert [hit.kind for hit in similar(Searcher(index), page, k=3)]


def test_unknown_words_name_the_closest_as_a_refused_filter_does(monkeypatch):
    calls = calls_to(monkeypatch, "closest_spellings", search)
    assert words.closest_words("granulom", {"granuloma": "granuloma", "fat": "fat"}) == ("granuloma",)
    assert calls == [("granulom", {"granuloma": "granuloma", "fat": "fat"})]
