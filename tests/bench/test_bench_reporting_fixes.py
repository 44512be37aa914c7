"""A researcher's walkthrough of the benches' figures and notes: an encoder with learned heads scores every caption
asked (and its held-out twin), saying how many each task scores; ``bench retrieval --folds`` and ``bench qa --folds``
hold out the same chapters and list them; the caveat of held-out folds is in the JSON; and ``bench qa``'s note
counts what it shows (the held-out open-answer ECE, the questions answered before Ctrl-C)."""

from __future__ import annotations

import json

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.run import QABench
from pathatlas.retrieval.bench.images import ImageSet, cross_modal
from pathatlas.retrieval.bench.pages import text_to_page
from pathatlas.retrieval.datasets import is_validation, read_figures
from tests.bench.test_bench_tied_precision import BLUE, GREEN, ORANGE, RED, slides
from tests.bench.test_qa_bench_honesty import DEV, OWN
from tests.helpers import hashing_settings, run_cli
from tests.indexer.test_incremental_cases import PixelEncoder
from tests.retrieval.test_joint import write_shared_layout

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

# 1. Captions: every one asked is scored, the learned space on the held-out ones in a twin task -----------------------

FIGURES = [  # tile4, tile5 and tile8 are held out by the fixed split (is_validation), the others trained on
    (f"tile{n}", colour, caption)
    for n, colour, caption in [
        (0, RED, "alpha cells"),
        (1, ORANGE, "beta cells"),
        (2, BLUE, "gamma cells"),
        (4, GREEN, "delta cells"),
        (5, RED, "epsilon cells"),
        (8, BLUE, "zeta cells"),
    ]
]


def caption_tasks(tmp_path, split: str) -> dict:
    """``cross_modal`` over ``FIGURES`` with the pixel encoder, its ``joint`` space taken as learned (as the default
    encoder's heads), OCR off."""
    settings = hashing_settings(tmp_path, figure_ocr=False, query_ocr=False)
    figures = slides(tmp_path / "figures", FIGURES)
    assert [is_validation(item.group) for item in figures] == [False] * 3 + [True] * 3
    encoder = PixelEncoder(settings)
    images = ImageSet(figures, encoder, settings, split)
    images.learned = ("joint",)
    return cross_modal(figures, images, encoder)


def test_split_all_scores_every_caption_and_the_learned_space_in_a_held_out_twin(tmp_path):
    tasks = caption_tasks(tmp_path, "all")
    for direction in ("text_to_image", "image_to_text"):
        every, held = tasks[direction], tasks[f"{direction}:held-out"]
        assert (every["n"], every["split"], held["n"], held["split"]) == (6, "all", 3, "val")
        assert "joint" not in every["methods"] and every["default_label"] == "default without joint"
        assert every["notes"] == [
            f"chance is search's default without joint, whose heads trained on some of these 6 queries; "
            f"{direction}:held-out scores search's default itself on the 3 held out"
        ]
        assert held["default"] == "joint" and "default_label" not in held
        assert held["notes"] == ["held-out split: 3 of 6 queries, those the learned heads never trained on"]


def test_the_held_out_split_of_an_encoder_with_learned_heads_says_how_many_captions_it_kept(tmp_path):
    tasks = caption_tasks(tmp_path, "val")
    assert set(tasks) == {"text_to_image", "image_to_text"}
    for body in tasks.values():
        assert body["n"] == 3 and body["split"] == "val" and "joint" in body["methods"]
        assert body["notes"] == ["held-out split: 3 of 6 queries; --split all for all"]


def test_the_default_encoder_scores_every_caption_of_a_figures_file_with_split_all(tmp_path):
    """The walkthrough's run: ``bench retrieval --figures F --split all`` with the shipped encoder scored the held-out
    captions alone, under ``split: "val"``, with no note."""
    figures = write_shared_layout(tmp_path / "data", per_pattern=3) / "openstax_ap2e" / "figures.jsonl"
    groups = [item.group for item in read_figures(figures)]
    held_out = sum(map(is_validation, groups))
    assert 0 < held_out < len(groups)
    result = run_cli(
        "bench", "retrieval", "--figures", figures, "--split", "all", "--json", tmp_path / "r.json",
        home=tmp_path / "home", PATHATLAS_ENCODER="default", PATHATLAS_FIGURE_OCR=0, PATHATLAS_QUERY_OCR=0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "r.json").read_text())["tasks"]
    assert (tasks["text_to_image"]["n"], tasks["text_to_image"]["split"]) == (len(groups), "all")
    assert tasks["text_to_image:held-out"]["n"] == held_out and "joint" in tasks["text_to_image:held-out"]["methods"]
    said = f"held-out split: {held_out} of {len(groups)} queries, those the learned heads never trained on"
    assert said in " ".join(result.output.split())


# 2 and 4. One chapter dealing for both benches, listed in both JSONs; the folds' caveat in the JSON -----------------

CHAPTERS = ["ch2", "ch10", "ch1"]
"""By first appearance two folds would be {ch2, ch1} and {ch10}; by name (shortest first) {ch1, ch10} and {ch2}."""

QUESTIONS = [
    ("Which cells have a clear perinuclear halo?", ["Langhans cells", "Koilocytes", "Goblet cells"], "B"),
    ("Which stain shows acid-fast bacilli?", ["Ziehl-Neelsen", "Congo red", "Prussian blue"], "A"),
    ("Which cells line the alveoli?", ["Goblet cells", "Plasma cells", "Type I pneumocytes"], "C"),
]


@pytest.fixture(scope="module")
def chapter_questions(tmp_path_factory):
    """Nine questions of the demo primer in the chapters ``CHAPTERS`` (in that order of first appearance), each with a
    gold page."""
    rows = [
        {"id": f"q{n}", "question": text, "options": options, "answer": answer, "chapter": CHAPTERS[n % 3]}
        | {"gold": {"pdf_pages": [n % 3 + 1, n % 3 + 1]}}
        for n, (text, options, answer) in enumerate(QUESTIONS * 3)
    ]
    path = tmp_path_factory.mktemp("chapter-questions") / "q.jsonl"
    path.write_text("\n".join(map(json.dumps, rows)) + "\n")
    return path


@pytest.fixture(scope="module")
def page_folds(quick_index, chapter_questions) -> dict:
    return text_to_page(quick_index, chapter_questions, folds=2)


def test_retrieval_and_qa_folds_hold_out_the_same_chapters_and_both_jsons_list_them(
    quick_index, chapter_questions, page_folds
):
    items, failures = load_items(chapter_questions, 1)
    result = QABench(quick_index, OfflineAnswerer(quick_index.encoder)).run(items, failures, ("rag",), folds=2)
    by_name = [["ch1", "ch10"], ["ch2"]]
    assert [fold["chapters"] for fold in page_folds["folds"]] == by_name
    assert result["modes"]["rag"]["held_out"]["chapters"] == by_name


def test_the_caveat_of_held_out_folds_is_among_the_json_notes(page_folds):
    caveat = "the grids and rules it was chosen among were designed on these same questions"
    assert [note for note in page_folds["notes"] if caveat in note] == [
        "each fold's ranker was chosen on the other folds, but the grids and rules it was chosen among were designed "
        "on these same questions: only the weights are held out"
    ]


# 3 and 5. bench qa's in-sample note says what the run shows ----------------------------------------------------------


def chaptered(rows: list[dict], chapters: list[str]) -> list[dict]:
    return [row | {"chapter": chapter} for row, chapter in zip(rows, chapters, strict=True)]


def test_with_open_folds_the_note_quotes_the_held_out_ece_not_rows_the_table_lacks(quick_index, tmp_path):
    rows = chaptered(DEV, ["one", "two"])
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(map(json.dumps, rows)) + "\n")
    items, failures = load_items(path, 1, open_questions=True)
    result = QABench(quick_index, OfflineAnswerer(quick_index.encoder)).run(items, failures, ("rag",), folds=2)
    assert "held_out" not in result["modes"]["rag"] and "held_out_open" in result["modes"]["rag"]
    (note,) = [n for n in result["notes"] if n.startswith("in-sample")]
    assert "held-out rows" not in note
    assert note.endswith(
        "the open-answer confidence map's held-out ECE (the map refit on the other chapters for each fold of "
        "chapters; the line after the tables, report.md's 'Open-answer confidence refit per fold', JSON "
        "held_out_open) is the ECE to quote; the table's rows are all in-sample"
    )


class StoppedOffline(OfflineAnswerer):
    """The offline answerer, where the user presses Ctrl-C at its fourth answer (the untimed warm-up counts)."""

    def __init__(self, encoder):
        super().__init__(encoder)
        self.asked = 0

    def answer(self, question, evidence):
        self.asked += 1
        if self.asked == 4:
            raise KeyboardInterrupt
        return super().answer(question, evidence)


def test_after_ctrl_c_the_note_counts_the_fitted_questions_among_those_answered(quick_index, tmp_path):
    """Of a dev question, an own one, a dev question and an own one, Ctrl-C leaves the first two answered: one of them
    was fitted on, not the two of the file."""
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [DEV[0], OWN[0], DEV[1], OWN[1]]) + "\n")
    items, failures = load_items(path, 1)
    result = QABench(quick_index, StoppedOffline(quick_index.encoder)).run(items, failures, ("no-rag",))
    assert result["interrupted"] == "Ctrl-C in no-rag after 2 of 4 questions"
    assert result["fitted_on"] == 1
    (note,) = [n for n in result["notes"] if n.startswith("in-sample")]
    assert note.startswith(
        "in-sample: the offline answerer's shipped weights were fitted on 1 of the 2 questions answered (of 4) (the "
        "A&P dev questions)"
    )
