"""``bench qa --open-from-mcq``: a multiple-choice stem is asked open only where a student could answer it without the
options, scored against its right option's text; the run says how many it kept and what it asked."""

from __future__ import annotations

import json

import pytest

from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.open_questions import open_from_mcq, open_items
from pathatlas.agent.bench.plot import run_settings
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import read_jsonl
from tests.conftest import shared_data
from tests.helpers import only_error_line, run_cli

TISSUES = ["organ", "organelle", "organism", "organ system"]

ANSWERABLE = {
    "id": "organ",
    "question": "A collection of similar tissues that performs a specific function is an ________.",
    "options": TISSUES,
    "answer": "A",
}

NEED_OPTIONS = {
    "following": "Which of the following is a collection of similar tissues?",
    "except": "All are collections of tissues EXCEPT a(n) ________.",
    "negated": "Which is not a collection of tissues?",
    "judged": "Which statement about tissues is true?",
    "subject-only": "The ankle joint ________.",
}
"""Stems that ask about their options, or name only a subject: each asks nothing without them."""


def mcq(row_id: str, question: str, options=TISSUES, answer: str = "A") -> dict:
    return {"id": row_id, "question": question, "options": options, "answer": answer}


def items_of(tmp_path, rows, open_questions=False):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(map(json.dumps, rows)))
    return load_items(path, 10_000_000, open_questions)[0]


def test_an_answerable_stem_is_asked_as_open_asks_it(tmp_path):
    """Alike to the row asked --open: no options, the right option's text the gold, the same fingerprint and group."""
    [item] = items_of(tmp_path, [ANSWERABLE])
    [asked_open] = items_of(tmp_path, [ANSWERABLE], open_questions=True)
    opened = open_from_mcq(item)
    assert (opened.kind, opened.question.options, opened.gold_answer) == ("open", [], "organ")
    assert opened == asked_open


def test_labelled_options_keyed_by_letter_give_the_right_options_text(tmp_path):
    row = mcq("keyed", "The smallest functioning unit of life is a(n) ________.", answer="(B)")
    row["options"] = {"A": "A. tissue", "B": "B. cell", "C": "C. organ"}
    [item] = items_of(tmp_path, [row])
    assert open_from_mcq(item).gold_answer == "cell"


@pytest.mark.parametrize("name", NEED_OPTIONS)
def test_a_stem_that_needs_its_options_is_left_out(tmp_path, name):
    [item] = items_of(tmp_path, [mcq(name, NEED_OPTIONS[name])])
    assert open_from_mcq(item) is None


@pytest.mark.parametrize(
    "options",
    [
        ["organ", "tissue", "all of the above"],
        ["organ", "tissue", "both A and B"],
        ["organ", "tissue", "neither"],
        ["I and II", "II and III", "I, II and III"],
        ["a group of similar tissues working together for one function in the body", "tissue"],
        ["True", "False"],
        ["Yes", "No"],
    ],
    ids=["all-of-the-above", "both", "neither", "numbered-statements", "long-answer", "true-false", "yes-no"],
)
def test_options_that_mean_others_or_a_statement_for_an_answer_are_left_out(tmp_path, options):
    [item] = items_of(tmp_path, [mcq("x", ANSWERABLE["question"], options)])
    assert open_from_mcq(item) is None


def test_a_subject_of_its_own_before_a_closing_blank_is_answerable(tmp_path):
    [item] = items_of(tmp_path, [mcq("x", "The smallest independently functioning biological unit is a(n) ________.")])
    assert open_from_mcq(item).kind == "open"


def test_yes_no_and_open_rows_are_kept_as_filed(tmp_path):
    rows = [
        {"id": "yes-no", "question": "Is an organ made of tissues?", "answer": "yes"},
        {"id": "open", "question": "What lines the alveoli?", "answer": "type I pneumocytes"},
    ]
    items = items_of(tmp_path, rows)
    assert [open_from_mcq(item) for item in items] == items


def test_the_note_counts_the_kept_questions_and_a_file_with_none_is_refused(tmp_path):
    open_row = {"id": "open", "question": "What lines the alveoli?", "answer": "type I pneumocytes"}
    rows = [ANSWERABLE, mcq("which", NEED_OPTIONS["following"]), open_row]
    kept, note = open_items(items_of(tmp_path, rows), tmp_path / "q.jsonl")
    assert [i.id for i in kept] == ["organ", "open"]
    assert note == "--open-from-mcq: 1 of 2 multiple-choice questions asked open; the rest need their options"
    with pytest.raises(BadInputError, match="none of its 1 multiple-choice questions"):
        open_items(items_of(tmp_path, [mcq("which", NEED_OPTIONS["following"])]), tmp_path / "q.jsonl")
    with pytest.raises(BadInputError, match="has no multiple-choice questions"):
        open_items(items_of(tmp_path, [rows[2]]), tmp_path / "q.jsonl")


def test_the_dev_questions_give_the_measured_open_set():
    """The 195 stems whose open token recall was measured (rag 0.338, agentic 0.332 held out, README)."""
    path = shared_data("openstax_ap2e/mcq_dev.jsonl")
    rows = {row["id"]: row for row in read_jsonl(path)}
    kept, note = open_items(load_items(path, 10_000_000)[0], path)
    assert note.startswith("--open-from-mcq: 195 of 347 ")
    assert all(item.gold_answer == rows[item.id]["options"]["ABCD".index(rows[item.id]["answer"])] for item in kept)
    assert "ap2e-m45983-q1" not in {item.id for item in kept}, "'Which of the following specialties...'"


def test_bench_qa_asks_the_answerable_stems_open_and_says_so(quick_index, tmp_path):
    cells = ["koilocytes", "goblet cells"]
    rows = [
        mcq("halo", "Cells with a clear perinuclear halo in HPV infection are ________.", cells),
        mcq("which", "Which of the following shows a perinuclear halo?", cells),
    ]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(map(json.dumps, rows)))
    args = ["bench", "qa", "--questions", questions, "--index", quick_index.path, "--modes", "rag", "--open-from-mcq"]
    result = run_cli(*args, "--out", tmp_path / "qa", "--json", tmp_path / "qa.json", home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "qa.json").read_text())
    assert [(r["id"], r["gold"]) for r in run["items"]] == [("halo", "koilocytes")]
    assert run["run"]["open_from_mcq"] and "token recall" in result.output
    assert "1 of 2 multiple-choice questions asked open" in " ".join(result.output.split())
    assert run_settings(run).endswith("--open-from-mcq")
    only_error_line(run_cli(*args, "--open", home=tmp_path / "home"), "--open and --open-from-mcq")
