"""PathAtlas for LangChain: a retriever whose documents carry citations, and the search/ask tools.

::

    retriever = PathAtlasRetriever.from_index("~/.pathatlas/index", k=4)
    docs = retriever.invoke("koilocytes")      # Document(page_content=passage, metadata={citation, score, ...})
    more = retriever.invoke("koilocytes", k=10, filters={"kind": "figure"})  # this call's k and filters
    search, ask = retriever.as_tools()          # for agent frameworks
    retriever.close()                           # or: with PathAtlasRetriever.from_index(...) as retriever:

A retriever holds an engine (models, the index, their threads): ``close()`` or the end of a ``with`` block releases
it, and one never closed is closed at the interpreter's exit, so no engine thread is left in native model code for
the exit to abort ("terminate called without an active exception").

Async calls (``ainvoke``, ``abatch``) run the search on a worker thread (LangChain's default executor), so they do
not block the event loop. Mistakes (a k out of 1-100, an unknown filter, source or keyword, a query that is not
text) raise one line, ``pathatlas.errors.BadInputError``, when the retriever is made or called.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from pathatlas.errors import BadInputError, UnknownSourceError
from pathatlas.paths import expanded
from pathatlas.retrieval.index import AmbiguousSourceError
from pathatlas.retrieval.records import Hit
from pathatlas.retrieval.search import Query, check_filters, resolve_filters
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.hits import hit_records
from pathatlas.ui.library import check_folder, search_k
from pathatlas.ui.tools import Toolbox, client_tool, refuse_unknown_arguments, thumbnail_uri, validation_line

if TYPE_CHECKING:
    from pathatlas.ui.api.engine import Engine


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


def held_filters(filters: object, engine: Engine) -> dict:
    """Filters refused as a query refuses them (``check_filters``), and those naming what the index does not hold (a
    source, an organ: ``resolve_filters``) in REST's words, each in one line (``BadInputError``); kept as given, for
    each search to resolve against the index as it is then."""
    check_filters(filters)
    try:
        resolve_filters(filters, engine.index)
    except (UnknownSourceError, AmbiguousSourceError) as exc:
        raise BadInputError(engine.client_message(exc)) from None
    return dict(filters)


def allowed_folders(allow_dirs: object) -> list[Path]:
    """``allow_dirs`` as folders: a list or tuple of them, or one folder alone (a lone text would be read letter by
    letter, its "/" allowing the whole disk); anything else refused in one line."""
    if isinstance(allow_dirs, str | os.PathLike):
        allow_dirs = [allow_dirs]
    if not isinstance(allow_dirs, list | tuple) or not all(isinstance(d, str | os.PathLike) for d in allow_dirs):
        raise BadInputError(f"allow_dirs takes a folder or a list of folders, not {allow_dirs!r:.60}")
    return [Path(folder) for folder in allow_dirs]


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
    """Hybrid (BM25 + dense) search over a PathAtlas index, one ``Document`` per hit (``from_index`` makes one):
    ``invoke(text)``, ``invoke(text, k=10, filters={"kind": "figure"})`` for one call's own, ``batch``, ``ainvoke``;
    ``k`` is 1 to 100, the documents' ``metadata`` the hit records of ``search --json``. ``close()`` (or a ``with``
    block) releases its engine."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")
    """A keyword it does not take (``n``, ``search_kwargs``) is refused: BaseRetriever's "ignore" dropped it, so a
    retriever meant to give 10 documents gave 4."""

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

    @field_validator("k", mode="before")
    @classmethod
    def _checked_k(cls, k: Any) -> int:
        """A k the tools refuse (``search_k``) is refused when the retriever is made, as filters are, not at its
        first search."""
        return search_k(k)

    @model_validator(mode="after")
    def _held_filters(self) -> PathAtlasRetriever:
        """Filters naming what the index does not hold are refused when the retriever is made (``held_filters``), not
        at its first search."""
        held_filters(self.filters, self.toolbox.engine)
        return self

    @classmethod
    def from_index(
        cls,
        index: str | Path | None = None,
        settings: Settings | None = None,
        allow_dirs: tuple[str | Path, ...] | list[str | Path] = (),
        **kwargs: Any,
    ):
        """Open an existing index (read-only) with its models; ``index`` (a folder) defaults to PATHATLAS_INDEX,
        ``settings`` to the ``PATHATLAS_*`` variables (``load_settings(...)`` makes others); ``kwargs`` are the
        retriever's ``k`` (default 4) and ``filters``. The tools read an ``image_path`` only inside ``allow_dirs`` (a
        folder or a list of them; none by default: the model sends ``image_base64``). Each mistake is one line
        (``BadInputError``; ``IndexMissingError`` where the folder holds no index)."""
        from pathatlas.ui.api.engine import Engine

        if index is not None and not isinstance(index, str | os.PathLike):
            raise BadInputError(f"index must be a folder (str or pathlib.Path), not {type(index).__name__}")
        if settings is not None and not isinstance(settings, Settings):
            raise BadInputError(
                f"settings must be a pathatlas Settings (load_settings(...)), not {type(settings).__name__}"
            )
        folders = allowed_folders(allow_dirs)
        settings = settings or load_settings()
        if index is not None:
            settings = settings.model_copy(update={"index": expanded(index)})
        check_folder(settings.index_dir, "PathAtlasRetriever.from_index")
        fields = [name for name in cls.model_fields if name != "toolbox"]  # k, filters and LangChain's (tags ...)
        refuse_unknown_arguments("PathAtlasRetriever.from_index", kwargs, ["index", "settings", "allow_dirs", *fields])
        engine = Engine(settings, create=False)
        try:
            retriever = cls(toolbox=Toolbox(engine, allow_dirs=folders), **kwargs)
        except ValidationError as exc:  # LangChain's tags or metadata of a wrong type, in one line as the tools word it
            engine.close()
            raise BadInputError(f"PathAtlasRetriever {validation_line(exc)}") from None
        except Exception:  # a refused k or filter: the engine's threads and store are let go, not left running
            engine.close()
            raise
        atexit.register(engine.close)  # for a retriever never closed
        return retriever

    def close(self) -> None:
        """Release the engine (its threads, models and index), which copies (``model_copy``) share; later searches are
        refused (``LaneClosedError``), and closing again does nothing. The close kept for the interpreter's exit is
        dropped, so the engine is not held in memory until then."""
        engine = self.toolbox.engine
        atexit.unregister(engine.close)
        engine.close()

    def __enter__(self) -> PathAtlasRetriever:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        """The documents of ``query``; ``options`` given to ``invoke`` are this call's ``k`` and ``filters``, checked as
        the retriever's own are (LangChain's retriever would drop them: ``invoke(q, k=10)`` would give 4), and nothing
        else."""
        refuse_unknown_arguments("invoke", options, ("k", "filters"))
        if not isinstance(query, str):  # the tools' length check met an int first: "object of type 'int' has no len()"
            raise BadInputError(f"the query must be text, not {type(query).__name__}")
        k = search_k(options.get("k", self.k))
        filters = held_filters(options["filters"], self.toolbox.engine) if "filters" in options else dict(self.filters)
        return hit_documents(self.toolbox.hits(Query(text=query, k=k, filters=filters)), query)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **options: Any
    ) -> list[Document]:
        """``_get_relevant_documents`` on a worker thread, with this call's ``options``: LangChain's own passes none
        on."""
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **options
        )

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
