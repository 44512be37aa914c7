"""Case metadata as a lecturer writes it by hand in a spreadsheet: column names in their own case, blank rows saved
as bare separators, extra columns, quoted separators."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.datasets import read_cases
from pathatlas.retrieval.index import Index
from tests.helpers import hashing_settings


def folder(path: Path, metadata: str, text: str, names: tuple[str, ...] = ("a.jpg", "b.jpg", "c.jpg")) -> Path:
    path.mkdir(parents=True)
    for seed, name in enumerate(names):
        Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path / name)
    (path / metadata).write_bytes(text.encode("utf-8"))
    return path


def cases_of(path: Path, tmp_path: Path) -> tuple[dict[str, dict], list[str]]:
    """Each case read from the folder by id (diagnosis, organ, images, labels), and the folder's problems."""
    source = CaseFolderSource(path, hashing_settings(tmp_path))
    cases = {
        case.case_id: {
            "diagnosis": case.diagnosis,
            "organ": case.organ,
            "images": [name for name, _ in case.images],
            "labels": case.labels,
        }
        for case in source.records()
    }
    return cases, source.problems


EXCEL = (
    "\ufeffImage;Case;Diagnosis;Organ;Stain\r\n"
    "a.jpg;C1;Tuberculosis;Lung;H&E\r\n"
    ";;;;\r\n"  # a blank spreadsheet row, as Excel saves it
    "\r\n"
    'b.jpg;C2;Sarcoidosis;"Lymph node; hilar";Ziehl-Neelsen\r\n'
    ";;;;\r\n"
)


def test_an_excel_csv_with_capitalised_columns_and_blank_rows_indexes_every_row(tmp_path):
    """Excel's header said "Image" and its blank rows came out as ";;;;": the folder failed whole, first with "has no
    'image' column", then with "row 2 has no 'image' field"; now the fields are read and the blank rows skipped."""
    path = folder(tmp_path / "lecture", "labels.csv", EXCEL, names=("a.jpg", "b.jpg"))
    cases, problems = cases_of(path, tmp_path)
    assert cases == {
        "C1": {"diagnosis": "Tuberculosis", "organ": "Lung", "images": ["a.jpg"], "labels": {"Stain": "H&E"}},
        "C2": {
            "diagnosis": "Sarcoidosis",
            "organ": ["Lymph node", "hilar"],  # several organs given as text are a list (records version 9)
            "images": ["b.jpg"],
            "labels": {"Stain": "Ziehl-Neelsen"},
        },
    }
    assert problems == []
    assert [(item.group, item.label) for item in read_cases(path / "labels.csv")] == [
        ("C1", "Tuberculosis"),
        ("C2", "Sarcoidosis"),
    ], "the benchmarks read the same rows"


def test_cases_jsonl_keys_in_another_case_are_the_schema_fields(tmp_path):
    rows = [
        {"Image": "a.jpg", "DIAGNOSIS": "Tuberculosis", " Organ ": ["Lung", "lymph node"]},
        {},
        {"image": "b.jpg", "Diagnosis": "Sarcoidosis", "Stain": "PAS"},
    ]
    path = folder(tmp_path / "j", "cases.jsonl", "".join(json.dumps(row) + "\n" for row in rows), ("a.jpg", "b.jpg"))
    cases, _ = cases_of(path, tmp_path)
    a = cases["a"]
    assert (a["diagnosis"], a["organ"], a["labels"]) == ("Tuberculosis", ["Lung", "lymph node"], {})
    assert cases["b"]["labels"] == {"Stain": "PAS"}, "a label keeps its author's spelling"


def test_a_field_given_twice_in_two_cases_is_refused_not_half_read(tmp_path):
    path = folder(tmp_path / "twice", "labels.csv", "image,Diagnosis,diagnosis\na.jpg,lipoma,fibroma\n", ("a.jpg",))
    with pytest.raises(BadInputError, match="line 2: 'Diagnosis' and 'diagnosis' are the same field; keep one"):
        CaseFolderSource(path, hashing_settings(tmp_path)).fingerprint()


def test_a_row_with_values_but_no_image_is_still_refused(tmp_path):
    path = folder(tmp_path / "noimg", "labels.csv", "image;diagnosis\r\na.jpg;lipoma\r\n;fibroma\r\n", ("a.jpg",))
    with pytest.raises(BadInputError, match="line 3 has no 'image' field"):
        CaseFolderSource(path, hashing_settings(tmp_path)).fingerprint()


def test_an_image_listed_twice_is_one_record_and_the_folder_stays_unchanged_on_the_next_run(tmp_path):
    """A row pasted twice gave the folder one more entry than the store holds (the two share an id), so every later
    ``index`` found it changed and read and encoded it all again, without a word."""
    path = folder(tmp_path / "dup", "labels.csv", "image,diagnosis\na.jpg,lipoma\na.jpg,lipoma\nb.jpg,fibroma\n")
    settings = hashing_settings(tmp_path)
    with Index.open(settings.index_dir, settings, create=True) as index:
        (first,) = Indexer(index, show_progress=False).add(path).sources
        assert (first.status, first.entries, index.store.count()) == ("indexed", 2, 2)
        assert first.problems[0] == f"{path / 'labels.csv'}: 'a.jpg' is listed twice in case 'a'; read once"
        (again,) = Indexer(index, show_progress=False).add(path).sources
        assert (again.status, again.entries) == ("unchanged", 2)
