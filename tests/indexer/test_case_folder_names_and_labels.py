"""A release tester's case folders: PDFs inside a case folder are named by ``index`` as an upload names them, a long
upload name keeps its end, a caseless image named by its path keeps out of a case given that name, and a label column
equal to the diagnosis is not repeated."""

from __future__ import annotations

from pathlib import Path

from pathatlas.indexer.sources.cases import CaseFolderSource, row_labels
from pathatlas.retrieval.datasets import case_ids, read_case_metadata, read_cases
from pathatlas.ui.api.uploads import TAGGED, safe_name
from tests.conftest import shared_data
from tests.indexer.test_case_folders import folder_with, jsonl, tile


def read_folder(folder: Path, settings) -> tuple[list, list[str]]:
    source = CaseFolderSource(folder, settings)
    return list(source.records()), source.problems


def test_index_names_the_pdfs_a_case_folder_leaves_out(tmp_path, fast):
    folder = folder_with(tmp_path / "mycases", "labels.csv", "image,diagnosis\na.jpg,lipoma\nb.jpg,schwannoma\n")
    for pdf in ("handout.pdf", "sub/deep.PDF", ".hidden.pdf", "__MACOSX/handout.pdf"):
        (folder / pdf).parent.mkdir(exist_ok=True)
        (folder / pdf).write_bytes(b"%PDF-1.4\n")
    cases, problems = read_folder(folder, fast)
    assert len(cases) == 2
    assert problems == [
        f"{folder}: handout.pdf, sub/deep.PDF: PDFs inside a case folder are not indexed; index each on its own"
    ]
    (folder / "sub/deep.PDF").unlink()
    said = f"{folder}: handout.pdf: a PDF inside a case folder is not indexed; index it on its own"
    assert read_folder(folder, fast)[1] == [said]


def test_a_long_upload_name_keeps_its_beginning_and_its_end():
    head = "Pathology_lecture_notes_" + "x" * 80
    week1, week2 = safe_name(head + "_partA_week1.pdf", "upload"), safe_name(head + "_partB_week2.pdf", "upload")
    assert len(week1) == len(week2) == 100, (week1, week2)
    assert week1.startswith("Pathology_lecture_notes_x") and week1.endswith(".pdf")
    assert "xx_partA_week1~" in week1 and "xx_partB_week2~" in week2, (week1, week2)
    assert week1.index("\u2026") == 58, "two thirds of the room before the cut, one third after"
    assert safe_name(week1, "upload") != week1, "a stored cut name sent again is tagged again"
    assert TAGGED.search(week1.removesuffix(".pdf")), "the tag still ends the stem"
    chinese = safe_name("病" * 100 + "第二周.pdf", "upload")
    assert chinese.endswith("第二周" + chinese[-13:]) and len(chinese.encode()) <= 200, chinese


def test_a_caseless_image_named_by_its_path_keeps_out_of_a_case_of_that_name(tmp_path, fast):
    rows = [
        {"image": "a/x.jpg", "diagnosis": "angiosarcoma"},
        {"image": "b/x.jpg", "diagnosis": "granular cell tumor"},
        {"image": "z.jpg", "case": "a/x.jpg", "diagnosis": "lipoma"},
    ]
    images = {"a/x.jpg": tile(0), "b/x.jpg": tile(1), "z.jpg": tile(2)}
    folder = folder_with(tmp_path / "f3", "cases.jsonl", jsonl(rows), images)
    expected = {"a/x.jpg": ("a/x.jpg (2)", "angiosarcoma"), "b/x.jpg": ("b/x.jpg", "granular cell tumor")}
    expected["z.jpg"] = ("a/x.jpg", "lipoma")
    cases, _ = read_folder(folder, fast)
    assert {image: (case.case_id, case.diagnosis) for case in cases for image, _ in case.images} == expected
    benchmarked = {item.path.relative_to(folder).as_posix(): item.group for item in read_cases(folder / "cases.jsonl")}
    assert benchmarked == {image: case_id for image, (case_id, _) in expected.items()}
    twice = [{"image": "a/x.jpg"}, {"image": "./a/x.jpg"}, {"image": "b/x.jpg"}, {"image": "z.jpg", "case": "a/x.jpg"}]
    assert case_ids(twice) == ["a/x.jpg (2)", "a/x.jpg (2)", "b/x.jpg", "a/x.jpg"], "one file listed twice: one case"
    taken = [{"image": "a/x.jpg"}, {"image": "b/x.jpg"}, {"image": "z.jpg", "case": "a/x.jpg"}]
    taken.append({"image": "y.jpg", "case": "a/x.jpg (2)"})
    assert case_ids(taken)[0] == "a/x.jpg (3)"


def test_a_label_equal_to_the_diagnosis_is_not_repeated_as_a_label(tmp_path, fast):
    text = "image,diagnosis,label,stain\na.jpg,granular cell tumor,Granular  cell tumor,HE\nb.jpg,lipoma,lip,HE\n"
    cases, _ = read_folder(folder_with(tmp_path / "f1", "labels.csv", text), fast)
    by_image = {image: case for case in cases for image, _ in case.images}
    assert by_image["a.jpg"].labels == {"stain": "HE"}
    assert by_image["a.jpg"].text_of("a.jpg") == "granular cell tumor. stain: HE"
    assert by_image["b.jpg"].labels == {"label": "lip", "stain": "HE"}, "a label of its own stays"


def test_lc25000_keeps_its_label_beside_its_different_diagnosis():
    rows = read_case_metadata(shared_data("lc25000/labels.csv"))
    assert {row_labels(row)["label"] for row in rows} == {row["label"] for row in rows} >= {"lung_aca"}
