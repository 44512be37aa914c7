"""What a store can do is its own to say (``VectorStore.opens_twice``, ``exact_vectors``), never read from its name:
a store under any name is written and re-indexed as its flags say. Also: one scan finds an indexed copy of a source's
bytes, and ``newcombe_paired``'s interval is 95% by contract."""

from __future__ import annotations

import pytest

from pathatlas.agent.bench.stats import newcombe_paired
from pathatlas.indexer.pipeline import indexed_copy
from pathatlas.retrieval import stores
from pathatlas.retrieval.stores.faiss_store import FaissStore
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.indexing import Jobs
from tests.helpers import hashing_settings
from tests.indexer.test_text_reuse import PAGES, build, small_passages, upgrade, write_pdf

PLUGGED = f"py:{__name__}.Plugged"


class Plugged(FaissStore):
    """FAISS under a plug-in's name: it opens twice, and keeps exact vectors only where ``faiss_index`` is ``hnsw``."""


class Contrary(FaissStore):
    """Registered as "faiss" (``contrary_faiss``), yet opening once at a time as Qdrant's local copy does, and saying
    it keeps the exact vectors whatever ``faiss_index`` names (true below ``hnsw_threshold``, as in these tests)."""

    opens_twice = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.exact_vectors = True


@pytest.fixture
def contrary_faiss(monkeypatch):
    monkeypatch.setitem(stores.STORES, "faiss", lambda: Contrary)


@pytest.mark.parametrize(("store", "private"), [(PLUGGED, True), ("faiss", False)])
def test_a_server_writes_through_an_index_of_its_own_only_where_the_store_opens_twice(
    tmp_path, contrary_faiss, store, private
):
    engine = Engine(hashing_settings(tmp_path, store=store))
    writer = Jobs.around(engine).writer.target()
    try:
        assert (writer is not engine.index) == private
    finally:
        if writer is not engine.index:
            writer.close()
        engine.close()


CORRECTED = [PAGES[0], [PAGES[1][0], "surfactant keeps the small alveoli from collapsing on breathing out"], PAGES[2]]
"""``PAGES`` with one passage corrected: re-read, its page and that passage are new texts, the others are not."""


@pytest.mark.parametrize(("store", "copied"), [(PLUGGED, False), ("faiss", True)])
def test_a_re_index_copies_vectors_only_from_a_store_that_keeps_them_exact(tmp_path, contrary_faiss, store, copied):
    settings = small_passages(tmp_path, store=store, faiss_index="hnsw-sq8")
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    index, first = build(settings, pdf)
    index.close()

    write_pdf(pdf, CORRECTED)
    index, texts, _, statuses = upgrade(settings)
    index.close()

    assert statuses == ["indexed"]
    assert len(texts) == (2 if copied else len(first)), texts


def test_an_indexed_copy_is_one_on_disk_holding_the_bytes_bar_those_passed_over(tmp_path):
    on_disk, elsewhere, gone = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "moved.pdf"
    on_disk.touch()
    elsewhere.touch()
    manifest = {str(gone): {"content": "x"}, str(on_disk): {"content": "x"}, str(elsewhere): {"content": "y"}}

    assert indexed_copy(manifest, "x", lambda key: False) == str(on_disk)
    assert indexed_copy(manifest, "x", lambda key: key == str(on_disk)) is None, "the one missing on disk is no copy"
    assert indexed_copy(manifest, None, lambda key: False) is None, "unknown content matches nothing"


def test_newcombe_s_interval_is_95_percent_and_another_confidence_is_refused_not_ignored():
    """Its result names the interval ``ci95``; a ``z`` it took was never used, so a "99%" interval was the 95% one."""
    gained, lost = [1.0] * 6 + [0.0] * 4, [0.0] * 6 + [1.0] * 4
    with pytest.raises(TypeError):
        newcombe_paired(gained, lost, z=2.58)
