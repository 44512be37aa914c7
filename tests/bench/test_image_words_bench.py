"""``bench retrieval --image-words``: the index's diagnosed images searched with words beside them (their own
diagnosis, another), every search a real one; the words' weight chosen on diagnosis folds and scored held out."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.retrieval.bench.trec import token
from pathatlas.retrieval.bench.words import (
    BEFORE,
    CHOSEN,
    DEFAULT,
    IMAGE,
    TASK,
    WORD,
    WORDS,
    Rarity,
    image_word_queries,
    typed_word,
    typed_words,
    weight_per_fold,
)
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from tests.helpers import hashing_settings, indexed_lecture, one_error_line, run_cli
from tests.indexer.test_incremental_cases import ENCODER

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

COLOURS = {"granuloma": (200, 40, 40), "fibrosis": (40, 40, 200), "necrosis": (40, 200, 40), "oedema": (200, 200, 40)}
"""Each diagnosis' images share a colour, so the image alone finds its own diagnosis (``PixelEncoder``)."""


def case_folder(root: Path) -> Path:
    """Three images of each diagnosis, one of them (g0) also filed as g-copy (the same bytes), an image of a diagnosis
    no other has (h0), and an image without a diagnosis."""
    folder = root / "cases"
    folder.mkdir()
    rows = []
    for diagnosis, colour in COLOURS.items():
        for n in range(3):
            name = f"{diagnosis[0]}{n}.png"
            noise = np.random.default_rng(len(rows)).integers(-20, 20, (32, 32, 3))
            Image.fromarray(np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)).save(folder / name)
            rows.append((name, diagnosis))
    (folder / "g-copy.png").write_bytes((folder / "g0.png").read_bytes())
    Image.new("RGB", (32, 32), "white").save(folder / "blank.png")
    Image.new("RGB", (32, 32), "magenta").save(folder / "h0.png")
    rows += [("g-copy.png", "granuloma"), ("blank.png", ""), ("h0.png", "haemorrhage")]
    with (folder / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("image", "diagnosis"), *rows])
    return folder


def env(root: Path, **extra) -> dict[str, str]:
    """The pixel encoder, no keypoints and no reading of printed words: instant, and the ranks as the test sets them."""
    return {"home": root / "home", "PATHATLAS_ENCODER": ENCODER, "PATHATLAS_QUERY_OCR": "0", **extra}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("image_words")
    result = run_cli("index", case_folder(root), "--index", root / "idx", **env(root))
    assert result.exit_code == 0, result.output
    return root


def bench(library: Path, *args, **extra):
    return run_cli("bench", "retrieval", "--image-words", "--index", library / "idx", *args, **env(library, **extra))


@pytest.fixture(scope="module")
def words_run(library) -> tuple[dict, str]:
    """The bench at the shipped weight, with its TREC files in ``runs``: its JSON and its output."""
    result = bench(library, "--json", library / "out.json", "--runs", library / "runs")
    assert result.exit_code == 0, result.output
    return json.loads((library / "out.json").read_text()), result.output


def record_ids(library: Path) -> dict[str, str]:
    """Each case image's record id, by its file name."""
    index = Index.open(library / "idx", hashing_settings(library, index=library / "idx", encoder=ENCODER))
    return {stored["image"]: rid for rid, stored in index.store.scan({"kind": "case"})}


def test_each_diagnosed_image_asks_its_own_diagnosis_and_another_its_copies_left_out(library, words_run):
    result, _ = words_run
    body = result["tasks"][TASK]
    # 14 diagnosed images (the copy too) ask twice, but for h0's own diagnosis there is nothing to find
    assert body["n"] == 2 * 14 - 1 and "h0.png:agree" not in " ".join(q["id"] for q in body["per_question"])
    assert body["notes"] == [
        "left out 1 of 28 queries asking a diagnosis no other record has (an image's own, held by it and its byte "
        "copies alone): nothing could answer them"
    ]
    assert list(body["methods"]) == [DEFAULT, BEFORE, CHOSEN, IMAGE, WORDS, "chance"]
    asked = {q["id"]: q for q in body["per_question"]}
    own, other = asked["cases/g0.png:agree"], asked["cases/g0.png:conflict"]
    assert own["words"] == own["asks"] == "granuloma" and own["agree"] and not other["agree"]
    assert body["phrasing"] == "diagnosis" and other["words"] == other["asks"]  # the diagnosis as stored
    assert other["words"] in {*COLOURS, "haemorrhage"} - {"granuloma"}
    # g0's own granulomas are g1 and g2: g0 and its byte copy are neither asked for nor ranked
    assert own["relevant"] == 2 and asked["cases/g1.png:agree"]["relevant"] == 3
    ids = record_ids(library)
    copies = {ids["g0.png"], ids["g-copy.png"]}
    runs = library / "runs"
    gold = [line.split() for line in (runs / f"qrels.{TASK}.txt").read_text().splitlines()]
    assert {doc for query, _, doc, _ in gold if query == "cases/g0.png%3Aagree"} == {ids["g1.png"], ids["g2.png"]}
    for method in (DEFAULT, IMAGE, WORDS):
        lines = (runs / f"{TASK}.{token(method)}.trec").read_text().splitlines()
        ranked = [line.split()[2] for line in lines if line.startswith("cases/g0.png")]
        assert ranked and not copies & set(ranked), method
        assert ids["g-copy.png"] in {line.split()[2] for line in lines if line.startswith("cases/g1.png")}


def test_each_fold_weight_is_chosen_on_the_other_folds_alone():
    """Fold 0's queries are found at weight 8 only, the others' at weight 1 only: fold 0 gets 1, chosen on the other
    folds' queries (its own three would have picked 8), folds 1 and 2 get 8 (fold 0's three outnumber the rest)."""
    gold = [{"right"}] * 6
    folds = [0, 0, 0, 1, 2, 2]
    found = {1.0: [["wrong"]] * 3 + [["right"]] * 3, 8.0: [["right"]] * 3 + [["wrong"]] * 3}
    assert weight_per_fold(found, gold, folds, 3) == [1.0, 8.0, 8.0]
    found[8.0][0] = ["wrong"]  # fold 1 now ties, 2 queries found at each weight: the smaller
    assert weight_per_fold(found, gold, folds, 3) == [1.0, 1.0, 8.0]


def test_the_table_shows_p_at_5_and_each_fold_weight_and_marks_a_default_below_the_words_alone(library, words_run):
    _, output = words_run
    shown = " ".join(output.split())
    assert f"{TASK}, n=27" in shown and "left out 1 of 28 queries" in shown and "P@5" in shown and "below" not in shown
    assert (
        f"default: words some records hold in full first at x1, other words x{Settings().weight_words_image:g}; "
        "weight per fold (by the query image's diagnosis)" in shown
    )
    assert "by part, P@5 / R@1" in shown and "conflicting words" in shown
    # words neither held first nor weighing anything beside the image: the default finds the image's own diagnosis
    ignored = bench(
        library, "--json", library / "ignored.json", PATHATLAS_WEIGHT_WORDS_IMAGE="0", PATHATLAS_ALL_WORDS_FIRST="0"
    )
    assert ignored.exit_code == 0, ignored.output
    said = " ".join(ignored.output.split())
    assert "✗ below" in said and "bm25 on recall@1," in said and "precision@5" in said.split("bm25 on recall@1,")[1]
    body = json.loads((library / "ignored.json").read_text())["tasks"][TASK]
    assert body["words_weight"] == 0 and body["methods"][DEFAULT]["recall@1"] < body["methods"][WORDS]["recall@1"]


def test_json_to_stdout_is_json_alone_and_folds_sets_the_diagnosis_folds(library):
    result = bench(library, "--json", "-", "--folds", "2")
    assert result.exit_code == 0, result.output
    tasks = json.loads(result.stdout)["tasks"]
    assert set(tasks) == {TASK} and len(tasks[TASK]["weight_per_fold"]["chosen"]) == 2


def test_without_an_index_or_with_none_diagnosed_it_refuses_in_one_line(library, tmp_path):
    alone = run_cli("bench", "retrieval", "--image-words", **env(tmp_path))
    one_error_line(alone, "no PathAtlas index at")
    lecture = indexed_lecture(tmp_path, "notes.pdf", "Squamous epithelium lines the cervix.")
    refused = run_cli("bench", "retrieval", "--image-words", "--index", lecture / "idx", home=lecture / "home")
    one_error_line(refused, "--image-words", "no case image with a diagnosis")


LOOSE = {
    "lung adenocarcinoma": ("lung", (200, 40, 40), 3),
    "lung squamous cell carcinoma": ("lung", (40, 40, 200), 3),
    "benign lung tissue": ("lung", (40, 200, 40), 3),
    "adenocarcinoma": ("pancreas", (200, 200, 40), 2),
    "pancreatic ductal adenocarcinoma": ("pancreas", (200, 40, 200), 2),
    "serous carcinoma": ("ovary", (40, 200, 200), 2),
    "ectopic adrenal tissue": ("adrenal", (120, 120, 120), 2),
}
"""Each diagnosis' organ, colour and number of images: "lung" is in three diagnoses and nine records, "adenocarcinoma"
in three and seven, "carcinoma" and "tissue" in two diagnoses; the pancreas holds two diagnoses alone."""


@pytest.fixture(scope="module")
def loose_library(tmp_path_factory) -> Path:
    """An index of ``LOOSE``'s images, listed in labels.csv with their diagnosis and organ."""
    root = tmp_path_factory.mktemp("loose_words")
    folder = root / "cases"
    folder.mkdir()
    rows = [("image", "diagnosis", "organ")]
    for number, (diagnosis, (organ, colour, count)) in enumerate(LOOSE.items()):
        for n in range(count):
            noise = np.random.default_rng(len(rows)).integers(-20, 20, (32, 32, 3))
            Image.fromarray(np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)).save(
                folder / f"d{number}-{n}.png"
            )
            rows.append((f"d{number}-{n}.png", diagnosis, organ))
    with (folder / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = run_cli("index", folder, "--index", root / "idx", **env(root))
    assert result.exit_code == 0, result.output
    return root


def test_the_word_typed_for_each_diagnosis_of_a_tiny_index(loose_library):
    settings = hashing_settings(loose_library, index=loose_library / "idx", encoder=ENCODER)
    index = Index.open(loose_library / "idx", settings)
    assert typed_words(image_word_queries(index, 3, WORD)) == {
        "adenocarcinoma": "adenocarcinoma",
        "benign lung tissue": "benign",  # in one diagnosis; "tissue" in two, "lung" in three
        "ectopic adrenal tissue": "ectopic",  # as rare and as long as "adrenal": the first
        "lung adenocarcinoma": "adenocarcinoma",  # both words in three diagnoses; "lung" in more records
        "lung squamous cell carcinoma": "squamous",  # as rare as "cell" ("carcinoma" is in two): the longer
        "pancreatic ductal adenocarcinoma": "pancreatic",
        "serous carcinoma": "serous",
    }
    rarity = Rarity.of(index, LOOSE)
    assert (rarity.diagnoses["lung"], rarity.records["lung"]) == (3, 9)
    assert (rarity.diagnoses["adenocarcinoma"], rarity.records["adenocarcinoma"]) == (3, 7)


def test_the_word_rule_fewest_diagnoses_then_fewest_records_then_the_longest_then_the_first():
    """Each level decides where the ones before it tie; a label without a one-term word is typed whole."""
    counts = Rarity(  # by stem, as the index's terms are
        Counter({"cell": 2, "squamous": 1, "ductal": 1, "pancreat": 1}),
        Counter({"cell": 5, "squamous": 6, "ductal": 2, "pancreat": 3}),
    )
    assert typed_word("squamous cell", counts) == "squamous"  # in more records, but in one diagnosis
    assert typed_word("pancreatic ductal", counts) == "ductal"  # as many diagnoses, fewer records
    assert typed_word("ductal pancreatic", Rarity(Counter(), Counter())) == "pancreatic"  # all alike: the longer
    assert typed_word("ectopic adrenal", Rarity(Counter(), Counter())) == "ectopic"  # and as long: the first
    assert typed_word("肺腺癌", Rarity(Counter(), Counter())) == "肺腺癌"  # read as character pairs


def test_one_word_phrasing_runs_end_to_end_relevant_the_diagnosis_asked_and_a_conflict_with_nothing_left_out(
    loose_library,
):
    out = loose_library / "word.json"
    result = bench(loose_library, "--phrasing", "word", "--json", out)
    assert result.exit_code == 0, result.output
    run = json.loads(out.read_text())
    body = run["tasks"][TASK]
    assert body["phrasing"] == run["run"]["phrasing"] == "word"
    asked = {q["id"]: q for q in body["per_question"]}
    own = asked["cases/d0-0.png:agree:word"]
    # "adenocarcinoma" beside a lung adenocarcinoma: its two other tiles, not the pancreas' adenocarcinomas
    assert (own["words"], own["asks"], own["relevant"]) == ("adenocarcinoma", "lung adenocarcinoma", 2)
    # a pancreatic ductal adenocarcinoma's one conflict (the pancreas' other diagnosis) is "adenocarcinoma": left out
    assert not [q for q in asked if q.startswith("cases/d4-") and q.endswith(":conflict:word")]
    assert asked["cases/d3-0.png:conflict:word"]["words"] == "pancreatic"
    assert body["n"] == 2 * 17 - 2 == len(asked)
    shown = " ".join(result.output.split())
    assert "left out 2 of 17 conflicting queries whose word is a word of the image's own diagnosis too" in shown
    assert "'adenocarcinoma': adenocarcinoma, lung adenocarcinoma" in shown
    assert "--phrasing word; default: words some records hold in full first" in shown
    assert "x4 " in shown and "x8 " in shown
    assert set(body["weight_per_fold"]["by_weight"]) == {"1", "2", "4", "8"}


def test_a_phrasing_unknown_or_without_image_words_is_refused_in_one_line(loose_library):
    one_error_line(bench(loose_library, "--phrasing", "loose"), "--phrasing 'loose'", "diagnosis, word or both")
    alone = run_cli("bench", "retrieval", "--names", "--index", loose_library / "idx", "--phrasing", "word")
    one_error_line(alone, "--phrasing word", "give --image-words")


def test_both_phrasings_ask_each_image_both_ways_and_one_weight_is_chosen_for_both(loose_library):
    """Students type the diagnosis or one word of it: ``both`` pools the two query sets, so the folds choose one weight
    for what either kind of student gets."""
    out = loose_library / "both.json"
    result = bench(loose_library, "--phrasing", "both", "--json", out)
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())["tasks"][TASK]
    asked = {q["id"]: q for q in body["per_question"]}
    assert body["n"] == len(asked) == 2 * 17 + 2 * 17 - 2  # the word's two conflicts with nothing left out
    assert asked["cases/d0-0.png:agree"]["words"] == "lung adenocarcinoma"
    assert asked["cases/d0-0.png:agree:word"]["words"] == "adenocarcinoma"
    assert "cases/d4-0.png:conflict" in asked and "cases/d4-0.png:conflict:word" not in asked
    assert body["by_part"]["typed: diagnosis"]["n"] == 34 and body["by_part"]["typed: word"]["n"] == 32
    assert body["typed_words"]["lung adenocarcinoma"] == "adenocarcinoma"
    assert len(body["weight_per_fold"]["chosen"]) == 3
