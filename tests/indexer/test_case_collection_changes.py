"""A lecturer's case collection over a term, re-indexed every week: cases added, a diagnosis' typo fixed in the
metadata and in its folder's name, a case folder renamed or moved without its rows, an image dropped in without its
row, a collection of a week inside the term's, an image replaced, a case deleted, and a run with nothing changed. What
``index``, ``info`` and ``search`` then tell her is what a fresh index of the folder would tell."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import run_cli


def slide(path: Path, seed: int) -> Path:
    """A 48-pixel photo of random pixels at ``path`` (its folders made): each seed another image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(path)
    return path


def collection(folder: Path, rows: list[dict]) -> Path:
    """``folder`` holding ``cases.jsonl`` of ``rows`` and a photo for each row's image (seeded by its place)."""
    for seed, row in enumerate(rows):
        slide(folder / row["image"], seed)
    write_rows(folder, rows)
    return folder


def write_rows(folder: Path, rows: list[dict]) -> None:
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def index(*paths: Path) -> list[dict]:
    """``pathatlas index PATHS --json`` into ``idx``: each source's report."""
    result = run_cli("index", *paths, "--index", "idx", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def problems(*paths: Path) -> list[str]:
    """The problems ``index`` reports for the one source ``paths`` give."""
    [report] = index(*paths)
    return report["problems"]


def labels(text: str, *options: str) -> list[str]:
    """The citations of every case ``pathatlas search TEXT OPTIONS --json`` finds."""
    result = run_cli("search", text, *options, "--index", "idx", "-k", "50", "--json")
    assert result.exit_code == 0, result.output
    return sorted(hit["citation"]["label"] for hit in json.loads(result.stdout))


WEEK_1 = [
    {"image": "angiosarcom/BS1-HE1.jpg", "case": "BS1", "diagnosis": "angiosarcom", "organ": "spleen, liver"},
    {"image": "angiosarcom/BS1-HE2.jpg", "case": "BS1", "diagnosis": "angiosarcom", "organ": "spleen, liver"},
    {"image": "gct/BS10-HE.jpg", "case": "BS10", "diagnosis": "granular cell tumor", "organ": "colon"},
    {"image": "lung/aca1.jpeg", "case": "L1", "diagnosis": "lung adenocarcinoma", "organ": "lung"},
]


def test_an_image_dropped_in_without_its_row_is_said_on_the_next_index_not_only_on_a_fresh_one(hashing_cli):
    """The folder's fingerprint hashed its metadata and listed images only: a slide copied in without its row left
    it "unchanged" with no problem, while a fresh index of the same folder said the slide was not indexed."""
    term = collection(hashing_cli / "term", WEEK_1)
    assert problems(term) == []
    slide(term / "lung" / "scc1.jpeg", 9)
    [report] = index(term)
    said = f"{term}: 1 image not listed in cases.jsonl, not indexed: lung/scc1.jpeg"
    assert (report["status"], report["problems"]) == ("indexed", [said])
    info = run_cli("info", "--index", "idx", "--problems").output
    assert "lung/scc1.jpeg" in info, info
    [again] = index(term)
    assert (again["status"], again["problems"]) == ("unchanged", [said]), "the second run reads nothing again"
    (term / "lung" / "scc1.jpeg").unlink()
    assert problems(term) == [], "the slide deleted, its note goes"


def test_a_case_folder_renamed_on_disk_but_not_in_its_rows_is_one_line_a_file_naming_where_it_is(hashing_cli):
    """The typo fixed in a folder's name but not in ``cases.jsonl``: each of its images read "cannot read image
    .../gct/BS10-HE.jpg: No such file or directory" and a note listed the same files as not listed; now one line a
    file names both places, on the run after the rename as on a fresh index."""
    term = collection(hashing_cli / "term", WEEK_1)
    index(term)
    (term / "angiosarcom").rename(term / "angiosarcoma")
    moved = [
        f"{term / 'cases.jsonl'}: listed 'angiosarcom/BS1-HE{n}.jpg' not found; found 'angiosarcoma/BS1-HE{n}.jpg' "
        "(moved? its row names its old place)"
        for n in (1, 2)
    ]
    assert problems(term) == moved
    shutil.rmtree("idx")
    assert problems(term) == moved
    write_rows(term, [{**row, "image": row["image"].replace("angiosarcom/", "angiosarcoma/")} for row in WEEK_1])
    assert problems(term) == []
    assert labels("vascular tumour", "--filter", "diagnosis=angiosarcom") == [
        f"term, case BS1, angiosarcoma/BS1-HE{n}.jpg" for n in (1, 2)
    ]


def test_a_file_name_found_in_several_folders_is_not_guessed_to_be_the_moved_one(hashing_cli):
    """Slides named alike in every case's folder ("HE.jpg"): a missing one is matched to none of them."""
    rows = [{"image": "a/HE.jpg", "case": "A"}, {"image": "b/HE.jpg", "case": "B"}]
    term = collection(hashing_cli / "term", rows)
    slide(term / "c" / "HE.jpg", 5)
    slide(term / "d" / "HE.jpg", 6)
    (term / "a" / "HE.jpg").unlink()
    found = problems(term)
    assert found[0] == f"cannot read image {term / 'a' / 'HE.jpg'}: No such file or directory", found
    assert found[1] == f"{term}: 2 images not listed in cases.jsonl, not indexed: c/HE.jpg, d/HE.jpg", found


def test_a_collection_of_a_week_inside_the_terms_is_named_once_not_its_images(hashing_cli):
    """A ``week5/labels.csv`` inside the term's case folder: the term was indexed "unchanged" with no problem (or, on a
    fresh index, its images "not listed"), while its cases were in no index; now one note names the folder, which
    indexes on its own."""
    term = collection(hashing_cli / "term", WEEK_1)
    index(term)
    slide(term / "week5" / "BS26-HE.jpg", 7)
    (term / "week5" / "labels.csv").write_text("image,diagnosis\nBS26-HE.jpg,keratin granulomas\n", encoding="utf-8")
    nested = f"{term}: week5: a case folder inside a case folder is not read with it; index it on its own"
    assert problems(term) == [nested]
    assert [report["status"] for report in index(term / "week5")] == ["indexed"]
    assert labels("keratin", "--filter", "diagnosis=keratin granulomas") == ["week5, case BS26-HE"]


def test_a_term_of_weekly_changes_leaves_no_stale_case_and_an_unchanged_run_writes_nothing(hashing_cli, monkeypatch):
    """Week by week: a case added, a diagnosis' typo fixed in the rows and the folder's name, a case moved into a
    subfolder, one deleted, an image replaced by another of its name, the folder indexed from elsewhere and through a
    link. Each run leaves the folder's cases as they are on disk (old names gone, counts right); a run with nothing
    changed keeps the index's generation."""
    term = collection(hashing_cli / "term", WEEK_1)
    index(term)
    rows = [{**row, "image": row["image"].replace("angiosarcom/", "angiosarcoma/")} for row in WEEK_1]
    rows = [{**row, "diagnosis": "angiosarcoma"} if row["case"] == "BS1" else row for row in rows]
    (term / "angiosarcom").rename(term / "angiosarcoma")
    (term / "lung" / "aca").mkdir()
    (term / "lung" / "aca1.jpeg").rename(term / "lung" / "aca" / "aca1.jpeg")
    rows = [{**row, "image": "lung/aca/aca1.jpeg"} if row["case"] == "L1" else row for row in rows]
    shutil.rmtree(term / "gct")
    rows = [row for row in rows if row["case"] != "BS10"]
    rows.append({"image": "liver/BS13-HE.jpg", "case": "BS13", "diagnosis": "lipopeliosis", "organ": "liver"})
    slide(term / "liver" / "BS13-HE.jpg", 11)
    write_rows(term, rows)
    assert problems(term) == []
    cited = labels("angiosarcoma lung adenocarcinoma lipopeliosis granular cell tumor")
    assert cited == [
        "term, case BS1, angiosarcoma/BS1-HE1.jpg",
        "term, case BS1, angiosarcoma/BS1-HE2.jpg",
        "term, case BS13, liver/BS13-HE.jpg",
        "term, case L1, lung/aca/aca1.jpeg",
    ]
    before = json.loads(run_cli("search", "lipopeliosis", "--index", "idx", "--json").stdout)[0]["payload"]
    slide(term / "liver" / "BS13-HE.jpg", 12)  # the slide replaced by a better one of the same name
    assert index(term)[0]["status"] == "indexed"
    after = json.loads(run_cli("search", "lipopeliosis", "--index", "idx", "--json").stdout)[0]["payload"]
    assert after["image_hash"] != before["image_hash"]
    info = json.loads(run_cli("info", "--index", "idx", "--json").output)
    assert (info["records"], list(info["sources"])) == (4, [str(term)])
    manifest = hashing_cli / "idx" / "manifest.json"
    generation = json.loads(manifest.read_text())["generation"]
    (hashing_cli / "link").symlink_to(term)
    monkeypatch.chdir(term / "liver")
    for path in (term, hashing_cli / "link", "../../term"):
        result = run_cli("index", path, "--index", hashing_cli / "idx", "--json")
        assert [(r["source"], r["status"]) for r in json.loads(result.output)] == [(str(term), "unchanged")]
    assert json.loads(manifest.read_text())["generation"] == generation


def test_a_missing_slide_copied_in_later_under_another_letter_case_is_said_on_the_next_index(hashing_cli):
    """Indexed while a listed slide was missing, then the slide copied in as "BS1-HE1.JPG": no note changes (the file
    is the listed one's twin, not unlisted), and the run found the folder unchanged, still saying it was missing."""
    term = collection(hashing_cli / "term", WEEK_1)
    listed = term / "angiosarcom" / "BS1-HE1.jpg"
    listed.rename(hashing_cli / "BS1-HE1.jpg")
    assert problems(term) == [f"cannot read image {listed}: No such file or directory"]
    (hashing_cli / "BS1-HE1.jpg").rename(listed.with_suffix(".JPG"))
    found = "listed 'angiosarcom/BS1-HE1.jpg' not found; found 'angiosarcom/BS1-HE1.JPG' (names differ in letter case)"
    assert problems(term) == [f"{term / 'cases.jsonl'}: {found}"]
