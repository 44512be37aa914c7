"""Ranking metrics, and paired tests of two rankers on the same queries, as pure functions."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")
CUTOFFS = (1, 5, 10)


def first_relevant_rank(ranked: Sequence[T], is_relevant: Callable[[T], bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((rank for rank, item in enumerate(ranked, start=1) if is_relevant(item)), None)


def expected_recall_and_mrr(
    chances: Sequence[dict[int, float]], cutoffs: Sequence[int] = CUTOFFS, depth: int | None = None
) -> dict[str, float]:
    """Recall@k and MRR (MRR@``depth`` where given) from each query's ``first_rank_chances``: their expected values
    where tied scores leave the order open, the plain figures where each first rank is certain."""
    n = len(chances)
    if n == 0:
        return {**{f"recall@{k}": 0.0 for k in cutoffs}, "mrr": 0.0}
    depth = depth or max((rank for ranks in chances for rank in ranks), default=0)
    out = {f"recall@{k}": sum(expected_recall(ranks, k) for ranks in chances) / n for k in cutoffs}
    out["mrr"] = sum(expected_reciprocal_rank(ranks, depth) for ranks in chances) / n
    return out


def first_rank_chances(runs: list[tuple[int, int]], depth: int) -> dict[int, float]:
    """Each rank's chance, up to ``depth``, of being the first relevant one, over every order of the ties: ``runs``
    are a ranking's runs of tied items as (size, relevant among them), best first. Within the first run holding any
    (``r`` relevant of ``g``, after ``p`` items) the first relevant item lies at ``p + j`` with chance
    C(g - j, r - 1) / C(g, r); a run of one is its rank for certain."""
    placed = 0
    for size, relevant in runs:
        if relevant:
            chances = first_in_tie(size, relevant, min(size - relevant + 1, depth - placed))
            return {placed + j: chance for j, chance in enumerate(chances, start=1)}
        placed += size
    return {}


def first_in_tie(size: int, relevant: int, last: int) -> list[float]:
    """C(g - j, r - 1) / C(g, r) for j = 1..``last`` (``relevant`` r of ``size`` g): r / g at j = 1, then each from the
    one before by their ratio (g - j - r + 1) / (g - j), without big integers (a random ranking is a tie of the whole
    gallery: C(1089, 299) for each of 1,089 ranks would take 20 ms a query)."""
    if last < 1:
        return []
    j = np.arange(1, last)
    ratios = (size - j - relevant + 1) / (size - j)
    return (relevant / size * np.concatenate(([1.0], np.cumprod(ratios)))).tolist()


def expected_recall(chances: dict[int, float], k: int) -> float:
    """A query's chance (``first_rank_chances``) of a relevant item in its top ``k``: its expected recall@k."""
    return sum(p for rank, p in chances.items() if rank <= k)


def expected_reciprocal_rank(chances: dict[int, float], depth: int) -> float:
    """A query's expected reciprocal rank over its ``first_rank_chances``, a first relevant item below ``depth``
    counting as none: its expected MRR@depth."""
    return sum(p / rank for rank, p in chances.items() if rank <= depth)


def expected_share(runs: list[tuple[int, int]], k: int) -> float:
    """A query's expected share of its top ``k`` that is relevant, over every order of its ties (``runs`` as
    ``first_rank_chances`` takes them): a run straddling the cut gives its share of relevant items times the places left
    to it, where the record ids' order would give all or none."""
    found, placed = 0.0, 0
    for size, relevant in runs:
        places = min(size, k - placed)
        if places <= 0:
            break
        found, placed = found + relevant * places / size, placed + places
    return found / k


def expected_precision(runs: list[list[tuple[int, int]]], k: int) -> float:
    """Mean of ``expected_share`` over rankings: precision@k at its expected value over every order of the ties, of
    the queries, or of one query over the ways its ties can fall (``ruled_ways``)."""
    return float(np.mean([expected_share(query, k) for query in runs])) if runs else 0.0


def mean_chances(chances: list[dict[int, float]]) -> dict[int, float]:
    """A query's ``first_rank_chances`` over equally likely ways its ties can fall (``ruled_ways``), each way's
    chances given: their mean, rank by rank (one way's as they are)."""
    if len(chances) == 1:
        return chances[0]
    merged: dict[int, float] = {}
    for way in chances:
        for rank, chance in way.items():
            merged[rank] = merged.get(rank, 0.0) + chance / len(chances)
    return merged


def expected_first_rank(runs: list[tuple[int, int]]) -> int | float | None:
    """The rank of a query's first relevant item (``runs`` as ``first_rank_chances`` takes them): an int where it is
    certain (a run of one, or of relevant items alone), else its expected value over the orders of its tie, ``p +
    (g + 1) / (r + 1)`` for ``r`` relevant of ``g`` tied after ``p`` items (a fraction, as 1.5 for one of two);
    None when no run holds one."""
    placed = 0
    for size, relevant in runs:
        if relevant:
            return placed + 1 if relevant == size else placed + (size + 1) / (relevant + 1)
        placed += size
    return None


def tie_runs(scores: Sequence[Hashable]) -> list[int]:
    """The lengths of a ranking's runs of equal scores, in order: what ``tied_runs`` takes as ``sizes``. A score may be
    a tuple, as (verified, fused score), where more than one number orders the ranking."""
    return [len(list(run)) for _, run in itertools.groupby(scores)]


class Ways(list):
    """The runs of tied scores of a ranking whose tied items a rule after the scores read or moved apart: their
    lengths in the order shown (the rule on the order given), which a TREC run writes with one score each, and
    ``ways``, each way the ties can fall (equally likely, ``ruled_ways``) as (items, lengths of its runs of tied items),
    which the figures count."""

    def __init__(self, sizes: list[int], ways: list[tuple[list, list[int]]]):
        super().__init__(sizes)
        self.ways = ways


MAX_WAYS = 100_000
"""Ways a ranking's ties may fall that ``ruled_ways`` enumerates, at most: a pair of tied hits that differ (in
relevance, or in what the rule reads) falls two ways; twelve such pairs, 4,096."""
SAMPLED_WAYS = 2_000
"""Past ``MAX_WAYS`` (twenty look-alike slides of twenty diagnoses, say, tie 20! ways), how many orders of the tied
runs ``ruled_ways`` draws at random (seed 0) instead: each permutation of a run as likely, as under a random order."""


def ruled_ways(
    sizes: list[int],
    signatures: Sequence[Hashable],
    touched: Sequence[bool],
    rule: Callable[[list[int]], list[tuple[int, Hashable]]],
) -> list[tuple[list[int], list[int]]]:
    """Every way a ranking's ties can fall once ``rule`` reorders it, each as likely: where a rule after the scores
    reads or splits a run of tied items (the sections' first pages, the diagnosis vote), the order the run was given
    in decides, and the run counts at its expected value only over every order of it.

    The items are positions in the order given, in runs of tied scores ``sizes``. The ``touched`` runs are taken in
    each of their distinct orders (``arrangements``: items of one ``signature``, alike to the rule and in relevance,
    interchangeable), the others as given; ``rule`` maps each such order to the new one, each position with the piece
    of its run it landed in (a rule must keep an untouched run's items of one piece side by side, in the order given,
    and must not read their order). Returns each way's positions in the new order and its runs still tied: an untouched
    run's items of one piece; a touched run's items each alone, as their signature fixes their relevance. Refused past
    ``MAX_WAYS``, ``SAMPLED_WAYS`` orders drawn at random stand for them."""
    starts = np.cumsum([0, *sizes]).tolist()
    runs = [list(range(start, start + size)) for start, size in zip(starts[:-1], sizes, strict=True)]
    alike = [[signatures[p] for p in run] if hit else None for run, hit in zip(runs, touched, strict=True)]
    if math.prod(order_count(group) for group in alike if group) > MAX_WAYS:
        draw, pairs = np.random.default_rng(0), list(zip(runs, alike, strict=True))
        orders = (
            [draw.permutation(len(run)).tolist() if group else list(range(len(run))) for run, group in pairs]
            for _ in range(SAMPLED_WAYS)
        )
    else:
        choices = [
            arrangements(group) if group else [list(range(len(run)))] for run, group in zip(runs, alike, strict=True)
        ]
        orders = itertools.product(*choices)
    run_of = [n for n, run in enumerate(runs) for _ in run]
    ways = []
    for chosen in orders:
        moved = rule([run[j] for run, order in zip(runs, chosen, strict=True) for j in order])
        keys = [("alone", p) if touched[run_of[p]] else (run_of[p], piece) for p, piece in moved]
        ways.append(([p for p, _ in moved], tie_runs(keys)))
    return ways


def order_count(signatures: Sequence[Hashable]) -> int:
    """How many distinct orders ``arrangements`` gives: n! over each signature's count's factorial."""
    return math.factorial(len(signatures)) // math.prod(map(math.factorial, Counter(signatures).values()))


def arrangements(signatures: Sequence[Hashable]) -> list[list[int]]:
    """Each distinct order of items known by their ``signatures`` alone (alike items interchangeable), as their
    positions: under a random order of the items each is equally likely."""
    alike: dict[Hashable, list[int]] = {}
    for position, signature in enumerate(signatures):
        alike.setdefault(signature, []).append(position)

    def orders(left: dict[Hashable, list[int]]) -> list[list[int]]:
        if not any(left.values()):
            return [[]]
        return [
            [positions[0], *rest]
            for signature, positions in left.items()
            if positions
            for rest in orders({**left, signature: positions[1:]})
        ]

    return orders(alike)


def tied_runs(items: list, sizes: list[int] | None, gold: set) -> list[tuple[int, int]]:
    """A ranking's runs of tied items as (size, relevant among them), best first: ``sizes`` gives each run's length
    in ``items``' order; None: no ties, each item a run of its own."""
    sizes = sizes if sizes is not None else [1] * len(items)
    starts = np.cumsum([0, *sizes]).tolist()
    return [
        (size, sum(item in gold for item in items[at : at + size])) for at, size in zip(starts[:-1], sizes, strict=True)
    ]


EXACT_MCNEMAR = "exact McNemar"
EXACT_FLIPS = "randomization (exact)"
EXACT_FLIPS_UP_TO = 20
"""Differing queries up to which the randomization test enumerates every sign flip (2**20, about a million sums);
beyond, it draws ``RANDOM_FLIPS`` of them."""
RANDOM_FLIPS, FLIP_SEED = 100_000, 0
FLIP_CHUNK = 10_000
"""Random flips drawn at once (``sign_flip_p``): 10,000 by 347 queries is 28 MB."""
SAME_SUM = 1e-9
"""How close a flipped sum may come to the observed one and count as reaching it: the same sum added in another order
differs in its last bits."""


def paired_p(mine: np.ndarray, theirs: np.ndarray) -> tuple[float, str]:
    """Two-sided p that two methods score the same, from each query's score under both, and the test that gave it:
    where every score is 0 or 1 (recall@k, hit@k as ranked) the exact McNemar test on the queries that differ; else
    (MRR, precision, a recall counted at its expected value over tied scores) the paired randomization test
    (``sign_flip_p``). Not Student's t: on 0/1 scores its normal approximation gave 5 gains and no loss p 0.02
    (exactly 0.0625)."""
    if np.isin(mine, (0, 1)).all() and np.isin(theirs, (0, 1)).all():
        return exact_mcnemar_p(int(np.sum(mine > theirs)), int(np.sum(mine < theirs))), EXACT_MCNEMAR
    return sign_flip_p(np.asarray(mine, float) - np.asarray(theirs, float))


def exact_mcnemar_p(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p: of the ``gained + lost`` queries (or questions) whose 0/1 score differs, how likely a
    split at least this uneven is if each went either way with chance 1/2 (the binomial sign test; 1.0 when none
    differs)."""
    if gained < 0 or lost < 0:
        raise ValueError(f"counts of questions cannot be negative: gained {gained}, lost {lost}")
    return min(1.0, 2 * sign_tail(max(gained, lost), gained + lost))


def sign_tail(at_least: int, changed: int) -> float:
    """How likely ``at_least`` of ``changed`` differences, or more, went one way if each went either way with chance
    1/2: the sign test's one-sided tail (``exact_mcnemar_p`` doubles the larger side's)."""
    return sum(math.comb(changed, j) for j in range(at_least, changed + 1)) / 2**changed


def sign_flip_p(
    differences: np.ndarray, exact_up_to: int = EXACT_FLIPS_UP_TO, flips: int = RANDOM_FLIPS, seed: int = FLIP_SEED
) -> tuple[float, str]:
    """The paired randomization (sign-flip) test of per-query ``differences``: how often flipping their signs at
    random sums them at least as far from 0 as they are; with none differing the methods cannot be told apart (p 1).
    Exact over every flip up to ``exact_up_to`` differing queries, else over ``flips`` draws seeded by ``seed``,
    counted with the observed flip ((hits + 1) / (flips + 1): never p 0 from a finite draw). Returns p and the test's
    name, which says which."""
    differing = differences[np.abs(differences) > SAME_SUM]
    reach = abs(differing.sum()) - SAME_SUM
    if differing.size <= exact_up_to:
        half = differing.size // 2
        sums = np.add.outer(flipped_sums(differing[:half]), flipped_sums(differing[half:]))
        return float(np.mean(np.abs(sums) >= reach)), EXACT_FLIPS
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, flips, FLIP_CHUNK):
        signs = 2 * rng.integers(0, 2, size=(min(FLIP_CHUNK, flips - start), differing.size), dtype=np.int8) - 1
        hits += int(np.sum(np.abs(signs @ differing) >= reach))
    return (hits + 1) / (flips + 1), f"randomization ({flips:,} flips, seed {seed})"


def flipped_sums(values: np.ndarray) -> np.ndarray:
    """The sum of ``values`` under each of the 2**n ways to flip their signs: half the enumeration ``sign_flip_p``
    adds to the other half's (2**10 + 2**10 sums, then their 2**20 totals, not 2**20 rows of 20 signs: 160 MB)."""
    signs = 1 - 2 * ((np.arange(2**values.size)[:, None] >> np.arange(values.size)) & 1)
    return signs @ values


INTERVAL_RESAMPLES, INTERVAL_SEED = 10_000, 0
"""Bootstrap draws of ``mean_interval`` and their seed: fixed, so a rerun prints the same interval."""
INTERVALS = (
    "95% intervals over queries: Wilson's where every query scores 0 or 1, else the percentile bootstrap of the mean "
    f"({INTERVAL_RESAMPLES:,} resamples of the queries, seed {INTERVAL_SEED})"
)
"""How ``mean_interval`` reaches an interval, as tables and JSON say it."""


def mean_interval(
    scores: Sequence[float], resamples: int = INTERVAL_RESAMPLES, seed: int = INTERVAL_SEED
) -> tuple[float, float]:
    """95% interval of a mean score over queries (``INTERVALS``): Wilson's for 0/1 scores, whose bootstrap collapses
    to a point when all agree (13 of 13 found is not certainty); else the fixed-seed percentile bootstrap (expected
    values over ties, MRR, precision). (0, 0) with no query."""
    values = np.asarray(scores, dtype=float)
    if not values.size:
        return 0.0, 0.0
    if np.isin(values, (0, 1)).all():
        return wilson(int(values.sum()), values.size)
    means = values[np.random.default_rng(seed).integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``successes`` / ``n``: inside [0, 1], not of zero width at 0 or n, and
    holding the proportion itself, which rounding could leave out (60 of 60: an upper bound of 0.9999999999999999, a
    negative error bar the plot would refuse); (0, 0) for n 0."""
    if n == 0:
        return 0.0, 0.0
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return min(share, max(0.0, centre - half)), max(share, min(1.0, centre + half))


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else 0.0
