"""A case index's own image vectors, measured by ``bench retrieval --cases FOLDER --index IDX`` instead of encoding
the folder's images again: the vectors the index's searches compare (a downsized view of each image, encoded when it
was indexed, perhaps by an encoder revision since replaced), which a fresh encoding of the files need not equal.

An image's stored vectors are used only for a case record of the same bytes (``Payload.image_hash``), so an image
changed, added or left unindexed since is refused, never measured through another image's vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import ImageItem
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import image_hash
from pathatlas.retrieval.stores.base import stored_vectors

CASE_RECORDS = {"kind": "case"}


class StoredImages:
    """The case images an index holds, by the hash indexing took of each file's bytes (``image_hash``)."""

    def __init__(self, index: Index):
        self.index = index
        self.by_hash = {
            payload["image_hash"]: record_id
            for record_id, payload in index.store.scan(CASE_RECORDS)
            if payload.get("image_hash")
        }

    def vectors(self, items: list[ImageItem], spaces: tuple[str, ...], where: Path) -> dict[str, np.ndarray]:
        """Each of ``spaces``' vectors of ``items``, a row each, as the index stores them for a case image of the same
        bytes; refused in one line naming the folder (``where``) where it holds none for some item, or lacks a space
        of one."""
        ids = [self.by_hash.get(image_hash(item.path.read_bytes())) for item in items]
        if missing := [item.path for item, record_id in zip(items, ids, strict=True) if record_id is None]:
            raise BadInputError(f"--cases {where} --index {self.index.path}: {unheld(missing, len(items))}")
        found = stored_vectors(self.index.store, list(dict.fromkeys(ids)))
        lacking = [(space, rid) for rid in ids for space in spaces if space not in found.get(rid, {})]
        if lacking:
            raise BadInputError(
                f"--cases {where} --index {self.index.path}: {len(lacking)} stored image vectors are missing, e.g. "
                f"{lacking[0][0]} of record {lacking[0][1]}"
            )
        return {space: np.stack([found[rid][space] for rid in ids]).astype(np.float32) for space in spaces}

    def note(self, count: int) -> str:
        """What a task measured on stored vectors says of them."""
        return (
            f"image vectors read from the index {self.index.path} ({count} images, each matched to a case record of "
            "the same bytes), not encoded: the figures are the index's own"
        )


def unheld(missing: list[Path], total: int) -> str:
    """Why a folder's images (``total``, ``missing`` of them unheld) cannot be measured on an index, and what to do."""
    if len(missing) == total:
        return (
            f"the index holds none of the folder's {total} images: give an index of this folder, or run --cases "
            "without --index to encode them"
        )
    return (
        f"the index holds no case image with the bytes of {len(missing)} of the {total} images, e.g. {missing[0]} "
        "(added or changed since it was indexed?): index the folder again, or run --cases without --index to encode "
        "them"
    )
