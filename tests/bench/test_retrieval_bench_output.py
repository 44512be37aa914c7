"""``bench retrieval``'s output as a researcher cites it: which paired tests are significant (Holm-Bonferroni within a
task) and which p is only a bound (the floor of 100,000 random sign flips), why the shown intervals differ from the
JSON's, which ranker each held-out fold chose, TREC ids that do not carry the folder a book was indexed from, the
``--names`` ablation called one, and ``bench search --json FILE`` keeping its JSON out of stdout."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from pathatlas.retrieval.bench.common import (
    SIGNIFICANCE_METRICS,
    chance,
    compare_runs,
    holm_adjusted,
    tied_figures,
)
from pathatlas.retrieval.bench.names import KNOB_OFF
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.metrics import EXACT_FLIPS, EXACT_MCNEMAR
from pathatlas.ui import bench_cli
from pathatlas.ui.bench_crash import make_pdf
from tests.bench.test_retrieval_bench_runs_and_labels import page_questions
from tests.helpers import run_cli

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries


def gained(count: int, same: int = 0) -> tuple[list[str], list[set], list[list], list[list]]:
    """Questions whose gold ``a`` the default ranks first: ``count`` that the other ranks second, then ``same`` that
    both rank first (query ids, gold, the default's rankings, the other's)."""
    shapes = [(["a"], ["x", "a"])] * count + [(["a"], ["a"])] * same
    return [f"q{n}" for n in range(len(shapes))], [{"a"}] * len(shapes), [m for m, _ in shapes], [o for _, o in shapes]


@pytest.fixture
def printed(monkeypatch):
    """What ``bench_cli`` prints from here on, stdout's and stderr's consoles together, as one line of words."""
    console = Console(width=250, record=True)
    monkeypatch.setattr(bench_cli, "console", console)
    monkeypatch.setattr(bench_cli, "err_console", console)
    return lambda: " ".join(console.export_text().split())


# Significance: marked after Holm-Bonferroni, the flip floor a bound -------------------------------------------------


def test_holm_bonferroni_scales_each_p_by_those_not_below_it_and_keeps_the_order():
    assert holm_adjusted([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjusted([0.5, 0.9]) == [1.0, 1.0] and holm_adjusted([]) == []


def test_a_p_no_random_flip_reached_is_a_bound_in_the_json_and_printed_as_one(printed):
    """30 questions each gain 1/2 of MRR: over 20 differing, so 100,000 random flips, none as far from 0 as all 30
    alike: p is (0 + 1) / 100,001, the least the draw can give, not an estimate of the true p."""
    ids, gold, mine, theirs = gained(30)
    mrr = compare_runs(ids, gold, {"hybrid": mine, "bm25": theirs}, "hybrid")["bm25"]["mrr"]
    assert mrr["p"] == pytest.approx(1 / 100_001) and mrr["p_floor"] is True
    assert mrr["test"] == "randomization (100,000 flips, seed 0)"
    ids, gold, mine, theirs = gained(5, same=20)
    exact = compare_runs(ids, gold, {"hybrid": mine, "bm25": theirs}, "hybrid")["bm25"]["mrr"]
    assert (exact["p"], exact["test"], exact["p_floor"]) == (pytest.approx(2 / 32), EXACT_FLIPS, False)  # its own p
    body = {"default": "hybrid", "significance": {"bm25": {"mrr": mrr}}}
    bench_cli.print_task("t", {"n": 30, "methods": {"hybrid": tied_figures(mine, gold)}, **body})
    assert "hybrid vs bm25, paired p: mrr <= 1e-05* by randomization (100,000 flips, seed 0)" in printed()


def test_a_significant_comparison_is_marked_and_one_significant_only_uncorrected_is_not(printed):
    """Against ``far`` the default gains 30 of 30 questions at rank 1; against ``near`` 6 of 26: McNemar p 2/64 =
    0.031 and the same for MRR, below 0.05 alone, but not after Holm-Bonferroni over the task's 8 tests."""
    ids, gold, mine, far = gained(30)
    near = [["x", "a"]] * 6 + [["a"]] * 24
    result = compare_runs(ids, gold, {"hybrid": mine, "far": far, "near": near}, "hybrid")
    assert result["far"]["recall@1"]["significant"] is True
    close = result["near"]["recall@1"]
    assert (close["p"], close["test"], close["significant"]) == (pytest.approx(2 / 64), EXACT_MCNEMAR, False)
    assert close["p_holm"] > 0.05 > close["p"]
    body = {"n": 30, "methods": {"hybrid": tied_figures(mine, gold)}, "default": "hybrid", "significance": result}
    bench_cli.print_task("t", body)
    shown = printed()
    far_line = shown[shown.index("hybrid vs far") : shown.index("hybrid vs near")]
    near_line = shown[shown.index("hybrid vs near") : shown.index("t: * significant")]
    assert "recall@1 1.86e-09*" in far_line and "mrr <= 1e-05*" in far_line
    assert "recall@5 1, recall@10 1 by exact McNemar" in far_line  # nothing differs at 5 or 10: unmarked
    assert "recall@1 0.0312," in near_line and "*" not in near_line
    assert "* significant at 0.05 after Holm-Bonferroni over these 8 paired tests" in shown
    assert "uncorrected" in shown


def test_recall_at_10_is_tested_by_exact_mcnemar_and_a_metric_named_twice_is_one_test():
    """The image tasks add recall@10 to the tested metrics themselves: named twice, it is one test of Holm's."""
    ids, gold, mine, theirs = gained(6, same=24)
    theirs = [[*(f"x{n}" for n in range(10)), "a"]] * 6 + theirs[6:]
    once = compare_runs(ids, gold, {"hybrid": mine, "bm25": theirs}, "hybrid")
    twice = compare_runs(
        ids, gold, {"hybrid": mine, "bm25": theirs}, "hybrid", metrics=(*SIGNIFICANCE_METRICS, "recall@10")
    )
    assert "recall@10" in SIGNIFICANCE_METRICS and once["bm25"]["recall@10"]["test"] == EXACT_MCNEMAR
    assert once["bm25"]["recall@10"]["p"] == pytest.approx(2 / 64)
    assert twice == once


# Tables: intervals' rounding, the ablation row ----------------------------------------------------------------------


def table_text(body: dict) -> str:
    console = Console(width=250, record=True)
    console.print(bench_cli.retrieval_table("t", body))
    return console.export_text()


def test_the_caption_says_the_shown_interval_ends_are_rounded_outwards():
    figures = tied_figures([[1, 2], [2, 1], [3, 1]], [{1}, {1}, {1}], mrr_depth=10)
    shown = " ".join(table_text({"n": 3, "default": "hybrid", "methods": {"hybrid": figures}}).split())
    assert "0.333 (0.06-0.80)" in shown  # Wilson's 0.0615-0.7923, not the nearest 0.06-0.79 the JSON rounds to
    assert "ends rounded outwards" in shown and "ci95 is unrounded" in shown


def test_the_names_row_with_every_word_first_off_is_an_ablation_not_a_baseline():
    figures = tied_figures([[1, 2], [2, 1]], [{1}, {1}])
    methods = {"hybrid": figures, KNOB_OFF: figures, "bm25": figures, "chance": chance(2, [1, 1])}
    body = {"n": 2, "default": "hybrid", "baselines": ["bm25", "chance"], "ablations": [KNOB_OFF], "methods": methods}
    cells = [line.split("│") for line in table_text(body).splitlines() if line.startswith("│")]
    rows = {row[1].strip(): row[-2].strip() for row in cells}
    assert rows == {"hybrid": "default", KNOB_OFF: "ablation", "bm25": "baseline", "chance": "baseline"}


# bench retrieval --mcq --folds: each fold's ranker, TREC ids without the indexing folder ------------------------------


@pytest.fixture(scope="module")
def folded(tmp_path_factory) -> tuple[dict, str, object]:
    """``bench retrieval --folds 2 --runs`` on a 12-page book indexed quickly from ``lib/book.pdf``: (its JSON, its
    output, the runs folder)."""
    root = tmp_path_factory.mktemp("s43-folds")
    book = make_pdf(root / "lib" / "book.pdf", 12, "v1")
    assert run_cli("index", book, "--index", root / "idx", home=root / "home").exit_code == 0
    rows = page_questions(12, lambda page: "one" if page % 3 else "two")
    (root / "mcq.jsonl").write_text("\n".join(map(json.dumps, rows)))
    args = ["bench", "retrieval", "--mcq", root / "mcq.jsonl", "--index", root / "idx", "--folds", 2]
    result = run_cli(*args, "--runs", root / "runs", "--json", root / "out.json", home=root / "home")
    assert result.exit_code == 0, result.output
    return json.loads((root / "out.json").read_text()), " ".join(result.output.split()), root / "runs"


def test_each_held_out_fold_says_which_ranker_it_chose_and_that_the_grids_were_not_held_out(folded):
    result, output, _ = folded
    for number, fold in enumerate(result["tasks"]["text_to_page"]["folds"]):
        line = f"text_to_page held-out fold {number}: ranker chosen on the other folds: {fold['ranker']['source']}"
        assert line in output
        assert output.index(f"text_to_page held-out fold {number} (") < output.index(line)  # under its table
    assert "the grids and rules it was chosen among were designed on these same questions" in output
    assert "only the weights are held out" in output


def test_trec_page_ids_name_the_book_by_its_file_not_the_folder_it_was_indexed_from(folded):
    _, _, runs = folded
    for name in ("qrels.txt", "qrels.fold0.txt", "hybrid.trec", "hybrid.fold0.trec", "bm25.trec"):
        ids = {line.split()[2] for line in (runs / name).read_text().splitlines()}
        assert ids and all(doc.startswith("book.pdf:p") for doc in ids), (name, sorted(ids)[:3])


def test_two_books_sharing_a_file_name_keep_their_paths_as_indexed(tmp_path):
    gold = [{("/a/book.pdf", 1)}, {("/b/book.pdf", 2)}, {("/c/atlas.pdf", 3)}]
    ranked = {"m": [[("/a/book.pdf", 1)], [("/b/book.pdf", 2)], [("/c/atlas.pdf", 3)]]}
    write_trec(tmp_path, ["q1", "q2", "q3"], gold, ranked)
    ids = [line.split()[2] for line in (tmp_path / "qrels.txt").read_text().splitlines()]
    assert ids == ["/a/book.pdf:p1", "/b/book.pdf:p2", "atlas.pdf:p3"]


# bench search --json FILE --------------------------------------------------------------------------------------------


def test_bench_search_with_a_json_file_keeps_json_out_of_stdout(tmp_path):
    args = ["bench", "search", "--records", 1000, "--stores", "faiss", "--queries", 2, "--json", tmp_path / "s.json"]
    result = run_cli(*args, home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s.json").read_text())["runs"][0]["records"] == 1000
    assert "{" not in result.stdout and "latency in ms" in result.stdout
    assert "measured faiss" in result.stderr  # progress of a long sweep, for people
