"""Words beside an image (``bench retrieval --image-words``): does an image query with words find the diagnosis the
words ask? Queries and gold come from the index itself:

- each case image with a diagnosis (at most ``SAMPLE`` of each diagnosis of a source, a fixed seeded sample, so
  900 LC25000 tiles cost 120 images), read from its file as a user uploads it, is searched twice: with words that
  agree (its own diagnosis) and with words that conflict (another diagnosis of the index, picked with a fixed
  seed: of the same source and organ where there is one, else of the same source, else any);
- the words (``PHRASINGS``) are the diagnosis as stored ("lung adenocarcinoma": BM25 alone finds such labels almost
  perfectly), or as a student types it, one word (``typed_word``): of the diagnosis' words, the one whose term the
  fewest of the index's diagnoses hold, then the fewest case records in their text, then the longest, then the first
  ("adenocarcinoma", "squamous", "benign" for LC25000's classes); the same rule for agreeing and conflicting words.
  Where two diagnoses get the same word ("adenocarcinoma" for "adenocarcinoma" and "lung adenocarcinoma") their
  queries stay, the image telling which is asked; but conflicting words that are a word of the image's own diagnosis
  too ("adenocarcinoma" beside a pancreatic ductal adenocarcinoma) conflict with nothing, so those queries are left
  out, and counted in the notes;
- relevant: a hit whose diagnosis (``diagnosis_key``) is the one the words ask; the query image's own record and its
  byte-identical copies (``image_hash``) are left out of its ranking and its gold.

Every image search is the real ``Searcher.find_many``: the default row as users search (no ``words_weight``: words
some records hold in full sort first at the words' text-search weights, others weigh ``weight_words_image``), then with
``Query(words_weight=w)``: 1 (the words weigh as in a text search), the weight chosen on folds by the query image's
diagnosis and scored on the held-out fold; the image alone, the words alone (BM25) and chance.
Every weight of the grid is reported over all queries too (``weight_per_fold["by_weight"]``, not held out).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.common import CURVE_K, chance, compare_runs, first_ranks, tied_figures, ties_record
from pathatlas.retrieval.bench.names import CASES, Unquoted, organs, whole_ties
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.fusion import diagnosis_key
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.lexical import document_text
from pathatlas.retrieval.progress import progress
from pathatlas.retrieval.records import Hit, Payload
from pathatlas.retrieval.search import HELD_WORDS_WEIGHT, Query
from pathatlas.retrieval.terms import content_terms, tokenize

TASK = "image_words_to_diagnosis"
SAMPLE = 40
"""Images asked per diagnosis of a source: all of an atlas' few, a seeded 40 of LC25000's 300 tiles a class."""
SEED = 0
GRID = (1.0, 2.0, 4.0, 8.0)
"""The words' weights each fold chooses among."""
FOLDS = 3
TOP = 5
MRR_DEPTH = 10
DEFAULT = "image+words"
BEFORE = "image+words x1"
CHOSEN = "image+words, weight per fold"
IMAGE = "image"
WORDS = "bm25"
METRICS = ("recall@1", "recall@5", "recall@10", "mrr", "precision@5", "precision@10")
SIGNIFICANCE = ("recall@1", "precision@5")
DIAGNOSIS = "diagnosis"
WORD = "word"
BOTH = "both"
PHRASINGS = (DIAGNOSIS, WORD, BOTH)
"""How the words beside an image are typed: its diagnosis as stored, that diagnosis' one word (``typed_word``), or
each image asked both ways, the folds choosing one weight for both (students type either)."""


@dataclass(frozen=True)
class Asked:
    """One query: a case image of the index (its record, file and byte hash), the words typed beside it, the diagnosis
    they ask (relevant: its records), whether that is the image's own, and its fold (by its own diagnosis)."""

    record_id: str
    payload: Payload
    words: str
    asks: str
    agree: bool
    fold: int
    phrasing: str = DIAGNOSIS

    @property
    def id(self) -> str:
        """Unique and readable: the image's source folder, its path in it, whether the words agree, and how they are
        typed where that is one word."""
        typed = "" if self.phrasing == DIAGNOSIS else f":{self.phrasing}"
        return f"{Path(self.payload.source).name}/{self.payload.image}:{'agree' if self.agree else 'conflict'}{typed}"

    @property
    def path(self) -> Path:
        return Path(self.payload.source) / (self.payload.image or "")


def diagnosed(index: Index) -> dict[str, Payload]:
    """The index's case images whose diagnosis has a word to search for."""
    cases = {rid: Payload.from_payload(stored) for rid, stored in index.store.scan(CASES)}
    return {
        rid: case
        for rid, case in sorted(cases.items())
        if case.image and case.diagnosis and content_terms(case.diagnosis)
    }


def sampled(images: dict[str, Payload]) -> dict[str, Payload]:
    """At most ``SAMPLE`` images of each diagnosis of each source, the same ones on every run (seeded by the source
    and diagnosis), so a folder of 900 tiles costs minutes, not an hour."""
    groups: dict[tuple[str, str], list[str]] = {}
    for rid, case in images.items():
        groups.setdefault((case.source, diagnosis_key(case.diagnosis)), []).append(rid)
    kept = set()
    for (source, key), ids in groups.items():
        kept.update(ids if len(ids) <= SAMPLE else random.Random(f"{SEED}:{source}:{key}").sample(ids, SAMPLE))
    return {rid: case for rid, case in images.items() if rid in kept}


def conflicting(rid: str, case: Payload, spellings: dict[str, Payload]) -> str:
    """Another diagnosis for ``case``'s image (as its first case spells it), seeded by the record: of the same source
    and organ where one is, else of the same source, else of any; the student's "like this, but squamous"."""
    own = diagnosis_key(case.diagnosis)
    others = [other for key, other in spellings.items() if key != own]
    same_source = [other for other in others if other.source == case.source]
    same_organ = [other for other in same_source if set(organs(other)) & set(organs(case))]
    pick = same_organ or same_source or others
    return random.Random(f"{SEED}:{rid}").choice(pick).diagnosis


def diagnosis_folds(keys: list[str], folds: int) -> dict[str, int]:
    """Each diagnosis' fold: dealt round-robin, most-asked first (then by name), so no fold holds two of the largest
    (LC25000's three classes land one a fold)."""
    counts = Counter(keys)
    if len(counts) < max(folds, 2):
        raise BadInputError(
            f"--image-words: the index's diagnosed images have {len(counts)} diagnosis(es); "
            f"{folds} folds by diagnosis need at least as many (and two)"
        )
    order = sorted(counts, key=lambda key: (-counts[key], key))
    return {key: n % folds for n, key in enumerate(order)}


@dataclass(frozen=True)
class Rarity:
    """How many of the index's diagnoses, and how many of its case records' texts (as BM25 reads them), hold each
    term: the fewer, the more a word tells."""

    diagnoses: Counter[str]
    records: Counter[str]

    @classmethod
    def of(cls, index: Index, diagnoses: Iterable[str]) -> Rarity:
        """The counts over ``diagnoses`` (one spelling each) and the index's case records."""
        texts = [document_text(stored) for _, stored in index.store.scan(CASES)]
        return cls(
            Counter(term for diagnosis in diagnoses for term in set(content_terms(diagnosis))),
            Counter(term for terms in tokenize(texts) for term in set(terms)),
        )


def typed_word(diagnosis: str, rarity: Rarity) -> str:
    """The one word of ``diagnosis`` a student types for it, as written: of its words that are a content term each,
    the one whose term the fewest diagnoses hold, then the fewest case records ("lung adenocarcinoma": both words are
    in three diagnoses, "adenocarcinoma" in fewer records), then the longest (more letters, a narrower word:
    "psammoma" of "serous carcinoma with psammoma bodies"), then the first; the diagnosis whole where no word is one
    term (a CJK label, read as character pairs)."""
    words = re.findall(r"[^\W_]+", diagnosis)
    candidates = [
        (rarity.diagnoses[terms[0]], rarity.records[terms[0]], -len(word), n, word)
        for n, word in enumerate(words)
        if len(terms := content_terms(word)) == 1
    ]
    return min(candidates)[-1] if candidates else diagnosis


def phrased(diagnosis: str, rarity: Rarity | None) -> str:
    """The words typed for ``diagnosis``: its one word (``typed_word``) given the index's ``rarity``, else (the
    diagnosis phrasing) the diagnosis as stored."""
    return typed_word(diagnosis, rarity) if rarity is not None else diagnosis


def asks_its_own(query: Asked) -> bool:
    """Conflicting words that are words of the image's own diagnosis too ("adenocarcinoma" typed beside a pancreatic
    ductal adenocarcinoma): they ask what the image shows, so they measure no conflict."""
    return (
        query.phrasing == WORD
        and not query.agree
        and set(content_terms(query.words)) <= set(content_terms(query.payload.diagnosis))
    )


def image_word_queries(index: Index, folds: int, phrasing: str = DIAGNOSIS) -> list[Asked]:
    """Each sampled diagnosed image with agreeing and with conflicting words, typed as ``phrasing`` says; refused in
    one line when the index has no diagnosed image, only one diagnosis, or images no longer on disk."""
    images = diagnosed(index)
    if not images:
        raise BadInputError(f"--image-words: index {index.path} has no case image with a diagnosis to search for")
    spellings: dict[str, Payload] = {}
    for case in images.values():
        spellings.setdefault(diagnosis_key(case.diagnosis), case)
    chosen = sampled(images)
    fold = diagnosis_folds([diagnosis_key(case.diagnosis) for case in chosen.values()], folds)
    rarity = Rarity.of(index, [case.diagnosis for case in spellings.values()]) if phrasing != DIAGNOSIS else None
    typed = {DIAGNOSIS: None, WORD: rarity} if phrasing == BOTH else {phrasing: rarity}
    queries = []
    for rid, case in chosen.items():
        f = fold[diagnosis_key(case.diagnosis)]
        other = conflicting(rid, case, spellings)
        for how, known in typed.items():
            queries.append(Asked(rid, case, phrased(case.diagnosis, known), case.diagnosis, True, f, how))
            queries.append(Asked(rid, case, phrased(other, known), other, False, f, how))
    missing = [path for path in dict.fromkeys(query.path for query in queries) if not path.is_file()]
    if missing:
        raise BadInputError(
            f"--image-words: {len(missing)} of the index's {len(chosen)} sampled images are not on disk, e.g. "
            f"{missing[0]}: the bench searches with the images themselves"
        )
    return queries


def hashes_and_diagnoses(index: Index) -> tuple[dict[str, set[str]], dict[str, str | None]]:
    """Each image hash's records, and every record's diagnosis key: what gold and left-out copies are made of."""
    by_hash: dict[str, set[str]] = {}
    keys = {}
    for rid, stored in index.store.scan():
        payload = Payload.from_payload(stored)
        keys[rid] = diagnosis_key(payload.diagnosis)
        if payload.image_hash:
            by_hash.setdefault(payload.image_hash, set()).add(rid)
    return by_hash, keys


def left_out(query: Asked, by_hash: dict[str, set[str]]) -> set[str]:
    """The query image's own record and its byte-identical copies."""
    return {query.record_id, *by_hash.get(query.payload.image_hash or "", ())}


def searched(
    index: Index, queries: list[Asked], weights: Sequence[float | None], by_hash
) -> tuple[dict[Any, list[list[str]]], list[list[int]]]:
    """Each query's top ``CURVE_K`` record ids, its own image and copies left out: per words' weight (keyed by the
    weight; None: the search's own choice, what users get), for the image alone (``IMAGE``) and the words alone
    (``WORDS``, with its runs of tied scores: ``words_alone``). One ``find_many`` batch per image: its search alone
    and with each of its words at each weight, under a progress bar of the images (on a terminal only: the 120
    images of LC25000's tiles take minutes)."""
    searcher = Unquoted(index)
    out: dict[Any, list] = {key: [None] * len(queries) for key in (*weights, IMAGE)}

    def top(hits, query: Asked) -> list[str]:
        return [hit.id for hit in kept(hits, query, by_hash)][:CURVE_K]

    by_image: dict[str, list[int]] = {}
    for n, query in enumerate(queries):
        by_image.setdefault(query.record_id, []).append(n)
    for positions in progress(by_image.values(), total=len(by_image), desc=TASK, unit="image", leave=False):
        first = queries[positions[0]]
        image = open_image(first.path, index.settings.max_image_pixels, query=True)
        k = CURVE_K + len(left_out(first, by_hash))
        asked = [Query(text=queries[n].words, image=image, k=k, words_weight=w) for n in positions for w in weights]
        alone, *worded = [found.hits for found in searcher.find_many([Query(image=image, k=k), *asked])]
        for j, n in enumerate(positions):
            out[IMAGE][n] = top(alone, queries[n])
            for w, hits in zip(weights, worded[j * len(weights) : (j + 1) * len(weights)], strict=True):
                out[w][n] = top(hits, queries[n])
    out[WORDS], runs = words_alone(searcher, queries, by_hash)
    return out, runs


def words_alone(searcher: Unquoted, queries: list[Asked], by_hash) -> tuple[list[list[str]], list[list[int]]]:
    """Each query's words-alone (BM25) ranking, its own image and copies left out, through its tie at rank
    ``CURVE_K``, and the lengths of its runs of tied scores (``whole_ties``): LC25000's tiles of a class share one
    text, so BM25 ties hundreds of them, which record ids alone put in order (``figures`` scores a run at its expected
    value over every order)."""
    asked = [Query(text=query.words, k=CURVE_K + len(left_out(query, by_hash)), use=("bm25",)) for query in queries]
    ranked, runs = whole_ties(searcher, asked, lambda n, hits: kept(hits, queries[n], by_hash), f"{TASK}: {WORDS}")
    return [[hit.id for hit in hits] for hits in ranked], runs


def kept(hits: list[Hit], query: Asked, by_hash) -> list[Hit]:
    """The hits less the query image's own record and its copies (``left_out``)."""
    drop = left_out(query, by_hash)
    return [hit for hit in hits if hit.id not in drop]


def figures(
    ranked: list[list[str]],
    gold: list[set[str]],
    rows: Sequence[int],
    curve: bool = True,
    ties: list[list[int]] | None = None,
) -> dict[str, Any]:
    """A method's ``METRICS`` over the queries at ``rows``, with its recall curve (the plot's) where ``curve``.
    ``ties``: each query's runs of tied scores (``words_alone``), each scored at its expected value over every order
    of the run, not the order record ids gave it (all or none of a tied class in the top 5); None: no ties."""
    found = tied_figures(
        [ranked[i] for i in rows],
        [gold[i] for i in rows],
        [ties[i] for i in rows] if ties else None,
        MRR_DEPTH,
        precision_at=(TOP, MRR_DEPTH),
    )
    return shown_figures(found, curve)


def shown_figures(found: dict[str, Any], curve: bool = True) -> dict[str, Any]:
    """The ``METRICS`` of a method's figures and their intervals (``ci95``), with its recall curve where ``curve``."""
    shown = (*METRICS, "ci95", "curve") if curve else (*METRICS, "ci95")
    return {key: value for key, value in found.items() if key in shown}


def weight_per_fold(by_weight: dict[float, list[list[str]]], gold, folds: list[int], count: int) -> list[float]:
    """Each fold's weight, chosen on the other folds' queries alone: the best P@5, then top-1, then the smaller."""
    chosen = []
    for fold in range(count):
        rows = [i for i, f in enumerate(folds) if f != fold]
        scores = {w: figures(ranked, gold, rows, curve=False) for w, ranked in by_weight.items()}
        chosen.append(max(scores, key=lambda w: (scores[w]["precision@5"], scores[w]["recall@1"], -w)))
    return chosen


def chance_figures(queries: list[Asked], gold: list[set[str]], records: int, by_hash) -> dict[str, Any]:
    """Random rankings of the index's records less each query's own copies, P@5 and P@10 too, exactly (``chance``)."""
    sizes = [records - len(left_out(query, by_hash)) for query in queries]
    return shown_figures(chance(sizes, [len(g) for g in gold], mrr_depth=MRR_DEPTH, precision_at=(TOP, MRR_DEPTH)))


def query_groups(queries: list[Asked]) -> dict[str, list[int]]:
    """The query groups the breakdown shows: agreeing words, conflicting words, and each source folder's images."""
    out = {"agreeing words": [i for i, q in enumerate(queries) if q.agree]}
    out["conflicting words"] = [i for i, q in enumerate(queries) if not q.agree]
    if len(typed := {q.phrasing for q in queries}) > 1:
        out |= {f"typed: {how}": [i for i, q in enumerate(queries) if q.phrasing == how] for how in sorted(typed)}
    for name in sorted({Path(q.payload.source).name for q in queries}):
        out[name] = [i for i, q in enumerate(queries) if Path(q.payload.source).name == name]
    return out


def breakdown(ranked: dict[str, list[list[str]]], gold: list[set[str]], rows: list[int], ties) -> dict[str, Any]:
    """Every method's figures over one part of the queries (``query_groups``), without curves (``ties``: by method, as
    ``figures`` takes them)."""
    return {
        "n": len(rows),
        **{name: figures(lists, gold, rows, curve=False, ties=ties.get(name)) for name, lists in ranked.items()},
    }


def typed_words(queries: list[Asked]) -> dict[str, str]:
    """Each asked diagnosis (as spelled) and the words typed for it, by diagnosis: what the JSON shows a reader."""
    one = [q for q in queries if q.phrasing == WORD] or queries  # both phrasings: the diagnosis types itself
    return dict(sorted({q.asks: q.words for q in one}.items(), key=lambda pair: pair[0].casefold()))


def word_notes(posed: list[Asked], asked: list[Asked]) -> list[str]:
    """What the one-word phrasing did to the ``posed`` queries: the conflicting ones it left out (``asks_its_own``),
    and the words of the ``asked`` ones that stand for more than one diagnosis, whose queries stay."""
    notes = []
    if dropped := [q for q in posed if asks_its_own(q)]:
        notes.append(
            f"left out {len(dropped)} of {sum(not q.agree for q in posed)} conflicting queries whose word is a word of "
            f"the image's own diagnosis too (e.g. '{dropped[0].words}' beside {dropped[0].payload.diagnosis}): they "
            "conflict with nothing"
        )
    stands_for: dict[str, set[str]] = {}
    for q in asked:
        stands_for.setdefault(q.words.casefold(), set()).add(diagnosis_key(q.asks))
    if shared := {word: keys for word, keys in stands_for.items() if len(keys) > 1}:
        word = min(shared)
        named = ", ".join(sorted({q.asks for q in asked if q.words.casefold() == word}, key=str.casefold))
        notes.append(
            f"{len(shared)} typed word(s) stand for more than one diagnosis (e.g. '{word}': {named}): their queries "
            "stay, relevant is the diagnosis asked, the image telling which"
        )
    return notes


def by_weight(found: dict[Any, list[list[str]]], gold: list[set[str]]) -> dict[str, dict[str, float]]:
    """Every grid weight's figures over all queries (not held out), so one run compares the default with the others."""
    everyone = range(len(gold))
    return {f"{w:g}": figures(found[w], gold, everyone, curve=False) for w in GRID}


def image_words(
    index: Index, folds: int = FOLDS, runs: Path | None = None, phrasing: str = DIAGNOSIS
) -> dict[str, Any]:
    """The task's body as every retrieval task gives it (``n``, ``methods``, ``default``, ``baselines``,
    ``significance``, ``per_question``), with the weight each fold chose, each grid weight's figures, the phrasing
    of the words and a breakdown by words and source."""
    posed = image_word_queries(index, folds, phrasing)
    asked = [q for q in posed if not asks_its_own(q)]
    by_hash, keys = hashes_and_diagnoses(index)
    wanted = [{rid for rid, key in keys.items() if key == diagnosis_key(q.asks)} - left_out(q, by_hash) for q in asked]
    queries, gold = [q for q, g in zip(asked, wanted, strict=True) if g], [g for g in wanted if g]
    default_weight = float(index.settings.weight_words_image)
    found, tied = searched(index, queries, [None, *GRID], by_hash)
    fold_of = [q.fold for q in queries]
    chosen = weight_per_fold({w: found[w] for w in GRID}, gold, fold_of, folds)
    ranked = {
        DEFAULT: found[None],
        BEFORE: found[1.0],
        CHOSEN: [found[chosen[f]][i] for i, f in enumerate(fold_of)],
        IMAGE: found[IMAGE],
        WORDS: found[WORDS],
    }
    ties = {WORDS: tied}
    everyone = range(len(queries))
    methods = {name: figures(lists, gold, everyone, ties=ties.get(name)) for name, lists in ranked.items()}
    methods["chance"] = chance_figures(queries, gold, len(keys), by_hash)
    ids = [q.id for q in queries]
    first = {name: first_ranks(lists, gold, ties.get(name)) for name, lists in ranked.items()}
    body = {
        "n": len(queries),
        "split": "all",
        "mrr_depth": MRR_DEPTH,
        "headline": "precision@5",
        "methods": methods,
        "default": DEFAULT,
        "baselines": [BEFORE, CHOSEN, IMAGE, WORDS, "chance"],
        "words_weight": default_weight,
        "held_words_weight": HELD_WORDS_WEIGHT,
        "phrasing": phrasing,
        "typed_words": typed_words(queries),
        "weight_per_fold": {
            "grid": list(GRID),
            "chosen": chosen,
            "folds": folds,
            "by": "the query image's diagnosis",
            "by_weight": by_weight(found, gold),
        },
        "ties": ties_record(ties),
        "by_part": {part: breakdown(ranked, gold, rows, ties) for part, rows in query_groups(queries).items()},
        "significance": compare_runs(ids, gold, ranked, DEFAULT, metrics=SIGNIFICANCE, ties=ties, depth=MRR_DEPTH),
        "per_question": [
            {
                "id": q.id,
                "words": q.words,
                "asks": q.asks,
                "agree": q.agree,
                "fold": q.fold,
                "relevant": len(gold[i]),
                "first_relevant_rank": {name: ranks[i] for name, ranks in first.items()},
            }
            for i, q in enumerate(queries)
        ],
    }
    one = [q for q in posed if q.phrasing == WORD]
    notes = word_notes(one, [q for q in asked if q.phrasing == WORD]) if one else []
    if unanswerable := len(asked) - len(queries):
        notes.append(
            f"left out {unanswerable} of {len(asked)} queries asking a diagnosis no other record has (an image's "
            "own, held by it and its byte copies alone): nothing could answer them"
        )
    if notes:
        body["notes"] = notes
    if runs is not None:
        written = write_trec(runs, ids, gold, ranked, fold_of, per_fold=[CHOSEN], task=TASK, ties=ties)
        body["runs"] = [str(path) for path in written]
    return {TASK: body}
