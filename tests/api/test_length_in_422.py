"""A 422 for a text over its limit says, as data, how many characters the text had (``ctx.actual_length``, the name
pydantic gives a list's length in ``too_long``), whether or not its echo is cut; the web UI reads that count, not the
echo, which is a display string ("... (5,000 characters)"). A service on a two-page book, texts limited to ``LIMIT``
characters: below ``ECHO_CHARS``, so that a text just over it is echoed whole."""

from __future__ import annotations

import pytest
from PIL import Image

from pathatlas.retrieval.search import ECHO_CHARS
from pathatlas.ui.api.app import brief_error
from pathatlas.ui.present import error_message
from tests.helpers import png_bytes
from tests.uploads import book_service

LIMIT = 150
PNG = ("slide.png", png_bytes(Image.new("RGB", (48, 48), (200, 80, 160))))
CJK_AND_EMOJI = "病理🔬 "
"""Characters of three and four bytes in UTF-8 (the emoji two UTF-16 units): a length in bytes or units is wrong."""


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with book_service(tmp_path_factory.mktemp("s37-length"), "koilocytes mitosis cells", max_query_chars=LIMIT) as c:
        yield c


def text_of(length: int, unit: str = "mitosis ") -> str:
    """A searchable text of exactly ``length`` characters."""
    return (unit * length)[:length]


def sent(client, door: str, text: str):
    """``text`` as each door takes a search text, a question or an option."""
    if door == "/search":
        return client.post("/search", json={"text": text})
    if door == "/search/image":
        return client.post("/search/image", data={"text": text}, files={"image": PNG})
    if door == "/ask":
        return client.post("/ask", json={"question": "Which cell is it?", "options": ["koilocytes", text]})
    return client.post("/ask/image", data={"question": text}, files={"image": PNG})


def refused(response) -> dict:
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "string_too_long", error
    return error


@pytest.mark.parametrize("door", ["/search", "/search/image", "/ask", "/ask/image"])
@pytest.mark.parametrize("length", [LIMIT + 1, 1001, 5000])
def test_a_text_over_the_limit_is_refused_with_its_length_and_the_limit(client, door, length):
    error = refused(sent(client, door, text_of(length)))
    assert error["ctx"] == {"max_length": LIMIT, "actual_length": length}
    assert error["input"].endswith(f"... ({length:,} characters)") == (length > ECHO_CHARS), "cut only when long"


@pytest.mark.parametrize("door", ["/search", "/search/image"])
def test_multi_byte_characters_are_counted_as_characters_not_bytes(client, door):
    text = text_of(5000, CJK_AND_EMOJI)
    assert len(text.encode()) > 5000 and len(text.encode("utf-16-le")) // 2 > 5000
    assert refused(sent(client, door, text))["ctx"]["actual_length"] == 5000


@pytest.mark.parametrize(
    ("door", "said"),
    [
        ("/search", "The search text has 5,000 characters"),
        ("/search/image", "The search text has 5,000 characters"),
        ("/ask", "Option B has 5,000 characters"),
        ("/ask/image", "The question has 5,000 characters"),
    ],
)
def test_the_web_uis_line_for_the_refusal_says_the_real_length(client, door, said):
    """The UI's sentence from the service's own 422 body, as the app reads it."""
    detail = sent(client, door, text_of(5000)).json()["detail"]
    assert error_message(detail) == f"{said}, over the limit of {LIMIT}: shorten it."


def test_the_web_uis_line_for_a_files_bytes_sent_as_the_text_says_their_length(client):
    """An image's bytes sent as the text field (a part without a file name) are not echoed but counted: the UI said
    the length of that note ("(396 characters of binary data, not shown)", 42), not the text's."""
    response = client.post("/search/image", files={"image": PNG, "text": (None, PNG[1] * 3)})
    error = refused(response)
    assert "binary data, not shown" in error["input"] and error["ctx"]["actual_length"] > LIMIT
    said = f"The search text has {error['ctx']['actual_length']:,} characters, over the limit of {LIMIT}: shorten it."
    assert error_message([error]) == said


def test_a_refusal_without_the_length_says_the_limit_alone():
    """A service older than the web UI gives no ``actual_length``: its echo, a display string, is not counted."""
    echo = {"type": "string_too_long", "loc": ["body", "text"], "input": "x" * ECHO_CHARS + "... (5,000 characters)"}
    said = "The search text is over the limit of 4,000: shorten it."
    assert error_message([{**echo, "ctx": {"max_length": 4000}}]) == said


def test_any_door_tells_the_length_even_where_the_input_is_not_shown():
    """A query parameter's text, and a file's bytes sent as a text field (not echoed, only counted), carry it too; a
    list's ``too_long`` keeps pydantic's own count and other errors get none."""
    long_query = {"type": "string_too_long", "loc": ["query", "source"], "input": "s" * 300, "ctx": {"max_length": 9}}
    assert brief_error(long_query)["ctx"] == {"max_length": 9, "actual_length": 300}
    binary = {**long_query, "loc": ["body", "text"], "input": "\x89PNG\x00" + "x" * 995}
    told = brief_error(binary)
    assert told["ctx"]["actual_length"] == 1000 and "binary data, not shown" in told["input"]
    options = {"type": "too_long", "loc": ["body", "options"], "input": ["a"] * 12, "ctx": {"actual_length": 12}}
    assert brief_error(options)["ctx"] == {"actual_length": 12}
    short = {"type": "string_too_short", "loc": ["body", "text"], "input": "", "ctx": {"min_length": 1}}
    assert brief_error(short) == short
