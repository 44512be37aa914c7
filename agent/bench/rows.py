"""A result's rows and cells as every view shows them: the terminal's tables, report.md and plot.png."""

from __future__ import annotations

from typing import Any

from pathatlas.agent.bench.folds import SHIPPED, fitted_on
from pathatlas.agent.bench.outcomes import PAIRED_WITH, UNMEASURED, paired_key

HIT_AT_5 = (
    "evidence hit@5: the share of questions with gold evidence (a gold page, the gold case, else the gold diagnosis) "
    "among the first 5 evidence items (JSON key evidence_recall@5, kept for compatibility); its chance: of 5 evidence "
    "items drawn at random from those the question may see (a page, or a record without one such as a case image, as "
    "search gives them)"
)


def chance_row(result: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The chance row of ``bench qa``'s table and report, as (label, cells like ``row_cells``'): the accuracy, labelled
    with how many questions it is over where open ones (no chance level) are in the run too, and the chance of
    evidence hit@5 (``hit_chance``) where a searching mode ran; None without a chance level (a result written before
    it was recorded)."""
    if not (chance := result.get("chance")):
        return None
    accuracy = chance.get("accuracy")
    beside_open = accuracy is not None and result.get("kinds", {}).get("open")
    label = f"chance ({chance['n']} with options)" if beside_open else "chance"
    cells = [figure_cell(accuracy, ".3f"), *[""] * (ROW_CELLS - 1)]
    cells[EVIDENCE_CELL] = figure_cell(chance.get("evidence_recall@5"), ".3f")
    return label, cells


def figure_cell(value: float | None, form: str) -> str:
    """A figure as a table's cell shows it; blank without one."""
    return "" if value is None else format(value, form)


def answered_phrase(result: dict[str, Any]) -> str:
    """ "N questions", and how many were answered where that differs (failed rows, or a mode's failures)."""
    answered = {mode: m.get("answered", len(m["correct"])) for mode, m in result["modes"].items()}
    phrase = f"{result['n']} questions"
    if not answered or set(answered.values()) == {result["n"]}:
        return phrase
    if len(set(answered.values())) == 1:
        return f"{phrase}, {next(iter(answered.values()))} answered"
    return f"{phrase}, answered " + ", ".join(f"{n} ({mode})" for mode, n in answered.items())


def failure_lines(result: dict[str, Any]) -> list[str]:
    """One line per failed row ("row 3 (q7): reason"), or per question a mode failed ("row 3 (q7), rag: ...")."""
    return [
        f"row {r.get('row', '?')} ({r['id']})" + (f", {r['mode']}" if r.get("mode") else "") + f": {r['failed']}"
        for r in result["items"]
        if "failed" in r
    ]


def shipped_label(result: dict[str, Any]) -> str:
    """What the rows of the weights a run answered with are called: in-sample where they were fitted on some of its
    questions (saying on how many), else the shipped weights, which a user's own questions are new to."""
    fitted = fitted_on(result)
    return f"in-sample (weights fitted on {fitted} of these questions)" if fitted else "shipped weights"


def shown_rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The rows a table or plot of a ``bench qa`` result shows, as (label, figures): with folds, each mode's held-out
    figures (weights refit on the other chapter folds) lead; the figures of the weights it ran with follow, labelled
    ``shipped_label`` where there are held-out rows or they are in-sample, else by their mode alone."""
    modes = result["modes"]
    held = [(f"{mode}, held out", m["held_out"]) for mode, m in modes.items() if "held_out" in m]
    if not held and not fitted_on(result):
        return list(modes.items())
    shipped = shipped_label(result)
    return held + [(f"{mode}, {shipped}", m) for mode, m in modes.items()]


def weights_note(result: dict[str, Any]) -> str:
    """What the figures over every answer (reliability, by group) were answered with, as their titles end:
    " (in-sample)" where the shipped weights were fitted on some of the questions, " (shipped weights)" where held-out
    rows stand beside them (a by-group table without it would read as held out), else nothing."""
    if fitted_on(result):
        return " (in-sample)"
    return " (shipped weights)" if any("held_out" in m for m in result["modes"].values()) else ""


def held_out_rows(result: dict[str, Any]) -> str:
    """What the rows of a run with folds are (``shown_rows``), as its table's caption and report say."""
    fitted = fitted_on(result)
    shipped = (
        f"in-sample: the weights the run answered with, fitted on these very questions ({fitted} of them, the A&P dev "
        "questions)"
        if fitted
        else f"{SHIPPED}: the weights the run answered with"
    )
    return f"held out: each chapter fold's answers with the offline weights refit on the other folds; {shipped}"


def pct(interval: list[float]) -> str:
    return f"{interval[0]:+.3f} to {interval[1]:+.3f}"


def held_out_modes(result: dict[str, Any]) -> list[str]:
    """The modes of a result with held-out answers per chapter (``held_out_answers``; none in a result written before
    they were recorded)."""
    return [mode for mode, m in result["modes"].items() if "by_group" in m.get("held_out", {})]


def held_out_group_rows(result: dict[str, Any]) -> list[list[Any]]:
    """The held-out by-group table's rows: each chapter's fold, its number of questions and each mode's held-out
    accuracy (blank where a mode has none of it), in the file's order."""
    held = [result["modes"][mode]["held_out"]["by_group"] for mode in held_out_modes(result)]
    rows = []
    for g in dict.fromkeys(g for of_mode in held for g in of_mode):
        first = next(of_mode[g] for of_mode in held if g in of_mode)
        rows.append([g, first["fold"], first["n"], *[f"{m[g]['accuracy']:.2f}" if g in m else "" for m in held]])
    return rows


def below_pairs(m: dict[str, Any], metric: str) -> list[tuple[str, str]]:
    """(baseline, metric) for each baseline a row's figures score below (``below_baselines``): no-rag on the run's
    ``metric``, chance on the accuracy of the questions with options."""
    return [(baseline, "accuracy" if baseline == "chance" else metric) for baseline in m.get("below_baselines", {})]


def group_mark_words(result: dict[str, Any], group: str) -> str:
    """The mark of a by-group row, naming each mode below baselines in the group (``below_baselines``): "✗ rag below
    no-rag, chance; agentic below chance"; blank where none is."""
    below = [
        f"{mode} below {', '.join(marked)}"
        for mode, m in result["modes"].items()
        if (marked := m["by_group"].get(group, {}).get("below_baselines"))
    ]
    return "✗ " + "; ".join(below) if below else ""


ROW_CELLS = 14
"""The cells ``row_cells`` gives a row after its label."""

EVIDENCE_CELL = 6
"""Where among them ``row_cells`` puts evidence hit@5 (``evidence_cell``)."""


def row_cells(m: dict[str, Any]) -> list[str]:
    """One ``shown_rows`` row's cells after the mode, as ``bench qa``'s table and report show them: blank where the
    row has no such figure (a held-out row has no latency, evidence or quotes); ``UNMEASURED`` for every figure of a
    mode that answered no question, its counts of unusable replies and failures alone given."""

    def figure(key: str, form: str = ".3f") -> str:
        return figure_cell(m.get(key), form)

    counts = [figure("parse_failures", "d"), figure("failed", "d")]
    if m.get("answered") == 0:
        return [UNMEASURED] * (ROW_CELLS - len(counts)) + counts
    return [
        f"{m['accuracy']:.3f}",
        f"{m['ci95'][0]:.3f}-{m['ci95'][1]:.3f}",
        *paired_cells(m),
        negated_cell(m),
        f"{m['ece']:.3f}",
        evidence_cell(m),
        figure("p50_s", ".2f"),
        figure("p95_s", ".2f"),
        figure("no_citation_rate"),
        figure("verbatim_quote_rate"),
        figure("gold_page_quoted"),
        *counts,
    ]


def paired_cells(m: dict[str, Any]) -> list[str]:
    """A row's difference from each mode of ``PAIRED_WITH`` with its paired 95% CI, in the order of ``vs_columns``, as
    the table and the held-out section show them: blank for that mode itself and where it did not run."""
    pairs = [m.get(paired_key(baseline)) for baseline in PAIRED_WITH]
    return [f"{vs['difference']:+.3f} ({pct(vs['ci95'])})" if vs else "" for vs in pairs]


def vs_columns(caption: str) -> list[str]:
    """The headers of ``row_cells``' paired columns, one per mode of ``PAIRED_WITH`` ("vs no-rag (95% CI)"), each
    saying which mode its row is paired with; ``caption`` names the interval."""
    return [f"vs {baseline} ({caption})" for baseline in PAIRED_WITH]


def negated_cell(m: dict[str, Any]) -> str:
    """A row's accuracy on negated questions ("which is NOT...") with their n; blank where the run asked none."""
    negated = m["negated"]
    return "" if negated["accuracy"] is None else f"{negated['accuracy']:.3f} ({negated['n']})"


def evidence_cell(m: dict[str, Any]) -> str:
    """A row's evidence hit@5, with its n where fewer of the questions answered have gold evidence (its share is of
    those alone); blank without the figure."""
    hit, n = m.get("evidence_recall@5"), m.get("evidence_n")
    if hit is None:
        return ""
    return f"{hit:.3f}" + (f" (n={n})" if n is not None and n < m["answered"] else "")


def ordered_groups(result: dict[str, Any]) -> list[str]:
    """The groups of a result in the order the question file first gives them, as each mode's ``by_group`` keeps
    them: chapters in the book's order, where sorting their names would put "10" before "2" and "Joints" before "The
    Cell"."""
    return list(dict.fromkeys(g for m in result["modes"].values() for g in m["by_group"]))


def group_chances(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each group's chance (``chance_by_group``) where the run has a chance level at all, of the groups with an accuracy
    chance: none where every question answered is open."""
    chances = result.get("chance_by_group", {}) if result.get("chance") else {}
    return {g: chance for g, chance in chances.items() if chance.get("accuracy") is not None}


def group_columns(result: dict[str, Any]) -> list[str]:
    """The by-group columns after the group and its n: each mode's, then chance where there is one."""
    return [*result["modes"], *(["chance"] if group_chances(result) else [])]


def group_rows(result: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    """Each group's name, its number of questions and a cell per ``group_columns``: each mode's score (blank where the
    mode answered none of it), then the group's chance (blank for a group of open questions), as the by-group table
    and the report list them."""
    modes = list(result["modes"].values())
    chances = group_chances(result)
    return [
        (
            g,
            next(m["by_group"][g]["n"] for m in modes if g in m["by_group"]),
            [f"{m['by_group'][g]['accuracy']:.2f}" if g in m["by_group"] else "" for m in modes]
            + ([f"{chances[g]['accuracy']:.2f}" if g in chances else ""] if chances else []),
        )
        for g in ordered_groups(result)
    ]


def evidence_group_columns(result: dict[str, Any]) -> list[str]:
    """The evidence-by-group columns after the group and its n: each mode with evidence hit@5 per group, then chance
    where the groups have one (``hit_chance``)."""
    modes = [
        mode for mode, m in result["modes"].items() if any("evidence_recall@5" in g for g in m["by_group"].values())
    ]
    chance = any("evidence_recall@5" in c for c in result.get("chance_by_group", {}).values())
    return [*modes, *(["chance"] if chance and modes else [])]


def evidence_group_rows(result: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    """Each group's evidence hit@5 per ``evidence_group_columns`` (blank where a mode has none of it) over its questions
    with gold evidence (n: the most any column is over), in the file's order, as the report and the terminal list
    them; none where no mode searched."""
    columns = evidence_group_columns(result)
    figures = [result["modes"][mode]["by_group"] for mode in columns if mode != "chance"]
    if "chance" in columns:
        figures.append(result["chance_by_group"])
    rows = []
    for g in ordered_groups(result):
        cells = [of_group.get(g, {}) for of_group in figures]
        if n := max((c.get("evidence_n", 0) for c in cells), default=0):
            rows.append((g, n, [figure_cell(c.get("evidence_recall@5"), ".2f") for c in cells]))
    return rows
