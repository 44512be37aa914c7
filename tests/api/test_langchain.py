"""PathAtlasRetriever and its tools inside LangChain: an LCEL chain, filters, async calls, tool errors."""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.runnables import RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from pathatlas.ui.hits import K_MAX
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.tools import MAX_TEXT_CHARS


@pytest.fixture(scope="module")
def retriever(demo_index, session_home):
    return PathAtlasRetriever.from_index(demo_index.path, settings=Settings(home=session_home), k=3)


def format_docs(docs) -> str:
    return "\n\n".join(f"[{d.metadata['citation']['label']}] {d.page_content}" for d in docs)


def test_retriever_in_an_lcel_chain_returns_cited_passages(retriever, demo_index):
    docs = retriever.invoke("koilocytes perinuclear halo")
    expected = Searcher(demo_index).search(Query(text="koilocytes perinuclear halo", k=3))
    assert [d.id for d in docs] == [h.id for h in expected] and len(docs) == 3
    for doc, hit in zip(docs, expected, strict=True):
        assert doc.page_content == hit.payload.body
        assert doc.metadata["citation"]["label"] == hit.citation.label() and doc.metadata["score"] == hit.score
    assert docs[0].metadata["citation"]["page"] == 1 and "koilocyte" in docs[0].page_content.lower()

    context = (retriever | RunnableLambda(format_docs)).invoke("koilocytes perinuclear halo")
    assert context.startswith(f"[{docs[0].metadata['citation']['label']}] ")
    assert docs[1].page_content in context


def test_filters_restrict_the_documents(retriever):
    cases = retriever.model_copy(update={"filters": {"kind": "case"}}).invoke("granuloma lymph node")
    assert cases and {d.metadata["kind"] for d in cases} == {"case"}
    assert all(d.metadata["citation"]["case"] for d in cases)
    with pytest.raises(BadInputError, match="unknown filter field 'organs'"):
        retriever.model_copy(update={"filters": {"organs": "lung"}}).invoke("granuloma lymph node")


def test_ainvoke_does_not_block_the_event_loop(retriever, monkeypatch):
    real = retriever.toolbox.hits

    def slow_hits(query):  # a search that takes a while, as on a big index
        time.sleep(0.6)
        return real(query)

    monkeypatch.setattr(retriever.toolbox, "hits", slow_hits)

    async def main():
        ticks = 0
        task = asyncio.ensure_future(retriever.ainvoke("koilocytes"))
        while not task.done():
            await asyncio.sleep(0.02)
            ticks += 1
        return ticks, task.result()

    ticks, docs = asyncio.run(main())
    assert docs and ticks >= 10  # a blocked loop would tick once or not at all


def test_as_tools_give_search_and_ask_with_one_line_errors(retriever):
    search, ask = retriever.as_tools()
    assert (search.name, ask.name) == ("search", "ask")
    assert {"text", "k", "kind", "source"} <= set(search.args) and "options" in ask.args
    hits = search.invoke({"text": "koilocytes", "k": 2})["hits"]
    assert len(hits) == 2 and hits[0]["citation"]["source"].startswith("demo-")
    answer = ask.invoke(
        {
            "question": "Which cells show a clear perinuclear halo in HPV infection of the cervix?",
            "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
        }
    )
    assert answer["citations"] and answer["confidence"] > 0.5 and "Koilocytes" in str(answer)
    # what a model reads names no server file: a thumbnail is its pathatlas:// resource, as through MCP
    assert "'thumbnail':" not in str([hits, answer]) and hits[0]["media"].startswith("pathatlas://")
    assert all(c["media"] is None or c["media"].startswith("pathatlas://") for c in answer["citations"])
    error = search.invoke({"text": "granuloma", "source": "missing.pdf"})
    assert isinstance(error, str) and "no source 'missing.pdf'" in error and "\n" not in error
    assert "over the limit" in asyncio.run(search.ainvoke({"text": "x" * 5000}))


def test_the_tools_schemas_carry_the_limits_and_a_wrong_argument_is_one_line(retriever):
    """LangChain rebuilt the schema from the signature without json_schema_extra: a model saw no bounds on k."""
    search, ask = retriever.as_tools()
    parameters = convert_to_openai_tool(search)["function"]["parameters"]["properties"]  # what a model is sent
    assert (parameters["k"]["minimum"], parameters["k"]["maximum"]) == (1, K_MAX) and parameters["k"]["default"] == 10
    assert parameters["text"]["maxLength"] == MAX_TEXT_CHARS == ask.args["question"]["maxLength"]
    assert search.invoke({"text": "koilocytes", "k": 0}) == f"k must be between 1 and {K_MAX}, not 0"
    for arguments, message in [
        ({"text": "koilocytes", "k": "many"}, "k: input should be a valid integer"),
        ({"k": 3}, "text: field required"),
    ]:
        said = search.invoke(arguments)
        assert isinstance(said, str) and said.startswith(message) and "\n" not in said, said
    said = ask.invoke({"question": "Which cells?", "options": "Koilocytes"})
    assert said == "options: input should be a valid list, not 'Koilocytes'"


def test_the_ask_tool_reads_an_image_path_inside_the_allowed_folders(retriever, tmp_path, monkeypatch):
    """The tool offered image_path, but from_index could allow no folder, so it always answered "switched off"."""
    monkeypatch.setattr("pathatlas.ui.api.engine.Engine", lambda settings, create: retriever.toolbox.engine)
    draw_pattern("koilocytes", 1).save(tmp_path / "slide.png")
    asked = {"question": "Which cells are these?", "options": ["Koilocytes", "Goblet cells"]}
    asked["image_path"] = str(tmp_path / "slide.png")
    said = PathAtlasRetriever.from_index("any").as_tools()[1].invoke(asked)
    assert isinstance(said, str) and "allow_dirs" in said
    answer = PathAtlasRetriever.from_index("any", allow_dirs=[tmp_path]).as_tools()[1].invoke(asked)
    assert isinstance(answer, dict) and answer["answer"], answer
