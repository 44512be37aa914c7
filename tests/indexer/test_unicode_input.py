"""File names and text from real users' folders: names macOS writes decomposed, zips from old Windows, names that are
not UTF-8, control characters in a spreadsheet's cells, queries in any script."""

from __future__ import annotations

import io
import json
import os
import unicodedata
import zipfile
from pathlib import Path

import pytest
from rich.table import Table

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.fingerprints import stat_signature
from pathatlas.retrieval.datasets import read_case_metadata, read_jsonl
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.marks import query_terms
from pathatlas.ui.api.facets import count_facets
from pathatlas.ui.api.uploads import extract_zip
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli_common import _console
from pathatlas.ui.present import highlight
from tests.helpers import hashing_settings, run_cli
from tests.indexer.test_case_folders import folder_with, jsonl, tile

PULMON = "pulmón"
PULMON_NFD = unicodedata.normalize("NFD", PULMON)


def nfd(name: str) -> str:
    return unicodedata.normalize("NFD", name)


def indexed(tmp_path: Path, folder: Path) -> tuple[Index, list]:
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    report = Indexer(index, show_progress=False).add([folder])
    return index, report.sources


# -- 1. a name that looks the same is the same file ----------------------------------------------------------------


@pytest.mark.parametrize("metadata", ["cases.jsonl", "labels.csv"])
def test_images_named_decomposed_on_disk_are_found_by_their_composed_names(metadata, tmp_path):
    """macOS writes "biopsia pulmón.jpg" decomposed ("o" and a combining accent); labels.csv typed on Windows names it
    composed. The folder failed: "cannot read image .../biopsia pulmón.jpg" and "1 image not listed"."""
    rows = [{"image": f"biopsia {PULMON}.jpg", "diagnosis": "adenocarcinoma"}, {"image": "b.jpg", "diagnosis": "x"}]
    text = (
        jsonl(rows)
        if metadata == "cases.jsonl"
        else "image,diagnosis\n" + "".join(f"{r['image']},{r['diagnosis']}\n" for r in rows)
    )
    images = {nfd(f"biopsia {PULMON}.jpg"): tile(0), "b.jpg": tile(1)}
    folder = folder_with(tmp_path / "casos", metadata, text, images)

    index, (report,) = indexed(tmp_path, folder)
    assert report.status == "indexed" and report.entries == 2, report
    assert not report.problems, report.problems
    stored = {p["case"]: p for _, p in index.store.scan({"kind": "case"})}
    assert set(stored) == {f"biopsia {PULMON}", "b"}, (
        "a case named by its image's stem is named as the metadata spells it"
    )
    served = Path(stored[f"biopsia {PULMON}"]["source"]) / stored[f"biopsia {PULMON}"]["image"]
    assert served.is_file(), "the API serves the image from the name stored"
    index.close()


def test_an_organ_spelled_decomposed_and_composed_is_one_facet_value(tmp_path):
    rows = [
        {"image": "a.jpg", "case": "A", "organ": PULMON_NFD, "diagnosis": "adenocarcinoma"},
        {"image": "b.jpg", "case": "B", "organ": PULMON, "diagnosis": nfd("carcinoma epidermoide pulmón")},
    ]
    index, (report,) = indexed(tmp_path, folder_with(tmp_path / "casos", "cases.jsonl", jsonl(rows)))
    assert report.status == "indexed", report
    assert count_facets(index).values["organ"] == {PULMON: 2}
    index.close()


def test_a_facet_counts_what_choosing_it_finds(tmp_path):
    """The menu listed "pulmón" (4) and "Pulmón" (1) while the filter ``organ=pulmón`` found all five."""
    rows = [{"image": f"{n}.jpg", "case": str(n), "organ": PULMON, "diagnosis": "adenocarcinoma"} for n in range(2)]
    rows.append({"image": "2.jpg", "case": "2", "organ": "Pulmón", "diagnosis": "Adenocarcinoma"})
    images = {row["image"]: tile(n) for n, row in enumerate(rows)}
    index, (report,) = indexed(tmp_path, folder_with(tmp_path / "casos", "cases.jsonl", jsonl(rows), images))
    facets = count_facets(index).values
    assert facets["organ"] == {PULMON: 3} and facets["diagnosis"] == {"adenocarcinoma": 3}
    assert len(list(index.store.scan({"organ": PULMON}))) == 3
    index.close()


def zip_with_names(path: Path, names: list[str | bytes]) -> Path:
    """A zip of a few bytes under each name: a text name as Python writes it (the UTF-8 flag set where it is not
    ASCII), a bytes name as a tool that sets no flag writes it (old Windows in its code page, Linux's zip in UTF-8)."""
    written = [chr(ord("A") + i) * len(name) if isinstance(name, bytes) else name for i, name in enumerate(names)]
    with zipfile.ZipFile(path, "w") as archive:
        for name in written:
            archive.writestr(name, b"image bytes")
    data = path.read_bytes()
    for placeholder, name in zip(written, names, strict=True):
        if isinstance(name, bytes):
            data = data.replace(placeholder.encode(), name)
    path.write_bytes(data)
    return path


def test_zips_from_macos_and_old_windows_unpack_under_the_names_their_makers_meant(tmp_path):
    """Member names were kept as zipfile read them: decomposed from macOS, and from a zip without the UTF-8 flag as
    cp437, where Windows in Western Europe writes cp850 ("coraç╞o") and Linux's zip UTF-8 ("├│rg├úo")."""
    mac = zip_with_names(tmp_path / "mac.zip", [nfd(f"Casos Córdoba/biopsia {PULMON}.jpg")])
    legacy = zip_with_names(tmp_path / "legacy.zip", ["Casos/coração.jpg".encode("cp850"), "Casos/órgão.jpg".encode()])
    for archive in (mac, legacy):
        assert all(bool(m.flag_bits & 0x800) == (archive == mac) for m in zipfile.ZipFile(archive).infolist())
        extract_zip(archive, tmp_path / archive.stem, max_bytes=1 << 20, max_members=10)
    assert [p.name for p in sorted((tmp_path / "mac").rglob("*"))] == ["Casos Córdoba", f"biopsia {PULMON}.jpg"]
    assert sorted(p.name for p in (tmp_path / "legacy" / "Casos").iterdir()) == ["coração.jpg", "órgão.jpg"]


# -- 2. names that are not UTF-8 -----------------------------------------------------------------------------------


def latin1_name(folder: Path, name: str) -> Path:
    """``folder / name`` with the name's bytes in Latin-1, as an old disk or USB stick holds it (skipped where the
    file system takes only Unicode names)."""
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name.encode("latin-1")))
    try:
        path.touch()
        path.unlink()
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only valid UTF-8 (or UTF-16) names")
    return path


def test_a_source_named_in_latin1_is_refused_in_one_line_while_the_rest_indexes(tmp_path):
    """Such a name failed with "UnicodeEncodeError: 'utf-8' codec can't encode character '\\udced'", and ``--json``
    carried a lone surrogate, which strict JSON parsers (jq, browsers) refuse. A case folder holding a stray file so
    named failed the same way."""
    books = tmp_path / "books"
    make_pdf(books / "ok.pdf", 1, "v0").rename(latin1_name(books, "Patología.pdf"))
    make_pdf(books / "ok.pdf", 1, "v0")
    tile(2).save(
        latin1_name(
            folder_with(books / "casos", "cases.jsonl", jsonl([{"image": "a.jpg"}]), {"a.jpg": tile(0)}), "señal.jpg"
        )
    )

    result = run_cli("index", books, "--index", tmp_path / "index", "--json", home=tmp_path / "home")
    report = {Path(s["source"]).name: s for s in json.loads(result.stdout)}
    json.dumps(report, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere
    assert report["Patolog\ufffda.pdf"]["status"] == "failed"
    (problem,) = report["Patolog\ufffda.pdf"]["problems"]
    assert problem == f"{books}/Patolog\ufffda.pdf: the name is not valid UTF-8 (shown as \ufffd); rename it"
    assert f"error: {problem}" in result.stderr
    assert report["ok.pdf"]["status"] == report["casos"]["status"] == "indexed", report
    assert report["casos"]["problems"] == [
        f"{books}/casos: 1 image not listed in cases.jsonl, not indexed: se\ufffdal.jpg"
    ]
    assert stat_signature(books / "casos") is not None


# -- 3. control characters ------------------------------------------------------------------------------------------


ESCAPES = "\x1b[31mROJO\x1b[0m \x1b]0;pwned\x07 \x00\x9b31m"


def test_control_characters_in_case_metadata_are_dropped_when_read(tmp_path):
    """An ESC sequence (a colour, a window title), a BEL and a NUL in a cell reached the terminal raw in search
    results; tab and newline are text."""
    csv = f'image,diagnosis,description\nx.jpg,neumonia {ESCAPES},"line one\nline\ttwo"\n'
    (row,) = read_case_metadata(folder_with(tmp_path / "esc", "labels.csv", csv, {"x.jpg": tile(0)}) / "labels.csv")
    assert row["diagnosis"] == "neumonia [31mROJO[0m ]0;pwned 31m"
    assert row["description"] == "line one\nline\ttwo"


def test_the_cli_consoles_print_control_characters_as_nothing(tmp_path):
    """Text that still holds them (indexed before, a file name) is printed without them, tables included."""
    console = _console()
    console.file = io.StringIO()
    table = Table("citation", "snippet")
    table.add_row(f"book {ESCAPES}.pdf", f"a [bold]snippet[/bold] {ESCAPES}")
    console.print(table)
    console.print(f"error: {ESCAPES}", markup=False)
    printed = console.file.getvalue()
    assert not {"\x1b", "\x07", "\x00", "\x9b"} & set(printed), ascii(printed)
    assert "ROJO" in printed and "snippet" in printed


# -- 4. highlighting in any script ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("células gigantes", ["células", "gigantes"]),
        ("Ätiologie der Leberzirrhose", ["ätiologie", "der", "leberzirrhose"]),
        ("καρκίνωμα του πνεύμονα", ["καρκίνωμα", "του", "πνεύμονα"]),
        ("α-actinin in the Z-disc", ["α-actinin", "z-disc"]),
        (f"biopsia de {PULMON_NFD}", ["biopsia", PULMON]),
        ("肺腺癌の組織型", ["肺腺癌", "組織型"]),
        ("肺癌とフィブローシス", ["肺癌", "フィブローシス"]),
        ("Which cells show koilocytes in the cervix?", ["cells", "koilocytes", "cervix"]),
    ],
)
def test_query_terms_are_words_of_any_script(query, terms):
    """``[A-Za-z][A-Za-z0-9-]+`` took "lulas" from "células", "tiologie" from "Ätiologie" and nothing of Greek or
    Japanese; stop words and one- or two-letter words still go, but two kanji make a word."""
    assert query_terms(query) == terms


def test_highlight_marks_words_of_any_script_and_terms_inside_a_japanese_run():
    text = "Las células gigantes. Die Ätiologie. 肺腺癌は最も頻度の高い肺癌の組織型である。"
    assert highlight(text, query_terms("células Ätiologie 肺腺癌の組織型")) == (
        "Las <mark>células</mark> gigantes. Die <mark>Ätiologie</mark>. "
        "<mark>肺腺癌</mark>は最も頻度の高い肺癌の<mark>組織型</mark>である。"
    )


def test_highlight_marks_the_words_the_search_matched_through_folding():
    """The search folds accents, "ß" and case ("strasse" finds "Straße", "inflamasyon" finds "İNFLAMASYON"), but the
    snippet marked only words spelt as typed, so the word that made the hit was not shown; a hyphen still starts a
    word ("non-koilocytic")."""
    text = "Die Straße; La ETIOLOGÍA; İNFLAMASYON; non-koilocytic"
    assert highlight(text, query_terms("strasse etiologia inflamasyon koilocytes")) == (
        "Die <mark>Straße</mark>; La <mark>ETIOLOGÍA</mark>; <mark>İNFLAMASYON</mark>; non-<mark>koilocytic</mark>"
    )


# -- 5. the hint for a file that is not UTF-8 -----------------------------------------------------------------------


def test_only_a_csv_file_is_told_how_excel_saves_utf8(tmp_path):
    """A cases.jsonl in Latin-1 was told to save "(in Excel: CSV UTF-8)", which Excel cannot do for JSON lines."""
    (tmp_path / "cases.jsonl").write_bytes('{"image": "a.jpg", "organ": "pulmón"}\n'.encode("latin-1"))
    (tmp_path / "labels.csv").write_bytes("image,organ\na.jpg,pulmón\n".encode("latin-1"))
    with pytest.raises(BadInputError, match="save it as UTF-8$"):
        read_jsonl(tmp_path / "cases.jsonl")
    with pytest.raises(BadInputError, match=r"save it as UTF-8 \(in Excel: CSV UTF-8\)$"):
        read_case_metadata(tmp_path / "labels.csv")


def test_a_source_named_on_a_mac_is_found_by_its_name_as_typed(tmp_path):
    """A PDF saved on a Mac has a decomposed name; a filter or ``remove`` typed on any keyboard names it composed."""
    name = unicodedata.normalize("NFD", "Patología.pdf")
    pdf = make_pdf(tmp_path / "ok.pdf", 1, "v0").rename(tmp_path / name)
    index = Index.open(tmp_path / "index", hashing_settings(tmp_path), create=True)
    Indexer(index, show_progress=False).add([pdf])
    typed = unicodedata.normalize("NFC", "Patología.pdf")
    assert typed != name and index.resolve_source(typed) == str(pdf.resolve())


def test_json_output_writes_text_as_written_in_utf8(tmp_path):
    """``search --json`` escaped every accent ("Etiolog\\u00eda") while ``ask --json`` wrote it as is."""
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "La etiología de la neumonía es infecciosa en la mayoría de los casos.")
    doc.save(tmp_path / "neumonia.pdf")
    home, index = tmp_path / "home", tmp_path / "index"
    assert run_cli("index", tmp_path / "neumonia.pdf", "--index", index, home=home).exit_code == 0
    for args in (("search", "etiología"), ("ask", "¿Cuál es la etiología de la neumonía?")):
        result = run_cli(*args, "--index", index, "--json", home=home)
        assert result.exit_code == 0 and "etiología" in result.stdout and "\\u00ed" not in result.stdout
        json.loads(result.stdout)
    traced = run_cli("ask", "¿Cuál es la etiología de la neumonía?", "--trace", "--index", index, home=home)
    assert "¿Cuál es la etiología" in traced.stdout and "\\u00bf" not in traced.stdout, "the agent's steps as written"


def test_a_folder_a_mac_named_is_indexed_by_its_name_as_typed(tmp_path):
    """``pathatlas index "Casos Córdoba"`` typed composed said "no such file or folder" for the folder a Mac wrote."""
    on_disk = tmp_path / unicodedata.normalize("NFD", "Casos Córdoba")
    folder_with(on_disk, "labels.csv", "image,diagnosis\na.jpg,neumonía\nb.jpg,tuberculosis\n")
    typed = tmp_path / unicodedata.normalize("NFC", "Casos Córdoba")
    index = Index.open(tmp_path / "index", hashing_settings(tmp_path), create=True)
    (report,) = Indexer(index, show_progress=False).add([typed]).sources
    assert report.status == "indexed" and report.source == str(on_disk), report
