"""Chance and no-rag beside every searching mode: their figures, and the marks of a mode below them."""

from __future__ import annotations

import math
from typing import Any

from pathatlas.agent.bench.items import Item


def chance_level(
    items: list[Item], answered: set[str], hit_chances: dict[str, float] | None = None
) -> dict[str, Any] | None:
    """The figures of answering and searching at random. ``n`` and ``accuracy``: the mean of 1/(number of options)
    over the answered questions with options (multiple-choice, yes/no), the baseline every mode's accuracy stands
    beside. ``evidence_recall@5`` and ``evidence_n`` (``hit_figures``): the mean ``hit_chance`` over the items
    ``hit_chances`` has (question id -> its chance, for those a searching mode answered). None without either: an open
    answer has no chance level."""
    shares = [1 / len(i.question.options) for i in items if i.kind != "open" and i.id in answered]
    level = {"n": len(shares), "accuracy": sum(shares) / len(shares)} if shares else {}
    drawn = hit_chances or {}
    return {**level, **hit_figures([drawn[i.id] for i in items if i.id in drawn])} or None


def chance_by_group(
    items: list[Item], answered: set[str], hit_chances: dict[str, float] | None = None
) -> dict[str, dict[str, Any]]:
    """Each group's ``chance_level`` (groups without either figure left out): a chapter of two-option questions has
    chance 0.5 beside another's 0.25, and LC25000's tiles an evidence hit@5 chance near 0.87 beside an atlas case's
    near 0, so each group's scores are read against their own."""
    groups = {group: [i for i in items if i.group == group] for group in dict.fromkeys(i.group for i in items)}
    return {g: level for g, members in groups.items() if (level := chance_level(members, answered, hit_chances))}


def hit_figures(hits: list[float]) -> dict[str, Any]:
    """``evidence_recall@5`` (the mean of ``hits``: each question's hit, 1 or 0, or its chance) and ``evidence_n``;
    nothing without hits."""
    return {"evidence_recall@5": sum(hits) / len(hits), "evidence_n": len(hits)} if hits else {}


def unfound_note(hit_chances: dict[str, float]) -> str | None:
    """The note of the questions whose evidence hit@5 could only be 0 (their ``hit_chance`` is 0: the index holds no
    record they may see of their gold page, case or diagnosis), beside others it can find (``check_gold_cases``
    refuses a file none of whose golds it holds); None where there are none."""
    if not (unfound := [i for i, chance in hit_chances.items() if chance == 0]):
        return None
    return (
        f"evidence hit@5 of {len(unfound)} of the {len(hit_chances)} questions with gold evidence could only be 0: no "
        "record they may see (their own image never is, nor with --exclude-case their case's) is of their gold page, "
        f"case or diagnosis (first {unfound[0]!r}); their chance is 0 too"
    )


def baseline_losses(
    scores: dict[str, float], no_rag: dict[str, float] | None, chances: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Baseline -> ``score`` (a searching mode's mean score) and ``baseline`` (the baseline's), for each baseline the
    mode scores below: no-rag over the questions both answered (``scores`` and ``no_rag``: question id -> score),
    chance (``chances``: question id -> 1/(number of options)) over the questions with options it answered. A search
    that costs answers, or does no better than a guess, is what the tables mark, as ``bench retrieval`` marks a default
    below a baseline."""
    below = {}
    for baseline, theirs in (("no-rag", no_rag or {}), ("chance", chances)):
        if not (common := [i for i in scores if i in theirs]):
            continue
        mine, level = (sum(figures[i] for i in common) / len(common) for figures in (scores, theirs))
        if mine < level and not math.isclose(mine, level):
            below[baseline] = {"score": mine, "baseline": level}
    return below


def mark_losses(summary: dict[str, dict[str, Any]], items: list[Item]) -> None:
    """Record on each searching mode's figures (the whole run's, each group's, the held-out answers') the baselines
    they score below (``baseline_losses``) as ``below_baselines``, where there are some."""
    chances = {i.id: 1 / len(i.question.options) for i in items if i.kind != "open"}
    group_of = {i.id: i.group for i in items}
    plain = summary.get("no-rag", {})
    for mode, m in summary.items():
        if mode == "no-rag":
            continue
        marked = [(m, m["correct"], plain.get("correct"))]
        marked += [
            (figures, group_scores(m["correct"], group_of, g), group_scores(plain.get("correct"), group_of, g))
            for g, figures in m["by_group"].items()
        ]
        if held := m.get("held_out"):
            marked.append((held, held["correct"], plain.get("held_out", {}).get("correct")))
        for figures, scores, no_rag in marked:
            if below := baseline_losses(scores, no_rag, chances):
                figures["below_baselines"] = below


def group_scores(scores: dict[str, float] | None, group_of: dict[str, str], group: str) -> dict[str, float] | None:
    """The scores (question id -> score) of one group's questions; None without scores."""
    return None if scores is None else {i: score for i, score in scores.items() if group_of[i] == group}
