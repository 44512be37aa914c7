"""report.md: a ``bench qa`` result's tables in Markdown."""

from __future__ import annotations

from typing import Any

from pathatlas.agent.bench.outcomes import LATENCY
from pathatlas.agent.bench.rows import (
    HIT_AT_5,
    answered_phrase,
    below_pairs,
    chance_row,
    evidence_group_columns,
    evidence_group_rows,
    failure_lines,
    group_columns,
    group_mark_words,
    group_rows,
    held_out_group_rows,
    held_out_modes,
    held_out_rows,
    negated_cell,
    paired_cells,
    row_cells,
    shown_rows,
    vs_columns,
    weights_note,
)
from pathatlas.agent.bench.scores import score_label
from pathatlas.agent.writing import NAMING
from pathatlas.retrieval.bench.common import below_words

INTERRUPTED = "each mode's figures are over the questions it answered, and later modes did not run."


def scoring_note(kinds: dict[str, int]) -> str:
    """How the report's questions are scored, by the kinds it holds: chance exists for options only."""
    notes = []
    if kinds.get("mcq") or kinds.get("yesno"):
        notes.append("Multiple-choice and yes/no questions score 1 or 0; chance is 1/(number of options).")
    if kinds.get("open"):
        notes.append(
            "Open questions score the share of the right answer's words the answer says (token recall); there is no "
            "chance level."
        )
    notes.append(
        "95% CI: Wilson's interval when every score is 1 or 0, else a bootstrap interval of the mean score; vs no-rag "
        "and vs rag: the row's score less that mode's over the questions both answered (where that mode ran), with "
        "Newcombe's paired interval when every score is 1 or 0, else a paired bootstrap."
    )
    return " ".join(notes)


def markdown_report(result: dict[str, Any], title: str) -> str:
    kinds = result.get("kinds", {})
    label = result.get("metric", score_label(kinds))
    rows = shown_rows(result)
    baseline = chance_row(result)
    mode_rows = [[mode, *row_cells(m)] for mode, m in rows] + ([[baseline[0], *baseline[1]]] if baseline else [])
    columns = ["mode", label, "95% CI", *vs_columns("paired 95% CI"), "negated (n)", "ECE", "evidence hit@5", "p50 s"]
    columns += ["p95 s", "no citation", "verbatim quote", "gold page quoted", "unusable replies", "failed"]
    columns, mode_rows = with_marks(columns, mode_rows, [below_words(below_pairs(m, label)) for _, m in rows])
    lines = [
        f"# {title}",
        "",
        f"{answered_phrase(result)}, answerer `{result['answerer']}`. {scoring_note(kinds)}",
        "",
        *([f"**Interrupted** ({result['interrupted']}): {INTERRUPTED}", ""] if result.get("interrupted") else []),
        *[f"**Note:** {note}\n" for note in result.get("notes", [])],
        f"{LATENCY}; {HIT_AT_5}" + (f"; {held_out_rows(result)}." if len(rows) > len(result["modes"]) else "."),
        "",
        *table(columns, mode_rows),
    ]
    lines += by_kind_table(result)
    lines += by_naming_table(result)
    held = {mode: m["held_out"] for mode, m in result["modes"].items() if "held_out" in m}
    if held:
        lines += section(
            "Offline weights refit per fold (whole chapters held out)",
            ["mode", "folds", "held-out accuracy", *vs_columns("paired 95% CI"), "negated (n)", "ECE"],
            [
                [mode, h["folds"], f"{h['accuracy']:.3f}", *paired_cells(h), negated_cell(h), f"{h['ece']:.3f}"]
                for mode, h in held.items()
            ],
        )
    opened = {mode: m["held_out_open"] for mode, m in result["modes"].items() if "held_out_open" in m}
    if opened:
        lines += section(
            "Open-answer confidence refit per fold (whole chapters held out)",
            ["mode", "folds", "held-out ECE", "ECE of raw coverage", "weights on every question"],
            [
                [
                    mode,
                    h["folds"],
                    f"{h['ece']:.3f}",
                    f"{h['coverage_ece']:.3f}",
                    ", ".join(f"{v:.3f}" for v in h["all_data_weights"]),
                ]
                for mode, h in opened.items()
            ],
        )
    lines += section(
        "Reliability (confidence bins)",
        ["mode", "bin", "n", "mean confidence", "accuracy"],
        [
            [mode, f"{low:.1f}-{high:.1f}", n, f"{conf:.3f}", f"{acc:.3f}"]
            for mode, m in result["modes"].items()
            for low, high, n, conf, acc in m["reliability"]
        ],
    )
    if evidence := evidence_group_rows(result):
        lines += section(
            "Evidence hit@5 by group, over the questions with gold evidence",
            ["group", "n", *evidence_group_columns(result)],
            [[g, n, *cells] for g, n, cells in evidence],
        )
    groups = group_rows(result)
    lines += section(
        f"{label[0].upper()}{label[1:]} by group{weights_note(result)}",
        *with_marks(
            ["group", "n", *group_columns(result)],
            [[g, n, *cells] for g, n, cells in groups],
            [group_mark_words(result, g) for g, _, _ in groups],
        ),
    )
    if held_groups := held_out_group_rows(result):
        lines += section(
            f"{label[0].upper()}{label[1:]} by group, held out (weights refit on the other chapter folds)",
            ["group", "fold", "n", *held_out_modes(result)],
            held_groups,
        )
    if failed := failure_lines(result):
        lines += ["", "## Failed rows", "", *[f"- {line}" for line in failed]]
    return "\n".join(lines) + "\n"


def with_marks(columns: list[str], rows: list[list[Any]], marks: list[str]) -> tuple[list[str], list[list[Any]]]:
    """A report table's columns and rows with a last, unnamed column of ``marks`` (one per leading row; blank for the
    rest, as chance's) where any row is marked; as they are where none is."""
    if not any(marks):
        return columns, rows
    return [*columns, ""], [
        [*row, mark] for row, mark in zip(rows, [*marks, *[""] * (len(rows) - len(marks))], strict=True)
    ]


def section(title: str, columns: list[str], rows: list[list[Any]]) -> list[str]:
    """Report lines: a ``## title`` section holding one ``table``, as each of the report's sections after the first
    is laid out."""
    return ["", f"## {title}", "", *table(columns, rows)]


def table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table's lines: the header naming ``columns``, its rule, then a line of cells per row."""
    return [table_line(columns), table_line(["---"] * len(columns)), *map(table_line, rows)]


def table_line(cells: list[Any]) -> str:
    """One line of a Markdown table: ``cells`` as written (a blank cell stays, as ``row_cells`` leaves one)."""
    return "| " + " | ".join(map(str, cells)) + " |"


def by_kind_table(result: dict[str, Any]) -> list[str]:
    """Report lines: each mode's score per question kind (yes/no right or wrong beside open token recall, which one
    mean would mix); none for a run that did not record them."""
    rows = [(mode, kind, k) for mode, m in result["modes"].items() for kind, k in m.get("by_kind", {}).items()]
    if not rows:
        return []
    return section(
        "By kind",
        ["mode", "kind", "n", "metric", "score", "95% CI"],
        [
            [mode, kind, k["n"], k["metric"], f"{k['score']:.3f}", f"{k['ci95'][0]:.3f}-{k['ci95'][1]:.3f}"]
            for mode, kind, k in rows
        ],
    )


def by_naming_table(result: dict[str, Any]) -> list[str]:
    """Report lines: each mode's accuracy and mean confidence by what its quotes name (``NAMING``), the slice where
    a confident answer has no sentence naming it; none for a run without quotes."""
    rows = [(mode, name, s) for mode, m in result["modes"].items() for name, s in m.get("by_naming", {}).items()]
    if not rows:
        return []
    return section(
        "By what the quoted evidence names",
        ["mode", "answers", "n", "accuracy", "mean confidence"],
        [[mode, NAMING[name], s["n"], f"{s['accuracy']:.3f}", f"{s['confidence']:.3f}"] for mode, name, s in rows],
    )
