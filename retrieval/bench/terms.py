"""A search box's few words (``bench retrieval --terms FILE``): each line of the file a short search, relevant to it
every page and page-less record holding each of its content words as the every-word-first rule reads them
(``LexicalIndex.holding_all``; a page holds them where any of its records does: the page, a passage, a figure).

The gold is lexical, the query's own words: the task measures whether a search keeps its promise to show the records
holding every word first, not whether they are about the term, and BM25, which ranks by those words, is favoured by
construction. Every method is a real search (``names.ranked_by``): the default; its ablations, the section rule off
(``pages_per_section=0`` on the query) and every-word-first off; its baselines, BM25 alone and dense alone (each in
its own order: neither rule) and chance. Besides
``names.evaluate``'s precision@10 and MRR, ``CAPPED`` (BEIR's capped recall): the usual recall@10, over every
relevant item, cannot pass 10/57 for a term 57 pages hold, nor precision@10 0.3 for one 3 pages hold; capped, 1 is a
top 10 showing every holding item it has room for.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.errors import BadInputError, first_few
from pathatlas.retrieval.bench import names
from pathatlas.retrieval.bench.common import (
    SIGNIFICANCE_LEVEL,
    Runs,
    Tie,
    paired_test,
    tied_rankings,
    with_holm,
)
from pathatlas.retrieval.bench.names import KNOB_OFF, TITLE_WORDS, Methods, Named, Unquoted
from pathatlas.retrieval.bench.pages import DEFAULT
from pathatlas.retrieval.fusion import page_key
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import expected_precision, mean_interval
from pathatlas.retrieval.records import Hit, Payload
from pathatlas.retrieval.search import RANKERS, Query, Searcher, unsearchable
from pathatlas.retrieval.terms import content_terms

TASK = "term_to_holding_all"
SECTIONS_OFF = "hybrid, section rule off"
METRICS = ("precision@10", "mrr")
"""What ``names.evaluate`` reports and tests; ``CAPPED`` is added beside them."""
CUT = 10
CAPPED = f"recall_cap@{CUT}"
"""BEIR's capped recall: the holding items in the top ``CUT`` over min(``CUT``, the items holding every word)."""


def read_terms(path: Path) -> list[str]:
    """The searches of a ``--terms`` file, one a line (blank lines and ``#`` comments skipped), each a short search of
    at most ``TITLE_WORDS`` content words, as ``--names`` asks sections; refused in one line where the file holds none,
    a line has no word to look for or too many, or repeats an earlier one (a paired test would count it twice)."""
    if not path.is_file():
        raise BadInputError(f"--terms {path}: no such file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise BadInputError(f"--terms {path} is not UTF-8 text (one search a line)") from exc
    terms: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        term = " ".join(line.split())
        if not term or term.startswith("#"):
            continue
        where = f"--terms {path} line {number}"
        if problem := unsearchable(term):
            raise BadInputError(f"{where}: {problem}")
        if (words := len(content_terms(term))) > TITLE_WORDS:
            raise BadInputError(
                f"{where}: {words} words (function words aside) in {term[:60]!r}: a term is a short search of at "
                f"most {TITLE_WORDS}"
            )
        if (first := seen.setdefault(term.casefold(), number)) != number:
            raise BadInputError(f"{where}: {term[:60]!r} repeats line {first}")
        terms.append(term)
    if not terms:
        raise BadInputError(f"--terms {path} holds no search: one a line (blank lines and # comments are skipped)")
    return terms


class SectionsOff(Unquoted):
    """Search with the one-page-per-section rule off: each query asks ``pages_per_section=0``, as the agent's evidence
    searches do."""

    def search_many(self, queries: list[Query]) -> list[list[Hit]]:
        return super().search_many([replace(query, pages_per_section=0) for query in queries])


def searches(index: Index) -> Methods:
    """Each method as a searcher and the rankers it uses: the default; the default with the section rule off, and with
    every-word-first off; BM25 alone and dense alone, each in its own order, with neither rule (the section rule puts
    a section's second page holding every word below other sections' first pages holding none: BM25 showed 273
    holding hits of 350 on the A&P book's 35 terms with it, 321 without)."""
    alone = SectionsOff(index, all_words_first=False)
    return {
        DEFAULT: (Unquoted(index), RANKERS),
        SECTIONS_OFF: (SectionsOff(index), RANKERS),
        KNOB_OFF: (Unquoted(index, all_words_first=False), RANKERS),
        "bm25": (alone, ("bm25",)),
        "dense": (alone, ("dense",)),
    }


def item_of(record_id: str, payload: Payload) -> Hashable:
    """What a record counts as, as ``names.found`` counts a hit: its page, else the record itself (a case)."""
    return page_key(payload) or record_id


def holding_items(index: Index, term: str) -> frozenset[Hashable]:
    """The pages and page-less records holding every content word of ``term`` (``LexicalIndex.holding_all``, all of
    them: the every-word-first rule's own reading of words, without its cap of ``Settings.candidates``)."""
    holding = index.lexical.holding_all(term, len(index.lexical))
    payloads = Payload.from_payloads(index.store.payloads(sorted(holding))) if holding else {}
    return frozenset(item_of(record_id, payload) for record_id, payload in payloads.items())


def index_items(index: Index) -> int:
    """How many pages and page-less records the index holds: the items chance ranks."""
    return len({item_of(record_id, Payload.from_payload(stored)) for record_id, stored in index.store.scan()})


def capped_scores(ways: list[list[Runs]], relevant: list[int]) -> np.ndarray:
    """Each query's ``CAPPED`` at its expected value over the orders of its ties (``ways``, as ``tied_rankings`` gives
    them; ``relevant``: how many items hold every word)."""
    return np.array(
        [expected_precision(way, CUT) * CUT / min(count, CUT) for way, count in zip(ways, relevant, strict=True)]
    )


def with_capped_recall(
    body: dict[str, Any],
    queries: list[Named],
    ranked: dict[str, list[list[Hashable]]],
    ties: dict[str, list[Tie]],
    candidates: int,
) -> dict[str, Any]:
    """``names.evaluate``'s ``body`` with ``CAPPED`` beside each method's figures (with its 95% interval), its paired
    test against the default beside the others (the Holm-Bonferroni family grown by them), and each query's expected
    count of holding items in its top ``CUT`` per method (``holding_in_top_10``)."""
    gold = [set(query.gold) for query in queries]
    relevant = [len(items) for items in gold]
    ways = {method: tied_rankings(lists, gold, ties.get(method)) for method, lists in ranked.items()}
    ways["chance"] = [[[(candidates, count)]] for count in relevant]  # a random order is one tie of every item
    scores = {method: capped_scores(found_ways, relevant) for method, found_ways in ways.items()}
    methods = {
        method: {
            **figures,
            CAPPED: float(scores[method].mean()),
            "ci95": {**figures["ci95"], CAPPED: list(mean_interval(scores[method]))},
        }
        for method, figures in body["methods"].items()
    }
    tested = {
        method: {**tests, CAPPED: paired(scores[DEFAULT], scores[method], method, tests)}
        for method, tests in body["significance"].items()
    }
    rows = [
        {**row, f"holding_in_top_{CUT}": {method: expected_precision(w[n], CUT) * CUT for method, w in ways.items()}}
        for n, row in enumerate(body["per_question"])
    ]
    return {
        **body,
        "methods": methods,
        "significance": with_holm(tested, SIGNIFICANCE_LEVEL),
        "per_question": rows,
    }


def paired(mine: np.ndarray, theirs: np.ndarray, method: str, tests: dict[str, Any]) -> dict[str, Any]:
    """One paired test of ``CAPPED`` as ``compare_runs`` records each of its own (``paired_test``), saying as the
    method's other tests (``tests``) do whether its ties were counted at their expected value: so is this one."""
    tied = {key: value for key, value in next(iter(tests.values())).items() if key == "ties"}
    return paired_test(mine, theirs, method) | tied


def notes(relevant: list[int], left_out: list[str], beyond_rule: list[str], candidates: int, index: Index) -> list[str]:
    """What the task's table counts (``relevant``: how many items hold each asked term's words) and what it does
    not."""
    most, fewest = max(relevant), min(relevant)
    said = [
        "the gold is lexical: relevant to a term are the pages (through any of their records: page, passages, "
        "figures) and page-less records holding every word of it, function words aside, as the every-word-first "
        "rule reads words; so this measures whether a search keeps its promise to show those first, not whether "
        "they are about the term, and BM25, which ranks by those very words, is favoured by construction",
        f"R_cap@{CUT} ({CAPPED}): BEIR's capped recall, the holding items among the top {CUT} over min({CUT}, the "
        f"items holding every word), 1 where the top {CUT} shows all it has room for (the usual recall@{CUT}, over "
        f"every holding item, could not pass {min(1, CUT / most):.2f} for this file's most held term, {most} items); "
        f"P@{CUT}: the share of the top {CUT} holding every word (at most {min(1, fewest / CUT):.1f} for its least "
        f"held, {fewest} items); MRR@{CUT}: 1 / the first holding hit's rank",
        f"{SECTIONS_OFF}: the default with pages_per_section=0 on the query; {KNOB_OFF}: Searcher("
        "all_words_first=False); bm25 and dense: each ranker alone, in its own order, with neither rule (unlike "
        f"--names' baselines, which keep the section rule); chance: a random order of the index's {candidates} pages "
        "and page-less records",
        "nothing is tuned on these terms, so there are no folds",
    ]
    if left_out:
        said.append(
            f"{len(left_out)} terms left out of every figure, no record holding every word of them: "
            + first_few([repr(term) for term in left_out], 5)
        )
    if beyond_rule:
        reach = index.settings.all_words_first
        said.append(
            f"{len(beyond_rule)} terms the every-word-first rule does not read (over {reach} words, function words "
            "aside, PATHATLAS_ALL_WORDS_FIRST, or a word that is no term of its own, as the 'T' of 'T-cell'), so the "
            "default promises them nothing: " + first_few([repr(term) for term in beyond_rule], 5)
        )
    return said


def term_searches(index: Index, path: Path, runs: Path | None = None) -> dict[str, Any]:
    """The task of a ``--terms`` file (``read_terms``) on ``index``, by name (``TASK``): ``names.evaluate``'s figures
    with ``CAPPED`` beside them (``with_capped_recall``), the terms left out (no record holds every word of them) and
    its notes; refused in one line where no term is held. ``runs``: a folder for its TREC files."""
    terms = read_terms(path)
    held = {term: holding_items(index, term) for term in terms}
    queries = [Named(term, items, {}) for term, items in held.items() if items]
    left_out = [term for term, items in held.items() if not items]
    if not queries:
        raise BadInputError(f"--terms {path}: no record of index {index.path} holds every word of any of its terms")
    candidates = index_items(index)
    ranked, ties = names.ranked_by(searches(index), queries, names.found, TASK)
    body = names.evaluate(queries, ranked, candidates, METRICS, runs, TASK, ties, ablations=(SECTIONS_OFF, KNOB_OFF))
    rule = Searcher(index)
    beyond_rule = [query.text for query in queries if not rule.holding_all(Query(text=query.text), 1)]
    return {
        TASK: {
            **with_capped_recall(body, queries, ranked, ties, candidates),
            "all_words_first": index.settings.all_words_first,
            "left_out_terms": left_out,
            "notes": notes([len(q.gold) for q in queries], left_out, beyond_rule, candidates, index),
        }
    }
