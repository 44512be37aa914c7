"""Two ``bench qa`` runs over the same questions compared question by question (``compare-qa``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pathatlas.agent.bench.folds import SHIPPED, fitted_on
from pathatlas.errors import BadInputError
from pathatlas.retrieval.metrics import exact_mcnemar_p


def answered(run: dict[str, Any], mode: str) -> dict[str, dict[str, Any]]:
    """Question id -> the per-question record of ``mode`` in a ``bench qa`` result, for questions it answered."""
    return {i["id"]: i for i in run["items"] if i.get("mode") == mode and "score" in i}


def settled_split(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How many answers were settled and unsettled, and their mean scores; None for a run that did not record it."""
    if any("settled" not in r for r in records):
        return None
    out: dict[str, Any] = {}
    for name, flag in (("settled", True), ("unsettled", False)):
        scores = [r["score"] for r in records if bool(r["settled"]) == flag]
        out[name] = {"n": len(scores), "accuracy": sum(scores) / len(scores) if scores else None}
    return out


def compare_qa_runs(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Two ``bench qa`` results over the same questions, per mode both ran: mean score before and after, questions
    gained and lost, exact McNemar p, how many answers changed, and each run's settled / unsettled split.

    The paired answers are the held-out ones (offline weights refit per chapter fold) when both runs have them for
    the mode, else every answer, with a ``warning`` (``folds_warning``) where one run has them; only questions both
    runs answered are paired (``unpaired`` counts the others). For open questions (token recall) gained and lost count
    scores that rose and fell. ``changed`` counts the paired answers given otherwise (another option, by the file's
    letters, or another text), right or wrong alike, which is what ``--shuffle-options`` moves: held-out answers for a
    held-out row, None where a run did not record them. The settled split is over the questions both runs answered,
    each answer as the run gave it (held-out answers record no settled flag)."""
    out: dict[str, dict[str, Any]] = {}
    for mode in [m for m in before["modes"] if m in after["modes"]]:
        first, second = answered(before, mode), answered(after, mode)
        held = "held_out" in before["modes"][mode] and "held_out" in after["modes"][mode]
        if held:
            a, b = before["modes"][mode]["held_out"]["correct"], after["modes"][mode]["held_out"]["correct"]
        else:
            a = {i: r["score"] for i, r in first.items()}
            b = {i: r["score"] for i, r in second.items()}
        ids = [i for i in a if i in b]
        gained, lost = sum(b[i] > a[i] for i in ids), sum(b[i] < a[i] for i in ids)
        both = [i for i in first if i in second]
        out[mode] = {
            "answers": "held out" if held else "all",
            "n": len(ids),
            "unpaired": len(set(a) ^ set(b)),
            "before": sum(a[i] for i in ids) / len(ids) if ids else None,
            "after": sum(b[i] for i in ids) / len(ids) if ids else None,
            "gained": gained,
            "lost": lost,
            "p": exact_mcnemar_p(gained, lost),
            "changed": changed_answers(before, after, mode, ids if held else None),
            "settled": {
                "answers": "shipped weights",
                "n": len(both),
                "before": settled_split([first[i] for i in both]),
                "after": settled_split([second[i] for i in both]),
            },
            **({"warning": warning} if (warning := folds_warning(before, after, [mode])) else {}),
        }
    return out


def changed_answers(
    before: dict[str, Any], after: dict[str, Any], mode: str, held_out: list[str] | None = None
) -> int | None:
    """How many of a mode's answers two runs gave otherwise: of the ``held_out`` questions (ids) their held-out answers
    (None where a run recorded none: it was written before they were), else of every question both answered the
    answers each run gave."""
    if held_out is None:
        first, second = answered(before, mode), answered(after, mode)
        return sum(first[i].get("answer") != second[i].get("answer") for i in first if i in second)
    answers = [run["modes"][mode]["held_out"].get("answer") for run in (before, after)]
    if None in answers:
        return None
    return sum(answers[0].get(i) != answers[1].get(i) for i in held_out)


def folds_warning(before: dict[str, Any], after: dict[str, Any], modes: Iterable[str] | None = None) -> str | None:
    """The warning, in one line, of shared modes (of ``modes``, else all) that only one run held answers out for
    (``--folds``): compare-qa pairs every answer there, the weights each run answered with, not the held-out ones."""
    shared = [m for m in (modes or before["modes"]) if m in before["modes"] and m in after["modes"]]
    sides = {m: ["held_out" in run["modes"][m] for run in (before, after)] for m in shared}
    lopsided = [m for m, held in sides.items() if held[0] != held[1]]
    if not lopsided:
        return None
    named = ", ".join(f"{m} (the run {'before' if sides[m][0] else 'after'})" for m in lopsided)
    return (
        f"only one run has held-out answers (--folds) for {named}: every answer is paired instead, each run's with "
        "the weights it answered with; run both with --folds to pair held-out answers"
    )


def settled_note(before: dict[str, Any], after: dict[str, Any], held_out: bool) -> str:
    """``compare-qa``'s caption of its settled split: each run's own answers, which are the shipped weights' where the
    answers paired are held out (in-sample only when both runs asked the questions they were fitted on)."""
    note = "settled / unsettled: n (accuracy) of the questions both runs answered, each run's answers as it gave them"
    if not held_out:
        return note
    return f"{note}, with the {SHIPPED}" + (", in-sample" if fitted_on(before) and fitted_on(after) else "")


def unshared_modes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Mode -> "before" or "after": the modes only one run ran, which ``compare_qa_runs`` cannot pair."""
    return {
        **{mode: "before" for mode in before["modes"] if mode not in after["modes"]},
        **{mode: "after" for mode in after["modes"] if mode not in before["modes"]},
    }


def question_golds(run: dict[str, Any]) -> dict[str, str]:
    """Question id -> the gold answer a ``bench qa`` result scored it against (answered questions only)."""
    return {r["id"]: r["gold"] for r in run["items"] if "gold" in r}


def check_same_questions(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """Refuse, in one line, two ``bench qa`` results that asked different questions: no question id in common, a
    shared id scored against another gold answer, or one run ``--open`` and the other not (gained and lost would
    compare unrelated answers). A warning (returned, one line, as compare-qa says it on stderr) when their question
    files differ but ids and golds agree, or when only one of them held answers out (``folds_warning``)."""
    if not {r["id"] for r in before["items"]} & {r["id"] for r in after["items"]}:
        raise BadInputError("these runs asked different questions: they share no question id")
    runs = before.get("run") or {}, after.get("run") or {}
    opened = [r.get("open") for r in runs]
    if None not in opened and opened[0] != opened[1]:
        which = "before" if opened[0] else "after"
        raise BadInputError(f"these runs asked different questions: only the run {which} asked them --open")
    golds, theirs = question_golds(before), question_golds(after)
    if differ := [i for i in golds if i in theirs and golds[i] != theirs[i]]:
        first = differ[0]
        raise BadInputError(
            f"these runs asked different questions: {len(differ)} shared ids have another gold answer (first "
            f"{first!r}: {golds[first]!r} before, {theirs[first]!r} after)"
        )
    hashes = [r.get("questions_sha256") for r in runs]
    files = "the two runs' question files differ (sha256), but their shared ids have the same gold answers"
    warnings = [files if None not in hashes and hashes[0] != hashes[1] else None, folds_warning(before, after)]
    return "; ".join(w for w in warnings if w) or None
