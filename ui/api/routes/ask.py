"""Ask a question (with options, optionally an image): answer, confidence, citations, trace."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from PIL import Image
from pydantic import ValidationError

from pathatlas.agent.evidence import QuotePlace, evidence_record, quote_place
from pathatlas.agent.graph import AgentResult
from pathatlas.agent.questions import Question
from pathatlas.retrieval.records import Payload
from pathatlas.ui.api.deps import BODY, EngineDep, FormOnly, JsonOnly, LinksDep, errors, within_query_limit
from pathatlas.ui.api.routes.search import scoped
from pathatlas.ui.api.schemas import (
    DOCUMENTED_LENGTH,
    AskRequest,
    AskResponse,
    Links,
    parse_filters_form,
    too_long,
)
from pathatlas.ui.api.uploads import read_limited

router = APIRouter(tags=["ask"])


@router.post(
    "/ask",
    operation_id="ask",
    response_model=AskResponse,
    summary="Answer a question with cited evidence",
    dependencies=[JsonOnly],
    responses=errors(404, *BODY, 415, 503),
)
def ask(request: AskRequest, engine: EngineDep, links: LinksDep) -> AskResponse:
    within_query_limit(engine, asked_texts(request, ("body",)))
    filters = scoped(engine, request.filters)
    result = engine.ask(Question(request.question, request.options, filters=filters)).result()  # one at a time
    return answer_out(engine, result, links)


@router.post(
    "/ask/image",
    operation_id="ask_about_image",
    dependencies=[FormOnly],
    response_model=AskResponse,
    summary="Answer a question about an image",
    responses=errors(404, *BODY, 503),
)
async def ask_image(
    engine: EngineDep,
    links: LinksDep,
    image: Annotated[UploadFile, File()],
    question: Annotated[str, Form(min_length=1, json_schema_extra=DOCUMENTED_LENGTH)],
    options: Annotated[str, Form(description="JSON list of option texts, as /ask takes them")] = "[]",
    filters: Annotated[str, Form(description='JSON object, the filters of /search, e.g. {"kind": "case"}')] = "{}",
) -> AskResponse:
    within_query_limit(engine, {("body", "question"): question})
    try:
        request = AskRequest(question=question, options=json.loads(options), filters=parse_filters_form(filters))
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "options must be a JSON list of strings") from exc
    except ValidationError as exc:  # the rules of /ask (option count, Unicode), said in one line
        raise HTTPException(status.HTTP_400_BAD_REQUEST, error_line(exc.errors()[0])) from exc
    except ValueError as exc:  # the filters
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    if long := too_long(asked_texts(request), engine.settings.max_query_chars):  # an option: as the rules above
        raise HTTPException(status.HTTP_400_BAD_REQUEST, error_line(long[0]))
    data = await read_limited(image, engine.settings.max_upload_mb << 20)
    picture = await asyncio.wrap_future(engine.open_image(data))  # a few at a time: a decode can take a gigabyte
    return await run_in_threadpool(_ask_image, engine, picture, request, links)  # the models block


def asked_texts(request: AskRequest, where: tuple[str, ...] = ()) -> dict[tuple[str | int, ...], str]:
    """The question and each option by their place in the request (below ``where``), for ``too_long``."""
    options = {(*where, "options", n): option for n, option in enumerate(request.options)}
    return {(*where, "question"): request.question, **options}


def error_line(error: dict[str, Any]) -> str:
    """A validation error of the multipart form's JSON fields in one line: "options.0: String should have ..."."""
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def _ask_image(engine, picture: Image.Image, request: AskRequest, links: Links) -> AskResponse:
    scope = scoped(engine, request.filters)
    question = Question(request.question, request.options, picture, filters=scope)
    result = engine.ask(question).result()  # the ask lane: one at a time
    return answer_out(engine, result, links)


def answer_out(engine, result: AgentResult, links: Links) -> AskResponse:
    """The answer document with each citation's links, a quote's at the passage holding it (``quote_place``)."""
    document = result.to_dict()
    by_id = {e.id: e for e in result.evidence}
    quoted = [(q["citation"]["evidence"], q["quote"]) for o in document["options"] for q in o["evidence"]]
    cited = [(c["evidence"], None) for c in document["citations"]]
    asked = [(by_id[i], quote) for i, quote in [*quoted, *cited] if i in by_id]
    pages = records_on_pages(engine.index.store, [e.payload for e, _ in asked])
    places: dict[tuple[str, str | None], QuotePlace] = {}
    for e, quote in asked:
        on_page = pages.get((e.payload.source, e.payload.page), {})
        places[e.id, quote] = (
            quote_place(quote, e.id, e.payload, on_page)
            if quote is not None
            else QuotePlace(evidence_record(e.id, e.payload, on_page), e.payload.bbox)
        )
    return AskResponse.of(document, links, places)


def records_on_pages(store, cited: list[Payload]) -> dict[tuple[str, int], dict[str, Payload]]:
    """The passages and figures of each cited page, by id: one scan per cited source."""
    wanted = {(p.source, p.page) for p in cited if p.page is not None}
    pages: dict[tuple[str, int], dict[str, Payload]] = {}
    for source in {source for source, _ in wanted}:
        for record_id, stored in store.scan({"kind": ["passage", "figure"], "source": source}):
            payload = Payload.from_payload(stored)
            if (source, payload.page) in wanted:
                pages.setdefault((source, payload.page), {})[record_id] = payload
    return pages
