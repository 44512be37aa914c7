"""A researcher's own question files in the shapes datasets use: options as a letter-keyed object, the answer as
the option's text or a lowercase letter, a missing answer, ids on two rows, and ``--limit`` over a file with bad
rows further down."""

from __future__ import annotations

import json

import pytest

from pathatlas.agent.bench.items import load_items
from pathatlas.agent.questions import answer_letter
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import read_options

HALO = {
    "id": "halo",
    "question": "Which cells have a clear perinuclear halo in HPV infection of the cervix?",
    "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
    "answer": "B",
}


def write(tmp_path, *rows) -> object:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_options_keyed_by_letters_are_the_options_in_letter_order(tmp_path):
    keyed = {**HALO, "options": {"C": "Goblet cells", "a": "Langhans giant cells", "B": "Koilocytes"}}
    items, failures = load_items(write(tmp_path, keyed), 10_000_000)
    assert not failures and items[0].question.options == HALO["options"], "the texts, not the keys A, B, C"
    assert items[0].gold_answer == "B"
    gapped = {**HALO, "id": "gapped", "options": {"A": "Koilocytes", "C": "Goblet cells"}}
    _, failures = load_items(write(tmp_path, HALO, gapped), 10_000_000)
    assert failures == [{"row": 2, "id": "gapped", "error": "options keyed A, C: key them A, B, C... or give a list"}]


def test_the_answer_may_be_the_right_options_text_or_a_lowercase_letter(tmp_path):
    rows = [
        {**HALO, "id": "text", "answer": "  koilocytes "},
        {**HALO, "id": "lower", "answer": "b"},
        {**HALO, "id": "neither", "answer": "Plasma cells"},
        {**HALO, "id": "missing", "answer": None},
    ]
    items, failures = load_items(write(tmp_path, *rows), 10_000_000)
    assert [(i.id, i.gold_answer) for i in items] == [("text", "B"), ("lower", "B")], "kept as the letter"
    errors = {f["id"]: f["error"] for f in failures}
    assert errors == {
        "neither": "answer 'Plasma cells' is neither a letter (A, B, C) nor an option",
        "missing": "no answer to score against; the row's keys: id, question, options, answer",
    }
    opened, _ = load_items(write(tmp_path, rows[0]), 10_000_000, open_questions=True)
    assert opened[0].gold_answer == "Koilocytes" and opened[0].question.options == []


def test_a_string_of_options_is_refused_not_split_into_letters(tmp_path):
    _, failures = load_items(write(tmp_path, HALO, {**HALO, "id": "joined", "options": "a;b;c"}), 10_000_000)
    assert failures == [{"row": 2, "id": "joined", "error": "options must be a list of texts, not 'a;b;c'"}]


def test_an_id_on_two_rows_is_the_files_mistake(tmp_path):
    """Answers are paired by id (vs rag, held out, compare-qa): two questions under one id would count as one."""
    with pytest.raises(BadInputError, match=r"rows 1 and 3 share the id 'halo'; give each its own"):
        load_items(write(tmp_path, HALO, {**HALO, "id": "other"}, HALO), 10_000_000)


def test_limit_reads_the_first_rows_only(tmp_path):
    bad = {**HALO, "id": "bad", "answer": "E"}
    path = write(tmp_path, HALO, {**HALO, "id": "second"}, bad, bad | {"id": "bad2"})
    items, failures = load_items(path, 10_000_000, limit=2)
    assert [i.id for i in items] == ["halo", "second"] and failures == [], "rows past the limit are not failures"
    items, failures = load_items(path, 10_000_000, limit=3)
    assert [f["id"] for f in failures] == ["bad"]


def test_answers_read_as_written_numbers_refused_and_option_texts_that_are_digits(tmp_path):
    """A reviewer's finds: ``answer: 0`` was read as "no answer" (``or ""``); options "2" to "5" with answer "4" were
    refused as "not one of A-D" (a one-character answer was read as a letter first); options keyed "a" and "A" kept
    one of the two without a word."""
    assert answer_letter("4", ["2", "3", "4", "5"]) == "C" and answer_letter("b", ["x", "y"]) == "B"
    with pytest.raises(BadInputError, match="answer 0 is a number"):
        answer_letter(0, ["x", "y"])
    with pytest.raises(BadInputError, match="options keyed"):
        read_options({"a": "x", "A": "y", "B": "z"})
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "q", "question": "Which?", "options": ["x", "y"], "answer": 0}) + "\n")
    with pytest.raises(BadInputError, match="a number"):
        load_items(path, 10_000_000)
