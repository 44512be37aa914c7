"""A data scientist's session with ``Atlas`` and ``PathAtlasRetriever`` (s30, t7): threads whose first calls meet, a
``Hit`` given to ``similar``, options held in a pandas column, a retriever call's own k and filters, and the retriever's
keywords and types refused in one line rather than dropped, coerced or read letter by letter."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.library import Atlas
from tests.helpers import quick

QUESTION = "Which cells show a clear perinuclear halo in HPV infection of the cervix?"
OPTIONS = ["Langhans giant cells", "Koilocytes", "Goblet cells"]


@pytest.fixture(scope="module")
def retriever(demo_index, session_home):
    return PathAtlasRetriever.from_index(demo_index.path, settings=Settings(home=session_home), k=3)


def test_threads_whose_first_calls_meet_share_one_opened_index(quick_demo, monkeypatch):
    """Each thread opened the index (and made a searcher) of its own: on the book, 8 copies of its vectors, 32 s."""
    opened = []
    real_open = Index.open.__func__

    def slow_open(cls, *args, **kwargs):  # as a big index takes a while to open: the others arrive meanwhile
        opened.append(threading.get_ident())
        time.sleep(0.2)
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(Index, "open", classmethod(slow_open))
    shared = Atlas(quick_demo / "index", **quick(quick_demo))
    with ThreadPoolExecutor(4) as threads:
        found = list(threads.map(lambda _: [hit["id"] for hit in shared.search("koilocytes", k=3)], range(4)))
    shared.close()
    assert len(opened) == 1 and found == [found[0]] * 4 and found[0]


def test_similar_takes_a_hit_as_hits_gives_it(quick_atlas):
    """``hits()`` gives ``Hit`` objects, which ``similar`` refused as "not Hit" while asking for "a hit"."""
    hit = quick_atlas.hits("koilocytes perinuclear halo", k=1)[0]
    assert quick_atlas.similar(hit, k=3) == quick_atlas.similar(hit.id, k=3) != []


@pytest.mark.parametrize("column", [pd.Series(OPTIONS), np.array(OPTIONS)])
def test_ask_takes_the_options_a_dataframe_holds(quick_atlas, column):
    """A pandas Series or numpy array of options was a ValueError: "the truth value of ... is ambiguous"."""
    answer = quick_atlas.ask(QUESTION, column)
    assert [option["text"] for option in answer["options"]] == OPTIONS
    assert answer["answer"] == quick_atlas.ask(QUESTION, OPTIONS)["answer"] == "Koilocytes"


def test_a_retriever_call_takes_its_own_k_and_filters(retriever):
    """``invoke(q, k=6)`` gave the retriever's 3 documents, and its filters were dropped: LangChain passed them on, the
    retriever took none."""
    assert len(retriever.invoke("koilocytes")) == 3 and len(retriever.invoke("koilocytes", k=6)) == 6
    cases = retriever.invoke("granuloma lymph node", filters={"kind": "case"})
    assert cases and {doc.metadata["kind"] for doc in cases} == {"case"}
    assert [len(docs) for docs in retriever.batch(["koilocytes", "granuloma"], k=5)] == [5, 5]
    docs = asyncio.run(retriever.ainvoke("granuloma lymph node", k=2, filters={"kind": "case"}))
    assert len(docs) == 2 and {doc.metadata["kind"] for doc in docs} == {"case"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.invoke("koilocytes", n=6), "unknown argument 'n'; invoke takes k, filters"),
        (lambda r: r.invoke("koilocytes", k="6"), "k must be a whole number, not '6'"),
        (lambda r: r.invoke("koilocytes", k=0), "k must be between 1 and 100, not 0"),
        (lambda r: r.invoke("koilocytes", filters={"source": "nope.pdf"}), "no source 'nope.pdf' in index "),
        (lambda r: r.invoke(5), "the query must be text, not int"),
    ],
)
def test_a_retriever_call_refuses_what_it_cannot_take_in_one_line(retriever, call, message):
    """``invoke(5)`` was a TypeError ("object of type 'int' has no len()"); a misnamed keyword was dropped."""
    with pytest.raises(BadInputError) as refused:
        call(retriever)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"n": 6}, "unknown argument 'n'; PathAtlasRetriever.from_index takes index, settings, allow_dirs, "),
        ({"search_kwargs": {"k": 6}}, "unknown argument 'search_kwargs'; PathAtlasRetriever.from_index takes "),
        ({"k": "3"}, "k must be a whole number, not '3'"),
        ({"k": None}, "k must be a whole number, not None"),
        ({"index": 5}, "index must be a folder (str or pathlib.Path), not int"),
        ({"settings": {"figure_ocr": False}}, "settings must be a pathatlas Settings (load_settings(...)), not dict"),
        ({"allow_dirs": 5}, "allow_dirs takes a folder or a list of folders, not 5"),
    ],
)
def test_from_index_refuses_a_keyword_or_type_in_one_line(demo_index, session_home, given, message):
    """Unknown keywords were dropped (``search_kwargs={"k": 6}`` gave 4 documents), "3" taken as 3, None a pydantic
    report of several lines, an index of 5 a TypeError, a settings dict an AttributeError."""
    arguments = {"index": demo_index.path, "settings": Settings(home=session_home), **given}
    with pytest.raises(BadInputError) as refused:
        PathAtlasRetriever.from_index(**arguments)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_allow_dirs_given_as_one_folder_allows_that_folder_alone(demo_index, session_home, tmp_path):
    """A folder given as text was read letter by letter: its "/" allowed the tools to read any image on the disk."""
    opened = PathAtlasRetriever.from_index(
        demo_index.path, settings=Settings(home=session_home), allow_dirs=str(tmp_path)
    )
    opened.toolbox.engine.close()
    assert opened.toolbox.allow_dirs == (tmp_path.resolve(),)


def test_from_index_names_itself_for_a_file_given_as_the_index(tmp_path, session_home):
    """It answered in the CLI's words: "give a folder with --index"."""
    (tmp_path / "book.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(BadInputError, match=r"is a file, not an index folder: pass PathAtlasRetriever\.from_index a"):
        PathAtlasRetriever.from_index(tmp_path / "book.pdf", settings=Settings(home=session_home))
