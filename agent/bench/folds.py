"""The offline answerer refit per chapter fold for held-out figures, and which figures are in-sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.items import Item, as_filed
from pathatlas.agent.bench.outcomes import group_figures
from pathatlas.agent.questions import LETTERS
from pathatlas.agent.tune import FITTED_ON, OpenRow, Row, cross_validate, cross_validate_open
from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.common import chapter_folds, check_folds
from pathatlas.retrieval.metrics import mean_interval

REFITS = {"mcq": "the text multiple-choice questions", "open": "the open questions"}
"""What per-fold refitting fits, by question kind: the option weights, the open-answer confidence map."""

REFITTED = {"mcq": "option weights", "open": "open-answer confidence map"}


def check_refit(answerer: type[Answerer], folds: int) -> None:
    """Refuse ``folds`` for an answerer with nothing to refit: only the offline answerer has weights and an
    open-answer confidence map (an LLM has no offline knobs; the folds would report nothing)."""
    if folds and not issubclass(answerer, OfflineAnswerer):
        raise BadInputError(
            f"--folds refits the offline answerer's option weights and open-answer confidence map; answerer "
            f"{getattr(answerer, 'name', answerer.__name__)!r} has neither"
        )


def one_chapter(mode: str, kind: str, groups: list[str]) -> str | None:
    """Why a kind's refit per fold is left out, in one line, when the questions it would fit on span one chapter
    (a fold would be fitted on none): those answered may be fewer than those asked (failed ones; open questions
    without a quoted sentence)."""
    if len(set(groups)) > 1:
        return None
    return (
        f"{mode}: {REFITTED[kind]} not refit per fold: {REFITS[kind]} it answered ({len(groups)}) span one chapter "
        f"({groups[0]!r}); folds need two"
    )


KIND_NAMES = {"mcq": "multiple-choice", "open": "open"}
"""A question kind as a note names it, image and text questions alike."""


def plan_refit(items: list[Item], folds: int) -> tuple[set[str], list[str]]:
    """The kinds (``REFITS``) to refit per chapter fold, and a note, in one line, for each kind asked whose text
    questions span fewer than two chapters: it is answered with the shipped weights, not refit (a fold would be fitted
    on nothing; image questions carry no chapter). Refused in one line when a kind's chapters are fewer than
    ``folds``: a fold would be missing. Nothing to plan without folds."""
    if folds < 2:
        return set(), []
    kinds, notes = set(), []
    for kind, what in REFITS.items():
        asked = [i for i in items if i.kind == kind]
        groups = [i.group for i in asked if i.question.image is None]
        if len(set(groups)) > 1:
            check_folds(groups, folds, what)
            kinds.add(kind)
        elif groups:
            notes.append(
                f"{REFITTED[kind]} not refit per fold: {what} ({len(groups)}) span one chapter ({groups[0]!r}); "
                "folds need two"
            )
        elif asked:
            notes.append(
                f"{REFITTED[kind]} not refit per fold: the {len(asked)} {KIND_NAMES[kind]} questions are image "
                "questions, which carry no chapter; folds hold out chapters of text questions"
            )
    return kinds, notes


def held_out_answers(
    rows: list[Row], fold_of: list[int], items: list[Item], correct: dict[str, float], chosen: dict[str, int]
) -> dict:
    """What a mode's held-out figures record per question beside ``correct``: ``answer`` (the option ``chosen``, as
    ``tune.cross_validate`` gives it, by the file's letters as every answer is recorded), ``fold`` (the chapter fold it
    was held out in, numbered from 1), and ``by_group`` (per chapter: n, held-out accuracy with its 95% CI, and its
    fold), the held-out table beside the in-sample ``by_group``."""
    asked = {item.id: item for item in items}
    fold = {row.id: f + 1 for row, f in zip(rows, fold_of, strict=True)}
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row.id)
    return {
        "answer": {i: as_filed(asked[i], LETTERS[c]) for i, c in chosen.items()},
        "fold": fold,
        "by_group": {g: group_figures([correct[i] for i in ids]) | {"fold": fold[ids[0]]} for g, ids in groups.items()},
    }


def held_out_figures(
    mode: str, rows: list[Row], open_rows: list[OpenRow], items: list[Item], folds: int
) -> tuple[dict[str, Any], list[str]]:
    """A mode's held-out figures, each where it answered questions to refit on (``rows`` and ``open_rows``):
    ``held_out``, its option weights refit per chapter fold (``tune.cross_validate``, with its 95% CI and
    ``held_out_answers``), and ``held_out_open``, its open-answer confidence map refit per fold, each with its folds'
    ``chapters`` (``chapters_by_fold``); a note (``one_chapter``) instead of either where its questions span one
    chapter."""
    figures, notes = {}, []
    for key, kind, fitted, check in (
        ("held_out", "mcq", rows, cross_validate),
        ("held_out_open", "open", open_rows, cross_validate_open),
    ):
        if not fitted:
            continue
        groups = [r.group for r in fitted]
        if unfit := one_chapter(mode, kind, groups):
            notes.append(unfit)
        else:
            fold_of = chapter_folds(groups, folds)
            figures[key] = check(fitted, fold_of) | {"chapters": chapters_by_fold(groups, fold_of)}
    if held := figures.get("held_out"):
        held["ci95"] = list(mean_interval(list(held["correct"].values())))
        fold_of, chosen = chapter_folds([r.group for r in rows], folds), held.pop("chosen")
        held |= held_out_answers(rows, fold_of, items, held["correct"], chosen)
    return figures, notes


def chapters_by_fold(groups: list[str], fold_of: list[int]) -> list[list[str]]:
    """Each fold's chapters, fold by fold (``chapter_folds``), as ``bench retrieval --folds`` lists its folds' (JSON
    ``folds[i].chapters``): a reader sees the two benches held out the same chapters together."""
    return [sorted({g for g, f in zip(groups, fold_of, strict=True) if f == fold}) for fold in sorted(set(fold_of))]


DEV_QUESTIONS = "mcq_dev.jsonl"
"""The name of the file of questions the offline answerer's shipped weights were fitted on: how ``fitted_on`` judges
a result written before runs counted those questions by their words."""

SHIPPED = "shipped weights (fitted on the A&P dev questions)"


def fitted_questions(items: list[Item], answerer: Answerer) -> int:
    """How many of the items the answerer's weights were fitted on: for the offline answerer, those whose words are
    among its shipped weights' fitting questions (``tune.FITTED_ON``), whatever their file is called; an LLM has no
    such weights."""
    return sum(item.fingerprint in FITTED_ON for item in items) if isinstance(answerer, OfflineAnswerer) else 0


def fold_chapters(items: list[Item]) -> int:
    """The most chapter folds ``--folds`` takes over the items (``plan_refit``): the fewest chapters a refit kind's text
    questions span where they span two or more; else the most any spans (below two: none can be held out)."""
    spans = [len({i.group for i in items if i.kind == kind and i.question.image is None}) for kind in REFITS]
    return min((n for n in spans if n > 1), default=max(spans))


def in_sample_note(fitted: int, answered: int, asked: int, held: set[str], chapters: int) -> str:
    """The note of a run over questions the shipped weights were fitted on (``fitted`` of the ``answered``, of those
    ``asked``: Ctrl-C may stop a run early): its figures of them flatter the answerer. It names the held-out figures
    the run shows (``held``: ``held_out``, rows of the table; ``held_out_open``, the open-answer confidence map's ECE,
    which no row shows) as those to quote; without them it names the ``--folds`` the questions' ``chapters`` allow, or
    says none can be held out (a suggestion that ``check_folds`` would refuse would send users in a circle)."""
    these = f"these {asked} questions" if answered == asked else f"the {answered} questions answered (of {asked})"
    said = (
        f"in-sample: the offline answerer's shipped weights were fitted on {fitted} of {these} (the A&P dev "
        "questions), so its figures over them are in-sample"
    )
    refit = "the weights refit on the other chapters for each fold of chapters"
    quoted = [f"the held-out rows ({refit}) are the figures to quote"] if "held_out" in held else []
    if "held_out_open" in held:
        quoted.append(
            "the open-answer confidence map's held-out ECE (the map refit on the other chapters for each fold of "
            "chapters; the line after the tables, report.md's 'Open-answer confidence refit per fold', JSON "
            "held_out_open) is the ECE to quote" + ("" if quoted else "; the table's rows are all in-sample")
        )
    if quoted:
        return f"{said}; " + "; ".join(quoted)
    if chapters < 2:
        return f"{said}; no figures can be held out: these questions span {chapters} chapter(s), and folds need two"
    return (
        f"{said}; for held-out figures run with --folds {min(chapters, 5)} (at most {chapters}, the chapters these "
        f"questions span: {refit})"
    )


def fitted_on(result: dict[str, Any]) -> int:
    """How many of a ``bench qa`` result's questions the shipped weights were fitted on (``fitted_questions``, as its
    run recorded); a result written before runs recorded it counts all its questions when its question file has the
    dev questions' name (``DEV_QUESTIONS``), none otherwise."""
    if "fitted_on" in result:
        return int(result["fitted_on"])
    named = Path(str((result.get("run") or {}).get("questions") or "")).name == DEV_QUESTIONS
    return len({r["id"] for r in result["items"]}) if named else 0
