"""``bench qa``'s table in an 80-column terminal: every figure whole, no column blank in every row, labels short."""

from __future__ import annotations

from rich.console import Console

from pathatlas.agent.bench.rows import chance_row, row_cells
from pathatlas.ui.bench_cli import qa_table


def figures(accuracy: float, **more) -> dict:
    """A mode's figures as ``bench qa`` records them, every column of its table measured; ``more`` adds or replaces."""
    return {
        "accuracy": accuracy,
        "ci95": [0.553, 0.655],
        "answered": 347,
        "negated": {"accuracy": 0.517, "n": 29},
        "ece": 0.123,
        "evidence_recall@5": 0.911,
        "evidence_n": 300,
        "p50_s": 0.14,
        "p95_s": 0.31,
        "no_citation_rate": 0.003,
        "verbatim_quote_rate": 0.997,
        "gold_page_quoted": 0.614,
        "parse_failures": 12,
        "failed": 1,
        **more,
    }


def result(**modes: dict) -> dict:
    """A ``bench qa`` result over the dev questions (its shipped weights fitted on all 347), with chance's row."""
    chance = {"n": 347, "accuracy": 0.25, "evidence_recall@5": 0.016, "evidence_n": 347}
    return {"n": 347, "fitted_on": 347, "chance": chance, "latency": "p50/p95 s: wall seconds", "modes": modes}


def shown(table, width: int = 80) -> list[str]:
    console = Console(width=width, record=True)
    console.print(table)
    return console.export_text().splitlines()


def test_every_figure_of_three_modes_is_whole_at_80_columns():
    vs_rag = {"difference": 0.043, "ci95": [-0.011, 0.098]}
    below = {"below_baselines": {"no-rag": 0.012}}
    run = result(**{"no-rag": figures(0.605, vs_rag=vs_rag), "rag": figures(0.562, **below), "agentic": figures(0.605)})
    lines = shown(qa_table(run, "mcq_dev.jsonl: 347 questions, answerer llm"))
    words = {word for line in lines for word in line.replace("│", " ").split()}
    cells = [cell for m in run["modes"].values() for cell in row_cells(m)] + chance_row(run)[1]
    assert {word for cell in cells for word in cell.split()} <= words, "\n".join(lines)
    assert {"0.553-0.655", "(-0.011", "+0.098)", "(n=300)", "✗"} <= words
    assert max(map(len, lines)) <= 80


def test_a_column_blank_in_every_row_is_left_out_and_a_long_label_said_once():
    offline = {"parse_failures": None, "gold_page_quoted": None, "negated": {"accuracy": None, "n": 0}}
    lines = shown(qa_table(result(rag=figures(0.6, **offline)), "mcq_dev.jsonl: 347 questions, answerer offline"), 300)
    header = next(line for line in lines if line.startswith("┃ mode "))
    assert [name.strip() for name in header.split("┃")[1:-1]] == [
        "mode", "accuracy", "95% CI", "ECE", "evidence hit@5", "p50 s", "p95 s", "no citation", "verbatim quote",
        "failed",
    ]  # fmt: skip
    text = " ".join(" ".join(lines).split())
    assert "│ rag, in-sample │ 0.600 │" in text and text.count("fitted on 347") == 1
    assert "in-sample: weights fitted on 347 of these questions" in text
    blank = "vs no-rag (95% CI), vs rag (95% CI), negated (n), gold page quoted, unusable replies"
    assert f"left out, blank in every row: {blank}" in text
