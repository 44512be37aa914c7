"""The indexed images a question may not see: its own, and with ``--exclude-case`` its case's and its near-copies."""

from __future__ import annotations

from pathlib import Path

from pathatlas.retrieval.datasets import near_duplicate_groups, own_case_ids
from pathatlas.retrieval.index import Index


def query_image_ids(index: Index) -> dict[str, str]:
    """Absolute image path -> record id of indexed case images, so a question never sees its own image."""
    return {str(Path(p["source"]) / p["image"]): rid for rid, p in index.store.scan({"kind": "case"}) if p.get("image")}


def caseless_images(index: Index) -> dict[str, str]:
    """Absolute image path -> record id of indexed case images that are their own case (given no case id,
    ``case_ids`` names them by their file's stem or path: ``own_case_ids``), such as LC25000's tiles:
    ``--exclude-case`` has no case to keep out for them. Images gone from disk since they were indexed are left out:
    their pixels cannot be compared."""
    images = {
        Path(p["source"]) / p["image"]: rid
        for rid, p in index.store.scan({"kind": "case"})
        if p.get("image") and p.get("case") in own_case_ids(p["image"])
    }
    return {str(path): rid for path, rid in images.items() if path.is_file()}


def near_copies(questions: list[str], indexed: dict[str, str]) -> dict[str, set[str]]:
    """Question image path -> record ids of the ``indexed`` images in its near-duplicate group
    (``near_duplicate_groups``: the same tissue turned, mirrored or zoomed, as LC25000 augmented 250 originals per
    class into its tiles), each question's own image among them where it is indexed."""
    if not questions:
        return {}
    paths = list(dict.fromkeys([*indexed, *questions]))
    members: dict[int, set[str]] = {}
    groups = near_duplicate_groups([Path(path) for path in paths])
    for path, group in zip(paths, groups, strict=True):
        if path in indexed:
            members.setdefault(group, set()).add(indexed[path])
    of_path = dict(zip(paths, groups, strict=True))
    return {path: members.get(of_path[path], set()) for path in questions}


def case_record_ids(index: Index) -> dict[str, set[str]]:
    """Case id -> record ids of its indexed images (``--exclude-case``)."""
    cases: dict[str, set[str]] = {}
    for rid, payload in index.store.scan({"kind": "case"}):
        if payload.get("case"):
            cases.setdefault(str(payload["case"]), set()).add(rid)
    return cases
