"""A lecturer indexing her slide deck and a folder of case photos with a spreadsheet: what the command line tells her
when she removes one photo, mistypes a filter value, drops in iPhone photos, re-runs ``index``, waits for ``ask``,
reads two images of one case, searches by image, or names her languages by code."""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.errors import UnknownSourceError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import load_settings
from pathatlas.ui.cli_common import TextConsole
from tests.helpers import hashing_settings, one_error_line, run_cli

SHEET = (
    "\ufeffImage;Case;Diagnosis;Organ;Stain\r\n"
    "IMG_2050.jpg;C-05;Glioblastoma;Brain;NFP\r\n"
    "scan_GFAP.jpg;C-05;glioblastoma;brain;GFAP\r\n"
    "IMG_2041.jpg;C-01;Cystic fibrosis;Fígado;HE\r\n"
    "IMG_2070.jpg;;Sarcina ventriculi;Stomach;HE\r\n"
)


def photos(folder: Path, names: list[str]) -> Path:
    """``folder`` with a photo (random pixels) of each name."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(names):
        pixels = np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)
    return folder


def case_folder(path: Path, sheet: str = SHEET, extra: tuple[str, ...] = ()) -> Path:
    """A folder of the photos the sheet's first column names, ``extra`` files holding no image among them."""
    names = [line.split(";")[0].lstrip("\ufeff") for line in sheet.splitlines()[1:] if line.strip(";")]
    photos(path, [name for name in names if name not in extra])
    for name in extra:
        (path / name).write_bytes(b"\x00\x00\x00\x18ftypheic")  # an iPhone photo's first bytes
    (path / "labels.csv").write_bytes(sheet.encode("utf-8"))
    return path


def indexed(folder: Path, root: Path) -> Index:
    index = Index.open(root / "index", hashing_settings(root), create=True)
    report = Indexer(index, show_progress=False).add([folder])
    assert not report.failed, report.failed
    return index


# -- 1. removing one photo of a case folder --------------------------------------------------------------------------


def test_removing_a_photo_of_an_indexed_case_folder_says_the_folder_is_the_source_and_how_to_drop_it(hashing_cli):
    """``pathatlas remove "course/Fälle Winter/IMG_2070.jpg"`` said only "no source ...; 'pathatlas info' lists
    them"; the folder is the source, and the photo leaves it by being deleted and the folder indexed again. The folder
    is named decomposed on disk, as a Mac names it, and the photo typed composed."""
    course = hashing_cli / "course"
    course.mkdir()
    case_folder(course / unicodedata.normalize("NFD", "Fälle Winter"))
    assert run_cli("index", course / unicodedata.normalize("NFD", "Fälle Winter"), "--index", "idx").exit_code == 0

    result = run_cli("remove", "course/Fälle Winter/IMG_2070.jpg", "--index", "idx")
    line = one_error_line(result, "'course/Fälle Winter/IMG_2070.jpg'", "indexed as one source", "delete the file")
    index = hashing_cli / "idx"
    assert "labels.csv" in line and "pathatlas index '" in line and f"Winter' --index {index}` again" in line, line
    unknown = run_cli("remove", "elsewhere/IMG_2070.jpg", "--index", "idx").output
    assert unknown.count(f"'pathatlas info --index {index}' lists") == 1, unknown
    info = json.loads(run_cli("info", "--index", "idx", "--json").output)
    assert info["records"] == 4, "nothing removed"


# -- 2. a filter value the index does not hold ----------------------------------------------------------------------


def test_a_filter_value_no_record_holds_is_refused_naming_the_closest_held_ones(hashing_cli):
    """``--filter diagnosis=glioblastom`` printed "no hits"; sources and chapters were already checked."""
    case_folder(hashing_cli / "cases")
    assert run_cli("index", "cases", "--index", "idx").exit_code == 0

    result = run_cli("search", "tumour", "--index", "idx", "--filter", "diagnosis=glioblastom")
    one_error_line(result, "no diagnosis 'glioblastom'", "closest: 'Glioblastoma'")
    one_error_line(run_cli("search", "tumour", "--index", "idx", "--filter", "case=c-05"), "closest: 'C-05'")
    one_error_line(
        run_cli("search", "tumour", "--index", "idx", "--filter", "kind=figure"), "no kind 'figure'", "'case'"
    )
    one_error_line(
        run_cli("search", "tumour", "--index", "idx", "--filter", "organ=lung"), "no organ 'lung'", "it has 'Brain'"
    )
    refused = run_cli(
        "ask", "Which tumour is it?", "--option", "a", "--option", "b", "--index", "idx", "--filter", "organ=lung"
    )
    one_error_line(refused, "no organ 'lung'")

    for held in ("diagnosis=GLIOBLASTOMA", "organ=figado", "organ=FÍGADO", "case=C-05", "kind=case"):  # as matched
        found = run_cli("search", "tumour", "--index", "idx", "--filter", held, "--json")
        assert found.exit_code == 0 and json.loads(found.stdout), (held, found.output)
    either = run_cli(
        "search", "tumour", "--index", "idx", "--filter", "organ=lung", "--filter", "organ=brain", "--json"
    )
    assert {hit["organ"] for hit in json.loads(either.stdout)} == {"Brain"}, "alternatives some record holds: a search"


def test_held_values_are_counted_once_per_generation(tmp_path, monkeypatch):
    """Every search resolves its filters (the agent's each sub-query): the store counts a field's values once per
    committed generation, and a commit's new values are then held."""
    index = indexed(case_folder(tmp_path / "winter"), tmp_path)
    counted: list[str] = []
    real = type(index.raw_store).value_counts
    monkeypatch.setattr(
        type(index.raw_store), "value_counts", lambda store, name: counted.append(name) or real(store, name)
    )
    searcher = Searcher(index)
    for _ in range(3):
        assert searcher.search(Query(text="tumour", filters={"diagnosis": "glioblastoma", "organ": "brain"}))
    assert sorted(counted) == ["diagnosis", "organ"]

    with pytest.raises(UnknownSourceError, match="no diagnosis 'Lipoma'"):
        searcher.search(Query(text="tumour", filters={"diagnosis": "Lipoma"}))
    sheet = "image;diagnosis\nfat.jpg;Lipoma\n"
    Indexer(index, show_progress=False).add([case_folder(tmp_path / "summer", sheet)])
    assert searcher.search(Query(text="tumour", filters={"diagnosis": "Lipoma"}))


@pytest.mark.parametrize("store", ["faiss", "qdrant"])
def test_each_organ_of_a_case_of_several_is_held_in_every_store(tmp_path, store):
    """A ``cases.jsonl`` list of organs is held item by item, as a filter finds it, in each store."""
    settings = hashing_settings(tmp_path)
    if store == "qdrant":
        settings = settings.model_copy(update={"qdrant_url": str(tmp_path / "qdrant-local")})
    index = Index.open(settings.index_dir, settings, create=True, store=store)
    folder = photos(tmp_path / "cases", ["a.jpg", "b.jpg"])
    rows = [{"image": "a.jpg", "case": "AS-02", "organ": ["spleen", "Liver"]}, {"image": "b.jpg", "organ": "lung"}]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert not Indexer(index, show_progress=False).add([folder]).failed
    searcher = Searcher(index)
    hits = searcher.search(Query(text="specimen", filters={"organ": "liver"}))
    assert {hit.payload.case for hit in hits} == {"AS-02"}
    with pytest.raises(UnknownSourceError, match="closest: 'Liver'"):
        searcher.search(Query(text="specimen", filters={"organ": "livr"}))
    index.close()


# -- 3, 4. iPhone photos; the problems of an unchanged folder --------------------------------------------------------


def test_heic_photos_say_how_to_get_jpegs(tmp_path):
    """HEIC photos were refused as "not an image file"."""
    sheet = "image;diagnosis\r\nIMG_2041.jpg;Cystic fibrosis\r\nIMG_3000.HEIC;Koilocytosis\r\n"
    indexer = Indexer(Index.open(tmp_path / "index", hashing_settings(tmp_path), create=True), show_progress=False)
    (source,) = indexer.add([case_folder(tmp_path / "phone", sheet, extra=("IMG_3000.HEIC",))]).sources
    (problem,) = source.problems
    assert problem.startswith(str(tmp_path / "phone" / "IMG_3000.HEIC: HEIC photos are not read; export them as JPEG"))
    assert "Settings > Camera > Formats > Most Compatible" in problem


def test_an_unchanged_folder_shows_the_problems_it_was_indexed_with(hashing_cli):
    """On the next run the folder, unchanged, showed no problems in ``index``'s table while ``info`` counted one."""
    case_folder(hashing_cli / "cases")
    Image.new("RGB", (40, 40)).save(hashing_cli / "cases" / "unlisted.png")
    first = json.loads(run_cli("index", "cases", "--index", "idx", "--json").stdout)
    (problem,) = first[0]["problems"]
    assert "1 image not listed in labels.csv" in problem

    again = json.loads(run_cli("index", "cases", "--index", "idx", "--json").stdout)
    assert again[0]["status"] == "unchanged" and again[0]["problems"] == [problem]
    table = run_cli("index", "cases", "--index", "idx").stdout
    assert "unchanged" in table and "1 image not listed" in table, table


def test_every_problem_of_a_folder_is_listed_by_info_problems(hashing_cli):
    """``index`` showed three problems and "(+1 more)", and ``info`` only a count: the hidden one was the listed slide
    that was never indexed. The table now says where to read them all, and ``info --problems`` lists each."""
    case_folder(hashing_cli / "cases")
    Image.new("RGB", (40, 40)).save(hashing_cli / "cases" / "unlisted.png")
    with (hashing_cli / "cases" / "labels.csv").open("a") as sheet:
        for name in ("missing_slide.jpg", "broken.jpg", "empty.jpg"):
            sheet.write(f"{name};C-{name[:3]};Gastritis;Stomach;HE\r\n")
    (hashing_cli / "cases" / "broken.jpg").write_text("not a picture")
    (hashing_cli / "cases" / "empty.jpg").write_bytes(b"")
    (source,) = json.loads(run_cli("index", "cases", "--index", "idx", "--json").stdout)
    assert len(source["problems"]) > 3, source["problems"]
    table = run_cli("index", "cases", "--index", "idx", "--force").stdout
    assert "more: pathatlas info --problems" in table, table
    summary = run_cli("info", "--index", "idx").stdout
    assert f"{len(source['problems'])} problem(s) found while indexing: pathatlas info --problems" in summary
    assert "missing_slide.jpg" not in summary
    listed = run_cli("info", "--index", "idx", "--problems").stdout
    assert (
        "missing_slide.jpg" in listed and "broken.jpg" in listed and f"{len(source['problems'])} problem(s)" in listed
    )


# -- 5. what ask is doing ---------------------------------------------------------------------------------------------


def test_ask_says_what_it_is_doing_on_stderr_and_its_json_stays_one_document(hashing_cli, monkeypatch):
    """``pathatlas ask`` ran for seconds with nothing on the screen; a status line (erased when done) now says what
    it does, on stderr, and only where stderr is a terminal."""
    case_folder(hashing_cli / "cases")
    assert run_cli("index", "cases", "--index", "idx").exit_code == 0
    question = ("ask", "Which tumour is this?", "--option", "Glioblastoma", "--option", "Lipoma", "--index", "idx")

    plain = run_cli(*question, "--json")  # stderr is no terminal here: nothing is drawn
    assert json.loads(plain.stdout)["answer"] and "searching" not in plain.stderr, plain.stderr

    terminal = io.StringIO()
    monkeypatch.setattr("pathatlas.ui.cli.err_console", TextConsole(file=terminal, force_terminal=True))
    result = run_cli(*question, "--json")
    assert json.loads(result.stdout)["answer"], "one JSON document on stdout"
    assert "weighing the evidence" in terminal.getvalue() and "\x1b[2K" in terminal.getvalue(), "drawn, then erased"
    assert "weighing" not in result.stdout


# -- 6, 7. the search table's rows ------------------------------------------------------------------------------------


def test_two_images_of_one_case_read_apart_in_the_search_table(hashing_cli):
    """Two photos of case C-05 both read "Fälle Winter, case C-05"; an image that is its own case (no case id) is
    not named twice."""
    case_folder(hashing_cli / "Fälle Winter")
    assert run_cli("index", "Fälle Winter", "--index", "idx").exit_code == 0
    table = run_cli("search", "glioblastoma", "--index", "idx", "--filter", "case=C-05").stdout
    assert "Fälle Winter, case C-05, IMG_2050.jpg" in table and "Fälle Winter, case C-05, scan_GFAP.jpg" in table
    assert Citation("/c/Fälle Winter", case="IMG_2070", image="IMG_2070.jpg").label() == "Fälle Winter, case IMG_2070"
    assert Citation("/c/cases", case="D-1", image="images\\D-1.jpg").label() == "cases, case D-1"


def test_the_search_table_names_the_visual_and_joint_spaces_apart():
    """``search --image`` showed a hit found first by the visual space and one found first by the joint space both as
    "appearance #1"; the table now words them as the web UI does."""
    from pathatlas.ui.cli import console, hits_table

    looks = Hit("a", 1.0, "case", "", Citation("/c/cases", case="A"), matched_by={"visual:image": 1, "joint:image": 2})
    joint = Hit("b", 0.9, "case", "", Citation("/c/cases", case="B"), matched_by={"joint:image": 1, "visual:image": 3})
    with console.capture() as captured:
        console.print(hits_table([looks, joint]))
    assert "appearance #1, image-text match #2" in captured.get()
    assert "image-text match #1, appearance #3" in captured.get()


# -- 8. languages by code --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "languages"),
    [
        ("pt", ["portuguese"]),
        ("de, es", ["german", "spanish"]),
        ("pt-BR,Italian,en", ["italian", "portuguese"]),
        ('["pt", "german"]', ["german", "portuguese"]),
        ("dutch_porter", ["dutch_porter"]),
    ],
)
def test_languages_are_taken_by_iso_code_and_separated_by_commas(monkeypatch, given, languages):
    """``PATHATLAS_LANGUAGES=pt`` was refused: it wanted a JSON list of Snowball's names."""
    monkeypatch.setenv("PATHATLAS_LANGUAGES", given)
    assert load_settings().languages == languages


def test_an_unknown_language_code_is_one_line_naming_names_and_codes(tmp_path):
    result = run_cli("search", "lung", "--index", tmp_path / "index", home=tmp_path, PATHATLAS_LANGUAGES="pt,xx")
    one_error_line(result, "PATHATLAS_LANGUAGES", "unknown language 'xx'", "portuguese", "pt, ro")
