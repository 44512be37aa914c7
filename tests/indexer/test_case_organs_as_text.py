"""A case of several organs given as text ("spleen, liver": a labels.csv cell, or a cases.jsonl string as the shared
atlas stores it) is found by a filter on each organ; a diagnosis holding a comma stays one diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import split_list
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings

LABELS_CSV = (
    "image,case,diagnosis,organ\n"
    'a.jpg,AS-02,angiosarcoma,"spleen, liver"\n'
    'b.jpg,LY-01,"lymphoma, diffuse large B-cell",Lymph node; Spleen ; spleen\n'
    "c.jpg,TB-01,tuberculosis,lung\n"
)
CASES_JSONL = [
    {"image": "a.jpg", "case": "AS-02", "diagnosis": "angiosarcoma", "organ": "spleen, liver"},
    {"image": "b.jpg", "case": "LY-01", "diagnosis": "lymphoma, diffuse large B-cell", "organ": ["Lymph node; Spleen"]},
    {"image": "c.jpg", "case": "TB-01", "diagnosis": "tuberculosis", "organ": "lung"},
]


def case_folder(path: Path, metadata: str) -> Path:
    path.mkdir()
    for seed, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        pixels = np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / name)
    if metadata == "labels.csv":
        (path / metadata).write_text(LABELS_CSV)
    else:
        (path / metadata).write_text("".join(json.dumps(row) + "\n" for row in CASES_JSONL))
    return path


@pytest.fixture(params=["labels.csv", "cases.jsonl"])
def indexed(request, tmp_path):
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    report = Indexer(index, show_progress=False).add([case_folder(tmp_path / "cases", request.param)])
    assert not report.failed, report.failed
    yield index
    index.close()


def cases_found(index: Index, **filters) -> set[str]:
    hits = Searcher(index).search(Query(text="angiosarcoma lymphoma tuberculosis", k=10, filters=filters))
    return {hit.payload.case for hit in hits}


def test_each_organ_of_a_case_given_as_text_finds_it(indexed):
    assert cases_found(indexed, organ="liver") == {"AS-02"}, "the tester's --filter organ=liver missed it"
    assert cases_found(indexed, organ="spleen") == {"AS-02", "LY-01"}
    assert cases_found(indexed, organ="lymph node") == {"LY-01"}
    stored = {p["case"]: p["organ"] for _, p in indexed.store.scan({"kind": "case"})}
    assert stored == {"AS-02": ["spleen", "liver"], "LY-01": ["Lymph node", "Spleen"], "TB-01": "lung"}


def test_a_diagnosis_with_a_comma_stays_one_diagnosis(indexed):
    assert cases_found(indexed, diagnosis="lymphoma, diffuse large B-cell") == {"LY-01"}
    stored = {p["case"]: p["diagnosis"] for _, p in indexed.store.scan({"kind": "case"})}
    assert stored["LY-01"] == "lymphoma, diffuse large B-cell"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("lung", "lung"),
        ("spleen, liver", ["spleen", "liver"]),
        ("spleen;liver; Spleen", ["spleen", "liver"]),
        (["spleen, liver", "kidney"], ["spleen", "liver", "kidney"]),
        (" , ;", ""),
    ],
)
def test_split_list_trims_deduplicates_and_keeps_order(given, kept):
    assert split_list(given) == kept
