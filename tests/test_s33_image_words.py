"""Words beside an image query weigh enough to find what they ask ("like this, but squamous")."""

from types import SimpleNamespace

import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.search import PRINTED, Query, Searcher, with_words_beside_image
from pathatlas.settings import Settings

ADENO = [f"adeno-{n}" for n in range(1, 6)]
SQUAMOUS = [f"squamous-{n}" for n in range(1, 6)]


def like_this_but_squamous() -> dict[str, list[tuple[str, float]]]:
    """An adenocarcinoma tile's image rankers find adenocarcinomas; the words "squamous" find squamous tiles."""
    image = [(rid, 1.0 - n / 10) for n, rid in enumerate(ADENO)]
    words = [(rid, 1.0 - n / 10) for n, rid in enumerate(SQUAMOUS)]
    return {"visual:image": image, "joint:image": image, "bm25": words, "text": words, "joint": words}


def first_of(words_weight: float) -> str:
    searcher = SimpleNamespace(settings=Settings())
    return Searcher.fuse(searcher, like_this_but_squamous(), words_weight=words_weight)[0][0]


def test_words_beside_an_image_find_what_they_ask():
    assert first_of(Settings().weight_words_image) == "squamous-1"
    assert first_of(1.0) == "adeno-1", "at the words' text-search weights the image decides alone"


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), "4"])
def test_a_querys_words_weight_is_a_number_from_zero_up(weight):
    with pytest.raises(BadInputError, match="words_weight takes a number from 0 up"):
        Query(text="squamous", image=Image.new("RGB", (32, 32)), words_weight=weight).validate()


def test_only_an_image_querys_words_are_weighed_up():
    weights = Settings().fusion_weights()
    text_only = {"bm25": [], "text": [], "joint": []}
    assert with_words_beside_image(weights, text_only, 4.0) is weights
    weighed = with_words_beside_image(weights, {**like_this_but_squamous(), PRINTED: []}, 4.0)
    assert weighed["bm25"] == 4 * weights["bm25"] and weighed["joint"] == 4 * weights["joint"]
    assert weighed["joint:image"] == weights["joint:image"] and weighed[PRINTED] == weights[PRINTED]


def test_a_search_weighs_an_image_querys_words_by_the_setting_unless_the_query_says(demo_index, monkeypatch):
    """The setting's weight reaches the fusion of a real search; a query's own ``words_weight`` (the rag baseline's
    question with its options asks 1) overrides it."""
    seen, fuse = [], Searcher.fuse

    def recording(self, rankings, query_keypoints=None, words_weight=1.0):
        seen.append(words_weight)
        return fuse(self, rankings, query_keypoints, words_weight)

    monkeypatch.setattr(Searcher, "fuse", recording)
    image = Image.new("RGB", (64, 64), "pink")
    searcher = Searcher(demo_index)
    searcher.find(Query(text="koilocytes", image=image))
    searcher.find(Query(text="koilocytes", image=image, words_weight=1.0))
    assert seen == [Settings().weight_words_image, 1.0]
