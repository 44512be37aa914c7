"""Text to page: an MCQ question (plus options) to its gold textbook pages, through a real index.

Every method is scored from one pass of the index's rankers per question (``Searcher.rankings`` and the
same ``group_features`` the searcher uses): BM25 alone, dense alone, and the default ranker. With
``folds``, questions split by chapter (``chapter_folds``): the ranker is chosen (``choose_ranker``) on the
other folds and reported on each held-out fold, so no reported figure comes from questions it was tuned on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.common import (
    CURVE_K,
    Tie,
    chance,
    chapter_folds,
    check_folds,
    compare_runs,
    cut_through_ties,
    each_way,
    first_ranks,
    holding_ties,
    losses,
    on_gold_page,
    ruled_ranking,
    some_queries,
    through_tie,
    tied_figures,
    ties_record,
    touched_runs,
    unzipped,
)
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.datasets import MCQ, check_books, read_mcq
from pathatlas.retrieval.durable import write_atomic
from pathatlas.retrieval.fusion import (
    DENSE_ONLY,
    FEATURES,
    Ranker,
    group_features,
    section_of,
    sections_first,
    shown_member,
)
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import tie_runs
from pathatlas.retrieval.progress import progress
from pathatlas.retrieval.records import Payload
from pathatlas.retrieval.search import Query, Searcher, unsearchable

DEFAULT = "hybrid"
BASELINES = ("bm25", "dense", "chance")
SINGLE = {"bm25": Ranker({"bm25": 1.0}, "bm25"), "dense": Ranker(dict(DENSE_ONLY), "dense")}
DENSE_GRID = (0.5, 1.0, 1.5, 2.0, 3.0)
"""Weights of page vectors tried for the rest of the ranking (the top group pinned)."""
PASSAGE_GRID = (0.0, 0.5, 1.0, 1.5)
"""Weights of passage vectors tried for the rest of the ranking."""
PIN_GRID = (0.0, 0.5, 0.75, 1.0)
"""Weights of passage vectors beside BM25 in choosing the top group (0: BM25's best page)."""
LEARNED_MARGIN = 1.0
"""How much more of the summed objective (recall@1 + recall@5 + 1/rank over the tuning questions) the learned
ranker must win by before it replaces the best grid fusion: one question's worth, since a smaller gain is noise
(on the dev folds it won by 0.8 on one fold and lost a question at recall@5 there, BENCHMARKS.md)."""


PageKey = tuple[str, int]
"""(source, page): a page of one indexed PDF, so page 9 of one book is never page 9 of another."""


@dataclass
class Candidates:
    """One question's page groups, their feature rows and which of them are gold."""

    pages: list[PageKey | None]
    features: np.ndarray
    gold: np.ndarray
    sections: list[tuple[str, str] | None]
    relevant: set[PageKey] = field(default_factory=set)
    """The question's gold pages among the index's pages."""


def index_pages(index: Index) -> set[PageKey]:
    return {(p["source"], p["page"]) for _, p in index.store.scan({"kind": "page"})}


def gold_keys(item: MCQ, pages: set[PageKey]) -> set[PageKey]:
    """The index's pages in the question's gold range, of its book only (of any PDF when it names none)."""
    return {key for key in pages if on_gold_page(item.gold, *key)}


def gold_questions(index: Index, mcq_path: Path) -> tuple[list[MCQ], set[PageKey], list[str]]:
    """The questions with gold pages, the index's pages, and notes saying how many questions were left out for
    having none (a run scoring fewer than the file holds says why) and how many are scored on part of their gold pages
    (``partial_gold_notes``); refused in one line when there are no such questions, when one names a book the index
    lacks, or when one's gold pages are not pages of the index (all of them would score zero, and chance would be
    counted over pages that are not there)."""
    asked = read_mcq(mcq_path)
    items = [q for q in asked if q.gold_pages]
    if not items:
        raise BadInputError(f"{mcq_path} has no questions with gold pdf_pages (gold: {{book, pdf_pages}})")
    check_questions(items, mcq_path)
    left_out = len(asked) - len(items)
    notes = [f"{left_out} of {len(asked)} questions have no gold page: left out"] if left_out else []
    pages = check_gold_sources(index, [(q.id, q.gold) for q in items], mcq_path)
    return items, pages, notes + partial_gold_notes(items, pages)


def partial_gold_notes(items: list[MCQ], pages: set[PageKey]) -> list[str]:
    """A note where some questions' gold pages are only partly pages of the index (a range past the last page it holds
    of their book): those are scored on the gold pages it holds, so a question whose evidence lies on the others can
    only miss."""
    partial = [item for item in items if {page for _, page in gold_keys(item, pages)} < item.gold_pages]
    if not partial:
        return []
    first = partial[0]
    return [
        f"{len(partial)} of {len(items)} questions have gold pages the index lacks (first {first.id!r}, pages "
        f"{min(first.gold_pages)}-{max(first.gold_pages)}): scored on the gold pages it holds"
    ]


def check_questions(items: list[MCQ], where: Path) -> None:
    """Refuse in one line, before any question is searched, questions that cannot be scored as written: an id given
    twice (the paired tests and the TREC runs key questions by id, so two would become one and a p would come from fewer
    questions than the table's n), or a question with no text (no ``question`` field) or no word to search (the run
    would stop halfway on its options alone, naming neither the file nor the question)."""
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise BadInputError(f"{where}: question id {item.id!r} is given twice; each question needs its own id")
        seen.add(item.id)
        if not item.question.strip():
            raise BadInputError(f"{where}: question {item.id!r} has no 'question' text")
        if why := unsearchable(item.search_text()):
            raise BadInputError(f"{where}: question {item.id!r}: {why}")


def chapter_name(item: MCQ) -> str:
    """A question's chapter as text ("" for none): a file may number its chapters (``"chapter": 3``), and folds, titles
    and ``by_chapter`` name them as text (a number there ended the run in a traceback)."""
    return "" if item.chapter is None else str(item.chapter)


FOLD_CHOICES = (
    "each fold's ranker was chosen on the other folds, but the grids and rules it was chosen among were designed on "
    "these same questions: only the weights are held out"
)
"""The note of held-out folds, as a run without folds says its figures are not held out (``untuned_note``)."""


def fold_notes(items: list[MCQ], folds: int, where: Path) -> list[str]:
    """Check that ``folds`` chapter folds can be dealt from these questions (``check_folds``), saying which field folds
    read when no question names a chapter; the notes of held-out folds: what they hold out (``FOLD_CHOICES``), and,
    when only some questions name no chapter, that those are held out together, as one chapter of their own, "(no
    chapter)" in the tables."""
    if not folds:
        return []
    chapters = [chapter_name(item) for item in items]
    unnamed = chapters.count("")
    if unnamed == len(chapters):
        raise BadInputError(
            f"--folds {folds}: no question of {where} names its chapter (field 'chapter'); folds hold chapters"
        )
    check_folds(chapters, folds, f"the questions of {where}")
    note = f"{unnamed} of {len(chapters)} questions name no chapter: held out together, as one chapter"
    return [*([note] if unnamed else []), FOLD_CHOICES]


def check_gold_sources(index: Index, golds: list[tuple[str, dict[str, Any]]], where: Path) -> set[PageKey]:
    """The index's pages, once every question's gold (``(id, gold)``) is known to be there: refused in one line when
    one names a book the index lacks, or gold pages (``pdf_pages``) none of which is a page of the index. Text to page
    and ``bench qa`` share it: such a question could only score zero, read as bad retrieval rather than the wrong
    index."""
    check_books({gold["book"] for _, gold in golds if gold.get("book")}, list(index.manifest), where)
    pages = index_pages(index)
    paged = [(qid, gold) for qid, gold in golds if gold.get("pdf_pages")]
    if lost := [qid for qid, gold in paged if not any(on_gold_page(gold, *key) for key in pages)]:
        which = f"question {lost[0]!r}" if len(lost) == 1 else f"{len(lost)} questions (first {lost[0]!r})"
        raise BadInputError(f"{where}: the gold pages of {which} are not pages of the index")
    return pages


def collect(index: Index, items: list[MCQ], pages: set[PageKey], batch: int = 32) -> list[Candidates]:
    searcher = Searcher(index)
    out = []
    for start in progress(range(0, len(items), batch), desc="text->page", leave=False):
        chunk = items[start : start + batch]
        rankings = searcher.rankings([Query(text=item.search_text()) for item in chunk])
        for item, ranked in zip(chunk, rankings, strict=True):
            payloads = Payload.from_payloads(index.store.payloads(list({i for r in ranked.values() for i, _ in r})))
            coverage = searcher.coverage(item.search_text(), payloads)
            groups, features = group_features(ranked, payloads, [r for r in ranked if r != "bm25"], coverage)
            keys = [g.key if isinstance(g.key, tuple) else None for g in groups]
            relevant = gold_keys(item, pages)
            gold = np.array([key in relevant for key in keys], bool)
            sections = [section_of(payloads[shown_member(g, payloads)]) for g in groups]
            out.append(Candidates(keys, features, gold, sections, relevant))
    return out


def ranked_pages(candidates: Candidates, ranker: Ranker, k: int, per_section: int = 0) -> tuple[list[PageKey], Tie]:
    """The top ``k`` pages as search orders them (``per_section`` as ``Settings.pages_per_section``: ``sectioned``)
    and the rest of the run of tied scores the cut falls in, with their runs of tied scores (``tie_runs``: the pages a
    ranker scores alike, as BM25 every page that holds no query word), or the ways they can fall."""
    scores = ranker.score(candidates.features)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    sizes = tie_runs(scores[order].tolist())
    groups, ties = sectioned(candidates, order, sizes, per_section) if per_section else (order, sizes)
    return through_tie(*each_way(groups, ties, lambda ranked, runs: group_pages(candidates, ranked, runs)), k)


def group_pages(candidates: Candidates, groups: list[int], sizes: list[int]) -> tuple[list[PageKey], list[int]]:
    """The pages of ``groups`` (those without one left out) and their runs of tied scores (``sizes``: the groups')."""
    run_of = [n for n, size in enumerate(sizes) for _ in range(size)]
    kept = [(page, run) for g, run in zip(groups, run_of, strict=True) if (page := candidates.pages[g]) is not None]
    return [page for page, _ in kept], tie_runs([run for _, run in kept])


def sectioned(candidates: Candidates, order: list[int], sizes: list[int], per_section: int) -> tuple[list[int], Tie]:
    """The groups in ``order`` (runs of tied scores ``sizes``) as the sections' rule shows them (``sections_first``),
    each run split into its groups shown first and the rest. Where the rule shows some but not all of a section's tied
    groups first (``section_fates``), which of them depends on the order they were given in: where they differ in
    relevance, or share the run with others, the run counts over every order of it (``ruled_ranking``)."""
    sections = [candidates.sections[i] for i in order]
    fates = section_fates(sections, sizes, per_section)
    signatures = [(fate, bool(candidates.gold[i])) for fate, i in zip(fates, order, strict=True)]
    cut = [isinstance(fate, tuple) for fate in fates]
    touched = touched_runs(signatures, sizes, lambda start, size: any(cut[start : start + size]))

    def rule(positions: list[int]) -> list[tuple[int, bool]]:
        shown = [sections[p] for p in positions]
        first = shown_first(shown, per_section)
        return [(positions[j], first[j]) for j in sections_first(shown, per_section)]

    return ruled_ranking(order, sizes, signatures, touched, rule)


def section_fates(sections: list, sizes: list[int], per_section: int) -> list[bool | tuple]:
    """Where the sections' rule puts each of a ranking's groups (``sections``, in runs of tied scores ``sizes``): first
    (True: its section has room for all its groups of the run, or it has none), after (False: no room left), or
    ("cut", section) where the room left takes some of the run's groups of that section, not all."""
    seen: Counter = Counter()
    fates: list[bool | tuple] = []
    start = 0
    for size in sizes:
        run = sections[start : start + size]
        counts = Counter(section for section in run if section is not None)
        fates += [section_fate(section, per_section - seen[section], counts[section]) for section in run]
        seen.update(counts)
        start += size
    return fates


def section_fate(section: Hashable | None, room: int, tied: int) -> bool | tuple:
    """``section_fates`` of one group: its section has ``room`` left for ``tied`` groups of the run."""
    if section is None or room >= tied:
        return True
    return ("cut", section) if room > 0 else False


def shown_first(sections: list, per_section: int) -> list[bool]:
    """Is each group among the first ``per_section`` of its section (or of none): the part ``sections_first`` shows
    it in."""
    seen: Counter = Counter()
    first = []
    for section in sections:
        seen[section] += 1
        first.append(section is None or seen[section] <= per_section)
    return first


def fit_ranker(candidates: list[Candidates], c: float = 1.0, negatives: int = 20) -> Ranker:
    """Pairwise logistic regression (RankNet-like, linear): the best gold group against the strongest
    BM25 non-gold groups of each question; weights come back in raw feature units."""
    from sklearn.linear_model import LogisticRegression

    bm25 = FEATURES.index("bm25")
    diffs = []
    for cand in candidates:
        if not cand.gold.any() or cand.gold.all():
            continue
        pos, neg = cand.features[cand.gold], cand.features[~cand.gold]
        best = pos[np.argmax(pos[:, bm25])]
        diffs += [best - row for row in neg[np.argsort(-neg[:, bm25])[:negatives]]]
    if not diffs:
        return Ranker.plain()
    x = np.array(diffs)
    scale = x.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000)
    model.fit(np.concatenate([x / scale, -x / scale]), np.r_[np.ones(len(x)), np.zeros(len(x))])
    weights = model.coef_[0] / scale
    return Ranker({name: float(w) for name, w in zip(FEATURES, weights, strict=True)}, "learned (pairwise logistic)")


def objective(ranker: Ranker, candidates: list[Candidates]) -> float:
    """Recall@1 + recall@5 + MRR over the questions: what the choice maximises."""
    total = 0.0
    for cand in candidates:
        scores = ranker.score(cand.features)
        hits = cand.gold[np.argsort(-scores, kind="stable")]
        if hits.any():
            rank = int(np.argmax(hits)) + 1
            total += (rank == 1) + (rank <= 5) + 1.0 / rank
    return total / max(len(candidates), 1)


def choose_ranker(candidates: list[Candidates]) -> Ranker:
    """The best on these questions among pinned fusions: the top group chosen by BM25 plus a weight of passage
    vectors (``PIN_GRID``), the rest by BM25 plus weights of page and passage vectors, or by the learned
    ranker with BM25's top pinned (only when it wins by more than ``LEARNED_MARGIN`` and ``learned_holds_up``);
    ties go to the simplest (earliest) option.

    Unpinned rankers are not candidates: among them, the choice made on four chapter folds loses recall@1 to BM25 on two
    held-out folds (BENCHMARKS.md), and the default must never rank below BM25 at rank 1.
    """
    options = grid_options()
    grid_values = [objective(option, candidates) * len(candidates) for option in options]
    learned = learned_option(candidates)
    choice = prefer_simple(grid_values, objective(learned, candidates) * len(candidates))
    if choice is None and learned_holds_up(candidates, options):
        return learned
    return options[choice if choice is not None else int(np.argmax(grid_values))]


def grid_options() -> list[Ranker]:
    return [
        Ranker(
            {"bm25": 1.0, "dense": w, "passage_dense": p},
            f"top by bm25 + {t} passage; rest by bm25 + {w} dense + {p} passage",
            pin={"bm25": 1.0, "passage_dense": t} if t else {"bm25": 1.0},
        )
        for t in PIN_GRID
        for p in PASSAGE_GRID
        for w in DENSE_GRID
    ]


def learned_option(candidates: list[Candidates]) -> Ranker:
    return Ranker(fit_ranker(candidates).weights, "learned, BM25 top pinned", pin={"bm25": 1.0})


def learned_holds_up(candidates: list[Candidates], options: list[Ranker]) -> bool:
    """Whether the learned ranker, fitted on one half of the questions, beats the grid fusion chosen on that half
    on the other half (both ways, summed): a linear model over eight features can fit a few dozen questions it
    will not rank well after, and the margin alone would judge it on the questions it was fitted on."""
    halves = candidates[0::2], candidates[1::2]
    learned_total = grid_total = 0.0
    for fit_on, judge_on in (halves, halves[::-1]):
        best = max(options, key=lambda option: objective(option, fit_on))  # the earliest of equals
        learned_total += objective(learned_option(fit_on), judge_on) * len(judge_on)
        grid_total += objective(best, judge_on) * len(judge_on)
    return learned_total > grid_total


def prefer_simple(grid_values: list[float], learned_value: float, margin: float = LEARNED_MARGIN) -> int | None:
    """Index of the best grid option (the earliest among equals), or None when the learned ranker beats it
    by more than ``margin``."""
    best = int(np.argmax(grid_values))
    return None if learned_value > grid_values[best] + margin else best


def text_to_page(
    index: Index,
    mcq_path: Path,
    k: int = 10,
    folds: int = 0,
    ranker: Ranker | None = None,
    runs: Path | None = None,
) -> dict[str, Any]:
    """Is a page of the question's gold range among the top k pages? Query: question plus options.

    Without ``folds`` the default is the shipped ranker (``ranker`` or the index's); with ``folds`` it is
    refitted on the other folds for each held-out fold. ``runs``: a folder for the TREC qrels and runs.
    """
    items, pages, notes = gold_questions(index, mcq_path)
    notes += fold_notes(items, folds, mcq_path)
    candidates = collect(index, items, pages)
    ranker = ranker or Searcher(index).ranker
    if not folds:
        notes.append(untuned_note(ranker, index.settings.ranker_file))
    result = evaluate(items, candidates, len(pages), k, folds, ranker, index.settings.pages_per_section, runs)
    return {**result, "notes": notes}


def untuned_note(ranker: Ranker, ranker_file: Path | None = None) -> str:
    """Without folds the default's figures are held out only from questions its weights were not chosen on: the
    fallback's were chosen on the shared dev questions, a ranker file's on what its ``fitted_on`` says. A user's
    file (``ranker_file``, ``PATHATLAS_RANKER_FILE``) is named as the ranker in use, not the shipped one."""
    where = "the shared dev questions (mcq_dev.jsonl)" if ranker.source == "plain" else "the questions it was fitted on"
    which = f"the ranker in use (PATHATLAS_RANKER_FILE={ranker_file})" if ranker_file else "the shipped ranker"
    return (
        f"the default is {which} ({ranker.source}), chosen on {where}: on those questions these figures "
        "are not held out; --folds N refits it per chapter fold and reports each fold held out"
    )


@dataclass(frozen=True)
class PageRuns:
    """Every method's top pages per question, and (with folds) each question's fold and the default chosen for it;
    ``ties``: the runs of tied scores of the methods that tie (``holding_ties``), their pages running through the tie
    at the cut."""

    ids: list[str]
    gold: list[set[PageKey]]
    ranked: dict[str, list[list[PageKey]]]
    fold_of: list[int]
    chosen: dict[int, Ranker]
    ties: dict[str, list[Tie]]


def rank_pages(
    items: list[MCQ], candidates: list[Candidates], depth: int, folds: int, ranker: Ranker, per_section: int = 0
) -> PageRuns:
    """Every method's top ``depth`` pages per question; the default orders them as search does (``per_section``),
    chosen on the other folds for each fold's questions (``ranker`` without folds), the baselines by their scores
    alone."""
    fold_of = chapter_folds([chapter_name(item) for item in items], folds) if folds else [0] * len(items)
    chosen = {
        fold: choose_ranker([c for c, f in zip(candidates, fold_of, strict=True) if f != fold]) if folds else ranker
        for fold in sorted(set(fold_of))
    }
    found = {
        DEFAULT: [ranked_pages(c, chosen[f], depth, per_section) for c, f in zip(candidates, fold_of, strict=True)],
        **{name: [ranked_pages(c, single, depth) for c in candidates] for name, single in SINGLE.items()},
    }
    ranked, ties = {}, {}
    for name, pairs in found.items():
        ranked[name], ties[name] = unzipped(pairs)
    ids, gold = [item.id for item in items], [c.relevant for c in candidates]
    return PageRuns(ids, gold, ranked, fold_of, chosen, holding_ties(ties))


def evaluate(
    items: list[MCQ],
    candidates: list[Candidates],
    page_count: int,
    k: int,
    folds: int,
    ranker: Ranker,
    per_section: int = 0,
    runs: Path | None = None,
) -> dict[str, Any]:
    """Recall@1/5/10 and MRR@k of every method, with chance cut alike, and the recall curve to ``CURVE_K`` (each
    method ranks that deep, so its curve and chance's compare at every k); each question's first gold rank per method
    (``per_question``) and every chapter's figures (``by_chapter``); with ``runs``, the rankings as TREC files there
    (``write_trec``). A run of tied scores counts at its expected value over its orders (``tied_figures``), in
    figures, paired tests and first ranks; its TREC run gives it one score."""
    found = rank_pages(items, candidates, max(k, CURVE_K), folds, ranker, per_section)
    first = {name: first_ranks(lists, found.gold, found.ties.get(name)) for name, lists in found.ranked.items()}

    def figures(positions: list[int]) -> dict[str, dict[str, Any]]:
        """Every method's figures over the questions at ``positions``: the whole task's, a fold's or a chapter's."""
        ranked, gold, ties = some_queries(positions, found.ranked, found.gold, found.ties)
        methods = {name: tied_figures(lists, gold, ties.get(name), k) for name, lists in ranked.items()}
        methods["chance"] = chance(max(page_count, 1), [len(relevant) for relevant in gold], mrr_depth=k)
        return methods

    def task(positions: list[int]) -> dict[str, Any]:
        ranked, gold, ties = some_queries(positions, found.ranked, found.gold, found.ties)
        body = {
            "n": len(positions),
            "mrr_depth": k,
            "methods": figures(positions),
            "default": DEFAULT,
            "baselines": list(BASELINES),
            **({"ties": ties_record(ties)} if ties else {}),
        }
        cut, cut_ties = cut_through_ties(ranked, ties, k)
        body["significance"] = compare_runs(  # over the top k: its MRR is the table's MRR@k
            [found.ids[i] for i in positions], gold, cut, DEFAULT, ties=cut_ties, depth=k
        )
        return body

    result = task(list(range(len(items))))
    result["ranker"] = "chosen on the other folds, per fold" if folds else ranker.source
    chapters = [chapter_name(item) for item in items]
    result["per_question"] = [
        {
            "id": item.id,
            "chapter": chapters[i],
            **({"fold": found.fold_of[i]} if folds else {}),
            "first_relevant_rank": {name: ranks[i] for name, ranks in first.items()},
        }
        for i, item in enumerate(items)
    ]
    result["by_chapter"] = by_chapter(chapters, figures, found.fold_of if folds else None)
    if folds:
        result["folds"] = []
        for fold, chosen in found.chosen.items():
            positions = [i for i, f in enumerate(found.fold_of) if f == fold]
            body = task(positions)
            body["chapters"] = sorted({chapters[i] for i in positions})
            body["ranker"] = chosen.to_json()
            result["folds"].append(body)
    if runs is not None:
        written = write_trec(
            runs,
            found.ids,
            found.gold,
            found.ranked,
            found.fold_of if folds else None,
            [DEFAULT] if folds else (),
            ties=found.ties,
        )
        result["runs"] = [str(path) for path in written]
    return result


CHAPTER_METRICS = ("recall@1", "recall@5", "mrr")
"""What ``by_chapter`` gives per chapter and method (MRR@k, as the task's): one row of a chapter's table each."""


def by_chapter(
    chapters: list[str], figures: Callable[[list[int]], dict[str, dict[str, Any]]], fold_of: list[int] | None
) -> list[dict[str, Any]]:
    """Each chapter's figures (``CHAPTER_METRICS`` per method, from ``figures`` of its questions' positions), in the
    order the file first names them, so a chapter where the default trails shows though the totals do not; each
    says where the default is below a baseline (``below_baselines``), by the rule of the task's other tables (a
    chapter below dense alone went unmarked here while its fold's table marked it). ``fold_of``: with folds, each
    question's fold; a chapter lies in one, so its default is the one chosen on the other folds: held-out figures."""
    rows = []
    for chapter in dict.fromkeys(chapters):
        positions = [i for i, c in enumerate(chapters) if c == chapter]
        methods = {name: {m: found[m] for m in CHAPTER_METRICS} for name, found in figures(positions).items()}
        rows.append(
            {
                "chapter": chapter,
                "n": len(positions),
                **({"fold": fold_of[positions[0]]} if fold_of else {}),
                "methods": methods,
                "below_baselines": below_baselines(methods),
            }
        )
    return rows


def below_baselines(methods: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """Baseline -> the metrics on which the default's ``methods`` figures are below its (``losses``); none where it is
    below none."""
    below: dict[str, list[str]] = {}
    task = {"methods": methods, "default": DEFAULT, "baselines": list(BASELINES)}
    for baseline, metric in losses(task).get(DEFAULT, []):
        below.setdefault(baseline, []).append(metric)
    return below


def held_out_fold(fold: dict[str, Any]) -> dict[str, Any]:
    """A held-out fold as the ranker file records it: its chapters and n, the default's ``CHAPTER_METRICS`` and, beside
    them, each baseline's (a figure alone says nothing of whether the fusion beats BM25 there)."""
    figures = {name: {m: fold["methods"][name][m] for m in CHAPTER_METRICS} for name in (DEFAULT, *BASELINES)}
    return {"chapters": fold["chapters"], "n": fold["n"], **figures.pop(DEFAULT), **figures}


def tune_text(index: Index, mcq_path: Path, folds: int, out: Path) -> dict[str, Any]:
    """Held-out figures with the ranker refitted per fold, then the ranker fitted on every question,
    written with what it was fitted on."""
    items, pages, notes = gold_questions(index, mcq_path)
    notes += fold_notes(items, folds, mcq_path)
    candidates = collect(index, items, pages)
    result = evaluate(items, candidates, len(pages), 10, folds, Ranker.plain(), index.settings.pages_per_section)
    ranker = choose_ranker(candidates)
    body = {
        **ranker.to_json(),
        "features": list(FEATURES),
        "fitted_on": f"{mcq_path.name}: {len(items)} questions, chapters {sorted(set(map(chapter_name, items)))}",
        "held_out": {f"fold {i}": held_out_fold(fold) for i, fold in enumerate(result["folds"])},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(body, indent=1).encode())  # search reads it: never half a file
    return {**result, "written": str(out.absolute()), "ranker_file": body, "notes": notes}
