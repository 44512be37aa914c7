"""A researcher's own question file through ``bench qa``: paired intervals that stay open when no answer changed,
groups in the file's order each beside its own chance (table, report, JSON and plot), and yes/no answers recorded in
their gold's terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from pathatlas.agent.bench.plot import plot_qa
from pathatlas.agent.bench.stats import paired
from pathatlas.ui.bench_crash import WORDS
from tests.helpers import indexed_book, run_cli


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A three-page book indexed quickly into ``book/idx`` on the home ``book/home`` (``indexed_book``)."""
    return indexed_book(tmp_path_factory.mktemp("s30-book"))


def question(n: int, options: int, chapter: int) -> dict:
    """A question about page ``n + 1`` of ``make_pdf``'s book with ``options`` options, in chapter ``chapter``."""
    return {
        "id": f"q{n}",
        "question": f"Which word is printed beside {WORDS[n]}?",
        "options": [WORDS[n + 1 + j] for j in range(options)],
        "answer": "A",
        "gold": {"pdf_pages": [n % 3 + 1, n % 3 + 1]},
        "chapter": chapter,
    }


@pytest.fixture(scope="module")
def run(book, tmp_path_factory) -> dict:
    """``bench qa`` over chapters 1, 2 and 10 in that order (two-, four- and three-option questions) and a yes/no
    question of chapter 2: its JSON, report and output."""
    out = tmp_path_factory.mktemp("s30-run")
    rows = [question(0, 2, 1), question(1, 2, 1), question(2, 4, 2), question(3, 3, 10), question(4, 3, 10)]
    rows.append({"id": "yn", "question": "Is granuloma printed on page 1?", "answer": "Yes.", "chapter": 2})
    questions = out / "q.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return bench_qa(book, questions, out / "qa")


def bench_qa(book: Path, questions: Path, out: Path, *args) -> dict:
    """``bench qa`` (no-rag, rag) of ``questions`` on ``book``'s index into ``out``: its JSON, report and output."""
    given = ["--questions", questions, "--index", book / "idx", "--modes", "no-rag,rag", "--out", out, *args]
    result = run_cli("bench", "qa", *given, "--json", out / "qa.json", home=book / "home", COLUMNS="300")
    assert result.exit_code == 0, result.output
    document = json.loads((out / "qa.json").read_text())
    return {"json": document, "report": (out / "report.md").read_text(), "output": result.output}


def test_no_answer_changed_is_no_certainty_of_no_difference():
    """Newcombe's method 10 takes n/2 off the pairs' cross product: without it eight questions answered alike by both
    modes gave the interval +0.000 to +0.000."""
    same = {f"q{n}": float(n < 4) for n in range(8)}
    alike = paired(same, dict(same))
    assert alike["difference"] == 0.0 and alike["ci95"][0] < -0.15 and alike["ci95"][1] > 0.15
    ids = [f"q{n}" for n in range(300)]
    many = paired({i: float(n % 10 < 6) for n, i in enumerate(ids)}, {i: float(n % 10 < 5) for n, i in enumerate(ids)})
    assert many["ci95"] == pytest.approx([0.065, 0.134], abs=0.002), "n/2 is nothing beside 300 questions' pairs"


def test_groups_keep_the_file_order_each_beside_its_own_chance(run):
    """Sorted by name, chapter 10 came between 1 and 2; each chapter's chance is of its own questions' options."""
    chances = {group: round(c["accuracy"], 3) for group, c in run["json"]["chance_by_group"].items()}
    assert chances == {"1": 0.5, "2": round((0.25 + 0.5) / 2, 3), "10": 0.333}
    assert "by group (" not in run["output"] + run["report"], "no held-out rows: nothing to tell the groups apart from"
    section = run["report"].split("by group\n", 1)[1]
    header, _, *rows = [line for line in section.splitlines() if line.startswith("|")]
    assert header == "| group | n | no-rag | rag | chance |"
    assert [(row.split(" | ")[0], row.split(" | ")[-1]) for row in rows] == [
        ("| 1", "0.50 |"),
        ("| 2", "0.38 |"),
        ("| 10", "0.33 |"),
    ]
    table = [line.split("│")[1::4] for line in run["output"].splitlines() if line.startswith("│ ") and "│ 0." in line]
    assert [[cell.strip() for cell in line] for line in table][-3:] == [["1", "0.50"], ["2", "0.38"], ["10", "0.33"]]


def test_the_group_panel_draws_each_group_its_chance(run, monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_qa(run["json"], tmp_path / "plot.png")
    groups = figures[0].axes[2]
    ticks = [t.get_text() for t in groups.get_xticklabels()]
    dashed = [line for line in groups.get_lines() if line.get_linestyle() == "--"]
    assert ticks == ["1 (n=2)", "2 (n=2)", "10 (n=2)"] and groups.get_title() == "accuracy by chapter / group (95% CI)"
    assert [round(line.get_ydata()[0], 3) for line in dashed] == [0.5, 0.375, 0.333]
    assert [line.get_xdata()[0] < n < line.get_xdata()[1] for n, line in enumerate(dashed)] == [True] * 3
    assert sorted(t.get_text() for t in groups.get_legend().get_texts()) == ["chance", "no-rag", "rag"]


def test_a_yes_no_answer_is_recorded_as_its_gold_is(run):
    answers = [item for item in run["json"]["items"] if item["id"] == "yn"]
    assert [(item["kind"], item["gold"]) for item in answers] == [("yesno", "yes")] * 2
    assert {item["answer"] for item in answers} <= {"yes", "no"}, answers


def test_groups_beside_held_out_rows_say_which_weights_they_answered_with(book, run, tmp_path):
    """With --folds the held-out rows lead the main table, while the groups are the shipped weights' answers."""
    folded = bench_qa(book, Path(run["json"]["run"]["questions"]), tmp_path / "qa", "--folds", "2")
    assert "## Accuracy by group (shipped weights)" in folded["report"]
    assert "accuracy by group (shipped weights)" in folded["output"]
