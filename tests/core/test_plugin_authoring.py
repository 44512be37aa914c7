"""Defects a plug-in author met: plug-in names, stores without snapshots, demo and export leftovers, settings."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from pathatlas.errors import BadInputError, EncoderMismatchError, PathAtlasError
from pathatlas.indexer.sources.base import Source
from pathatlas.retrieval.index import META_FILE, Index
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.similar import similar
from pathatlas.retrieval.stores.base import VectorStore
from pathatlas.retrieval.stores.faiss_store import FaissStore
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.cli import demo_only
from tests.helpers import one_error_line, run_cli
from tests.retrieval.test_encoders import HashEncoder

HERE = "py:tests.core.test_plugin_authoring"


class Renamed(HashEncoder):
    """A plug-in whose ``name`` is not the ``py:`` path that builds it."""

    name = "renamed"


class NoVectorStore(FaissStore):
    """A store that cannot give its vectors back (the protocol's default)."""

    kind = "no-vectors"
    vectors = VectorStore.vectors
    records = VectorStore.records


class UnimplementedVectorStore(FaissStore):
    """A store whose ``vectors`` says so Python's way."""

    kind = "unimplemented"
    records = VectorStore.records

    def vectors(self, ids):
        raise NotImplementedError


def plugin_settings(session_home, folder: Path, **updates) -> Settings:
    return Settings(home=session_home, index=folder, encoder=f"{HERE}.Renamed", **updates)


def filled(settings: Settings, store: str, stale: bool = False) -> Index:
    """An index of three text records, committed by hand (one of a version the generation does not list)."""
    index = Index.open(settings.index_dir, settings, create=True, store=store)
    vectors = index.encoder.encode_text(["alpha", "alphabet", "banana"])["text"]
    fingerprints = ["live", "live", "stale" if stale else "live"]
    index.raw_store.upsert(
        [
            StoredVectors(rid, {"kind": "page", "source": "notes", "fingerprint": fp, "text": rid}, {"text": v})
            for rid, fp, v in zip("abc", fingerprints, vectors, strict=True)
        ]
    )
    index.commit({"notes": {"id": "n", "fingerprint": "live", "kind": "txt", "entries": 3 - stale}})
    return index


# 1. demo never deletes an index it did not build


def test_demo_refuses_to_rebuild_an_index_that_is_not_its_own(demo_corpus, session_home, tmp_path, monkeypatch):
    monkeypatch.setattr("pathatlas.corpora.demo.build_demo_corpus", lambda folder: demo_corpus)
    folder = tmp_path / "mine"
    filled(plugin_settings(session_home, folder), "faiss").close()
    result = run_cli("demo", "--index", folder, PATHATLAS_HOME=str(session_home))
    assert result.exit_code == 1 and "was built with encoder" in result.output, result.output
    assert (folder / META_FILE).is_file() and (folder / "store").is_dir()

    assert not demo_only(folder, demo_corpus, own=False)
    (tmp_path / "demo").mkdir()
    document = {"generation": 1, "store_version": "1", "lexical": "g000001", "sources": {str(demo_corpus): {}}}
    (tmp_path / "demo" / "manifest.json").write_text(json.dumps(document))
    assert demo_only(tmp_path / "demo", demo_corpus, own=False)
    assert "<PATHATLAS_HOME>/demo-index" in run_cli("demo", "--help").output


# 2. a plug-in encoder's index reopens with the name that built it


def test_a_plugin_encoder_named_otherwise_reopens_with_its_py_path(session_home, tmp_path):
    settings = plugin_settings(session_home, tmp_path / "idx")
    Index.open(settings.index_dir, settings, create=True).close()
    assert json.loads((tmp_path / "idx" / META_FILE).read_text())["encoder"] == f"{HERE}.Renamed"
    reopened = Index.open(settings.index_dir, settings)
    assert reopened.encoder.name == "renamed"
    reopened.close()
    with pytest.raises(EncoderMismatchError, match="was built with encoder"):
        Index.open(settings.index_dir, settings.model_copy(update={"encoder": "default"}))

    meta = json.loads((tmp_path / "idx" / META_FILE).read_text())  # made before the py: path was recorded
    (tmp_path / "idx" / META_FILE).write_text(json.dumps({**meta, "encoder": "renamed"}))
    legacy = Index.open(settings.index_dir, settings)
    assert legacy.encoder.name == "renamed"
    legacy.close()


# 3. stores without snapshots give their vectors; export reports and cleans up


def test_find_similar_and_export_on_a_store_without_snapshots(session_home, tmp_path):
    settings = plugin_settings(session_home, tmp_path / "idx", store="qdrant")
    index = filled(settings, "qdrant", stale=True)
    try:
        hits = similar(Searcher(index), "a", k=5)
        assert [hit.id for hit in hits] == ["b"]  # never itself, never a record of an uncommitted version
        assert set(index.store.vectors(["a", "c"])) == {"a"}
        assert [r.id for batch in index.store.records() for r in batch] in (["a", "b"], ["b", "a"])
    finally:
        index.close()
    out = tmp_path / "exported"
    env = {"PATHATLAS_HOME": str(session_home), "PATHATLAS_ENCODER": f"{HERE}.Renamed"}
    result = run_cli("export", "--index", tmp_path / "idx", "--to", tmp_path / "twin", "--out", out, "--json", **env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["records"] == 2


@pytest.mark.parametrize("plugin", ["NoVectorStore", "UnimplementedVectorStore"])
def test_export_of_a_store_that_cannot_list_vectors_is_one_line_and_leaves_nothing(session_home, tmp_path, plugin):
    store = f"{HERE}.{plugin}"
    filled(plugin_settings(session_home, tmp_path / "idx"), store).close()
    env = {"PATHATLAS_HOME": str(session_home), "PATHATLAS_ENCODER": f"{HERE}.Renamed", "PATHATLAS_STORE": store}
    out, twin = tmp_path / "exported", tmp_path / "twin"
    result = run_cli("export", "--index", tmp_path / "idx", "--to", twin, "--out", out, **env)
    assert one_error_line(result, "cannot return stored vectors") == result.output.splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no staging folder, no twin, no --out


# 4. a fusion weight of 0 turns its ranker off for text queries too


def test_a_zero_weight_leaves_its_ranker_out_of_text_search(demo_index, monkeypatch):
    text, defaults = "granuloma with giant cells", demo_index.settings

    def order(use=("bm25", "dense"), **weights):
        monkeypatch.setattr(demo_index, "settings", defaults.model_copy(update=weights))
        return [hit.citation for hit in Searcher(demo_index).search(Query(text=text, k=8, use=use))]

    both, words, meaning = order(), order(use=("bm25",)), order(use=("dense",))
    assert words != meaning
    assert order(weight_bm25=0.0) == meaning
    assert order(weight_text=0.0) == words
    assert order(weight_bm25=1.0, weight_text=1.0, weight_joint=1.0) == both


# 5. a failed first index makes no index folder


def test_a_path_with_nothing_to_index_makes_no_index_folder(tmp_path, session_home):
    notes = tmp_path / "notes.txt"
    notes.write_text("Goblet cells secrete mucus.")
    result = run_cli("index", notes, "--index", tmp_path / "idx", PATHATLAS_HOME=str(session_home))
    assert result.exit_code == 1 and "neither a PDF nor a case folder" in result.output
    assert not (tmp_path / "idx").exists()


# 6. ~ in path settings


def test_home_and_index_settings_expand_the_users_home(monkeypatch):
    monkeypatch.setenv("PATHATLAS_HOME", "~/ph")
    monkeypatch.setenv("PATHATLAS_INDEX", "~/ph-index")
    settings = load_settings()
    assert settings.home == Path.home() / "ph" and settings.cache_dir == Path.home() / "ph" / "cache"
    assert settings.index_dir == Path.home() / "ph-index"


# 7. help and errors say what each command takes


def test_plugin_store_error_and_help_name_what_the_command_takes(session_home, tmp_path):
    store = f"{HERE}.NoVectorStore"
    settings = plugin_settings(session_home, tmp_path / "idx")
    Index.open(settings.index_dir, settings, create=True, store=store).close()
    with pytest.raises(PathAtlasError, match=f"with PATHATLAS_STORE={store} \\(or 'pathatlas index --store"):
        Index.open(settings.index_dir, settings)
    shown = " ".join(run_cli("index", "--help").output.split())
    assert "py:package.module.Class" in shown.split("--encoder")[1] and "st:" in shown.split("--encoder")[1]
    assert "py:package.module.Class" in shown.split("--store")[1].split("--encoder")[0]
    assert "<PATHATLAS_HOME>/index" in shown


# 8. plug-in contracts


def test_the_store_suite_runs_on_a_plugin_store_named_in_the_environment(monkeypatch, settings, tmp_path):
    plugin = "py:pathatlas.retrieval.stores.faiss_store.FaissStore"
    monkeypatch.setenv("PATHATLAS_TEST_STORES", plugin)
    suite_file = Path(__file__).parent.with_name("retrieval") / "test_stores.py"
    spec = importlib.util.spec_from_file_location("store_suite", suite_file)
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    assert suite.STORES[-1] == plugin
    assert isinstance(suite.make_store(plugin, tmp_path / "store", settings), FaissStore)


def test_the_source_contract_says_pages_need_passages_to_be_found_by_words():
    assert "Passage" in Source.__doc__ and "BM25 does not read" in Source.__doc__


# 9. settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PATHATLAS_THUMBNAIL_PX", "0", "PATHATLAS_THUMBNAIL_PX='0'"),
        ("PATHATLAS_PAGE_RENDER_DPI", "0", "PATHATLAS_PAGE_RENDER_DPI='0'"),
        ("PATHATLAS_SOURCES", '["myplug.source.TxtSource"]', "name each source as 'py:package.module.Class'"),
    ],
)
def test_settings_out_of_bounds_are_one_line_naming_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadInputError, match=message) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_ask_rounds_below_one_names_the_option(session_home, tmp_path):
    result = run_cli("ask", "Which?", "--rounds", "0", "--index", tmp_path, PATHATLAS_HOME=str(session_home))
    assert result.exit_code == 2 and "Invalid value for '--rounds'" in result.output
    assert "PATHATLAS_AGENT_ROUNDS" not in result.output


def test_the_ranker_file_setting_says_no_ranker_ships():
    from pathatlas.retrieval.fusion import RANKER_FILE

    assert not RANKER_FILE.is_file() and "none ships" in Settings.model_fields["ranker_file"].description
