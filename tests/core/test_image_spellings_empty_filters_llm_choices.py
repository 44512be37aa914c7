"""Four small fixes: a case image listed under several spellings, the size advice for a very long image, an empty
filter value, and an LLM answer the evidence scores below another option."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from pathatlas.agent.questions import Question
from pathatlas.agent.writing import NO_IMAGE
from pathatlas.errors import BadInputError
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.images import check_query_image, open_image
from pathatlas.ui.api.schemas import parse_filters_form
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.tools import Toolbox
from tests.agent.test_llm_confidence import llm_answer
from tests.api.test_service_uploads_and_other_processes import png_of_size
from tests.helpers import hashing_settings, png_bytes


def tile(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8))


# -- 1. one record a file, however its rows spell it -----------------------------------------------------------------
def test_an_image_listed_under_two_spellings_is_one_record_with_its_first_rows_labels(tmp_path):
    """``images/a.jpg`` twice and ``./images/a.jpg`` once gave two records of one file, and the problem said
    "listed twice"."""
    folder = tmp_path / "cases"
    (folder / "images").mkdir(parents=True)
    for n, name in enumerate(("a.jpg", "b.jpg")):
        tile(n).save(folder / "images" / name)
    rows = [
        {"image": "images/a.jpg", "case": "X", "Stain": "PAS"},
        {"image": "images/a.jpg", "case": "X", "Stain": "H&E"},
        {"image": "./images/a.jpg", "case": "X", "Stain": "Ziehl-Neelsen"},
        {"image": "images/b.jpg", "case": "X", "Stain": "H&E"},
    ]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    (case,) = list(source.records())
    labels = {e.payload.image: e.payload.labels for e in case.entries()}
    assert labels == {"images/a.jpg": {"Stain": "PAS"}, "images/b.jpg": {"Stain": "H&E"}}
    assert source.problems == [
        f"{folder / 'cases.jsonl'}: 'images/a.jpg' is listed 3 times in case 'X' ('./images/a.jpg'); read once"
    ]


# -- 2. advice the app then takes ------------------------------------------------------------------------------------
def test_a_strip_too_long_to_scale_is_told_a_crop_the_app_then_takes():
    """A 300000x210 image over a 100000-pixel limit was told "at most 11952x8", which a search then refused as too
    small to compare."""
    with pytest.raises(BadInputError) as refused:
        open_image(png_of_size(300_000, 210), 100_000, name="strip.png")
    assert str(refused.value) == (
        "strip.png is 300000x210 pixels, over the limit of 100,000 (PATHATLAS_MAX_IMAGE_PIXELS): crop it to at most "
        "476x210 (scaled whole it would be 11952x8, too small to compare) and try again"
    )
    check_query_image(open_image(png_bytes(Image.new("RGB", (476, 210))), 100_000))  # the advice followed is taken


# -- 3. an empty filter value is called empty ------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value"), [("kind", ""), ("source", "   "), ("organ", ["lung", ""]), ("organ", [])])
def test_an_empty_filter_value_is_refused_as_empty_in_one_message_at_every_door(field, value):
    """ "filter 'kind' takes text or a list of texts, not ''" ('' is text); REST's forms and --filter said "unknown
    kind ''"."""
    said = f"^{re.escape(f'filter {field!r} is empty: give a value or leave it out')}$"
    with pytest.raises(BadInputError, match=said):  # LangChain's retriever, the MCP tools and the library
        PathAtlasRetriever(toolbox=Toolbox(engine=None), filters={field: value})
    with pytest.raises(ValueError, match=said):  # REST's multipart forms and the CLI's --filter
        parse_filters_form(json.dumps({field: value}))


# -- 4. a model's choice the evidence ranks below another option ------------------------------------------------------
def test_an_llm_choice_the_evidence_scores_below_another_says_so_and_keeps_the_models_words():
    """The model chose B while the evidence scored A 0.885 and B 0.115, and the rationale called B "the closest
    match", quoting a sentence about A."""
    answer = llm_answer({"answer": "A", "rationale": "They remodel bone.", "evidence": [], "confidence": 0.9})
    assert answer.scores[1] > answer.scores[0] and not answer.settled
    assert answer.rationale == (
        f"The model chose A. Osteoblasts; the evidence favours B. Osteoclasts ({answer.scores[1]:.2f} against "
        f'{answer.scores[0]:.2f}): "Osteoclasts break down bone; osteoclasts resorb bone matrix." (book.pdf, p. 1). '
        "Model: They remodel bone. (stated confidence 0.90)"
    )
    assert "p1" in answer.cited, "the sentence quoted is cited"


def test_so_does_one_to_a_question_about_an_image_it_was_not_given_still_saying_so():
    question = Question("Which cells in this slide break down bone?", ["Osteoblasts", "Osteoclasts"])
    answer = llm_answer({"answer": "A", "rationale": "They remodel bone.", "evidence": []}, question)
    assert answer.rationale.startswith(f"{NO_IMAGE}. The model chose A. Osteoblasts; the evidence favours B.")
