"""The plot of a ``bench qa`` result (``--plot``, else plot.png): its scores, reliability and groups, each mode one
colour."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.agent.bench.folds import fitted_on
from pathatlas.agent.bench.rows import (
    answered_phrase,
    chance_row,
    group_chances,
    group_rows,
    held_out_modes,
    ordered_groups,
    shown_rows,
    weights_note,
)
from pathatlas.agent.bench.scores import score_label
from pathatlas.plugins import require
from pathatlas.retrieval.bench.common import PLOT_DPI


def tick_label(text: str, width: int = 22, lines: int = 2) -> str:
    """A group's name as a plot's tick shows it: wrapped at words into at most ``lines`` lines of about ``width``
    characters, an ellipsis where words are left out (a word is never cut: "The Tissue Level of Or" would read as a
    chapter of its own)."""
    wrapped = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]
    if len(wrapped) > lines:
        wrapped = [*wrapped[: lines - 1], wrapped[lines - 1] + "…"]
    return "\n".join(wrapped)


def bar_name(name: str, m: dict[str, Any], asked: int) -> str:
    """A mode's bar label: its name, and under it how many of the ``asked`` questions its figure is over where that is
    fewer ("none answered": a mode without a bar, every question failed)."""
    answered = m.get("answered", len(m["correct"]))
    if answered >= asked:
        return name
    return f"{name}\n" + (f"{answered} of {asked} answered" if answered else "none answered")


def error_arms(m: dict[str, Any]) -> list[float]:
    """A bar's error arms below and above its figure (its 95% CI, ``ci95``); none for a figure without one (a mode
    that answered nothing, a group of a result written before groups had intervals)."""
    if m.get("accuracy") is None or "ci95" not in m:
        return [0.0, 0.0]
    return [m["accuracy"] - m["ci95"][0], m["ci95"][1] - m["accuracy"]]


ZERO_LABEL = "0.00"
"""What a bar of a measured 0 is labelled: a bar of no height reads as a figure not measured (NaN, no bar)."""


def label_zeros(ax, bars, values: list[float], tops: list[float]) -> None:
    """Label each bar whose figure is a measured 0 with ``ZERO_LABEL``, above its error bar (``tops``: each bar's
    interval's high end), which a label on the axis covered; upright, so it stays over its own bar where a group's
    bars are narrow, and on a white ground, so a dashed chance line does not cross it out."""
    for bar, value, top in zip(bars, values, tops, strict=True):
        if value == 0:
            ax.annotate(
                ZERO_LABEL,
                (bar.get_x() + bar.get_width() / 2, top),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                rotation=90,
                fontsize=7,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )


def legend_beside(ax) -> None:
    """The axes' legend to the right of its data area, where it covers no bar, line or point (the figure's layout
    makes room for it)."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


MODE_COLOURS = {"no-rag": "#7f7f7f", "rag": "#1f77b4", "agentic": "#ff7f0e", "mcp": "#2ca02c"}
"""Each mode's colour in every panel of ``plot_qa``: its held-out and in-sample figures differ by fill, not colour."""

OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf")


def mode_colours(modes: list[str]) -> dict[str, str]:
    """Mode -> its colour (``MODE_COLOURS``; a mode without one takes the next of ``OTHER_COLOURS``)."""
    others = iter(OTHER_COLOURS * len(modes))
    return {mode: MODE_COLOURS.get(mode) or next(others) for mode in modes}


def run_settings(result: dict[str, Any]) -> str:
    """A ``bench qa`` result's settings as the plot's title names them (its questions, index, answerer, folds, and the
    options that change what is measured: ``--exclude-case``, ``--shuffle-options``, ``--open``, ``--open-from-mcq``),
    so a figure of one run is not read as another's; its questions alone where the run recorded none."""
    run = result.get("run") or {}
    answerer = run.get("answerer") or result.get("answerer")
    said = [
        Path(str(run["questions"])).name if run.get("questions") else None,
        answered_phrase(result),
        f"index {Path(str(run['index'])).name}" if run.get("index") else None,
        f"answerer {answerer}" + (f" ({run['model']})" if run.get("model") else "") if answerer else None,
        *(f"{name} {run[name]}" for name in ("k", "rounds") if run.get(name) is not None),
        f"--folds {run['folds']}" if run.get("folds") else "no folds" if "folds" in run else None,
        "--exclude-case" if run.get("exclude_case") else None,
        f"--shuffle-options {run['shuffle_options']}" if run.get("shuffle_options") is not None else None,
        "--open" if run.get("open") else None,
        "--open-from-mcq" if run.get("open_from_mcq") else None,
    ]
    return ", ".join(part for part in said if part)


def rows_title(result: dict[str, Any], folded: bool) -> str:
    """What the accuracy panel's bars are: held out (weights refit per chapter fold) and, hatched, the weights the run
    answered with (in-sample where they were fitted on some of its questions); nothing to say for a plain run."""
    fitted = fitted_on(result)
    in_sample = f"in-sample, fitted on {fitted} of these"
    if folded:
        return f"held out: refit per chapter fold;\nhatched: {in_sample if fitted else 'shipped weights'}"
    return in_sample if fitted else ""


def plot_qa(result: dict[str, Any], path: Path) -> None:
    """The plot at ``path`` (PNG at ``PLOT_DPI``, or as its ending says: .pdf, .svg): each mode's score (held-out bars
    beside the hatched bars of the weights it answered with), its reliability diagram and its score by chapter,
    every panel saying which answers it shows (held out, in-sample), each mode one colour throughout, and the run's
    settings (``run_settings``) over them."""
    require("matplotlib", "plot").use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1, 1.2, 3]}, layout="constrained"
    )
    fig.suptitle(run_settings(result), fontsize=9)
    colours = mode_colours(list(result["modes"]))
    label = result.get("metric", score_label(result.get("kinds", {})))
    plot_rows(left, result, colours, label)
    plot_reliability(middle, result, colours, label)
    plot_groups(right, result, colours, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)


def plot_rows(ax, result: dict[str, Any], colours: dict[str, str], label: str) -> None:
    """The accuracy panel: a bar per ``shown_rows`` row (95% CI), in its mode's colour, hatched where it is not held
    out when held-out rows stand beside it; chance dashed."""
    rows = shown_rows(result)
    folded = len(rows) > len(result["modes"])
    acc = [np.nan if m["accuracy"] is None else m["accuracy"] for _, m in rows]  # NaN: no bar, no error bar
    err = np.array([error_arms(m) for _, m in rows]).T
    hatched = [folded and not name.endswith("held out") for name, _ in rows]
    bars = ax.bar(range(len(rows)), acc, yerr=err, capsize=4, color=[colours[name.split(",")[0]] for name, _ in rows])
    for bar, hatch in zip(bars, hatched, strict=True):
        if hatch:
            bar.set(hatch="//", alpha=0.45)
    label_zeros(ax, bars, acc, [value + arm for value, arm in zip(acc, err[1], strict=True)])
    names = [bar_name(name.split(" (")[0], m, result["n"]) for name, m in rows]
    slanted = folded or fitted_on(result)
    ax.set_xticks(
        range(len(names)), names, rotation=30 if slanted else 0, ha="right" if slanted else "center", fontsize=8
    )
    ax.set_xlim(-0.5, len(names) - 0.5)  # a mode without a bar keeps its place (no data widens no axis)
    ax.set_ylim(0, 1)
    if (baseline := chance_row(result)) and result["chance"].get("accuracy") is not None:
        ax.axhline(result["chance"]["accuracy"], linestyle="--", color="#c0392b", linewidth=1, label=baseline[0])
        legend_beside(ax)
    subtitle = rows_title(result, folded)
    ax.set_title(f"{label} by mode (95% CI)" + (f"\n{subtitle}" if subtitle else ""), fontsize=8.5)


BIN_AREA = 150
"""Marker area (square points) of the reliability diagram's fullest bin; each bin's marker is as large as its share
of that bin's questions, so a bin of 2 questions does not look like one of 40."""

FEW_IN_BIN = 5
"""Bins of fewer questions are drawn hollow: their accuracy is a few answers' (0 or 1 from a single one)."""


def plot_reliability(ax, result: dict[str, Any], colours: dict[str, str], label: str) -> None:
    """The reliability panel: each mode's bins in its colour, held out solid where the run has them and the answers
    as given dashed beside them, the title saying which is which; each bin's marker sized by its questions
    (``BIN_AREA``), hollow under ``FEW_IN_BIN``, the legend giving the scale."""
    ax.plot([0, 1], [0, 1], ":", color="#888", label="perfect calibration")
    held = any("held_out" in m for m in result["modes"].values())
    given = answers_name(result)
    curves = []  # (mode, which answers, figures, marker, line)
    for mode, m in result["modes"].items():
        if "held_out" in m:
            curves.append((mode, " held out", m["held_out"], "o", "-"))
        curves.append((mode, f" {given}" if held else "", m, "s" if held else "o", "--" if held else "-"))
    counts = [b[2] for _, _, figures, _, _ in curves for b in figures["reliability"]]
    fullest = max(counts, default=1)
    for mode, name, figures, marker, line in curves:
        if bins := figures["reliability"]:
            x, y, n = [b[3] for b in bins], [b[4] for b in bins], [b[2] for b in bins]
            colour = colours[mode]
            named = f"{mode}{name} (ECE {figures['ece']:.3f})"
            ax.plot(x, y, line, marker=marker, markersize=3, color=colour, linewidth=1, label=named, clip_on=False)
            faces = [colour if count >= FEW_IN_BIN else "white" for count in n]
            areas = [BIN_AREA * count / fullest for count in n]
            # clip_on False: a bin of accuracy 0 or 1 shows its whole marker on the axis
            ax.scatter(x, y, s=areas, marker=marker, facecolors=faces, edgecolors=colour, zorder=3, clip_on=False)
    if counts:  # nothing answered: no bins to scale
        bin_scale(ax, fullest)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence", fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    which = f":\nheld out solid, {given} dashed" if held else weights_note(result)
    ax.set_title(f"reliability diagram{which}", fontsize=9)
    legend_beside(ax)


def bin_scale(ax, fullest: int) -> None:
    """The legend's key to the reliability markers: the fullest bin's size, and what a hollow one is."""
    grey = {"edgecolors": "#555", "marker": "o"}
    questions = "questions" if fullest > 1 else "question"
    ax.scatter([], [], s=BIN_AREA, facecolors="#555", label=f"bin of {fullest} {questions}", **grey)
    ax.scatter([], [], s=BIN_AREA / 4, facecolors="white", label=f"hollow: under {FEW_IN_BIN} questions", **grey)


def answers_name(result: dict[str, Any]) -> str:
    """What the answers a run gave are called beside held-out ones: in-sample where the weights were fitted on some of
    its questions, else the shipped weights'."""
    return "in-sample" if fitted_on(result) else "shipped weights"


def plot_groups(ax, result: dict[str, Any], colours: dict[str, str], label: str) -> None:
    """The by-chapter panel: each mode's bars in its colour with their 95% CIs (Wilson's for right/wrong scores), each
    group's chance dashed across them, each group's tick naming its n. Where the run has held-out answers per chapter
    (``held_out_answers``) each mode's held-out bar stands beside the hatched bar of the answers as given, as in the
    accuracy panel; the title says which."""
    groups, held = ordered_groups(result), set(held_out_modes(result))
    given = answers_name(result)
    columns = []  # (mode, its figures by group, legend label, hatched)
    for mode, m in result["modes"].items():
        if mode in held:
            columns += [(mode, m["held_out"]["by_group"], f"{mode} held out", False)]
        columns += [(mode, m["by_group"], f"{mode} {given}" if mode in held else mode, mode in held)]
    width = 0.8 / len(columns)
    x = np.arange(len(groups))
    for n, (mode, by_group, name, hatched) in enumerate(columns):
        values = [by_group.get(g, {}).get("accuracy", np.nan) for g in groups]  # none: no bar
        arms = np.array([error_arms(by_group.get(g, {})) for g in groups]).reshape(-1, 2).T  # (2, groups)
        bars = ax.bar(x + n * width, values, width, yerr=arms, capsize=2, color=colours[mode], label=name)
        if hatched:
            for bar in bars:
                bar.set(hatch="//", alpha=0.45)
        label_zeros(ax, bars, values, [value + arm for value, arm in zip(values, arms[1], strict=True)])
    chances = group_chances(result)
    levels = [(at, chances[g]["accuracy"]) for at, g in enumerate(groups) if g in chances]
    for number, (at, level) in enumerate(levels):  # a dashed line across each group's bars: its own chance
        span = [at - width / 2, at + 0.8 - width / 2]
        ax.plot(span, [level, level], "--", color="#c0392b", linewidth=1, label="_nolegend_" if number else "chance")
    sizes = {g: n for g, n, _ in group_rows(result)}
    ticks = [f"{tick_label(g)} (n={sizes[g]})" for g in groups]
    # rotation_mode anchor: each label's end under its bars, its lines aligned
    ax.set_xticks(
        x + width * (len(columns) - 1) / 2, ticks, rotation=45, ha="right", rotation_mode="anchor", fontsize=7
    )
    if groups:  # a mode without bars keeps its places too
        ax.set_xlim(-width / 2 - 0.1, len(groups) - 0.1 - width / 2)
    ax.set_ylim(0, 1)
    which = f": held out solid, {given} hatched" if held else weights_note(result)
    ax.set_title(f"{label} by chapter / group (95% CI){which}", fontsize=10)
    legend_beside(ax)
