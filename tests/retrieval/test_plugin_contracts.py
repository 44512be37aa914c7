"""The smallest plug-ins the docstrings allow work, and what a plug-in may get wrong is refused, or mended, where it is
checked: an encoder without an ``__init__``; a store leaving ``exact_vectors`` at its safe default; rows not of unit
length; a store attribute hiding a call of the contract. An index naming plug-ins says in one refusal all there is to
trust, and how; an ``Atlas`` on a qdrant-client local copy that is never closed exits quietly."""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest

from pathatlas.plugins import checked_vectors, encoded
from pathatlas.retrieval.encoders import Encoder, create_encoder, l2_normalise
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import open_store
from pathatlas.retrieval.stores.base import VectorStore, matches
from pathatlas.settings import Settings
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new, one_error_line, run_cli
from tests.retrieval import test_stores
from tests.retrieval.test_index_folder_faults import qdrant_index

HERE = "py:tests.retrieval.test_plugin_contracts"
STORE = "py:pathatlas.retrieval.stores.faiss_store.FaissStore"
"""The FAISS store named as a plug-in is named: code an index records."""


class Smallest(Encoder):
    """As ``Encoder``'s docstring says a plug-in is written: no ``__init__``, built as ``Class(settings)``."""

    name = "smallest"
    dims = {"text": 8}
    text_spaces = ("text",)

    def encode_text(self, texts):
        return {"text": l2_normalise(np.ones((len(texts), 8), dtype=np.float32))}

    def encode_image(self, images):
        return self.empty(self.image_spaces)


class Unnormalised(HashingEncoder):
    """The hashing encoder, its text rows 1000 long: a plug-in that forgot to normalise."""

    def encode_text(self, texts):
        return {"text": 1000.0 * super().encode_text(texts)["text"]}


class KeptInADict(VectorStore):
    """A store as ``VectorStore``'s docstring lets a plug-in write one, ``exact_vectors`` left at its safe default
    (though its vectors come back exact): rows in a dict, for one process."""

    kind = "dict"

    def __init__(self, location, dims, settings):
        super().__init__(location, dims, settings)
        self.rows: dict[str, StoredVectors] = {}

    def upsert(self, records):
        self.rows.update((record.id, record) for record in records)

    def scanned(self, filters) -> list[tuple[str, StoredVectors]]:
        return [(record_id, record) for record_id, record in self.rows.items() if matches(record.payload, filters)]

    def delete(self, filters):
        gone = self.scanned(filters)
        for record_id, _ in gone:
            del self.rows[record_id]
        return len(gone)

    def search(self, space, queries, k, filters=None):
        held = [(rid, r.vectors[space]) for rid, r in self.scanned(filters) if space in r.vectors]
        return [sorted(((rid, float(v @ query)) for rid, v in held), key=lambda hit: -hit[1])[:k] for query in queries]

    def payloads(self, ids):
        return {record_id: self.rows[record_id].payload for record_id in ids if record_id in self.rows}

    def vectors(self, ids):
        return {record_id: dict(self.rows[record_id].vectors) for record_id in ids if record_id in self.rows}

    def scan(self, filters=None):
        return iter([(record_id, record.payload) for record_id, record in self.scanned(filters)])

    def count(self, space=None):
        return sum(space is None or space in record.vectors for record in self.rows.values())

    def commit(self):
        """Nothing outlives the process."""


class KeepsRowsInRecords(KeptInADict):
    """Its rows under the natural name ``self.records``, which is ``VectorStore.records()``, what the export calls."""

    def __init__(self, location, dims, settings):
        super().__init__(location, dims, settings)
        self.records = self.rows


def test_the_smallest_encoder_the_docstring_allows_is_built(tmp_path):
    """It failed to start: "TypeError: Smallest() takes no arguments"."""
    encoder = create_encoder(f"{HERE}.Smallest", Settings(home=tmp_path, device="cpu"))
    assert encoder.settings.home == tmp_path and encoder.encode_text(["a", "b"])["text"].shape == (2, 8)


def test_a_store_leaving_exact_vectors_at_its_safe_default_passes_the_shared_suite(settings, tmp_path):
    """The suite's test asked ``exact_vectors == kept``: a plug-in saying ``False`` of exact vectors failed it."""
    kind = f"{HERE}.KeptInADict"
    test_stores.test_each_store_says_truly_whether_it_gives_back_the_very_vectors_it_was_given(kind, settings, tmp_path)


def test_rows_off_unit_length_are_scaled_to_it_and_unit_rows_kept_bit_for_bit(tmp_path):
    """Rows 1000 long were stored as given: their scores grew a million times and outweighed the other spaces."""
    settings = Settings(home=tmp_path, device="cpu")
    texts = ["koilocytes in cervical epithelium", "Langhans giant cells"]
    plain, forgetful = HashingEncoder(settings), Unnormalised(settings)
    given = plain.encode_text(texts)["text"]
    kept = encoded(HashingEncoder.name, plain.encode_text, texts, plain.text_spaces, plain.dims)["text"]
    scaled = encoded(f"{HERE}.Unnormalised", forgetful.encode_text, texts, plain.text_spaces, plain.dims)["text"]
    assert np.array_equal(kept, given)
    np.testing.assert_allclose(scaled, given, atol=1e-6)
    assert scaled.dtype == np.float32
    zeros = checked_vectors({"text": np.zeros((1, 4))}, 1, ("text",), {"text": 4}, "zeros", "encode_text")["text"]
    assert not zeros.any(), "a row of zeros has no direction to keep"


def test_an_index_built_by_an_encoder_that_forgot_to_normalise_holds_unit_vectors(tmp_path):
    settings = hashing_settings(tmp_path, encoder=f"{HERE}.Unnormalised")
    index_new(settings, make_pdf(tmp_path / "lib" / "book.pdf", 2, "granuloma"))
    with Index.open(settings.index_dir, settings) as index:
        stored = index.store.vectors([record_id for record_id, _ in index.store.scan()])
        lengths = [np.linalg.norm(vectors["text"]) for vectors in stored.values() if "text" in vectors]
    assert lengths and np.allclose(lengths, 1, atol=1e-5), lengths


def test_a_store_attribute_hiding_a_call_of_the_contract_is_one_line_naming_both(tmp_path, monkeypatch):
    """Rows kept in ``self.records`` indexed and searched, then ``pathatlas export`` ended in "TypeError: 'dict'
    object is not callable"."""
    monkeypatch.delenv("PATHATLAS_STORE", raising=False)
    book = make_pdf(tmp_path / "lib" / "book.pdf", 1, "granuloma")
    shadowing = f"{HERE}.KeepsRowsInRecords"
    refused = run_cli("index", book, "--index", tmp_path / "idx", "--store", shadowing, home=tmp_path)
    said = "store tests.retrieval.test_plugin_contracts.KeepsRowsInRecords sets self.records to a dict, hiding its call"
    one_error_line(refused, said, "records()")
    store = open_store(f"{HERE}.KeptInADict", tmp_path / "store", {"text": 4}, Settings(home=tmp_path))
    store.scan = lambda filters=None: iter(())  # a call in a call's place (a test's spy) is the store's own business
    assert list(store.records()) == []


@pytest.fixture
def plugin_index(tmp_path, monkeypatch):
    """A book indexed with the hashing encoder and the FAISS store, both named as ``py:`` plug-ins, with neither named
    in the environment afterwards; returns the index folder."""
    for variable in ("PATHATLAS_ENCODER", "PATHATLAS_STORE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATHATLAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATHATLAS_CASE_KEYPOINTS", "0")
    book = make_pdf(tmp_path / "lib" / "book.pdf", 2, "granuloma")
    built = run_cli("index", book, "--index", tmp_path / "idx", "--encoder", HashingEncoder.name, "--store", STORE)
    assert built.exit_code == 0, built.output
    return tmp_path / "idx"


def test_one_refusal_names_all_the_code_an_index_names_and_following_it_works(plugin_index):
    """The store was refused first; once it was trusted, the encoder on the next try."""
    encoder = HashingEncoder.name
    line = one_error_line(run_cli("search", "granuloma", "--index", plugin_index), f"names code (store '{STORE}')")
    assert f"and code (encoder '{encoder}') with PATHATLAS_ENCODER={encoder}" in line, line
    assert f"'pathatlas index --store {STORE} --encoder {encoder}'" in line, line
    trusted = run_cli("search", "granuloma", "--index", plugin_index, PATHATLAS_STORE=STORE, PATHATLAS_ENCODER=encoder)
    assert trusted.exit_code == 0, trusted.output


def test_another_encoder_asked_of_an_index_built_with_code_says_how_to_use_its_own(plugin_index):
    """It said to name none, which is refused for code the index names."""
    encoder = HashingEncoder.name
    asked = run_cli("search", "granuloma", "--index", plugin_index, PATHATLAS_STORE=STORE, PATHATLAS_ENCODER="default")
    line = one_error_line(asked, f"encoder '{encoder}', not 'default' as asked")
    assert f"trust it by naming it (--encoder {encoder}, or PATHATLAS_ENCODER={encoder})" in line, line
    assert "name none" not in line, line


UNCLOSED = """
import sys
from pathatlas import Atlas
atlas = Atlas(sys.argv[1], home=sys.argv[2], encoder=sys.argv[3], case_keypoints=False)
print(len(atlas.search("alpha page", k=2)))
"""
"""A notebook's script: an ``Atlas`` searched and never closed."""


def test_an_atlas_on_a_local_qdrant_copy_never_closed_exits_quietly_and_lets_go_of_it_once_dropped(tmp_path):
    """qdrant-client's own ``__del__`` ran at interpreter exit: "Exception ignored ... sys.meta_path is None"."""
    settings, twin = qdrant_index(tmp_path)
    script = [sys.executable, "-c", UNCLOSED, settings.index_dir, settings.home, HashingEncoder.name]
    done = subprocess.run(list(map(str, script)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "2", done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr
    copy = settings.model_copy(update={"qdrant_url": str(twin)})
    dropped = open_store("qdrant", tmp_path / "store", {"text": 4}, copy)
    del dropped
    gc.collect()
    open_store("qdrant", tmp_path / "store", {"text": 4}, copy).close()  # the copy's lock went with the store
