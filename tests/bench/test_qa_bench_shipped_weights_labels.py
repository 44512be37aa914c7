"""``bench qa`` / ``compare-qa`` review findings: with --folds the held-out figures lead and the shipped weights' rows
say so (in-sample on the A&P dev questions alone); compare-qa says its settled split is of shipped-weight answers,
names the modes only one run has, and records what ran; the help shows the defaults of --rounds and --answerer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathatlas.settings import Settings
from pathatlas.ui.bench_crash import WORDS, make_pdf
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def folded_qa(tmp_path_factory) -> tuple[Path, str]:
    """``bench qa --folds 2`` (no-rag and rag) over six questions of two chapters, hashing encoder: (its folder, the
    command's output)."""
    root = tmp_path_factory.mktemp("review-bench-qa")
    book = make_pdf(root / "lib" / "book.pdf", 6, "v1")
    assert run_cli("index", book, "--index", root / "idx", home=root / "home").exit_code == 0
    rows = [
        {
            "id": f"q{n}",
            "question": f"Which word is printed beside {WORDS[n]}?",
            "options": [WORDS[(n + 1) % len(WORDS)], WORDS[(n + 4) % len(WORDS)]],
            "answer": "A",
            "gold": {"pdf_pages": [n + 1, n + 1]},
            "chapter": "one" if n % 2 else "two",
        }
        for n in range(6)
    ]
    (root / "q.jsonl").write_text("\n".join(map(json.dumps, rows)))
    args = ["bench", "qa", "--questions", root / "q.jsonl", "--index", root / "idx", "--folds", 2]
    out = ["--modes", "no-rag,rag", "--out", root / "qa", "--json", root / "qa.json"]
    result = run_cli(*args, *out, home=root / "home")
    assert result.exit_code == 0, result.output
    return root, result.output


def test_held_out_rows_lead_and_shipped_weights_rows_say_so(folded_qa):
    root, output = folded_qa
    result = json.loads((root / "qa.json").read_text())
    assert all(len(m["held_out"]["ci95"]) == 2 for m in result["modes"].values())
    labels = ["no-rag, held out", "rag, held out", "no-rag, shipped weights", "rag, shipped weights"]
    places = [output.index(label) for label in labels]
    assert places == sorted(places), output
    report = (root / "qa" / "report.md").read_text()
    table = [
        line.split(" | ")[0] for line in report.splitlines() if line.startswith("| no-rag") or line.startswith("| rag")
    ]
    assert table[:4] == [f"| {label}" for label in labels]
    held = result["modes"]["rag"]["held_out"]
    assert f"| rag, held out | {held['accuracy']:.3f} | {held['ci95'][0]:.3f}-{held['ci95'][1]:.3f} |" in report
    assert "shipped weights (fitted on the A&P dev questions): the weights the run answered with" in report


def test_compare_qa_labels_the_settled_split_and_names_modes_only_one_run_has(folded_qa):
    root, _ = folded_qa
    before = root / "qa.json"
    rag_only = json.loads(before.read_text())
    del rag_only["modes"]["no-rag"]
    rag_only["items"] = [item for item in rag_only["items"] if item.get("mode") != "no-rag"]
    after = root / "rag-only.json"
    after.write_text(json.dumps(rag_only))
    result = run_cli("bench", "compare-qa", before, after, "--json", root / "cmp.json", COLUMNS="300")
    assert result.exit_code == 0, result.output
    assert f"no-rag: only in {before}, not compared" in " ".join(result.output.split())
    assert "settled before (shipped weights)" in result.output  # the compared answers are held out
    document = json.loads((root / "cmp.json").read_text())
    assert document["only_in"] == {"no-rag": "before"} and list(document["modes"]) == ["rag"]
    assert document["modes"]["rag"]["answers"] == "held out"
    assert document["modes"]["rag"]["settled"]["answers"] == "shipped weights"
    run = document["run"]
    assert run["before"] == str(before.resolve()) and len(run["after_sha256"]) == 64 and "date" in run


def test_help_shows_the_defaults_of_rounds_and_answerer():
    shown = " ".join(run_cli("bench", "qa", "--help", COLUMNS="300").output.split())
    rounds, answerer = Settings.model_fields["agent_rounds"].default, Settings.model_fields["answerer"].default
    assert f"PATHATLAS_AGENT_ROUNDS, else {rounds}" in shown
    assert f"PATHATLAS_ANSWERER, else {answerer}" in shown
