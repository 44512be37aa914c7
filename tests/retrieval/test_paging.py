"""A larger k only adds hits: the first k hits of a search are the same whatever k was asked (REST and the Python
API page by asking for more, README's ``search(text, k=20)[10:]``)."""

from __future__ import annotations

import pymupdf

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.retrieval.search import Query, Searcher, paged
from tests.helpers import hashing_settings


def test_a_deeper_read_never_reorders_what_a_smaller_k_found(tmp_path):
    """Four strong pages of one section and four weak pages of four others. Two candidates give k 2 both strong pages;
    k 4 reads deeper, where each other section's first page comes before the first section's second
    (``pages_per_section``): ranked afresh, the second strong hit fell out of the first four."""
    pdf = tmp_path / "book.pdf"
    doc = pymupdf.open()
    strong = [f"Osteoclasts resorb bone; osteoclasts resorb bone matrix in {n}, osteoclasts again." for n in "ABCD"]
    for text in strong + [f"Bone is mentioned once here, in note {n}." for n in ("one", "two", "three", "four")]:
        doc.new_page(width=400, height=300).insert_text((30, 40), text, fontsize=8)
    doc.set_toc(
        [[1, "Remodelling", 1], [1, "Note one", 5], [1, "Note two", 6], [1, "Note three", 7], [1, "Note four", 8]]
    )
    doc.save(pdf)
    settings = hashing_settings(tmp_path, candidates=2)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add([pdf]).failed
        searcher = Searcher(index)
        ranked = {k: [hit.id for hit in searcher.search(Query("osteoclasts resorb bone", k=k))] for k in (1, 2, 4, 8)}
    assert len(ranked[8]) == 8
    for k in (1, 2, 4):
        assert ranked[8][:k] == ranked[k], (k, ranked)


def test_paged_hits_follow_and_read_no_more_relevant_than_the_last_shown():
    def hit(rid: str, relative: float) -> Hit:
        return Hit(rid, 1.0, "page", "", Citation(source="b.pdf", page=ord(rid)), relative=relative)

    first = [hit("a", 1.0), hit("b", 0.4)]
    out = paged(first, [hit("c", 0.9), hit("a", 1.0), hit("d", 0.2), hit("e", 0.1)], k=4)
    assert [h.id for h in out] == ["a", "b", "c", "d"]
    assert [h.relative for h in out] == [1.0, 0.4, 0.4, 0.2]


def test_a_deeper_pool_naming_a_shown_page_by_another_record_adds_it_not_again():
    """The first pool found page 3 by its page record; the deeper one by a passage of it, and page 5 as a repeat of
    page 4 (the same text printed twice): neither is a new hit."""
    first = [
        Hit("page3", 1.0, "page", "", Citation(source="b.pdf", page=3)),
        Hit("page4", 1.0, "page", "", Citation(source="b.pdf", page=4), repeated_on=[5]),
    ]
    deeper = [
        Hit("passage-of-3", 1.0, "page", "", Citation(source="b.pdf", page=3)),
        Hit("page5", 1.0, "page", "", Citation(source="b.pdf", page=5)),
        Hit("page3-other-book", 1.0, "page", "", Citation(source="c.pdf", page=3)),
        Hit("fig", 1.0, "figure", "", Citation(source="b.pdf", page=3)),
    ]
    assert [hit.id for hit in paged(first, deeper, k=10)] == ["page3", "page4", "page3-other-book", "fig"]
