"""BM25 over the terms of every entry (``terms``: what it reads as a word).

Scores are bm25s's default (Lucene) BM25, computed at query time from term frequencies, so the
collection statistics (document count, average length, document frequencies) are always those of
the whole index. That is what lets the index change one source at a time and still score exactly
like a full rebuild: each source is one segment of postings (written once, to its own file), and
the segments are merged into one term-major posting list in memory.

Entries whose payload says ``"searchable": false`` (pages, whose passages are indexed) stay out.

Layout of the folder: ``segments.json`` (source -> revision and file, replaced atomically) and
``segments/<hash>.npz``, one per source revision. Save into the same folder each time: only the
segments of changed sources are written.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from pathatlas.retrieval.durable import fsync_dir, write_atomic, write_file
from pathatlas.retrieval.stores.base import (
    FieldCodes,
    Filters,
    ScoredIds,
    VectorStore,
    filter_key,
    grow,
    matches,
)
from pathatlas.retrieval.terms import TERMS_VERSION, Language, analysed, content_terms, languages_of, lookup_terms

K1, B = 1.5, 0.75
"""bm25s defaults."""
log = logging.getLogger(__name__)


def document_text(payload: dict[str, Any]) -> str:
    """What BM25 reads of a record: its section heading and text; empty without text or when not searchable. A
    figure's printed words (OCR'd labels) are a field of their own (``printed_words``)."""
    text = payload.get("text") or ""
    if not text.strip() or not payload.get("searchable", True):
        return ""
    return f"{payload.get('section') or ''}\n{text}"


def printed_words(payload: dict[str, Any]) -> str:
    """The second field figure searches read: the words printed in a figure's image (figure OCR)."""
    return (payload.get("ocr") or "") if payload.get("searchable", True) else ""


TextOf = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class _Postings:
    """An immutable snapshot: searches read one while an update builds the next."""

    indptr: np.ndarray  # term -> start of its postings
    docs: np.ndarray  # posting -> document slot
    tf: np.ndarray  # posting -> term frequency (uint16)
    weight: np.ndarray  # posting -> BM25's term-frequency part at this snapshot's average length (float32)
    length: np.ndarray  # slot -> tokens
    alive: np.ndarray  # slot -> in the index
    n_docs: int
    total_length: float


@dataclass
class _Segment:
    """One source's documents at one revision: ids, filter fields and terms as ids into its own vocabulary."""

    revision: str | None
    ids: list[str]
    payload_fields: list[dict[str, Any]]
    vocab: list[str]
    terms: np.ndarray  # every term of every document, in order, as an index into ``vocab``
    counts: np.ndarray  # terms per document
    lengths: np.ndarray  # BM25's length per document: its stems (a lettered term reads words already counted)
    fingerprints: frozenset
    """Source versions it was read from (also when no record had text, so none is a document here)."""
    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    @classmethod
    def from_texts(
        cls, revision, ids, payload_fields, texts: list[str], fingerprints: frozenset, languages: tuple[Language, ...]
    ) -> _Segment:
        stems, lettered = analysed(texts, languages) if texts else ([], [])
        docs = [s + extra for s, extra in zip(stems, lettered, strict=True)]
        vocab = sorted({t for doc in docs for t in doc})
        term_of = {t: i for i, t in enumerate(vocab)}
        terms = np.array([term_of[t] for doc in docs for t in doc], dtype=np.int32)
        counts = np.array([len(d) for d in docs], dtype=np.int32)
        lengths = np.array([len(s) for s in stems], dtype=np.int32)
        return cls(revision, ids, payload_fields, vocab, terms, counts, lengths, fingerprints)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        meta = {
            "ids": self.ids,
            "fields": self.payload_fields,
            "vocab": self.vocab,
            "fingerprints": sorted(self.fingerprints, key=str),
        }
        arrays = {"terms": self.terms, "counts": self.counts, "lengths": self.lengths}
        np.savez(buffer, meta=np.frombuffer(orjson.dumps(meta), np.uint8), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, revision: str | None, data: bytes) -> _Segment:
        with np.load(io.BytesIO(data)) as arrays:
            meta = orjson.loads(arrays["meta"].tobytes())
            return cls(
                revision,
                meta["ids"],
                meta["fields"],
                meta["vocab"],
                arrays["terms"],
                arrays["counts"],
                arrays["lengths"],
                frozenset(meta["fingerprints"]),
            )


class LexicalIndex:
    """BM25 kept per source; ``sync`` brings it level with a store by re-reading changed sources only.

    ``text_of`` is the field it reads of each record's payload (``document_text``; ``printed_words`` for figures'
    labels); records where it is empty are left out. ``languages``: Snowball's names of the languages every text is
    also read in (``PATHATLAS_LANGUAGES``), which a saved index records (``load``).
    """

    def __init__(self, text_of: TextOf = document_text, languages: Iterable[str] = ()) -> None:
        self.text_of = text_of
        self.read_in = languages_of(languages)
        self._lock = threading.Lock()
        self.vocab: dict[str, int] = {}
        self.slot_ids: list[str] = []
        self.fields = FieldCodes()
        self.segments: dict[str, _Segment] = {}
        self.dirty: set[str] = set()
        self._post = _Postings(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.uint16),
                               np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, bool), 0, 0.0)  # fmt: skip
        self._masks: dict[tuple, np.ndarray] = {}

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def build(
        cls, docs: Iterable[tuple[str, dict[str, Any]]], text_of: TextOf = document_text, languages: Iterable[str] = ()
    ) -> LexicalIndex:
        """From (id, payload) pairs, one segment per payload ``source``."""
        index = cls(text_of, languages)
        index.update(_by_source(docs), revisions={})
        return index

    @property
    def languages(self) -> list[str]:
        """The languages every text is also read in, by Snowball's names, sorted (English, always read, left out)."""
        return [lang.name for lang in self.read_in]

    @property
    def ids(self) -> list[str]:
        """Ids of the live documents (for consistency checks)."""
        alive = self._post.alive[: len(self.slot_ids)]
        return [self.slot_ids[slot] for slot in np.flatnonzero(alive).tolist()]

    def sync(self, store: VectorStore, fingerprints: Iterable[str] | None = None) -> LexicalIndex:
        """Re-read from ``store`` only the sources whose revision changed; all of them if it cannot tell.

        ``fingerprints`` limits what is read to those source versions (a store that writes durably at once
        still holds versions the index's generation does not list).
        """
        only = {"fingerprint": sorted(fingerprints) or ["-"]} if fingerprints is not None else {}
        revisions = store.source_revisions()
        if revisions is None:
            fresh = LexicalIndex.build(store.scan(only or None), self.text_of, self.languages)
            fresh.dirty = set(fresh.segments) | set(self.segments)
            return fresh
        gone = [s for s in self.segments if s not in revisions]
        changed = {s for s, rev in revisions.items() if s not in self.segments or self.segments[s].revision != rev}
        if fingerprints is not None:  # source versions that stopped or started being live: their sources only
            live = set(only["fingerprint"])
            changed |= {s for s, seg in self.segments.items() if s not in gone and not seg.fingerprints <= live}
            started = live - {fp for seg in self.segments.values() for fp in seg.fingerprints}
            if started:
                changed |= {str(p.get("source")) for _, p in store.scan({"fingerprint": sorted(started)})}
        docs = {source: list(store.scan({"source": source, **only})) for source in sorted(changed)}
        self.update(docs, revisions, removed=gone)
        return self

    def update(
        self,
        docs: dict[str, list[tuple[str, dict[str, Any]]]],
        revisions: dict[str, str],
        removed: Iterable[str] = (),
    ) -> None:
        """Replace the listed sources' documents (an empty list removes a source) and drop ``removed``."""
        with self._lock:
            segments = {
                source: _Segment.from_texts(
                    revisions.get(source),
                    [rid for rid, _ in kept],
                    [{f: p.get(f) for f in self.fields.codes} for _, p in kept],
                    [self.text_of(p) for _, p in kept],
                    frozenset(p.get("fingerprint") for _, p in items),
                    self.read_in,
                )
                for source, items in docs.items()
                if items
                for kept in [[(rid, p) for rid, p in items if self.text_of(p)]]
            }
            self._replace(segments, [*removed, *(source for source, items in docs.items() if not items)])

    def _replace(self, segments: dict[str, _Segment], removed: Iterable[str]) -> None:
        dropped = [self.segments.pop(s) for s in [*removed, *segments] if s in self.segments]
        post = self._post
        alive = post.alive.copy()
        length = post.length
        if dropped:
            slots = np.concatenate([seg.slots for seg in dropped])
            alive[slots] = False
        new_slots, new_terms, new_tf = [], [], []
        start = len(self.slot_ids)
        for source, segment in segments.items():
            self.dirty.add(source)
            self.segments[source] = segment  # kept without documents too: its revision says it has been read
            if not segment.ids:
                continue
            segment.slots = np.arange(start, start + len(segment.ids), dtype=np.int32)
            self.slot_ids.extend(segment.ids)
            self.fields.put(segment.slots, segment.payload_fields)
            to_global = np.array([self.vocab.setdefault(t, len(self.vocab)) for t in segment.vocab], dtype=np.int64)
            pairs = np.repeat(segment.slots.astype(np.int64), segment.counts) << 32 | to_global[segment.terms]
            pairs, counts = np.unique(pairs, return_counts=True)
            new_slots.append((pairs >> 32).astype(np.int32))
            new_terms.append(pairs & 0xFFFFFFFF)
            new_tf.append(np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16))
            start += len(segment.ids)
        self.dirty.update(removed)
        alive = grow(alive, start)
        length = grow(length, start)
        for segment in segments.values():
            if segment.ids:
                alive[segment.slots] = True
                length[segment.slots] = segment.lengths
        indptr, docs, tf = self._merged(post, alive, new_slots, new_terms, new_tf, bool(dropped))
        live = alive[: len(self.slot_ids)]
        n_docs, total_length = int(np.count_nonzero(live)), float(length[: len(live)][live].sum())
        weight = _tf_weights(docs, tf, length, total_length / max(n_docs, 1))
        self._post = _Postings(indptr, docs, tf, weight, length, alive, n_docs, total_length)
        self._masks.clear()

    def _merged(self, post: _Postings, alive, new_slots, new_terms, new_tf, dropped: bool):
        """The posting lists with dead slots removed and new postings inserted, term-major, in O(postings)."""
        indptr, docs, tf = post.indptr, post.docs, post.tf
        n_terms = len(self.vocab)
        if len(indptr) - 1 < n_terms:
            indptr = np.concatenate([indptr, np.full(n_terms + 1 - len(indptr), indptr[-1])])
        if dropped and len(docs):
            keep = alive[docs]
            term_of = np.repeat(np.arange(n_terms, dtype=np.int32), np.diff(indptr))
            indptr = np.concatenate([[0], np.cumsum(np.bincount(term_of[keep], minlength=n_terms))])
            docs, tf = docs[keep], tf[keep]
        if new_slots:
            terms = np.concatenate(new_terms)
            order = np.argsort(terms, kind="stable")
            terms = terms[order]
            docs = np.insert(docs, indptr[terms + 1], np.concatenate(new_slots)[order])
            tf = np.insert(tf, indptr[terms + 1], np.concatenate(new_tf)[order])
            indptr = indptr + np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=n_terms))])
        return indptr, docs, tf

    # -- searching ---------------------------------------------------------------------------
    def _allowed(self, filters: Filters, size: int) -> np.ndarray:
        key = filter_key(filters)
        mask = self._masks.get(key)
        if mask is None or len(mask) != size:
            mask = np.ones(size, dtype=bool)
            for field, wanted in filters.items():
                field_mask = self.fields.mask(field, wanted, size)
                mask &= field_mask if field_mask is not None else matches({}, {field: wanted})
            self._masks[key] = mask
        return mask

    def top(
        self, tokens: list[str], k: int, allowed: np.ndarray | None = None, every: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best (slots, BM25 scores) among documents holding a query token (``every``: each of them, which
        are distinct then), best first, ties by record id (not by slot, which is the order sources were read in: an
        index built in another order ranks alike).

        Scores are bm25s's over all documents. Each posting's term-frequency part is precomputed at update
        time, and the query terms' posting lists (each sorted by slot) are merged by a stable sort, which
        finds runs, instead of ``np.unique``'s full sort: at a million documents those were most of the cost.
        """
        post = self._post
        terms = [self.vocab[t] for t in tokens if t in self.vocab]
        if not terms or not post.n_docs or k <= 0 or (every and len(terms) < len(tokens)):
            return np.zeros(0, np.int64), np.zeros(0)
        touched, parts = [], []
        for term in terms:
            lo, hi = post.indptr[term], post.indptr[term + 1]
            df = hi - lo
            idf = np.log(1 + (post.n_docs - df + 0.5) / (df + 0.5))
            touched.append(post.docs[lo:hi])
            parts.append(idf * post.weight[lo:hi])
        slots, weights = np.concatenate(touched), np.concatenate(parts)  # a slot once per term it holds
        if allowed is not None:
            keep = allowed[slots]
            slots, weights = slots[keep], weights[keep]
        if not len(slots):
            return np.zeros(0, np.int64), np.zeros(0)
        order = np.argsort(slots, kind="stable")  # each term's postings are sorted by slot: this merges a few runs
        slots, weights = slots[order], weights[order]
        starts = np.flatnonzero(np.concatenate([[True], slots[1:] != slots[:-1]]))
        held = np.diff(np.append(starts, len(slots)))  # a slot appears once per term it holds
        slots, scores = slots[starts], np.add.reduceat(weights, starts)
        keep = (scores > 0) & (held == len(terms)) if every else scores > 0
        slots, scores = slots[keep], scores[keep]
        if len(scores) > k:  # the k best and every document tied with the last of them
            best = scores >= np.partition(scores, len(scores) - k)[len(scores) - k]
            slots, scores = slots[best], scores[best]
        ids = np.array([self.slot_ids[slot] for slot in slots.tolist()])
        order = np.lexsort((ids, -scores))[:k]
        return slots[order], scores[order]

    def search(self, queries: list[str], k: int, filters: Filters | None = None) -> list[ScoredIds]:
        if not self._post.n_docs or k <= 0:
            return [[] for _ in queries]
        allowed = self._allowed(filters, len(self.slot_ids)) if filters else None
        results = []
        for tokens in lookup_terms(queries, self.read_in):
            slots, scores = self.top(tokens, k, allowed)
            results.append(
                [(self.slot_ids[s], score) for s, score in zip(slots.tolist(), scores.tolist(), strict=True)]
            )
        return results

    def holding_all(self, text: str, k: int, filters: Filters | None = None) -> set[str]:
        """The ``k`` records holding each of ``text``'s ``content_terms`` that BM25 ranks best."""
        terms = content_terms(text)
        if not terms or not self._post.n_docs or k <= 0:
            return set()
        allowed = self._allowed(filters, len(self.slot_ids)) if filters else None
        slots, _ = self.top(terms, k, allowed, every=True)
        return {self.slot_ids[slot] for slot in slots.tolist()}

    def __len__(self) -> int:
        return self._post.n_docs

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: Path, name: str = "segments.json") -> None:
        """Write the segments of sources changed since the last save, then switch the ``name`` manifest.

        Segment files are immutable (named by source and revision); the manifest ``name`` lists this
        state's, and the files of the previous manifest are kept so the previous state stays loadable.
        """
        segments_dir = folder / "segments"
        segments_dir.mkdir(parents=True, exist_ok=True)
        manifest_path = folder / name
        latest = folder / "latest"
        previous_name = latest.read_text().strip() if latest.is_file() else name
        previous_path = folder / previous_name
        previous = orjson.loads(previous_path.read_bytes()) if previous_path.is_file() else {}
        manifest = {}
        for source, segment in self.segments.items():
            file = _segment_name(source, segment.revision, self.languages)
            path = segments_dir / file
            if source in self.dirty or not path.is_file():
                tmp = path.with_name(f".{file}.tmp")
                write_file(tmp, segment.to_bytes())  # a full disk names the segment
                os.replace(tmp, path)
            manifest[source] = {"revision": segment.revision, "file": file}
        fsync_dir(segments_dir)
        document = {
            "segments": manifest,
            "previous": previous.get("segments", {}),
            "terms": TERMS_VERSION,
            "languages": self.languages,
        }
        write_atomic(manifest_path, orjson.dumps(document))
        write_atomic(latest, name.encode())
        self.dirty.clear()
        keep = {m["file"] for m in [*manifest.values(), *previous.get("segments", {}).values()]}
        for path in segments_dir.iterdir():
            if path.name not in keep:
                path.unlink()

    @classmethod
    def load(cls, folder: Path, name: str = "segments.json", languages: Iterable[str] = ()) -> LexicalIndex:
        """The saved index; an empty one (which ``sync`` fills) for a missing or older-format folder, or one whose
        terms another version made or were read in other ``languages`` than these (as another version's: the index
        is read again from the store, in memory, until a commit saves it)."""
        index = cls(languages=languages)
        manifest_path = folder / name
        if not manifest_path.is_file():
            return index
        document = orjson.loads(manifest_path.read_bytes())
        saved = SavedTerms.of(document)
        if saved.version != TERMS_VERSION:
            return index
        if saved.languages != index.languages:
            log.info(
                "BM25 of index %s was read in %s, PATHATLAS_LANGUAGES names %s: read again from the store for this "
                "run; `pathatlas index` saves it so",
                folder.parent,
                ", ".join(["english", *saved.languages]),
                ", ".join(["english", *index.languages]),
            )
            return index
        entries = document["segments"]
        segments = {
            source: _Segment.from_bytes(entry["revision"], (folder / "segments" / entry["file"]).read_bytes())
            for source, entry in entries.items()
        }
        with index._lock:
            index._replace(segments, ())
        index.dirty.clear()
        return index


@dataclass(frozen=True)
class SavedTerms:
    """What a saved BM25's terms are: the ``TERMS_VERSION`` that made them and the languages besides English they were
    read in (``LexicalIndex.languages``); an index opened with other ones reads its BM25 again from the store."""

    version: int
    languages: list[str]

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> SavedTerms:
        """As a saved manifest records them; one written before languages could be named was read in English alone."""
        return cls(manifest.get("terms", 1), manifest.get("languages", []))

    @classmethod
    def read(cls, folder: Path, name: str = "segments.json") -> SavedTerms | None:
        """The terms of the BM25 saved as ``name`` in ``folder``; None where none was saved or it cannot be read (it
        is read again from the store then too)."""
        try:
            return cls.of(orjson.loads((folder / name).read_bytes()))
        except (OSError, ValueError, AttributeError):
            return None


def _tf_weights(docs: np.ndarray, tf: np.ndarray, length: np.ndarray, avg: float, chunk: int = 1 << 22) -> np.ndarray:
    """BM25's term-frequency part per posting, in float32, the precision bm25s scores in; in chunks (a million documents
    hold about 40M postings, and float temporaries of all of them would cost more than the postings)."""
    weight = np.empty(len(docs), np.float32)
    for start in range(0, len(docs), chunk):
        tf_part = tf[start : start + chunk].astype(np.float32)
        norm = np.float32(K1) * (
            np.float32(1 - B) + np.float32(B) * length[docs[start : start + chunk]] / np.float32(avg)
        )
        weight[start : start + chunk] = tf_part / (tf_part + norm)
    return weight


def _segment_name(source: str, revision: str | None, languages: list[str]) -> str:
    """A segment's file, named by what its terms are: another language's segment never overwrites one the previous
    manifest lists."""
    named = "".join(f"\0{name}" for name in languages)
    return hashlib.sha1(f"{source}\0{revision}\0{TERMS_VERSION}{named}".encode()).hexdigest()[:20] + ".npz"


def _by_source(docs: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for record_id, payload in docs:
        grouped.setdefault(str(payload.get("source")), []).append((record_id, payload))
    return grouped
