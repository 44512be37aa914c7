"""Short searches, as users type them into a search box (``bench retrieval --names``), with queries and gold taken from
the index itself:

- diagnosis_to_cases: each distinct case diagnosis (and "organ diagnosis" where the organ is not among the diagnosis'
  words), filtered to cases, to the case records of that diagnosis (and organ);
- section_to_pages: each distinct bookmark section (its path as the index holds it, "Chapter 10: Muscle Tissue > 10.8
  Smooth Muscle") of 1 to ``TITLE_WORDS`` content words to the pages under it.

Every method is a real search (``Searcher.search_many``): the default; its ablation, the default with every-word-first
off (``Settings.all_words_first`` 0: what the knob adds, a task's ``ablations``); and its ``baselines``, BM25 alone and
dense alone (both without the knob, which is no part of either ranker) and chance. A method's tied scores (LC25000's
tiles of a class share one text, which BM25 and dense alike score as one) count at their expected value over the
tie's orders, not the record ids' (``whole_ties``). MCQ questions (``--mcq``) are too long to meet the knob; most
diagnoses meet it, few bookmark paths (they hold their chapter's title too).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.common import (
    CURVE_K,
    SIGNIFICANCE_METRICS,
    chance,
    compare_runs,
    first_ranks,
    holding_ties,
    tied_figures,
    ties_record,
)
from pathatlas.retrieval.bench.pages import BASELINES, DEFAULT, index_pages
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.fusion import diagnosis_key, page_key
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import tie_runs
from pathatlas.retrieval.progress import batched
from pathatlas.retrieval.records import Hit, Payload
from pathatlas.retrieval.search import RANKERS, Query, Searcher
from pathatlas.retrieval.terms import content_terms, tokenize

KNOB_OFF = "hybrid, every word first off"
TITLE_WORDS = 6
"""Longest section asked, in content words: a longer one is no short search."""
MRR_DEPTH = 10
SEARCH_BATCH = 32
"""Queries searched in one ``search_many`` call, as far as the progress bar moves at a time: a text query is encoded
alone whatever its batch, so batches change no hit."""
CASES = {"kind": "case"}
Methods = dict[str, tuple[Searcher, tuple[str, ...]]]
"""Each method a table shows, by name: the searcher that runs it and the rankers it uses."""


@dataclass(frozen=True)
class Named:
    """One short query: its text, the filters it is searched with, and the items that answer it (case record ids, or
    pages as ``page_key``)."""

    text: str
    gold: frozenset[Hashable]
    filters: dict[str, str]


def organs(payload: Payload) -> list[str]:
    """A case's organs (stored as one or a list), casefolded as the organ filter compares them."""
    listed = payload.organ if isinstance(payload.organ, list) else [payload.organ]
    return [organ.casefold() for organ in listed if organ]


def of_diagnosis(key: str, organ: str | None = None) -> Callable[[Payload], bool]:
    """Is a case of this diagnosis (``diagnosis_key``), and of ``organ`` where one is given?"""
    return lambda case: diagnosis_key(case.diagnosis) == key and (organ is None or organ in organs(case))


def diagnosis_queries(index: Index) -> tuple[list[Named], int]:
    """Each diagnosis of the index's cases, and each "organ diagnosis" whose organ is not among the diagnosis' own
    words ("spleen angiosarcoma"), spelt as the first case spells it; queries that read alike (``diagnosis_key``) are
    asked once. Also the number of cases, among which they are searched."""
    cases = {rid: Payload.from_payload(stored) for rid, stored in index.store.scan(CASES)}
    asked: dict[str, tuple[str, Callable[[Payload], bool]]] = {}
    for case in cases.values():
        if not case.diagnosis or not content_terms(case.diagnosis):
            continue
        key = diagnosis_key(case.diagnosis)
        asked.setdefault(key, (case.diagnosis, of_diagnosis(key)))
        stems = set(tokenize([case.diagnosis])[0])
        for organ in organs(case):
            if not set(content_terms(organ)) <= stems:
                text = f"{organ} {case.diagnosis}"
                asked.setdefault(diagnosis_key(text), (text, of_diagnosis(key, organ)))
    queries = [
        Named(text, frozenset(rid for rid, case in cases.items() if relevant(case)), CASES)
        for text, relevant in asked.values()
    ]
    return sorted(queries, key=lambda query: query.text), len(cases)


def section_queries(index: Index) -> tuple[list[Named], int]:
    """Each bookmark section of 1 to ``TITLE_WORDS`` content words, as the index holds it, with the pages under it;
    also the number of pages, among which they are searched."""
    pages: dict[str, set[Hashable]] = {}
    for _, stored in index.store.scan():
        payload = Payload.from_payload(stored)
        if payload.section and (key := page_key(payload)):
            pages.setdefault(payload.section, set()).add(key)
    queries = [
        Named(section, frozenset(keys), {})
        for section, keys in sorted(pages.items())
        if 1 <= len(content_terms(section)) <= TITLE_WORDS
    ]
    return queries, len(index_pages(index))


class Unquoted(Searcher):
    """Search as users get it, less each hit's snippet: marking the query's words in them takes most of a run's time
    (85% on the A&P book), and no figure reads them."""

    def make_hit(self, record_id: str, score: float, ranks: dict[str, int], payload: Payload, text: str | None) -> Hit:
        return super().make_hit(record_id, score, ranks, payload, None)


def searches(index: Index) -> Methods:
    """Each method as a searcher and the rankers it uses: the default, then, without every-word-first, the default,
    BM25 alone and dense alone."""
    off = Unquoted(index, all_words_first=False)
    return {
        DEFAULT: (Unquoted(index), RANKERS),
        KNOB_OFF: (off, RANKERS),
        "bm25": (off, ("bm25",)),
        "dense": (off, ("dense",)),
    }


def found(hit: Hit) -> Hashable:
    """What a hit answers with: its page (a page, passage or figure hit), else its record (a case)."""
    return page_key(hit.payload) or hit.id


def ranked_by(
    methods: Methods, queries: list[Named], item: Callable[[Hit], Hashable], task: str = "search"
) -> tuple[dict[str, list[list[Hashable]]], dict[str, list[list[int]]]]:
    """Every method's top ``CURVE_K`` items per query (``item`` of each hit: what its gold is made of), as search
    returns them (deep enough for the curve), through the tie at the cut, and the runs of tied scores (``whole_ties``)
    of the methods that tie (``holding_ties``), by method: records of one text (LC25000's tiles of a class) get one
    BM25 score and one dense score. Each method's searches draw a progress bar named by ``task`` and the method."""
    out, ties = {}, {}
    for name, (searcher, use) in methods.items():
        asked = [Query(text=q.text, k=CURVE_K, filters=dict(q.filters), use=use) for q in queries]
        hits, ties[name] = whole_ties(searcher, asked, desc=f"{task}: {name}")
        out[name] = [[item(hit) for hit in listed] for listed in hits]
    return out, holding_ties(ties)


def whole_ties(
    searcher: Searcher,
    asked: list[Query],
    keep: Callable[[int, list[Hit]], list[Hit]] = lambda _, hits: hits,
    desc: str = "search",
) -> tuple[list[list[Hit]], list[list[int]]]:
    """Each query's hits (those ``keep`` keeps of the n-th query's) through the whole run of tied scores at rank
    ``CURVE_K``, and the lengths of its runs of tied scores (``tie_runs``): a tie ranked by record id alone is scored
    at its expected value over every order (``tied_figures``). A query whose run at the cut may go on is searched
    again twice as deep until it ends or every match is found, at most as deep as the index: a search for every record
    would take 16-59 s where the first searches take 2 s (269 of 350 queries on the cases index). The first searches
    draw a progress bar named ``desc`` (``batched``): 716 labels in three forms and three methods were searched for
    minutes without a sign."""
    first = batched(searcher.search_many, asked, SEARCH_BATCH, desc=desc, unit="query", leave=False)
    found = [keep(n, hits) for n, hits in enumerate(first)]
    depth = [query.k for query in asked]
    more = [len(hits) >= query.k for hits, query in zip(first, asked, strict=True)]  # fewer: every match found
    every = len(searcher.index.lexical)
    while open_ended := [
        n for n, hits in enumerate(found) if more[n] and runs_on(hits) and depth[n] < asked[n].k + every
    ]:
        for n in open_ended:
            depth[n] = min(2 * depth[n], asked[n].k + every)
        deeper = searcher.search_many([replace(asked[n], k=depth[n]) for n in open_ended])
        for n, hits in zip(open_ended, deeper, strict=True):
            found[n], more[n] = keep(n, hits), len(hits) >= depth[n]
    ranked = [through_cut(hits) for hits in found]
    return ranked, [tie_runs([hit.score for hit in hits]) for hits in ranked]


def runs_on(hits: list[Hit]) -> bool:
    """Whether the run of tied scores at rank ``CURVE_K`` may go on past the last hit found."""
    return len(hits) >= CURVE_K and hits[-1].score == hits[CURVE_K - 1].score


def through_cut(hits: list[Hit]) -> list[Hit]:
    """The first ``CURVE_K`` hits and those tied with the last of them: the whole run the cut falls in."""
    end = CURVE_K
    while end < len(hits) and hits[end].score == hits[CURVE_K - 1].score:
        end += 1
    return hits[:end]


def evaluate(
    queries: list[Named],
    ranked: dict[str, list[list[Hashable]]],
    candidates: int,
    metrics: tuple[str, ...],
    runs: Path | None = None,
    name: str = "",
    ties: dict[str, list[list[int]]] | None = None,
    baselines: tuple[str, ...] = BASELINES,
    ablations: tuple[str, ...] = (KNOB_OFF,),
) -> dict[str, Any]:
    """One task's figures as every task gives them (``tied_figures``, ``chance``, ``compare_runs`` over the top
    ``MRR_DEPTH``), with each query's first right rank per method: ``metrics`` are those its table shows and tests,
    ``candidates`` how many items chance ranks. ``ties``: a method's runs of tied scores by name
    (``whole_ties``), each counted at its expected value over its orders. ``runs``: a folder for its TREC files,
    named by ``name``. ``baselines`` and ``ablations``: the methods beside the default, as its table labels them
    (chance is always computed)."""
    ties = ties or {}
    ids, gold = [q.text for q in queries], [set(q.gold) for q in queries]
    first = {method: first_ranks(lists, gold, ties.get(method)) for method, lists in ranked.items()}
    methods = {
        method: tied_figures(lists, gold, ties.get(method), MRR_DEPTH, precision_at=(10,))
        for method, lists in ranked.items()
    }
    counts = [len(g) for g in gold]
    methods["chance"] = chance(candidates, counts, mrr_depth=MRR_DEPTH, precision_at=(10,))
    body = {
        "n": len(queries),
        "split": "all",
        **({"mrr_depth": MRR_DEPTH} if "mrr" in metrics else {}),
        "methods": {method: reported_figures(figures, metrics) for method, figures in methods.items()},
        "default": DEFAULT,
        "baselines": list(baselines),
        "ablations": list(ablations),
        "significance": compare_runs(ids, gold, ranked, DEFAULT, metrics=metrics, ties=ties, depth=MRR_DEPTH),
        "per_question": [
            {"id": text, "relevant": counts[i], "first_relevant_rank": {m: ranks[i] for m, ranks in first.items()}}
            for i, text in enumerate(ids)
        ],
    }
    if ties:
        body["ties"] = ties_record(ties)
    if runs is not None:
        body["runs"] = [str(path) for path in write_trec(runs, ids, gold, ranked, task=name, ties=ties)]
    return body


def reported_figures(figures: dict[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
    """A method's ``metrics``, its recall curve (the plot's) and the 95% interval of each of ``metrics`` (``ci95``),
    which the table shows beside its figure."""
    shown = {key: value for key, value in figures.items() if key in metrics or key == "curve"}
    return shown | {"ci95": {metric: figures["ci95"][metric] for metric in metrics}}


TASKS = {
    "diagnosis_to_cases": (diagnosis_queries, ("recall@1", "recall@10", "precision@10"), "no case has a diagnosis"),
    "section_to_pages": (
        section_queries,
        (*SIGNIFICANCE_METRICS, "recall@10"),
        f"no bookmark section has 1 to {TITLE_WORDS} content words",
    ),
}
"""Each task: its queries, the metrics it reports, and why it has none."""


def short_searches(index: Index, runs: Path | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The tasks the index gives queries for, and those left out, each with why; refused in one line when it gives
    none. ``runs``: a folder for each task's TREC files."""
    tasks, left_out = {}, {}
    methods = searches(index)
    for name, (queries_of, metrics, none) in TASKS.items():
        queries, candidates = queries_of(index)
        if not queries:
            left_out[name] = none
            continue
        ranked, ties = ranked_by(methods, queries, found, name)
        body = evaluate(queries, ranked, candidates, metrics, runs, name, ties)
        tasks[name] = {**body, "all_words_first": index.settings.all_words_first}
    if not tasks:
        raise BadInputError(f"--names: index {index.path} has nothing to search for: {'; '.join(left_out.values())}")
    return tasks, left_out
