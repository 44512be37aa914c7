"""``bench retrieval --runs`` writes the image tasks' qrels and runs too (caption to figure and back, image to same case
and same diagnosis), which ranx reads back into the figures the JSON reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from pathatlas import tesseract
from pathatlas.retrieval.bench.images import ImageSet
from pathatlas.retrieval.bench.trec import write_trec
from pathatlas.retrieval.datasets import ImageItem
from tests.helpers import run_cli
from tests.indexer.test_incremental_cases import ENCODER, PixelEncoder
from tests.retrieval.test_joint import write_shared_layout

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

CUTOFFS = (1, 5, 10)


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory) -> tuple[dict, Path]:
    """``bench retrieval --figures --cases A --cases B --split all --runs`` on 12 drawn images with the pixel encoder
    (two image spaces, so fused rows too); case file B sits in a folder named with a space. Where tesseract is
    installed, figure and query OCR are on and one figure of each pattern shows its caption's first word, so BM25 ranks
    some images and no caption for the others. (JSON, runs folder)."""
    root = tmp_path_factory.mktemp("bench-runs-images")
    data = write_shared_layout(root / "data", per_pattern=3)
    shutil.copytree(data / "atlas", data / "atlas two")
    figures = data / "openstax_ap2e" / "figures.jsonl"
    for row in map(json.loads, figures.read_text().splitlines()):
        if row["image"].endswith("-0.jpg"):
            stamp(figures.parent / row["image"], row["caption"].split()[0])
    cases = [data / folder / "cases.jsonl" for folder in ("atlas", "atlas two")]
    args = ["bench", "retrieval", "--figures", figures, "--cases", cases[0], "--cases", cases[1], "--split", "all"]
    ocr = "1" if tesseract.installed() else "0"
    result = run_cli(
        *args,
        *("--runs", root / "runs", "--json", root / "out.json"),
        home=root / "home",
        PATHATLAS_ENCODER=ENCODER,
        PATHATLAS_FIGURE_OCR=ocr,
        PATHATLAS_QUERY_OCR=ocr,
    )
    assert result.exit_code == 0, result.output
    return json.loads((root / "out.json").read_text()), root / "runs"


def stamp(path: Path, word: str) -> None:
    """The image with ``word`` printed large on a white band at its top (tesseract reads it)."""
    image = Image.open(path).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 40), fill="white")
    draw.text((4, 4), word, fill="black", font=ImageFont.load_default(size=28))
    image.save(path)


def ranx_figures(qrels_file: Path, run_file: Path) -> dict[str, float]:
    """Our figures as ranx computes them: our recall@k is its hit_rate@k, precision@10 and MRR (every rank) alike."""
    from ranx import Qrels, Run, evaluate

    ours = {f"hit_rate@{k}": f"recall@{k}" for k in CUTOFFS} | {"mrr": "mrr", "precision@10": "precision@10"}
    qrels, run = Qrels.from_file(str(qrels_file), kind="trec"), Run.from_file(str(run_file), kind="trec")
    figures = evaluate(qrels, run, list(ours), make_comparable=True)  # a BM25 run may rank nothing for a query
    return {ours[metric]: value for metric, value in figures.items()}


def test_each_image_task_and_method_has_a_run_ranx_scores_as_the_json_does(image_runs):
    result, runs = image_runs
    tasks = result["tasks"]
    assert {"text_to_image", "image_to_text", "image_to_image_case:atlas", "image_to_image_case:atlas two"} <= set(
        tasks
    )
    assert sorted(path for body in tasks.values() for path in body["runs"]) == sorted(map(str, runs.iterdir()))
    for task, body in tasks.items():
        stem = task.replace(":", ".").replace(" ", "%20")
        scored = [method for method in body["methods"] if method != "chance"]  # chance is drawn at random: no run
        if task.startswith("image_to_image"):  # spaces, their fusions, the plain baseline
            assert {"visual", "visual+joint", "plain-knn"} <= set(scored)
        elif tesseract.installed():  # the caption tasks' BM25 over printed words, alone and fused
            assert {"joint", "ocr-bm25", "joint+ocr-bm25"} <= set(scored)
        assert sorted(body["runs"]) == sorted(
            str(runs / name) for name in [f"qrels.{stem}.txt", *(f"{stem}.{method}.trec" for method in scored)]
        )
        for method in scored:
            run = runs / f"{stem}.{method}.trec"
            if not run.stat().st_size:  # ranked nothing for any query (no printed word read): ranx loads no empty run
                assert not any(body["methods"][method][key] for key in ("recall@10", "mrr")), (task, method)
                continue
            figures = ranx_figures(runs / f"qrels.{stem}.txt", run)
            reported = {key: value for key, value in body["methods"][method].items() if key in figures}
            assert reported == pytest.approx({key: figures[key] for key in reported}), (task, method)
            assert "precision@10" in reported or not task.startswith("image_to_image")


def test_image_to_image_runs_leave_out_the_query_and_rank_every_other_image(image_runs):
    """As the bench scores them: the query image is neither relevant to itself nor ranked for itself, and one space
    (or plain kNN) ranks every other image of the file, each line a valid TREC line (six tokens, no spaces)."""
    _, runs = image_runs
    qrels = [line.split() for line in (runs / "qrels.image_to_image_case.atlas.txt").read_text().splitlines()]
    assert qrels and all(len(row) == 4 and row[0] != row[2] for row in qrels)
    assert {row[0] for row in qrels} <= {row[2] for row in qrels}  # a query is in a case of two
    for method in ("visual", "plain-knn"):
        lines = [line.split() for line in (runs / f"image_to_image_case.atlas.{method}.trec").read_text().splitlines()]
        assert all(len(row) == 6 and row[0] != row[2] and row[5] == method for row in lines)
        per_query = {query: [row[2] for row in lines if row[0] == query] for query in {row[0] for row in qrels}}
        assert all(len(ranked) == len(set(ranked)) == 11 for ranked in per_query.values())  # 12 images less itself


def test_task_files_are_named_by_task_and_method_in_trec_tokens(tmp_path):
    written = write_trec(
        tmp_path, ["a b"], [{"x y"}], {"visual+joint": [["x y", "z"]], "my space": [["z"]]}, task="t:f g"
    )
    assert sorted(p.name for p in written) == [
        "qrels.t.f%20g.txt",
        "t.f%20g.my%20space.trec",
        "t.f%20g.visual+joint.trec",
    ]
    assert (tmp_path / "qrels.t.f%20g.txt").read_text() == "a%20b 0 x%20y 1\n"
    assert (tmp_path / "t.f%20g.my%20space.trec").read_text() == "a%20b Q0 z 1 1 my%20space\n"


def test_each_image_has_its_own_id_below_the_shared_folder_even_listed_twice(tmp_path, fast):
    for folder in ("a", "b c"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / folder / "x.jpg")
    paths = [tmp_path / "a" / "x.jpg", tmp_path / "b c" / "x.jpg", tmp_path / "a" / "x.jpg"]
    items = [ImageItem(path, ["t"], "g") for path in paths]
    images = ImageSet(items, PixelEncoder(fast), fast, "val")
    assert images.ids == ["a/x.jpg@1", "b c/x.jpg", "a/x.jpg@3"]


def test_two_figures_files_each_give_their_own_tasks_and_runs(tmp_path):
    data = write_shared_layout(tmp_path / "data", per_pattern=2)
    shutil.copytree(data / "openstax_ap2e", data / "book two")
    figures = [data / folder / "figures.jsonl" for folder in ("openstax_ap2e", "book two")]
    args = ["bench", "retrieval", "--figures", figures[0], "--figures", figures[1], "--split", "all"]
    result = run_cli(*args, "--runs", tmp_path / "runs", "--json", tmp_path / "out.json", home=tmp_path / "home",
                     PATHATLAS_ENCODER=ENCODER, PATHATLAS_FIGURE_OCR="0", PATHATLAS_QUERY_OCR="0")  # fmt: skip
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "out.json").read_text())["tasks"]
    names = {
        f"{direction}:{folder}"
        for direction in ("text_to_image", "image_to_text")
        for folder in ("openstax_ap2e", "book two")
    }
    assert set(tasks) == names
    written = [path for body in tasks.values() for path in body["runs"]]
    assert len(set(written)) == len(written)  # no task's files overwrite another's
