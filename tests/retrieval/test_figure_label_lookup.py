"""A text search naming a figure by its printed label ("Figure 6.3", "fig 6-3") puts the figures of that label first,
those of every book its filters admit, shown as such; every other hit keeps its place. BM25 alone ranks the figures
of section "6.3 Bone Structure" above Figure 6.3, since each figure is read with its section's path in front."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.figure_labels import label_key, named_figures, named_labels
from pathatlas.retrieval.fusion import Group, group_features, placed_first, shown_member
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Payload
from pathatlas.retrieval.search import LABEL, Query, Searcher
from tests.helpers import hashing_settings, png_bytes

NAMED = "Figure 6.3"
LONG_CAPTION = (
    "Bones are classified by shape as long, short, flat, irregular or sesamoid, each drawn here beside the skeleton "
    "with its joints and the muscles that move it"
)


def figure_chapter(path: Path, figures: list[tuple[str, str]], seed: int = 0) -> Path:
    """Chapter 6 of ``figures`` (section, caption), one a page: a picture (of ``seed``) above its caption, under its
    section's bookmark."""
    doc = pymupdf.open()
    toc = [[1, "Chapter 6 Bone Tissue", 1]]
    for number, (section, caption) in enumerate(figures, start=1):
        page = doc.new_page(width=300, height=400)
        pixels = np.random.default_rng(seed * 100 + number).integers(0, 255, (96, 96, 3), dtype=np.uint8)
        page.insert_image(pymupdf.Rect(20, 40, 140, 160), stream=png_bytes(Image.fromarray(pixels)))
        page.insert_textbox(pymupdf.Rect(20, 170, 280, 320), caption, fontsize=9)
        if section not in (entry[1] for entry in toc):
            toc.append([2, section, number])
    doc.set_toc(toc)
    doc.save(path)
    doc.close()
    return path


def book(path: Path, seed: int) -> Path:
    """A chapter whose Figure 6.3, long captioned, lies in section 6.2, before section "6.3 Bone Structure" and its
    five short-captioned figures, one figure a page."""
    figures = [("6.2 Bone Classification", f"{NAMED}. {LONG_CAPTION}")]
    figures += [("6.3 Bone Structure", f"Figure 6.{n}. Compact bone") for n in range(4, 9)]
    return figure_chapter(path, figures, seed)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Two such books indexed with the hashing encoder, each printing its own Figure 6.3."""
    root = tmp_path_factory.mktemp("labels")
    books = [book(root / name, seed) for seed, name in enumerate(("histology.pdf", "anatomy.pdf"))]
    settings = hashing_settings(root, figure_ocr=False)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add(books).failed
    return root


def search(
    root: Path, text: str, filters: dict | None = None, k: int = 8, labels_first: bool = True, **settings
) -> list:
    options = hashing_settings(root, figure_ocr=False, **settings)
    with Index.open(options.index_dir, options) as index:
        return Searcher(index, labels_first=labels_first).search(Query(text=text, k=k, filters=filters or {}))


def shown(hits: list) -> list[tuple[str, int, str | None]]:
    return [(Path(hit.citation.source).name, hit.citation.page, hit.citation.figure) for hit in hits]


def test_a_label_is_read_as_typed_and_as_stored():
    assert named_labels("Figure 6.3") == named_labels("fig 6-3") == named_labels("FIG. 6 – 3 bone") == [("6.3", "")]
    assert named_labels("figures 2.1 and fig 12.10A.") == [("2.1", ""), ("12.10", "a")]
    assert named_labels("configure 6") == named_labels("fig tree") == named_labels("figure 12.10ab") == []
    assert (label_key("Figure 6.3"), label_key("Figure 12.10a"), label_key("p3-img1"), label_key(None)) == (
        "6.3",
        "12.10a",
        None,
        None,
    )


def test_a_query_names_every_figure_of_its_label_and_a_panel_its_figure():
    labels = {"a": "Figure 6.3", "b": "Figure 6.3", "c": "Figure 16.3", "d": "Figure 6.31", "e": "p6-img3"}
    assert named_figures("fig 6-3 bone", labels) == {"a", "b"}
    assert named_figures("Figure 6.3b", labels) == {"a", "b"}  # no panel labelled: the figure it belongs to
    assert named_figures("Figure 6.3b", {**labels, "f": "Figure 6.3b"}) == {"f"}
    assert named_figures("bone 6.3", labels) == named_figures("Figure 7.1", labels) == set()


def test_the_named_groups_go_first_and_show_the_named_figure():
    scores = np.array([3.0, 2.0, 1.0, 0.5])
    words = placed_first(scores, [False, True, True, False])
    assert list(np.argsort(-placed_first(words, [False, False, True, True]), kind="stable")) == [2, 3, 1, 0]
    payloads = {"p": Payload(kind="passage", source="s", page=1), "f": Payload(kind="figure", source="s", page=1)}
    page = Group(("s", 1), ["p", "f"])
    assert (shown_member(page, payloads), shown_member(page, payloads, {"f"})) == ("p", "f")


def test_a_record_no_ranker_found_joins_without_moving_a_candidate():
    payloads = {
        "p1": Payload(kind="passage", source="s", page=1),
        "p2": Payload(kind="passage", source="s", page=2),
        "f3": Payload(kind="figure", source="s", page=3),
        "f1": Payload(kind="figure", source="s", page=1),
    }
    rankings = {"bm25": [("p1", 3.0), ("p2", 1.0)], "text": [("p2", 0.9), ("p1", 0.5)]}
    groups, features = group_features(rankings, payloads, ["text"])
    joined, joined_features = group_features(rankings, payloads, ["text"], named=["f3", "f1"])
    assert [g.key for g in joined] == [*(g.key for g in groups), ("s", 3)]
    assert np.array_equal(joined_features[: len(groups)], features)
    assert joined[0].members == ["p1", "f1"]


@pytest.mark.parametrize("query", ["Figure 6.3", "fig 6-3", "Fig. 6.3 bone"])
@pytest.mark.parametrize("kind", ["figure", None])
def test_a_figure_named_by_label_comes_first_in_every_book(library, query, kind):
    hits = search(library, query, {"kind": kind} if kind else None)
    assert {(name, figure) for name, _, figure in shown(hits[:2])} == {("histology.pdf", NAMED), ("anatomy.pdf", NAMED)}
    assert [hit.matched_by.get(LABEL) for hit in hits[:3]] == [1, 2, None]


def test_every_other_hit_keeps_its_place(library):
    hits = search(library, "Figure 6.3 bone", k=20)
    without = search(library, "Figure 6.3 bone", k=20, labels_first=False)
    rest = [hit.id for hit in hits[2:]]
    assert rest == [hit.id for hit in without if hit.id in rest]
    assert shown(without[:2]) != shown(hits[:2])


def test_the_rule_keeps_to_the_filters(library):
    assert shown(search(library, NAMED, {"source": "anatomy.pdf"})[:1]) == [("anatomy.pdf", 1, NAMED)]
    pages = search(library, NAMED, {"kind": "page"})
    assert all(hit.kind == "page" and LABEL not in hit.matched_by for hit in pages)


def test_a_named_figure_no_ranker_found_comes_first(library):
    hits = search(library, NAMED, {"kind": "figure", "source": "anatomy.pdf"}, candidates=1)
    assert shown(hits[:1]) == [("anatomy.pdf", 1, NAMED)]


def test_a_figure_found_by_its_label_alone_is_worded_as_found(library):
    """ "Fig. 6-3" holds no indexed word, so meaning alone would find the rest: the named figure is still a best match
    found by its figure label, not "related"."""
    from pathatlas.ui.hits import hit_records
    from pathatlas.ui.present import RANKER_WORDS

    query = "Fig. 6-3"
    hits = search(library, query, {"kind": "figure"})
    first = hit_records(hits, query)[0]
    assert (first["citation"]["figure"], first["relevance"]) == (NAMED, "best match")
    assert LABEL in hits[0].matched_by and RANKER_WORDS[LABEL] == "figure label"


def test_a_figure_label_is_no_unknown_word_but_a_typo_beside_it_is():
    from pathatlas.ui.words import unindexed_words

    terms = {"muscl", "bone"}
    assert unindexed_words("fig 11.1 muscle", terms, ()) == []
    assert unindexed_words("Fig. 6-3 bone tisue", terms, ()) == ["tisue"]
    assert unindexed_words("fig bone", terms, ()) == ["fig"], "the word alone names no figure"
