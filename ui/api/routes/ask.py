"""Ask a question (with options, optionally an image): answer, confidence, citations, trace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from PIL import Image
from pydantic import TypeAdapter, ValidationError

from pathatlas.agent.document import answer_record
from pathatlas.agent.questions import Question, with_pasted_options
from pathatlas.ui.api.deps import BODY, JSON_BODY, EngineDep, FormOnly, JsonOnly, LinksDep, errors, within_query_limit
from pathatlas.ui.api.routes.search import scoped, uploaded_image
from pathatlas.ui.api.schemas import (
    ABOUT_AN_IMAGE,
    DOCUMENTED_LENGTH,
    AskRequest,
    AskResponse,
    Links,
    QuestionText,
    a_word_in,
    parse_filters_form,
    too_long,
)
from pathatlas.ui.words import asked_texts, unknown_words_json

router = APIRouter(tags=["ask"])
QUESTION_TEXT = AskRequest.model_fields["question"].description
"""What a question may be, as /ask's schema says it (a question pasted with its option lines is split)."""
IMAGE_QUESTION_TEXT = (
    f"{QUESTION_TEXT} None (or a blank one) asks what the image shows, and the options are what it may show "
    '(an image question printed without a stem); one typed needs a word ("What is it?", not "x").'
)


@router.post(
    "/ask",
    operation_id="ask",
    response_model=AskResponse,
    summary="Answer a question with cited evidence",
    dependencies=[JsonOnly],
    responses=errors(404, *JSON_BODY, 502, 503),
)
def ask(request: AskRequest, engine: EngineDep, links: LinksDep) -> AskResponse:
    within_query_limit(engine, asked_fields(request, ("body",)))
    return answered(engine, request, split_question(request), links)


@router.post(
    "/ask/image",
    operation_id="ask_about_image",
    dependencies=[FormOnly],
    response_model=AskResponse,
    summary="Answer a question about an image",
    responses=errors(404, *BODY, 502, 503),
)
async def ask_image(
    engine: EngineDep,
    links: LinksDep,
    image: Annotated[UploadFile, File()],
    question: Annotated[str, Form(json_schema_extra=DOCUMENTED_LENGTH, description=IMAGE_QUESTION_TEXT)] = "",
    options: Annotated[str, Form(description="JSON list of option texts, as /ask takes them")] = "[]",
    filters: Annotated[str, Form(description='JSON object, the filters of /search, e.g. {"kind": "case"}')] = "{}",
) -> AskResponse:
    within_query_limit(engine, {("body", "question"): question})
    try:
        if question.strip():  # a blank one asks what the image shows (``Question.validate``): "What is it?", not "x"
            a_word_in("the question")(question)
        asked = {"question": question, "options": json.loads(options), "filters": parse_filters_form(filters)}
        request = AskRequest.model_validate(asked, context={ABOUT_AN_IMAGE: True})
        split = with_pasted_options(request.question, request.options)
        # what is left of one pasted with its option lines, as one typed, before the image is read (a blank one
        # asks what the image shows, with those lines as its options)
        if split[2] and split[0].strip():
            a_word_in("the question")(split[0])
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "options must be a JSON list of strings") from exc
    except ValidationError as exc:  # the rules of /ask (option count, Unicode), said in one line
        raise HTTPException(status.HTTP_400_BAD_REQUEST, error_line(exc.errors()[0])) from exc
    except ValueError as exc:  # the filters
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    if long := too_long(asked_fields(request), engine.settings.max_query_chars):  # an option: as the rules above
        raise HTTPException(status.HTTP_400_BAD_REQUEST, error_line(long[0]))
    picture = await uploaded_image(engine, image)
    return await run_in_threadpool(answered, engine, request, split, links, picture)  # the models block


QUESTION = TypeAdapter(QuestionText)
"""/ask's rule for its question (``schemas.askable``)."""


def split_question(request: AskRequest) -> tuple[str, list[str], bool]:
    """/ask's question text and options as every door asks them, and whether the options were read from its lines
    (``with_pasted_options``); the text left of one pasted with its option lines refused as /ask's schema refuses it
    typed alone (422, in its words, at the question's place): "?" pasted above "A. Koilocytes" and "B. Mitosis" asks
    "?", and was a 400 once split; those lines alone (a blank first line) ask "", refused as a blank question is."""
    text, options, from_question = with_pasted_options(request.question, request.options)
    if not from_question:
        return text, options, from_question
    try:
        QUESTION.validate_python(text)
    except ValidationError as exc:
        sent = request.question
        refused = [{**error, "loc": ("body", "question"), "input": sent} for error in exc.errors(include_url=False)]
        raise RequestValidationError(refused) from exc
    return text, options, from_question


def asked_fields(request: AskRequest, where: tuple[str, ...] = ()) -> dict[tuple[str | int, ...], str]:
    """The question and each option by their place in the request (below ``where``), for ``too_long``."""
    options = {(*where, "options", n): option for n, option in enumerate(request.options)}
    return {(*where, "question"): request.question, **options}


def error_line(error: dict[str, Any]) -> str:
    """A validation error of the multipart form's JSON fields in one line: "options.0: String should have ..."."""
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def answered(
    engine, request: AskRequest, split: tuple[str, list[str], bool], links: Links, picture: Image.Image | None = None
) -> AskResponse:
    """The request asked (one at a time, the ask lane) as ``split`` (``with_pasted_options``), and answered with
    ``answer_record``'s document, its media as URLs, naming the words of the question and options that no indexed
    text holds."""
    text, options, from_question = split
    question = Question(text, options, picture, filters=scoped(engine, request.filters))
    result = engine.ask(question).result()
    record = answer_record(result, engine.index.store, from_question)
    return AskResponse.of(record, links, unknown_words_json(asked_texts(text, options), engine.index))
