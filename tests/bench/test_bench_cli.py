"""``pathatlas bench ... --json -``: one JSON document alone on stdout, tables and progress on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import run_cli

QUESTIONS = [("granuloma necrosis", 1, "one"), ("gland alveolus", 2, "two"), ("nucleus stroma", 3, "one")]


@pytest.fixture
def tiny(hashing_cli):
    """A three-page PDF; CLI runs are quick, in a working folder where a stray file '-' would land."""
    return make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1")


def json_alone(result) -> dict:
    """The document on stdout, which must hold nothing else (json.loads refuses anything around it)."""
    assert result.exit_code == 0, result.output
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON document: {result.stdout[:300]!r}")


def test_bench_index_json_to_stdout_and_to_a_file(tiny, tmp_path):
    result = run_cli("bench", "index", "--pdf", tiny, "--json", "-")
    document = json_alone(result)
    assert document["pages"] == 3 and {"seconds", "reindex_seconds", "stage_seconds"} <= set(document)
    assert document["figure_ocr"] is False and document["ocr_engine"] is None  # the suite pins OCR off
    assert "stage" in result.stderr and "wrote" not in result.stderr  # the tables moved to stderr
    assert not (tmp_path / "-").exists()

    result = run_cli("bench", "index", "--pdf", tiny, "--json", tmp_path / "out" / "index.json")
    assert result.exit_code == 0, result.output
    assert "stage" in result.stdout and f"wrote {tmp_path / 'out' / 'index.json'}" in " ".join(result.stdout.split())
    assert json.loads((tmp_path / "out" / "index.json").read_text())["pages"] == 3


@pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries
def test_bench_retrieval_json_to_stdout(tiny, tmp_path):
    assert run_cli("index", tiny.parent, "--index", tmp_path / "idx").exit_code == 0
    rows = [
        {"id": str(n), "question": q, "options": ["a", "b"], "answer": "A", "gold": {"pdf_pages": [p, p]}, "chapter": c}
        for n, (q, p, c) in enumerate(QUESTIONS)
    ]
    (tmp_path / "mcq.jsonl").write_text("\n".join(map(json.dumps, rows)))
    bench = ["bench", "retrieval", "--mcq", "mcq.jsonl", "--index", tmp_path / "idx", "--split", "all"]
    result = run_cli(*bench, "--json", "-")
    document = json_alone(result)
    task = document["tasks"]["text_to_page"]
    assert task["n"] == 3 and {"bm25", "hybrid", "chance"} <= set(task["methods"])
    assert "text_to_page, n=3" in result.stderr


def test_bench_crash_json_to_stdout_from_a_fresh_process(tmp_path):
    """A real process (the benchmark forks, so not inside pytest's): nothing a library or child writes to
    file descriptor 1 may reach stdout either."""
    done = subprocess.run(
        [sys.executable, "-c", "from pathatlas.ui.cli import app; app()"]
        + ["bench", "crash", "--trials", "1", "--stores", "faiss", "--json", "-"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (run_,) = json.loads(done.stdout)["runs"]
    assert run_["store"] == "faiss" and run_["trials"] == 1 and run_["inconsistent"] == 0
    assert "inconsistent" in done.stderr and not (tmp_path / "-").exists()


def test_the_help_says_where_the_json_goes():
    result = run_cli("bench", "search", "--help")
    assert "'-' prints the JSON alone on stdout" in " ".join(result.stdout.replace("│", " ").split())


def test_bench_queries_json_to_stdout(tiny, tmp_path):
    assert run_cli("index", tiny.parent, "--index", tmp_path / "idx").exit_code == 0
    (tmp_path / "queries.txt").write_text("granuloma\n\n  gland alveolus \n")
    document = json_alone(run_cli("bench", "queries", "--index", tmp_path / "idx", "--texts", tmp_path / "queries.txt",
                              "--repeats", "2", "--json", "-"))  # fmt: skip
    assert document["text"]["n"] == 2 and "image" not in document and document["keypoints"] is False
    missing = run_cli("bench", "queries", "--index", tmp_path / "idx", "--images", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no image or folder at" in missing.output
    (tmp_path / "empty.txt").write_text("\n")
    empty = run_cli("bench", "queries", "--index", tmp_path / "idx", "--texts", tmp_path / "empty.txt")
    assert empty.exit_code == 1 and "no queries" in empty.output
    (tmp_path / "binary.txt").write_bytes(b"\xf8\xff\x00 queries")
    binary = run_cli("bench", "queries", "--index", tmp_path / "idx", "--texts", tmp_path / "binary.txt")
    assert binary.exit_code == 1 and "is not UTF-8 text" in binary.output


def test_bench_compare_qa_json_to_stdout_and_one_line_refusals(tmp_path):
    def write(name: str, rag: dict[str, float], held_out: dict[str, float]) -> str:
        items = [{"id": i, "mode": "rag", "score": v, "settled": v == 1} for i, v in rag.items()]
        modes = {"rag": {"accuracy": 0.5, "held_out": {"correct": held_out}}}
        (tmp_path / name).write_text(json.dumps({"modes": modes, "items": items}))
        return str(tmp_path / name)

    before = write("a.json", {"q1": 1, "q2": 0}, {"q1": 0, "q2": 0, "q3": 0})
    after = write("b.json", {"q1": 1, "q2": 1}, {"q1": 1, "q2": 1, "q3": 1})
    result = run_cli("bench", "compare-qa", before, after, "--json", "-")
    document = json_alone(result)
    rag = document["modes"]["rag"]
    assert document["before"] == before and rag["answers"] == "held out"
    assert (rag["n"], rag["gained"], rag["lost"], rag["p"]) == (3, 3, 0, 0.25)
    assert "McNemar" in result.stderr and "0.25" in result.stderr  # the table went to stderr
    (tmp_path / "retrieval.json").write_text(json.dumps({"tasks": {}}))
    for args, message in [
        ((before, tmp_path / "retrieval.json"), "is not the JSON of 'pathatlas bench qa'"),
        ((before, tmp_path / "nope.json"), "no such file"),
    ]:
        refused = run_cli("bench", "compare-qa", *args)
        assert refused.exit_code == 1 and message in refused.output and "Traceback" not in refused.output


def test_bench_encode_json_to_stdout_and_one_line_refusals(hashing_cli, tmp_path):
    from PIL import Image

    (tmp_path / "images").mkdir()
    for n in range(2):
        Image.new("RGB", (64 + n, 48), (200, 40 * n, 90)).save(tmp_path / "images" / f"{n}.png")
    (tmp_path / "texts.txt").write_text("granuloma\n\n  gland alveolus \nkoilocytes\n")
    args = ("bench", "encode", "--texts", tmp_path / "texts.txt", "--images", tmp_path / "images")
    document = json_alone(run_cli(*args, "--json", "-"))
    assert document["texts"]["n"] == 3 and document["images"]["n"] == 2 and document["device"] == "cpu"
    assert document["images"]["per_s"] > 0 and document["images"]["open_per_s"] > 0
    assert document["encoder"] == HashingEncoder.name and document["prepare_threads"] >= 1
    assert json_alone(run_cli(*args, "--limit", "1", "--json", "-"))["texts"]["n"] == 1

    nothing = run_cli("bench", "encode")
    assert nothing.exit_code == 1 and "nothing to encode" in nothing.output
    (tmp_path / "images" / "notes.png").write_text("not an image")
    fake = run_cli(*args)
    assert fake.exit_code == 1 and "notes.png is not a readable image" in fake.output
