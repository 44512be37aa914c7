"""A lecturer's question file and a reader's names: an option's letter given as the answer of a row without options
is refused (it was scored as an open question against "C"), answer keys written "D.", "(C)" or "C)" are that option,
a row without an answer names its keys whether it has options or not; an image named by its path is cited once; a
section filter may name a section by its last parts; a lone surrogate in a query is refused as what it is. Hashing
encoder and tiny files throughout."""

from __future__ import annotations

import json
from pathlib import Path

from pathatlas.agent.bench import load_items

CELLS = ["Osteoblast", "Osteocyte", "Osteoclast", "Chondrocyte"]
RESORB = {"id": "resorb", "question": "Which cell resorbs bone matrix?", "options": CELLS, "answer": "C"}


def asked(tmp_path: Path, *rows: dict) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """``rows`` as a question file, loaded: each item's (kind, gold answer) and each failed row's error, by id."""
    path = tmp_path / "quiz.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    items, failures = load_items(path, 10_000_000)
    return {i.id: (i.kind, i.gold_answer) for i in items}, {f["id"]: f["error"] for f in failures}


# 1. An option's letter without options ---------------------------------------------------------------------------


def test_a_letter_for_the_answer_of_a_row_without_options_fails_that_row_alone(tmp_path):
    rows = [RESORB, {**RESORB, "id": "lost", "options": []}, {**RESORB, "id": "keyed", "options": [], "answer": "(B)"}]
    rows += [{"id": "open", "question": "Which cell resorbs bone?", "answer": "Osteoclasts"}]
    rows += [{"id": "yesno", "question": "Do osteoclasts resorb bone?", "answer": "Yes."}]
    items, errors = asked(tmp_path, *rows)
    assert items == {"resorb": ("mcq", "C"), "open": ("open", "Osteoclasts"), "yesno": ("yesno", "yes")}
    assert errors == {
        "lost": "answer 'C' is a letter but the row has no options; give them, or the answer in words",
        "keyed": "answer '(B)' is a letter but the row has no options; give them, or the answer in words",
    }, "was an open question scored by token recall against 'C'"


# 2. Answer keys with a label's marks, and a row without an answer ---------------------------------------------------


def test_answer_keys_written_with_a_labels_marks_are_that_option(tmp_path):
    keys = {"dot": "D.", "brackets": "(C)", "closing": "C)", "lower": "c", "lower_dot": "b.", "colon": "A:"}
    items, errors = asked(tmp_path, *[{**RESORB, "id": name, "answer": key} for name, key in keys.items()])
    assert errors == {}
    assert items == {
        "dot": ("mcq", "D"),
        "brackets": ("mcq", "C"),
        "closing": ("mcq", "C"),
        "lower": ("mcq", "C"),
        "lower_dot": ("mcq", "B"),
        "colon": ("mcq", "A"),
    }


def test_keys_that_are_no_option_letter_are_still_refused(tmp_path):
    """A label's marks make no letter of a number (datasets count options from 0 or 1), nor of a letter past the
    options, and an option's text that opens with a genus's initial stays text."""
    rows = [{**RESORB, "id": "number", "answer": "(3)"}, {**RESORB, "id": "past", "answer": "E."}]
    rows += [{**RESORB, "id": "genus", "options": ["C. difficile", "S. aureus"], "answer": "S. aureus"}]
    items, errors = asked(tmp_path, *rows)
    assert items == {"genus": ("mcq", "B")}
    assert errors == {
        "number": "answer '(3)' is neither a letter (A, B, C, D) nor an option",
        "past": "answer 'E' is not one of A, B, C, D",
    }


def test_a_row_without_an_answer_fails_naming_its_keys_with_options_or_without(tmp_path):
    """README: "A row without an answer fails naming its keys"; one with options said "no answer: give the right
    option's letter"."""
    missing = {key: value for key, value in RESORB.items() if key != "answer"} | {"id": "missing"}
    rows = [RESORB, missing, {**RESORB, "id": "blank", "answer": " "}, {"id": "bare", "question": "Which cell?"}]
    _, errors = asked(tmp_path, *rows)
    assert errors == {
        "missing": "no answer to score against; the row's keys: id, question, options",
        "blank": "no answer to score against; the row's keys: id, question, options, answer",
        "bare": "no answer to score against; the row's keys: id, question",
    }
