"""``bench qa`` says what its figures are: rows over questions the offline answerer's shipped weights were fitted on
read in-sample (the questions known by their words, whatever their file is called, their options' labels or their
blanks' length), with or without --folds, and the note names the figures to quote or the --folds the questions allow;
options filed with labels are asked without them; and ``--exclude-case`` keeps a caseless tile's turned or mirrored
copies out of its evidence, as a case's other images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.questions import Answer
from pathatlas.agent.tune import FITTED_ON, question_fingerprint
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.datasets import read_jsonl, read_options
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from tests.conftest import shared_data
from tests.helpers import hashing_settings, run_cli

DEV = [
    {
        "id": "mine-1",
        "question": "Which of the following specialties might focus on studying all of the structures of the ankle "
        "and foot?",
        "options": ["microscopic anatomy", "muscle anatomy", "regional anatomy", "systemic anatomy"],
        "answer": "C",
    },
    {  # options in another order, other spacing and case: the same question
        "id": "mine-2",
        "question": "The smallest  independently functioning biological unit of an organism is a(n) ________.",
        "options": {"A": "Tissue", "B": "cell", "C": "organ", "D": "molecule"},
        "answer": "B",
    },
]
"""Two of the A&P dev questions the shipped weights were fitted on, as a user's renamed copy might hold them."""

OWN = [
    {"id": "own-1", "question": "Which cells have a perinuclear halo?", "options": ["Goblet", "Koilocytes"]}
    | {"answer": "B", "chapter": "one"},
    {  # a dev question's stem with other options is another question
        "id": "own-2",
        "question": "Synovial joints ________.",
        "options": ["are fused", "have no cavity"],
        "answer": "A",
        "chapter": "two",
    },
]


def write(path, rows):
    path.write_text("\n".join(map(json.dumps, rows)) + "\n")
    return path


def bench_qa(index, questions, out, *options):
    """``bench qa`` (no-rag, rag; ``options``) over ``questions``: (its output in one line, its JSON, its report)."""
    args = ["bench", "qa", "--questions", questions, "--index", index.path, "--modes", "no-rag,rag", *options]
    result = run_cli(*args, "--out", out / "qa", "--json", out / "qa.json", home=out / "home", COLUMNS="400")
    assert result.exit_code == 0, result.output
    return (
        " ".join(result.output.split()),
        json.loads((out / "qa.json").read_text()),
        (out / "qa/report.md").read_text(),
    )


def test_a_renamed_copy_of_dev_questions_reads_in_sample_without_folds(quick_index, tmp_path):
    output, result, report = bench_qa(quick_index, write(tmp_path / "renamed.jsonl", DEV + OWN), tmp_path)
    assert result["fitted_on"] == 2
    label = "in-sample (weights fitted on 2 of these questions)"
    for mode in ("no-rag", "rag"):
        assert f"{mode}, in-sample" in output  # the table's label; its caption says the parenthesis once
        assert f"| {mode}, {label} | {result['modes'][mode]['accuracy']:.3f} |" in report
    assert "in-sample: weights fitted on 2 of these questions" in output
    said = "shipped weights were fitted on 2 of these 4 questions (the A&P dev questions)"
    assert said in output and said in report
    assert "for held-out figures run with --folds 3 (at most 3, the chapters these questions span" in output


def test_with_held_out_rows_the_note_says_they_are_the_figures_to_quote(quick_index, tmp_path):
    output, result, report = bench_qa(quick_index, write(tmp_path / "q.jsonl", DEV + OWN), tmp_path, "--folds", 2)
    assert "held_out" in result["modes"]["rag"] and "| rag, held out | " in report
    said = "shipped weights were fitted on 2 of these 4 questions (the A&P dev questions), so its figures over them "
    said += "are in-sample; the held-out rows (the weights refit on the other chapters for each fold of chapters) "
    said += "are the figures to quote"
    assert said in output and said in report
    assert "run with --folds" not in output


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        (DEV + OWN[:1], "for held-out figures run with --folds 2 (at most 2, the chapters these questions span"),
        (DEV, "no figures can be held out: these questions span 1 chapter(s), and folds need two"),
    ],
)
def test_without_held_out_rows_the_note_suggests_no_more_folds_than_chapters(quick_index, tmp_path, rows, said):
    items, failures = load_items(write(tmp_path / "q.jsonl", rows), 10_000_000)
    bench = QABench(quick_index, OfflineAnswerer(quick_index.encoder))
    (note,) = [n for n in bench.run(items, failures, modes=("no-rag",))["notes"] if n.startswith("in-sample")]
    assert said in note and "--folds 5" not in note
    if "--folds 2" in said:  # what it suggests runs, and then shows held-out rows
        assert "held_out" in bench.run(items, failures, modes=("no-rag",), folds=2)["modes"]["no-rag"]


STEM = "The smallest independently functioning biological unit of an organism is a(n) ________."
CELL = ["cell", "molecule", "organ", "tissue"]
"""A dev question the shipped weights were fitted on, as the dev file writes it."""


@pytest.mark.parametrize(
    ("text", "options"),
    [
        (STEM, ["A. cell", "B. molecule", "C. organ", "D. tissue"]),
        (STEM, ["(a) cell", "(b) molecule", "(c) organ", "(d) tissue"]),
        (STEM.replace("________", "_____"), CELL),
        (STEM.replace("________", "_ _ _"), ["A) cell", "B) molecule", "C) organ", "D) tissue"]),
        (STEM.replace("________", "(blank)"), CELL),
        (STEM.replace("________", "..."), CELL),
        (STEM.replace("________.", "\u2026"), CELL),
        (STEM.replace("________", "[BLANK]"), CELL),
    ],
)
def test_a_copy_with_labelled_options_or_another_blank_is_the_dev_question(text, options):
    assert question_fingerprint(text, options) == question_fingerprint(STEM, CELL)
    assert question_fingerprint(text, options) in FITTED_ON


def test_other_words_or_labels_out_of_order_are_another_question():
    assert question_fingerprint(STEM.replace("a(n)", "the"), CELL) not in FITTED_ON
    assert question_fingerprint(STEM, ["B. cell", "A. molecule", "C. organ", "D. tissue"]) not in FITTED_ON


def test_fitted_on_is_every_dev_question_as_fingerprinted_now():
    rows = read_jsonl(shared_data("openstax_ap2e/mcq_dev.jsonl"))
    fingerprints = [question_fingerprint(row["question"], read_options(row["options"])) for row in rows]
    assert len(rows) == len(set(fingerprints)) == 347
    assert set(fingerprints) == FITTED_ON


def test_options_filed_with_labels_are_asked_and_answered_without_them(quick_index, tmp_path):
    labelled = [row | {"options": [f"{letter}. {o}" for letter, o in zip("ABCD", CELL, strict=True)]} for row in OWN]
    plain = [row | {"options": CELL} for row in OWN]
    asked = [
        load_items(write(tmp_path / f"{n}.jsonl", rows), 10_000_000)[0] for n, rows in enumerate((labelled, plain))
    ]
    assert [i.question.options for i in asked[0]] == [CELL, CELL]
    assert [i.fingerprint for i in asked[0]] == [i.fingerprint for i in asked[1]]
    opened, _ = load_items(write(tmp_path / "open.jsonl", labelled), 10_000_000, open_questions=True)
    assert [i.gold_answer for i in opened] == ["molecule", "cell"]  # the gold text, not "B. molecule"
    bench = QABench(quick_index, OfflineAnswerer(quick_index.encoder))
    answers = [
        [(r["answer"], r["confidence"]) for r in bench.run(items, [], modes=("no-rag",))["items"]] for items in asked
    ]
    assert answers[0] == answers[1]


def test_other_questions_in_a_file_named_as_the_dev_file_are_not_in_sample(quick_index, tmp_path):
    output, result, report = bench_qa(quick_index, write(tmp_path / "mcq_dev.jsonl", OWN), tmp_path, "--folds", 2)
    assert result["fitted_on"] == 0
    assert "in-sample" not in output and "in-sample" not in report
    assert "| rag, held out | " in report and "| rag, shipped weights | " in report


class Says(Answerer):
    """Always the first option: an answerer without the offline answerer's weights (an LLM's place)."""

    name = "says"

    def answer(self, question, evidence):
        return Answer(0, question.options[0], 0.5)


def test_an_answerer_without_the_shipped_weights_is_never_in_sample(quick_index, tmp_path):
    items, failures = load_items(write(tmp_path / "mcq_dev.jsonl", DEV), 10_000_000)
    result = QABench(quick_index, Says()).run(items, failures, modes=("no-rag",))
    assert result["fitted_on"] == 0 and not result["notes"]
    assert "| no-rag | " in markdown_report(result, "run")


def texture(seed: int, side: int = 224) -> Image.Image:
    """A tissue-like tile: random blobs smoothed, in colour."""
    small = np.random.default_rng(seed).integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC)


class Sees(Answerer):
    """Records the images of the evidence it is given; answers the first option."""

    name = "sees"

    def __init__(self):
        self.seen: list[set[str]] = []

    def answer(self, question, evidence):
        self.seen.append({e.payload.image for e in evidence if e.payload.image})
        return Answer(0, question.options[0], 0.5)


@pytest.fixture(scope="module")
def tiles(tmp_path_factory, session_home):
    """Tiles without case ids (as LC25000's), one a turned and mirrored copy of another, indexed with the default
    encoder (an image query needs one that reads images) without keypoints: (index, folder)."""
    root = tmp_path_factory.mktemp("tiles")
    folder = root / "tiles"
    folder.mkdir()
    tile = texture(1)
    tile.save(folder / "a.png")
    tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(90).save(folder / "a-turned.png")
    texture(2).save(folder / "b.png")
    texture(3).save(folder / "c.png")
    rows = ["a.png,adenocarcinoma", "a-turned.png,adenocarcinoma", "b.png,adenocarcinoma", "c.png,squamous"]
    (folder / "labels.csv").write_text("image,diagnosis\n" + "\n".join(rows) + "\n")
    settings = Settings(home=session_home, index=root / "index", case_keypoints=False)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    yield index, folder
    index.close()


@pytest.mark.parametrize("mode", ["rag", "agentic"])
def test_exclude_case_keeps_a_caseless_tiles_turned_copy_out_of_its_evidence(tiles, tmp_path, mode):
    index, folder = tiles
    row = {"id": "t1", "question": "What does this tile show?", "options": ["Adenocarcinoma", "Squamous"]}
    row |= {"answer": "A", "image": str(folder / "a.png"), "gold": {"diagnosis": "adenocarcinoma"}}
    items, failures = load_items(write(tmp_path / "q.jsonl", [row]), 10_000_000)
    plain, excluding = Sees(), Sees()
    QABench(index, plain).run(items, failures, modes=(mode,))
    result = QABench(index, excluding, exclude_case=True).run(items, failures, modes=(mode,))
    assert plain.seen[-1] == {"a-turned.png", "b.png", "c.png"}, "without --exclude-case only its own image is out"
    assert excluding.seen[-1] == {"b.png", "c.png"}
    assert any("1 of the 1 image questions without a case" in note for note in result["notes"])


def test_an_indexed_tile_gone_from_disk_is_left_uncompared_not_a_failed_run(tmp_path):
    folder = tmp_path / "tiles"
    folder.mkdir()
    texture(1).save(folder / "a.png")
    texture(1).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(folder / "a-flipped.png")
    texture(2).save(folder / "b.png")
    (folder / "labels.csv").write_text("image,diagnosis\na.png,x\na-flipped.png,x\nb.png,y\n")
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    (folder / "b.png").unlink()
    row = {"id": "t", "question": "Which?", "options": ["x", "y"], "answer": "A", "image": str(folder / "a.png")}
    items, _ = load_items(write(tmp_path / "q.jsonl", [row]), 10_000_000)
    bench = QABench(index, Sees(), exclude_case=True)
    assert "1 of the 1 image questions without a case" in bench.keep_out_copies(items)
    ids = {p["image"]: rid for rid, p in index.store.scan({"kind": "case"})}
    assert bench.excluded(items[0]) == {ids["a.png"], ids["a-flipped.png"]}
    index.close()
