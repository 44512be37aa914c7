"""Request and response models of the REST API (they are its OpenAPI schema). The one JSON form of a hit, which every
door shows and ``HitFields`` declares, is ``pathatlas.ui.hits.hit_record``; an answer's is
``pathatlas.agent.document.answer_record``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_type_hints
from urllib.parse import urlencode

from fastapi import UploadFile
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Json,
    with_config,
)
from pydantic_core import PydanticCustomError, PydanticKnownError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from pathatlas.agent.document import thumbnail_record
from pathatlas.agent.questions import A_WORD, NO_WORD, ONE_OPTION, Question, repeated_option
from pathatlas.errors import BadInputError
from pathatlas.retrieval.records import HIDDEN_FIELDS, RECORD_ID, SOURCE_ID, Hit, Payload, RecordKey
from pathatlas.retrieval.search import source_names, unsearchable
from pathatlas.retrieval.terms import SIGNS
from pathatlas.settings import Settings
from pathatlas.ui.filters import FILTERS, Filters, Kind, parse_filters_form
from pathatlas.ui.hits import K_MAX, Relevance, hit_record, hit_records

if TYPE_CHECKING:
    from pathatlas.retrieval.index import Index


class ResponseModel(BaseModel):
    """What the service answers: each field it always sends (one with a default too, sent as it is, null included) is
    required in the response's schema, so a client generated from it does not type it optional. A request's defaulted
    field stays optional: pydantic applies this to the serialization schema alone, which FastAPI gives responses."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class CitationOut(ResponseModel):
    """``Citation.to_dict``, the one JSON form of a citation: the source by name and id, never by server path."""

    source: str = Field(..., description="The source's file or folder name.")
    source_id: str = Field(..., description="The source's id (GET /sources lists them; /pages takes it).")
    label: str
    page: int | None = None
    figure: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    case: str | None = None
    image: str | None = None
    page_label: str | None = Field(None, description="The number printed on the page, where it differs from page.")
    book: str | None = Field(None, description="The book's title from its PDF, where it tells more than its file name.")
    caption_page: int | None = Field(
        None, description="For a figure whose caption the book prints on another page (the next): that page."
    )
    caption_bbox: tuple[float, float, float, float] | None = Field(
        None, description="Where that caption is printed on caption_page (PDF points, top-left origin)."
    )


@dataclass(frozen=True)
class Links:
    """The URLs responses give for media, under the path prefix a reverse proxy serves the API at (the request's
    ``root_path``: ``pathatlas serve --root-path``), so a browser's ``<img src>`` reaches them through the proxy."""

    root: str = ""

    def thumbnail(self, record_id: str, key: RecordKey | None = None) -> str:
        return self.at(f"/media/thumbnails/{record_id}", key)

    def page(self, record_id: str, captioned: bool = False, key: RecordKey | None = None) -> str:
        """The record's page with its box outlined; ``captioned``: a figure's box with its caption's."""
        flags = {"captioned": "true"} if captioned else {}
        return self.at(f"/media/pages/{record_id}", key, **flags)

    def caption_page(self, record_id: str) -> str:
        """The page printing a figure's caption where that is not the figure's (``Payload.caption_page``), the caption
        outlined."""
        return self.at(f"/media/pages/{record_id}", None, caption_page="true")

    def case_image(self, record_id: str, key: RecordKey | None = None) -> str:
        return self.at(f"/media/cases/{record_id}", key)

    def case(self, record_id: str, key: RecordKey | None = None) -> str:
        return self.at(f"/cases/{record_id}", key)

    def at(self, path: str, key: RecordKey | None, **flags: str) -> str:
        """``path`` under the root with the query of ``flags`` and of the record's ``key`` (``LinkKey``), which reaches
        the same case image or page once indexing its source again gave it a new id."""
        query = {**flags, **(key.params() if key else {})}
        return f"{self.root}{path}" + (f"?{urlencode(query)}" if query else "")


CASE_URL_SAID = "For a case image: GET this for its case (diagnosis, organ, labels, each of its images)."
"""What a hit's and a citation's ``case_url`` is (one wording: the same link from a search and an answer)."""
CAPTION_URL_SAID = (
    "For a figure whose caption the book prints on another page (citation.caption_page): GET this for that page "
    "rendered with the caption outlined. Null for every other record."
)
"""What a hit's and a citation's ``caption_url`` is (one wording, as ``CASE_URL_SAID``)."""


def has_rendered_pages(source: str, page: int | None) -> bool:
    """Whether the media route renders the page a record cites: a PDF's (a source's key or name ending ``.pdf``, as
    the ``pdf`` reader accepts); lecture notes' slides and a plug-in source's pages have no file to render."""
    return page is not None and source.lower().endswith(".pdf")


def caption_url(links: Links, record_id: str, source: str, caption_page: int | None) -> str | None:
    """The link to a figure's caption printed on another page (``Links.caption_page``), beside its ``page_url``; None
    for every other record, and where the media route renders no page of the source (``has_rendered_pages``)."""
    return links.caption_page(record_id) if has_rendered_pages(source, caption_page) else None


def none_required(schema: dict[str, Any]) -> None:
    """A schema whose keys are each sent only where there is one to send (``StoredPayload``): none required. Pydantic
    makes a TypedDict's keys required in the response schema of a ``ResponseModel`` holding it (it reads the model's
    config for them, not the TypedDict's)."""
    schema.pop("required", None)


StoredPayload = with_config(ConfigDict(extra="allow", json_schema_extra=none_required))(
    TypedDict(
        "StoredPayload",
        {name: hint for name, hint in get_type_hints(Payload).items() if name not in ("extra", *HIDDEN_FIELDS)},
        total=False,
    )
)
"""A hit's ``payload``: ``Payload``'s fields as ``Hit.to_dict`` gives them, each only where it differs from its default,
and any field a plug-in or a newer index stored (kept as it was, so more properties may come)."""


class HitFields(ResponseModel):
    """``hit_record``'s fields but its thumbnail, a server file each door shows in its own way: REST as a URL
    (``HitOut``), the tools as a resource (``tools.ToolHit``)."""

    model_config = ConfigDict(extra="forbid")  # a field hit_record adds must be declared here, not dropped silently

    id: str
    rank: int = Field(..., description="1-based position in the results.")
    relevance: Relevance = Field(
        ...,
        description="From the rank and the fused score relative to the first hit's; 'related' for every hit of a "
        "search whose words matched no indexed text (found by meaning alone); 'looks alike' for an image search's hit "
        "found by its look alone whose diagnosis few of the nearest hits share, or which words searched beside the "
        "image (typed, or read in it) did not find.",
    )
    relative_score: float = Field(
        ...,
        description="Fused score relative to the first hit's (1.0), against every candidate searched: the same "
        "for any k.",
    )
    why: str = Field("", description="Which rankers found it and at which rank, e.g. 'words #1, meaning #3'.")
    score: float = Field(..., description="The raw fused (RRF) score; comparable only within one result list.")
    kind: Kind
    title: str = Field(
        ...,
        description="What to call the hit: a case's title, a slide figure's slide title, else its section, else its "
        "citation.",
    )
    snippet: str = Field(..., description="Plain text (escape it before showing it as HTML).")
    snippet_marks: list[tuple[int, int]] = Field(
        [],
        description="[start, end) character offsets of the snippet's words the query marks, by the rule the web UI "
        "highlights with (a word starting like a query word, accents and case folded): no stemmer to port.",
    )
    citation: CitationOut
    section: str | None = None
    book: str | None = Field(
        None, description="As ``citation.book``: the book's title, where it tells more than its file name."
    )
    diagnosis: str | None = None
    organ: str | None = None
    printed_words: str | None = Field(
        None,
        description="A figure's words read from its image (figure OCR); in a figure search (kind=figure) 'words' "
        "matches them too.",
    )
    has_image: bool = Field(False, description="Whether 'find similar' (POST /search/similar) can use its image.")
    matched_by: dict[str, int] = {}
    passage: str | None = Field(None, description="For a page hit: the id of the passage that matched best.")
    also_on_page: list[str] = Field(
        [], description="Ids of the other records found on the same page, folded into this hit (the one it shows)."
    )
    repeated_on: list[int] = Field(
        [],
        description="For a page hit: the other pages (PDF page numbers) of its source printing the same page, folded "
        "into this hit of the first.",
    )
    repeated_in: list[CitationOut] = Field(
        [],
        description="For a page hit: the same page (the same words and look) in other sources, each cited by its page "
        "or slide (source_id and page open it with GET /pages), folded into this hit of the source whose copy was "
        "placed best: a slide every deck of a course includes is one hit, naming the other decks.",
    )
    payload: StoredPayload = Field(
        {}, description="The record as stored, but its text (the snippet quotes it) and source (the citation names it)."
    )


class HitOut(HitFields):
    """``hit_record`` as REST serves it: the thumbnail (a server file) as a URL, and the page's; a case image's case
    and full-size image, as an answer's citation links the image (``linked``)."""

    thumbnail_url: str | None = Field(None, description="GET this for the hit's thumbnail.")
    page_url: str | None = Field(None, description="GET this for the rendered page with the hit highlighted.")
    caption_url: str | None = Field(None, description=CAPTION_URL_SAID)
    case_url: str | None = Field(None, description=CASE_URL_SAID)
    case_image_url: str | None = Field(None, description="For a case image: GET this for the image at full size.")

    @classmethod
    def of(
        cls, hit: Hit, rank: int = 1, links: Links = Links(), query: str | None = None, meaning_alone: bool = False
    ) -> HitOut:
        """``links``: the request's (``deps.get_links``); the default serves at /. ``query``: the words searched, which
        the snippet's marks are of; ``meaning_alone``: as ``hit_record`` takes it."""
        return cls.served(hit, hit_record(hit, rank, query, meaning_alone), links)

    @classmethod
    def served(cls, hit: Hit, record: dict[str, Any], links: Links) -> HitOut:
        """``hit``'s ``hit_record`` (``record``) with its media as ``links`` give them, not as server files, each link
        carrying the key of its case image or page (``LinkKey``)."""
        shown = {name: value for name, value in record.items() if name != "thumbnail"}
        key = RecordKey.cited(record["citation"])
        return cls(
            **shown,
            thumbnail_url=links.thumbnail(hit.id, key) if hit.thumbnail else None,
            page_url=links.page(hit.passage or hit.id, key=key)
            if has_rendered_pages(hit.citation.source, hit.citation.page)
            else None,
            caption_url=caption_url(links, hit.id, hit.citation.source, hit.citation.caption_page),
            case_url=links.case(hit.id, key) if hit.kind == "case" else None,
            case_image_url=links.case_image(hit.id, key) if hit.kind == "case" and hit.citation.image else None,
        )

    @classmethod
    def ranked(cls, hits: list[Hit], links: Links = Links(), query: str | None = None) -> list[HitOut]:
        """``hit_records``, ranked as every door ranks them, served with ``links``."""
        return [cls.served(hit, record, links) for hit, record in zip(hits, hit_records(hits, query), strict=True)]


UNRANKED = dict.fromkeys(("rank", "relevance", "relative_score", "score"))
"""What a record fetched by id has of a hit's ranking: nothing (``RecordOut``)."""
NOT_RANKED = Field(None, description="Null: no search ranked a record fetched by id.")


class RecordOut(HitOut):
    """A record fetched by id (GET /records/{id}, GET /pages), shaped like a search's hit; but no search ranked it, so
    its rank, relevance and scores are null: it was shown as rank 1, a "best match" with a relative score of 1.0."""

    rank: None = NOT_RANKED
    relevance: None = NOT_RANKED
    relative_score: None = NOT_RANKED
    score: None = NOT_RANKED
    text: str = Field(
        "",
        description="The record's whole text, where the snippet is cut short: a page's or a slide's words, a "
        "passage's, a figure's caption, a case's description. A slide of lecture notes has no page to render "
        "(page_url null): this is how it is read whole.",
    )

    @classmethod
    def fetched(cls, hit: Hit, links: Links = Links()) -> RecordOut:
        """``hit`` (one made of a stored record, ``Searcher.make_hit``) with its media as URLs, its whole text and no
        ranking."""
        return cls(**{**HitOut.of(hit, links=links).model_dump(), **UNRANKED, "text": hit.payload.text})


class PageOut(RecordOut):
    """GET /pages: a page's (or slide's) record and the pages beside it that have one. A slide with a title alone keeps
    its number but has no record, so a client stepping by number asked slide after slide, never told a deck's end."""

    previous_page: int | None = Field(description="The nearest earlier page of its source with a record; null: none.")
    next_page: int | None = Field(description="The nearest later page of its source with a record; null: none.")


class CaseImageOut(ResponseModel):
    id: str = Field(description="The image's record id.")
    image: str | None = Field(description="The image's file, as its case folder names it.")
    url: str = Field(description="GET this for the image at full size.")
    labels: dict[str, str] = Field(description="The image's own labels (a stain, notes), those all share included.")


class CaseOut(ResponseModel):
    """GET /cases/{id}: a case and each of its images. The title, diagnosis and organ belong to the case; labels (a
    stain, notes) to each image, so the case's ``labels`` are those every image shares."""

    case: str | None = Field(description="The case's name, as its folder's metadata gives it.")
    title: str | None
    diagnosis: str | None
    organ: str | None = Field(description="Its organ, or its organs joined by commas.")
    labels: dict[str, str] = Field(description="The labels every image holds with the same value.")
    source: str = Field(description="The case folder, as citations name it.")
    source_id: str = Field(description="The case folder's id (GET /sources lists them).")
    images: list[CaseImageOut] = Field(description="Its images, by file name.")


MAX_QUERY_CHARS = Settings.model_fields["max_query_chars"].default
"""The longest text the OpenAPI schema documents (``maxLength``): the default of PATHATLAS_MAX_QUERY_CHARS. A service
refuses by its own setting (``too_long``), which /health's ``limits`` says."""
DOCUMENTED_LENGTH = {"maxLength": MAX_QUERY_CHARS}


def json_integer(value: Any) -> Any:
    """An integer as the schema's ``"type": "integer"`` takes it, ``5`` or ``5.0``: not ``true`` or ``"5"``, which lax
    pydantic took as 1 and 5, answering what the client may not have meant. (Strict mode would refuse ``5.0`` too,
    which JSON Schema counts an integer.)"""
    if isinstance(value, bool | str):
        raise PydanticKnownError("int_type")
    return value


HitCount = Annotated[int, Field(ge=1, le=K_MAX), BeforeValidator(json_integer)]
"""A search's k: how many hits, a JSON integer from 1 to ``K_MAX``."""

WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
"""An integer as text: ASCII digits, a sign at most."""


def in_digits(value: Any) -> Any:
    """A form's or a query's integer, text by nature, in digits (a sign and spaces around them allowed): lax pydantic
    read "3.0" as 3 and "3_000" as 3000, text no form writes an integer as (JSON's 3.0 is an integer, text's is not)."""
    if isinstance(value, str) and not WHOLE_NUMBER.fullmatch(value.strip()):
        raise PydanticKnownError("int_parsing")
    return value


IN_DIGITS = BeforeValidator(in_digits)
"""Reads a form's or a query's integer in digits only. A route's query integer puts it after its ``Query``, as
``HitCount`` puts its validator after its bounds: before them, OpenAPI gave the bounds as "ge", not "minimum"."""

TextInteger = Annotated[int, IN_DIGITS]
"""An integer sent as text (a form field, a query parameter)."""


def too_long(texts: Mapping[tuple[str | int, ...], str | None], limit: int) -> list[dict[str, Any]]:
    """Pydantic's own error for each text longer than ``limit`` (``string_too_long``, at its place in the request):
    a text over the service's PATHATLAS_MAX_QUERY_CHARS is refused in the words a schema's ``max_length`` uses, which
    clients already read, whatever the limit."""
    error = PydanticKnownError("string_too_long", {"max_length": limit})
    return [
        {"type": error.type, "loc": where, "msg": error.message(), "input": text, "ctx": error.context}
        for where, text in texts.items()
        if text is not None and len(text) > limit
    ]


def valid_unicode(text: str) -> str:
    """JSON may carry lone surrogates (``"\\ud800"``); no tokenizer can encode them, so refuse them here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (a lone surrogate)") from exc
    return text


def names_a_path(name: str) -> bool:
    """Whether a client names a source by a path (absolute, relative, ``..``, ``~``, a drive; ``/`` or ``\\`` as
    separators) rather than by its id or its file or folder name as GET /sources lists it. A door refuses such a name
    as an unknown source: the index resolves paths on the server's disk, so answering them would tell a client where
    sources live."""
    return PureWindowsPath(name).name != name or name == ".." or os.path.expanduser(name) != name


def names_a_path_in(name: str, index: Index) -> bool:
    """``names_a_path``, but for the name the index's citations give a source beside a namesake ("year2/notes.pdf",
    ``search.source_names``): a client may name a source as its citations do."""
    return names_a_path(name) and name not in source_names(index).values()


SEARCHABLE_PATTERN = "|".join(
    (
        r"[^\W_]{2}",  # two letters or digits in a row (an underscore parts words, as a space does)
        # beyond ASCII: a CJK character is a word, and "ß" is read "ss", "ﬁ" "fi", "Ⅻ" "XII". Without \x80 (a control
        # character, no word), named apart: Hypothesis, drawing ASCII as schemathesis reads a pattern (ECMA-262), then
        # drops this branch, where it failed drawing from an empty set of characters
        r"[^\x00-\x7f\x80]",
        r"[A-Za-z][ _]?&[ _]?[A-Za-z]",  # a joined name: "H&E"
        r"[A-Za-z][ _-]\d",  # a letter and a number, read as one name ("HER 2", "A-1")
        rf"[A-Za-z]\d?[{SIGNS}]",  # a charged name, in any case: "K+", "ca2+"
    )
)
"""What the schema says a search text or question holds at least, so that a client generated from it, or a fuzzer,
does not send "0" or "?" as a text it calls valid: no stricter than the service (``unsearchable`` decides), read as
JSON Schema reads it (ECMA-262, whose ``\\w`` is ASCII) or as Python does. No pattern tells stop words ("by", "the of
and") or a letter an underscore parts ("a_"): such texts match it and are refused (422), as the description says."""


def refused_by(problem: Callable[[str], str | None]) -> Callable[[str], str]:
    """A validator refusing a request text that ``problem`` finds wanting, with a 422 in the words every door refuses
    it with: no "Value error, " before them (as pydantic words a ``ValueError``), and an empty text in the words of a
    blank one (pydantic's ``min_length`` said "String should have at least 1 character" for "" but these for "  ")."""

    def check(text: str) -> str:
        if said := problem(text):
            raise PydanticCustomError("unsearchable_text", said)  # no context: the text is not read as a template
        return text

    return check


def unaskable(text: str) -> str | None:
    """Why ``text`` cannot be asked without an image, in the words every door refuses it with (``Question.validate``:
    blank, or no word to look for); None when it can. /ask refused "what is it" with 400 and "x" with a 422 in
    other words, where /search refuses both kinds alike."""
    try:
        Question(text).validate()
    except BadInputError as exc:
        return str(exc)
    return None


def wordless_beside_an_image(text: str) -> str | None:
    """Why a question typed beside an image cannot be asked: it holds no ``A_WORD`` (emoji, punctuation, one letter).
    The image makes a question of common words askable ("What is it?"), and a blank one asks what the image shows;
    None for those."""
    return f"the question {NO_WORD}" if text.strip() and not A_WORD.search(text) else None


def request_text(check: Callable[..., str], description: str) -> Any:
    """A search text or question: valid Unicode, refused by ``check`` in its own words (``refused_by``); the schema
    states what it must hold (``SEARCHABLE_PATTERN``, at least a character) for generated clients and fuzzers."""
    documented = {"minLength": 1, **DOCUMENTED_LENGTH, "pattern": SEARCHABLE_PATTERN}
    return Annotated[
        str,
        Field(json_schema_extra=documented, description=description),
        AfterValidator(valid_unicode),
        AfterValidator(check),
    ]


WORD_RULE = (
    "a word that is no stop word: two letters or digits in a row (an underscore parts words, as a space does: 'a_' "
    "holds none), one Chinese, Japanese or Korean character, or a name such as H&E, HER 2 or K+. The pattern is what "
    "such a text holds at least; a text matching it with stop words alone ('by', 'the of and') is refused too"
)
"""What the schema says a search text or question must hold (``SEARCHABLE_PATTERN`` is the part a pattern can say)."""
SearchText = request_text(
    refused_by(unsearchable),
    f"What to look for: {WORD_RULE}. A text without such a word ('', 'x', 'a_', 'the of and', spaces) is refused "
    "with 422, in the words the command line and MCP refuse it with.",
)
QUESTION_RULE = (
    f"It must hold {WORD_RULE}. A question without such a word ('', 'x', 'what is it') is refused with 422, in the "
    "words the command line and MCP refuse it with (as /search refuses such a text)."
)
QuestionText = request_text(refused_by(unaskable), QUESTION_RULE)
OptionText = Annotated[
    str, Field(min_length=1, pattern=r"\S", json_schema_extra=DOCUMENTED_LENGTH), AfterValidator(valid_unicode)
]
ImageQuestionText = Annotated[
    str,
    Field(json_schema_extra=DOCUMENTED_LENGTH),
    AfterValidator(valid_unicode),
    AfterValidator(refused_by(wordless_beside_an_image)),
]
"""A question asked about an image (/ask/image): blank, or holding a word (``wordless_beside_an_image``)."""


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a mistyped field ("filter") is refused, not ignored

    text: SearchText = Field(..., examples=["koilocytes in cervical epithelium"])
    k: HitCount = 10
    filters: Filters = Field(
        default_factory=dict,
        examples=[{"kind": "figure"}, {"organ": ["lung", "cervix"]}],
        description="Field to value (or list of values): kind, source (its id or file name), organ, diagnosis, case, "
        "section, chapter.",
    )


NOT_A_RECORD_ID = "not a record id"
"""The refusal of an id that is no record's (``RECORD_ID``), in the body of /search/similar as in the routes' paths."""


def a_record_id(text: str) -> str:
    """``text`` if it is a record's id (``RECORD_ID``), else a 422 in the words the routes taking one in their path
    refuse it with (404 "not a record id"): the schema's pattern made it "String should match pattern ..."."""
    if not RECORD_ID.fullmatch(text):
        raise PydanticCustomError("record_id", NOT_A_RECORD_ID)
    return text


RecordId = Annotated[str, Field(json_schema_extra={"pattern": f"^{RECORD_ID.pattern}$"}), AfterValidator(a_record_id)]


class LinkKey(BaseModel):
    """The key of a case image or page (``RecordKey``) that the links of hits and citations carry beside its record's
    id, as query parameters: a link made before its source was indexed again (a diagnosis fixed in a case folder's
    metadata gives each of its images a new id) reaches the same image or page by it. A key without its source, or
    with neither a page nor both case and image, is none."""

    source: str | None = Field(None, pattern=f"^{SOURCE_ID.pattern}$", description="The source's id (source_id).")
    page: Annotated[int | None, Field(ge=1, description="A page's number (PDF page)."), IN_DIGITS] = None
    case: str | None = Field(None, description="A case image's case.")
    image: str | None = Field(None, description="A case image's file, as its case folder names it.")

    def key(self) -> RecordKey | None:
        """The key the parameters give, where they give a whole one."""
        if self.source is None or (self.page is None and (self.case is None or self.image is None)):
            return None
        return RecordKey(self.source, self.page, self.case, self.image)


class BodyKey(LinkKey):
    """``LinkKey`` in a JSON body (``SimilarRequest.key``), which refuses a mistyped field ("imgae") as the body refuses
    its own: dropped, it left a key finding nothing (404). A link's query does not: a route taking only the key
    ignores others (``no_unknown_query_parameters``)."""

    model_config = ConfigDict(extra="forbid")


class SimilarRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RecordId = Field(..., description="A hit's id: find records that look like it.")
    k: HitCount = 10
    filters: Filters = Field(default_factory=dict, examples=[{"kind": "case"}])
    key: BodyKey | None = Field(
        None, description="Its key, as the hit's links carry it: finds the record where the id is gone (re-indexed)."
    )


class UnknownWordOut(ResponseModel):
    """A word of the request that no indexed text holds (``words.UnknownWord``): a typo, or a word the library never
    uses. It matched nothing by its letters: hits for it were found by meaning alone, an option with it found no
    quoted evidence."""

    field: str = Field(..., description='The text it is in: "text" (a search), "question", "option A", "option B"...')
    word: str = Field(..., description="The word as typed (its first spelling in the text).")
    closest: list[str] = Field(..., description="The indexed words spelt closest to it (at most 3); empty when none.")


UNKNOWN_WORDS = Field(
    default_factory=list,
    description="Each word of the query's texts no indexed text holds, with the closest indexed words; always "
    "present, empty when every word is indexed.",
)


class SearchResponse(ResponseModel):
    hits: list[HitOut]
    image_words: str = Field(
        "", description="Words read in the query image and searched by (PATHATLAS_QUERY_OCR); empty when none counted."
    )
    unknown_words: list[UnknownWordOut] = UNKNOWN_WORDS


class FacetValue(ResponseModel):
    value: str = Field(..., description="What a filter on the field takes (for sources: the source id).")
    count: int
    label: str | None = Field(None, description="What to show for the value, where it differs (a source's name).")


class FacetsOut(ResponseModel):
    fields: dict[str, list[FacetValue]] = Field(
        ..., description="Filter field to the values the index holds, most frequent first (chapters in book order)."
    )
    by_source: dict[str, dict[str, int]] = Field(..., description="Source id to kind to number of records.")


def two_or_none(options: list[str]) -> list[str]:
    """``Question.validate``'s rules, in the schema so the OpenAPI document states them: not one option, no two
    the same."""
    if len(options) == 1:
        raise ValueError(ONE_OPTION)
    if repeated := repeated_option(options):
        raise ValueError(repeated)
    return options


Options = Annotated[
    list[OptionText],
    Field(max_length=10, json_schema_extra={"not": {"minItems": 1, "maxItems": 1}, "uniqueItems": True}),
    AfterValidator(two_or_none),
]
"""A question's options, as /ask and /ask/image take them."""
QUESTION_TEXT = (
    'The question. One pasted whole with its option lines ("...?\\nA. ...\\nB. ...", labelled A, B, C... in one '
    "form) and no options given is asked with those lines as its options: the answer's options_from_question says so."
)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: QuestionText = Field(..., description=f"{QUESTION_TEXT} {QUESTION_RULE}")
    options: Options = Field(
        default_factory=list,
        description="None for an open question; else 2 to 10 different ones (one option is no choice; case and spacing "
        "do not make two differ).",
    )
    filters: Filters = Field(
        default_factory=dict,
        examples=[{"source": "openstax-ap.pdf"}],
        description="Answer from these records only: the filters of /search.",
    )


def form_filters(raw: str) -> dict[str, str | list[str]]:
    """A form's ``filters`` field read (``parse_filters_form``), refused with 422 at the field's place in the words the
    command line's --filter is refused with (no "Value error, " before them)."""
    try:
        return parse_filters_form(raw)
    except ValueError as exc:
        raise PydanticCustomError("invalid_filters", str(exc)) from None  # no context: not read as a template


FormFilters = Annotated[
    str,
    AfterValidator(form_filters),
    Field(json_schema_extra={"contentMediaType": "application/json", "contentSchema": FILTERS.json_schema()}),
]
"""A form's filters: a JSON object sent as text (the schema says so, and what the object holds), the filters of /search
once validated (a dict)."""


def upload_field(description: str) -> Any:
    """A form's file: an empty one is refused (400, naming it), which the schema says (``minLength``: a part of no
    bytes), so that a client or a fuzzer does not take it for a valid one."""
    return Field(..., description=f"{description} An empty file is refused (400).", json_schema_extra={"minLength": 1})


def form_field(default: str, description: str) -> Any:
    """A form field whose ``default`` is validated too: the route reads the filters or options it stands for."""
    return Field(default, validate_default=True, description=description)


def options_rules_in_content(schema: dict[str, Any]) -> None:
    """A form's schema with its options' list rules ("two or more", "each different") inside the JSON text's
    ``contentSchema``: pydantic puts a ``Json[...]`` field's extras beside the text, where they refused every value,
    the default too."""
    options = schema["properties"]["options"]
    options["contentSchema"] |= {key: options.pop(key) for key in ("not", "uniqueItems")}


class SearchImageForm(BaseModel):
    """/search/image's multipart form. A field it does not take is refused (422 naming it), as JSON bodies refuse
    unknown keys: a mistyped "filter" would otherwise be dropped and the search run unfiltered."""

    model_config = ConfigDict(extra="forbid")

    image: UploadFile = upload_field("A micrograph or figure (JPEG, PNG, TIFF...).")
    text: Annotated[str, AfterValidator(valid_unicode)] | None = Field(None, json_schema_extra=DOCUMENTED_LENGTH)
    k: TextInteger = Field(10, ge=1, le=K_MAX)
    filters: FormFilters = form_field("{}", 'JSON object, e.g. {"kind": "case"}')


class AskImageForm(BaseModel):
    """/ask/image's multipart form: /ask's rules for the options and filters; a question blank (what does the image
    show?) or holding a word. A field it does not take is refused (422 naming it)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=options_rules_in_content)

    image: UploadFile = upload_field("The image asked about (JPEG, PNG, TIFF...).")
    question: ImageQuestionText = Field(
        "",
        description=f"{QUESTION_TEXT} None (or a blank one) asks what the image shows, and the options are what it "
        'may show (an image question printed without a stem); one typed needs a word ("What is it?", not "x").',
    )
    options: Json[Options] = form_field("[]", "JSON list of option texts, as /ask takes them")
    filters: FormFilters = form_field("{}", 'JSON object, the filters of /search, e.g. {"kind": "case"}')


class JobForm(BaseModel):
    """POST /jobs's multipart form: the file to index, nothing else (another field is refused, 422 naming it)."""

    model_config = ConfigDict(extra="forbid")

    file: UploadFile


class PlacedCitation(CitationOut):
    """A citation of an answer (``answer_record``): the cited record, and the record whose box it gives."""

    evidence: str = Field(..., description="The cited record's id (a passage's page, for a page found by a passage).")
    record: str = Field(
        ...,
        description="The id of the record whose box bbox is: for a quote, the passage holding it; else the evidence's "
        "own record (a page found by a passage: that passage).",
    )


class QuoteCitation(PlacedCitation):
    page_url: str | None = Field(
        None,
        description="GET this for the page rendered with the cited box outlined (a quote's: the passage holding it).",
    )
    caption_url: str | None = Field(None, description=CAPTION_URL_SAID)
    case_image_url: str | None = Field(None, description="GET this for the cited case image at full size.")
    case_url: str | None = Field(None, description=CASE_URL_SAID)
    thumbnail_url: str | None = Field(None, description="GET this for the cited record's thumbnail.")


class OptionQuote(ResponseModel):
    quote: str = Field(..., description="A sentence quoted verbatim from the cited evidence.")
    citation: QuoteCitation
    stance: Literal["supports", "contradicts", "related"] = Field(
        ...,
        description="related: a sentence that settles nothing: the nearest sentence to a chosen option no sentence "
        "names, or a similar case's description under the option of its diagnosis.",
    )
    about: list[str] | None = Field(
        None,
        description="Set for the sentence quoted for a chosen option no sentence names (the nearest, or a negated "
        "question's exception): the labels of the options it names, empty for none. Null: it names its option.",
    )


class OptionOut(ResponseModel):
    label: str
    text: str
    score: float | None = Field(
        ...,
        description="How the answerer ranks this option, on its own scale: not the chance it is right (the answer's "
        "confidence claims that); null when the answerer gives none per option (an LLM's reply names one).",
    )
    evidence: list[OptionQuote]


class AnswerCitation(QuoteCitation):
    """What the answer rests on, linked as each quote's citation is (``linked``)."""


class PlannedQuery(ResponseModel):
    id: str
    purpose: str = Field(description="question, option, finding, image, follow-up or contrast.")
    text: str | None = Field(description="The words searched; null for the image alone.")


class SearchedHit(ResponseModel):
    id: str
    kind: Kind
    citation: str = Field(description="Its citation's label.")


class StepOut(ResponseModel):
    """One step of the agent: the fields of its kind (``step``) are always there; a newer agent may add more."""

    model_config = ConfigDict(extra="allow")


class PlanStep(StepOut):
    step: Literal["plan"]
    queries: list[PlannedQuery] = Field(description="The searches planned for the question.")


class SearchStep(StepOut):
    step: Literal["search"]
    round: int
    query: str = Field(description="The planned query's id.")
    purpose: str
    text: str | None = Field(description="The words searched; null for the image alone.")
    image: bool = Field(description="Whether the question's image was searched.")
    hits: list[SearchedHit]


class SupportStep(StepOut):
    step: Literal["support"]
    queries: list[str] = Field(description="The question's words, then each option's, searched by words alone.")
    passages: list[int] = Field(description="How many passages each of those searches found.")


class WeighStep(StepOut):
    step: Literal["weigh"]
    round: int
    scores: list[float] = Field(description="Each option's score, in label order.")
    leading: str | None = Field(description="The leading option's label.")
    margin: float = Field(description="The lead over the runner-up.")
    stop: Literal["separated"] | None = Field(description="'separated' where the lead ends the search.")
    queries: list[str] = Field(description="The follow-up searches asked for.")


class AnswerStep(StepOut):
    step: Literal["answer"]
    answerer: str
    answer: str = Field(description="The chosen option's label, or the answer to an open question.")
    confidence: float
    cited: list[str] = Field(description="The cited records' ids.")
    rationale: str


TraceStep = Annotated[PlanStep | SearchStep | SupportStep | WeighStep | AnswerStep, Field(discriminator="step")]


class AnswerFields(ResponseModel):
    """``answer_record``'s fields, options in label order, its citations as REST links their media; the tools' form
    (``tools.ToolAnswer``) names each citation's thumbnail resource instead."""

    question: str = Field(..., description="The question asked: without its option lines where options_from_question.")
    options_from_question: bool = Field(
        False,
        description="True when no options were given and the options were read from the question's own lines "
        '(a question pasted whole, "...?\\nA. ...\\nB. ..."): given options always win.',
    )
    choice: int | None = Field(None, description="0-based index of the chosen option; null for open questions.")
    answer: str = Field(..., description="The chosen option's text (or the answer to an open question).")
    confidence: float = Field(..., ge=0, le=1)
    settled: bool = Field(..., description="False when the evidence does not settle the question.")
    tied: list[str] = Field(
        [],
        description='Labels of the options the evidence scores alike at the top, the choice among them ("A", '
        '"B" for a True/False question it cannot tell apart): the choice is then no lean, only the first by its '
        "words. Empty where the choice leads alone, the evidence settles the question, or it is open.",
    )
    rationale: str
    options: list[OptionOut]
    citations: list[AnswerCitation]
    trace: list[TraceStep] = Field(description="What the agent did, step by step: plan, search, weigh, answer...")
    unknown_words: list[UnknownWordOut] = UNKNOWN_WORDS


class AskResponse(AnswerFields):
    """``answer_record`` as REST serves it, its media as URLs. ``pathatlas ask --json`` prints the same document without
    URLs (and the thumbnail as a file), the MCP ``ask`` tool with the thumbnail's resource."""

    @classmethod
    def of(
        cls,
        answer: dict[str, Any],
        links: Links,
        unknown_words: Sequence[UnknownWordOut] = (),
    ) -> AskResponse:
        """``answer_record``'s document with its media as URLs (the document's thumbnails are files on the server;
        each citation says its own, ``linked``)."""
        options = [
            {**option, "evidence": [{**q, "citation": linked(q["citation"], links)} for q in option["evidence"]]}
            for option in answer["options"]
        ]
        citations = [linked(c, links) for c in answer["citations"]]
        return cls(**{**answer, "options": options, "citations": citations, "unknown_words": list(unknown_words)})


def linked(citation: dict[str, Any], links: Links) -> dict[str, Any]:
    """A placed citation (``answer_record``) with the links a hit has: the thumbnail it shows (``thumbnail_record``'s:
    a caption quoted from a page's text shows its figure's, as a search shows that figure), the page rendered with
    its box outlined (the media route outlines a record's own box, so it links ``record``, the one holding the quote;
    a caption quoted from a page's text, placed on its figure, with the caption's box too: ``quote_place``), the page
    printing a figure's caption where that is another page (``caption_url``), a case's image and the case itself (an
    answer citing a case image linked its picture but not its diagnosis and other images); each carrying the key of
    the case image or page cited (``LinkKey``)."""
    placed_elsewhere = citation["record"] != citation["evidence"]
    key = RecordKey.cited(citation)
    return {
        **citation,
        "thumbnail_url": links.thumbnail(thumbnail_record(citation), key) if citation["thumbnail"] else None,
        "page_url": links.page(citation["record"], captioned=bool(citation["figure"]) and placed_elsewhere, key=key)
        if has_rendered_pages(citation["source"], citation["page"])
        else None,
        "caption_url": caption_url(links, citation["record"], citation["source"], citation.get("caption_page")),
        "case_image_url": links.case_image(citation["evidence"], key)
        if citation["case"] and citation["image"]
        else None,
        "case_url": links.case(citation["evidence"], key) if citation["case"] else None,
    }


class SourceOut(ResponseModel):
    """An indexed source and its counts: a case folder's entries are its images, its cases the distinct cases they
    show (a case of three images is one)."""

    id: str = Field(description="Use it in DELETE /sources/{id}.")
    source: str = Field(
        description="The file or folder name; sources sharing one are named by the folders telling them apart, as "
        "their citations are ('year1/notes.pdf'). Server paths are not shown."
    )
    kind: str
    entries: int
    cases: int = Field(0, description="Distinct cases among the source's case images (0 for a PDF).")
    problems: list[str] = []


JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
"""What a job's record says (``jobs.STATUSES``), and "interrupted" for one the server stopped before it ended."""


class JobOut(ResponseModel):
    id: str
    status: JobStatus = Field(description="interrupted: the server stopped (a restart, a kill) before the job ended.")
    source: str
    submitted: datetime | None = Field(
        None,
        description="When the upload was taken (UTC). Null for a job recorded by a version that did not keep it.",
    )
    done: int = 0
    total: int = 0
    error: str | None = None
    notes: list[str] = Field(
        default_factory=list,
        description="Hints for the uploader and the server's operator, e.g. zip members left out (no PDF, notes "
        "file, case image or metadata file; a folder's README), or that figure OCR was skipped.",
    )
    cancel_requested: bool = Field(
        False,
        description="True once DELETE /jobs/{id} asked the job to stop: it stops at its next page or image, rolls "
        "back what it indexed, and then reads cancelled.",
    )


JOBS_LISTED = 50
"""Jobs ``GET /jobs`` answers unless asked for more: a page a person reads through for a lost upload."""
MOST_JOBS_LISTED = 500
"""Most jobs one listing answers: every record is read for each listing anyway, but the answer (each job's notes
included) stays well under a megabyte for a page or script to take."""


class JobsQuery(BaseModel):
    """``GET /jobs``'s query: a parameter it does not take (``?stauts=failed``) is refused, not ignored, as bodies'
    unknown fields are: the listing would otherwise answer every job as if filtered."""

    model_config = ConfigDict(extra="forbid")

    status: list[JobStatus] = Field(
        [], description="Only the jobs in this state; given again, in any of them (?status=failed&status=interrupted)."
    )
    limit: TextInteger = Field(
        JOBS_LISTED, ge=1, le=MOST_JOBS_LISTED, description="Most jobs to answer, the most recently submitted."
    )


class ServiceLimits(ResponseModel):
    """What the service refuses beyond (413, 422 or 400), so a client can check before it sends."""

    max_upload_mb: int = Field(description="Largest upload to index (a PDF, a notes file or a zip).")
    max_query_image_mb: int = Field(description="Largest image query (PATHATLAS_MAX_QUERY_IMAGE_MB).")
    max_jobs: int = Field(description="Most index jobs waiting or running at once (PATHATLAS_MAX_JOBS).")
    max_image_pixels: int = Field(description="Largest image, in pixels (width times height).")
    max_query_chars: int = Field(description="Longest search text, question or option (PATHATLAS_MAX_QUERY_CHARS).")
    k_max: int = Field(K_MAX, description="Most hits one search returns (its k).")


class Readiness(ResponseModel):
    ready: bool = Field(description="The models are loaded and the index can be searched.")
    problem: str | None = Field(None, description="Why the service cannot search, in one line; null otherwise.")


class Health(ResponseModel):
    status: Literal["ok", "failing"] = Field(
        "ok", description="'failing' when the service cannot search (``problem`` says why; /health answers 503)."
    )
    version: str
    index: str = Field(description="The index folder's name.")
    encoder: str
    store: str
    records: int
    generation: int = Field(
        description="The index's committed generation, as `pathatlas info` shows it: one more at each commit (an "
        "upload's job, a removal, `pathatlas index` or another server on the same index, which the service takes up "
        "within a second); 0 before the first. What a client read of the index (its facets, its sources) holds until "
        "this or `index_created` changes; GET /facets's ETag changes with them."
    )
    index_created: datetime | None = Field(
        description="When the index was made (UTC): one deleted and made again counts its generations from 1 again. "
        "Null while it is not on disk (nothing indexed yet)."
    )
    ready: bool = Field(False, description="The models are loaded and the index can be searched: as /ready says.")
    problem: str | None = Field(
        None,
        description="Why the service cannot search (its models could not be loaded), in one line. Null while it warms "
        "up or is ready.",
    )
    limits: ServiceLimits


class ErrorOut(ResponseModel):
    detail: str | list[dict[str, Any]] = Field(description="What was wrong: a sentence, or a list of field errors.")
