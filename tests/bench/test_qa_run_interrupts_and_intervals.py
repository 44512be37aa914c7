"""A researcher's ``bench qa`` runs: Ctrl-C keeps what was answered and says so, two modes that answered no
question in common get no "difference" from each other, and a handful of questions gets a wide interval."""

from __future__ import annotations

import json

import pytest

from pathatlas.agent.answerers.base import Answerer, AnswerError
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.bench.stats import paired, paired_bootstrap
from pathatlas.agent.questions import Answer
from tests.helpers import run_cli

ROWS = [
    {"id": f"q{n}", "question": f"Which cells have a perinuclear halo ({n})?", "options": ["Goblet", "Koilocytes"]}
    | {"answer": "B", "chapter": f"ch{n % 2}"}
    for n in range(6)
]


@pytest.fixture
def questions(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return path


class Interrupted(Answerer):
    """Answers B until its fourth question (the untimed warm-up counts), where the user presses Ctrl-C."""

    name = "interrupted"

    def __init__(self, settings=None):
        self.asked = 0

    def answer(self, question, evidence):
        self.asked += 1
        if self.asked == 4:
            raise KeyboardInterrupt
        return Answer(1, question.options[1], 0.9)


class RagOnlyForEvenIds(Answerer):
    """Fails without evidence on every question but q1, and with evidence on q1 only: no question is answered by
    both no-rag and rag."""

    name = "disjoint"

    def answer(self, question, evidence):
        if bool(evidence) == (question.id == "q1"):
            raise AnswerError("the server refused")
        return Answer(1, question.options[1], 0.9)


def test_ctrl_c_keeps_the_answered_questions_and_says_so(quick_index, questions):
    items, failures = load_items(questions, 10_000_000)
    result = QABench(quick_index, Interrupted()).run(items, failures, modes=("no-rag", "rag"), folds=0)
    assert result["interrupted"] == "Ctrl-C in no-rag after 2 of 6 questions"
    assert list(result["modes"]) == ["no-rag"], "the modes after it did not run"
    assert result["modes"]["no-rag"]["correct"] == {"q0": 1.0, "q1": 1.0}
    assert [r["id"] for r in result["items"]] == ["q0", "q1"]
    assert "**Interrupted** (Ctrl-C in no-rag after 2 of 6 questions)" in markdown_report(result, "run")


def test_ctrl_c_in_the_cli_writes_the_json_and_exits_130(quick_index, questions, tmp_path):
    out = tmp_path / "run.json"
    result = run_cli(
        "bench", "qa", "--questions", questions, "--index", quick_index.path, "--modes", "rag,agentic",
        "--answerer", f"py:{__name__}.Interrupted", "--out", tmp_path / "qa", "--json", out,
        home=tmp_path / "home",
    )  # fmt: skip
    assert result.exit_code == 130, result.output
    assert "interrupted: Ctrl-C in rag after 2 of 6 questions" in result.output
    written = json.loads(out.read_text())
    assert written["interrupted"] and list(written["modes"]) == ["rag"]
    assert "**Interrupted**" in (tmp_path / "qa" / "report.md").read_text()


def test_modes_without_a_question_in_common_have_no_difference(quick_index, questions):
    items, failures = load_items(questions, 10_000_000)
    result = QABench(quick_index, RagOnlyForEvenIds()).run(items, failures, modes=("no-rag", "rag"))
    assert set(result["modes"]["no-rag"]["correct"]) == {"q1"} and "q1" not in result["modes"]["rag"]["correct"]
    assert "vs_rag" not in result["modes"]["no-rag"], "not +0.000 (+0.000 to +0.000) over no question"
    assert "| no-rag | 1.000 | 0.207-1.000 |  |" in markdown_report(result, "run")


def test_a_handful_of_questions_gets_a_wide_paired_interval():
    """Resampling one question (or three, all gained) gives the interval [+1, +1]: certainty from nothing."""
    one = paired({"q": 1.0}, {"q": 0.0})
    assert one["n"] == 1 and one["difference"] == 1.0 and one["ci95"][0] < 0 and one["p_not_better"] == 0.5
    three = paired({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.0, "b": 0.0, "c": 0.0})
    assert three["ci95"][0] < 0.6 < three["ci95"][1] == 1.0 and three["p_not_better"] == 0.125
    ids = [f"q{n}" for n in range(300)]
    mine = {i: float(n % 10 < 6) for n, i in enumerate(ids)}
    theirs = {i: float(n % 10 < 5) for n, i in enumerate(ids)}
    many, resampled = paired(mine, theirs), paired_bootstrap(list(mine.values()), list(theirs.values()))
    assert many["difference"] == pytest.approx(0.1) and many["ci95"] == pytest.approx(resampled["ci95"], abs=0.01)
    f1 = paired({"q": 0.5, "r": 1.0}, {"q": 0.0, "r": 1.0})
    assert f1 == paired_bootstrap([0.5, 1.0], [0.0, 1.0]), "token F1 scores are resampled"
