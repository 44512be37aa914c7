"""What ``bench retrieval`` reports of each method and of a case index: an ablation under its own key (the default
with a part removed is no baseline, yet a default below it is still marked), each held-out fold's significant
differences marked in its own table, and ``--cases FOLDER --index IDX`` measuring the index's stored vectors of the
folder's images (refused in one line where the index lacks some of them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from pathatlas.retrieval.bench.common import chance, compare_runs, tied_figures
from pathatlas.retrieval.bench.names import KNOB_OFF
from pathatlas.ui import bench_cli
from tests.helpers import one_error_line, run_cli
from tests.indexer.test_incremental_cases import ENCODER, PixelEncoder
from tests.retrieval.test_joint import write_shared_layout

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

WIDTH = 100
"""A terminal's usual width: the tables and their legends must read there."""


@pytest.fixture
def printed(monkeypatch):
    """What ``bench_cli`` prints from here on, stdout's and stderr's consoles together, as lines ``WIDTH`` wide."""
    console = Console(width=WIDTH, record=True)
    monkeypatch.setattr(bench_cli, "console", console)
    monkeypatch.setattr(bench_cli, "err_console", console)
    return lambda: console.export_text().splitlines()


def table_rows(lines: list[str], title: str) -> dict[str, list[str]]:
    """Each method's cells in the table titled ``title``, a cell's wrapped lines joined: a row starts on a line whose
    first figure starts with a digit, and goes on over the lines that follow it."""
    start = next(n for n, line in enumerate(lines) if title in line)
    end = next(n for n, line in enumerate(lines) if n > start and line.startswith("└"))
    rows: list[list[list[str]]] = []
    for line in lines[start:end]:
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.split("│")[1:-1]]
            if cells[1][:1].isdigit():
                rows.append([])
            rows[-1].append(cells)
    joined = [[" ".join(filter(None, column)) for column in zip(*row, strict=True)] for row in rows]
    return {cells[0]: cells[1:] for cells in joined}


# The ablation: its own key, still marked where the default scores below it --------------------------------------------


def test_a_default_below_its_ablation_is_marked_in_its_row_as_below_a_baseline_is(printed):
    """The knob costs recall@1 here: the default ranks the gold item second where the ablation ranks it first."""
    gold = [{1}, {1}]
    methods = {
        "hybrid": tied_figures([[2, 1], [1, 2]], gold),
        KNOB_OFF: tied_figures([[1, 2], [1, 2]], gold),
        "bm25": tied_figures([[2, 1], [2, 1]], gold),
        "chance": chance(2, [1, 1]),
    }
    body = {"n": 2, "default": "hybrid", "baselines": ["bm25", "chance"], "ablations": [KNOB_OFF], "methods": methods}
    bench_cli.print_task("t", body)
    lines = printed()
    roles = {name: cells[-1] for name, cells in table_rows(lines, "t, n=2").items()}
    assert roles == {
        "hybrid": f"default; ✗ below {KNOB_OFF} on recall@1 and mrr",
        KNOB_OFF: "ablation",
        "bm25": "baseline",
        "chance": "baseline",
    }
    assert max(map(len, lines)) <= WIDTH


# Held-out folds: each fold's significant differences marked in its table -------------------------------------------


def fold_body(chapter: str, beaten: int, level: int = 30) -> dict:
    """A held-out fold of ``level`` questions whose gold ``a`` the default ranks first; BM25 ranks it second on
    ``beaten`` of them, first on the rest."""
    ids, gold = [f"{chapter}{n}" for n in range(level)], [{"a"}] * level
    ranked = {"hybrid": [["a", "x"]] * level, "bm25": [["x", "a"]] * beaten + [["a", "x"]] * (level - beaten)}
    methods = {name: tied_figures(lists, gold, mrr_depth=10) for name, lists in ranked.items()}
    return {
        "n": level,
        "mrr_depth": 10,
        "methods": methods,
        "default": "hybrid",
        "baselines": ["bm25"],
        "significance": compare_runs(ids, gold, ranked, "hybrid", depth=10),
        "chapters": [chapter],
    }


def test_each_held_out_fold_marks_the_figures_that_differ_significantly_from_the_default(printed):
    """Fold 0: BM25 misses rank 1 on all 30 questions (McNemar p 2e-9, significant after Holm over the fold's 4
    tests); fold 1: on 6 of 30 (p 0.031 alone, above 0.05 after Holm): marked in fold 0's table only, beside BM25's
    figures of recall@1 and MRR, the metrics that differ."""
    folds = [fold_body("one", beaten=30), fold_body("two", beaten=6)]
    assert folds[0]["significance"]["bm25"]["recall@1"]["significant"]
    assert not folds[1]["significance"]["bm25"]["recall@1"]["significant"]
    pooled = {**fold_body("all", beaten=18, level=60), "folds": folds}
    bench_cli.print_task("text_to_page", pooled)
    lines = printed()
    first = table_rows(lines, "held-out fold 0 (one)")
    recall_1, recall_5, recall_10, mrr, role = first["bm25"]
    assert recall_1 == "0.000* (0.00-0.12)" and mrr == "0.500* (0.50-0.50)" and role == "baseline"
    assert "*" not in recall_5 + recall_10  # the same for both
    assert not any("*" in cell for cell in first["hybrid"])
    assert not any("*" in cell for cell in table_rows(lines, "held-out fold 1 (two)")["bm25"])
    shown = " ".join(" ".join(lines).split())
    assert (
        "text_to_page held-out folds: * beside a figure: it differs from the default's, significant at 0.05 after "
        "Holm-Bonferroni over each fold's own 4 paired tests, not corrected across folds" in shown
    )
    assert max(map(len, lines)) <= WIDTH


# --cases FOLDER --index IDX: the index's own vectors of the folder's images ----------------------------------------


@pytest.fixture(scope="module")
def case_index(tmp_path_factory) -> tuple[Path, Path]:
    """A drawn atlas of 12 images (4 patterns, cases of 2) indexed with the pixel encoder: (its folder, the index)."""
    root = tmp_path_factory.mktemp("stored-vectors")
    folder = write_shared_layout(root / "data", per_pattern=3) / "atlas"
    result = run_cli("index", folder, "--index", root / "idx", home=root / "home", PATHATLAS_ENCODER=ENCODER)
    assert result.exit_code == 0, result.output
    return folder, root / "idx"


def bench_cases(folder: Path, *more) -> object:
    home = folder.parent.parent / "home"
    args = ["bench", "retrieval", "--cases", folder, "--split", "all", "--json", "-", *more]
    return run_cli(*args, home=home, PATHATLAS_ENCODER=ENCODER)


def test_cases_with_an_index_measure_its_stored_vectors_and_say_so(case_index, monkeypatch):
    """The pixel encoder encodes a drawn image as the index did, so the figures match the run that encodes them; with
    ``--index`` no image is encoded at all."""
    folder, index = case_index
    encoded = bench_cases(folder)
    assert encoded.exit_code == 0, encoded.output

    def refuse(self, images):
        raise AssertionError("an image was encoded")

    monkeypatch.setattr(PixelEncoder, "encode_image", refuse)
    stored = bench_cases(folder, "--index", index)
    assert stored.exit_code == 0, stored.output
    read, fresh = json.loads(stored.stdout), json.loads(encoded.stdout)
    assert read["tasks"].keys() == fresh["tasks"].keys() == {"image_to_image_case", "image_to_image_label"}
    for name, body in read["tasks"].items():
        assert body["methods"] == fresh["tasks"][name]["methods"]
        assert body["vectors_from"] == str(index) and "vectors_from" not in fresh["tasks"][name]
    said = " ".join(stored.stderr.split())
    assert f"image vectors read from the index {index} (12 images, each matched to a case record" in said
    assert read["run"]["index"] == str(index) and read["run"]["index_encoder"] == ENCODER


def copied_folder(folder: Path, to: Path) -> Path:
    """The case folder's metadata and images copied to ``to``: the same bytes under another path."""
    shutil.copytree(folder, to)
    return to


def test_the_same_images_under_another_path_are_read_and_one_changed_since_is_refused_in_one_line(case_index, tmp_path):
    folder, index = case_index
    moved = copied_folder(folder, tmp_path / "moved")
    assert bench_cases(moved, "--index", index).exit_code == 0  # matched by their bytes, not their path
    changed = copied_folder(folder, tmp_path / "changed")
    first = changed / json.loads((folder / "cases.jsonl").read_text().splitlines()[0])["image"]
    Image.open(first).rotate(90).save(first)
    one_error_line(
        bench_cases(changed, "--index", index),
        f"--cases {changed} --index {index}",
        "holds no case image with the bytes of 1 of the 12 images",
        str(first),
        "index the folder again",
    )


def test_cases_with_an_index_not_there_or_not_of_their_folder_are_refused_not_measured_past(case_index, tmp_path):
    folder, index = case_index
    one_error_line(bench_cases(folder, "--index", tmp_path / "no-such-index"), "no-such-index")
    tiles = folder.parent / "lc25000"  # other images, drawn alike
    one_error_line(
        bench_cases(tiles, "--index", index),
        "the index holds none of the folder's 12 images",
        "run --cases without --index to encode them",
    )
