"""The ``VectorStore`` protocol: records with named vectors per space and a payload."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pathatlas.errors import PathAtlasError
from pathatlas.plugins import public_calls
from pathatlas.retrieval.records import FILTER_FIELDS, StoredVectors
from pathatlas.retrieval.text import ascii_folded, normalise
from pathatlas.settings import Settings

Filters = Mapping[str, Any]
"""Payload field to a value, or to a list of accepted values; all fields must match."""

ScoredIds = list[tuple[str, float]]


CASELESS_FIELDS = frozenset({"diagnosis", "organ"})
"""Text fields a filter matches whatever the case or accents of either side (``organ=Lung`` finds "lung" and "LUNG",
``organ=pulmon`` finds "pulmón"), by ``str.casefold`` and ``text.ascii_folded``."""
FOLDED_FIELDS = CASELESS_FIELDS | {"section"}
"""Text fields a filter matches in whichever Unicode form either side is written (``text.normalise``: a Mac's
decomposed "Etiología" is the composed one); other fields (kinds, source keys, case ids, fingerprints) match exactly."""


def fold(field: str, value: Any) -> Any:
    """``value`` as ``matches`` compares it in ``field``: normalised text in ``FOLDED_FIELDS``, also without case or
    accents in ``CASELESS_FIELDS``; else as it is."""
    if field not in FOLDED_FIELDS or not isinstance(value, str):
        return value
    text = normalise(value)
    return ascii_folded(text).casefold() if field in CASELESS_FIELDS else text


def matches(payload: Mapping[str, Any], filters: Filters | None) -> bool:
    """Equality filter shared by every store and the lexical index, so they agree exactly.

    A filter value may be one value or a list of accepted ones; a payload value that is a list (a case with two
    organs) matches when any of its items does, as Qdrant matches a payload array. ``FOLDED_FIELDS`` are compared
    as ``fold`` writes them.
    """
    if not filters:
        return True
    for field, wanted in filters.items():
        value = payload.get(field)
        values = value if isinstance(value, list | tuple) else [value]
        accepted = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if field in FOLDED_FIELDS:
            values, accepted = [fold(field, v) for v in values], [fold(field, v) for v in accepted]
        if not any(v in accepted for v in values):
            return False
    return True


def filter_key(filters: Filters | None) -> tuple:
    """A hashable, order-free form of ``filters``: queries with equal keys can share one store call."""
    if not filters:
        return ()
    return tuple(
        sorted(
            (field, tuple(sorted(map(repr, w))) if isinstance(w, list | tuple | set) else repr(w))
            for field, w in filters.items()
        )
    )


def group_by_filters(filters: list[Filters | None]) -> list[list[int]]:
    """Positions of ``filters`` grouped by equal filters, so each group is one store call."""
    groups: dict[tuple, list[int]] = {}
    for position, f in enumerate(filters):
        groups.setdefault(filter_key(f), []).append(position)
    return list(groups.values())


def _hashable(value: Any) -> Any:
    if isinstance(value, list):  # a payload list (a case's organs): as a tuple, which ``matches`` reads item by item
        value = tuple(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def grow(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` with room for ``size`` items (doubling, so appends stay amortised O(1))."""
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array), 1024), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class FieldCodes:
    """Per filter field, an int32 code per row: a filter becomes a bool mask by numpy, not a Python loop.

    Equality is ``matches``'s (dict lookup compares with ``==`` like ``in`` does); code 0 is a
    missing field (``None``). A payload list is one value (a tuple); in a field holding lists, and in
    ``FOLDED_FIELDS``, a filter accepts the codes of every distinct value ``matches`` accepts.
    """

    def __init__(self, fields: tuple[str, ...] = FILTER_FIELDS):
        self.codes = {field: np.zeros(0, dtype=np.int32) for field in fields}
        self.values: dict[str, dict[Any, int]] = {field: {None: 0} for field in fields}
        self.listed: set[str] = set()
        """Fields some payload gave a list (or another unhashable value)."""
        self.folds: dict[str, tuple[int, dict[Any, list[int]]]] = {}
        """Per field of ``FOLDED_FIELDS`` or ``listed``: how many of its distinct values are folded, and each fold (of a
        value, or of an item of a list) to the codes holding it (``_codes_by_fold``)."""
        self._folding = threading.Lock()
        """Held while values are folded: searches sharing a store's read lock (FAISS) meet here, and two folding the
        same new values at once listed their codes twice."""

    def put(self, rows: np.ndarray, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Codes of ``payloads`` at ``rows``: per field one pass of dict lookups and one array write."""
        if not len(rows):
            return
        size = int(rows.max()) + 1
        for field, values in self.values.items():
            codes = self.codes[field] = grow(self.codes[field], size)
            column = [payload.get(field) for payload in payloads]
            try:
                codes[rows] = [values.setdefault(value, len(values)) for value in column]
            except TypeError:  # an unhashable value: a list as a tuple, anything else by its repr
                codes[rows] = [values.setdefault(_hashable(value), len(values)) for value in column]
                self.listed.add(field)

    def mask(self, field: str, wanted: Any, size: int) -> np.ndarray | None:
        """Rows ``< size`` whose ``field`` is ``wanted`` (or one of them); None for a field without codes."""
        if field not in self.codes:
            return None
        accepted = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        values = self.values[field]
        if field in FOLDED_FIELDS or field in self.listed:  # by the folds of its distinct values, not per row
            by_fold = self._codes_by_fold(field)
            folds = {fold(field, v) for v in accepted if _hashable(v) is v}  # an unhashable value matches nothing
            codes = sorted({code for f in folds for code in by_fold.get(f, ())})
        else:
            codes = [values[_hashable(v)] for v in accepted if _hashable(v) in values]
        column = grow(self.codes[field], size)[:size]
        if not codes:
            return np.zeros(size, dtype=bool)
        if len(codes) == 1:
            return column == codes[0]
        accepted_codes = np.zeros(len(values), dtype=bool)  # a lookup table: O(rows) for any number of values
        accepted_codes[codes] = True
        return accepted_codes[column]

    def _codes_by_fold(self, field: str) -> dict[Any, list[int]]:
        """Each fold of a value ``field`` holds (``fold`` of it, or of each item of a list) to the codes of the values
        holding it. Values only ever get new codes, so each is folded once, when a mask first meets it: a filter
        of many sections over many distinct sections folds only the filter's values."""
        values = self.values[field]
        with self._folding:
            folded, by_fold = self.folds.get(field, (0, {}))
            for value in islice(values, folded, None):  # codes are given in order: the values not folded yet
                for item in value if isinstance(value, tuple) else (value,):
                    by_fold.setdefault(fold(field, item), []).append(values[value])
            self.folds[field] = (len(values), by_fold)
        return by_fold

    def values_of(self, field: str, rows: np.ndarray) -> set[Any]:
        by_code = {code: value for value, code in self.values[field].items()}
        return {by_code[c] for c in np.unique(self.codes[field][rows]).tolist()}

    def counts(self, field: str, rows: np.ndarray) -> Counter[Any]:
        """Rows per value of ``field`` (by one ``bincount``)."""
        by_code = {code: value for value, code in self.values[field].items()}
        tally = np.bincount(self.codes[field][rows], minlength=len(by_code)).tolist()
        return Counter({by_code[code]: n for code, n in enumerate(tally) if n})


class VectorStore(ABC):
    """A persistent collection of records, each with vectors in some of the index's spaces.

    What every store guarantees (the shared suite in ``tests/retrieval/test_stores.py`` checks it):

    - ``upsert`` replaces a record with the same id; a record may lack some spaces.
    - ``search`` takes a batch of query vectors for one space and returns, per query, up to ``k``
      (id, score) pairs by decreasing inner product, only among records matching ``filters``
      (exactly the records ``matches`` accepts). A batch is one call: callers group queries that
      share filters instead of calling once per query.
    - Writes are visible to this process's searches at once. Nothing written before ``commit`` is
      durable: a crash before ``commit`` returns leaves the state of the previous ``commit``.
    - ``commit`` is atomic and durable: when it returns, the whole change set is on disk (files
      and the folders that changed are fsynced; never ``os.sync()``); a crash during it leaves
      either the previous or the new state, never a mix.
    - ``source_revisions`` names, per payload ``source``, a token that changes whenever that
      source's records change, so derived indexes (BM25) update per source; ``None`` means the
      store cannot tell and callers rebuild from ``scan``.
    - ``snapshots = True``: ``version`` names the committed state and the constructor's ``version=``
      reopens it (the previous commit is kept until the next), so an index's generation pointer decides
      which commit is live. ``snapshots = False`` (Qdrant): the index hides records of source versions its
      generation pointer does not list, by their ``fingerprint`` payload field, and deletes them later.
    - ``opens_twice = True`` (FAISS): a second instance may open the store's location while one is open, and what it
      commits is served by the first once opened again, so a server writes through an index of its own and swaps it
      in after the commit (``Engine._writer``). ``False`` (Qdrant, whose local copy opens once at a time): every write
      goes through the one open store.
    - ``exact_vectors = True`` (Qdrant; FAISS whose ``faiss_index`` is ``hnsw``): ``vectors`` gives back the very
      vectors ``upsert`` was given, so a re-index copies those of unchanged images and texts instead of encoding them
      again. ``False`` where they are kept as codes (FAISS's quantised indexes) or not at all: copies would drift
      further from the encoder's at each re-index.

    Both say ``False`` unless a store says otherwise: the safe answer for a plug-in that does not.

    What a plug-in writes: ``kind`` and the abstract calls (``upsert``, ``delete``, ``search``, ``payloads``, ``scan``,
    ``count``, ``commit``); ``vectors`` to be exported and searched "more like this". The names of the calls
    (``CALLS``: those and ``records``, ``value_counts``, ``source_revisions``, ``check``, ``close``) are the
    contract's: an attribute of that name holding anything but a call (rows kept in ``self.records``) is refused
    when it is set, in one line naming the store.
    """

    kind: ClassVar[str]
    snapshots: ClassVar[bool] = False
    opens_twice: ClassVar[bool] = False
    exact_vectors: bool = False
    version: str | None = None

    def __init__(self, location: Path, dims: Mapping[str, int], settings: Settings):
        self.location = location
        self.dims = dict(dims)
        self.settings = settings

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse an attribute hiding one of the contract's calls (``CALLS``): a store keeping its rows in
        ``self.records`` indexed and searched, then ``pathatlas export`` ended in "'dict' object is not callable"."""
        if name in CALLS and not callable(value):
            store = f"{type(self).__module__}.{type(self).__qualname__}"
            raise PathAtlasError(
                f"store {store} sets self.{name} to a {type(value).__name__}, hiding its call {name}() that every "
                "store answers (VectorStore's contract): keep it under another name"
            )
        super().__setattr__(name, value)

    @property
    def placement(self) -> str:
        """Where the vectors are, as ``info`` and the service's start-up line say it: the store's kind, unless the
        store says more (Qdrant: its embedded shard, or a server by its URL without credentials)."""
        return self.kind

    @abstractmethod
    def upsert(self, records: list[StoredVectors]) -> None: ...

    @abstractmethod
    def delete(self, filters: Filters) -> int:
        """Remove every record matching ``filters`` (e.g. ``{"source": path}``); returns how many."""

    @abstractmethod
    def search(self, space: str, queries: np.ndarray, k: int, filters: Filters | None = None) -> list[ScoredIds]: ...

    @abstractmethod
    def payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]: ...

    def vectors(self, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
        """Each known id's stored vector per space (for "more like this record" without re-encoding)."""
        raise PathAtlasError(f"the {self.kind} store cannot return stored vectors")

    @abstractmethod
    def scan(self, filters: Filters | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every (id, payload), for rebuilding derived indexes and for listings."""

    @abstractmethod
    def count(self, space: str | None = None) -> int:
        """Records in total, or records that have a vector in ``space``."""

    def value_counts(self, field: str) -> Counter[Any]:
        """Records per value of a payload field (``None``: without it). The index compares them with its manifest
        on every run, so a store that can count without reading every payload should."""
        return Counter(payload.get(field) for _, payload in self.scan())

    @abstractmethod
    def commit(self) -> None: ...

    def records(self, batch: int = 1000) -> Iterator[list[StoredVectors]]:
        """Every record with its vectors, in batches: what ``pathatlas export`` copies elsewhere. Default: ``scan``'s
        records with their ``vectors``, so a store that returns its vectors can be exported without more."""
        scanned = self.scan()
        while chunk := list(islice(scanned, batch)):
            vectors = stored_vectors(self, [record_id for record_id, _ in chunk])
            yield [StoredVectors(rid, payload, vectors.get(rid, {})) for rid, payload in chunk]

    def source_revisions(self) -> dict[str, str] | None:
        """Per committed-or-pending source, a token that changes with its records (see the contract)."""
        return None

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise ``PathAtlasError`` when the store can no longer serve what it opened (a server's collection deleted
        since, a server that stopped answering), so that a service's /health says why. Files a store opened stay
        readable, so by default there is nothing to check."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and handles."""


CALLS = public_calls(VectorStore)
"""The calls every store answers, by name: what its callers, the export among them, call on any store."""


def stored_vectors(store: VectorStore, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """``store.vectors(ids)``; a plug-in raising ``NotImplementedError`` (Python's idiom for it) is refused in the
    protocol's one line, not with a traceback."""
    try:
        return store.vectors(ids)
    except NotImplementedError as exc:
        raise PathAtlasError(f"the {store.kind} store cannot return stored vectors") from exc
