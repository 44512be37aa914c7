"""An index opens with the encoder and store it records where none is asked for, and refuses another one asked for,
naming both; a ``py:`` plug-in it records is code, imported only when named (``names_code``): ``info`` needs no
encoder, so it describes such an index unasked."""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient

from pathatlas.errors import EncoderMismatchError
from pathatlas.retrieval import encoders
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import one_error_line, run_cli

STORE = "py:pathatlas.retrieval.stores.faiss_store.FaissStore"
"""The FAISS store named as a plug-in is named."""
UNSTARTABLE = "py:tests.retrieval.test_plugin_memory.Unstartable"
CANNOT_START = "PATHATLAS_TEST_CANNOT_START"
"""Set, ``Unstartable`` fails to start."""


class Unstartable(HashingEncoder):
    """The hashing encoder, whose constructor raises while ``CANNOT_START`` is set: a command that builds it fails."""

    def __init__(self, settings: Settings):
        if os.environ.get(CANNOT_START):
            raise RuntimeError("built")
        super().__init__(settings)


@pytest.fixture
def plugin_index(tmp_path, monkeypatch):
    """``index(*options)``: a three-page book indexed with those options into ``tmp_path/idx``, on a home there, with
    no encoder nor store in the environment; returns the folder."""
    for variable in ("PATHATLAS_ENCODER", "PATHATLAS_STORE", CANNOT_START):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATHATLAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATHATLAS_CASE_KEYPOINTS", "0")

    def index(*options: str):
        book = make_pdf(tmp_path / "lib" / "book.pdf", 3, "v1")
        result = run_cli("index", book, "--index", tmp_path / "idx", *options)
        assert result.exit_code == 0, result.output
        return tmp_path / "idx"

    return index


def test_a_plugin_encoder_is_described_unasked_and_used_once_named(plugin_index):
    index = plugin_index("--encoder", HashingEncoder.name)
    shown = run_cli("info", "--index", index, "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["encoder"] == HashingEncoder.name, shown.output
    trust = f"names code (encoder '{HashingEncoder.name}'); trust it explicitly with PATHATLAS_ENCODER="
    one_error_line(run_cli("search", "granuloma", "--index", index), trust)
    one_error_line(run_cli("ask", "Which page names granuloma?", "--index", index), trust)
    named = {"PATHATLAS_ENCODER": HashingEncoder.name}
    found = run_cli("search", "granuloma koilocyte", "--index", index, "--json", **named)
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["citation"]["page"] == 1
    asked = run_cli("ask", "Which page names granuloma?", "--index", index, "--json", **named)
    assert asked.exit_code == 0 and json.loads(asked.stdout)["citations"], asked.output
    added = run_cli("index", make_pdf(index.parent / "more.pdf", 1, "v2"), "--index", index, **named)
    assert added.exit_code == 0, added.output


def test_another_encoder_or_store_asked_for_is_refused_naming_both(plugin_index):
    index = plugin_index("--encoder", HashingEncoder.name)
    for command in (("search", "granuloma"), ("info",)):
        refused = run_cli(*command, "--index", index, PATHATLAS_ENCODER="default")
        one_error_line(refused, f"encoder '{HashingEncoder.name}', not 'default' as asked")
    other = run_cli("index", index.parent / "lib", "--index", index, "--encoder", "st:/models/minilm")
    one_error_line(other, f"encoder '{HashingEncoder.name}', not 'st:/models/minilm' as asked")
    one_error_line(run_cli("info", "--index", index, PATHATLAS_STORE="qdrant"), "store 'faiss', not 'qdrant' as asked")


def test_info_opens_an_index_without_building_its_encoder(plugin_index, monkeypatch):
    index = plugin_index("--encoder", UNSTARTABLE)
    monkeypatch.setenv(CANNOT_START, "1")
    monkeypatch.setattr(encoders, "_cache", {})  # the encoder the index command built is not at hand
    shown = run_cli("info", "--index", index, "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["encoder"] == UNSTARTABLE, shown.output
    named = {"PATHATLAS_ENCODER": UNSTARTABLE}
    one_error_line(
        run_cli("search", "granuloma", "--index", index, **named), f"encoder '{UNSTARTABLE}' failed to start"
    )


def test_a_plugin_store_is_opened_only_once_named(plugin_index):
    index = plugin_index("--encoder", HashingEncoder.name, "--store", STORE)
    one_error_line(run_cli("info", "--index", index), f"names code (store '{STORE}'); trust it explicitly")
    shown = run_cli("info", "--index", index, "--json", PATHATLAS_STORE=STORE)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["store"] == STORE, shown.output
    found = run_cli(
        "search", "granuloma", "--index", index, "--json", PATHATLAS_STORE=STORE, PATHATLAS_ENCODER=HashingEncoder.name
    )
    assert found.exit_code == 0 and json.loads(found.stdout), found.output
    one_error_line(run_cli("info", "--index", index, PATHATLAS_STORE="faiss"), f"store '{STORE}', not 'faiss' as asked")


def test_the_rest_service_serves_with_the_plugins_the_index_was_built_with(plugin_index, tmp_path):
    index = plugin_index("--encoder", HashingEncoder.name, "--store", STORE)
    named = {"encoder": HashingEncoder.name, "store": STORE}
    with TestClient(create_app(Settings(home=tmp_path / "home", index=index, case_keypoints=False, **named))) as client:
        health = client.get("/health").json()
        assert (health["encoder"], health["store"]) == (HashingEncoder.name, STORE)
        hits = client.post("/search", json={"text": "granuloma koilocyte", "k": 3}).json()["hits"]
        assert hits and hits[0]["citation"]["page"] == 1
        answer = client.post("/ask", json={"question": "Which page names granuloma?"})
        assert answer.status_code == 200 and answer.json()["citations"], answer.text
    with pytest.raises(EncoderMismatchError, match=f"encoder '{HashingEncoder.name}', not 'default' as asked"):
        Engine(Settings(home=tmp_path / "home", index=index, encoder="default"))


@pytest.mark.parametrize("recorded", ["hf-hub:someone/model", "st:/models/minilm", "local-dir:/srv/clip"])
def test_a_model_outside_the_index_is_loaded_only_once_named(tmp_path, recorded):
    """A shared index naming a model repository or a path made ``search`` fetch or read it unasked."""
    from pathatlas.errors import PathAtlasError
    from pathatlas.retrieval.index import names_code

    with pytest.raises(PathAtlasError, match=f"names a model outside it \\(encoder '{recorded}'\\)"):
        names_code(tmp_path, "encoder", recorded, None)
    names_code(tmp_path, "encoder", recorded, recorded)  # named: used
    names_code(tmp_path, "encoder", "default", None)  # the shipped one: used unasked
    names_code(tmp_path, "store", "qdrant", None)
