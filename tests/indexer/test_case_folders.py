"""Case folders as lecturers make them: high-bit-depth and odd image modes, rows of one case that disagree, several
organs, filters in any case, European Excel CSVs, Windows paths, and what a folder holds that was not read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.errors import BadInputError, UnknownSourceError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.datasets import read_cases
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.api.facets import count_facets
from tests.helpers import hashing_settings

LIMIT = 10_000_000
RAMP = np.tile(np.arange(256, dtype=np.uint16), (48, 1))
"""A grey ramp 0-255 across 256 columns: what each high-bit-depth version below should open as."""


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def folder_with(path: Path, metadata: str, text: str | bytes, images: dict[str, Image.Image] | None = None) -> Path:
    """A case folder: ``images`` (name to image; default a.jpg and b.jpg) and one metadata file."""
    path.mkdir(parents=True, exist_ok=True)
    for name, image in (images or {"a.jpg": tile(0), "b.jpg": tile(1)}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        image.save(path / name)
    (path / metadata).write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def tile(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8))


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# -- 1. image modes ------------------------------------------------------------------------------------------------


HIGH_BIT = {
    "16-bit PNG": (RAMP * 257, "PNG"),
    "16-bit TIFF": (RAMP * 257, "TIFF"),
    "12-bit camera in a 16-bit PNG": (RAMP * 16, "PNG"),
    "32-bit integer TIFF": (RAMP.astype(np.int32) * 257, "TIFF"),
    "float TIFF within 0-1": (RAMP.astype(np.float32) / 255, "TIFF"),
}


@pytest.mark.parametrize("name", HIGH_BIT)
def test_high_bit_depth_greyscale_opens_as_its_grey_not_white(name, tmp_path):
    """16-bit greyscale (Pillow's I;16) was converted by clipping at 255: the persona's 16-bit micrographs were
    indexed as blank white tiles, and a 16-bit query image searched with white. Scaled by the range the camera wrote
    (the fewest bits holding the brightest pixel), each opens as the ramp it holds, as an index image (a file) and as
    a query (bytes) alike."""
    data = encoded(*HIGH_BIT[name])
    (tmp_path / "image").write_bytes(data)
    for source in (tmp_path / "image", data):
        opened = np.asarray(open_image(source, LIMIT), dtype=int)
        assert opened.shape == (*RAMP.shape, 3)
        assert np.abs(opened[..., 0] - RAMP).max() <= 1, name
        assert (opened[..., 0] == opened[..., 2]).all(), "still grey"


def test_a_dim_16_bit_field_stays_dim():
    """The white point is the camera's range, not the image's own maximum: a nearly black 16-bit field (all below
    600) is not stretched to full contrast."""
    dim = (RAMP * 2).astype(np.uint16)  # 0-510: 9 bits, white at 511
    opened = np.asarray(open_image(encoded(dim, "PNG"), LIMIT))[..., 0]
    assert opened.max() == 254 and abs(int(opened[0, 128]) - 127) <= 1


def test_other_image_modes_open_as_a_viewer_shows_them(tmp_path):
    """CMYK JPEG, palette with a transparent index, grey with alpha and 1-bit images open as RGB, colours kept and
    transparency over white."""
    rgb = Image.new("RGB", (40, 40), (200, 40, 90))
    cmyk = tmp_path / "cmyk.jpg"
    rgb.convert("CMYK").save(cmyk, quality=95)
    assert np.abs(np.asarray(open_image(cmyk, LIMIT), dtype=int) - (200, 40, 90)).max() <= 6

    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 30, 120, 60] + [0] * 762)
    palette.paste(0, (0, 0, 20, 40))
    palette.save(tmp_path / "palette.png", transparency=0)
    opened = open_image(tmp_path / "palette.png", LIMIT)
    assert opened.getpixel((5, 5)) == (255, 255, 255) and opened.getpixel((30, 5)) == (30, 120, 60)

    la = Image.new("LA", (40, 40), (90, 255))
    la.paste((90, 0), (0, 0, 20, 40))
    la.save(tmp_path / "la.png")
    opened = open_image(tmp_path / "la.png", LIMIT)
    assert opened.getpixel((5, 5)) == (255, 255, 255) and opened.getpixel((30, 5)) == (90, 90, 90)

    bits = Image.new("1", (40, 40), 1)
    bits.paste(0, (0, 0, 20, 40))
    bits.save(tmp_path / "bits.png")
    opened = open_image(tmp_path / "bits.png", LIMIT)
    assert opened.mode == "RGB" and opened.getpixel((5, 5)) == (0, 0, 0) and opened.getpixel((30, 5)) == (255,) * 3


def test_a_16_bit_case_image_is_indexed_as_its_tissue(tmp_path, settings):
    grey = Image.fromarray(np.asarray(tile(3).convert("L"), dtype=np.uint16) * 257)
    assert grey.mode == "I;16"
    folder = folder_with(tmp_path / "g16", "cases.jsonl", jsonl([{"image": "g.png"}]), {"g.png": grey})
    (case,) = CaseFolderSource(folder, settings).records()
    kept = np.asarray(case.images[0][1])[..., 0]
    assert np.abs(kept.astype(int) - np.asarray(tile(3).convert("L"), dtype=int)).max() <= 1


# -- 2. rows of one case -------------------------------------------------------------------------------------------


def test_rows_of_one_case_that_disagree_are_reported_and_each_image_keeps_its_own_labels(tmp_path, settings):
    """The persona's labels.csv gave case C1 to a lipoma of the skin and a liposarcoma of the thigh: both images
    became "lipoma, skin" without a word, with the first row's title and the last row's stain on both."""
    rows = (
        "image,case,diagnosis,organ,title,stain\n"
        "x1.jpg,C1,lipoma,skin,Lipoma,H&E\n"
        "x2.jpg,C2,schwannoma,nerve,,\n"
        "x3.jpg,C1,liposarcoma,thigh,Liposarcoma,PAS\n"
        "x4.jpg,C1,Lipoma,,,\n"  # the same diagnosis in other letters, no organ: no conflict of its own
    )
    images = {f"x{i}.jpg": tile(i) for i in range(1, 5)}
    source = CaseFolderSource(folder_with(tmp_path / "dup", "labels.csv", rows, images), settings)
    cases = {case.case_id: case for case in source.records()}
    c1 = cases["C1"]
    assert (c1.diagnosis, c1.organ, c1.title) == ("lipoma", "skin", "Lipoma"), "the first row's, as before"
    (problem,) = [p for p in source.problems if "'C1'" in p]
    assert str(tmp_path / "dup" / "labels.csv") in problem and "\n" not in problem
    for said in ("diagnosis 'lipoma' (x1.jpg) vs 'liposarcoma' (x3.jpg)", "organ 'skin' (x1.jpg) vs 'thigh' (x3.jpg)"):
        assert said in problem
    assert "x4.jpg" not in problem and not any("'C2'" in p for p in source.problems)
    labels = {entry.payload.image: entry.payload.labels for entry in c1.entries()}
    assert labels == {"x1.jpg": {"stain": "H&E"}, "x3.jpg": {"stain": "PAS"}, "x4.jpg": {}}
    assert c1.labels == {"stain": "H&E"}, "the case's labels: each from the first row giving it"


# -- 3 and 4. several organs, filters in any case ------------------------------------------------------------------


@pytest.fixture(params=["faiss", "qdrant-edge", "qdrant-local"])
def case_index(request, tmp_path):
    settings = hashing_settings(tmp_path)
    if request.param == "qdrant-local":
        settings = settings.model_copy(update={"qdrant_url": str(tmp_path / "qdrant-local")})
    index = Index.open(settings.index_dir, settings, create=True, store=request.param.split("-")[0])
    rows = [
        {"image": "a.jpg", "case": "AS-02", "diagnosis": "angiosarcoma", "organ": ["spleen", "liver"]},
        {"image": "b.jpg", "case": "TB-01", "diagnosis": "Tuberculosis", "organ": "lung"},
        {"image": "c.jpg", "case": "SA-03", "diagnosis": "sarcoidosis", "organ": "Lung"},
    ]
    images = {"a.jpg": tile(0), "b.jpg": tile(1), "c.jpg": tile(2)}
    report = Indexer(index, show_progress=False).add(
        [folder_with(tmp_path / "cases", "cases.jsonl", jsonl(rows), images)]
    )
    assert not report.failed, report.failed
    yield index
    index.close()


def found(index: Index, **filters) -> set[str]:
    """Cases a search with ``filters`` finds, the same by the words (BM25 and the vector store) as by a word no case
    holds (the vector store alone, so each filter is tested in both)."""
    searcher = Searcher(index)
    by_words, by_vector = (
        {hit.payload.case for hit in searcher.search(Query(text=text, k=10, filters=filters))}
        for text in ("angiosarcoma tuberculosis sarcoidosis", "specimen")
    )
    assert by_words == by_vector, filters
    return by_vector


def test_a_case_of_several_organs_is_found_by_each_and_counted_under_each(case_index):
    """``"organ": ["spleen", "liver"]`` was stored as "spleen, liver": a filter on either organ found nothing, and
    the facets showed one organ "spleen, liver"."""
    assert found(case_index, organ="spleen") == found(case_index, organ="liver") == {"AS-02"}
    assert found(case_index, organ=["liver", "kidney"]) == {"AS-02"}
    (stored,) = [p for _, p in case_index.store.scan({"case": "AS-02"})]
    assert stored["organ"] == ["spleen", "liver"]
    organs = count_facets(case_index).values["organ"]
    assert organs == {"spleen": 1, "liver": 1, "Lung": 2}, "lung and Lung: one value, as a filter takes them"


def test_diagnosis_and_organ_filters_ignore_case_in_every_store(case_index):
    """``--filter organ=Lung`` found nothing where the cases say "lung"; now any spelling finds every spelling."""
    assert found(case_index, organ="Lung") == found(case_index, organ="LUNG") == {"TB-01", "SA-03"}
    assert found(case_index, organ="SPLEEN") == {"AS-02"}
    assert found(case_index, diagnosis="tuberculosis") == found(case_index, diagnosis="TUBERCULOSIS") == {"TB-01"}
    assert found(case_index, diagnosis=["Sarcoidosis", "nothing"], organ="lung") == {"SA-03"}
    with pytest.raises(UnknownSourceError, match="no organ 'lungs'"):  # held by none: refused, not no hits
        found(case_index, organ="lungs")  # still equality, not a prefix or a word
    with pytest.raises(UnknownSourceError, match="closest: 'TB-01'"):
        found(case_index, case="tb-01")  # case ids stay exact


# -- 5, 6 and 7. CSV dialects, Windows paths, what was not read -----------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_european_excel_csv_is_read(delimiter, tmp_path, settings):
    """European Excel saves "CSV UTF-8" with a byte order mark, semicolons and CRLF line ends: the folder failed
    with "labels.csv row 1 has no 'image' field"."""
    lines = [["image", "case", "diagnosis", "description"], ["a.jpg", "LC-1", "adenocarcinoma", "Pulmón, 10 µm"]]
    text = "\ufeff" + "".join(delimiter.join(line) + "\r\n" for line in lines)
    folder = folder_with(tmp_path / "eu", "labels.csv", text.encode())
    (case,) = CaseFolderSource(folder, settings).records()
    assert (case.case_id, case.diagnosis, case.description) == ("LC-1", "adenocarcinoma", "Pulmón, 10 µm")
    (item,) = read_cases(folder / "labels.csv")  # what bench retrieval and train read: the same rows
    assert (item.group, item.label) == ("LC-1", "adenocarcinoma")


def test_a_csv_without_an_image_column_names_the_columns_and_the_delimiter_it_read(tmp_path, settings):
    folder = folder_with(tmp_path / "hdr", "labels.csv", "file;diagnosis\r\na.jpg;lipoma\r\n")
    with pytest.raises(BadInputError) as error:
        CaseFolderSource(folder, settings).fingerprint()
    message = str(error.value)
    assert "no 'image' column" in message and "'file', 'diagnosis'" in message and "semicolons" in message


def test_windows_paths_in_labels_csv_are_folders_and_still_cannot_leave(tmp_path, settings):
    images = {"img/a.jpg": tile(0), "img/b.jpg": tile(1)}
    folder = folder_with(tmp_path / "win", "labels.csv", "image,diagnosis\nimg\\a.jpg,lipoma\nimg/b.jpg,x\n", images)
    source = CaseFolderSource(folder, settings)
    cases = list(source.records())
    assert sorted(e.payload.image for c in cases for e in c.entries()) == ["img/a.jpg", "img/b.jpg"]
    assert {c.case_id for c in cases} == {"a", "b"} and not source.problems
    evil = folder_with(tmp_path / "evil", "labels.csv", "image\n..\\..\\secret.jpg\n")
    with pytest.raises(BadInputError, match="leaves the case folder"):
        CaseFolderSource(evil, settings).fingerprint()


def test_an_ignored_metadata_file_and_unlisted_images_are_noted(tmp_path, settings):
    """With cases.jsonl and labels.csv both present labels.csv was ignored, and images no row names were skipped,
    without a word."""
    images = {"a.jpg": tile(0), "b.jpg": tile(1), "c.jpg": tile(2), "sub/d.png": tile(3), ".hidden.jpg": tile(4)}
    folder = folder_with(tmp_path / "both", "cases.jsonl", jsonl([{"image": "a.jpg"}]), images)
    (folder / "labels.csv").write_text("image,diagnosis\nb.jpg,from-csv\n")
    source = CaseFolderSource(folder, settings)
    assert [c.case_id for c in source.records()] == ["a"]
    assert source.problems == [
        f"{folder}: read cases.jsonl and ignored labels.csv (one metadata file a folder)",
        f"{folder}: 3 images not listed in cases.jsonl, not indexed: b.jpg, c.jpg, sub/d.png",
    ]
    listed = folder_with(tmp_path / "all", "cases.jsonl", jsonl([{"image": "a.jpg"}, {"image": "b.jpg"}]))
    source = CaseFolderSource(listed, settings)
    assert len(list(source.records())) == 2 and source.problems == []


def test_an_image_listed_twice_keeps_its_first_rows_labels(tmp_path, settings):
    """The problem says the second row is not read, but its (empty) labels replaced the first's: a spreadsheet row
    pasted again lost the image's "Stain: PAS", so a search for the stain no longer found it."""
    rows = [{"image": "a.jpg", "case": "C1", "Stain": "PAS"}, {"image": "a.jpg", "case": "C1"}]
    source = CaseFolderSource(folder_with(tmp_path / "dup", "cases.jsonl", jsonl(rows)), settings)
    (case,) = list(source.records())
    assert {e.payload.image: e.payload.labels for e in case.entries()} == {"a.jpg": {"Stain": "PAS"}}
    assert "listed twice" in source.problems[0]


def test_every_image_path_leaving_the_folder_is_named_in_one_refusal(tmp_path, settings):
    """The first such row alone was named: a folder with three took three runs to fix."""
    rows = [{"image": "a.jpg"}, {"image": "../x.jpg"}, {"image": "/etc/passwd"}, {"image": "sub/../../y.jpg"}]
    source = CaseFolderSource(folder_with(tmp_path / "leave", "cases.jsonl", jsonl(rows)), settings)
    with pytest.raises(BadInputError) as error:
        source.fingerprint()
    assert "3 image paths leave the case folder: '../x.jpg', '/etc/passwd', 'sub/../../y.jpg'" in str(error.value)
