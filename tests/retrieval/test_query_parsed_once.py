"""A text search reads its query's words once, however many hits it makes (``marks.query_terms`` for the snippets;
``terms.searchable`` for BM25's lookup and the check that it has words), and a hit's snippet is made when first read
(``Hit.snippet``): the agent, which weighs its records' own texts, makes none, and every door's JSON of a hit is what
it was."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.graph import Agent
from pathatlas.agent.questions import Question
from pathatlas.retrieval import fusion, marks, terms
from pathatlas.retrieval.fusion import snippet
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.retrieval.search import Query, Searcher

QUERY = "epithelium cells nuclei"
"""Words the demo primer's pages hold, each of which is longer than a snippet."""


@contextmanager
def calls_of(function: Callable) -> Iterator[list[object]]:
    """The first argument of every call of ``function`` while the block runs (in this thread and those it starts),
    however its callers imported it."""
    code, calls = function.__code__, []

    def seen(frame, event, _):
        if event == "call" and frame.f_code is code:
            calls.append(frame.f_locals[code.co_varnames[0]])

    sys.setprofile(seen)
    threading.setprofile(seen)
    try:
        yield calls
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


def test_a_search_reads_its_marked_words_once_whatever_its_hits(quick_index):
    searcher = Searcher(quick_index)
    for k in (3, 10):
        with calls_of(marks.query_terms) as parsed:
            hits = searcher.search(Query(QUERY, k=k))
            shown = [hit.snippet for hit in hits]
        windows = [text for hit, text in zip(hits, shown, strict=True) if len(text) < len(hit.payload.body)]
        assert len(hits) == k and len(windows) >= 3, "snippets cut from longer texts, each opening at marked words"
        assert parsed == [QUERY], f"k={k}: the query's words were read {len(parsed)} times"


def test_bm25_and_the_words_check_fold_a_query_once():
    with calls_of(terms.searchable) as folded:
        terms.lookup_terms([QUERY])
    assert folded == [QUERY]
    with calls_of(terms.searchable) as folded:
        assert terms.has_words(QUERY)
    assert folded == [QUERY]


def test_an_agent_ask_makes_no_snippet(quick_index):
    agent = Agent(Searcher(quick_index), OfflineAnswerer(quick_index.encoder), max_rounds=1)
    question = Question("Which cells show a clear perinuclear halo?", ["Koilocytes", "Goblet cells"])
    with calls_of(fusion.flat_blocks) as made:
        result = agent.ask(question)
    assert result.evidence and made == [], f"{len(made)} snippets made that nobody read"


def test_a_hits_snippet_and_json_are_those_of_its_query(quick_index):
    hits = Searcher(quick_index).search(Query(QUERY, k=5))
    for hit in hits:
        with calls_of(fusion.flat_blocks) as made:
            record = hit.to_dict()
            again = hit.to_dict()
        assert len(made) == 1, "made on first read, then kept"
        assert record == again and record["snippet"] == snippet(hit.payload.body, QUERY)


def test_a_snippet_given_as_text_or_made_on_first_read_is_one_hit():
    body = "filler " * 60 + "Squamous epithelium: flat cells with flat nuclei. " + "more " * 60
    given = Hit("p1", 1.0, "page", snippet(body, QUERY), Citation("book.pdf", 3))
    made = Hit("p1", 1.0, "page", partial(snippet, body, QUERY), Citation("book.pdf", 3))
    assert made == given and made.to_dict() == given.to_dict() and repr(made) == repr(given)
