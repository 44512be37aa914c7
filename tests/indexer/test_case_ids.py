"""Case ids, and what a curator's case folder is told: images without a case id that share a file name's stem are
separate cases, in the indexer and the benchmarks alike, while a stem no other image shares keeps its id (LC25000's
and the atlas's); a name differing in letter case, a multi-page TIFF's other pages, an image too small to compare
and a JSONL line nested too deeply are each one clear line; a label column that is the diagnosis is not repeated as a
label. (A field given twice in two spellings: ``test_case_metadata_spreadsheets``.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pathatlas.agent.bench.withheld import caseless_images
from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.datasets import case_ids, read_case_metadata, read_cases, read_jsonl
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.text import plain_text
from tests.conftest import shared_data
from tests.indexer.test_case_folders import folder_with, tile

SAME_NAMES = {  # image -> (case column, diagnosis, the case id it should get)
    "lung/slide1.jpg": ("", "lung adenocarcinoma", "lung/slide1.jpg"),
    "liver/slide1.jpg": ("", "lipopeliosis", "liver/slide1.jpg"),
    "x.tif": ("", "peliosis", "x.tif"),
    "x.jpg": ("", "angiosarcoma", "x.jpg"),
    "C1.jpg": ("", "granuloma", "C1.jpg"),  # its stem is another row's case id
    "y.jpg": ("C1", "sarcoidosis", "C1"),
    "solo.jpg": ("", "fibrosis", "solo"),  # a stem of its own keeps it
}


def same_names_folder(root: Path) -> Path:
    rows = "".join(f"{image},{case},{diagnosis}\n" for image, (case, diagnosis, _) in SAME_NAMES.items())
    images = {image: tile(n) for n, image in enumerate(SAME_NAMES)}
    return folder_with(root / "cases", "labels.csv", "image,case,diagnosis\n" + rows, images)


def test_images_without_a_case_sharing_a_stem_are_separate_cases_in_the_index_and_the_benchmarks(tmp_path, fast):
    """``lung/slide1.jpg`` and ``liver/slide1.jpg`` (or ``x.tif`` beside ``x.jpg``, or ``C1.jpg`` beside case C1) were
    one case named by the stem: the second image silently took the first's diagnosis."""
    folder = same_names_folder(tmp_path)
    cases = list(CaseFolderSource(folder, fast).records())
    indexed = {image: (case.case_id, case.diagnosis) for case in cases for image, _ in case.images}
    assert indexed == {image: (case_id, diagnosis) for image, (_, diagnosis, case_id) in SAME_NAMES.items()}
    benchmarked = {item.path.relative_to(folder).as_posix(): item.group for item in read_cases(folder / "labels.csv")}
    assert benchmarked == {image: case_id for image, (case_id, _) in indexed.items()}


def test_a_stem_no_other_image_shares_keeps_its_id_and_two_spellings_of_one_file_stay_one_case():
    rows = [{"image": "a.jpg"}, {"image": "sub/b.png", "case": "K"}, {"image": "sub/c.jpg"}, {"image": "./sub/c.jpg"}]
    rows += [{"image": "other/c.jpg"}, {"image": "x.jpg"}, {"image": "x.tif"}, {"image": "x.jpg.png"}]
    assert case_ids(rows) == ["a", "K", "sub/c.jpg", "sub/c.jpg", "other/c.jpg", "x.jpg", "x.tif", "x.jpg.png"]
    assert case_ids([{"image": "c.jpg"}, {"image": "./c.jpg"}]) == ["c", "c"], "one file listed twice: one case"


@pytest.mark.parametrize("relative", ["lc25000/labels.csv", "atlas/cases.jsonl"])
def test_the_shared_data_keeps_its_case_ids(relative):
    """Existing indexes and benchmark splits keep their ids: the shared data's stems are unique."""
    rows = read_case_metadata(shared_data(relative))
    assert case_ids(rows) == [row.get("case") or plain_text(Path(row["image"]).stem) for row in rows]


def test_exclude_case_counts_an_image_named_by_its_path_as_caseless(tmp_path, fast):
    folder = same_names_folder(tmp_path)
    index = Index.open(fast.index_dir, fast, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    caseless = {Path(path).relative_to(folder).as_posix() for path in caseless_images(index)}
    index.close()
    assert caseless == {image for image, (case, *_) in SAME_NAMES.items() if not case}


def read_folder(folder: Path, settings) -> tuple[list, list[str]]:
    source = CaseFolderSource(folder, settings)
    return list(source.records()), source.problems


def test_a_listed_name_differing_in_letter_case_is_one_line(tmp_path, fast):
    folder = folder_with(tmp_path / "f", "labels.csv", "image;diagnosis\nSlide 01.jpg;benign\nb.jpg;benign\n")
    (folder / "a.jpg").rename(folder / "Slide 01.JPG")
    cases, problems = read_folder(folder, fast)
    assert [case.case_id for case in cases] == ["b"]
    found = "listed 'Slide 01.jpg' not found; found 'Slide 01.JPG' (names differ in letter case)"
    assert problems == [f"{folder / 'labels.csv'}: {found}"]


def test_a_multi_page_tiff_says_only_its_first_page_was_indexed(tmp_path, fast):
    folder = folder_with(tmp_path / "f", "labels.csv", "image\nscan.tif\nb.jpg\n", {"b.jpg": tile(1)})
    tile(2).save(folder / "scan.tif", save_all=True, append_images=[tile(3), tile(4)])
    cases, problems = read_folder(folder, fast)
    assert {case.case_id for case in cases} == {"scan", "b"}
    assert problems == [
        f"{folder / 'scan.tif'}: only page 1 of 3 was indexed (a multi-page TIFF; save its pages as images)"
    ]


def test_an_image_too_small_to_compare_is_refused_like_an_unreadable_one(tmp_path, fast):
    images = {"icon.png": Image.new("RGB", (40, 20), "pink"), "b.jpg": tile(1)}
    folder = folder_with(tmp_path / "f", "labels.csv", "image\nicon.png\nb.jpg\n", images)
    cases, problems = read_folder(folder, fast)
    assert [case.case_id for case in cases] == ["b"]
    assert problems == [f"{folder / 'icon.png'} is 40x20 pixels: too small to compare; give one of at least 32 a side"]


def test_a_label_column_that_is_the_diagnosis_is_not_repeated_as_a_label(tmp_path, fast):
    folder = folder_with(tmp_path / "f", "labels.csv", "IMAGE , Label\na.jpg , lung_n \nb.jpg,lung_n\n")
    cases, _ = read_folder(folder, fast)
    assert [(case.diagnosis, case.labels, case.text_of(image)) for case in cases for image, _ in case.images] == [
        ("lung_n", {}, "lung_n"),
        ("lung_n", {}, "lung_n"),
    ]
    beside = folder_with(tmp_path / "g", "labels.csv", "image,label,diagnosis\na.jpg,lung_n,benign lung\n")
    (case,) = read_folder(beside, fast)[0]
    assert case.labels == {"label": "lung_n"}, "beside a diagnosis, a label is a label"


def test_a_jsonl_line_nested_too_deeply_is_one_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"image": "a.jpg"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(BadInputError, match=r"cases.jsonl line 2 is not JSON: nested too deeply$"):
        read_jsonl(path)
