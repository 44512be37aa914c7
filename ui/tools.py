"""What other agents call (the MCP server's tools, the LangChain tools): plain JSON over one ``Engine``.

Each public method is one tool: its docstring is the description an LLM reads, its annotated parameters
are the JSON schema. Bad input raises ``PathAtlasError`` with one line; the MCP and LangChain layers turn
it into their own tool error, and say an argument of the wrong type (``validation_line``) or one the tool does not take
(``refuse_unknown_arguments``) in one line too. Nothing here writes to the index.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import os
import reprlib
import stat
from collections.abc import Callable, Collection, Mapping
from contextlib import suppress
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, WithJsonSchema

from pathatlas.agent.document import answer_record, thumbnail_record
from pathatlas.agent.questions import Question, with_pasted_options
from pathatlas.errors import BadInputError, PathAtlasError, UnknownSourceError, first_few
from pathatlas.paths import expanded
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.records import KINDS, Hit, Payload, display_name
from pathatlas.retrieval.search import Found, Query, check_length, echoed, quoted
from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.schemas import (
    AnswerFields,
    CitationOut,
    HitFields,
    OptionOut,
    OptionQuote,
    PlacedCitation,
    SearchResponse,
    names_a_path_in,
)
from pathatlas.ui.hits import K_MAX, check_k, hit_records
from pathatlas.ui.words import asked_texts, unknown_words_json

MAX_TEXT_CHARS = Settings.model_fields["max_query_chars"].default
"""Longest query, question or option the tools' schema advertises; the tools refuse text over the service's own
``PATHATLAS_MAX_QUERY_CHARS`` (refused, not truncated)."""
THUMBNAIL_URI = "pathatlas://thumbnails/{record_id}"


# Limits are advertised in the JSON schema but checked by the tools themselves, so that breaking one is answered in
# the tools' own words. They are pydantic metadata (WithJsonSchema), which LangChain's schema keeps and
# json_schema_extra would not.
LONG_TEXT = WithJsonSchema({"type": "string", "maxLength": MAX_TEXT_CHARS})
Text = Annotated[str, Field(description="What to look for: words, a phrase or a question."), LONG_TEXT]
# Integers are strict: lax pydantic would take k=true as 1 and k="3" as 3, answering what the model may not have meant.
# MCP's JSON 3.0, an integer to JSON Schema, comes as 3 (``mcp_server.whole_numbers``). Their limit is REST's
# (``K_MAX``, which /health reports): every door takes the same k.
K = Annotated[
    StrictInt,
    Field(description=f"How many hits to return (1-{K_MAX})."),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": K_MAX}),
]
Kind = Annotated[str | None, Field(description=f"Only hits of this kind: {', '.join(KINDS[:-1])} or {KINDS[-1]}.")]
Source = Annotated[str | None, Field(description="Only hits from this source (file name, e.g. book.pdf, or its id).")]
Organ = Annotated[str | None, Field(description="Only case images of this organ, e.g. lung.")]
Diagnosis = Annotated[str | None, Field(description="Only case images with this diagnosis, e.g. sarcoidosis.")]
ImageText = Annotated[
    str | None,
    Field(
        description="Words to look for beside the image (optional), as REST's /search/image takes them; without a "
        "word to look for (stop words alone) the image alone decides."
    ),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": MAX_TEXT_CHARS}, {"type": "null"}]}),
]
ImageBase64 = Annotated[str | None, Field(description="An image (JPEG, PNG, TIFF...) as base64, or a data: URL.")]
ImagePath = Annotated[
    str | None,
    Field(
        description="Path of an image file inside a folder the server allows (its --allow-dir): absolute, or "
        "relative to that folder."
    ),
]


class Echoing(PathAtlasError):
    """A tool's refusal whose only value is the client's own, as sent (``quoted``: capped as REST's replies echo): the
    doors pass it on unchanged, since rewriting server paths in it would change that value and, by what it cut off,
    tell the client where the index lies."""


class UnlistedSource(Echoing, UnknownSourceError):
    """A source the index lacks, or one a client named by a path (``names_a_path_in``)."""


class UnknownKind(Echoing, BadInputError):
    """A kind no record has."""


class RefusedImagePath(Echoing, BadInputError):
    """An ``image_path`` the server will not read: the client's own path, which the index's folder may share a parent
    with."""


def thumbnail_uri(record_id: str) -> str:
    return THUMBNAIL_URI.format(record_id=record_id)


# What each tool answers as its clients get it (``public``): MCP's outputSchema, and the model its answer is checked
# against. A field an answer gains must be declared here (``extra="forbid"``), not sent past its schema.
DECLARED = ConfigDict(extra="forbid")
MEDIA = Field(description="The thumbnail's resource (read it: pathatlas://thumbnails/{id}); null where there is none.")


class ToolHit(HitFields):
    """A hit (``hit_record``) with its thumbnail as its resource."""

    media: str | None = MEDIA


class ToolFound(SearchResponse):
    """What ``search`` and ``search_image`` answer: REST's search response, each hit's thumbnail as its resource."""

    model_config = DECLARED
    hits: list[ToolHit]


class ToolCitation(PlacedCitation):
    model_config = DECLARED
    media: str | None = MEDIA


class ToolQuote(OptionQuote):
    model_config = DECLARED
    citation: ToolCitation


class ToolOption(OptionOut):
    model_config = DECLARED
    evidence: list[ToolQuote]


class ToolAnswer(AnswerFields):
    """What ``ask`` answers: REST's answer, each citation's thumbnail as its resource."""

    model_config = DECLARED
    options: list[ToolOption]
    citations: list[ToolCitation]


class ToolFigure(BaseModel):
    model_config = DECLARED
    id: str
    caption: str = Field(description="The figure's caption as indexed.")
    citation: CitationOut
    media: str | None = MEDIA


class ToolPage(BaseModel):
    """What ``get_page`` answers: a cited page's text and its figures, top to bottom."""

    model_config = DECLARED
    source: str
    page: int
    section: str = Field(description="The page's bookmark path; empty where the book has none.")
    text: str
    citation: CitationOut
    media: str | None = MEDIA
    figures: list[ToolFigure]


ANSWERS: dict[str, type[BaseModel]] = {
    "search": ToolFound,
    "search_image": ToolFound,
    "ask": ToolAnswer,
    "get_page": ToolPage,
}
"""Each tool's answer as ``public`` gives it, by the tool's name."""


def reraise_as(
    method: Callable[..., Any], error: type[Exception], message: Callable[[PathAtlasError], str]
) -> Callable[..., Any]:
    """The same tool (same parameters and description) as a model may read it: its answer without server files
    (``public``), typed as such (``ANSWERS``), its one-line ``PathAtlasError`` re-raised as ``error`` (worded by
    ``message``, but an ``Echoing`` one as it is), the framework's own tool error, which the calling model reads instead
    of a traceback."""

    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return public(method(*args, **kwargs))
        except PathAtlasError as exc:
            raise error(str(exc) if isinstance(exc, Echoing) else message(exc)) from None

    declared = inspect.signature(method, eval_str=True).replace(return_annotation=ANSWERS[method.__name__])
    call.__signature__ = declared  # type: ignore[attr-defined]  # what MCP derives the tool's outputSchema from
    return call


def client_tool(method: Callable[..., Any], toolbox: Toolbox, error: type[Exception]) -> Callable[..., Any]:
    """The tool as a client of any door (MCP, LangChain) may see it: ``reraise_as`` with that framework's tool error,
    worded by the engine's ``client_message`` (no server paths), so that no door names the index's folder."""
    return reraise_as(method, error, toolbox.engine.client_message)


def public(value: Any) -> Any:
    """A tool's JSON without server files: each record's ``thumbnail`` (a file on the server) becomes ``media``, its
    ``pathatlas://`` resource."""
    if isinstance(value, list):
        return [public(item) for item in value]
    if not isinstance(value, dict):
        return value
    shown = {key: public(item) for key, item in value.items() if key != "thumbnail"}
    if "thumbnail" in value:
        record_id = value.get("id") or (thumbnail_record(value) if "evidence" in value else None)
        shown["media"] = thumbnail_uri(record_id) if value["thumbnail"] and record_id else None
    return shown


def validation_line(error: ValidationError) -> str:
    """Pydantic's multi-line report of arguments of the wrong type as one line naming the argument, as the tools' own
    errors read; the value is cut short (it may be a whole image in base64)."""
    first = error.errors()[0]
    where = ".".join(map(str, first["loc"])) or "the arguments"
    value = "" if first["type"] == "missing" else f", not {reprlib.repr(first['input'])}"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg'][:1].lower()}{first['msg'][1:]}{value}{more}"


def refuse_unknown_arguments(tool: str, arguments: Mapping[str, Any], takes: Collection[str]) -> None:
    """Models guess argument names (``filters``, ``n``, ``type``); a tool that dropped one would answer unfiltered while
    the model believes it filtered, so an argument the tool does not take is refused, naming those it does: the first
    few, each cut (``quoted``; a name of a megabyte, or 5,000 names, would otherwise be sent back whole)."""
    unknown = [name for name in arguments if name not in takes]
    if unknown:
        names = first_few([quoted(name) for name in unknown])
        raise BadInputError(
            f"unknown argument{'s' if len(unknown) > 1 else ''} {names}; {tool} takes {', '.join(takes)}"
        )


def known_kind(kind: str) -> str:
    """``kind``, refused unless blank (``check_filters`` says so) or a kind records have, echoing it as sent."""
    if kind.strip() and kind.strip() not in KINDS:
        raise UnknownKind(f"unknown kind {quoted(kind)}; use {', '.join(KINDS)}")
    return kind


class Toolbox:
    def __init__(self, engine: Engine, allow_dirs: list[Path] | tuple[Path, ...] = ()):
        self.engine = engine
        self.allow_dirs = tuple(expanded(d).resolve() for d in allow_dirs)

    # -- tools -------------------------------------------------------------------------------
    def search(
        self,
        text: Text,
        k: K = 10,
        kind: Kind = None,
        source: Source = None,
        organ: Organ = None,
        diagnosis: Diagnosis = None,
    ) -> dict[str, Any]:
        """Search the pathology library by text; returns hits (title, snippet, citation, thumbnail URI) and unknown_words: query words no indexed text holds (typos), with the closest indexed words."""  # noqa: E501
        return self._found(Query(text=text, k=k, filters=self._filters(kind, source, organ, diagnosis)))

    def search_image(
        self,
        image_base64: ImageBase64 = None,
        image_path: ImagePath = None,
        text: ImageText = None,
        k: K = 10,
        kind: Kind = None,
        source: Source = None,
        organ: Organ = None,
        diagnosis: Diagnosis = None,
    ) -> dict[str, Any]:
        """Find figures, pages and case images that look like an image (image_base64 or image_path), with text too if given; same hits as search, and image_words: words read in the image and searched."""  # noqa: E501
        image = self._image(image_base64, image_path)
        filters = self._filters(kind, source, organ, diagnosis)
        return self._found(Query(text=text, image=image, k=k, filters=filters))

    def ask(
        self,
        question: Annotated[
            str,
            Field(
                description="The question; empty beside an image asks what the image shows (with options: which of "
                "them), as an image question printed without a stem does."
            ),
            LONG_TEXT,
        ] = "",
        options: Annotated[
            list[str],
            Field(
                description="Answer options in order (A, B, C...), with or without their labels ('A. ...'); empty "
                "for an open question, or for a question pasted with its option lines ('...?\\nA. ...\\nB. ...'), "
                "whose lines are then its options (the answer's options_from_question says so)."
            ),
        ] = [],  # noqa: B006 - pydantic copies defaults; the schema shows []
        image_base64: ImageBase64 = None,
        image_path: ImagePath = None,
        source: Source = None,
    ) -> dict[str, Any]:
        """Answer a (multiple-choice) question from the library (or one source of it): the chosen option, confidence, quoted evidence, citations, and unknown_words: words no indexed text holds."""  # noqa: E501
        limit = self.engine.settings.max_query_chars
        check_length(question, "the question", limit)
        for n, option in enumerate(options):
            check_length(option, f"option {n + 1}", limit)
        image = self._image(image_base64, image_path) if image_base64 or image_path else None
        filters = self._filters(None, source, None, None)
        text, asked, from_question = with_pasted_options(question, list(options))
        result = self.engine.ask(Question(text, asked, image, filters=filters)).result()
        record = answer_record(result, self.engine.index.store, from_question)  # ``public``: thumbnails as resources
        return {**record, "unknown_words": unknown_words_json(asked_texts(text, asked), self.engine.index)}

    def get_page(
        self,
        source: Annotated[str, Field(description="A hit's citation source_id or source (its file name).")],
        page: Annotated[StrictInt, Field(description="1-based page number, as cited.")],
    ) -> dict[str, Any]:
        """Read a whole cited page: its text and the figures on it, to read around a search hit."""
        index, searcher = self.engine.index, self.engine.searcher
        key = self._source_key(source)
        name = display_name(key)
        scanned = ((rid, Payload.from_payload(p)) for rid, p in index.store.scan({"source": key}))
        records = [(rid, p) for rid, p in scanned if p.page is not None]
        pages = {p.page: (rid, p) for rid, p in records if p.kind == "page"}
        if not pages:
            raise BadInputError(f"{name} has no pages (a {index.manifest[key]['kind']} source): search it instead")
        if page not in pages:
            raise BadInputError(f"page {page} is out of range: {name} has pages {min(pages)}-{max(pages)}")
        record_id, payload = pages[page]
        figures = sorted(
            (searcher.make_hit(rid, 0.0, {}, p, None) for rid, p in records if p.page == page and p.kind == "figure"),
            key=lambda hit: (hit.citation.bbox or (0, 0))[1],
        )
        page_hit = searcher.make_hit(record_id, 0.0, {}, payload, None)
        return {
            "source": name,
            "page": page,
            "section": payload.section or "",
            "text": payload.text,
            "citation": page_hit.to_dict()["citation"],
            "media": thumbnail_uri(record_id) if page_hit.thumbnail else None,
            "figures": [
                {
                    "id": hit.id,
                    "caption": hit.payload.text,
                    "citation": hit.to_dict()["citation"],
                    "media": thumbnail_uri(hit.id) if hit.thumbnail else None,
                }
                for hit in figures
            ],
        }

    # -- resources ---------------------------------------------------------------------------
    def thumbnail(self, record_id: str) -> bytes:
        """JPEG thumbnail of an indexed record (a page, a figure or a case image)."""
        index = self.engine.index
        if record_id not in index.store.payloads([record_id]):
            raise BadInputError(f"no record {record_id!r} in the index")
        path = index.thumbnail_path(record_id)
        if not path.is_file():
            raise BadInputError(f"record {record_id} has no thumbnail")
        return path.read_bytes()

    # -- helpers -----------------------------------------------------------------------------
    def hits(self, query: Query) -> list[Hit]:
        return self._find(query).hits

    def _found(self, query: Query) -> dict[str, Any]:
        """A search's JSON as REST's ``SearchResponse`` has it: its hits, the words read in its image, and the words of
        its text (as searched) no indexed text holds."""
        found = self._find(query)
        texts = [("text", query.text)] if query.text else []
        return {
            "hits": hit_records(found.hits, found.marked_words(query.text)),
            "image_words": found.image_words,
            "unknown_words": unknown_words_json(texts, self.engine.index) if texts else [],  # REST's, an image's none
        }

    def _find(self, query: Query) -> Found:
        check_length(query.text or "", "the query", self.engine.settings.max_query_chars)
        check_k(query.k)
        return self.engine.search(query).result()  # batched with concurrent searches

    def _filters(self, kind: str | None, source: str | None, organ: str | None, diagnosis: str | None) -> dict:
        """The filters given (not None): an empty value is kept for the query to refuse (``check_filters``), as REST
        does, not taken as no filter; a kind or a source (stripped, as the searcher reads them) the index lacks is
        refused here, in words that echo it as sent (``Echoing``)."""
        filters = {
            "kind": kind and known_kind(kind),
            "source": source and source.strip() and self._source_key(source.strip()),
            "organ": organ,
            "diagnosis": diagnosis,
        }
        return {name: value for name, value in filters.items() if value is not None}

    def _source_key(self, source: str) -> str:
        """The index's key of the source a client names (its id or its file or folder name), refused as REST refuses
        it when the index lacks it or when it is a path (``names_a_path_in``): the index finds a source by its server
        path, so a client could probe where sources live."""
        if not names_a_path_in(source, self.engine.index):
            with suppress(UnknownSourceError):
                return self.engine.index.resolve_source(source)
        raise UnlistedSource(
            f"no source {quoted(source)} in the index; search without it: each hit's citation names its source"
        )

    def _image(self, image_base64: str | None, image_path: str | None) -> Image.Image:
        settings = self.engine.settings
        limit_bytes = settings.max_upload_mb << 20
        if bool(image_base64) == bool(image_path):
            raise BadInputError("give the image as image_base64 or as image_path (exactly one of them)")
        if image_base64:
            data = image_base64.split(",", 1)[1] if image_base64.startswith("data:") else image_base64
            data = "".join(data.split())  # MIME's line breaks (``base64 FILE``, ``base64.encodebytes``) are no data
            if len(data) * 3 // 4 > limit_bytes:
                raise BadInputError(f"image_base64 is over the limit of {settings.max_upload_mb} MB")
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise BadInputError("image_base64 is not valid base64") from None
            return open_image(raw, settings.max_image_pixels, name="image_base64", query=True)
        if not self.allow_dirs:
            raise BadInputError(
                "image_path is off: no folder is allowed (pathatlas mcp --allow-dir DIR, or "
                "PathAtlasRetriever.from_index(..., allow_dirs=[DIR])): send image_base64"
            )
        raw = self._read_allowed(self._allowed_file(image_path), image_path, limit_bytes)
        return open_image(raw, settings.max_image_pixels, name=echoed(Path(image_path).name), query=True)

    def _read_allowed(self, path: Path, image_path: str, limit_bytes: int) -> bytes:
        """The bytes of ``path`` (``_allowed_file``), read from one descriptor that is checked to be a regular file
        inside the allowed folders: checked by name and then opened by name again, a file the allowed folder's other
        writers swapped for a link in between (the file, or a folder above it) would be read wherever the link leads. A
        FIFO or a device would block the read, or never end it (opened without waiting, then refused)."""
        given = echoed(image_path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:  # missing, a name too long, a link put in its place (ELOOP)
            name = echoed(Path(image_path).name)
            raise RefusedImagePath(f"cannot read image {name}: {exc.strerror or exc}") from exc
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):  # a folder too, which a file object refuses to wrap
                raise RefusedImagePath(f"{given} is not a regular file")
            if not self._still_inside(path, opened):
                raise RefusedImagePath(f"{given} is outside the folders this server may read")
            with os.fdopen(fd, "rb", closefd=False) as file:
                raw = file.read(limit_bytes + 1)  # the file may grow after fstat
        finally:
            os.close(fd)
        if len(raw) > limit_bytes:
            raise RefusedImagePath(f"{given} is over the limit of {self.engine.settings.max_upload_mb} MB")
        return raw

    def _still_inside(self, path: Path, opened: os.stat_result) -> bool:
        """Whether the file opened (``opened``, its ``fstat``) is the one ``path`` resolves to now, inside the allowed
        folders: a folder above it swapped for a link before the open, and back after, leaves another file there."""
        now = path.resolve()
        if not any(now.is_relative_to(allowed) for allowed in self.allow_dirs):
            return False
        try:
            return os.path.samestat(opened, os.stat(now, follow_symlinks=False))
        except OSError:  # gone since it was opened
            return False

    def _allowed_file(self, image_path: str) -> Path:
        """The file ``image_path`` names inside the allowed folders. A relative path is read in the allowed folder
        holding it (the server's working folder means nothing to a client), refused when several hold one: which was
        meant is not known. An absolute path is itself (``folder / path`` is ``path``)."""
        given = expanded(image_path)
        inside: dict[Path, Path] = {}  # each path the allowed folders may read, to the first folder giving it
        for folder in self.allow_dirs:
            path = (folder / given).resolve()
            if any(path.is_relative_to(allowed) for allowed in self.allow_dirs):
                inside.setdefault(path, folder)
        if not inside:
            raise RefusedImagePath(f"{echoed(image_path)} is outside the folders this server may read")
        held = [path for path in inside if os.path.exists(path)]
        if len(held) > 1:
            names = ", ".join(inside[path].name for path in held)
            raise RefusedImagePath(
                f"{echoed(image_path)} is in more than one folder this server may read ({names}): give its "
                "absolute path"
            )
        return (held or list(inside))[0]
