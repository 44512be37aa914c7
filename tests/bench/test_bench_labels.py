"""``bench retrieval --labels``: each figure label the index prints, typed as users type it, searched among its
figures; the default (label rule on) beside itself with the rule off, BM25 alone and chance, a task per form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathatlas.retrieval.bench.labels import RULE_OFF
from tests.helpers import indexed_lecture, one_error_line, run_cli
from tests.retrieval.test_figure_label_lookup import LONG_CAPTION, figure_chapter

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

FIGURES = [
    ("6.2 Bone Classification", f"Figure 6.3. {LONG_CAPTION}"),
    ("6.3 Bone Structure", "Figure 6.4. Compact bone"),
    ("6.3 Bone Structure", "Figure 6.5. Compact bone"),
    ("6.3 Bone Structure", "Figure 6.5. Compact bone, the osteons"),
    ("6.3 Bone Structure", "Figure 6.6. Compact bone"),
    ("6.3 Bone Structure", "A femur cut lengthwise"),
]
"""One figure a page: Figure 6.3 in section 6.2 (BM25 reads each figure with its section's path in front, so the
figures of section "6.3 Bone Structure" hold "6.3" as Figure 6.3 does), Figure 6.5 printed on two pages, and a
figure printing no label."""
TASKS = ["label_to_figure:figure", "label_to_figure:fig", "label_to_figure:fig_dash"]
METHODS = {"hybrid", RULE_OFF, "bm25", "chance"}


@pytest.fixture(scope="module")
def labels_run(tmp_path_factory) -> tuple[dict, str, Path]:
    """``bench retrieval --labels`` on the book, with its TREC runs: its JSON, its output and the runs' folder."""
    root = tmp_path_factory.mktemp("labels")
    indexed = run_cli("index", figure_chapter(root / "bones.pdf", FIGURES), "--index", root / "idx", home=root / "home")
    assert indexed.exit_code == 0, indexed.output
    args = ["bench", "retrieval", "--labels", "--index", root / "idx", "--json", root / "out.json"]
    result = run_cli(*args, "--runs", root / "runs", home=root / "home")
    assert result.exit_code == 0, result.output
    return json.loads((root / "out.json").read_text()), result.output, root / "runs"


def first_ranks(task: dict, query: str) -> dict[str, float | None]:
    return next(q["first_relevant_rank"] for q in task["per_question"] if q["id"] == query)


def test_each_printed_label_is_asked_in_each_form_with_every_figure_printing_it_gold(labels_run):
    result, _, _ = labels_run
    assert list(result["tasks"]) == TASKS and result["run"]["labels"] is True
    asked = {name: [q["id"] for q in task["per_question"]] for name, task in result["tasks"].items()}
    assert asked == {
        "label_to_figure:figure": ["Figure 6.3", "Figure 6.4", "Figure 6.5", "Figure 6.6"],
        "label_to_figure:fig": ["fig 6.3", "fig 6.4", "fig 6.5", "fig 6.6"],
        "label_to_figure:fig_dash": ["Fig. 6-3", "Fig. 6-4", "Fig. 6-5", "Fig. 6-6"],
    }
    for task in result["tasks"].values():
        assert [q["relevant"] for q in task["per_question"]] == [1, 1, 2, 1]
        assert [q["gold_pages"] for q in task["per_question"]] == [[1], [2], [3, 4], [5]]
        assert set(task["methods"]) == METHODS and task["default"] == "hybrid"
        assert task["baselines"] == ["bm25", "chance"] and task["ablations"] == [RULE_OFF]
        assert set(task["methods"]["bm25"]) == {"recall@1", "recall@10", "mrr", "curve", "ci95"}
        # chance ranks all six figures, the unlabelled one too: R@1 is each query's gold share, averaged
        assert task["methods"]["chance"]["recall@1"] == pytest.approx((1 + 1 + 2 + 1) / 6 / 4)
        notes = " ".join(task["notes"])
        assert "no folds" in notes and "1 of which print no label" in notes and "Figure 6.5 on p. 3, 4" in notes


def test_the_rule_puts_each_named_figure_first_where_its_ablation_and_bm25_rank_others_above_some(labels_run):
    result, output, _ = labels_run
    for task in result["tasks"].values():
        assert task["methods"]["hybrid"]["recall@1"] == 1.0
        assert task["methods"][RULE_OFF]["recall@1"] < 1.0
    ranks = first_ranks(result["tasks"]["label_to_figure:figure"], "Figure 6.3")
    assert ranks["hybrid"] == 1 and ranks[RULE_OFF] > 1 and ranks["bm25"] > 1  # section 6.3's figures first
    dashed = result["tasks"]["label_to_figure:fig_dash"]
    assert dashed["methods"]["bm25"]["recall@1"] == 0.0  # "6-3" is no term: BM25 finds no figure by it
    shown = " ".join(output.split())
    assert "label_to_figure:figure, n=4" in shown and "MRR@10" in shown
    assert f"hybrid vs {RULE_OFF}, paired p" in shown and "hybrid vs bm25, paired p" in shown


def test_each_form_writes_its_qrels_and_a_run_per_searched_method(labels_run):
    _, _, runs = labels_run
    written = sorted(path.name for path in runs.iterdir())
    assert "qrels.label_to_figure.fig_dash.txt" in written and "label_to_figure.fig.bm25.trec" in written
    assert len(written) == len(TASKS) * 4  # qrels, the default, its ablation and BM25 (chance has no run)
    qrels = (runs / "qrels.label_to_figure.figure.txt").read_text().splitlines()
    assert len(qrels) == 5 and sum(line.startswith("Figure%206.5 ") for line in qrels) == 2


def test_an_index_whose_figures_print_no_label_is_refused_in_one_line(tmp_path):
    lecture = indexed_lecture(tmp_path, "notes.pdf", "Squamous epithelium lines the cervix.")
    refused = run_cli("bench", "retrieval", "--labels", "--index", lecture / "idx", home=lecture / "home")
    one_error_line(refused, "--labels", "prints a label")
