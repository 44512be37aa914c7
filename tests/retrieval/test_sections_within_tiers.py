"""The one-page-per-section rule (``pages_per_section``) orders each tier the placing rules make (the figures a query
names, then the records holding every word of a short query, then the rest) on its own: over the whole list, a
section's second page holding every word went below other sections' first pages and every case or figure holding none
(a tester's "periosteum": 4 of the top 10 held it, 10 in score order)."""

from __future__ import annotations

import pymupdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.fusion import sections_first
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings

QUERY = "periosteum osteoclast"
PAGES = {  # page: (its bookmark section, its text)
    1: ("Bone tissue", "Periosteum and osteoclast: the periosteum covers bone, the osteoclast resorbs it. " * 3),
    2: ("Bone tissue", "Periosteum and osteoclast again: periosteum, osteoclast, periosteum and osteoclast. " * 2),
    3: ("Bone tissue", "The periosteum is a membrane; the periosteum has nerves; periosteum heals fractures. " * 2),
    4: ("Cartilage", "Cartilage has no periosteum and no osteoclast; chondrocytes sit in lacunae within it."),
    5: ("Cartilage", "An osteoclast erodes calcified cartilage at the growth plate, and an osteoclast is large."),
}
HOLDING = {1, 2, 4}


@pytest.fixture(scope="module")
def bone_index(tmp_path_factory):
    """A bookmarked PDF of ``PAGES`` and a case whose label holds one of the query's words, in one index."""
    root = tmp_path_factory.mktemp("tiers")
    doc = pymupdf.open()
    for _, text in PAGES.values():
        doc.new_page(width=400, height=300).insert_textbox(pymupdf.Rect(30, 30, 370, 270), text, fontsize=8)
    doc.set_toc([[1, "Bone tissue", 1], [1, "Cartilage", 4]])
    doc.save(root / "book.pdf")
    cases = root / "cases"
    cases.mkdir()
    Image.new("RGB", (48, 48), "purple").save(cases / "c0.png")
    (cases / "labels.csv").write_text("image,case,diagnosis\nc0.png,GCT-1,osteoclast-rich giant cell tumour\n")
    settings = hashing_settings(root)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([root / "book.pdf", cases]).failed
    return root


def shown(root, per_section: int) -> list[int | str]:
    """The hits of ``QUERY`` as page numbers, a case by its case id."""
    settings = hashing_settings(root, pages_per_section=per_section)
    with Index.open(settings.index_dir, settings) as index:
        hits = Searcher(index).search(Query(text=QUERY, k=len(PAGES) + 1))
    return [hit.payload.page or hit.payload.case for hit in hits]


def test_a_sections_second_page_holding_every_word_ranks_above_records_holding_fewer(bone_index):
    by_score = shown(bone_index, per_section=0)
    assert set(by_score[:2]) == {1, 2} and by_score[2] == 4  # the first section's two pages outscore p. 4
    assert set(shown(bone_index, per_section=1)[:3]) == HOLDING  # not the case, a section of its own


def test_the_section_rule_still_spreads_sections_within_a_tier(bone_index):
    """Among the pages holding every word, the second section's best page comes before the first section's next; among
    the rest, the case (a section of its own) before both sections' next pages."""
    best, second = shown(bone_index, per_section=0)[:2]
    hits = shown(bone_index, per_section=1)
    assert hits[:4] == [best, 4, second, "GCT-1"] and set(hits[4:]) == {3, 5}


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), max_size=30).map(
        lambda items: sorted(items, key=lambda item: -item[1])
    ),
    st.integers(1, 3),
)
def test_each_tier_keeps_its_place_and_a_section_counts_across_tiers(items, per_section):
    """Items (section 1-3, 0: none; tier 0-2) ranked by tier: the output keeps every tier's items before a lower tier's,
    and within a tier an item leads where its section has had fewer than ``per_section`` items so far, in any tier."""
    sections = [f"s{section}" if section else None for section, _ in items]
    tiers = [tier for _, tier in items]
    order = sections_first(sections, per_section, tiers)
    assert sorted(order) == list(range(len(items))) and [tiers[i] for i in order] == tiers
    for tier in set(tiers):
        positions = [i for i in range(len(items)) if tiers[i] == tier]
        before = [sum(1 for j in range(i) if sections[j] == sections[i]) for i in positions]
        leading = [i for i, n in zip(positions, before, strict=True) if sections[i] is None or n < per_section]
        assert [i for i in order if tiers[i] == tier] == leading + [i for i in positions if i not in leading]
    assert sections_first(sections, per_section, [0] * len(items)) == sections_first(sections, per_section)
