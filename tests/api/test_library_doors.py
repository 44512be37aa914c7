"""PathAtlas as a Python library: ``Searcher``, ``similar``, the LangChain retriever and the ``Agent`` filter as the CLI
and REST do (a source by file name or id, a chapter) and refuse wrongly typed input in one line, not a traceback or
no hits."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.graph import Agent
from pathatlas.agent.questions import Question
from pathatlas.errors import BadInputError, UnknownSourceError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import source_id
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.similar import similar
from pathatlas.ui.langchain import PathAtlasRetriever
from tests.helpers import hashing_settings

PRIMER = "demo-primer.pdf"
CHAPTER = "Lung Carcinoma"


@pytest.fixture(scope="module")
def index(demo_corpus, tmp_path_factory) -> Index:
    """The demo corpus (a primer PDF and case images) indexed with the hashing encoder: no model to load."""
    settings = hashing_settings(tmp_path_factory.mktemp("library"))
    opened = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(opened, show_progress=False).add([demo_corpus]).failed
    return opened


@pytest.fixture(scope="module")
def searcher(index) -> Searcher:
    return Searcher(index)


def primer_key(index: Index) -> str:
    return next(key for key in index.manifest if Path(key).name == PRIMER)


def sources(hits) -> set[str]:
    return {hit.payload.source for hit in hits}


@pytest.mark.parametrize("named", ["file name", "id"])
def test_a_source_filter_takes_the_file_name_or_id_as_the_path(searcher, index, named):
    key = primer_key(index)
    by_path = searcher.search(Query(text="carcinoma cells", k=5, filters={"source": key}))
    name = PRIMER if named == "file name" else source_id(key)
    by_name = searcher.search(Query(text="carcinoma cells", k=5, filters={"source": name}))
    assert by_path and sources(by_path) == {key}
    assert [hit.id for hit in by_name] == [hit.id for hit in by_path]
    with pytest.raises(UnknownSourceError, match="no source 'atlas.pdf'"):
        searcher.search(Query(text="carcinoma cells", filters={"source": "atlas.pdf"}))


def test_a_chapter_filter_searches_the_sections_under_it(searcher):
    hits = searcher.search(Query(text="carcinoma cells", k=5, filters={"chapter": CHAPTER.lower()}))
    assert hits and {hit.payload.section.split(" > ")[0] for hit in hits} == {CHAPTER}
    with pytest.raises(UnknownSourceError, match=f"no chapter 'Appendix'.*its chapters: .*{CHAPTER}"):
        searcher.search(Query(text="carcinoma cells", filters={"chapter": "Appendix"}))


def test_an_unknown_filter_field_names_the_fields_a_user_has(searcher):
    with pytest.raises(BadInputError, match="unknown filter field 'organs'; use kind, source, organ") as refused:
        searcher.search(Query(text="carcinoma", filters={"organs": "lung"}))
    assert "chapter" in str(refused.value) and "fingerprint" not in str(refused.value)


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"k": "5"}, "k must be a whole number, not '5'"),
        ({"k": 5.5}, "k must be a whole number, not 5.5"),
        ({"text": 42}, "text must be a string, not int"),
        ({"text": b"koilocytes"}, "text must be a string, not bytes"),
        ({"image": "slide.png"}, "image must be a PIL image, not str"),
        ({"filters": "kind=figure"}, "filters must be a mapping"),
        ({"filters": {"kind": None}}, "filter 'kind' takes text or a list of texts, not None"),
        ({"filters": {"organ": []}}, "filter 'organ' is empty: give a value or leave it out"),
        ({"use": ("nonsense",)}, "use takes a tuple of one or more of bm25, dense"),
        ({"use": "bm25"}, "use takes a tuple"),
    ],
)
def test_wrongly_typed_query_input_is_one_line(searcher, given, words):
    with pytest.raises(BadInputError) as refused:
        searcher.search(Query(**{"text": "koilocytes", **given}))
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_similar_checks_and_resolves_as_a_query_does(searcher, index):
    record = searcher.search(Query(text="koilocytes", k=1))[0].id
    with pytest.raises(BadInputError, match="k must be at least 1, not 0"):
        similar(searcher, record, k=0)
    with pytest.raises(BadInputError, match="unknown filter field 'bogus'"):
        similar(searcher, record, filters={"bogus": "1"})
    found = similar(searcher, record, k=5, filters={"source": PRIMER})
    assert found and sources(found) == {primer_key(index)}


def test_the_langchain_retriever_takes_a_source_by_file_name(index):
    retriever = PathAtlasRetriever.from_index(index.path, settings=index.settings, k=3, filters={"source": PRIMER})
    docs = retriever.invoke("carcinoma cells")
    assert docs and {doc.metadata["citation"]["source"] for doc in docs} == {PRIMER}


@pytest.fixture(scope="module")
def agent(searcher, index) -> Agent:
    return Agent(searcher, create_answerer("offline", index.settings, index.encoder))


def test_the_agent_finds_evidence_in_a_source_named_by_file_name_or_a_chapter(agent, index):
    question = "Which cells show a perinuclear halo?"
    in_primer = agent.ask(Question(question, ["Goblet cells", "Koilocytes"], filters={"source": PRIMER}))
    assert in_primer.evidence and {e.citation.source for e in in_primer.evidence} == {primer_key(index)}
    in_chapter = agent.ask(Question(question, ["Goblet cells", "Koilocytes"], filters={"chapter": CHAPTER}))
    assert in_chapter.evidence and {e.payload.section.split(" > ")[0] for e in in_chapter.evidence} == {CHAPTER}


@pytest.mark.parametrize(
    ("options", "words"),
    [("AB", "options must be a list of texts, not 'AB'"), (["a", None], "an option must be text, not None")],
)
def test_wrongly_typed_question_input_is_one_line(agent, options, words):
    with pytest.raises(BadInputError, match=words):
        agent.ask(Question("Which?", options))


def test_a_question_image_given_as_a_file_name_is_one_line(agent):
    with pytest.raises(BadInputError, match="image must be a PIL image, not str"):
        agent.ask(Question("Which?", ["a", "b"], image="slide.png"))
    Question("Which?", ["a", "b"], image=Image.new("RGB", (64, 64))).validate()  # a PIL image is taken


def test_the_langchain_retriever_refuses_bad_filters_when_made(index):
    with pytest.raises(BadInputError, match="filters must be a mapping"):
        PathAtlasRetriever.from_index(index.path, settings=index.settings, filters="kind=figure")


def test_a_lazily_opened_image_is_decoded_once_before_the_search_uses_it(tmp_path):
    """``Image.open`` decodes on first use; the query's OCR and its encoder used it at once, in two threads, and one
    search in four failed ("I/O operation on closed file", "unrecognized data stream"). A truncated file is one line."""
    from PIL import Image

    from pathatlas.retrieval.search import Query

    Image.new("RGB", (96, 96), (200, 80, 120)).save(tmp_path / "slide.png")
    lazy = Image.open(tmp_path / "slide.png")
    Query(image=lazy).validate()
    assert lazy.im is not None, "decoded by the query's checks, before any thread uses it"
    (tmp_path / "cut.png").write_bytes((tmp_path / "slide.png").read_bytes()[:120])
    with pytest.raises(BadInputError, match="the query image cannot be decoded"):
        Query(image=Image.open(tmp_path / "cut.png")).validate()
