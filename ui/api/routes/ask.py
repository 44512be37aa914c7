"""Ask a question (with options, optionally an image): answer, confidence, citations, trace."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from PIL import Image
from pydantic import ValidationError

from pathatlas.agent.questions import Question
from pathatlas.ui.api.deps import EngineDep, FormOnly, LinksDep, errors
from pathatlas.ui.api.routes.search import scoped
from pathatlas.ui.api.schemas import MAX_QUERY_CHARS, AskRequest, AskResponse, Links, parse_filters_form
from pathatlas.ui.api.uploads import read_limited

router = APIRouter(tags=["ask"])


@router.post("/ask", response_model=AskResponse, summary="Answer a question with cited evidence", responses=errors(404))
def ask(request: AskRequest, engine: EngineDep, links: LinksDep) -> AskResponse:
    filters = scoped(engine, request.filters)
    result = engine.ask(Question(request.question, request.options, filters=filters)).result()  # one at a time
    return AskResponse.of(result.to_dict(), links)


@router.post(
    "/ask/image",
    dependencies=[FormOnly],
    response_model=AskResponse,
    summary="Answer a question about an image",
    responses=errors(404),
)
async def ask_image(
    engine: EngineDep,
    links: LinksDep,
    image: Annotated[UploadFile, File()],
    question: Annotated[str, Form(min_length=1, max_length=MAX_QUERY_CHARS)],
    options: Annotated[str, Form(description="JSON list of option texts, as /ask takes them")] = "[]",
    filters: Annotated[str, Form(description='JSON object, the filters of /search, e.g. {"kind": "case"}')] = "{}",
) -> AskResponse:
    try:
        request = AskRequest(question=question, options=json.loads(options), filters=parse_filters_form(filters))
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "options must be a JSON list of strings") from exc
    except ValidationError as exc:  # the rules of /ask (option count and length, Unicode), said in one line
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"]))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{where}: {error['msg']}") from exc
    except ValueError as exc:  # the filters
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    data = await read_limited(image, engine.settings.max_upload_mb << 20)
    picture = await asyncio.wrap_future(engine.open_image(data))  # a few at a time: a decode can take a gigabyte
    return await run_in_threadpool(_ask_image, engine, picture, request, links)  # the models block


def _ask_image(engine, picture: Image.Image, request: AskRequest, links: Links) -> AskResponse:
    scope = scoped(engine, request.filters)
    question = Question(request.question, request.options, picture, filters=scope)
    result = engine.ask(question).result()  # the ask lane: one at a time
    return AskResponse.of(result.to_dict(), links)
