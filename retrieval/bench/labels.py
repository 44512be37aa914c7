"""Figures asked for by their printed labels (``bench retrieval --labels``): each label a figure of the index prints
("Figure 6.3", as ``figure_labels.label_key`` reads it) typed in each of the ``FORMS`` users type, searched among the
figures (kind=figure), gold the figure records printing it. A label printed on several records (a figure in parts,
one printed twice) asks once, each of them gold: the rule puts all of them first.

Every method is a real search (``Searcher.search_many``): the default; its ablation, the same search with the label
rule off (``Searcher(labels_first=False)``: what the rule adds); and its baselines, BM25 alone (without the rule and
every-word-first, neither a part of it) and chance among the index's figures. Each form is a task of its own: three
spellings of one label are no independent queries, so pooled, their intervals and paired tests would claim thrice the
evidence there is. Nothing is tuned on these queries, so there are no folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.names import Methods, Named, Unquoted, evaluate, ranked_by
from pathatlas.retrieval.bench.pages import DEFAULT
from pathatlas.retrieval.figure_labels import label_key
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import RANKERS

RULE_OFF = "hybrid, label rule off"
BASELINES = ("bm25", "chance")
METRICS = ("recall@1", "recall@10", "mrr")
FIGURES = {"kind": "figure"}
FORMS: dict[str, Callable[[str], str]] = {
    "figure": lambda key: f"Figure {key}",
    "fig": lambda key: f"fig {key}",
    "fig_dash": lambda key: f"Fig. {key.replace('.', '-')}",
}
"""How users type a label whose ``label_key`` is "6.3": "Figure 6.3" as printed, "fig 6.3" in a hurry, "Fig. 6-3" as
some books print it; each form names its task (``label_to_figure:fig``)."""
TASK = "label_to_figure"
SHOWN_SHARED = 5
"""How many labels printed on several records a note names (an index of two books may share hundreds)."""


@dataclass(frozen=True)
class Printed:
    """One label as the index's figures print it (``label_key``: "6.3", "12.10a"), the figure records printing it and
    their pages."""

    key: str
    figures: frozenset[str]
    pages: tuple[int, ...]


def printed_labels(index: Index) -> tuple[list[Printed], int]:
    """Each label the index's figures print, in the order of its first figure's page; also how many figures the index
    holds, labelled or not: chance ranks them all."""
    found: dict[str, list[tuple[str, int]]] = {}
    figures = 0
    for record_id, stored in index.store.scan(FIGURES):
        figures += 1
        if key := label_key(stored.get("figure")):
            found.setdefault(key, []).append((record_id, stored.get("page") or 0))
    labels = [
        Printed(key, frozenset(rid for rid, _ in held), tuple(sorted({page for _, page in held})))
        for key, held in found.items()
    ]
    return sorted(labels, key=lambda label: (label.pages, label.key)), figures


def searches(index: Index) -> Methods:
    """Each method as a searcher and the rankers it uses: the default, the default with the label rule off, and BM25
    alone (without the rule or every-word-first)."""
    return {
        DEFAULT: (Unquoted(index), RANKERS),
        RULE_OFF: (Unquoted(index, labels_first=False), RANKERS),
        "bm25": (Unquoted(index, labels_first=False, all_words_first=False), ("bm25",)),
    }


def form_task(labels: list[Printed], figures: int, form: str, methods: Methods, runs: Path | None) -> dict[str, Any]:
    """One form's task: ``names.evaluate``'s figures of the figure records each method ranks, each query's row with
    its gold pages, and its notes."""
    texts = [FORMS[form](label.key) for label in labels]
    queries = [Named(text, label.figures, FIGURES) for text, label in zip(texts, labels, strict=True)]
    task = f"{TASK}:{form}"
    ranked, ties = ranked_by(methods, queries, attrgetter("id"), task)
    body = evaluate(queries, ranked, figures, METRICS, runs, task, ties, baselines=BASELINES, ablations=(RULE_OFF,))
    rows = [{**row, "gold_pages": list(label.pages)} for row, label in zip(body["per_question"], labels, strict=True)]
    return {
        **body,
        "per_question": rows,
        "form": texts[0],
        "filters": FIGURES,
        "notes": notes(labels, figures, texts[0]),
    }


def notes(labels: list[Printed], figures: int, example: str) -> list[str]:
    """What a form's table counts: the queries and their gold, the methods beside the default, and why no folds."""
    shared = [label for label in labels if len(label.figures) > 1]
    unlabelled = figures - sum(len(label.figures) for label in labels)
    said = [
        f"each of the {len(labels)} figure labels the index prints, typed as {example!r} (the forms asked, a task "
        f"each: {', '.join(repr(FORMS[form](labels[0].key)) for form in FORMS)}), searched among its {figures} "
        "figures (kind=figure)"
        + (f", {unlabelled} of which print no label (ranked, never asked for)" if unlabelled else ""),
        f"{RULE_OFF}: the same search with Searcher(labels_first=False); bm25: BM25 alone, without the label rule "
        "and every-word-first",
        "nothing is tuned on these queries (the rule has no weight to choose), so there are no folds",
    ]
    if shared:
        named = [f"{FORMS['figure'](label.key)} on p. {', '.join(map(str, label.pages))}" for label in shared]
        more = f"; {len(shared) - SHOWN_SHARED} more" if len(shared) > SHOWN_SHARED else ""
        said.append(
            f"labels printed on several figure records, each of them gold: {len(shared)}: "
            + "; ".join(named[:SHOWN_SHARED])
            + more
        )
    return said


def label_lookups(index: Index, runs: Path | None = None) -> dict[str, Any]:
    """A task per form of ``FORMS``, by name; refused in one line where no figure of the index prints a label.
    ``runs``: a folder for each task's TREC files."""
    labels, figures = printed_labels(index)
    if not labels:
        raise BadInputError(f"--labels: no figure of index {index.path} prints a label such as 'Figure 6.3'")
    methods = searches(index)
    return {f"{TASK}:{form}": form_task(labels, figures, form, methods, runs) for form in FORMS}
