"""Case metadata mistakes a lecturer makes (s37, h9): a misnamed column ("Case ID", "Organs", "Diagnose") was kept as
a label without a word, so two rows of one case became two cases and an organ filter found nothing; a file not in
UTF-8 was refused naming the line a text reader had decoded ahead to (line 1 for line 3, line 593 for line 1,000); a
refusal's "row 1" was the first row after the header, which a spreadsheet shows as row 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import metadata_lines, misnamed_fields, read_case_metadata

LINE_CHARS = csv.field_size_limit()
"""A metadata line's cap, in characters, its line end included."""


def metadata(tmp_path: Path, name: str, data: str | bytes) -> Path:
    """A metadata file ``name`` holding ``data`` (text as UTF-8) in a folder of its own."""
    path = tmp_path / "cases" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def notes_for(tmp_path: Path, name: str, data: str) -> list[str]:
    path = metadata(tmp_path, name, data)
    return misnamed_fields(path, read_case_metadata(path))


# -- 1. a misnamed column gets one note a file -----------------------------------------------------------------------
def test_misnamed_columns_kept_as_labels_are_each_noted_once_per_file(tmp_path):
    """The reviewer's sheet: two rows of case BS1 were two cases, and ``organ=spleen`` found no organ."""
    sheet = "Image,Case ID,Diagnosis,Organs\na.jpg,BS1,infarct,spleen\nb.jpg,BS1,infarct,spleen\n"
    path = tmp_path / "cases" / "labels.csv"
    assert notes_for(tmp_path, "labels.csv", sheet) == [
        f"{path}: column 'Case ID' kept as a label; did you mean 'case'?",
        f"{path}: column 'Organs' kept as a label; did you mean 'organ'?",
    ]


def test_misnamed_jsonl_keys_are_noted_as_fields(tmp_path):
    rows = [{"image": "a.jpg", "case_id": "BS1", "Diagnose": "Milzinfarkt"}, {"image": "b.jpg", "case_id": "BS1"}]
    path = tmp_path / "cases" / "cases.jsonl"
    assert notes_for(tmp_path, "cases.jsonl", "".join(json.dumps(row) + "\n" for row in rows)) == [
        f"{path}: field 'case_id' kept as a label; did you mean 'case'?",
        f"{path}: field 'Diagnose' kept as a label; did you mean 'diagnosis'?",
    ]


@pytest.mark.parametrize(
    ("column", "meant"),
    [
        ("CaseID", "case"),
        ("case-ids", "case"),
        ("Cases", "case"),
        ("Diagnoses", "diagnosis"),
        ("Descripton", "description"),
        ("Titles", "title"),
        ("Labels", "label"),
    ],
)
def test_a_variant_of_a_field_name_is_noted(tmp_path, column, meant):
    notes = notes_for(tmp_path, "labels.csv", f"image,{column}\na.jpg,x\n")
    assert [note.rsplit("; ", 1)[-1] for note in notes] == [f"did you mean {meant!r}?"]


@pytest.mark.parametrize(
    "column",
    [
        # the schema's own names, whatever their case
        "Case",
        "DIAGNOSIS",
        " Organ ",
        "label",
        # labels of their own, some a letter or two off a field name
        "Stain",
        "Grade",
        "Stage",
        "Cause",
        "Tile",
        "Site",
        "Origin",
        "Level",
        "Patient ID",
        "Slide ID",
        "Diagnostic",
        "Differential diagnosis",
        "Prognosis",
        "Organism",
        "Descriptor",
    ],
)
def test_field_names_and_labels_of_their_own_are_not_noted(tmp_path, column):
    assert notes_for(tmp_path, "labels.csv", f"image,{column}\na.jpg,x\n") == []


def test_a_variant_beside_the_field_it_resembles_is_a_label_of_its_own(tmp_path):
    """A file that has ``case`` and ``organ`` keeps "Case ID" and "Organs" as labels on purpose."""
    assert notes_for(tmp_path, "labels.csv", "image,case,Case ID,organ,Organs\na.jpg,C1,17,lung,lungs\n") == []


# -- 2. a file that is not UTF-8 is refused naming the line of the byte ----------------------------------------------
@pytest.mark.parametrize(
    ("name", "line_end"),
    [("labels.csv", "\n"), ("labels.csv", "\r\n"), ("labels.csv", "\r"), ("cases.jsonl", "\n")],
)
@pytest.mark.parametrize("bad_line", [3, 1000])
def test_a_byte_that_is_not_utf8_is_refused_naming_its_line(tmp_path, name, line_end, bad_line):
    """Saved by Excel on Windows (cp1252) in a file of UTF-8 lines after a byte order mark: each line's bytes are
    decoded alone, whatever ends them."""
    rows = [{"image": f"{n}.jpg", "diagnosis": "Hämangiom"} for n in range(1, 2000)]
    if name == "labels.csv":
        lines = ["image,diagnosis", *(f"{row['image']},{row['diagnosis']}" for row in rows)]
    else:
        lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    encodings = {1: "utf-8-sig", bad_line: "cp1252"}
    data = b"".join((line + line_end).encode(encodings.get(n, "utf-8")) for n, line in enumerate(lines, start=1))
    path = metadata(tmp_path, name, data)
    with pytest.raises(BadInputError, match=rf"^{path} is not UTF-8 text \(line {bad_line}, byte 0xe4\); save it"):
        read_case_metadata(path)


def test_lines_are_split_where_a_text_reader_splits_them(tmp_path):
    """``\\r\\n``, an old Mac's ``\\r`` and ``\\n`` end lines, the byte order mark is dropped, and every other
    character, a form feed and a line separator among them, stays in its line."""
    text = "\ufeffimage,description\r\na.jpg,one\rb.jpg,two\x0cthree\u2028four\nc.jpg,five"
    assert list(metadata_lines(metadata(tmp_path, "labels.csv", text))) == [
        "image,description\r\n",
        "a.jpg,one\r",
        "b.jpg,two\x0cthree\u2028four\n",
        "c.jpg,five",
    ]


@pytest.mark.parametrize("character", ["é", "🔬"])
def test_a_line_cap_counts_characters_not_bytes(tmp_path, character):
    """A line of ``LINE_CHARS`` characters of two or four bytes each is read; one more character is refused."""
    prefix = "a.jpg,"
    longest = prefix + character * (LINE_CHARS - len(prefix) - 1) + "\n"
    path = metadata(tmp_path, "labels.csv", "image,description\n" + longest)
    assert read_case_metadata(path)[0]["description"] == longest[len(prefix) : -1]
    path.write_bytes(("image,description\n" + character + longest).encode())
    with pytest.raises(BadInputError, match=rf"^{path} line 2 is over {LINE_CHARS:,} characters long"):
        read_case_metadata(path)


# -- 3. a refusal names the file line a row starts on, the header being line 1 ----------------------------------------
SHEET = (
    "image;diagnosis\r\n"  # line 1
    'a.jpg;"granuloma,\r\n'  # lines 2-3: a quoted value over two lines
    'caseating"\r\n'
    "\r\n"  # line 4: blank
    ";\r\n"  # line 5: a blank spreadsheet row
)


@pytest.mark.parametrize(
    ("row", "refusal"),
    [
        (
            "b.jpg;lipoma;fat\r\n",
            "line 6 has 3 fields, the header 2: put values that hold a semicolon in double quotes",
        ),
        (';"fibroma,\r\nfirm"\r\n', "line 6 has no 'image' field"),
    ],
)
def test_a_csv_refusal_names_the_line_its_row_starts_on(tmp_path, row, refusal):
    path = metadata(tmp_path, "labels.csv", SHEET + row)
    with pytest.raises(BadInputError, match=rf"^{path} {refusal}"):
        read_case_metadata(path)


def test_the_first_row_after_the_header_is_line_2(tmp_path):
    """The reviewer's "labels.csv row 1 has 4 fields": a spreadsheet shows that row as row 2."""
    path = metadata(tmp_path, "labels.csv", "image,Diagnosis,diagnosis\na.jpg,lipoma,fibroma\n")
    with pytest.raises(BadInputError, match=rf"^{path} line 2: 'Diagnosis' and 'diagnosis' are the same field"):
        read_case_metadata(path)
    path.write_text("image,case,diagnosis\na.jpg,C1,lipoma,fat\n")
    with pytest.raises(BadInputError, match=rf"^{path} line 2 has 4 fields, the header 3"):
        read_case_metadata(path)


@pytest.mark.parametrize(
    ("row", "refusal"),
    [("[1, 2]", "line 3 is not a JSON object"), ('{"image": "b.jpg", "x": {"y": 1}}', "line 3 field 'x' is a JSON")],
)
def test_a_jsonl_refusal_names_the_line_after_blank_lines(tmp_path, row, refusal):
    path = metadata(tmp_path, "cases.jsonl", '{"image": "a.jpg"}\n\n' + row + "\n")
    with pytest.raises(BadInputError, match=rf"^{path} {refusal}"):
        read_case_metadata(path)


def test_a_value_over_csvs_field_cap_names_its_line(tmp_path):
    """A quoted value spanning lines may pass each line's cap and still exceed csv's field cap: the refusal names
    the line where it does."""
    part = "x" * (LINE_CHARS // 2) + "\n"
    path = metadata(tmp_path, "labels.csv", 'image,description\na.jpg,"' + part * 3 + '"\n')
    with pytest.raises(BadInputError, match=rf"^{path} is not a CSV file \(line 3\): field larger than field limit"):
        read_case_metadata(path)
