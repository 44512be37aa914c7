"""``Atlas`` takes ``k`` as every door takes it and refuses a call its methods do not take in one line
(``BadInputError``), as the LangChain retriever refuses ``invoke(n=3)``: ``k=0`` was "at least 1" where the others say
"between 1 and 100", and ``search(text, n=3)`` a bare TypeError that an agent catching ``PathAtlasError`` missed."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from pathatlas.errors import BadInputError
from pathatlas.ui.library import Atlas, search_k
from tests.helpers import quick

SOME_ID = "0123456789abcdef01234567"
"""A record id: ``similar`` checks its k before it looks the record up."""
PUBLIC_METHODS = [name for name, member in inspect.getmembers(Atlas, inspect.isfunction) if not name.startswith("_")]


@pytest.fixture
def atlas(tmp_path):
    """An ``Atlas`` on a folder holding no index: each refusal here comes before the index is opened."""
    with Atlas(tmp_path / "index", **quick(tmp_path)) as opened:
        yield opened


def refusal(call) -> str:
    with pytest.raises(BadInputError) as refused:
        call()
    return str(refused.value)


@pytest.mark.parametrize("k", [0, -1, 101, 10_000, 3.0, 3.5, "3", True, None])
def test_every_atlas_method_refuses_k_by_the_one_rule_langchain_shares(atlas, k):
    words = refusal(lambda: search_k(k))
    assert refusal(lambda: atlas.search("bone", k=k)) == words
    assert refusal(lambda: atlas.hits("bone", k=k)) == words
    assert refusal(lambda: atlas.similar(SOME_ID, k=k)) == words


def test_k_zero_names_the_range_every_door_names(atlas):
    assert refusal(lambda: atlas.search("bone", k=0)) == "k must be between 1 and 100, not 0"


def test_a_whole_k_of_any_integral_type_is_still_searched(quick_atlas):
    assert len(quick_atlas.search("carcinoma", k=np.int64(2))) == 2
    assert len(quick_atlas.search("carcinoma", k=1)) == 1


def test_an_unknown_keyword_names_itself_and_how_the_method_is_called(atlas):
    assert refusal(lambda: atlas.search("bone", n=3)) == (
        "Atlas.search: got an unexpected keyword argument 'n'; call it as search(text, *, image, k, filters)"
    )
    assert refusal(lambda: atlas.add("book.pdf", paths=["cases/"])) == (
        "Atlas.add: got an unexpected keyword argument 'paths'; call it as add(*paths, force, progress)"
    )


@pytest.mark.parametrize("name", PUBLIC_METHODS)
def test_every_public_method_refuses_an_unknown_keyword_in_one_line(atlas, name):
    words = refusal(lambda: getattr(atlas, name)(n=3))
    assert words.startswith(f"Atlas.{name}: ") and f"call it as {name}(" in words and "\n" not in words


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda a: a.search("bone", 5), "Atlas.search: too many positional arguments; call it as search(text, *, "),
        (lambda a: a.ask(), "Atlas.ask: missing a required argument: 'question'; call it as ask(question, options, "),
        (lambda a: a.search("bone", text="cells"), "Atlas.search: multiple values for argument 'text'"),
        (lambda a: a.search("bone", **{"k\nx": 1}), "Atlas.search: got an unexpected keyword argument 'k\\nx';"),
    ],
)
def test_a_call_that_does_not_fit_the_method_is_one_line_saying_how_to_call_it(atlas, call, words):
    assert refusal(lambda: call(atlas)).startswith(words)


def test_the_methods_keep_their_signatures_for_help_and_editors():
    assert list(inspect.signature(Atlas.search).parameters) == ["self", "text", "image", "k", "filters"]
