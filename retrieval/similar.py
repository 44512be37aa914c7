"""More like this record: search with the vectors the index already holds for it, so nothing is re-encoded
(no model loads, nothing is uploaded again).

Image records (figures, case images, image-only pages) search the image spaces (``visual``, ``joint``);
a record without image vectors searches with whatever it has (its text vectors). Each space is one ranker,
fused by the same weighted RRF as a query, and a case image's stored keypoints verify candidates as the same
specimen as a query image's do. The record itself and, for a case, its sibling images are left
out: the user is looking at them already. Nor is there a diagnosis vote (``fusion.majority_next``): the record's own
diagnosis is in view, and a reader comparing it wants look-alikes of any diagnosis.
"""

from __future__ import annotations

from pathatlas.errors import BadInputError
from pathatlas.retrieval.records import Hit, Payload
from pathatlas.retrieval.search import (
    AGREEMENT_DEPTH,
    Searcher,
    resolve_filters,
    whole_number,
    with_agreement,
    with_relative,
)
from pathatlas.retrieval.stores.base import Filters, stored_vectors

IMAGE_SPACES = ("visual", "joint")


def similar(searcher: Searcher, record_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
    index, settings = searcher.index, searcher.settings
    whole_number(k, "k", 1)
    filters = resolve_filters(filters or {}, index)  # as a query's: checked, then as the stores take them
    stored = stored_vectors(index.store, [record_id]).get(record_id)
    payload = Payload.from_payloads(index.store.payloads([record_id])).get(record_id)
    if stored is None or payload is None:
        raise BadInputError(f"no record {record_id!r} in index {index.path}")
    if not stored:
        raise BadInputError(f"record {record_id!r} has no stored vectors to compare with")
    spaces = [s for s in IMAGE_SPACES if s in stored] or sorted(stored)
    same = {record_id}
    if payload.case is not None:
        same |= {rid for rid, _ in index.store.scan({"source": payload.source, "case": payload.case})}
    pool = settings.candidates + len(same)
    rankings = {}
    for space in spaces:
        found = index.store.search(space, stored[space][None, :], pool, filters)[0]  # a batch of one
        rankings[f"{space}:image" if space in IMAGE_SPACES else space] = [(r, s) for r, s in found if r not in same]
    fused = searcher.fuse(rankings, lambda: index.keypoints(record_id))
    shown = fused[: max(k, AGREEMENT_DEPTH)]
    payloads = Payload.from_payloads(index.store.payloads([rid for rid, _, _ in shown]))
    hits = [
        searcher.make_hit(rid, score, ranks, payloads[rid], None) for rid, score, ranks in fused[:k] if rid in payloads
    ]
    if any(space in IMAGE_SPACES for space in spaces):  # its look-alikes' badges, as an image query's
        with_agreement(hits, fused[:AGREEMENT_DEPTH], payloads)
    return with_relative(hits, [score for _, score, _ in fused])
