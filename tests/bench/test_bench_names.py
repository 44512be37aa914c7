"""``bench retrieval --names``: short searches taken from the index (each case diagnosis to its cases, each short
bookmark section to its pages), every method a real search, the every-word-first knob measured as an ablation beside
the baselines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.retrieval.bench.names import KNOB_OFF
from tests.helpers import indexed_lecture, one_error_line, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

METHODS = {"hybrid", KNOB_OFF, "bm25", "dense", "chance"}
SECTIONS = ["Chapter 1: Cells", "Chapter 1: Cells > 1.1 Membrane Transport"]
"""The sections of the book short enough to ask (a third has more than six content words)."""


def case_folder(root: Path) -> Path:
    """Most cases say "lung" (so BM25 weighs it near nothing), a short colon case says "adenocarcinoma" (BM25's first
    for "lung adenocarcinoma"), and an angiosarcoma is of two organs its diagnosis does not name."""
    folder = root / "tiles"
    folder.mkdir()
    rows = ["image,case,diagnosis,organ,description"]
    labels = [("benign lung tissue", "lung", "benign tissue")] * 12
    labels += [
        ("lung adenocarcinoma", "lung", "glands in acinar and solid patterns with mucin in the tumour cells")
    ] * 2
    labels += [("adenocarcinoma", "colon", "adenocarcinoma"), ("angiosarcoma", "spleen; liver", "vascular channels")]
    for n, (diagnosis, organ, description) in enumerate(labels):
        pixels = np.random.default_rng(n).integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"t{n}.png")
        rows.append(f"t{n}.png,c{n},{diagnosis},{organ},{description}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def bookmarked_book(path: Path) -> Path:
    """Three pages under three bookmarks, the last of more than six content words."""
    import pymupdf

    doc = pymupdf.open()
    for text in ("Cells are the units of life.", "Membranes move ions by transport.", "Channels open and close."):
        doc.new_page().insert_text((40, 60), text, fontsize=11)
    long_title = "1.2 Channels Pumps Carriers Gradients Potentials Receptors of Membranes"
    doc.set_toc([[1, "Chapter 1: Cells", 1], [2, "1.1 Membrane Transport", 2], [2, long_title, 3]])
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """``idx``: the case folder and the book; ``cases``: the case folder alone (hashing encoder, home ``home``)."""
    root = tmp_path_factory.mktemp("names")
    folder, book = case_folder(root), bookmarked_book(root / "book.pdf")
    for index, sources in (("idx", (folder, book)), ("cases", (folder,))):
        result = run_cli("index", *sources, "--index", root / index, home=root / "home")
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def names_run(library) -> tuple[dict, str]:
    """``bench retrieval --names`` on both kinds of record: its JSON and its output."""
    args = ["bench", "retrieval", "--names", "--index", library / "idx", "--json", library / "out.json"]
    result = run_cli(*args, home=library / "home")
    assert result.exit_code == 0, result.output
    return json.loads((library / "out.json").read_text()), result.output


def first_ranks(task: dict, query: str) -> dict[str, int | None]:
    return next(q["first_relevant_rank"] for q in task["per_question"] if q["id"] == query)


def test_each_task_asks_the_index_own_names_with_the_default_beside_its_ablation_and_baselines(names_run):
    result, output = names_run
    cases, sections = result["tasks"]["diagnosis_to_cases"], result["tasks"]["section_to_pages"]
    asked = [q["id"] for q in cases["per_question"]]
    # an organ joins a diagnosis that does not name it ("spleen angiosarcoma"), never one that does ("lung lung ...")
    assert asked == [
        "adenocarcinoma",
        "angiosarcoma",
        "benign lung tissue",
        "colon adenocarcinoma",
        "liver angiosarcoma",
        "lung adenocarcinoma",
        "spleen angiosarcoma",
    ]
    assert [q["id"] for q in sections["per_question"]] == SECTIONS
    assert [q["relevant"] for q in cases["per_question"]][-2:] == [2, 1]  # the lung adenocarcinomas; the spleen's case
    for task in (cases, sections):
        assert set(task["methods"]) == METHODS and task["default"] == "hybrid"
        assert task["baselines"] == ["bm25", "dense", "chance"] and task["ablations"] == [KNOB_OFF]
        assert set(task["significance"]) == METHODS - {"hybrid", "chance"}
    assert set(cases["methods"]["bm25"]) == {"recall@1", "recall@10", "precision@10", "curve", "ci95"}
    assert set(sections["methods"]["bm25"]) == {"recall@1", "recall@5", "recall@10", "mrr", "curve", "ci95"}
    assert sections["methods"]["hybrid"]["recall@1"] == 1.0  # each section's own page first
    shown = " ".join(output.split())
    assert "diagnosis_to_cases, n=7" in shown and "section_to_pages, n=2" in shown and "MRR@10" in shown
    assert f"hybrid vs {KNOB_OFF}, paired p" in shown and "hybrid vs bm25, paired p" in shown
    assert result["run"]["names"] is True and "left_out" not in result


def test_every_figure_of_every_method_carries_a_95_interval_that_holds_it(names_run):
    result, output = names_run
    for task in result["tasks"].values():
        for figures in task["methods"].values():
            shown = {metric: value for metric, value in figures.items() if metric not in ("curve", "ci95")}
            assert set(figures["ci95"]) == set(shown)
            assert all(low <= shown[metric] <= high for metric, (low, high) in figures["ci95"].items())
    assert "(lo-hi): 95% intervals over queries" in " ".join(output.split())
    assert re.search(r"│ dense +│ \d\.\d{3} \(\d\.\d\d-\d\.\d\d\) │", output)  # beside the figure in the table


def test_a_diagnosis_bm25_ranks_second_is_first_by_the_default_which_ranks_every_word_first(names_run):
    result, _ = names_run
    ranks = first_ranks(result["tasks"]["diagnosis_to_cases"], "lung adenocarcinoma")
    assert ranks["bm25"] == 2  # the colon case saying "adenocarcinoma" first
    assert ranks[KNOB_OFF] > 1  # without the knob the default keeps BM25's first
    assert ranks["hybrid"] == 1


def test_a_task_without_queries_is_left_out_with_a_note_and_an_index_without_any_refused(library, tmp_path):
    result = run_cli(
        "bench", "retrieval", "--names", "--index", library / "cases", "--json", "-", home=library / "home"
    )
    assert result.exit_code == 0, result.output
    assert "note: section_to_pages: left out: no bookmark section has 1 to 6 content words" in result.output
    assert "section_to_pages, n=" not in result.output and "diagnosis_to_cases, n=7" in result.output
    lecture = indexed_lecture(tmp_path, "notes.pdf", "Squamous epithelium lines the cervix.")
    refused = run_cli("bench", "retrieval", "--names", "--index", lecture / "idx", home=lecture / "home")
    one_error_line(refused, "--names", "nothing to search for", "no case has a diagnosis", "no bookmark section")
