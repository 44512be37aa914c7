"""Search by text (JSON), by image (multipart) or both; more like a record; the facets filters can use.

Searches are ``async``: they queue on the engine's batching lanes and await the result, so a waiting
request holds no thread and concurrent queries share one encoder call.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Header, HTTPException, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from pathatlas.errors import UnknownSourceError
from pathatlas.retrieval.search import Found, Query, as_list, echoed, resolve_filters
from pathatlas.retrieval.similar import similar
from pathatlas.ui.api.deps import (
    BODY,
    JSON_BODY,
    EngineDep,
    JsonOnly,
    LinksDep,
    errors,
    form_only,
    query_image_over,
    within_query_limit,
)
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.routes.media import CACHED, NOT_MODIFIED, not_modified, record_of
from pathatlas.ui.api.routes.service import generation_tag
from pathatlas.ui.api.schemas import (
    FacetsOut,
    FacetValue,
    HitOut,
    Links,
    SearchImageForm,
    SearchRequest,
    SearchResponse,
    SimilarRequest,
    names_a_path_in,
)
from pathatlas.ui.api.uploads import sent_name
from pathatlas.ui.words import unknown_words_json

router = APIRouter(tags=["search"])

FACETS_CACHE = "no-cache"
"""The facets may be kept, and are asked for again each time with their ETag: a 304 until the index changes."""
BOOK = "Anatomy and Physiology 2e"
SECTION = "Chapter 6: Bone Tissue and the Skeletal System > 6.3 Bone Structure"
CITATION_EXAMPLE = {
    "source": "book.pdf",
    "source_id": "2cd42bf39015",
    "label": f"{BOOK} (book.pdf), p. 174",
    "page": 174,
    "figure": None,
    "bbox": [60.0, 518.6, 551.4, 615.9],
    "case": None,
    "image": None,
    "page_label": None,
    "book": BOOK,
    "caption_page": None,
    "caption_bbox": None,
}
"""The passage the examples find and cite: OpenStax's Anatomy and Physiology 2e (CC BY 4.0) indexed as it is."""
SEARCH_EXAMPLE = {
    "hits": [
        {
            "id": "64967f351f4d57c8dbd70f22",
            "rank": 1,
            "relevance": "best match",
            "relative_score": 1.0,
            "why": "words #1, meaning #6",
            "score": 1.856952965259552,
            "kind": "page",
            "title": SECTION,
            "snippet": "The dynamic nature of bone means that new tissue is constantly formed, and old, injured, or "
            "unnecessary bone is dissolved for repair or for calcium release. The cell responsible for bone "
            "resorption, or breakdown, is the osteoclast. They are\u2026",
            "snippet_marks": [[22, 26], [104, 108], [182, 186], [187, 197], [220, 230]],
            "citation": CITATION_EXAMPLE,
            "section": SECTION,
            "book": BOOK,
            "diagnosis": None,
            "organ": None,
            "printed_words": None,
            "has_image": False,
            "matched_by": {"bm25": 1, "text": 6},
            "passage": "41e06f80fe8f007386a1ffe8",
            "also_on_page": ["2fcdab1cdf1a9ea4ae3e7e70", "19676ed062ef68bb2827ad24", "3ed5d6315436befade566ca7"],
            "repeated_on": [],
            "repeated_in": [],
            "payload": {
                "kind": "passage",
                "fingerprint": "40852cccdf01f9c97285279647bb4480",
                "book": BOOK,
                "page": 174,
                "page_id": "64967f351f4d57c8dbd70f22",
                "passage": 2,
                "section": SECTION,
                "bbox": [60.0, 518.6, 551.4, 615.9],
                "blocks": [[60.0, 518.6, 551.4, 615.9]],
            },
            "thumbnail_url": "/media/thumbnails/64967f351f4d57c8dbd70f22?source=2cd42bf39015&page=174",
            "page_url": "/media/pages/41e06f80fe8f007386a1ffe8?source=2cd42bf39015&page=174",
            "caption_url": None,
            "case_url": None,
            "case_image_url": None,
        }
    ],
    "image_words": "",
    "unknown_words": [],
}
"""What ``{"text": "osteoclasts resorb bone", "k": 1}`` finds in that book."""


def example_of(document: dict) -> dict:
    """The OpenAPI response showing ``document`` as its JSON example (which the interactive docs show)."""
    return {"content": {"application/json": {"example": document}}}


def source_key(engine: Engine, name: str) -> str:
    """The index's key of a source a client names (its id, or its file or folder name as GET /sources lists it); 404
    when it names none or names it by a path (``listed``), 400 (with the ids) when several share the name."""
    try:
        return engine.index.resolve_source(listed(name, engine))
    except UnknownSourceError:
        raise unknown_source(name) from None


def listed(name: str, engine: Engine) -> str:
    """``name``, refused as an unknown source (404, in the same words) when it is a path (``names_a_path_in``): the
    index would find a source by its server path, so a client could probe where sources live."""
    if names_a_path_in(name, engine.index):
        raise unknown_source(name)
    return name


def unknown_source(name: str) -> HTTPException:
    """404 for a source name or id the index does not hold, pointing to the route that lists them."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no source {echoed(name)!r} in the index; GET /sources lists them")


def scoped(engine: Engine, filters: dict) -> dict:
    """Request filters as the stores take them (``resolve_filters``, as every door's); a source or chapter naming
    none in the index, or a source named by a path (``listed``), is refused (404), as MCP's is, rather than matched to
    nothing."""
    if not filters:
        return {}
    sources = [listed(name.strip(), engine) for name in as_list(filters.get("source", []))]
    try:
        return resolve_filters(filters, engine.index)
    except UnknownSourceError:
        for name in sources:
            source_key(engine, name)  # the source named wrongly, in REST's words
        raise  # a chapter: 404 in the index's words (app.py)


async def run_search(engine: Engine, query: Query, links: Links) -> SearchResponse:
    if query.filters:  # resolving reads the index's sources and sections: not on the event loop
        query.filters = await run_in_threadpool(scoped, engine, query.filters)
    found = await asyncio.wrap_future(engine.search(query))  # a full queue answers 503 (see app.py)
    return await run_in_threadpool(search_response, engine, query, found, links)


def search_response(engine: Engine, query: Query, found: Found, links: Links) -> SearchResponse:
    """``found`` as the response to ``query``: its hits as records (each snippet marked: about 80 ms for 100 hits) and
    the words of its text no indexed text holds. Run in the thread pool: on the event loop, no other request (a health
    check, an image) would be answered meanwhile."""
    hits = HitOut.ranked(found.hits, links, found.marked_words(query.text))
    unknown = unknown_words_json([("text", query.text)], engine.index) if query.text else []
    return SearchResponse(hits=hits, image_words=found.image_words, unknown_words=unknown)


@router.post(
    "/search",
    operation_id="search",
    response_model=SearchResponse,
    summary="Search by text",
    dependencies=[JsonOnly],
    responses={200: example_of(SEARCH_EXAMPLE), **errors(404, *JSON_BODY, 503)},
)
async def search_text(request: SearchRequest, engine: EngineDep, links: LinksDep) -> SearchResponse:
    within_query_limit(engine, {("body", "text"): request.text})
    return await run_search(engine, Query(text=request.text, k=request.k, filters=request.filters), links)


@router.post(
    "/search/image",
    operation_id="search_by_image",
    dependencies=[form_only(SearchImageForm)],
    response_model=SearchResponse,
    summary="Search by image, optionally with text",
    responses=errors(404, *BODY, 503),  # 404: a source filter naming no source
)
async def search_image(engine: EngineDep, links: LinksDep, form: Annotated[SearchImageForm, File()]) -> SearchResponse:
    """The form's fields are checked (422) before the image is read: a big upload is not decoded to be refused for
    its words."""
    within_query_limit(engine, {("body", "text"): form.text})
    picture = await uploaded_image(engine, form.image)
    query = Query(text=form.text, image=picture, k=form.k, filters=form.filters)
    return await run_search(engine, query, links)


async def uploaded_image(engine: Engine, image: UploadFile) -> Image.Image:
    """The image a form uploaded, as /search/image and /ask/image read it: refused past PATHATLAS_MAX_QUERY_IMAGE_MB,
    which ``RequestGuard`` holds the body to before it is read (here, the file within the form, read no further), and
    decoded a few at a time (``Engine.open_image``: a decode can take a gigabyte). A refusal names it by its file
    name, cut as refusals echo names (``echoed``), as the command line and MCP name a file: "the image given" told a
    client sending several which one was wrong no better than a status code."""
    limit = engine.settings.max_query_image_mb << 20
    if len(data := await image.read(limit + 1)) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, query_image_over(engine.settings))
    name = echoed(sent_name(image.filename)) or None  # none sent: "the image given"
    return await asyncio.wrap_future(engine.open_image(data, name))


@router.post(
    "/search/similar",
    operation_id="search_similar",
    response_model=SearchResponse,
    summary="Records that look like a given one (its stored vectors; nothing is uploaded or re-encoded)",
    dependencies=[JsonOnly],
    responses=errors(404, *JSON_BODY),
)
def search_similar(request: SimilarRequest, engine: EngineDep, links: LinksDep) -> SearchResponse:
    record_id, _ = record_of(engine, request.id, request.key)  # 404 for an unknown id its key does not replace
    filters = scoped(engine, request.filters)
    return SearchResponse(hits=HitOut.ranked(similar(engine.searcher, record_id, request.k, filters), links))


@router.get(
    "/facets",
    operation_id="facets",
    response_model=FacetsOut,
    summary="Values of each filter field in the index, with counts",
    description="Its ETag names the index's committed generation (/health's `generation`): an If-None-Match naming "
    "it is answered 304, nothing counted or sent again, until the index changes.",
    responses={200: CACHED, **NOT_MODIFIED, **errors(422)},
)
def facets(
    engine: EngineDep, response: Response, if_none_match: Annotated[str | None, Header()] = None
) -> FacetsOut | Response:
    if unchanged := not_modified(if_none_match, generation_tag(engine.index), FACETS_CACHE):
        return unchanged
    found = engine.facets()
    response.headers.update({"ETag": generation_tag(found.index, found.generation), "Cache-Control": FACETS_CACHE})

    def ordered(name: str, counter) -> list:
        return [(c, counter[c]) for c in found.chapters()] if name == "chapter" else counter.most_common()

    return FacetsOut(
        fields={
            name: [FacetValue(value=str(v), count=n, label=found.names.get(v)) for v, n in ordered(name, counter)]
            for name, counter in found.values.items()
        },
        by_source={source: dict(kinds) for source, kinds in found.by_source.items()},
    )
