"""Text to page per chapter (``bench retrieval --mcq``): R@1, R@5 and MRR of the default and each baseline for every
chapter, in the file's order of chapters, in the JSON (``by_chapter``) and as a table after the main one; a chapter
where the default is below BM25 is marked, and with ``--folds`` the chapters show held-out figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pathatlas.retrieval.bench.pages import CHAPTER_METRICS, Candidates, evaluate
from pathatlas.retrieval.datasets import MCQ
from pathatlas.retrieval.fusion import FEATURES, Ranker
from pathatlas.ui.bench_cli import chapter_table
from pathatlas.ui.bench_crash import make_pdf
from tests.bench.test_retrieval_bench_runs_and_labels import page_questions
from tests.bench_oracles import summarise
from tests.helpers import run_cli

pytestmark = [
    pytest.mark.filterwarnings("ignore:unsafe cast"),  # ranx's numba kernels on a few queries
]

PAGES = [("book.pdf", page) for page in (1, 2, 3)]


def candidates(bm25_rank: int, dense_rank: int) -> Candidates:
    """Three pages, page 1 gold, ranked by BM25 and by dense so that page 1 comes at the ranks given."""
    features = np.zeros((3, len(FEATURES)))
    for column, rank in ((FEATURES.index("bm25"), bm25_rank), (FEATURES.index("dense"), dense_rank)):
        others = [1, 2]
        order = others[: rank - 1] + [0] + others[rank - 1 :]
        features[order, column] = [3.0, 2.0, 1.0]
    return Candidates(PAGES, features, np.array([True, False, False]), [None] * 3, {PAGES[0]})


def question(n: int, chapter: str) -> MCQ:
    return MCQ(f"q{n}", "question", ["a", "b"], "A", chapter=chapter)


# the file names Bones first, then Airways, then Bones again: the order of first appearance, not of the alphabet
CHAPTERS = ["Bones", "Airways", "Bones"]
# (BM25's rank of the gold page, dense's): the default below ranks by dense alone, so it trails BM25 on Bones
RANKS = [(1, 2), (3, 1), (1, 2)]
DENSE_DEFAULT = Ranker({"dense": 1.0}, "dense as the shipped ranker")


def shipped_run() -> dict:
    items = [question(n, chapter) for n, chapter in enumerate(CHAPTERS)]
    return evaluate(items, [candidates(*ranks) for ranks in RANKS], 3, 10, 0, DENSE_DEFAULT)


def test_each_chapter_has_every_methods_figures_in_the_files_order_and_says_where_bm25_leads():
    result = shipped_run()
    rows = result["by_chapter"]
    assert [(row["chapter"], row["n"]) for row in rows] == [("Bones", 2), ("Airways", 1)]
    bones, airways = (row["methods"] for row in rows)
    assert set(bones) == {"hybrid", "bm25", "dense", "chance"}
    assert all(set(figures) == set(CHAPTER_METRICS) for figures in bones.values())
    assert bones["hybrid"] == {"recall@1": 0.0, "recall@5": 1.0, "mrr": 0.5}
    assert bones["bm25"] == {"recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0}
    assert airways["hybrid"] == {"recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0}
    assert airways["bm25"]["mrr"] == pytest.approx(1 / 3)
    assert 0 < bones["chance"]["mrr"] < 1
    below = {"bm25": ["recall@1", "mrr"], "chance": ["recall@1", "mrr"]}  # chance of 1 in 3 pages beats R@1 0
    assert [row["below_baselines"] for row in rows] == [below, {}]
    assert all("fold" not in row for row in rows)


def test_a_chapters_figures_are_those_of_its_questions_ranks():
    """The chapters' figures agree with the per-question ranks the JSON already holds."""
    result = shipped_run()
    for row in result["by_chapter"]:
        ranks = [q["first_relevant_rank"] for q in result["per_question"] if q["chapter"] == row["chapter"]]
        for method in ("hybrid", "bm25", "dense"):
            expected = summarise([r[method] for r in ranks])
            assert row["methods"][method] == {metric: expected[metric] for metric in CHAPTER_METRICS}


def test_with_folds_each_chapter_shows_its_held_out_figures_and_fold():
    items = [question(n, chapter) for n, chapter in enumerate(CHAPTERS)]
    result = evaluate(items, [candidates(*ranks) for ranks in RANKS], 3, 10, 2, DENSE_DEFAULT)
    for row in result["by_chapter"]:
        fold = result["folds"][row["fold"]]
        assert fold["chapters"] == [row["chapter"]]  # two chapters, two folds: each fold is one chapter
        assert row["methods"]["hybrid"] == {m: fold["methods"]["hybrid"][m] for m in CHAPTER_METRICS}
    assert [row["fold"] for row in result["by_chapter"]] == [0, 1]


def rendered(table) -> str:
    from rich.console import Console

    console = Console(width=240, record=True)
    console.print(table)
    return console.export_text()


def test_the_chapter_table_marks_a_chapter_below_bm25_as_the_main_table_marks_rows():
    body = shipped_run()
    lines = rendered(chapter_table("text_to_page", body)).splitlines()
    bones = next(line for line in lines if "Bones" in line)
    airways = next(line for line in lines if "Airways" in line)
    assert "✗ below bm25 and chance on recall@1 and mrr" in bones and "✗" not in airways
    assert "0.000 1.000 0.500" in bones  # the default's R@1, R@5 and MRR@10, first
    assert lines.index(bones) < lines.index(airways)
    assert "held out" not in rendered(chapter_table("text_to_page", body))


def test_a_chapter_name_is_shown_as_the_file_writes_it():
    body = shipped_run()
    body["by_chapter"][1]["chapter"] = "[bold]Airways"
    assert "[bold]Airways" in rendered(chapter_table("text_to_page", body))


@pytest.fixture(scope="module")
def book_index(tmp_path_factory):
    """A 12-page book indexed with the hashing encoder, and questions on its pages from two chapters, or one."""
    root = tmp_path_factory.mktemp("chapter-recall")
    book = make_pdf(root / "lib" / "book.pdf", 12, "v1")
    assert run_cli("index", book, "--index", root / "idx", home=root / "home").exit_code == 0

    def questions(name: str, chapter_of) -> str:
        rows = page_questions(12, chapter_of)
        (root / name).write_text("\n".join(map(json.dumps, rows)))
        return root / name

    two = questions("two.jsonl", lambda page: "[bold]Second" if page > 6 else "First")
    return root, two, questions("one.jsonl", lambda page: "Only")


def test_bench_retrieval_prints_the_chapter_table_after_the_main_table(book_index):
    root, two, _ = book_index
    args = ["bench", "retrieval", "--mcq", two, "--index", root / "idx"]
    result = run_cli(*args, "--folds", 2, home=root / "home", COLUMNS=240)
    assert result.exit_code == 0, result.output
    out = result.stdout
    title = "text_to_page by chapter: held out, each chapter's default chosen on the other folds"
    assert out.index("text_to_page, pooled held-out folds") < out.index(title)
    assert "held-out fold 1 ([bold]Second)" in out  # a chapter's name as written, in a fold's title too
    table = out[out.index(title) :]
    assert table.index("First") < table.index("Second")


def test_json_to_stdout_stays_json_only_and_one_chapter_prints_no_table(book_index):
    root, two, one = book_index
    result = run_cli("bench", "retrieval", "--mcq", two, "--index", root / "idx", "--json", "-", home=root / "home")
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)["tasks"]["text_to_page"]
    assert [(row["chapter"], row["n"]) for row in task["by_chapter"]] == [("First", 6), ("[bold]Second", 6)]
    alone = run_cli("bench", "retrieval", "--mcq", one, "--index", root / "idx", home=root / "home")
    assert alone.exit_code == 0, alone.output
    assert "text_to_page, n=12" in alone.stdout and "by chapter" not in alone.stdout
