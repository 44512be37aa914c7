"""Words beside an image query weigh enough to find what they ask ("like this, but squamous")."""

from types import SimpleNamespace

import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import (
    HELD_WORDS_WEIGHT,
    PRINTED,
    Query,
    Searcher,
    by_majority,
    held_first,
    with_words_beside_image,
)
from pathatlas.settings import Settings
from tests.helpers import hashing_settings, index_new
from tests.indexer.test_incremental_cases import ENCODER

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


def test_a_search_weighs_an_image_querys_words_by_the_setting_unless_held_or_the_query_says(demo_index, monkeypatch):
    """Words no record holds in full weigh the setting; words some records hold (shown first) weigh as in a text
    search, the image ordering those records; a query's own ``words_weight`` (the rag baseline's question with its
    options asks 1) overrides either."""
    seen, fuse = [], Searcher.fuse

    def recording(self, rankings, query_keypoints=None, words_weight=1.0):
        seen.append(words_weight)
        return fuse(self, rankings, query_keypoints, words_weight)

    monkeypatch.setattr(Searcher, "fuse", recording)
    image = Image.new("RGB", (64, 64), "pink")
    searcher = Searcher(demo_index)
    searcher.find(Query(text="koilocytes zebrafish", image=image))
    searcher.find(Query(text="koilocytes", image=image))
    searcher.find(Query(text="koilocytes", image=image, words_weight=2.0))
    assert seen == [Settings().weight_words_image, HELD_WORDS_WEIGHT, 2.0]


def test_records_holding_every_typed_word_come_first_each_part_in_its_fused_order():
    fused = [("adeno-1", 0.9, {}), ("squamous-1", 0.8, {}), ("adeno-2", 0.7, {}), ("squamous-2", 0.6, {})]
    assert [rid for rid, _, _ in held_first(fused, {"squamous-2", "squamous-1"})] == [
        "squamous-1",
        "squamous-2",
        "adeno-1",
        "adeno-2",
    ]
    assert held_first(fused, set()) is fused


@pytest.fixture
def reds_and_blues(tmp_path):
    """Three red adenocarcinoma tiles and three blue squamous cell carcinoma tiles, indexed with an encoder reading
    images by their colours (``PixelEncoder``)."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    rows = ["image,case,diagnosis"]
    for n in range(3):
        for colour, diagnosis in (("red", "adenocarcinoma"), ("blue", "squamous cell carcinoma")):
            Image.new("RGB", (48, 48), colour).effect_spread(n + 1).save(folder / f"{colour}{n}.png")
            rows.append(f"{colour}{n}.png,{colour}-{n},{diagnosis}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    settings = hashing_settings(tmp_path, encoder=ENCODER, query_ocr=False)
    index_new(settings, folder)
    return Index.open(settings.index_dir, settings)


def test_an_image_searched_with_a_few_words_shows_what_they_name_first_at_any_weight(reds_and_blues):
    """'Like this, but squamous', the words weighed low (a tenth): the red image's look-alikes came first. The records
    holding every word typed (a short search's, as ``all_words_first`` reads it) now come first, the image ordering
    them. A long text (the agent's question with its options) is weighed, not sorted."""
    red = Image.new("RGB", (48, 48), "red")
    searcher = Searcher(reds_and_blues)

    def diagnoses(text: str) -> list[str]:
        hits = searcher.find(Query(text=text, image=red, k=6, words_weight=0.1)).hits
        return [hit.payload.diagnosis for hit in hits]

    assert diagnoses("squamous")[:3] == ["squamous cell carcinoma"] * 3
    assert diagnoses("which tumour shows keratin pearls squamous adenocarcinoma")[0] == "adenocarcinoma"


def test_the_diagnosis_vote_never_lifts_a_look_alike_above_a_record_holding_the_typed_words():
    """Six records hold the words (four adenocarcinomas, two squamous), then a look-alike adenocarcinoma that does not:
    the neighbours vote adenocarcinoma, which lifted the look-alike above the squamous records past rank five."""
    held = ["adeno-1", "adeno-2", "adeno-3", "adeno-4", "squamous-1", "squamous-2"]
    head = [(rid, 1.0 - n / 10, {}) for n, rid in enumerate([*held, "look-alike"])]
    diagnoses = {rid: rid.split("-")[0] for rid in held} | {"look-alike": "adeno"}
    payloads = {rid: SimpleNamespace(diagnosis=diagnosis) for rid, diagnosis in diagnoses.items()}
    unheld = [rid for rid, _, _ in by_majority(head, payloads, voters=5)]
    assert unheld.index("look-alike") < unheld.index("squamous-2"), "the vote moves an agreeing look-alike up"
    voted = by_majority(head, payloads, voters=5, holding=set(held))
    assert [rid for rid, _, _ in voted] == [*held, "look-alike"]
