"""One question's outcome in one mode, as its record says it, and the pure summary of a mode's outcomes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from pathatlas.agent.bench.baselines import hit_figures
from pathatlas.agent.bench.items import Item, as_filed
from pathatlas.agent.bench.scores import KIND_METRIC, recorded_answer
from pathatlas.agent.bench.stats import paired
from pathatlas.agent.questions import Answer
from pathatlas.agent.tune import OpenRow, Row, expected_calibration_error
from pathatlas.agent.writing import NAMING, evidence_naming
from pathatlas.retrieval.metrics import mean_interval, percentile_ms


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One question answered in one mode: the answer, its score and what was checked of its evidence and quotes
    (None where nothing was: no-rag searches nothing), each figure of the mode's summary counted from these."""

    item: Item
    mode: str
    answer: Answer
    seconds: float
    score: float
    negated: bool
    """As the answerer read the question with its evidence (``read_with_evidence``): "least common" may be a rank."""
    hit: bool | None
    """Evidence hit@5 (``evidence_hit``)."""
    verbatim: bool | None
    """The chosen option's quote found on its cited page (``quoted_verbatim``; text multiple-choice questions)."""
    on_gold: bool | None
    """The first citation on a gold page (``quotes_gold_page``; open questions)."""
    own_case: int | None
    """Evidence items of the question's own case (``own_case_evidence``)."""
    row: Row | None = None
    """The question's row for refitting the option weights per fold, where they are (``plan_refit``)."""
    open_row: OpenRow | None = None
    """The question's row for refitting the open-answer confidence map per fold, where it is."""

    def record(self) -> dict[str, Any]:
        """The question's record among a result's ``items``: its answer and gold by the file's letters."""
        item, answer = self.item, self.answer
        return {
            "id": item.id,
            "mode": self.mode,
            "kind": item.kind,
            "group": item.group,
            "answer": recorded_answer(item, answer),
            "gold": as_filed(item, item.gold_answer),
            "score": self.score,
            "confidence": round(answer.confidence, 4),
            "settled": answer.settled,
            "evidence_names": evidence_naming(answer),
            "negated": self.negated,
            "cited": answer.cited,
            "evidence_hit@5": self.hit,
            "own_case_evidence": self.own_case,
            "quotes_gold_page": self.on_gold,
            "seconds": round(self.seconds, 3),
        }


def grouped(pairs: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Key -> its values, keys in the order first given (a question file's order of chapters)."""
    groups: dict[str, list[Any]] = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return groups


def mode_summary(mode: str, outcomes: list[Outcome], failed: int, parse_failures: int | None) -> dict[str, Any]:
    """A mode's figures over the questions it answered (``outcomes``), beside its ``failed`` questions (rows that
    failed to load among them) and the answerer's unusable replies (None where it has no such count): accuracy with
    its 95% CI, per kind and group, on negated questions, calibration, evidence hit@5, latency and quoting. Figures
    of nothing answered are None."""
    scores = [o.score for o in outcomes]
    hits = [o.hit for o in outcomes if o.hit is not None]
    seconds = [o.seconds for o in outcomes]
    negated = [o.score for o in outcomes if o.negated and o.item.kind == "mcq"]
    verbatim = [o.verbatim for o in outcomes if o.verbatim is not None]
    gold_quoted = [o.on_gold for o in outcomes if o.on_gold is not None]
    group_hits = grouped((o.item.group, o.hit) for o in outcomes if o.hit is not None)
    ece, bins = expected_calibration_error([o.answer.confidence for o in outcomes], scores)
    no_cite = sum(not o.answer.cited for o in outcomes)
    return {
        "accuracy": sum(scores) / len(scores) if scores else None,
        "ci95": list(mean_interval(scores)) if scores else None,
        "answered": len(scores),
        "by_kind": kind_figures(outcomes),
        "negated": {"n": len(negated), "accuracy": sum(negated) / len(negated) if negated else None},
        "ece": ece if scores else None,
        "reliability": bins,
        "evidence_recall@5": sum(hits) / len(hits) if hits else None,
        "evidence_n": len(hits),
        "p50_s": percentile_ms(seconds, 50) / 1000 if seconds else None,
        "p95_s": percentile_ms(seconds, 95) / 1000 if seconds else None,
        "failed": failed,
        "parse_failures": parse_failures,
        "no_citation_rate": no_cite / len(scores) if scores and mode != "no-rag" else None,
        "verbatim_quote_rate": sum(verbatim) / len(verbatim) if verbatim else None,
        "gold_page_quoted": sum(gold_quoted) / len(gold_quoted) if gold_quoted else None,
        "by_group": {
            g: group_figures(v) | hit_figures(group_hits.get(g, []))
            for g, v in grouped((o.item.group, o.score) for o in outcomes).items()
        },
        "by_naming": naming_split([o.record() for o in outcomes]),
        "correct": {o.item.id: o.score for o in outcomes},
    }


def group_figures(scores: list[float]) -> dict[str, Any]:
    """A group's n, mean score and its 95% CI (``mean_interval``: Wilson's for right/wrong scores), which the plot
    draws as the group's error bar: 2 of 3 right is no 0.67 to read as 0.67 of 30."""
    return {"n": len(scores), "accuracy": sum(scores) / len(scores), "ci95": list(mean_interval(scores))}


def kind_figures(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Per question kind: n, what its score is (``KIND_METRIC``), the mean score and its 95% CI."""
    return {
        kind: {"n": len(v), "metric": KIND_METRIC[kind], "score": sum(v) / len(v), "ci95": list(mean_interval(v))}
        for kind, v in sorted(grouped((o.item.kind, o.score) for o in outcomes).items())
    }


PAIRED_WITH = ("no-rag", "rag")
"""The modes every other mode is paired with where they ran (``versus_baselines``): no-rag, what retrieval adds to
the answerer alone; rag, what the agentic loop adds to one search."""


def paired_key(baseline: str) -> str:
    """The key of a mode's paired difference from ``baseline`` in its figures: ``vs_no_rag``, ``vs_rag``."""
    return "vs_" + baseline.replace("-", "_")


def versus_baselines(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each mode's figures (``mode_summary``) with its paired difference (``paired``) from each mode of
    ``PAIRED_WITH`` that ran, but itself (``paired_key``), over every answer and over the held-out ones where both
    have them; none where the two share no question. With ``--modes no-rag,agentic`` agentic was paired with
    nothing, rag having not run."""
    out = {}
    for mode, m in summary.items():
        for baseline in [b for b in PAIRED_WITH if b in summary and b != mode]:
            m = with_paired(m, summary[baseline], paired_key(baseline))
        out[mode] = m
    return out


def with_paired(m: dict[str, Any], theirs: dict[str, Any], key: str) -> dict[str, Any]:
    """One mode's figures with its paired difference from ``theirs`` under ``key`` (``versus_baselines``)."""
    vs = paired(m["correct"], theirs["correct"])
    held = m.get("held_out")
    held_vs = paired(held["correct"], theirs["held_out"]["correct"]) if held and "held_out" in theirs else None
    return {
        **m,
        **({"held_out": {**held, key: held_vs}} if held_vs else {}),
        **({key: vs} if vs else {}),
    }


def naming_split(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per ``NAMING`` slice: how many answers, their mean score and mean confidence; an answerer sure of a choice no
    sentence names claims more than its evidence gives."""
    out: dict[str, Any] = {}
    for name in NAMING:
        rows = [r for r in records if r.get("evidence_names") == name]
        if rows:
            n = len(rows)
            out[name] = {
                "n": n,
                "accuracy": sum(r["score"] for r in rows) / n,
                "confidence": sum(r["confidence"] for r in rows) / n,
            }
    return out


LATENCY = (
    "p50/p95 s: wall seconds per question (searches and answer), each mode timed after one untimed question and from "
    "an empty sentence-vector cache"
)

UNMEASURED = "-"
"""A table's cell for a figure of a mode that answered no question: no figure, where 0.000 read as a measured zero."""


def nothing_answered(mode: str, per_item: list[dict[str, Any]]) -> str:
    """The note of a mode every question failed in (``per_item``: the run's records so far), saying why it has no
    figures: an accuracy of 0.0 and a latency of 0.00 s read as measured (an LLM server that is down would score
    0.000)."""
    failed = [r for r in per_item if "failed" in r and r.get("mode") in (mode, None)]
    first = failed[0]  # a row that failed to load, or the first question this mode failed
    return (
        f"{mode}: no figures: none of its questions was answered ({len(failed)} failed; the first, row "
        f"{first['row']} ({first['id']}): {first['failed']}); null in the JSON, {UNMEASURED} in the tables, "
        "nothing plotted"
    )


OFFLINE_YES_NO = (
    'The offline answerer cannot read yes/no from evidence (it scores yes and no alike, and a tie goes to "no"), so '
    'its yes/no figures are the share of questions whose answer is "no".'
)
