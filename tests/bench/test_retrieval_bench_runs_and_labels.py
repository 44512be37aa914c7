"""``bench retrieval`` review findings: per-question results as TREC files ranx reads, a record of what ran in every
benchmark's JSON, labels that say what the figures are (pooled held-out folds, the split the tasks used, MRR@10),
methods ranked as deep as the recall curve and chance cut at the same MRR depth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pathatlas.retrieval.bench.common import CURVE_K, chance, tied_figures
from pathatlas.retrieval.bench.pages import Candidates, evaluate
from pathatlas.retrieval.datasets import MCQ
from pathatlas.retrieval.fusion import FEATURES, Ranker
from pathatlas.retrieval.metrics import expected_first_rank, tie_runs, tied_runs
from pathatlas.ui.bench_crash import WORDS, make_pdf
from tests.helpers import run_cli

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

PAGES = 12


def page_questions(pages: int, chapter_of) -> list[dict]:
    """One question per page of ``make_pdf``'s book, its words from that page, its chapter ``chapter_of(page)``."""
    return [
        {
            "id": f"q{page}",
            "question": " ".join(WORDS[(page - 1 + i) % len(WORDS)] for i in (0, 2, 4)),
            "options": ["a", "b"],
            "answer": "A",
            "gold": {"pdf_pages": [page, page]},
            "chapter": chapter_of(page),
        }
        for page in range(1, pages + 1)
    ]


@pytest.fixture(scope="module")
def folded_run(tmp_path_factory) -> tuple[dict, Path, str]:
    """``bench retrieval --folds 2 --runs`` on a 12-page book with the hashing encoder: (its JSON, the runs folder,
    its stdout and stderr)."""
    root = tmp_path_factory.mktemp("review-bench-retrieval")
    book = make_pdf(root / "lib" / "book.pdf", PAGES, "v1")
    assert run_cli("index", book, "--index", root / "idx", home=root / "home").exit_code == 0
    rows = page_questions(PAGES, lambda page: "one" if page % 3 else "two")
    (root / "mcq.jsonl").write_text("\n".join(map(json.dumps, rows)))
    args = ["bench", "retrieval", "--mcq", root / "mcq.jsonl", "--index", root / "idx", "--folds", 2]
    result = run_cli(*args, "--runs", root / "runs", "--json", root / "out.json", home=root / "home")
    assert result.exit_code == 0, result.output
    return json.loads((root / "out.json").read_text()), root / "runs", result.output


def ranx_figures(qrels_file: Path, run_file: Path) -> dict[str, float]:
    """The figures of a TREC run as ranx loads it, a run of one score read as a tie at its expected value, as the JSON
    counts it (ranx alone scores the order its sort leaves a tie in); a question of the qrels the run does not rank
    scores 0 (ranx's ``make_comparable``: a fold's qrels keep that fold's questions of a run over every question)."""
    from ranx import Qrels, Run

    qrels = Qrels.from_file(str(qrels_file), kind="trec").to_dict()
    run = Run.from_file(str(run_file), kind="trec").to_dict()
    scored = [sorted(run.get(query, {}).items(), key=lambda item: -item[1]) for query in qrels]
    figures = tied_figures(
        [[doc for doc, _ in ranked] for ranked in scored],
        [set(relevant) for relevant in qrels.values()],
        [tie_runs([score for _, score in ranked]) for ranked in scored],
        mrr_depth=10,
    )
    return {metric: figures[metric] for metric in ("recall@1", "recall@5", "recall@10", "mrr")}


def test_trec_runs_load_in_ranx_and_reproduce_the_reported_figures(folded_run):
    result, runs, _ = folded_run
    task = result["tasks"]["text_to_page"]
    names = {"hybrid", "bm25", "dense"}
    assert {p.name for p in runs.iterdir()} == {
        "qrels.txt",
        "qrels.fold0.txt",
        "qrels.fold1.txt",
        "hybrid.fold0.trec",
        "hybrid.fold1.trec",
        *(f"{name}.trec" for name in names),
    }
    assert sorted(task["runs"]) == sorted(str(p) for p in runs.iterdir())
    for name in names:  # the pooled held-out run of the default, every question's run of the baselines
        assert ranx_figures(runs / "qrels.txt", runs / f"{name}.trec") == pytest.approx(
            {m: task["methods"][name][m] for m in ("recall@1", "recall@5", "recall@10", "mrr")}
        )
    for number, fold in enumerate(task["folds"]):
        qrels = runs / f"qrels.fold{number}.txt"
        for name, run in (("hybrid", f"hybrid.fold{number}.trec"), ("bm25", "bm25.trec"), ("dense", "dense.trec")):
            assert ranx_figures(qrels, runs / run) == pytest.approx(
                {m: fold["methods"][name][m] for m in ("recall@1", "recall@5", "recall@10", "mrr")}
            )


def test_each_questions_first_gold_rank_per_method_is_in_the_json(folded_run):
    result, runs, _ = folded_run
    task = result["tasks"]["text_to_page"]
    questions = task["per_question"]
    assert [q["id"] for q in questions] == [f"q{page}" for page in range(1, PAGES + 1)]
    assert {q["fold"] for q in questions} == {0, 1}
    tied = task.get("ties", {}).get("queries_with_ties", {})
    qrels = [line.split() for line in (runs / "qrels.txt").read_text().splitlines()]
    for name in ("hybrid", "bm25", "dense"):
        ranks = [q["first_relevant_rank"][name] for q in questions]
        if name not in tied:  # each rank certain: the figures follow from the ranks alone
            assert np.mean([r == 1 for r in ranks]) == pytest.approx(task["methods"][name]["recall@1"])
            assert np.mean([1 / r if r and r <= 10 else 0 for r in ranks]) == pytest.approx(
                task["methods"][name]["mrr"]
            )
        lines = [line.split() for line in (runs / f"{name}.trec").read_text().splitlines()]
        for question, rank in zip(questions, ranks, strict=True):  # a tie's rank is its expected one, from its run
            mine = [line for line in lines if line[0] == question["id"]]
            gold = {line[2] for line in qrels if line[0] == question["id"]}
            runs_of = tie_runs([float(line[4]) for line in mine])
            assert rank == pytest.approx(expected_first_rank(tied_runs([line[2] for line in mine], runs_of, gold)))


def test_every_benchmark_json_records_what_ran(folded_run, tmp_path):
    from pathatlas.retrieval.bench.common import git_state

    result, _, _ = folded_run
    run = result["run"]
    mcq = Path(run["mcq"])
    assert run["mcq_sha256"] and run["folds"] == 2 and run["encoder"] and run["index_revisions"] is not None
    assert run["command"] and run["pathatlas"]  # sys.argv: the pytest process's, here in process
    assert mcq.name == "mcq.jsonl" and run["index"].endswith("idx") and run["date"].endswith("+00:00")
    assert set(git_state()) == {"git_commit", "git_dirty"}  # the suite runs from a checkout
    assert len(run["git_commit"]) == 40 and isinstance(run["git_dirty"], bool)
    assert git_state(tmp_path) == {}  # a folder that is no checkout: nothing, silently


def test_the_pooled_held_out_table_and_the_split_say_what_they_hold(folded_run):
    from pathatlas.retrieval.bench.common import queries_phrase

    result, _, output = folded_run
    assert "text_to_page, pooled held-out folds, n=12" in output
    assert "MRR@10" in output
    assert result["split"] == "all"  # --split val was the default, but text to page asked every question
    assert queries_phrase(result) == "all queries"
    mixed = {"split": "mixed", "tasks": {"text_to_page": {"split": "all"}, "text_to_image": {"split": "val"}}}
    assert queries_phrase(mixed) == "queries: text_to_page all, text_to_image val"


def test_help_says_what_split_and_folds_do():
    shown = " ".join(run_cli("bench", "retrieval", "--help", COLUMNS="300").output.split())
    assert "--mcq ignores it" in shown
    assert "chapters round-robin" in shown and "at most the number of chapters" in shown


def question(n: int) -> MCQ:
    return MCQ(f"q{n}", "question", ["a", "b"], "A", chapter="one")


def test_methods_rank_as_deep_as_the_curve_and_chance_is_cut_at_the_mrr_depth():
    """A gold page at rank 15 of every method: the curve reaches it at k=15 (it stayed 0 when methods were cut at
    10) while MRR@10 counts it as a miss; chance's MRR is cut at the same depth."""
    pages = [("book.pdf", p) for p in range(1, 31)]
    features = np.repeat(np.arange(30, 0, -1, dtype=float)[:, None], len(FEATURES), axis=1)
    gold = np.array([p == 15 for _, p in pages])
    candidates = [Candidates(pages, features, gold, [None] * 30, {("book.pdf", 15)}) for _ in range(2)]
    result = evaluate([question(0), question(1)], candidates, 30, 10, 0, Ranker({"bm25": 1.0}, "bm25"))
    for name in ("hybrid", "bm25", "dense"):
        curve = result["methods"][name]["curve"]
        assert len(curve) == CURVE_K and curve[13] == 0.0 and curve[14] == 1.0
        assert result["methods"][name]["mrr"] == 0.0
    assert result["mrr_depth"] == 10
    assert [q["first_relevant_rank"]["bm25"] for q in result["per_question"]] == [15, 15]
    # one relevant item among 1000: MRR@10 is H(10)/1000 = 0.0029; over every rank it would be H(1000)/1000 = 0.0075
    assert chance(1000, [1] * 400, mrr_depth=10)["mrr"] < 0.005 < chance(1000, [1] * 400)["mrr"]
