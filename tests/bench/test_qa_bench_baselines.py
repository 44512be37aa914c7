"""``bench qa`` beside its baselines: a searching mode that scores below no-rag or chance is marked in the main and
by-group tables (terminal and report) and in the JSON (``below_baselines``), as ``bench retrieval`` marks a default
below a baseline; questions of cases none of whose golds the index holds are refused in one line, as gold pages it
lacks are; and evidence hit@5 has an exact chance level (hypergeometric over the index's records), per group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.bench.gold import check_sources
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.questions import Answer
from pathatlas.errors import BadInputError
from pathatlas.retrieval.index import Index
from tests.helpers import hashing_settings, index_new, indexed_book, one_error_line, run_cli

HERE = "py:tests.bench.test_qa_bench_baselines"

CASES = [("A", "angiosarcoma")] * 3 + [("B", "angiosarcoma")] * 2 + [(f"G{n}", "granuloma") for n in range(7)]
"""A case folder's twelve images: case A (three images) and B (two) of angiosarcoma, seven granulomas of a case each."""

TILES = ["adenocarcinoma"] * 3 + ["squamous"] * 3 + ["benign"] * 3
"""A tile folder's nine caseless tiles, three of each diagnosis, as LC25000's."""


class LosesOnSecond(Answerer):
    """Answers A (every question's right option), except a question of the second chapter with evidence: B."""

    name = "loses-on-second"

    @classmethod
    def create(cls, settings, encoder):
        return cls()

    def answer(self, question, evidence):
        choice = 1 if evidence and "second" in question.text else 0
        return Answer(choice, question.options[choice], 0.9)


def picture(path: Path, n: int) -> None:
    """A plain 48-pixel image of its own colour."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 48), (20 * n % 256, 90, 255 - 20 * n % 256)).save(path)


def case_folder(folder: Path) -> Path:
    """``CASES`` as a case folder (``cases.jsonl``, images under ``images/``); returns it."""
    rows = []
    for n, (case, diagnosis) in enumerate(CASES):
        picture(folder / "images" / f"{case}-{n}.png", n)
        rows.append({"image": f"images/{case}-{n}.png", "case": case, "diagnosis": diagnosis})
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def tile_folder(folder: Path) -> Path:
    """``TILES`` as a case folder of caseless tiles (``labels.csv``); returns it."""
    for n in range(len(TILES)):
        picture(folder / f"t{n}.png", 100 + n)
    (folder / "labels.csv").write_text("image,diagnosis\n" + "".join(f"t{n}.png,{d}\n" for n, d in enumerate(TILES)))
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A root holding the case and tile folders, each indexed quickly on its own (``cases-index``, ``tiles-index``)
    and both together (``both-index``), and a three-page book indexed alone (``idx``, home ``home``)."""
    root = indexed_book(tmp_path_factory.mktemp("s37-qa"))
    cases, tiles = case_folder(root / "atlas"), tile_folder(root / "tiles")
    for name, folders in (("cases", [cases]), ("tiles", [tiles]), ("both", [cases, tiles])):
        index_new(hashing_settings(root, index=root / f"{name}-index"), *folders)
    return root


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def image_question(qid: str, image: Path, gold: dict) -> dict:
    return {"id": qid, "question": "Which diagnosis?", "options": ["angiosarcoma", "granuloma"], "answer": "A"} | {
        "image": str(image),
        "gold": gold,
    }


ATLAS_GOLD = {"case": "A", "diagnosis": "angiosarcoma"}


def open_index(root: Path, name: str, **extra) -> Index:
    settings = hashing_settings(root, index=root / f"{name}-index", **extra)
    return Index.open(settings.index_dir, settings)


# 1. A searching mode below no-rag or chance is marked ----------------------------------------------------------------


@pytest.fixture(scope="module")
def marked(data) -> dict:
    """``bench qa`` (no-rag, rag) of four four-option questions, two a chapter, with ``LosesOnSecond``: rag 0.5 overall
    (below no-rag's 1.0, above chance's 0.25), 0.0 in the second chapter (below both), 1.0 in the first."""
    rows = [
        {"id": f"q{n}", "question": f"Which granuloma is of the {chapter} chapter?", "answer": "A"}
        | {"options": ["one", "two", "three", "four"], "chapter": chapter}
        for n, chapter in enumerate(["first", "first", "second", "second"])
    ]
    questions = write_rows(data / "marked.jsonl", rows)
    out = data / "marked"
    result = run_cli(
        "bench", "qa", "--questions", questions, "--index", data / "cases-index", "--modes", "no-rag,rag",
        "--answerer", f"{HERE}.LosesOnSecond", "--out", out, "--json", out / "qa.json", home=data / "home",
        COLUMNS="400",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"json": json.loads((out / "qa.json").read_text()), "report": (out / "report.md").read_text()} | {
        "output": result.output
    }


def test_the_json_says_which_baselines_a_searching_mode_scores_below(marked):
    modes = marked["json"]["modes"]
    assert modes["rag"]["accuracy"] == 0.5 and modes["no-rag"]["accuracy"] == 1.0
    assert modes["rag"]["below_baselines"] == {"no-rag": {"score": 0.5, "baseline": 1.0}}, "0.5 is above chance 0.25"
    second = modes["rag"]["by_group"]["second"]["below_baselines"]
    assert second == {"no-rag": {"score": 0.0, "baseline": 1.0}, "chance": {"score": 0.0, "baseline": 0.25}}
    assert "below_baselines" not in modes["rag"]["by_group"]["first"], "as good as no-rag there"
    assert "below_baselines" not in modes["no-rag"], "no-rag is the baseline, not marked"


def test_the_terminal_marks_the_row_and_the_group(marked):
    lines = marked["output"].splitlines()
    rag = next(line for line in lines if line.startswith("│ rag "))
    assert rag.rstrip("│ ").endswith("✗ below no-rag on accuracy")
    second = next(line for line in lines if line.startswith("│ second "))
    first = next(line for line in lines if line.startswith("│ first "))
    assert second.rstrip("│ ").endswith("✗ rag below no-rag, chance") and "✗" not in first
    assert not any("✗" in line for line in lines if line.startswith(("│ no-rag ", "│ chance ")))


def test_the_report_marks_them_alike(marked):
    lines = marked["report"].splitlines()
    header = next(line for line in lines if line.startswith("| mode |"))
    rag = next(line for line in lines if line.startswith("| rag |"))
    assert rag.endswith("| ✗ below no-rag on accuracy |") and rag.count("|") == header.count("|")
    groups = marked["report"].split("by group\n", 1)[1]
    assert "| second | 2 | 1.00 | 0.00 | 0.25 | ✗ rag below no-rag, chance |" in groups
    assert "| first | 2 | 1.00 | 1.00 | 0.25 |  |" in groups


def test_a_run_below_no_baseline_adds_no_mark_column(marked):
    mine = json.loads(json.dumps(marked["json"]))
    for figures in [mine["modes"]["rag"], *mine["modes"]["rag"]["by_group"].values()]:
        figures.pop("below_baselines", None)
    report = markdown_report(mine, "t")
    assert "✗" not in report and next(line for line in report.splitlines() if line.startswith("| mode |")).endswith(
        "| failed |"
    )


# 2. Questions of cases the index lacks are refused --------------------------------------------------------------


def test_image_questions_on_a_book_alone_are_refused_naming_the_case_folder(data):
    rows = [image_question(f"atlas-{n}", data / "atlas" / "images" / f"A-{n}.png", ATLAS_GOLD) for n in range(2)]
    questions = write_rows(data / "atlas-questions.jsonl", rows)
    result = run_cli(
        "bench", "qa", "--questions", questions, "--index", data / "idx", "--modes", "rag", "--limit", 2,
        "--out", data / "refused", home=data / "home", COLUMNS="400",
    )  # fmt: skip
    line = one_error_line(result, "holds none of the gold cases and diagnoses", "first 'atlas-0': case 'A'")
    assert "it holds no case images" in line and f"(pathatlas index {(data / 'atlas').resolve()} --index " in line
    assert not (data / "refused").exists(), "refused before any question was asked"


def test_a_run_without_retrieval_is_not_refused_for_evidence_it_never_reads(data):
    """no-rag reads no evidence: the questions' gold pages and cases need not be in the index."""
    rows = [image_question(f"atlas-{n}", data / "atlas" / "images" / f"A-{n}.png", ATLAS_GOLD) for n in range(2)]
    questions = write_rows(data / "atlas-questions-no-rag.jsonl", rows)
    result = run_cli(
        "bench", "qa", "--questions", questions, "--index", data / "idx", "--modes", "no-rag", "--limit", 2,
        "--out", data / "no-rag", home=data / "home", COLUMNS="400",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_file_of_atlas_and_tile_questions_runs_where_the_index_holds_either(data, tmp_path):
    rows = [image_question("atlas-0", data / "atlas" / "images" / "A-0.png", ATLAS_GOLD)]
    rows.append(image_question("tile-0", data / "tiles" / "t0.png", {"label": "aca", "diagnosis": "adenocarcinoma"}))
    items, _ = load_items(write_rows(tmp_path / "mixed.jsonl", rows), 10_000_000)
    for name in ("both", "cases", "tiles"):
        with open_index(data, name) as index:
            check_sources(items, index, tmp_path / "mixed.jsonl")
    with open_index(data, "cases") as index:
        notes = QABench(index, LosesOnSecond()).run(items, [], modes=("rag",))["notes"]
    assert any(note.startswith("evidence hit@5 of 1 of the 2 questions") and "'tile-0'" in note for note in notes)


def test_questions_whose_cases_the_index_holds_none_of_are_refused(data, tmp_path):
    rows = [image_question("tile-0", data / "tiles" / "t0.png", {"label": "aca", "diagnosis": "adenocarcinoma"})]
    items, _ = load_items(write_rows(tmp_path / "tiles.jsonl", rows), 10_000_000)
    with open_index(data, "cases") as index, pytest.raises(BadInputError) as refused:
        check_sources(items, index, tmp_path / "tiles.jsonl")
    assert "its 9 cases are others" in str(refused.value) and str((data / "tiles").resolve()) in str(refused.value)


# 3. Evidence hit@5 has a chance level --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exclude_case", "chance"),
    [
        (False, 1 - 126 / 462),  # 11 records seen (its own image out), 2 of case A: 1 - C(9,5)/C(11,5)
        (True, 1 - 21 / 126),  # 9 seen (case A out), 2 of angiosarcoma (case B): 1 - C(7,5)/C(9,5)
    ],
)
def test_the_chance_of_a_case_hit_counts_the_records_a_question_may_see(data, tmp_path, exclude_case, chance):
    rows = [image_question("atlas-0", data / "atlas" / "images" / "A-0.png", ATLAS_GOLD)]
    items, _ = load_items(write_rows(tmp_path / "atlas.jsonl", rows), 10_000_000)
    with open_index(data, "cases") as index:
        assert QABench(index, LosesOnSecond(), exclude_case=exclude_case).hit_chances(items) == {
            "atlas-0": pytest.approx(chance)
        }


def test_tiles_have_a_high_chance_of_evidence_hit_in_the_chance_row_json_and_groups(data):
    """On the index of both folders (21 records): two text questions naming a tile diagnosis, 3 tiles of it
    (1 - C(18,5)/C(21,5)), beside one of a granuloma case, one record of it (1 - C(20,5)/C(21,5))."""
    rows = [
        {"id": f"tiles-{n}", "question": "Which tile?", "options": ["adenocarcinoma", "squamous"], "answer": "A"}
        | {"gold": {"diagnosis": "adenocarcinoma"}}
        for n in range(2)
    ]
    gold = {"case": "G0", "diagnosis": "granuloma"}
    rows.append({"id": "atlas-0", "question": "Which slide?", "options": ["x", "y"], "answer": "A", "gold": gold})
    questions = write_rows(data / "chance.jsonl", rows)
    out = data / "chance"
    result = run_cli(
        "bench", "qa", "--questions", questions, "--index", data / "both-index", "--modes", "no-rag,rag",
        "--answerer", f"{HERE}.LosesOnSecond", "--out", out, "--json", out / "qa.json", home=data / "home",
        COLUMNS="400",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "qa.json").read_text())
    tile, case, both = 1 - 8568 / 20349, 1 - 15504 / 20349, (2 * (1 - 8568 / 20349) + 1 - 15504 / 20349) / 3
    assert document["chance"] == {"n": 3, "accuracy": 0.5, "evidence_recall@5": pytest.approx(both), "evidence_n": 3}
    by_group = document["chance_by_group"]
    assert by_group["tiles"]["evidence_recall@5"] == pytest.approx(tile)
    assert by_group["granuloma"]["evidence_recall@5"] == pytest.approx(case)
    lines = result.output.splitlines()
    header, chance_row = (next(line for line in lines if line.startswith(start)) for start in ("┃ mode ", "│ chance "))
    shown = dict(zip(header.split("┃")[2:-1], chance_row.split("│")[2:-1], strict=True))  # columns blank in all rows go
    assert {name.strip(): cell.strip() for name, cell in shown.items() if cell.strip()} == {
        "accuracy": "0.500",
        "evidence hit@5": f"{both:.3f}",
    }
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| chance |"))
    assert [cell.strip() for cell in row.split("|")[2:9]] == ["0.500", "", "", "", "", "", f"{both:.3f}"]
    rag = document["modes"]["rag"]["by_group"]
    evidence = report.split("## Evidence hit@5 by group", 1)[1]
    assert f"| tiles | 2 | {rag['tiles']['evidence_recall@5']:.2f} | {tile:.2f} |" in evidence
    assert f"| granuloma | 1 | {rag['granuloma']['evidence_recall@5']:.2f} | {case:.2f} |" in evidence
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("┃ group "))
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "group", "n", "no-rag", "rag", "chance", "hit@5 rag", "hit@5 chance",
    ]  # fmt: skip
    shown = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.startswith("│ tiles ")]
    assert shown == [["tiles", "2", "1.00", "1.00", "0.50", f"{rag['tiles']['evidence_recall@5']:.2f}", f"{tile:.2f}"]]
