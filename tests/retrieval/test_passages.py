"""Passages as the text unit: splitting PDF pages, grouping passages into page hits, fusion that keeps
BM25's confident answers, and the benchmark's marking of a default that loses to a baseline."""

from __future__ import annotations

import json

import numpy as np
import pymupdf
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Page, Passage
from pathatlas.indexer.sources.pdf import PdfSource, merge_blocks
from pathatlas.retrieval.bench.common import chapter_folds, losses
from pathatlas.retrieval.bench.pages import Candidates, choose_ranker, prefer_simple
from pathatlas.retrieval.fusion import FEATURES, PLAIN_PIN, Ranker, group_features, section_of, sections_first
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Payload
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings

PARAGRAPH = "The {n} epithelium lines a surface and its cells rest on a basement membrane of collagen. " * 4


def _book(path, pages: int = 2):
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()
        page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)  # has the "ﬁ" ligature glyph
        y = 60
        page.insert_text((60, y), f"Heading {number + 1}", fontsize=14)
        for n in range(4):
            box = pymupdf.Rect(60, y + 20, 550, y + 150)
            page.insert_textbox(box, PARAGRAPH.format(n=f"p{number + 1}-para{n} scientiﬁc"), fontsize=9, fontname="F0")
            y += 150
    doc.save(path)
    return path


def test_merge_blocks_keeps_order_and_word_bounds():
    blocks = [((0, i * 10, 100, i * 10 + 8), " ".join([f"w{i}"] * words)) for i, words in enumerate([3, 50, 40, 300])]
    groups = merge_blocks(blocks, min_words=60, max_words=200)
    flat = [text.split()[0] for group in groups for _, text in group]
    assert flat == sorted(flat, key=lambda w: int(w[1:])), "reading order is kept"
    sizes = [sum(len(t.split()) for _, t in group) for group in groups]
    assert all(size <= 200 for size in sizes)
    assert sizes[0] == 93, "a heading joins the text after it, blocks join until 60 words"
    assert sum(sizes) == 393, "no word is lost when a long block is split"


def test_pdf_passages_stay_on_their_page_inside_its_box(tmp_path, settings):
    records = list(PdfSource(_book(tmp_path / "book.pdf"), settings).records())
    pages = {r.page: r for r in records if isinstance(r, Page)}
    passages = [r for r in records if isinstance(r, Passage)]
    assert {p.page for p in passages} == {1, 2} and len(passages) >= 4
    for passage in passages:
        x0, y0, x1, y1 = passage.bbox
        assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792
        assert all(x0 <= b[0] and y0 <= b[1] and b[2] <= x1 and b[3] <= y1 for b in passage.blocks)
        assert f"p{passage.page}-" in passage.text and f"p{3 - passage.page}-" not in passage.text
        assert "ﬁ" not in passage.text and "scientific" in passage.text
        assert passage.text.split("\n")[0] in pages[passage.page].text
    first_page = [p for p in passages if p.page == 1]
    assert [p.index for p in first_page] == list(range(len(first_page)))
    assert first_page[0].text.startswith("Heading 1"), "passages follow reading order"
    (page_entry,) = pages[1].entries()
    assert page_entry.text.startswith("Heading 1") and page_entry.payload.searchable is False
    (entry,) = first_page[0].entries()
    assert entry.payload.page_id == pages[1].id and entry.payload.kind == "passage"


def _payloads(pages: dict[str, int], kind: str = "passage") -> dict[str, Payload]:
    return {record_id: Payload(kind, "book.pdf", page=page) for record_id, page in pages.items()}


def test_passages_group_into_pages_with_their_best_member_first():
    payloads = _payloads({"a": 3, "b": 3, "c": 5})
    payloads["case"] = Payload("case", "cases")
    rankings = {"bm25": [("b", 9.0), ("c", 6.0), ("a", 3.0)], "text": [("a", 0.8), ("case", 0.7), ("c", 0.2)]}
    groups, features = group_features(rankings, payloads, ["text"])
    by_key = {g.key: (g, row) for g, row in zip(groups, features, strict=True)}
    page3, row3 = by_key[("book.pdf", 3)]
    assert set(page3.members) == {"a", "b"}
    col = {name: i for i, name in enumerate(FEATURES)}
    assert row3[col["bm25"]] == 1.0 and row3[col["passage_dense"]] == 0.0
    assert np.isclose(by_key[("book.pdf", 5)][1][col["passage_dense"]], 0.2 - 0.8)
    assert np.isclose(row3[col["dense"]], 0.2 - 0.7), "no page vector: the floor of the list, below the case's 0.7"
    assert np.isclose(row3[col["bm25_rest"]], 3.0 / 9.0)
    assert by_key[("book.pdf", 5)][1][col["neighbour"]] == 0.0, "pages 3 and 5 are not adjacent"
    assert "case" in by_key, "records without a page are groups of their own"


@hsettings(max_examples=60, deadline=None)
@given(
    bm25=st.lists(st.floats(0.0, 20.0), min_size=6, max_size=6),
    dense=st.lists(st.floats(-0.2, 1.0), min_size=6, max_size=6),
    gold=st.integers(0, 5),
)
def test_default_fusion_is_never_below_bm25_at_rank_one(bm25, dense, gold):
    """Toy corpus, six pages with page vectors, any BM25 and dense scores: the default puts BM25's best page
    first, so its recall@1 equals BM25's whatever the dense ranker says; with a useless BM25 the dense order
    decides."""
    payloads = _payloads({f"p{i}": 10 * i for i in range(6)}, kind="page")
    rankings = {
        "bm25": sorted([(f"p{i}", s) for i, s in enumerate(bm25) if s > 0], key=lambda x: -x[1]),
        "text": sorted([(f"p{i}", s) for i, s in enumerate(dense)], key=lambda x: -x[1]),
    }
    groups, features = group_features(rankings, payloads, ["text"])
    fused = Ranker.plain().score(features)
    bm25_only = Ranker({"bm25": 1.0}).score(features)
    fused_top, bm25_top = groups[int(np.argmax(fused))].key, groups[int(np.argmax(bm25_only))].key
    if max(bm25) > 0:
        assert fused_top == bm25_top
        assert (fused_top[1] == 10 * gold) >= (bm25_top[1] == 10 * gold)
    else:
        assert fused_top[1] == 10 * int(np.argmax(dense))


@hsettings(max_examples=60, deadline=None)
@given(
    bm25=st.lists(st.floats(0.0, 20.0), min_size=6, max_size=6),
    cosines=st.lists(st.floats(-0.2, 1.0), min_size=6, max_size=6),
)
def test_passage_vectors_move_the_top_page_only_past_a_close_bm25_score(bm25, cosines):
    """With passage vectors the top page is the best by BM25 plus a share of the passage cosine, each as a gap
    to the query's best: a page can displace BM25's best only when its BM25 is within that share of the cosine
    gap of the best BM25 score."""
    payloads = _payloads({f"p{i}": 10 * i for i in range(6)})
    rankings = {
        "bm25": sorted([(f"p{i}", s) for i, s in enumerate(bm25) if s > 0], key=lambda x: -x[1]),
        "text": sorted([(f"p{i}", s) for i, s in enumerate(cosines)], key=lambda x: -x[1]),
    }
    groups, features = group_features(rankings, payloads, ["text"])
    top = groups[int(np.argmax(Ranker.plain().score(features)))].key[1] // 10
    if max(bm25) > 0:
        best = int(np.argmax(bm25))
        share = PLAIN_PIN["passage_dense"]
        assert bm25[top] / max(bm25) >= 1 - share * (max(cosines) - min(cosines)) - 1e-9
        assert top == best or cosines[top] > cosines[best]


def test_losses_mark_only_the_default_below_a_baseline():
    task = {
        "n": 10,
        "default": "hybrid",
        "baselines": ["bm25", "chance"],
        "methods": {
            "hybrid": {"recall@1": 0.7, "recall@5": 0.95, "mrr": 0.8},
            "bm25": {"recall@1": 0.75, "recall@5": 0.9, "mrr": 0.8},
            "dense": {"recall@1": 0.9, "recall@5": 0.99, "mrr": 0.95},
            "chance": {"recall@1": 0.01, "recall@5": 0.05, "mrr": 0.02},
        },
    }
    assert losses(task) == {"hybrid": [("bm25", "recall@1")]}
    task["methods"]["hybrid"]["recall@1"] = 0.75
    assert losses(task) == {}
    assert losses({"n": 1, "methods": {"a": {"recall@1": 0.0}}}) == {}


def test_bench_table_prints_the_mark():
    from rich.console import Console

    from pathatlas.ui.bench_cli import retrieval_table

    task = {
        "n": 2,
        "default": "hybrid",
        "baselines": ["bm25"],
        "methods": {"hybrid": {"recall@1": 0.5, "mrr": 0.6}, "bm25": {"recall@1": 0.5, "mrr": 0.7}},
    }
    console = Console(width=200, record=True)
    console.print(retrieval_table("t", task))
    assert "✗ below bm25 on mrr" in console.export_text()


def test_chapter_folds_deal_chapters_round_robin():
    chapters = ["a", "a", "b", "c", "b", "d", "e", "f"]
    assert chapter_folds(chapters, 5) == [0, 0, 1, 2, 1, 3, 4, 0]


def test_page_hits_carry_their_best_passage(demo_index):
    hits = Searcher(demo_index).search(Query(text="koilocytes in cervical epithelium", k=5))
    top = hits[0]
    assert top.kind == "page" and top.passage is not None and top.passage != top.id
    passage = demo_index.store.payloads([top.passage])[top.passage]
    assert passage["kind"] == "passage" and passage["page"] == top.citation.page
    assert top.citation.bbox == tuple(passage["bbox"])
    assert top.snippet.replace("…", "")[:40] in " ".join(passage["text"].split())
    assert top.thumbnail and top.thumbnail.endswith(f"{top.id}.jpg")
    assert top.to_dict()["passage"] == top.passage
    pages = Searcher(demo_index).search(Query(text="koilocytes", k=5, filters={"kind": "page"}))
    assert pages and all(h.kind == "page" for h in pages)


def test_ranker_file_keeps_its_pin_and_reads_files_written_before_pins(tmp_path):
    weights = {"bm25": 1.0, "dense": 3.0, "passage_dense": 0.5}
    chosen = Ranker(weights, "chosen", pin={"bm25": 1.0, "passage_dense": 0.75})
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(chosen.to_json()))
    assert Ranker.load(path) == chosen
    path.write_text(json.dumps({"weights": {"bm25": 1.0, "dense": 1.0}, "pin_bm25": True}))
    assert Ranker.load(path).pin == {"bm25": 1.0}
    assert Ranker.load(tmp_path / "missing.json") == Ranker.plain()
    # A pin decides the top row only; the weights order the others.
    features = np.zeros((3, len(FEATURES)))
    features[:, FEATURES.index("bm25")] = [1.0, 0.9, 0.2]
    features[:, FEATURES.index("passage_dense")] = [-0.4, 0.0, 0.0]
    features[:, FEATURES.index("dense")] = [-0.3, -0.5, 0.0]
    order = np.argsort(-chosen.score(features))
    assert order[0] == 1, "0.9 + 0.75 * 0 beats 1.0 + 0.75 * -0.4 for the top"
    assert list(order[1:]) == [2, 0], "the rest by bm25 + 3 dense + 0.5 passage: 0.2 > 1.0 - 0.9 - 0.2"


def test_learned_ranker_must_beat_the_grid_by_a_question():
    """The learned ranker replaces the best grid fusion only when it wins by more than one question's worth."""
    assert prefer_simple([2.0, 5.0, 5.0], learned_value=5.8) == 1  # earliest of the best; 0.8 is noise
    assert prefer_simple([2.0, 5.0, 5.0], learned_value=6.5) is None
    assert prefer_simple([2.0, 5.0], learned_value=5.5, margin=0.0) is None


@hsettings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.floats(0.0, 20.0), min_size=5, max_size=5), st.integers(0, 4)), min_size=4, max_size=8
    )
)
def test_chosen_fusion_is_never_below_bm25_at_rank_one_on_its_own_questions(questions):
    """Toy corpus of five pages per question, random BM25 and page-vector scores, no passage vectors: whatever
    the fold-wise choice picks keeps BM25's best page first, so its recall@1 equals BM25's."""
    rng = np.random.default_rng(len(questions))
    candidates = []
    for bm25, gold in questions:
        features = np.zeros((5, len(FEATURES)))
        features[:, FEATURES.index("bm25")] = np.array(bm25) / (max(bm25) or 1.0)
        features[:, FEATURES.index("dense")] = rng.uniform(-0.3, 0.0, 5)
        candidates.append(Candidates(list(range(5)), features, np.arange(5) == gold, [None] * 5))
    chosen = choose_ranker(candidates)
    for cand, (bm25, _) in zip(candidates, questions, strict=True):
        if max(bm25) > 0:
            top = int(np.argmax(chosen.score(cand.features)))
            assert cand.features[top, FEATURES.index("bm25")] == cand.features[:, FEATURES.index("bm25")].max()


@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=30),
    st.sets(st.integers(0, 4), max_size=2),
    st.integers(1, 3),
)
def test_sections_first_keeps_the_top_and_never_pushes_a_whole_relevant_section_down(sections, relevant, per_section):
    """A ranked list of items in sections 1-4 (0: no section); ``relevant`` sections are wholly relevant, as a
    question's gold module is: showing each section's first items first never moves the first relevant item down."""
    labels = [f"s{s}" if s else None for s in sections]
    order = sections_first(labels, per_section)
    before = [sum(1 for label in labels[:i] if label is not None and label == labels[i]) for i in range(len(labels))]
    leading = [i for i in range(len(labels)) if labels[i] is None or before[i] < per_section]
    assert order == leading + [i for i in range(len(labels)) if i not in leading] and order[0] == 0
    is_relevant = [s in relevant and s != 0 for s in sections]
    if any(is_relevant):
        assert [is_relevant[i] for i in order].index(True) <= is_relevant.index(True)


def test_a_text_search_shows_each_sections_best_page_before_a_sections_next(tmp_path):
    """Three pages of one section outscore the one page of another; with ``pages_per_section`` 1 that page
    reaches the top two, the top hit staying where it was."""
    pdf = tmp_path / "book.pdf"
    doc = pymupdf.open()
    for text in [
        "Squamous metaplasia of the bronchus: squamous metaplasia replaces ciliated cells, squamous metaplasia.",
        "Squamous metaplasia in smokers; squamous metaplasia of the bronchus again and squamous metaplasia.",
        "Squamous metaplasia, reversible: squamous metaplasia of the bronchus, squamous metaplasia once more.",
        "Barrett oesophagus is a glandular metaplasia; squamous metaplasia of the bronchus is compared here.",
    ]:
        doc.new_page(width=400, height=300).insert_text((30, 40), text, fontsize=8)
    doc.set_toc([[1, "Metaplasia of the airways", 1], [1, "Metaplasia of the gut", 4]])
    doc.save(pdf)
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([pdf]).failed
    query = Query(text="squamous metaplasia of the bronchus", k=2)
    index.settings = settings.model_copy(update={"pages_per_section": 0})
    by_score = Searcher(index).search(query)
    index.settings = settings
    diverse = Searcher(index).search(Query(text="squamous metaplasia of the bronchus", k=2))
    assert [h.payload.section for h in by_score] == ["Metaplasia of the airways"] * 2
    assert diverse[0].id == by_score[0].id
    assert [h.payload.section for h in diverse] == ["Metaplasia of the airways", "Metaplasia of the gut"]


def test_pages_of_a_pdf_without_bookmarks_are_not_one_section(tmp_path):
    """Their section is empty; taken for one shared section, every page after the first sank below anything else
    (a tester's strong second page fell under unrelated cases)."""
    pdf = tmp_path / "plain.pdf"
    doc = pymupdf.open()
    for text in [
        "Sarcomere contraction: actin and myosin slide in every sarcomere during contraction.",
        "Sarcomere contraction again: the sarcomere shortens in contraction as the filaments slide.",
        "The thyroid gland makes hormones.",
    ]:
        doc.new_page(width=400, height=300).insert_text((30, 40), text, fontsize=8)
    doc.save(pdf)
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([pdf]).failed
    hits = Searcher(index).search(Query(text="sarcomere contraction", k=3))
    assert {h.citation.page for h in hits[:2]} == {1, 2} and all(not h.payload.section for h in hits)
    assert section_of(hits[0].payload) is None
