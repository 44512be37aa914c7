"""Question files' options as researchers write them: numbers are options' texts at both benches, and a row whose
options cannot be read names its file and row (``bench retrieval --mcq`` stopped on "options must be a list of texts"
naming neither, or with a traceback for numbers)."""

from __future__ import annotations

import json

import pytest

from pathatlas.agent.bench.items import load_items
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import read_mcq

GOLD = {"book": "book.pdf", "pdf_pages": [1, 1]}


def question_file(path, *rows):
    path.write_text("".join(json.dumps({"id": f"q{n}", "gold": GOLD, **row}) + "\n" for n, row in enumerate(rows)))
    return path


def test_numbers_are_options_at_both_benches(tmp_path):
    path = question_file(tmp_path / "q.jsonl", {"question": "How many bones?", "options": [206, 212.5], "answer": "A"})
    assert read_mcq(path)[0].options == ["206", "212.5"]
    items, failures = load_items(path, 10_000_000)
    assert failures == [] and items[0].question.options == ["206", "212.5"]


@pytest.mark.parametrize("options", ["femur; tibia", [True, False], [None, "b"], [["a"], "b"]])
def test_a_row_whose_options_cannot_be_read_names_its_file_and_row(options, tmp_path):
    path = question_file(
        tmp_path / "q.jsonl", {"question": "Which?", "options": ["a", "b"]}, {"question": "Which?", "options": options}
    )
    with pytest.raises(
        BadInputError, match=rf"^{tmp_path / 'q.jsonl'} row 2: (options must be a list|an option must be text)"
    ):
        read_mcq(path)
