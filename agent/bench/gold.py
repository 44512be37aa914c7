"""What a question's gold evidence is, whether its evidence holds it and by what chance, and golds an index lacks."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pathatlas.agent.bench.items import MODES, Item
from pathatlas.agent.questions import Evidence
from pathatlas.errors import BadInputError
from pathatlas.retrieval.bench.common import on_gold_page
from pathatlas.retrieval.bench.pages import check_gold_sources
from pathatlas.retrieval.datasets import METADATA_FILES
from pathatlas.retrieval.index import Index


def check_sources(items: list[Item], index: Index, path: Path, modes: Sequence[str] = MODES) -> None:
    """Refuse questions whose gold book or gold pages the index does not hold, as text to page does
    (``check_gold_sources``), and questions of cases none of whose golds it holds (``check_gold_cases``): their
    evidence hit@5 could only be 0. Not where no mode of ``modes`` searches: no-rag reads no evidence, so a run of it
    alone needs no gold in the index (every other mode searches: rag, agentic, and ``bench mcp``'s mcp)."""
    if not set(modes) - {"no-rag"}:
        return
    check_gold_sources(index, [(i.id, i.gold) for i in items], path)
    check_gold_cases(items, index, path)


def check_gold_cases(items: list[Item], index: Index, path: Path) -> None:
    """Refuse in one line questions whose gold names a case or diagnosis (``image_mcq_dev.jsonl``'s atlas slides and
    LC25000 tiles) when the index holds none of their cases and none of their diagnoses: an index of a book alone
    reported hit@5 0.000 and accuracy 0.000 as if measured. One found is enough: a file of atlas and tile questions
    runs on an index of both, or of either (the run notes the questions whose gold evidence it lacks:
    ``unfound_note``)."""
    named = [i for i in items if not i.gold.get("pdf_pages") and (i.gold.get("case") or i.gold.get("diagnosis"))]
    if not named:
        return
    cases = {str(case) for case in index.store.value_counts("case") if case}
    diagnoses = {str(d).lower() for d in index.store.value_counts("diagnosis") if d}
    if any(i.gold.get("case") in cases or str(i.gold.get("diagnosis")).lower() in diagnoses for i in named):
        return
    first = named[0]
    gold = ", ".join(f"{name} {first.gold[name]!r}" for name in ("case", "label", "diagnosis") if first.gold.get(name))
    held = f"its {len(cases)} cases are others" if cases else "it holds no case images"
    folders = case_folders([i.image_path for i in named if i.image_path])
    raise BadInputError(
        f"{path}: the index holds none of the gold cases and diagnoses of its {len(named)} questions that name one "
        f"(first {first.id!r}: {gold}); {held}, so their evidence hit@5 could only be 0: index the case folder their "
        f"images come from (pathatlas index {' '.join(map(str, folders)) or 'FOLDER'} --index {index.path})"
    )


def case_folders(images: list[Path]) -> list[Path]:
    """The case folders (a folder holding ``cases.jsonl`` or ``labels.csv``, the nearest above each image) these
    images come from, in order: what a refusal tells a user to index."""
    found = (
        next(
            (folder for folder in image.resolve().parents if any((folder / n).is_file() for n in METADATA_FILES)), None
        )
        for image in images
    )
    return list(dict.fromkeys(folder for folder in found if folder))


EVIDENCE_K = 5
"""How many evidence items evidence hit@5 looks at, and its chance draws (``hit_chance``)."""


class GoldKey(NamedTuple):
    """What tells a record to be gold evidence (``gold_test``): its source and page, its case and its diagnosis."""

    source: str
    page: int | None
    case: str | None
    diagnosis: str | None


def evidence_key(evidence: Evidence) -> GoldKey:
    """An evidence item's ``GoldKey``: its page as cited (an MCP answer's evidence carries its case alone)."""
    return GoldKey(evidence.citation.source, evidence.citation.page, evidence.payload.case, evidence.payload.diagnosis)


def record_key(payload: dict[str, Any]) -> GoldKey:
    """A stored record's ``GoldKey``, as its hit would be cited."""
    return GoldKey(payload["source"], payload.get("page"), payload.get("case"), payload.get("diagnosis"))


def gold_test(gold: dict[str, Any], case_excluded: bool = False) -> Callable[[GoldKey], bool] | None:
    """How a record is told to be a question's gold evidence: on a gold page, else of the gold case, else of the gold
    diagnosis; None where its gold names none of them. ``case_excluded``: the gold case was kept out of the evidence,
    so another case of the gold diagnosis is gold. One test for the evidence (``evidence_hit``) and the index
    (``gold_units``), so hit@5 and its chance count alike."""
    if gold.get("pdf_pages"):
        return lambda key: on_gold_page(gold, key.source, key.page)
    if gold.get("case") and not case_excluded:
        return lambda key: key.case == gold["case"]
    if diagnosis := str(gold.get("diagnosis") or "").lower():
        return lambda key: str(key.diagnosis or "").lower() == diagnosis
    return None


def evidence_hit(item: Item, evidence: list[Evidence], k: int = EVIDENCE_K, case_excluded: bool = False) -> bool | None:
    """Is gold evidence (``gold_test``: a gold page, the gold case, or the gold diagnosis) among the top k? None if no
    gold."""
    is_gold = gold_test(item.gold, case_excluded)
    if is_gold is None:
        return None
    return any(is_gold(evidence_key(e)) for e in sorted(evidence, key=lambda e: e.rank)[:k])


def evidence_units(records: Iterable[tuple[str, dict[str, Any]]]) -> Counter[GoldKey]:
    """How many evidence items the stored ``records`` (id, payload) make, per ``GoldKey``, as a search gives them: a
    page's records (its page, passages and figures) fold into one hit of the page, and a record without a page (a
    case image) is one of its own. Evidence hit@5 looks at such items, so its chance draws them: drawn as records, a
    page of many passages would count many times."""
    keys = ((rid, record_key(payload)) for rid, payload in records)
    units = {(key.source, key.page) if key.page is not None else rid: key for rid, key in keys}
    return Counter(units.values())


def gold_units(is_gold: Callable[[GoldKey], bool], units: Counter[GoldKey]) -> int:
    """How many evidence items (``units``: items per ``GoldKey``, ``evidence_units``) count as gold by ``is_gold``."""
    return sum(n for key, n in units.items() if is_gold(key))


def hit_chance(units: int, gold: int, k: int = EVIDENCE_K) -> float:
    """The chance of evidence hit@k: the probability that k evidence items (``evidence_units``) drawn at random,
    without replacement, from the ``units`` a question may see hold at least one of the ``gold`` among them
    (hypergeometric): 1 - C(units - gold, k) / C(units, k), with k at most ``units`` (all drawn: 1 where one is
    gold). Where any record of a diagnosis counts (an LC25000 tile of 3 balanced classes) five random tiles hold one
    about 1 - (2/3)^5 = 0.87 of the time, and a hit@5 near that measures little."""
    draws = min(k, units)
    if not draws:
        return 0.0
    return 1 - math.comb(units - gold, draws) / math.comb(units, draws)


def own_case_evidence(item: Item, evidence: list[Evidence]) -> int | None:
    """How many evidence items come from the question's own case (``gold.case``, as the index's ``payload.case``):
    other images of the very slide or patient, which answer an image question by recognition, not by reasoning.
    None without a gold case."""
    case = item.gold.get("case")
    return sum(e.payload.case == case for e in evidence) if case else None
