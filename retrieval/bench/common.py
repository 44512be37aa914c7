"""What every benchmark task shares: recall@k with its curve, chance's exact figures, plots, chapter folds, the
gold-page test and exact paired significance tests, and the record of what ran (``run_record``; for a latency also the
cores and threads: ``machine_record``, ``threads_record``)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pathatlas.errors import BadInputError
from pathatlas.plugins import require
from pathatlas.retrieval.datasets import holds_book
from pathatlas.retrieval.metrics import (
    CUTOFFS,
    FLIP_SEED,
    RANDOM_FLIPS,
    Ways,
    expected_first_rank,
    expected_precision,
    expected_recall,
    expected_recall_and_mrr,
    expected_reciprocal_rank,
    first_rank_chances,
    mean_chances,
    mean_interval,
    paired_p,
    ruled_ways,
    tied_runs,
)
from pathatlas.retrieval.text import in_words

if TYPE_CHECKING:
    from pathatlas.retrieval.index import Index
    from pathatlas.settings import Settings

CURVE_K = 20


def summarise_chances(first_ranks: list[dict[int, float]], mrr_depth: int | None = None) -> dict[str, Any]:
    """Recall@1/5/10 and MRR, plus the recall@k curve the plot draws, from each query's chance of each rank being its
    first relevant one (``first_rank_chances``): their expected values where ties leave the order open, the plain
    figures where it is one rank for certain. ``mrr_depth``: MRR@depth (a first relevant item below it counts as none),
    so a method ranked deeper for the curve keeps the MRR of its top ``mrr_depth``, and chance is cut alike; None: MRR
    over every rank."""
    curve = expected_recall_and_mrr(first_ranks, range(1, CURVE_K + 1))
    return {
        **expected_recall_and_mrr(first_ranks, CUTOFFS, mrr_depth),
        "curve": [curve[f"recall@{k}"] for k in range(1, CURVE_K + 1)],
    }


TIES = (
    "a run of tied scores counts at its expected value over the run's orders, not in the order record ids gave it, "
    "each order put through the rule search applies after the scores where that rule reads or splits the run (a "
    "section's first pages, the diagnosis vote): figures, paired tests (on each query's expected value) and "
    "per-question first ranks (the expected rank, a fraction where the tie leaves it open); a TREC run gives the whole "
    "tie one score, which trec_eval orders by document id (descending) and ranx as its sort leaves it, so either "
    "scores one order of it"
)
"""How a task's ``ties`` say tied scores were counted."""


Tie = list[int] | Ways
"""A query's runs of tied scores: their lengths in its ranking's order, or, where a rule after the scores read or moved
tied items apart, the ways they can fall (``ruled_ranking``)."""
Runs = list[tuple[int, int]]
"""A ranking as runs of tied items, (size, relevant among them), best first (``tied_runs``)."""


def tied_rankings(ranked: list[list], gold: list[set], ties: list[Tie] | None) -> list[list[Runs]]:
    """Each query's ranking as runs of tied items (``tied_runs``), in each way its ties can fall, equally likely (one
    but where a rule read or moved them: ``Ways``): ``ties`` gives each query's (``Tie``); None: no ties."""
    return [ways_of(items, ties[n] if ties else None, gold[n]) for n, items in enumerate(ranked)]


def ways_of(items: list, tie: Tie | None, gold: set) -> list[Runs]:
    """One query's ranking as runs of tied items in each way its ties can fall (``tied_rankings``)."""
    if isinstance(tie, Ways):
        return [tied_runs(way, sizes, gold) for way, sizes in tie.ways]
    return [tied_runs(items, tie, gold)]


def touched_runs(signatures: list[Hashable], sizes: list[int], reads: Callable[[int, int], bool]) -> list[bool]:
    """The runs of tied items (``sizes``) that a rule reads or splits (``reads(start, size)``) and whose items differ
    (``signatures``, as ``ruled_ways`` takes them): those ``ruled_ranking`` counts over every order."""
    starts = np.cumsum([0, *sizes]).tolist()
    return [
        reads(start, size) and len(set(signatures[start : start + size])) > 1
        for start, size in zip(starts[:-1], sizes, strict=True)
    ]


def ruled_ranking(
    items: list,
    sizes: list[int],
    signatures: list[Hashable],
    touched: list[bool],
    rule: Callable[[list[int]], list[tuple[int, Hashable]]],
) -> tuple[list, Tie]:
    """``items`` (in runs of tied scores ``sizes``) put through a rule after the scores, as search shows them (the
    rule on the order given) with their runs of tied scores; where the rule reads or splits a run whose items differ
    (``touched``), with every way the runs can fall (``Ways``, from ``ruled_ways``, which says what ``signatures`` and
    ``rule`` are), so the figures count that run at its expected value, not at the order its items were given in."""
    shown, shown_sizes = ruled_ways(sizes, signatures, [False] * len(sizes), rule)[0]
    ranked = [items[p] for p in shown]
    if not any(touched):
        return ranked, shown_sizes
    ways = [([items[p] for p in way], way_sizes) for way, way_sizes in ruled_ways(sizes, signatures, touched, rule)]
    return ranked, Ways(shown_sizes, ways)


def tied_figures(
    ranked: list[list],
    gold: list[set],
    ties: list[Tie] | None = None,
    mrr_depth: int | None = None,
    precision_at: tuple[int, ...] = (),
) -> dict[str, Any]:
    """``summarise_chances``' figures and precision at each of ``precision_at``, a run of tied scores (``ties``, as
    ``tied_rankings`` takes them) counted at its expected value over every order of the run: LC25000's tiles of a
    class share one text, so BM25 ties hundreds of them, and record ids alone put all or none of a class on top."""
    return runs_figures(tied_rankings(ranked, gold, ties), mrr_depth, precision_at)


def runs_figures(queries: list[list[Runs]], mrr_depth: int | None, precision_at: tuple[int, ...]) -> dict[str, Any]:
    """``tied_figures`` of each query's ranking as runs of tied items in each way its ties can fall
    (``tied_rankings``), with each figure's 95% interval over the queries (``ci95``: ``mean_interval``)."""
    chances = [ways_chances(ways) for ways in queries]
    precision = {f"precision@{k}": [expected_precision(ways, k) for ways in queries] for k in precision_at}
    found = summarise_chances(chances, mrr_depth) | {
        metric: float(np.mean(scores)) if scores else 0.0 for metric, scores in precision.items()
    }
    scores = query_scores(chances, mrr_depth) | precision
    return found | {"ci95": {metric: list(mean_interval(values)) for metric, values in scores.items()}}


def query_scores(chances: list[dict[int, float]], mrr_depth: int | None) -> dict[str, list[float]]:
    """Each query's recall@1/5/10 and MRR (MRR@``mrr_depth``; None: every rank) from its ``first_rank_chances``: the
    values ``summarise_chances`` averages, which an interval resamples."""
    scores = {f"recall@{k}": [expected_recall(ranks, k) for ranks in chances] for k in CUTOFFS}
    scores["mrr"] = [expected_reciprocal_rank(ranks, mrr_depth or max(ranks, default=0)) for ranks in chances]
    return scores


def ways_chances(ways: list[Runs], depth: int | None = None) -> dict[int, float]:
    """A query's chance of each rank, to ``depth`` (None: as deep as each way ranks), being its first relevant one,
    over every way its ties can fall (``first_rank_chances``, ``mean_chances``)."""
    return mean_chances([first_rank_chances(runs, depth or ranked_count(runs)) for runs in ways])


def ranked_count(runs: Runs) -> int:
    """How many items a query's ranking holds (``runs`` as ``tied_runs`` gives them)."""
    return sum(size for size, _ in runs)


def holds_tie(tie: Tie) -> bool:
    """Does a query's ranking hold a run of tied scores, or ways its ties can fall (``Tie``)?"""
    return isinstance(tie, Ways) or max(tie, default=1) > 1


def holding_ties(ties: dict[str, list[Tie]]) -> dict[str, list[Tie]]:
    """The methods (``ties`` by name, as ``tied_rankings`` takes them) whose ranking of some query holds a run of tied
    scores: the others are scored as ranked, so where nothing ties, figures, tests and TREC runs are the ranking's
    own."""
    return {name: runs for name, runs in ties.items() if any(map(holds_tie, runs))}


def each_way(items: list, tie: Tie, step: Callable[[list, list[int]], tuple[list, list[int]]]) -> tuple[list, Tie]:
    """``step`` ((items, runs' lengths) -> the same, changed) on a ranking, and on each way its ties can fall."""
    shown, sizes = step(items, list(tie))
    if not isinstance(tie, Ways):
        return shown, sizes
    return shown, Ways(sizes, [step(way, way_sizes) for way, way_sizes in tie.ways])


def through_tie(items: list, sizes: Tie | None, k: int) -> tuple[list, Tie | None]:
    """A ranking's top ``k`` and the rest of the run of tied scores the cut falls in, with its runs' lengths (``sizes``)
    so cut: a tie at the cut counts whole, at its expected value; each way its ties can fall cut alike. None: no ties,
    the top ``k``."""
    if sizes is None:
        return items[:k], None
    return each_way(items, sizes, lambda ranked, runs: cut_runs(ranked, runs, k))


def cut_runs(items: list, sizes: list[int], k: int) -> tuple[list, list[int]]:
    """``through_tie`` of one order of a ranking."""
    kept, end = [], 0
    for size in sizes:
        if end >= k:
            break
        kept.append(size)
        end += size
    return items[:end], kept


def cut_through_ties(
    ranked: dict[str, list[list]], ties: dict[str, list[Tie]], k: int
) -> tuple[dict[str, list[list]], dict[str, list[Tie]]]:
    """Every method's rankings (by name) cut at ``k`` through the tie at the cut (``through_tie``), and the runs of
    those that tie (``ties``, by name), cut alike: what ``compare_runs`` takes to test the top ``k``."""
    cut = {
        name: [through_tie(items, ties[name][n] if name in ties else None, k) for n, items in enumerate(lists)]
        for name, lists in ranked.items()
    }
    return (
        {name: [items for items, _ in pairs] for name, pairs in cut.items()},
        {name: [sizes for _, sizes in cut[name]] for name in ties},
    )


def unzipped(pairs: list[tuple[list, Tie]]) -> tuple[list[list], list[Tie]]:
    """Rankings and their runs of tied scores, from (ranking, runs) pairs."""
    return [ranked for ranked, _ in pairs], [runs for _, runs in pairs]


def some_queries(
    positions: list[int], ranked: dict[str, list[list]], gold: list[set], ties: dict[str, list[Tie]]
) -> tuple[dict[str, list[list]], list[set], dict[str, list[Tie]]]:
    """The queries at ``positions`` (a fold's, a chapter's): every method's rankings (by name), their gold, and the
    runs of tied scores of the methods that tie among them (``holding_ties``)."""
    return (
        {name: [lists[i] for i in positions] for name, lists in ranked.items()},
        [gold[i] for i in positions],
        holding_ties({name: [runs[i] for i in positions] for name, runs in ties.items()}),
    )


def first_ranks(ranked: list[list], gold: list[set], ties: list[Tie] | None = None) -> list[int | float | None]:
    """Each query's first relevant rank (``expected_first_rank``): where a tie leaves it open, its expected value."""
    return [ways_first_rank(ways) for ways in tied_rankings(ranked, gold, ties)]


def per_question(
    ids: list[str], gold: list[set[int]], ranked: dict[str, list[list]], ties: dict[str, list[Tie]], names: list[str]
) -> list[dict[str, Any]]:
    """Each query's row of a task's ``per_question``: its id (``ids``), its gold items by name (``names[item]``), its
    first relevant rank per method (``first_ranks``; ``ties`` by method name), so a reader finds which queries a
    method wins or loses, not only the means."""
    first = {method: first_ranks(lists, gold, ties.get(method)) for method, lists in ranked.items()}
    return [
        {
            "id": query,
            "gold": sorted(names[item] for item in gold[n]),
            "first_relevant_rank": {method: ranks[n] for method, ranks in first.items()},
        }
        for n, query in enumerate(ids)
    ]


def ways_first_rank(ways: list[Runs]) -> int | float | None:
    """A query's ``expected_first_rank`` over the ways its ties can fall that rank a relevant item (the same in every
    way but where a cut at a depth falls between them), as it is where they agree; None where none does."""
    ranks = [rank for rank in map(expected_first_rank, ways) if rank is not None]
    if not ranks:
        return None
    return ranks[0] if len(set(ranks)) == 1 else sum(ranks) / len(ranks)


def ties_record(ties: dict[str, list[Tie]]) -> dict[str, Any]:
    """What a task's JSON says of its tied scores: how they were counted (``TIES``), and per method the queries whose
    ranking holds a tie."""
    return {"how": TIES, "queries_with_ties": {name: sum(map(holds_tie, runs)) for name, runs in ties.items()}}


def expected_score(ways: list[Runs], metric: str, depth: int | None) -> float:
    """One query's ``metric`` (named as the tables name it: recall@k, mrr, precision@k) at its expected value over
    the orders of its ties in each way they can fall (``tied_rankings``), MRR cut at ``depth`` (None: every rank): the
    score a paired test compares where a method ties."""
    if metric.startswith("precision@"):
        return expected_precision(ways, int(metric.removeprefix("precision@")))
    chances = ways_chances(ways, depth)
    if metric == "mrr":
        return expected_reciprocal_rank(chances, depth or max(chances, default=0))
    if metric.startswith("recall@"):
        return expected_recall(chances, int(metric.removeprefix("recall@")))
    raise ValueError(f"no expected value for metric {metric!r}")


def on_gold_page(gold: dict[str, Any], source: str, page: int | None) -> bool:
    """Is page ``page`` of ``source`` in a question's gold range (``gold["pdf_pages"]``: [first, last]) and of its gold
    book (``gold["book"]``; of any PDF when it names none)? The one test of a gold page: text to page (``bench
    retrieval``) counts the index's gold pages with it, ``bench qa`` its evidence and quoted pages."""
    pages, book = gold.get("pdf_pages"), gold.get("book")
    if not pages or page is None:
        return False
    return pages[0] <= page <= pages[-1] and (not book or holds_book(source, book))


def chance(
    n_candidates: int | list[int],
    relevant_counts: list[int],
    mrr_depth: int | None = None,
    precision_at: tuple[int, ...] = (),
) -> dict[str, Any]:
    """The methods' figures (``tied_figures``; MRR cut at ``mrr_depth`` as theirs is) for a random ranking, exactly: it
    is one tie of every candidate, so each figure is its expected value over the tie's orders, not a mean of draws
    with their noise (R@1 = P@k = r / G, R@k = 1 - C(G - r, k) / C(G, k)). ``n_candidates`` (G): how many items each
    query's ranking holds, one number for all or one per query (an image query's gallery less its own copies)."""
    sizes = np.broadcast_to(n_candidates, (len(relevant_counts),)).tolist()
    whole_ties = [[[(size, count)]] for size, count in zip(sizes, relevant_counts, strict=True)]
    return runs_figures(whole_ties, mrr_depth, precision_at)


LEGEND_LINE_INCHES = 0.16
"""Height of one legend entry (7-point text), which each panel's legend below its curves adds to the figure."""


PANELS_PER_ROW = 3
"""Tasks side by side in the plot: more make a strip too wide to read (six tasks drew 2772 by 915 pixels)."""
BAR_METRICS = ("mrr", "precision@5", "precision@10")
"""The metrics a table reports that no recall curve shows: drawn as bars below each task's curves."""
PLOT_DPI = 200
"""Dots per inch of every bench's PNG plot: sharp when pasted into a paper or slides (110 blurred 7-point labels)."""
LABEL_GAP = 0.015
"""Room between a bar's label and the axis or its interval's whisker, as a share of the axis' width."""
METRIC_NAMES = {
    "recall@1": "R@1",
    "recall@5": "R@5",
    "recall@10": "R@10",
    "recall_cap@10": "R_cap@10",
    "mrr": "MRR",
    "precision@5": "P@5",
    "precision@10": "P@10",
}
"""The metrics a retrieval table may show, in order, and their names in its headers and on the plot's axes."""


def metric_name(metric: str, body: dict[str, Any]) -> str:
    """A metric as a task's table and plot name it (``METRIC_NAMES``), MRR with the task's depth: "MRR@10"."""
    if metric == "mrr" and body.get("mrr_depth"):
        return f"MRR@{body['mrr_depth']}"
    return METRIC_NAMES.get(metric, metric)


def plot_curves(result: dict[str, Any], path: Path) -> None:
    """Recall@k curves, one panel per task, at most ``PANELS_PER_ROW`` tasks a row, the default's drawn thick and on
    top, titled as its table is (pooled held-out folds where the default was chosen per fold), each panel's legend
    below it, off the curves; below each task's curves the metrics its table reports that no curve shows
    (``bar_metrics``: MRR, precision) per method as bars with their 95% intervals."""
    require("matplotlib", "plot").use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    colours = method_colours(tasks)
    columns = min(PANELS_PER_ROW, len(tasks))
    task_rows = -(-len(tasks) // columns)
    per_task = 2 if any(bar_metrics(body) for body in tasks.values()) else 1
    legend = LEGEND_LINE_INCHES * max(len(body["methods"]) for body in tasks.values())
    size = (4.2 * columns, (3.6 * per_task + legend) * task_rows)
    fig, axes = plt.subplots(per_task * task_rows, columns, figsize=size, squeeze=False, layout="constrained")
    labelled = []
    for number, (task, body) in enumerate(tasks.items()):
        row, column = divmod(number, columns)
        plot_curve(axes[per_task * row][column], task, body, colours)
        if per_task == 2:
            ax = axes[per_task * row + 1][column]
            labelled.append((ax, plot_bars(ax, body, colours)))
    for number in range(len(tasks), task_rows * columns):  # the last row's empty places
        row, column = divmod(number, columns)
        for ax in axes[per_task * row : per_task * row + per_task, column]:
            ax.axis("off")
    fig.suptitle(f"PathAtlas retrieval, encoder {result['encoder']}, {queries_phrase(result)}", fontsize=10)
    clear_of_whiskers(fig, labelled)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)


def plot_curve(ax: Any, task: str, body: dict[str, Any], colours: dict[str, Any]) -> None:
    """One task's recall@k curves (R@k, as its table names recall), its legend below them."""
    for method, metrics in body["methods"].items():
        ks = range(1, len(metrics["curve"]) + 1)
        label, style = method_style(body, method)
        ax.plot(ks, metrics["curve"], label=label, color=colours[method], **style)
    ax.set_title(f"{task}{', pooled held-out folds' if body.get('folds') else ''} (n={body['n']})", fontsize=9)
    ax.set_xlabel("k")
    ax.set_ylabel("R@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)


def bar_metrics(body: dict[str, Any]) -> list[str]:
    """The metrics of a task drawn as bars: its ``headline`` first, then each of ``BAR_METRICS`` it reports."""
    wanted = dict.fromkeys(filter(None, [body.get("headline"), *BAR_METRICS]))
    return [metric for metric in wanted if any(metric in figures for figures in body["methods"].values())]


def method_colours(tasks: dict[str, Any]) -> dict[str, Any]:
    """Each method's colour by its name, the same in every panel whichever order a task lists its methods in (the
    default's thick line too): tab10 (tab20 past ten methods) dealt in order of first appearance over the tasks."""
    import matplotlib

    names = list(dict.fromkeys(name for body in tasks.values() for name in body["methods"]))
    palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: palette(n % palette.N) for n, name in enumerate(names)}


def method_style(body: dict[str, Any], method: str) -> tuple[str, dict[str, Any]]:
    """A method's legend label and line: the default's named as such (its ``default_label`` where it is not all that
    search does), thick and drawn over the others; chance dashed."""
    if method == body.get("default"):
        return f"{method} ({body.get('default_label', 'default')})", {"linewidth": 2.8, "zorder": 3}
    return method, {"linewidth": 1.2, "linestyle": "--" if method == "chance" else "-"}


def plot_bars(ax: Any, body: dict[str, Any], colours: dict[str, Any]) -> list[tuple[Any, float, float]]:
    """Each of the task's ``bar_metrics`` per method as a bar with its 95% interval (``ci95``), a method's bars side
    by side and named in a label by the first (names are long), metrics named as the table names them
    (``metric_name``), the default's in its line's colour (``method_colours``); a bar measured at 0, which has no
    length, marked at 0 and labelled so, lest it read as not measured; an empty panel where the task has none. Each
    label with its bar's interval's ends, for ``clear_of_whiskers`` to place."""
    metrics = bar_metrics(body)
    if not metrics:
        ax.axis("off")
        return []
    labels = []
    names, height = list(body["methods"]), 0.8 / len(metrics)
    for slot, metric in enumerate(metrics):
        shown = [(row, name) for row, name in enumerate(names) if metric in body["methods"][name]]
        rows = [row - 0.4 + height * (slot + 0.5) for row, _ in shown]
        figures = [body["methods"][name] for _, name in shown]
        values = [f[metric] for f in figures]
        shades = [colours[name] if name == body.get("default") else "gainsboro" for _, name in shown]
        ax.barh(rows, values, height=height * 0.9, color=shades, xerr=interval_errors(figures, metric))
        zeros = [y for y, value in zip(rows, values, strict=True) if value == 0]
        ax.scatter(
            [0] * len(zeros), zeros, marker="D", s=24, color="dimgray", zorder=3, clip_on=False, label="measured 0"
        )
        which = f"{metric_name(metric, body)} " if len(metrics) > 1 else ""  # one metric: the axis names it
        for y, (_, name), figures_of in zip(rows, shown, figures, strict=True):
            value = figures_of[metric]
            named = f"{method_style(body, name)[0]}: " if slot == 0 else ""
            measured = " (measured)" if value == 0 else ""
            text = ax.text(LABEL_GAP, y, f"{named}{which}{value:.3f}{measured}", va="center", fontsize=7)
            low, high = figures_of.get("ci95", {}).get(metric, (value, value))
            labels.append((text, min(low, value), max(high, value)))
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(", ".join(metric_name(metric, body) for metric in metrics) + " (95% intervals)")
    ax.grid(alpha=0.3, axis="x")
    return labels


def clear_of_whiskers(fig: Any, labelled: list[tuple[Any, list[tuple[Any, float, float]]]]) -> None:
    """Each bar's label (``plot_bars``: per axes, each label with its interval's ends) where no whisker crosses it
    ("hybrid, label rule off: 0.357" was drawn across its whisker), as ``label_places`` places it, measured on the
    figure laid out: a label's width is known once it is drawn."""
    fig.draw_without_rendering()
    for ax, labels in labelled:
        axis = ax.get_window_extent().width
        end, inside = label_places([(text.get_window_extent().width / axis, low, high) for text, low, high in labels])
        for (text, _, high), stays in zip(labels, inside, strict=True):
            text.set_x(LABEL_GAP * end if stays else high + LABEL_GAP * end)
        ax.set_xlim(0, end)


def label_places(spans: list[tuple[float, float, float]]) -> tuple[float, list[bool]]:
    """Where bar labels go (``spans``: each one's width as a share of the axis, its interval's low and high end): the
    axis' end, and whether each label stays inside its bar, ending before the interval's low end, or goes just past
    its high end. The end is 1, or more where a label past its whisker would end beyond 1; a wider axis fits fewer
    labels inside, so it is widened until none moves out."""
    end = 1.0
    while True:
        inside = [(2 * LABEL_GAP + share) * end <= low for share, low, _ in spans]
        past = [high / (1 - LABEL_GAP - share) for (share, _, high), fit in zip(spans, inside, strict=True) if not fit]
        if (wider := max([1.0, *past])) <= end:
            return end, inside
        end = wider


def interval_errors(figures: list[dict[str, Any]], metric: str) -> list[list[float]] | None:
    """Each method's distance (``figures``, one each) from its ``metric`` down and up to its 95% interval's ends
    (``ci95``), as ``barh``'s ``xerr`` takes them; None where the figures carry no interval."""
    if not all(metric in f.get("ci95", {}) for f in figures):
        return None
    return [
        [max(0.0, f[metric] - f["ci95"][metric][0]) for f in figures],
        [max(0.0, f["ci95"][metric][1] - f[metric]) for f in figures],
    ]


def splits_used(tasks: dict[str, Any]) -> str:
    """The queries the tasks used, as the result's top-level ``split`` says it: their one split ("val" or "all"), or
    "mixed" when they differ (text to page uses every question whatever ``--split`` says; each task names its own)."""
    found = {body.get("split", "val") for body in tasks.values()}
    return found.pop() if len(found) == 1 else "mixed"


def queries_phrase(result: dict[str, Any]) -> str:
    """What the plot's title says of the queries: "all queries", or each task's split where they differ."""
    if result["split"] != "mixed":
        return f"{result['split']} queries"
    return "queries: " + ", ".join(f"{task} {body.get('split', 'val')}" for task, body in result["tasks"].items())


def chapter_folds(chapters: Sequence[str], folds: int) -> list[int]:
    """Fold of each question: whole chapters dealt round-robin in order of their names, shortest first ("ch2" before
    "ch10"), so no chapter is split and a shuffled file keeps its folds. The one dealing of every bench that holds
    chapters out (``bench retrieval --folds``, ``bench qa --folds``), so their folds are the same chapters."""
    order = {chapter: n % folds for n, chapter in enumerate(sorted(set(chapters), key=lambda c: (len(c), c)))}
    return [order[chapter] for chapter in chapters]


def check_folds(chapters: list[str], folds: int, what: str) -> None:
    """Chapter folds need at least as many chapters as folds, and two: with fewer a fold is missing, and with one
    chapter its only fold is fitted on no question at all. ``what``: the questions, as the error names them."""
    found = len(set(chapters))
    if folds and found < max(folds, 2):
        raise BadInputError(
            f"--folds {folds}: {what} span {found} chapter(s); folds need at least as many chapters (and two)"
        )


SIGNIFICANCE_METRICS = ("recall@1", "recall@5", "recall@10", "mrr")
"""Named as the tables name them (``summarise_chances``); ``ranx_metric`` gives ranx's name."""
SIGNIFICANCE_LEVEL = 0.05
"""The family-wise level of a task's paired tests (``holm_adjusted``)."""
RANDOM_FLIPS_TEST = f"randomization ({RANDOM_FLIPS:,} flips, seed {FLIP_SEED})"
"""The test name ``sign_flip_p`` gives a p drawn from random flips, whose least value is a bound (``at_floor``)."""


def ranx_metric(metric: str) -> str:
    """ranx's name for one of ours: our recall@k (a relevant item in the top k) is ranx's hit_rate@k (ranx's recall@k
    is the share of all relevant items found); mrr and precision@k are the same in both."""
    return "hit_rate@" + metric.removeprefix("recall@") if metric.startswith("recall@") else metric


def compare_runs(
    query_ids: list[str],
    gold: list[set],
    ranked: dict[str, list[list]],
    default: str,
    max_p: float = SIGNIFICANCE_LEVEL,
    metrics: tuple[str, ...] = SIGNIFICANCE_METRICS,
    ties: dict[str, list[Tie]] | None = None,
    depth: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Paired two-sided test of the default against every other method, per metric (from 2 questions), on each
    question's score (ranx's ``evaluate``): exact McNemar on 0/1 scores, else the paired randomization test
    (``paired_p``), each comparison's ``test`` naming which. ``metrics`` and the result's keys are named as the tables
    name them (recall@k, mrr, precision@k). ``depth``: each ranking is scored over its top ``depth`` (None: as given).
    ``ties``: a method's runs of tied scores, by name (``tied_rankings``), whose ranking runs through its tie at the
    cut: its question's score is the expected value over the orders of its ties (``expected_score``), not the record
    ids' order, and its comparisons say so. Each comparison's ``p`` is its test's own (``p_floor``: a bound, the least
    p its random flips can give); ``p_holm`` is Holm-Bonferroni's over all of them, the family a task tests at once
    (up to ~20 for an image task), and ``significant`` is ``p_holm < max_p``."""
    if len(query_ids) < 2:
        return {}
    ties = ties or {}
    scores = {
        name: (
            tied_scores(lists, gold, ties[name], metrics, depth)
            if name in ties
            else ranx_scores(query_ids, gold, [items[:depth] for items in lists], metrics)
        )
        for name, lists in ranked.items()
    }
    out: dict[str, dict[str, Any]] = {}
    for name in ranked:
        if name == default:
            continue
        out[name] = {}
        for metric in metrics:
            out[name][metric] = paired_test(scores[default][metric], scores[name][metric], name)
            if ties.keys() & {default, name}:
                out[name][metric]["ties"] = "each question's expected value over the orders of its tied scores"
    return with_holm(out, max_p)


def paired_test(mine: np.ndarray, theirs: np.ndarray, name: str) -> dict[str, Any]:
    """One comparison as a task records it: the default's (``mine``) and method ``name``'s mean of each question's
    score, and their paired test (``paired_p``): its p, whether that p is a bound (``at_floor``) and the test's name."""
    p, test = paired_p(mine, theirs)
    return {
        "default": float(mine.mean()),
        name: float(theirs.mean()),
        "p": p,
        "p_floor": at_floor(p, test),
        "test": test,
    }


def at_floor(p: float, test: str) -> bool:
    """Is ``p`` the least a test can give, so that the true p is at most it? Only random flips have a floor: none of
    ``RANDOM_FLIPS`` reached the observed sum, (0 + 1) / (flips + 1) (printed "1e-05"; exact tests give their p)."""
    return test == RANDOM_FLIPS_TEST and p <= 1 / (RANDOM_FLIPS + 1)


def with_holm(comparisons: dict[str, dict[str, Any]], level: float) -> dict[str, dict[str, Any]]:
    """``comparisons`` (baseline -> metric -> test) with each test's Holm-Bonferroni p over all of them (``p_holm``)
    and ``significant`` at ``level`` by it: a task tests every baseline on every metric at once, and uncorrected,
    one p in twenty below 0.05 would be marked where nothing differs."""
    tests = [(name, metric, found) for name, metrics in comparisons.items() for metric, found in metrics.items()]
    out: dict[str, dict[str, Any]] = {name: {} for name in comparisons}
    for (name, metric, found), adjusted in zip(tests, holm_adjusted([t[2]["p"] for t in tests]), strict=True):
        out[name][metric] = found | {"p_holm": adjusted, "significant": adjusted < level}
    return out


def holm_adjusted(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p of each of ``p_values`` (in their order): the i-th smallest of m times m - i + 1,
    never below a smaller p's, at most 1; one below a level rejects at that family-wise level."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, position in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[position]))
        adjusted[position] = running
    return adjusted


def ranx_scores(query_ids: list[str], gold: list[set], lists: list[list], metrics: tuple[str, ...]) -> dict[str, Any]:
    """Each question's score per metric (named as ours; ``ranx_metric``), by ranx's ``evaluate``, in ``query_ids``'
    order: ranx lists its scores by sorted query id, and a paired test pairing those with another method's in the file's
    order compared one question's score with another's."""
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({q: {str(g): 1 for g in relevant} for q, relevant in zip(query_ids, gold, strict=True)})
    run = {
        q: {str(item): float(len(items) - rank) for rank, item in enumerate(items)}
        for q, items in zip(query_ids, lists, strict=True)
    }
    scored = Run({q: r or {"-": 0.0} for q, r in run.items()})
    evaluate(qrels, scored, [ranx_metric(m) for m in metrics], return_mean=False, save_results_in_run=True)
    return {m: np.array([scored.scores[ranx_metric(m)][q] for q in query_ids], float) for m in metrics}


def tied_scores(
    lists: list[list], gold: list[set], ties: list[Tie], metrics: tuple[str, ...], depth: int | None
) -> dict[str, Any]:
    """Each question's expected score per metric over the orders of its ties (``expected_score``), MRR over the top
    ``depth`` (None: every rank)."""
    queries = tied_rankings(lists, gold, ties)
    return {metric: np.array([expected_score(ways, metric, depth) for ways in queries]) for metric in metrics}


MARKED_METRICS = ("recall@1", "recall@5", "recall@10", "mrr", "precision@5", "precision@10")
"""The metrics on which a default below a baseline is marked (``losses``), or below one of its components
(``component_losses``)."""


def losses(task: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Method name -> [(baseline, metric)] where that row is the default and it scores below the baseline, or below
    one of its ablations (the part that ablation removes costs the default there).

    The convention every task result follows: ``n``, ``methods`` {name: metrics}, ``default`` (a method
    name), ``baselines`` (method names: simpler systems the default must beat) and, where it has any, ``ablations``
    (method names: the default with a part removed); tasks without a ``default`` mark nothing.
    """
    default = task.get("default")
    if default is None or default not in task["methods"]:
        return {}
    mine = task["methods"][default]
    found = [
        (name, metric)
        for name in [*task.get("baselines", []), *task.get("ablations", [])]
        if name in task["methods"]
        for metric in MARKED_METRICS
        if metric in mine and metric in task["methods"][name] and mine[metric] < task["methods"][name][metric]
    ]
    return {default: found} if found else {}


def component_losses(task: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Method name -> {metric: {"default": its figure, name: theirs}} for each method the default fuses (a row whose
    "+"-parts are some of the default's: ``visual`` of ``visual+joint+specimen+majority``) and scores below on a
    marked metric. Not a baseline nor an ablation (``losses`` marks those): the fusion losing to a part of itself on
    some metric, which the default's row alone does not show."""
    default = task.get("default")
    if default not in task["methods"]:
        return {}
    mine, parts = task["methods"][default], set(default.split("+"))
    marked = {*task.get("baselines", []), *task.get("ablations", [])}
    found = {}
    for name, theirs in task["methods"].items():
        if name in marked or not set(name.split("+")) < parts:
            continue
        below = {
            metric: {"default": mine[metric], name: theirs[metric]}
            for metric in MARKED_METRICS
            if metric in mine and metric in theirs and mine[metric] < theirs[metric]
        }
        if below:
            found[name] = below
    return found


def component_notes(task: dict[str, Any]) -> dict[str, Any]:
    """The task's ``below_components`` (``component_losses``) and a note for each component, with its ``notes``;
    the task unchanged where the default is below none."""
    below = component_losses(task)
    if not below:
        return task
    notes = [
        f"the {task.get('default_label', 'default')} {task['default']} scores below its own component {name} on "
        + ", ".join(f"{metric} ({pair['default']:.3f} vs {pair[name]:.3f})" for metric, pair in metrics.items())
        for name, metrics in below.items()
    ]
    return {**task, "below_components": below, "notes": [*task.get("notes", []), *notes]}


EXACT_QUERIES, EIGHT_BIT_QUERIES = "exact", "8-bit ONNX"
"""How PathAtlas's MiniLM encodes a text query (``settle_query_vectors``), as a run's ``query_vectors`` records it."""


def settle_query_vectors(encoder: Any) -> str | None:
    """Open the text queries' sessions before anything is timed, and say which path they take (``EIGHT_BIT_QUERIES``,
    or ``EXACT_QUERIES`` without ONNX Runtime or off the CPU), for the run record. Opening them writes MiniLM's exports
    where the model cache lacks them (about 5 s once) and loads the fp32 one that long texts take (about 90 MB), which
    would otherwise land inside the first timed query. None: an encoder without PathAtlas's MiniLM, whose queries are
    its own."""
    from pathatlas.retrieval.encoders.minilm import MiniLM

    model = getattr(getattr(encoder, "text_tower", None), "model", None)
    if not isinstance(model, MiniLM):
        return None
    model.exact_session  # noqa: B018 - loaded here, not inside a timed query
    return EIGHT_BIT_QUERIES if model.query_session is not None else EXACT_QUERIES


def run_record(inputs: dict[str, Path | list[Path]], idx: Index | None, options: dict) -> dict:
    """What a benchmark result needs to be read on its own later (and ``compare-qa`` to check two runs asked the same
    questions): its input files (``NAME`` and ``NAME_sha256``, a list for a repeated option; ``file_sha256``), when
    (UTC), which code (version, and the git commit with a dirty flag when PathAtlas runs from a checkout), the command
    line, the index and its encoder revisions, the command's ``options`` and ``PYTHONHASHSEED``."""
    from pathatlas import __version__

    record: dict = {}
    for name, given in inputs.items():
        paths = given if isinstance(given, list) else [given]
        resolved = [str(path.resolve()) for path in paths]
        hashes = [file_sha256(path) for path in paths]
        record[name], record[f"{name}_sha256"] = (resolved, hashes) if isinstance(given, list) else (*resolved, *hashes)
    record |= {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "pathatlas": __version__,
        **git_state(),
        "command": sys.argv,
    }
    if idx is not None:
        record |= {"index": str(idx.path), "index_encoder": idx.meta.encoder, "index_revisions": idx.meta.revisions}
    return record | options | {"pythonhashseed": os.environ.get("PYTHONHASHSEED")}


def file_sha256(path: Path) -> str:
    """A file's sha256, read in chunks (a 50 MB book is not held in memory at once). A folder's (``bench startup
    --source`` re-indexes a case folder as ``index`` takes it) is the sha256 of a line per file below it, ``SHA256
    RELATIVE/PATH``, in path order: editing, adding, removing or renaming a file changes it."""
    if path.is_dir():
        files = sorted((f.relative_to(path).as_posix(), f) for f in path.rglob("*") if f.is_file())
        listing = "".join(f"{file_sha256(file)}  {name}\n" for name, file in files)
        return hashlib.sha256(listing.encode()).hexdigest()
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


GIT_SECONDS = 5
"""How long each git call may take before the record goes without it."""


def git_state(root: Path | None = None) -> dict:
    """``git_commit`` and ``git_dirty`` (tracked files changed since it; untracked ones do not count, as with ``git
    describe --dirty``) of the checkout PathAtlas runs from, an editable install whose version alone names no commit;
    nothing when it runs from elsewhere (a wheel) or git does not answer."""
    import subprocess

    import pathatlas

    root = root or Path(pathatlas.__file__).resolve().parents[1]
    if not (root / ".git").exists():  # not git's search upwards: a wheel in a project's venv is no checkout of ours
        return {}
    try:
        commit, changed = (
            subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_SECONDS, check=True
            ).stdout
            for args in (["rev-parse", "HEAD"], ["status", "--porcelain", "--untracked-files=no"])
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit.strip(), "git_dirty": bool(changed.strip())}


def machine_record() -> dict[str, Any]:
    """What a latency measured in child processes (``bench serve``, ``bench startup``) depends on besides the code and
    the index: the machine's cores, those this process may run on (a container's share, which the children inherit),
    and ``OMP_NUM_THREADS`` (None: not set), from which PathAtlas sets its model threads: ONNX Runtime's sessions
    and torch read it, and ``pathatlas serve`` keeps it, else gives each of its two search lanes half the cores."""
    from pathatlas.retrieval.encoders.base import usable_cores

    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def threads_record() -> dict[str, Any]:
    """``machine_record`` and the threads this process's libraries ran with, for a latency measured in process; read
    after the timed work: ONNX Runtime's per session (``threads_per_call``: 0 is its own choice, one per physical
    core), BLAS's (numpy: exact text queries, the hashing encoder) and torch's and FAISS's where the run loaded them
    (None: not loaded, so not used)."""
    from threadpoolctl import threadpool_info

    from pathatlas.retrieval.encoders.onnx_cache import threads_per_call

    torch, faiss = sys.modules.get("torch"), sys.modules.get("faiss")
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return machine_record() | {
        "onnx_threads": threads_per_call(),
        "blas_threads": max(blas, default=None),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "faiss_threads": faiss.omp_get_max_threads() if faiss is not None else None,
    }


def encoder_record(settings: Settings) -> dict[str, Any]:
    """The encoder a benchmark without an index builds with or times (``bench index``, ``search``, ``encode``): its
    name and revisions, as an index records them (``Encoder.revisions`` loads no model)."""
    from pathatlas.retrieval.encoders import create_encoder

    return {"encoder": settings.encoder, "encoder_revisions": create_encoder(settings.encoder, settings).revisions()}


def below_words(pairs: list[tuple[str, str]]) -> str:
    """The mark of a row below its baselines, ``(baseline, metric)`` each, worded alike in every bench's tables: "✗
    below bm25 on recall@5 and recall@10; chance on mrr", "✗ below no-rag and chance on accuracy" (baselines below
    which it is on the same metrics named together: "no-rag on accuracy; chance on accuracy" read as a stutter); blank
    below none."""
    metrics: dict[str, list[str]] = {}
    for baseline, metric in pairs:
        metrics.setdefault(baseline, []).append(metric)
    baselines: dict[tuple[str, ...], list[str]] = {}
    for baseline, names in metrics.items():
        baselines.setdefault(tuple(names), []).append(baseline)
    said = "; ".join(f"{in_words(named)} on {in_words(list(names))}" for names, named in baselines.items())
    return f"✗ below {said}" if pairs else ""


FEW_QUERIES = 20
"""Below this many queries a task's figures are warned of (``few_queries_warning``): their intervals span most of the
scale, and a paired test can hardly reach significance."""


def few_queries_warning(n: int) -> list[str]:
    """A task's ``warnings``: one where it scored fewer than ``FEW_QUERIES`` queries (a held-out split of a small case
    folder can keep 2 of 18), none otherwise."""
    if n >= FEW_QUERIES:
        return []
    return [
        f"only {n} queries (fewer than {FEW_QUERIES}): read the 95% intervals, not the point figures; paired p-values "
        "on so few queries are weak"
    ]
