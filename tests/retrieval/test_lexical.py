"""BM25 updated one source at a time scores exactly like bm25s over everything; filters; sync with a store."""

from __future__ import annotations

import bm25s
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.retrieval.lexical import LexicalIndex, document_text
from pathatlas.retrieval.records import StoredVectors
from pathatlas.retrieval.stores import open_store
from pathatlas.retrieval.stores.base import matches
from pathatlas.retrieval.terms import lettered_terms, tokenize

WORDS = [
    *("lung", "cancer", "koilocytes", "cervix", "epithelium", "granuloma", "giant", "cells"),
    *("keratin", "pearls", "liver", "the", "of"),
    *("vitamin", "D", "B", "type", "1"),  # lettered words ("vitamin d") are terms of their own, not length
]
QUERIES = ["lung cancer cells", "keratin pearls pearls", "giant granuloma of the liver", "cervix", "zebra"]

doc_text = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)
source_docs = st.lists(st.tuples(doc_text, st.sampled_from(["page", "figure"])), max_size=6)
operations = st.lists(st.tuples(st.sampled_from(["s0", "s1", "s2", "s3"]), source_docs), min_size=1, max_size=8)


def as_docs(source: str, docs: list[tuple[str, str]], generation: int) -> list[tuple[str, dict]]:
    return [
        (f"{source}-{generation}-{i}", {"source": source, "kind": kind, "text": text})
        for i, (text, kind) in enumerate(docs)
    ]


def reference_scores(docs: list[tuple[str, dict]], query: str, filters=None) -> dict[str, float]:
    """bm25s built from scratch over every document's stems, the scores the old full rebuild gave (queries without
    lettered words score the same)."""
    kept = [(rid, p) for rid, p in docs if document_text(p)]
    tokens = tokenize([document_text(p) for _, p in kept])
    if not any(tokens):
        return {}
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    (query_tokens,) = tokenize([query])
    if not query_tokens:
        return {}
    scores = model.get_scores(query_tokens)
    return {rid: float(s) for (rid, p), s in zip(kept, scores, strict=True) if s > 0 and matches(p, filters)}


@given(operations)
@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_per_source_updates_score_exactly_like_a_full_rebuild(ops):
    incremental = LexicalIndex()
    current: dict[str, list[tuple[str, dict]]] = {}
    for generation, (source, docs) in enumerate(ops):
        current[source] = as_docs(source, docs, generation)  # an empty list removes the source
        incremental.update({source: current[source]}, revisions={source: str(generation)})
    everything = [d for docs in current.values() for d in docs]
    rebuilt = LexicalIndex.build(everything)
    for query in QUERIES:
        for filters in (None, {"kind": "figure"}, {"source": ["s1", "s3"]}):
            expected = reference_scores(everything, query, filters)
            for index in (incremental, rebuilt):
                (found,) = index.search([query], k=1000, filters=filters)
                assert {rid for rid, _ in found} == set(expected)
                for rid, score in found:
                    assert score == pytest.approx(expected[rid], rel=1e-4)
                assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_top_k_is_the_head_of_the_full_ranking():
    """The top-k cut (a few posting lists merged, then a partial sort) keeps the k best of the full ranking."""
    rng = np.random.default_rng(4)
    docs = [
        (f"d{i}", {"source": f"s{i % 5}", "kind": "figure" if i % 3 else "page", "text": " ".join(words)})
        for i, words in enumerate(rng.choice(WORDS, size=(400, 9)).tolist())
    ]
    index = LexicalIndex.build(docs)
    for query in QUERIES[:3]:
        for filters in (None, {"kind": "figure"}, {"source": ["s1", "s3"]}):
            (full,) = index.search([query], k=1000, filters=filters)
            assert len(full) > 40
            for k in (1, 7, 40):
                (head,) = index.search([query], k=k, filters=filters)
                assert [s for _, s in head] == [s for _, s in full[:k]]
                cut = full[k - 1][1]  # ties at the cut may be any of the tied documents
                assert {r for r, s in head if s > cut} == {r for r, s in full[:k] if s > cut}


def test_save_writes_only_changed_sources_and_loads_back(tmp_path):
    index = LexicalIndex.build(as_docs("a", [("lung cancer", "page")], 0) + as_docs("b", [("keratin", "page")], 0))
    index.save(tmp_path / "lex")
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "lex" / "segments").iterdir()}
    assert len(first) == 2
    index.update({"b": as_docs("b", [("keratin pearls", "figure")], 1)}, revisions={"b": "1"})
    index.save(tmp_path / "lex")
    second = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "lex" / "segments").iterdir()}
    unchanged = set(first) & set(second)
    assert len(unchanged) == 2 and all(first[n] == second[n] for n in unchanged)  # a's segment untouched
    assert len(second) == 3  # b's new segment, and b's previous one kept for the previous state
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.search(["keratin"], 5, {"kind": "figure"}) == index.search(["keratin"], 5, {"kind": "figure"})
    assert [rid for rid, _ in loaded.search(["lung"], 5)[0]] == ["a-0-0"]


def test_a_single_letter_or_digit_tells_pages_apart():
    """The stems drop one-letter words, so "vitamin D" was a search for "vitamin", and the page saying "vitamin" most
    often came first, whichever vitamin it was about."""
    index = LexicalIndex.build(
        as_docs("k", [("Vitamin K: vitamin K and clotting; the vitamin is made by gut bacteria.", "page")], 0)
        + as_docs(
            "d",
            [("The skin makes vitamin D, which helps the small intestine absorb calcium and phosphate.", "page")],
            0,
        )
        + as_docs("t", [("X-ray images of T cells and B lymphocytes in type 1 diabetes.", "page")], 0)
    )
    assert [rid for rid, _ in index.search(["vitamin D"], 2)[0]] == ["d-0-0", "k-0-0"]
    assert [rid for rid, _ in index.search(["vitamin K"], 2)[0]] == ["k-0-0", "d-0-0"]
    assert [rid for rid, _ in index.search(["the D"], 5)[0]] == []  # a letter beside a stop word is no term
    assert lettered_terms(["X-ray images of T cells and B lymphocytes in type 1 diabetes."]) == [
        ["type 1", "x ray", "t cell", "b lymphocyte"]
    ]
    assert lettered_terms(["A cell divides. I think so. Vitamin A is stored in the liver."]) == [["vitamin a"]]
    assert lettered_terms(["type I and type II alveolar cells", "Type 1 diabetes"]) == [
        ["type 1", "type 2"],
        ["type 1"],
    ]


def test_the_micro_sign_and_greek_mu_find_each_other():
    """PDFs keep "µm" as printed (U+00B5); a Greek keyboard types "μm" (U+03BC), as NFKC wrote it before."""
    index = LexicalIndex.build(as_docs("a", [("Red cells are about 7.5 \u00b5m across.", "page")], 0))
    for query in ("7.5 \u00b5m", "7.5 \u03bcm"):
        assert [rid for rid, _ in index.search([query], 1)[0]] == ["a-0-0"], query


def test_segments_written_with_other_terms_are_read_again(settings, tmp_path):
    """An index saved before the lettered terms loads empty, so it is re-read from its store and "vitamin D" works
    there too, instead of mixing sources with and without those terms."""
    store = open_store("faiss", tmp_path / "store", {"text": 4}, settings)
    vec = {"text": np.ones(4, np.float32) / 2}
    texts = {"k": "vitamin K vitamin K clotting", "d": "vitamin D calcium absorption in the small intestine"}
    store.upsert([StoredVectors(s, {"source": s, "kind": "page", "text": t}, vec) for s, t in texts.items()])
    store.commit()
    LexicalIndex().sync(store).save(tmp_path / "lex")
    manifest = tmp_path / "lex" / "segments.json"
    assert len(LexicalIndex.load(tmp_path / "lex").segments) == 2
    manifest.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(manifest.read_bytes()).items() if k != "terms"}))
    old = LexicalIndex.load(tmp_path / "lex")
    assert not old.segments
    assert [rid for rid, _ in old.sync(store).search(["vitamin D"], 2)[0]] == ["d", "k"]


def test_sync_rereads_only_changed_sources(settings, tmp_path):
    dims = {"text": 4}
    store = open_store("faiss", tmp_path / "store", dims, settings)
    vec = {"text": np.ones(4, np.float32) / 2}
    store.upsert([StoredVectors(f"{s}{i}", {"source": s, "kind": "page", "text": f"{s} lung"}, vec)
                  for s in ("a", "b", "c") for i in range(3)])  # fmt: skip
    store.commit()
    lexical = LexicalIndex().sync(store)
    assert len(lexical) == 9
    read: list = []
    scan = store.scan
    store.scan = lambda filters=None: (read.append(filters), scan(filters))[1]
    store.delete({"source": "a"})
    store.upsert([StoredVectors("b0", {"source": "b", "kind": "page", "text": "b keratin"}, vec)])
    store.commit()
    lexical = lexical.sync(store)
    assert read == [{"source": "b"}]  # a is dropped without reading, c is untouched
    assert {rid for rid, _ in lexical.search(["lung"], 10)[0]} == {"b1", "b2", "c0", "c1", "c2"}
    assert [rid for rid, _ in lexical.search(["keratin"], 10)[0]] == ["b0"]
    assert lexical.sync(store) is lexical and read == [{"source": "b"}]  # in step: nothing read


def test_sync_with_live_versions_rereads_only_the_sources_whose_versions_changed(settings, tmp_path):
    """Given the generation's fingerprints, a commit re-reads the sources it changed, never the whole store."""
    store = open_store("faiss", tmp_path / "store", {"text": 4}, settings)
    vec = {"text": np.ones(4, np.float32) / 2}

    def version(source: str, fingerprint: str, word: str) -> list[StoredVectors]:
        payload = {"source": source, "fingerprint": fingerprint, "kind": "page", "text": f"{source} {word}"}
        return [StoredVectors(f"{fingerprint}-{i}", payload, vec) for i in range(3)]

    store.upsert([r for s in ("a", "b", "c") for r in version(s, s + "1", "lung")])
    lexical = LexicalIndex().sync(store, ["a1", "b1", "c1"])
    assert len(lexical) == 9
    read: list = []
    scan = store.scan
    store.scan = lambda filters=None: (read.append(filters), scan(filters))[1]
    store.upsert(version("d", "d1", "lung"))
    lexical.sync(store, ["a1", "b1", "c1", "d1"])
    assert read == [{"fingerprint": ["d1"]}, {"source": "d", "fingerprint": ["a1", "b1", "c1", "d1"]}]
    read.clear()
    lexical.sync(store, ["b1", "c1", "d1"])  # a's version left the generation; its records are still stored
    assert read == [{"source": "a", "fingerprint": ["b1", "c1", "d1"]}] and len(lexical) == 9
    store.delete({"source": "a"})  # what the index does once its pointer has moved
    read.clear()
    store.upsert(version("b", "b2", "keratin"))  # a new version of b beside the old one, as Qdrant keeps it
    lexical.sync(store, ["b2", "c1", "d1"])
    assert [f["source"] for f in read if "source" in f] == ["b"]
    assert {rid for rid, _ in lexical.search(["keratin"], 10)[0]} == {"b2-0", "b2-1", "b2-2"}
    assert {rid for rid, _ in lexical.search(["lung"], 10)[0]} == {f"{fp}-{i}" for fp in ("c1", "d1") for i in range(3)}
    read.clear()
    lexical.sync(store, ["b2", "c1", "d1"])
    assert read == []  # in step: nothing read


@pytest.mark.parametrize("live", [None, ["a1", "e1"]])
def test_a_source_without_text_is_not_read_again_at_every_sync(settings, tmp_path, live):
    """A source none of whose records has text for this BM25 (case images without descriptions, or any source for
    the printed-words BM25 when no figure had words) is remembered as empty, not taken for a new source each time."""
    store = open_store("faiss", tmp_path / "store", {"text": 4}, settings)
    vec = {"text": np.ones(4, np.float32) / 2}
    store.upsert([StoredVectors(f"{s}{i}", {"source": s, "fingerprint": f"{s}1", "kind": "page", "text": text}, vec)
                  for s, text in (("a", "lung"), ("e", "")) for i in range(3)])  # fmt: skip
    store.commit()
    lexical = LexicalIndex().sync(store, live)
    assert len(lexical) == 3 and lexical.search(["lung"], 10, {"source": "e"}) == [[]]
    read: list = []
    scan = store.scan
    store.scan = lambda filters=None: (read.append(filters), scan(filters))[1]
    assert lexical.sync(store, live) is lexical and read == []  # in step: nothing read
    lexical.save(tmp_path / "empty")
    assert LexicalIndex.load(tmp_path / "empty").sync(store, live) and read == []  # saved and loaded, the same
    store.upsert([StoredVectors("e0", {"source": "e", "fingerprint": "e1", "kind": "page", "text": "keratin"}, vec)])
    lexical.sync(store, live)
    assert [f["source"] for f in read if "source" in f] == ["e"]  # once it changes, it is read
    assert [rid for rid, _ in lexical.search(["keratin"], 10)[0]] == ["e0"]
    lexical.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.search(["keratin"], 10) == lexical.search(["keratin"], 10)
