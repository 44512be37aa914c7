"""A list of hits shown at any door (``hit_records``: CLI ``--json``, REST, MCP, LangChain) reads its query's marked
words once, not once per hit, and shows each hit as ``hit_record`` shows it alone."""

from __future__ import annotations

from pathatlas.retrieval import marks
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.hits import by_meaning_alone, hit_record, hit_records
from tests.retrieval.test_query_parsed_once import QUERY, calls_of


def test_a_list_of_hits_shown_at_any_door_reads_its_query_once(quick_index):
    hits = Searcher(quick_index).search(Query(QUERY, k=10))
    one_by_one = [hit_record(hit, rank, QUERY, by_meaning_alone(hits, QUERY)) for rank, hit in enumerate(hits, 1)]
    with calls_of(marks.query_terms) as parsed:
        shown = hit_records(hits, QUERY)
    assert parsed == [QUERY], f"read {len(parsed)} times for {len(hits)} hits"
    assert shown == one_by_one and any(record["snippet_marks"] for record in shown)
