"""Question files read into the items the bench asks: a bad row is a failure, a bad file is refused."""

from __future__ import annotations

import dataclasses
import random
import string
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image

from pathatlas.agent.evidence import placed_options
from pathatlas.agent.questions import ANY_LABEL, LETTERS, Question, answer_letter, letter_index, unlabelled
from pathatlas.agent.tune import question_fingerprint
from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.retrieval.datasets import check_gold, read_options, read_questions
from pathatlas.retrieval.images import open_image

MODES = ("no-rag", "rag", "agentic")
"""The modes a question is asked in: without retrieval, with one search, with the agentic loop."""

YES_NO = {"yes", "no"}


@dataclasses.dataclass
class Item:
    id: str
    question: Question
    kind: str
    """mcq, yesno or open."""
    gold_answer: str
    gold: dict[str, Any]
    group: str
    image_path: Path | None = None
    row: int = 0
    """The question's line among the file's rows (1-based), as failures name it."""
    filed_order: list[int] | None = None
    """The file's index of each option as asked (``shuffle_options``); None when asked in the file's order."""
    fingerprint: str = ""
    """``tune.question_fingerprint`` of the question as filed (its options too where ``--open`` asks it without
    them): how the shipped weights' fitting questions (``tune.FITTED_ON``) are known."""


def shuffle_options(item: Item, seed: int) -> Item:
    """The multiple-choice item with its options in a fixed random order (one per seed and question id) and its
    gold letter following its option. An option that means the others ("all of the above") keeps its place, as do
    the options it names by place ("Both A and B": A and B; ``placed_options``). Other kinds are returned as they are
    (yes/no keep yes, no)."""
    if item.kind != "mcq":
        return item
    options = item.question.options
    placed = placed_options(item.question.text, options)
    movable = [j for j in range(len(options)) if j not in placed]
    order = list(range(len(options)))
    for place, j in zip(movable, random.Random(f"{seed}:{item.id}").sample(movable, len(movable)), strict=True):
        order[place] = j
    gold = LETTERS[order.index(letter_index(item.gold_answer, len(options)))]
    question = dataclasses.replace(item.question, options=[options[j] for j in order])
    return dataclasses.replace(item, question=question, gold_answer=gold, filed_order=order)


def as_filed(item: Item, letter: str) -> str:
    """An answer letter of the item as asked, as the question file letters that option: runs over the same file
    with and without ``shuffle_options`` record comparable answers and golds."""
    if item.filed_order is None or not letter:
        return letter
    return LETTERS[item.filed_order[letter_index(letter, len(item.filed_order))]]


QUESTION_KEYS = ("id", "question", "options", "answer", "image", "gold", "chapter")
"""The fields ``load_items`` reads; a file none of whose rows can be asked is refused naming its other keys."""

SHIPPED_KEYS = ("chapter_index", "has_image")
"""Keys the shipped question files (``mcq_dev.jsonl``, ``image_mcq_dev.jsonl``) carry beside ``QUESTION_KEYS``,
unread (the chapter's number, whether the row has an image): no sign of a file in another schema, so never named as
unknown."""

QUESTION_LINE = "a line: {question, options, answer}, options left out for open and yes/no questions"
"""What a question file's line holds, as a file without one is told, in the shape ``bench retrieval --mcq`` tells it
of its own lines ("has no questions with gold pdf_pages (gold: {book, pdf_pages})")."""


def yes_no(text: str) -> str | None:
    """ "yes" or "no" when the text is that word alone or followed by punctuation ("Yes.", "no, it is not"), else
    None: a gold written so is still a yes/no question, and an answer saying "Yes, ..." says yes; "No mitoses are
    seen" is an open answer."""
    words = text.split()
    first = words[0].lower() if words else ""
    said = first.rstrip(string.punctuation)
    return said if said in YES_NO and (len(words) == 1 or first != said) else None


def answer_key(answer: Any) -> Any:
    """A row's ``answer`` as ``answer_letter`` reads it: an option's letter with a label's marks ("D.", "(C)", "C)") as
    the letter, as answer keys write them and as an option's own label is read (``questions.ANY_LABEL``, which a key
    is without the option's text); any other answer as given."""
    if not isinstance(answer, str):
        return answer
    text = answer.strip()
    label = ANY_LABEL.match(f"{text} x")  # a label stands before an option's text: a key leaves that out
    return label[2] if label and label.end() == len(text) + 1 and label[2].upper() in LETTERS else answer


def row_answer(row: dict[str, Any], options: list[str], open_questions: bool) -> tuple[str, str, list[str]]:
    """A row's kind (mcq, yesno or open), gold answer (an option's letter, "yes" or "no", or text) and options as
    asked (``load_items``). Refused in one line: a row without an answer, naming its keys (asked as an open question it
    would score 0), and an option's letter without options (it would be asked as an open question scored against
    "C")."""
    given = answer_key(row.get("answer"))  # as written: 0 is a number to refuse, not "no answer"
    answer = "" if given is None else str(given).strip()
    if not answer:
        raise BadInputError(f"no answer to score against; the row's keys: {', '.join(map(str, row))}")
    if options:
        letter = answer_letter(given, options)
        return ("open", str(options[LETTERS.index(letter)]), []) if open_questions else ("mcq", letter, options)
    if len(answer) == 1 and answer.upper() in LETTERS:
        raise BadInputError(
            f"answer {row['answer']!r} is a letter but the row has no options; give them, or the answer in words"
        )
    if said := yes_no(answer):
        return "yesno", said, ["yes", "no"]
    return "open", answer, options


def load_items(
    path: Path, max_pixels: int, open_questions: bool = False, limit: int | None = None
) -> tuple[list[Item], list[dict[str, Any]]]:
    """Valid items, and one failure record (``row``, ``id``, ``error``) per row that cannot be asked, of the file's
    first ``limit`` rows (all without one): a bad row past the limit is no failure of the run. ``open_questions``: a
    multiple-choice row is asked without its options, its right option the answer text (a student types the
    question alone). Each item's group is ``question_group``'s.

    Options may be a list or an object keyed by letters, their labels in order ("A. cell", "B. organ") dropped as the
    CLI drops them (``questions.unlabelled``: answers and fingerprints may not depend on them), the answer a letter in
    either case, with a label's marks or not ("C", "c", "(C)", "D."), or the right option's text (``row_answer``); the
    item keeps the letter. A row without an answer, or with a letter for an answer and no options, fails. A
    file without one question to ask (then naming the keys it has that are not ``QUESTION_KEYS``), a CSV file, a
    line that is not a JSON object, an unusable ``gold`` or an id on two rows is refused in one line: that is the
    file's mistake, not a question's, and a run over it would report zeros (or pair two questions' answers as
    one's)."""
    items, failures = [], []
    rows = read_questions(path)[:limit]
    if not rows:
        raise BadInputError(f"{path} has no questions ({QUESTION_LINE})")
    prefixes = shared_prefixes(rows)
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise BadInputError(f"{path} row {number} is not a JSON object")
        check_gold(row.get("gold") or {}, f"{path} row {number}")
        row_id = str(row.get("id", f"row{number}"))
        if (first := first_row.setdefault(row_id, number)) != number:
            raise BadInputError(f"{path}: rows {first} and {number} share the id {row_id!r}; give each its own")
        try:
            options = unlabelled(read_options(row.get("options")))
            fingerprint = question_fingerprint(str(row.get("question") or ""), options)
            kind, answer, options = row_answer(row, options, open_questions)
            image_path, image = question_image(path, row["image"], max_pixels) if row.get("image") else (None, None)
            question = Question(str(row.get("question") or ""), options, image, row_id)
            question.validate()
        except (PathAtlasError, KeyError, TypeError) as exc:
            failures.append({"row": number, "id": row_id, "error": str(exc)})
            continue
        group = question_group(row, row_id, prefixes)
        gold = row.get("gold") or {}
        items.append(Item(row_id, question, kind, answer, gold, group, image_path, number, fingerprint=fingerprint))
    if not items:
        raise BadInputError(f"{path}: {unusable_file(rows, failures)}")
    return items, failures


def question_image(path: Path, named: str, max_pixels: int) -> tuple[Path, Image.Image]:
    """A row's image path (its ``image``, ``named``, read from the folder of the question file ``path``) and the image,
    opened as a query is. Where a relative path names no file, the error names the folder it was read from: "cannot
    read image atlas/images/BS1-HE1.jpg" did not say that this is the file's folder, not the working one."""
    image_path = path.parent / named
    try:
        return image_path, open_image(image_path, max_pixels, query=True)
    except BadInputError as exc:
        if Path(named).is_absolute() or image_path.exists():
            raise
        folder = path.parent.resolve()
        raise BadInputError(f"{exc} (a relative image path is read from the question file's folder, {folder})") from exc


GROUP_FIELDS = ("module", "organ")
"""Fields of a question's ``gold`` that name its group where it gives no ``chapter``, in order."""

ONE_GROUP = "all"
"""The group of questions with nothing to group them by."""


def id_prefix(row_id: str) -> str | None:
    """What an id names before its first "-" (a dataset: ``atlas-BS1-HE1``); None without one."""
    prefix, dash, _ = row_id.partition("-")
    return prefix if dash and prefix else None


def shared_prefixes(rows: list[Any]) -> set[str]:
    """The id prefixes (``id_prefix``) that two rows or more share: a prefix of one row groups nothing."""
    counts = Counter(id_prefix(str(row.get("id", ""))) for row in rows if isinstance(row, dict))
    return {prefix for prefix, n in counts.items() if prefix and n > 1}


def question_group(row: dict[str, Any], row_id: str, prefixes: set[str]) -> str:
    """The group a question is scored under (by group, and the chapter folds): its ``chapter``, else its gold's module
    or organ (``GROUP_FIELDS``), else its id's prefix where others share it (``atlas-``, ``lc25000-``: the shared
    image questions' datasets), else its gold diagnosis, else ``ONE_GROUP``: never a group of its own, which would list
    the by-group table question by question."""
    gold = row.get("gold") or {}
    prefix = id_prefix(row_id)
    shared = prefix if prefix in prefixes else None
    named = (row.get("chapter"), *(gold.get(name) for name in GROUP_FIELDS), shared, gold.get("diagnosis"))
    return str(next((value for value in named if value), ONE_GROUP))


def unusable_file(rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> str:
    """Why no row of a question file can be asked, in one line: the first row's error, and the keys its rows have
    that a question file does not (a dataset in another schema: ``qid``, ``choices``, ``answer_idx``; not the
    ``SHIPPED_KEYS``) beside the expected ones."""
    first = failures[0]
    reason = f"none of its {len(rows)} rows can be asked (row {first['row']}: {first['error']})"
    if unknown := sorted({str(key) for row in rows for key in row} - {*QUESTION_KEYS, *SHIPPED_KEYS}):
        reason += f"; unknown keys {', '.join(unknown)} (a question file's keys are {', '.join(QUESTION_KEYS)})"
    return reason
