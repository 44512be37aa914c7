"""One text module for every layer (``retrieval.text``): metadata is composed and drops what cannot be seen, the stores'
filters fold each value once, a case without an id is one case for the indexer and the benchmarks, and REST filters
are resolved once, as every door's."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi import HTTPException

from pathatlas.errors import UnknownSourceError
from pathatlas.indexer.sources.cases import group_cases
from pathatlas.retrieval.datasets import read_case_metadata, read_cases
from pathatlas.retrieval.marks import query_terms
from pathatlas.retrieval.stores import base, qdrant_store
from pathatlas.retrieval.stores.base import FieldCodes, matches
from pathatlas.retrieval.text import plain_text
from pathatlas.ui.api.routes.search import scoped
from tests.helpers import calls_to
from tests.indexer.test_case_folders import folder_with, jsonl, tile
from tests.indexer.test_unicode_input import PULMON, indexed, nfd
from tests.retrieval.test_qdrant_round_trips_and_serving import counted_store

# -- 1. one module, two forms ---------------------------------------------------------------------------------------


def test_metadata_is_composed_without_controls_or_invisible_characters_and_keeps_its_letters():
    assert plain_text(nfd(PULMON)) == PULMON
    assert plain_text("pul\u00adm\u00f3n\u200b\x1b[31m") == PULMON + "[31m", "a soft hyphen, a zero-width space, ESC"
    assert plain_text("می\u200cخواهم") == "می\u200cخواهم", "the zero-width non-joiner spells Persian words"
    assert plain_text("ﬁbrosis 7.5 µm") == "ﬁbrosis 7.5 µm", "metadata is NFC as written, not NFKC"


def test_a_name_with_an_invisible_character_is_one_value_with_the_plain_name(tmp_path):
    """The metadata reads "pul<zero-width space>món" as "pulmón"; a file so named is still found by its name."""
    rows = [{"image": "a\u200b.jpg", "organ": "pul\u200bmón"}]
    folder = folder_with(tmp_path / "cases", "cases.jsonl", jsonl(rows), {"a\u200b.jpg": tile(0)})
    (row,) = read_case_metadata(folder / "cases.jsonl")
    assert row == {"image": "a\u200b.jpg", "organ": "pulmón"}
    assert [item.group for item in read_cases(folder / "cases.jsonl", diagnosed_only=False)] == ["a"]


def test_the_stores_fold_without_importing_the_bm25_module():
    code = (
        "import sys; from pathatlas.retrieval.stores.base import fold; "
        "assert fold('organ', 'Pulm\\u00f3n') == 'pulmon'; assert 'pathatlas.retrieval.lexical' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_query_terms_are_read_as_the_search_reads_them():
    assert query_terms("ﬁbrosis and hemo\u00adglobin") == ["fibrosis", "hemoglobin"]


# -- 2. folding once per value --------------------------------------------------------------------------------------


@pytest.fixture
def fold_calls(monkeypatch):
    """(field, value) of every ``fold`` the stores make."""
    return calls_to(monkeypatch, "fold", base, qdrant_store)


def test_a_mask_of_many_sections_folds_each_distinct_value_once(fold_calls):
    """10,000 distinct sections x a 20-section filter folded the filter once per distinct value: 0.65 s a mask."""
    sections = [f"{n // 100} Capítulo > Sección {n}" for n in range(10_000)]
    payloads = [{"section": s} for s in sections] + [{"section": nfd(sections[3])}]
    codes = FieldCodes(("section",))
    codes.put(np.arange(len(payloads)), payloads)
    wanted = [nfd(s) for s in sections[:20]]
    first = codes.mask("section", wanted, len(payloads))
    assert len(fold_calls) == len(codes.values["section"]) + len(wanted), "each distinct value and wanted one once"
    fold_calls.clear()
    again = codes.mask("section", wanted, len(payloads))
    assert len(fold_calls) == len(wanted), "the field's values are folded already"
    expected = [matches(payload, {"section": wanted}) for payload in payloads]
    assert first.tolist() == again.tolist() == expected and sum(expected) == 21


def test_a_mask_folds_the_values_written_since_the_last_one(fold_calls):
    codes = FieldCodes(("organ",))
    codes.put(np.arange(2), [{"organ": "lung"}, {"organ": ["skin", "Pulmón"]}])
    assert codes.mask("organ", "PULMON", 2).tolist() == [False, True]
    codes.put(np.arange(2, 3), [{"organ": nfd("pulmón")}])
    fold_calls.clear()
    assert codes.mask("organ", "pulmon", 3).tolist() == [False, True, True]
    folded = {value for _, value in fold_calls}
    assert len(fold_calls) == 2 and folded == {"pulmon", nfd("pulmón")}, "the filter's and the new value"


def test_qdrant_folds_the_spellings_it_holds_once_per_state(fold_calls, settings, tmp_path):
    store, _ = counted_store("qdrant-memory", settings, tmp_path / "store")
    try:
        assert store.exact({"organ": "LUNG"}) == {"organ": ["Lung", "lung"]}
        fold_calls.clear()
        assert store.exact({"organ": ["LUNG", "Skin"]}) == {"organ": ["Lung", "lung", "skin"]}
        assert [value for _, value in fold_calls] == ["LUNG", "Skin"], "only the filter's values"
    finally:
        store.close()


# -- 3. the case of a row without a case id -------------------------------------------------------------------------


def test_a_row_without_a_case_id_is_one_case_for_the_indexer_and_the_benchmarks(tmp_path):
    """The file is named decomposed on disk (macOS), the metadata composed: the benchmarks named the case by the
    decomposed stem, the indexer by the composed one."""
    name = f"biopsia {PULMON}"
    rows = [{"image": f"{name}.jpg", "diagnosis": "adenocarcinoma"}, {"image": "b.jpg", "diagnosis": "x", "case": "c"}]
    images = {nfd(f"{name}.jpg"): tile(0), "b.jpg": tile(1)}
    folder = folder_with(tmp_path / "casos", "cases.jsonl", jsonl(rows), images)
    assert [item.group for item in read_cases(folder / "cases.jsonl")] == [name, "c"]
    assert list(group_cases(read_case_metadata(folder / "cases.jsonl"))) == [name, "c"]


# -- 4. REST filters: resolved once, as every door's ----------------------------------------------------------------


def test_rest_filters_are_resolved_without_counting_facets(tmp_path):
    """``scoped`` counted every payload (``engine.facets()``) once per opened index only to reach
    ``resolve_filters``; an engine without facets shows it no longer does, and the 404s keep their words."""
    folder = folder_with(tmp_path / "cases", "cases.jsonl", jsonl([{"image": "a.jpg", "organ": "lung"}]))
    index, _ = indexed(tmp_path, folder)
    engine = SimpleNamespace(index=index)
    try:
        assert scoped(engine, {"source": " cases ", "organ": "lung"}) == {"source": str(folder), "organ": "lung"}
        with pytest.raises(HTTPException) as unknown:
            scoped(engine, {"source": ["cases", "nope"]})
        assert unknown.value.status_code == 404
        assert unknown.value.detail == "no source 'nope' in the index; GET /sources lists them"
        with pytest.raises(UnknownSourceError, match="no chapter 'Cells'"):  # app.py answers 404
            scoped(engine, {"source": " cases ", "chapter": "Cells"})
    finally:
        index.close()
