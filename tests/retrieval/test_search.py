"""Hybrid search over the demo index, and fusion as a pure function."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.fusion import (
    MAJORITY,
    MAJORITY_KEEP,
    MAJORITY_WINDOW,
    add_scores,
    diagnosis_key,
    figures_only,
    majority_next,
    reciprocal_rank_fusion,
    snippet,
)
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher, ranker_weight
from pathatlas.settings import Settings
from pathatlas.ui.present import matched_why


def test_rrf_weights_and_ranks():
    rankings = {"bm25": [("a", 9.0), ("b", 5.0)], "text": [("b", 0.9), ("c", 0.8)]}
    fused = reciprocal_rank_fusion(rankings, {"bm25": 1.0, "text": 1.0}, k=60)
    assert [rid for rid, _, _ in fused] == ["b", "a", "c"]
    assert fused[0][2] == {"bm25": 2, "text": 1}
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    heavy = dict((rid, score) for rid, score, _ in reciprocal_rank_fusion(rankings, {"bm25": 3.0, "text": 0.5}, k=10))
    assert heavy["a"] == pytest.approx(3 / 11) and heavy["b"] == pytest.approx(3 / 12 + 0.5 / 11)
    assert [rid for rid, _, _ in reciprocal_rank_fusion(rankings, {"bm25": 0.0}, k=60)] == ["b", "c"]


def test_image_queries_weight_joint_apart_from_text_queries():
    weights = Settings(weight_joint=1.0, weight_joint_image=4.0, weight_visual=0.5).fusion_weights()
    assert ranker_weight("joint:image", weights) == 4.0
    assert ranker_weight("joint", weights) == 1.0  # a text query's joint ranking keeps the space weight
    assert ranker_weight("visual:image", weights) == 0.5  # no ranker weight of its own: the space's
    assert ranker_weight("bm25", weights) == 1.0


def test_two_bm25_fields_add_up_and_only_a_figure_search_reads_printed_words():
    assert add_scores([("a", 2.0), ("b", 1.0)], [("b", 1.5), ("c", 3.0)], k=2) == [("c", 3.0), ("b", 2.5)]
    assert add_scores([("b", 1.0)], [("a", 1.0)], k=5) == [("a", 1.0), ("b", 1.0)]  # ties by id
    assert figures_only({"kind": "figure"}) and figures_only({"kind": ["figure"], "source": "x.pdf"})
    assert not any(figures_only(f) for f in (None, {}, {"kind": "page"}, {"kind": ["figure", "page"]}))


def test_snippet_centres_on_query_words():
    text = "filler " * 100 + "koilocytes show halos " + "more " * 100
    assert "koilocytes" in snippet(text, "koilocytes")
    assert snippet("short", None) == "short"
    for query, word in (("akciger", "Akciğer"), ("inflamasyon", "İNFLAMASYON"), ("strasse", "Straße")):
        found = snippet("filler " * 100 + f"{word} dokusu " + "more " * 100, query)  # as the search folds them
        assert word in found, (query, found)
    words = "the nervous system especially " * 30
    for query in ("koilocytes", None, "nervous"):  # the window starts and ends between words, never "…ecially"
        shown = snippet(words + "koilocytes show halos " + words, query).strip("…").split()
        assert set(shown) <= {"the", "nervous", "system", "especially", "koilocytes", "show", "halos"}, shown
    assert len(snippet("x" * 500, "x")) == 241, "a text without spaces is cut at the width"


def test_the_snippet_opens_at_a_word_the_web_ui_marks():
    """The snippet opened at any word holding a query word ("globin" inside "hemoglobin"), which the UI does not mark,
    so the window showed no marked word while "anemia" further on would have been marked."""
    from pathatlas.retrieval.marks import marked_spans, query_terms

    text = "filler " * 100 + "hemoglobin " + "filler " * 100 + "anemia " + "more " * 100
    shown = snippet(text, "globin anemia")
    assert marked_spans(shown, query_terms("globin anemia")) and "anemia" in shown


def test_text_query_cites_the_right_page_and_figure(demo_index):
    hits = Searcher(demo_index).search(Query(text="koilocytes in cervical epithelium", k=5))
    top = hits[0]
    assert top.citation.page == 1 and top.citation.source.endswith("demo-primer.pdf")
    pages = [(h.citation.source, h.citation.page) for h in hits if h.citation.page is not None]
    assert len(pages) == len(set(pages)), "hits from one page must be collapsed"
    figure = next(h for h in Searcher(demo_index).search(Query(text="koilocytes", k=10, filters={"kind": "figure"})))
    assert figure.citation.figure == "Figure 1.1" and figure.citation.bbox is not None
    assert figure.thumbnail and figure.thumbnail.endswith(".jpg")
    assert "bm25" in top.matched_by
    for hit in hits:  # the other records found on the hit's page: a passage's hit is its page, not among them
        assert hit.id not in hit.also_on_page and len(set(hit.also_on_page)) == len(hit.also_on_page), hit


def test_image_query_finds_the_same_pattern_cases_first(demo_index):
    query = Query(image=draw_pattern("keratin-pearls", seed=4242), k=3, filters={"kind": "case"})
    hits = Searcher(demo_index).search(query)
    assert hits and all(h.kind == "case" for h in hits)
    assert hits[0].payload.diagnosis == "lung squamous cell carcinoma"


def test_text_and_image_together_and_filters(demo_index):
    searcher = Searcher(demo_index)
    hits = searcher.search(
        Query(text="granuloma", image=draw_pattern("granuloma", 77), k=10, filters={"organ": "lymph node"})
    )
    assert hits and {h.payload.organ for h in hits} == {"lymph node"}
    assert {h.payload.diagnosis for h in hits} >= {"sarcoidosis"}
    assert any(r.endswith(":image") for h in hits for r in h.matched_by)


def test_bm25_only_and_dense_only_modes(demo_index):
    searcher = Searcher(demo_index)
    bm25 = searcher.search(Query(text="Langhans giant cell", k=3, use=("bm25",)))
    dense = searcher.search(Query(text="Langhans giant cell", k=3, use=("dense",)))
    assert all(set(h.matched_by) == {"bm25"} for h in bm25)
    assert all("bm25" not in h.matched_by for h in dense)
    assert bm25[0].citation.page == 2


def test_a_page_hit_says_every_ranker_that_found_its_text(demo_index):
    """A page's words are found in its passages (or a figure's caption on it) and its meaning by its page vector:
    both show in ``matched_by`` (the CLI's and API's "words #1, meaning #2"), not only the shown passage's."""
    hit = Searcher(demo_index).search(Query(text="Langhans giant cells in a granuloma", k=3))[0]
    assert hit.kind == "page" and hit.passage is not None
    assert {"bm25", "text"} <= set(hit.matched_by), hit.matched_by


@pytest.mark.parametrize("query", [Query(text="   "), Query(), Query(text="x", k=0), Query(text="The of and?")])
def test_bad_queries_are_refused(demo_index, query):
    with pytest.raises(BadInputError):
        Searcher(demo_index).search(query)


def test_a_text_of_stop_words_leaves_an_image_query_to_its_image(demo_index):
    searcher, image = Searcher(demo_index), draw_pattern("granuloma", 5)
    alone = searcher.search(Query(image=image, k=5))
    assert searcher.search(Query(text="what is granuloma", image=image, k=5)) != alone  # a word to look for
    assert searcher.search(Query(text="what is the", image=image, k=5)) == alone  # function words alone


def test_text_queries_skip_spaces_the_encoder_excludes(demo_index):
    encoder = demo_index.encoder
    assert "joint" in encoder.text_spaces and encoder.text_query_spaces() == ("text",)
    searcher = Searcher(demo_index)
    text_hits = searcher.search(Query(text="granuloma", k=5))
    assert all(not r.startswith("joint") for h in text_hits for r in h.matched_by)
    image_hits = searcher.search(Query(image=draw_pattern("granuloma", 5), k=5))
    assert any(r == "joint:image" for h in image_hits for r in h.matched_by)


@given(
    st.lists(st.sampled_from(["tb", "sarcoid", "lymphoma", None]), max_size=80),
    st.integers(min_value=1, max_value=20),
)
@hsettings(max_examples=300, deadline=None)
def test_the_diagnosis_vote_moves_only_hits_after_the_first_five(labels, voters):
    order, agreeing = majority_next(labels, voters)
    assert sorted(order) == list(range(len(labels)))  # a reordering, nothing lost
    assert order[:MAJORITY_KEEP] == list(range(min(MAJORITY_KEEP, len(labels))))
    if not agreeing:
        assert order == list(range(len(labels)))
        return
    winner = labels[agreeing[0]]
    named = [label for label in labels[:voters] if label is not None]
    assert named.count(winner) >= 2 and 2 * named.count(winner) >= len(named)
    window = range(MAJORITY_KEEP, min(MAJORITY_KEEP + MAJORITY_WINDOW, len(labels)))
    assert all(order[p] == p for p in window if labels[p] is None)  # hits without a diagnosis keep their places
    placed = [order[p] for p in window if labels[p] is not None]
    assert agreeing == sorted(i for i in placed if labels[i] == winner)
    assert placed == agreeing + sorted(i for i in placed if labels[i] != winner)
    assert order[MAJORITY_KEEP + MAJORITY_WINDOW :] == list(range(MAJORITY_KEEP + MAJORITY_WINDOW, len(labels)))


def test_no_vote_without_a_shared_diagnosis():
    assert majority_next(["tb", "sarcoid", "lymphoma", "tb", None, "sarcoid", "lymphoma"], 10)[1] == []  # 2 of 6
    assert majority_next(["tb", None, None, None, None, "sarcoid", "tb"], 5)[1] == []  # one voter has one
    tie = ["tb", "tb", "sarcoid", "sarcoid", "x", "sarcoid", "tb"]  # 2 of 4 each: the one ranked first wins
    assert majority_next(tie, 4) == ([0, 1, 2, 3, 4, 6, 5], [6])


def test_one_diagnosis_written_several_ways_votes_as_one():
    labels = ["Adenocarcinoma, lung", "benign lung tissue", "adenocarcinoma of the lung", None, "x"]
    labels += ["Benign lung tissue", "Lung adenocarcinomas"]
    assert majority_next(labels, 5) == ([0, 1, 2, 3, 4, 6, 5], [6])
    assert diagnosis_key("Lung adenocarcinoma") == diagnosis_key("adenocarcinoma of the lung") != diagnosis_key("lung")


def test_an_image_query_shows_the_diagnosis_its_nearest_hits_share_after_the_first_five(settings):
    """Granulomas labelled tuberculosis and sarcoidosis; two tuberculosis cases look like sarcoidosis's glands.
    The nearest hits are tuberculosis, so after the first five its glands come before sarcoidosis's."""
    folder = settings.home.parent / f"vote-{settings.index.parent.name}"
    (folder / "images").mkdir(parents=True)
    rows = [("granuloma", seed, "tuberculosis") for seed in range(1, 7)]
    rows += [("glands", seed, "sarcoidosis") for seed in range(10, 16)] + [("glands", 20, "tuberculosis")]
    rows += [("glands", 21, "tuberculosis")]
    for n, (pattern, seed, _) in enumerate(rows):
        draw_pattern(pattern, seed).save(folder / "images" / f"{n}.jpg", quality=90)
    (folder / "cases.jsonl").write_text(
        "".join(
            json.dumps({"image": f"images/{n}.jpg", "case": f"C{n}", "diagnosis": d}) + "\n"
            for n, (_, _, d) in enumerate(rows)
        )
    )
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    query = Query(image=draw_pattern("granuloma", 99), k=len(rows))
    voted = Searcher(index).search(query)
    unvoted = Searcher(index)
    unvoted.settings = settings.model_copy(update={"diagnosis_vote": 0})
    plain = unvoted.search(query)
    assert [h.id for h in voted[:MAJORITY_KEEP]] == [h.id for h in plain[:MAJORITY_KEEP]]
    assert sorted(h.id for h in voted) == sorted(h.id for h in plain) and voted != plain
    moved = [h for h in voted if MAJORITY in h.matched_by]
    assert moved and all(h.payload.diagnosis == "tuberculosis" for h in moved)
    rest = [h.payload.diagnosis for h in voted[MAJORITY_KEEP:]]
    assert rest == sorted(rest, key=lambda d: d != "tuberculosis")  # the shared diagnosis first, then the others
    assert "majority diagnosis #1" in matched_why(moved[0].matched_by)  # the hit says why it is there
