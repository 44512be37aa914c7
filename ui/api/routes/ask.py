"""Ask a question (with options, optionally an image): answer, confidence, citations, trace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from PIL import Image
from pydantic import TypeAdapter, ValidationError

from pathatlas.agent.document import answer_record
from pathatlas.agent.questions import Question, with_pasted_options
from pathatlas.ui.api.deps import BODY, JSON_BODY, EngineDep, JsonOnly, LinksDep, errors, form_only, within_query_limit
from pathatlas.ui.api.routes.search import BOOK, CITATION_EXAMPLE, example_of, scoped, uploaded_image
from pathatlas.ui.api.schemas import AskImageForm, AskRequest, AskResponse, ImageQuestionText, Links, QuestionText
from pathatlas.ui.words import asked_texts, unknown_words_json

router = APIRouter(tags=["ask"])

P174 = {
    **CITATION_EXAMPLE,
    "evidence": "64967f351f4d57c8dbd70f22",
    "record": "41e06f80fe8f007386a1ffe8",
    "page_url": "/media/pages/41e06f80fe8f007386a1ffe8?source=2cd42bf39015&page=174",
    "caption_url": None,
    "case_image_url": None,
    "case_url": None,
    "thumbnail_url": "/media/thumbnails/64967f351f4d57c8dbd70f22?source=2cd42bf39015&page=174",
}
P185 = {
    **P174,
    "label": f"{BOOK} (book.pdf), p. 185",
    "page": 185,
    "bbox": [60.0, 63.4, 551.4, 165.7],
    "evidence": "3311ff293a2140d7cc876c0a",
    "record": "479c52119b02b68a1e625154",
    "page_url": "/media/pages/479c52119b02b68a1e625154?source=2cd42bf39015&page=185",
    "thumbnail_url": "/media/thumbnails/3311ff293a2140d7cc876c0a?source=2cd42bf39015&page=185",
}
ASKED = "Which cells resorb bone? osteoblasts osteoclasts"
RESORPTION = "The cell responsible for bone resorption, or breakdown, is the osteoclast."
ASK_EXAMPLE = {
    "question": "Which cells resorb bone?",
    "options_from_question": False,
    "choice": 0,
    "answer": "osteoclasts",
    "confidence": 0.707,
    "settled": True,
    "tied": [],
    "rationale": f'A. osteoclasts: "{RESORPTION}" ({P174["label"]}).',
    "options": [
        {
            "label": "A",
            "text": "osteoclasts",
            "score": 0.707,
            "evidence": [{"quote": RESORPTION, "citation": P174, "stance": "supports", "about": None}],
        },
        {
            "label": "B",
            "text": "osteoblasts",
            "score": 0.293,
            "evidence": [
                {
                    "quote": "Osteoclasts are continually breaking down old bone while osteoblasts are continually "
                    "forming new bone.",
                    "citation": P174,
                    "stance": "related",
                    "about": None,
                }
            ],
        },
    ],
    "citations": [P174, P185],
    "trace": [
        {"step": "plan", "queries": [{"id": "q", "purpose": "question", "text": ASKED}]},
        {
            "step": "search",
            "round": 1,
            "query": "q",
            "purpose": "question",
            "text": ASKED,
            "image": False,
            "hits": [{"id": c["evidence"], "kind": "page", "citation": c["label"]} for c in (P174, P185)],
        },
        {
            "step": "support",
            "queries": ["Which cells resorb bone?", "osteoclasts", "osteoblasts"],
            "passages": [1000, 22, 28],
        },
        {
            "step": "answer",
            "answerer": "offline",
            "answer": "A",
            "confidence": 0.707,
            "cited": [P174["evidence"], P185["evidence"]],
            "rationale": f'A. osteoclasts: "{RESORPTION}" ({P174["label"]}).',
        },
    ],
    "unknown_words": [],
}
"""``{"question": "Which cells resorb bone?", "options": ["osteoclasts", "osteoblasts"]}`` answered from the search
example's book: the answer as given, but each option's first quote only and the search's first two hits."""


@router.post(
    "/ask",
    operation_id="ask",
    response_model=AskResponse,
    summary="Answer a question with cited evidence",
    dependencies=[JsonOnly],
    responses={200: example_of(ASK_EXAMPLE), **errors(404, *JSON_BODY, 502, 503)},
)
def ask(request: AskRequest, engine: EngineDep, links: LinksDep) -> AskResponse:
    within_query_limit(engine, asked_fields(request.question, request.options))
    split = split_question(request.question, request.options, QUESTION)
    return answered(engine, request.filters, split, links)


@router.post(
    "/ask/image",
    operation_id="ask_about_image",
    dependencies=[form_only(AskImageForm)],
    response_model=AskResponse,
    summary="Answer a question about an image",
    responses=errors(404, *BODY, 502, 503),
)
async def ask_image(engine: EngineDep, links: LinksDep, form: Annotated[AskImageForm, File()]) -> AskResponse:
    """Every rule of the question and options is checked (422, as /ask refuses them) before the image is read: a big
    upload is not decoded to be refused for its words."""
    within_query_limit(engine, asked_fields(form.question, form.options))
    split = split_question(form.question, form.options, IMAGE_QUESTION)
    picture = await uploaded_image(engine, form.image)
    return await run_in_threadpool(answered, engine, form.filters, split, links, picture)  # the models block


QUESTION = TypeAdapter(QuestionText)
"""/ask's rule for its question (``schemas.unaskable``)."""
IMAGE_QUESTION = TypeAdapter(ImageQuestionText)
"""/ask/image's rule for its question (``schemas.wordless_beside_an_image``)."""


def split_question(question: str, options: list[str], rule: TypeAdapter) -> tuple[str, list[str], bool]:
    """The question text and options as every door asks them, and whether the options were read from its lines
    (``with_pasted_options``); the text left of one pasted with its option lines refused as the door's ``rule``
    refuses it typed alone (422, in its words, at the question's place): "?" pasted above "A. Koilocytes" and
    "B. Mitosis" asks "?", and was a 400 once split; those lines alone (a blank first line) ask "", refused as a
    blank question is at /ask and asking what the image shows at /ask/image."""
    text, options, from_question = with_pasted_options(question, options)
    if not from_question:
        return text, options, from_question
    try:
        rule.validate_python(text)
    except ValidationError as exc:
        refused = [{**error, "loc": ("body", "question"), "input": question} for error in exc.errors(include_url=False)]
        raise RequestValidationError(refused) from exc
    return text, options, from_question


def asked_fields(question: str, options: list[str]) -> dict[tuple[str | int, ...], str]:
    """The question and each option by their place in the request's body, for ``within_query_limit``."""
    return {("body", "question"): question, **{("body", "options", n): option for n, option in enumerate(options)}}


def answered(
    engine, filters: dict, split: tuple[str, list[str], bool], links: Links, picture: Image.Image | None = None
) -> AskResponse:
    """The question asked (one at a time, the ask lane) as ``split`` (``with_pasted_options``) within ``filters``, and
    answered with ``answer_record``'s document, its media as URLs (a thumbnail's for each cited record that has one,
    quoted or not), naming the words of the question and options that no indexed text holds."""
    text, options, from_question = split
    question = Question(text, options, picture, filters=scoped(engine, filters))
    result = engine.ask(question).result()
    record = answer_record(result, engine.index.store, from_question)
    unknown = unknown_words_json(asked_texts(text, options), engine.index)
    return AskResponse.of(record, links, unknown)
