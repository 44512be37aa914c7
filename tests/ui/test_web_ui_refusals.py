"""The web UI's line for each refusal a student meets at /ask/image and /search/image, now that a form field failing a
rule is FastAPI's 422 list: the real bodies of a service (a TestClient, texts limited to 300 characters, uploads to
1 MB) read by ``present.error_message``, as the app reads them (``detail_of``, then ``refused``). A long text's echo,
cut by the service, was counted as its length ("The options has 220 characters" for a 479-character option B), and a
message naming its field was headed by it again ("Question: the question has no word to look for")."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from pathatlas.ui.present import error_message
from tests.helpers import png_bytes
from tests.indexer.test_incremental_cases import ENCODER as PIXEL_ENCODER
from tests.uploads import book_service

NO_WORD = "The question has no word to look for: type two letters or digits in a row, or a CJK character."
LONG_OPTION = "mitosis " * 60  # 480 characters, 479 as the Ask tab sends it (stripped)
PNG = ("slide.png", png_bytes(Image.new("RGB", (48, 48), (200, 80, 160))))
NOT_AN_IMAGE = ("slide.png", b"not an image")
OVERSIZE = ("slide.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A service on a two-page book whose encoder searches by image."""
    root = tmp_path_factory.mktemp("s38-ui")
    with book_service(
        root, "koilocytes mitosis cells", encoder=PIXEL_ENCODER, max_query_chars=300, max_query_image_mb=1
    ) as served:
        yield served


def asked(question: str, options: list[str], image=PNG) -> tuple[str, dict, tuple]:
    """An /ask/image request as the Ask tab sends it: the options typed one a line, stripped, as a JSON list."""
    return "/ask/image", {"question": question, "options": json.dumps(options), "filters": "{}"}, image


def searched(text: str, image=PNG, filters: str = "{}") -> tuple[str, dict, tuple]:
    """A /search/image request as the Search tab sends it."""
    return "/search/image", {"text": text, "filters": filters, "k": "12"}, image


STUDENT = {
    "a wordless question": (asked("?", ["Koilocytes", "Mitosis"]), NO_WORD),
    "one option": (
        asked("Which cells?", ["Koilocytes"]),
        "Options: one option is no choice: give two or more, or none for an open question.",
    ),
    "the same option twice": (
        asked("Which cells?", ["Koilocytes", "koilocytes"]),
        "Options A and B are the same ('koilocytes').",
    ),
    "eleven options": (
        asked("Which cells?", [f"option {n}" for n in range(11)]),
        "Too many options: give at most 10, not 11.",
    ),
    "an option over the limit": (
        asked("Which cells?", ["Koilocytes", LONG_OPTION.strip()]),
        "Option B has 479 characters, over the limit of 300: shorten it.",
    ),
    "a question over the limit": (
        asked("Which cells " * 40 + "?", []),
        "The question has 481 characters, over the limit of 300: shorten it.",
    ),
    "a search text over the limit": (
        searched("cells " * 60),
        "The search text has 360 characters, over the limit of 300: shorten it.",
    ),
    "filters the service does not know": (
        searched("cells", filters='{"kind": "pages"}'),
        "Filters: unknown kind 'pages'; use page, passage, figure, case.",
    ),
    "an image that is no image": (
        searched("cells", NOT_AN_IMAGE),
        "slide.png is not a readable image (JPEG, PNG, TIFF, ...)",
    ),
    "an image over the upload limit": (
        asked("Which cells?", [], OVERSIZE),
        "image query is over the limit of 1 MB (PATHATLAS_MAX_QUERY_IMAGE_MB)",
    ),
}


def shown(client, request: tuple[str, dict, tuple]) -> str:
    """The line the web UI shows for the service's refusal of ``request``."""
    route, form, image = request
    response = client.post(route, data=form, files={"image": image})
    assert response.status_code >= 400, response.text
    return error_message(response.json()["detail"])


@pytest.mark.parametrize("case", STUDENT)
def test_each_refusal_is_one_line_naming_what_to_fix(client, case):
    request, line = STUDENT[case]
    assert shown(client, request) == line


@pytest.mark.parametrize(
    "request_",
    [
        asked("Which cells?", ["Koilocytes", 3]),  # a client other than the Ask tab: options not all texts
        ("/ask/image", {"options": "Koilocytes, Mitosis"}, PNG),  # options that are no JSON
        searched("cells", filters="[]"),
    ],
)
def test_no_refusal_shows_a_list_a_path_or_pydantics_words(client, request_):
    line = shown(client, request_)
    assert "\n" not in line and not line.startswith(("[", "{")), line
    assert not any(jargon in line for jargon in ("body", "options.", "Value error", "loc")), line


def test_a_long_texts_length_is_the_one_the_service_counted():
    """The service says how long a refused text was (``ctx.actual_length``) and echoes it cut to its first 200
    characters; the message takes the count, never the echo's own length or words in it."""
    cut = {
        "type": "string_too_long",
        "loc": ["body", "text"],
        "input": "x" * 200 + "... (5,000 characters)",
        "ctx": {"max_length": 4000, "actual_length": 5000},
    }
    assert error_message([cut]) == "The search text has 5,000 characters, over the limit of 4,000: shorten it."
    typed = {**cut, "input": "x... (5,000 characters)", "ctx": {"max_length": 10, "actual_length": 23}}
    assert error_message([typed]) == "The search text has 23 characters, over the limit of 10: shorten it."


def test_a_message_naming_its_field_in_its_first_clause_is_not_headed_by_it_again():
    """ "Question: empty question: give the question text, ..." said the field twice."""
    empty = {"type": "unsearchable_text", "loc": ["body", "question"], "input": ""}
    said = error_message([{**empty, "msg": "empty question: give the question text, an image, or both"}])
    assert said == "Empty question: give the question text, an image, or both."
    one = {"type": "value_error", "loc": ["body", "options"], "msg": "Value error, one option is no choice: give two"}
    assert error_message([one]) == "Options: one option is no choice: give two."  # "option" is not "options"


def test_a_search_refusal_naming_the_query_is_not_headed_by_search_text():
    """The service words the search text "the query": "Search text: empty query: ..." said it twice."""
    empty = {"type": "value_error", "loc": ["body", "text"], "msg": "empty query: give some text, an image, or both"}
    assert error_message([empty]) == "Empty query: give some text, an image, or both."
