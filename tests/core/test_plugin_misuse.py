"""A tester's misuse of plug-ins and settings: a ranker file that is not there, an encoder without usable ``dims``, a
store plug-in that raises, the refusals' grammar and a second writer in one process, each one line saying so."""

from __future__ import annotations

import errno
import os
import re

import numpy as np
import pytest

from pathatlas.agent.answerers import Answerer
from pathatlas.errors import BadInputError, EncoderError, IndexBusyError, PathAtlasError, UnknownNameError
from pathatlas.plugins import import_plugin
from pathatlas.retrieval.encoders import Encoder
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.fusion import Ranker
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.stores import VectorStore, open_store, store_class
from pathatlas.retrieval.stores.faiss_store import FaissStore
from tests.core.test_plugins_misbehave import index_with, notes
from tests.helpers import hashing_settings, one_error_line, run_cli

HERE = "py:tests.core.test_plugin_misuse"
FAILURE = "PATHATLAS_TEST_STORE_FAILURE"
"""What ``Failing`` raises (unset: nothing); a variable, as pytest and the store registry may each import this module
under its own name."""

FAILURES = {
    "bug": RuntimeError("connection reset by peer"),
    "own": PathAtlasError("the cluster is read-only"),
    "full": OSError(errno.ENOSPC, "No space left on device", "/data/store"),
}


def fail() -> None:
    if failure := os.environ.get(FAILURE):
        raise FAILURES[failure]


class Failing(FaissStore):
    """A store plug-in whose searches and scans raise ``FAILURES[$FAILURE]``, as a client losing its server does."""

    kind = "failing"

    def search(self, space, queries, k, filters=None):
        fail()
        return super().search(space, queries, k, filters)

    def scan(self, filters=None):
        fail()  # at the first record asked for: a generator runs nothing before
        yield from super().scan(filters)


class NoDims(HashingEncoder):
    dims = None


class ZeroDims(HashingEncoder):
    dims = {"text": 0}


class FloatDims(HashingEncoder):
    dims = {"text": 16.0}


class UnsizedSpace(HashingEncoder):
    dims = {"visual": 16}


@pytest.fixture
def noted(tmp_path):
    """Settings of an index of one note, stored by ``Failing`` (which fails nothing until ``FAILURE`` is set)."""
    settings = hashing_settings(
        tmp_path, store=f"{HERE}.Failing", sources=["py:tests.core.test_plugins_misbehave.Notes"]
    )
    index_with(settings, notes(tmp_path / "n", granuloma="Caseating granuloma with giant cells")).close()
    return settings


# 1. a ranker file the user names must be there


def test_a_ranker_file_the_user_names_that_is_not_there_is_one_line_naming_the_setting(noted, tmp_path):
    missing = tmp_path / "rankers" / "ranker.json"
    env = {"PATHATLAS_STORE": noted.store, "PATHATLAS_RANKER_FILE": missing}
    result = run_cli("search", "granuloma", "--index", noted.index_dir, home=noted.home, **env)
    one_error_line(result, f"bad setting PATHATLAS_RANKER_FILE='{missing}': no such file", "bench tune-text")
    missing.parent.mkdir()
    folder = Index.open(noted.index_dir, noted.model_copy(update={"ranker_file": missing.parent}))
    with pytest.raises(BadInputError, match=r"^bad setting PATHATLAS_RANKER_FILE='.*rankers': a folder, not a file"):
        Searcher(folder)
    unset = Index.open(noted.index_dir, noted)
    assert Searcher(unset).ranker == Ranker.plain(), "unset: the shipped default's file, absent, is the plain fusion"


# 2. an encoder plug-in without usable dims


@pytest.mark.parametrize(
    ("plugin", "given"),
    [
        ("NoDims", "it sets none"),
        ("ZeroDims", "not {'text': 0}"),
        ("FloatDims", "not {'text': 16.0}"),
        ("UnsizedSpace", "not {'visual': 16}"),
    ],
)
def test_an_encoder_without_usable_dims_is_refused_naming_it(tmp_path, plugin, given):
    settings = hashing_settings(tmp_path, encoder=f"{HERE}.{plugin}")
    said = f"encoder '{HERE}.{plugin}': dims must map each space it declares ('text') to a positive int; {given}"
    with pytest.raises(EncoderError, match=f"^{re.escape(said)}$"):
        Index.open(settings.index_dir, settings, create=True)
    folder = notes(tmp_path / "n", fat="Adipose tissue")
    result = run_cli(
        "index", folder, "--index", settings.index_dir, home=settings.home, PATHATLAS_ENCODER=settings.encoder
    )
    one_error_line(result, said)


# 3. a store plug-in that raises


def test_a_store_plugin_failing_a_search_is_one_line_naming_it(noted, monkeypatch):
    env = {"PATHATLAS_STORE": noted.store, FAILURE: "bug"}
    result = run_cli("search", "granuloma", "--index", noted.index_dir, home=noted.home, **env)
    one_error_line(result, f"store '{HERE}.Failing': search failed: RuntimeError: connection reset by peer")
    index = Index.open(noted.index_dir, noted)
    monkeypatch.setenv(FAILURE, "bug")
    with pytest.raises(PathAtlasError, match=rf"^store '{HERE}.Failing': scan failed: RuntimeError: connection reset"):
        list(index.raw_store.scan())
    monkeypatch.delenv(FAILURE)
    assert [hit.kind for hit in Searcher(index).search(Query(text="granuloma"))], "it searches once its server is back"


@pytest.mark.parametrize("failure", ["own", "full"])
def test_a_store_plugins_own_errors_and_a_full_disk_pass_as_raised(tmp_path, monkeypatch, failure):
    """Its own one line, and an OS error its caller names with the index folder (``unwritable``), stay as they are."""
    store = open_store(f"{HERE}.Failing", tmp_path / "store", {"text": 4}, hashing_settings(tmp_path))
    monkeypatch.setenv(FAILURE, failure)
    with pytest.raises(type(FAILURES[failure])) as raised:
        store.search("text", np.ones((1, 4), np.float32), 3)
    assert str(raised.value) == str(FAILURES[failure]) and store.kind == "failing"
    assert store_class("faiss") is FaissStore, "built-in stores are not wrapped"


# 4. the refusals' grammar


def test_a_plugin_of_the_wrong_kind_is_refused_with_the_right_article():
    with pytest.raises(UnknownNameError, match=r"Failing is not an Encoder subclass$"):
        import_plugin(f"{HERE}.Failing", Encoder, "encoder")
    with pytest.raises(UnknownNameError, match=r"Failing is not an Answerer subclass$"):
        import_plugin(f"{HERE}.Failing", Answerer, "answerer")
    with pytest.raises(UnknownNameError, match=r"NoDims is not a VectorStore subclass$"):
        import_plugin(f"{HERE}.NoDims", VectorStore, "store")


# 5. a second writer in the same process


def test_a_second_writer_in_this_process_is_refused_in_words_true_of_it(fast):
    first = Index.open(fast.index_dir, fast, create=True)
    second = Index.open(fast.index_dir, fast)
    busy = pytest.raises(IndexBusyError, match="being changed by another writer")
    with first.writing(), busy as refused, second.writing():
        pass
    assert "another process" not in str(refused.value) and "in this process or another" in str(refused.value)
