"""PathAtlas for LangChain: a retriever whose documents carry citations, and the search/ask tools.

::

    retriever = PathAtlasRetriever.from_index("~/.pathatlas/index", k=4)
    docs = retriever.invoke("koilocytes")      # Document(page_content=passage, metadata={citation, score, ...})
    search, ask = retriever.as_tools()          # for agent frameworks

Async calls (``ainvoke``) run the search on a worker thread (LangChain's default executor), so they do
not block the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import ConfigDict, Field, field_validator, model_validator

from pathatlas.errors import BadInputError, UnknownSourceError
from pathatlas.retrieval.index import AmbiguousSourceError
from pathatlas.retrieval.records import Hit
from pathatlas.retrieval.search import Query, check_filters, resolve_filters
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.api.schemas import check_k, hit_records
from pathatlas.ui.tools import Toolbox, client_tool, refuse_unknown_arguments, thumbnail_uri, validation_line


def hit_documents(hits: list[Hit], query: str) -> list[Document]:
    """Each hit's whole passage as content; its JSON (``hit_records``, whose relevance is of the whole list: "related"
    for all of a search found by meaning alone) as metadata, with the thumbnail's file for the program and its
    ``pathatlas://`` resource (``media``) as the tools give it."""
    return [
        Document(
            id=hit.id,
            page_content=hit.payload.body or hit.snippet,
            metadata={**record, "media": thumbnail_uri(hit.id) if hit.thumbnail else None},
        )
        for hit, record in zip(hits, hit_records(hits, query), strict=True)
    ]


class PathAtlasTool(StructuredTool):
    """A structured tool that refuses an argument it does not take (a ``ToolException``, one line back to the model)
    instead of dropping it, as LangChain's validation would."""

    def _parse_input(self, tool_input: str | dict[str, Any], tool_call_id: str | None) -> str | dict[str, Any]:
        if isinstance(tool_input, dict):
            try:
                refuse_unknown_arguments(self.name, tool_input, self.args)
            except BadInputError as exc:
                raise ToolException(str(exc)) from None
        return super()._parse_input(tool_input, tool_call_id)


class PathAtlasRetriever(BaseRetriever):
    """Hybrid (BM25 + dense) search over a PathAtlas index, one ``Document`` per hit."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    toolbox: Toolbox
    k: int = 4
    filters: dict[str, str | list[str]] = Field(default_factory=dict)
    """Payload filters, e.g. ``{"kind": "figure"}``, ``{"organ": "lung"}`` or ``{"source": "book.pdf"}``."""

    @field_validator("filters", mode="before")
    @classmethod
    def _checked_filters(cls, filters: Any) -> Any:
        """Filters refused as a query refuses them, in one line (``BadInputError``), when the retriever is made."""
        check_filters(filters)
        return filters

    @field_validator("k")
    @classmethod
    def _checked_k(cls, k: int) -> int:
        """A k the tools refuse (``check_k``: 1 to REST's limit) is refused when the retriever is made, as filters are,
        not at its first search."""
        return check_k(k)

    @model_validator(mode="after")
    def _held_filters(self) -> PathAtlasRetriever:
        """Filters naming what the index does not hold (a source, an organ: ``resolve_filters``) are refused when the
        retriever is made, in REST's words and as ``BadInputError`` as the other bad filters are, not at its first
        search. They are kept as given: each search resolves them again, against the index as it is then."""
        engine = self.toolbox.engine
        try:
            resolve_filters(self.filters, engine.index)
        except (UnknownSourceError, AmbiguousSourceError) as exc:
            raise BadInputError(engine.client_message(exc)) from None
        return self

    @classmethod
    def from_index(
        cls,
        index: str | Path | None = None,
        settings: Settings | None = None,
        allow_dirs: tuple[str | Path, ...] | list[str | Path] = (),
        **kwargs: Any,
    ):
        """Open an existing index (read-only) with its models; ``index`` defaults to PATHATLAS_INDEX. The tools read
        an ``image_path`` only inside ``allow_dirs`` (none by default: the model sends ``image_base64``)."""
        from pathatlas.ui.api.engine import Engine

        settings = settings or load_settings()
        if index is not None:
            settings = settings.model_copy(update={"index": Path(index).expanduser()})
        engine = Engine(settings, create=False)
        try:
            return cls(toolbox=Toolbox(engine, allow_dirs=[Path(d) for d in allow_dirs]), **kwargs)
        except Exception:  # a refused k or filter: the engine's threads and store are let go, not left running
            engine.close()
            raise

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return hit_documents(self.toolbox.hits(Query(text=query, k=self.k, filters=dict(self.filters))), query)

    def as_tools(self) -> list[BaseTool]:
        """``search`` and ``ask`` as LangChain tools; bad input, arguments of the wrong type or that the tool does not
        take included, comes back to the model as one line of text, worded as MCP words it (no server paths)."""
        return [
            PathAtlasTool.from_function(
                client_tool(getattr(self.toolbox, name), self.toolbox, ToolException),
                name=name,
                handle_tool_error=True,
                handle_validation_error=validation_line,
            )
            for name in ("search", "ask")
        ]
