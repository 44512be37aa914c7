"""A short text search ranks the records holding every one of its words first (``Settings.all_words_first``); an
underscore parts words and a lone Greek letter reads as its name, so a case label "lung_scc" and "α-cells" are found.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.fusion import all_words_first
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.lexical import LexicalIndex
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.terms import content_terms, every_word_a_term, tokenize
from tests.helpers import hashing_settings

WORDS = ("lung", "colon", "adenocarcinoma", "squamous", "cells", "benign", "tissue", "the", "of", "which")


def test_an_underscore_parts_words_and_a_lone_greek_letter_is_its_name():
    assert tokenize(["label: lung_scc"]) == [["label", "lung", "scc"]]
    greek = tokenize(["α-cells", "IL-1β", "TNF-α", "7 μm"])
    assert greek == [["alpha", "cell"], ["il", "beta"], ["tnf", "alpha"], ["μm"]]


@given(
    st.lists(st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join), min_size=1, max_size=12),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
)
@hyp_settings(max_examples=60, deadline=None)
def test_holding_all_finds_exactly_the_records_holding_every_content_word(texts, query):
    docs = [(f"r{i}", {"source": "s", "text": text}) for i, text in enumerate(texts)]
    wanted = set(content_terms(query))
    expected = {rid for (rid, _), words in zip(docs, tokenize(texts), strict=True) if wanted and wanted <= set(words)}
    assert LexicalIndex.build(docs).holding_all(query, k=100) == expected


def test_the_groups_holding_every_word_go_first_each_side_in_its_own_order():
    scores = np.array([5.0, 4.0, 3.0, 2.0, -1.0])
    lifted = all_words_first(scores, [False, True, False, True, False])
    assert list(np.argsort(-lifted, kind="stable")) == [1, 3, 0, 2, 4]
    assert all_words_first(scores, [False] * 5) is scores  # none holds them all, or all do: the order stands
    assert all_words_first(scores, [True] * 5) is scores


@pytest.fixture(scope="module")
def lung_heavy_cases(tmp_path_factory):
    """Most records say "lung" (so BM25 weighs it near nothing); a short colon record says "adenocarcinoma" twice."""
    root = tmp_path_factory.mktemp("cases")
    folder = root / "tiles"
    folder.mkdir()
    rows = ["image,case,diagnosis,organ,description"]
    labels = [("benign lung tissue", "lung", "benign tissue")] * 12
    labels += [("lung adenocarcinoma", "lung", "glands in acinar and solid patterns with mucin in the tumour cells")]
    labels += [("lung adenocarcinoma", "lung", "glands in acinar and papillary and micropapillary and solid patterns")]
    labels += [("adenocarcinoma", "colon", "adenocarcinoma")]
    for n, (diagnosis, organ, description) in enumerate(labels):
        pixels = np.random.default_rng(n).integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"t{n}.png")
        rows.append(f"t{n}.png,c{n},{diagnosis},{organ},{description}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    settings = hashing_settings(root)
    with Index.open(settings.index_dir, settings, create=True) as index:
        (report,) = Indexer(index, show_progress=False).add(folder).sources
        assert report.status == "indexed", report
    return root


def top_diagnoses(root, query: str, **extra) -> list[str]:
    settings = hashing_settings(root, **extra)
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text=query, k=3))
    return [hit.payload.diagnosis for hit in hits]


def test_a_diagnosis_typed_as_indexed_finds_it_first_where_words_alone_put_another_organ_first(lung_heavy_cases):
    assert top_diagnoses(lung_heavy_cases, "lung adenocarcinoma", all_words_first=0)[0] == "adenocarcinoma"
    assert top_diagnoses(lung_heavy_cases, "lung adenocarcinoma")[:2] == ["lung adenocarcinoma"] * 2


def test_a_longer_query_keeps_the_fused_order(lung_heavy_cases):
    query = "which lung adenocarcinoma acinar pattern tissue"
    assert top_diagnoses(lung_heavy_cases, query) == top_diagnoses(lung_heavy_cases, query, all_words_first=0)


def test_a_search_by_meaning_alone_is_not_reordered_by_words(lung_heavy_cases):
    by_meaning = dict(weight_bm25=0)  # README: WEIGHT_BM25=0 ranks by meaning alone
    query = "lung adenocarcinoma"
    assert top_diagnoses(lung_heavy_cases, query, **by_meaning) == top_diagnoses(
        lung_heavy_cases, query, all_words_first=0, **by_meaning
    )


def test_a_query_with_a_lone_letter_keeps_the_fused_order(lung_heavy_cases):
    """No term reads the "T" of "T-cell receptor": lifting every record holding "cell" and "receptor" put a figure of
    sensory receptor cells above the table of T cells."""
    assert not every_word_a_term("T-cell receptor") and not every_word_a_term("vitamin A")
    assert every_word_a_term("what is a lung adenocarcinoma") and every_word_a_term("lung_scc")
    query = "lung T adenocarcinoma"
    assert top_diagnoses(lung_heavy_cases, query) == top_diagnoses(lung_heavy_cases, query, all_words_first=0)


def test_the_every_word_order_leaves_scores_as_the_ranker_gave_them(lung_heavy_cases):
    settings = hashing_settings(lung_heavy_cases)
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text="lung adenocarcinoma", k=12))
    off = hashing_settings(lung_heavy_cases, all_words_first=0)
    with Index.open(off.index_dir, off) as index:
        plain = {hit.id: hit.score for hit in Searcher(index).search(Query(text="lung adenocarcinoma", k=12))}
    assert all(hit.score == plain[hit.id] for hit in hits if hit.id in plain)  # the same scores, in another order
    colon = next(hit for hit in hits if hit.payload.diagnosis == "adenocarcinoma")
    assert hits[0].payload.diagnosis == "lung adenocarcinoma" and colon.score > hits[0].score  # BM25's best, lower


def test_a_record_placed_below_its_score_reads_no_more_relevant_than_those_above(lung_heavy_cases):
    """The colon case BM25 ranks first, shown after the lung tiles, read 'strong match' (relative 1.0) at the end."""
    settings = hashing_settings(lung_heavy_cases)
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text="lung adenocarcinoma", k=15))
    relatives = [hit.relative for hit in hits]
    colon = next(n for n, hit in enumerate(hits) if hit.payload.diagnosis == "adenocarcinoma")
    assert relatives[1] < 1.0 and relatives == sorted(relatives, reverse=True)
    assert hits[colon].score > hits[0].score  # its own score stays the ranker's


def test_a_searcher_built_without_every_word_first_ranks_as_the_knob_at_0(lung_heavy_cases):
    """``Searcher(all_words_first=False)``, the benches' BM25 baseline, ranks as the knob at 0 and leaves the index's
    own settings as they were."""
    settings = hashing_settings(lung_heavy_cases)
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index, all_words_first=False).search(Query(text="lung adenocarcinoma", k=3))
        assert index.settings.all_words_first == 4
    assert hits[0].payload.diagnosis == "adenocarcinoma"
