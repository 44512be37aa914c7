"""QA benchmark: the same answerer without retrieval, with one search, and with the agentic loop.

Items come from MCQ / image-MCQ JSONL (``question``, ``options``, ``answer`` letter, optional ``image`` and
``gold``) or yes/no and open questions (``answer`` is text; scored by exact match and token recall). A bad row
is recorded as a failed item and the run goes on. Besides accuracy the report gives the accuracy on negated
questions (as the answerer read them with their evidence: ``evidence.read_with_evidence``), expected calibration
error with a reliability diagram, the paired bootstrap interval of each mode's difference from ``rag``, the LLM's
unusable replies, and (``folds``) the offline answerer's weights and open-answer confidence map refit on all but one
group of chapters and scored on the held-out one. Chance stands beside every mode, for accuracy and for evidence hit@5
(``hit_chance``), and a searching mode below no-rag or chance is marked (``mark_losses``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import re
import string
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pymupdf
from tqdm.auto import tqdm

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import normalise, placed_options, read_with_evidence
from pathatlas.agent.graph import Agent, evidence_from_hits
from pathatlas.agent.plan import with_options
from pathatlas.agent.questions import (
    ANY_LABEL,
    LETTERS,
    Answer,
    Evidence,
    Question,
    answer_letter,
    letter_index,
    unlabelled,
)
from pathatlas.agent.scoring import OptionSupport
from pathatlas.agent.tune import (
    FITTED_ON,
    OpenRow,
    Row,
    chapter_folds,
    cross_validate,
    cross_validate_open,
    expected_calibration_error,
    question_fingerprint,
)
from pathatlas.agent.writing import NAMING, annotate, evidence_naming
from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.plugins import require
from pathatlas.retrieval.bench.common import below_words, check_folds, on_gold_page
from pathatlas.retrieval.bench.pages import check_gold_sources
from pathatlas.retrieval.datasets import (
    METADATA_FILES,
    check_gold,
    near_duplicate_groups,
    own_case_ids,
    read_options,
    read_questions,
)
from pathatlas.retrieval.images import open_image
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import exact_mcnemar_p, mean_interval, percentile_ms, sign_tail, wilson
from pathatlas.retrieval.search import Query, Searcher

MODES = ("no-rag", "rag", "agentic")
YES_NO = {"yes", "no"}


def token_recall(prediction: str, gold: str) -> float:
    """The share of the right answer's words (lower-cased, with repeats) the answer says. An answer that quotes a
    sentence is long beside a few-word right answer, so F1's precision would mostly measure its length; recall is
    what judges of long answers agree with best (Adlakha et al. 2023, "Evaluating correctness and faithfulness of
    instruction-following models for question answering")."""
    pred, ref = re.findall(r"\w+", prediction.lower()), re.findall(r"\w+", gold.lower())
    return sum((Counter(pred) & Counter(ref)).values()) / len(ref) if ref else 0.0


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


def recorded_answer(item: Item, answer: Answer) -> str:
    """An answer as a result records it, in the gold's terms: an option's letter as the file letters it, "yes" or
    "no" for a yes/no question (its gold is the word: the letter "B" beside the gold "yes" read as another question's
    answer), else the answer's text."""
    if item.kind == "yesno":
        return yes_no(answer.text) or answer.text
    return as_filed(item, answer.letter) or answer.text


QUESTION_KEYS = ("id", "question", "options", "answer", "image", "gold", "chapter")
"""The fields ``load_items`` reads; a file none of whose rows can be asked is refused naming its other keys."""
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
    asked (``load_items``). Refused in one line: a row without an answer, naming its keys (it once ran as an open
    question scoring 0), and an option's letter without options (it ran as an open question scored against "C")."""
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
            image_path = path.parent / row["image"] if row.get("image") else None
            image = open_image(image_path, max_pixels, query=True) if image_path else None
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
    image questions' datasets), else its gold diagnosis, else ``ONE_GROUP``: never a group of its own, which listed
    the by-group table question by question."""
    gold = row.get("gold") or {}
    prefix = id_prefix(row_id)
    shared = prefix if prefix in prefixes else None
    named = (row.get("chapter"), *(gold.get(name) for name in GROUP_FIELDS), shared, gold.get("diagnosis"))
    return str(next((value for value in named if value), ONE_GROUP))


def unusable_file(rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> str:
    """Why no row of a question file can be asked, in one line: the first row's error, and the keys its rows have
    that a question file does not (a dataset in another schema: ``qid``, ``choices``, ``answer_idx``) beside the
    expected ones."""
    first = failures[0]
    reason = f"none of its {len(rows)} rows can be asked (row {first['row']}: {first['error']})"
    if unknown := sorted({str(key) for row in rows for key in row} - set(QUESTION_KEYS)):
        reason += f"; unknown keys {', '.join(unknown)} (a question file's keys are {', '.join(QUESTION_KEYS)})"
    return reason


def check_sources(items: list[Item], index: Index, path: Path, modes: Sequence[str] = MODES) -> None:
    """Refuse questions whose gold book or gold pages the index does not hold, as text to page does
    (``check_gold_sources``), and questions of cases none of whose golds it holds (``check_gold_cases``): their
    evidence hit@5 could only be 0. Not where no mode of ``modes`` searches: no-rag reads no evidence, so a run of it
    alone needs no gold in the index (every other mode searches: rag, agentic, and ``bench mcp``'s mcp)."""
    if not set(modes) - {"no-rag"}:
        return
    check_gold_sources(index, [(i.id, i.gold) for i in items], path)
    check_gold_cases(items, index, path)


def check_gold_cases(items: list[Item], index: Index, path: Path) -> None:
    """Refuse in one line questions whose gold names a case or diagnosis (``image_mcq_dev.jsonl``'s atlas slides and
    LC25000 tiles) when the index holds none of their cases and none of their diagnoses: an index of a book alone
    reported hit@5 0.000 and accuracy 0.000 as if measured. One found is enough: a file of atlas and tile questions
    runs on an index of both, or of either (the run notes the questions whose gold evidence it lacks:
    ``unfound_note``)."""
    named = [i for i in items if not i.gold.get("pdf_pages") and (i.gold.get("case") or i.gold.get("diagnosis"))]
    if not named:
        return
    cases = {str(case) for case in index.store.value_counts("case") if case}
    diagnoses = {str(d).lower() for d in index.store.value_counts("diagnosis") if d}
    if any(i.gold.get("case") in cases or str(i.gold.get("diagnosis")).lower() in diagnoses for i in named):
        return
    first = named[0]
    gold = ", ".join(f"{name} {first.gold[name]!r}" for name in ("case", "label", "diagnosis") if first.gold.get(name))
    held = f"its {len(cases)} cases are others" if cases else "it holds no case images"
    folders = case_folders([i.image_path for i in named if i.image_path])
    raise BadInputError(
        f"{path}: the index holds none of the gold cases and diagnoses of its {len(named)} questions that name one "
        f"(first {first.id!r}: {gold}); {held}, so their evidence hit@5 could only be 0: index the case folder their "
        f"images come from (pathatlas index {' '.join(map(str, folders)) or 'FOLDER'} --index {index.path})"
    )


def case_folders(images: list[Path]) -> list[Path]:
    """The case folders (a folder holding ``cases.jsonl`` or ``labels.csv``, the nearest above each image) these
    images come from, in order: what a refusal tells a user to index."""
    found = (
        next(
            (folder for folder in image.resolve().parents if any((folder / n).is_file() for n in METADATA_FILES)), None
        )
        for image in images
    )
    return list(dict.fromkeys(folder for folder in found if folder))


REFITS = {"mcq": "the text multiple-choice questions", "open": "the open questions"}
"""What per-fold refitting fits, by question kind: the option weights, the open-answer confidence map."""

REFITTED = {"mcq": "option weights", "open": "open-answer confidence map"}


def check_refit(answerer: type[Answerer], folds: int) -> None:
    """Refuse ``folds`` for an answerer with nothing to refit: only the offline answerer has weights and an
    open-answer confidence map (an LLM has no offline knobs; the folds would report nothing)."""
    if folds and not issubclass(answerer, OfflineAnswerer):
        raise BadInputError(
            f"--folds refits the offline answerer's option weights and open-answer confidence map; answerer "
            f"{getattr(answerer, 'name', answerer.__name__)!r} has neither"
        )


def one_chapter(mode: str, kind: str, groups: list[str]) -> str | None:
    """Why a kind's refit per fold is left out, in one line, when the questions it would fit on span one chapter
    (a fold would be fitted on none): those answered may be fewer than those asked (failed ones; open questions
    without a quoted sentence)."""
    if len(set(groups)) > 1:
        return None
    return (
        f"{mode}: {REFITTED[kind]} not refit per fold: {REFITS[kind]} it answered ({len(groups)}) span one chapter "
        f"({groups[0]!r}); folds need two"
    )


KIND_NAMES = {"mcq": "multiple-choice", "open": "open"}
"""A question kind as a note names it, image and text questions alike."""


def plan_refit(items: list[Item], folds: int) -> tuple[set[str], list[str]]:
    """The kinds (``REFITS``) to refit per chapter fold, and a note, in one line, for each kind asked whose text
    questions span fewer than two chapters: it is answered with the shipped weights, not refit (a fold would be fitted
    on nothing; image questions carry no chapter). Refused in one line when a kind's chapters are fewer than
    ``folds``: a fold would be missing. Nothing to plan without folds."""
    if folds < 2:
        return set(), []
    kinds, notes = set(), []
    for kind, what in REFITS.items():
        asked = [i for i in items if i.kind == kind]
        groups = [i.group for i in asked if i.question.image is None]
        if len(set(groups)) > 1:
            check_folds(groups, folds, what)
            kinds.add(kind)
        elif groups:
            notes.append(
                f"{REFITTED[kind]} not refit per fold: {what} ({len(groups)}) span one chapter ({groups[0]!r}); "
                "folds need two"
            )
        elif asked:
            notes.append(
                f"{REFITTED[kind]} not refit per fold: the {len(asked)} {KIND_NAMES[kind]} questions are image "
                "questions, which carry no chapter; folds hold out chapters of text questions"
            )
    return kinds, notes


def held_out_answers(
    rows: list[Row], fold_of: list[int], items: list[Item], correct: dict[str, float], chosen: dict[str, int]
) -> dict:
    """What a mode's held-out figures record per question beside ``correct``: ``answer`` (the option ``chosen``, as
    ``tune.cross_validate`` gives it, by the file's letters as every answer is recorded), ``fold`` (the chapter fold it
    was held out in, numbered from 1), and ``by_group`` (per chapter: n, held-out accuracy and its fold), the held-out
    table beside the in-sample ``by_group``."""
    asked = {item.id: item for item in items}
    fold = {row.id: f + 1 for row, f in zip(rows, fold_of, strict=True)}
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row.id)
    return {
        "answer": {i: as_filed(asked[i], LETTERS[c]) for i, c in chosen.items()},
        "fold": fold,
        "by_group": {
            g: {"n": len(ids), "accuracy": sum(correct[i] for i in ids) / len(ids), "fold": fold[ids[0]]}
            for g, ids in groups.items()
        },
    }


def is_correct(item: Item, answer: Answer) -> float:
    if item.kind == "mcq":
        return float(answer.letter == item.gold_answer.upper())
    if item.kind == "yesno":
        return float(yes_no(answer.text) == item.gold_answer)
    return token_recall(answer.text, item.gold_answer)


def paired_bootstrap(a: list[float], b: list[float], samples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Mean of a - b over the same questions (``n``, at least one), with a 95% interval from resampling questions
    (paired)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    return {
        "n": int(diff.size),
        "difference": float(diff.mean()),
        "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
        "p_not_better": float((means <= 0).mean()),
    }


def newcombe_paired(a: list[float], b: list[float], z: float = 1.96) -> dict[str, Any]:
    """Mean of a - b over the same questions scored 1 or 0 (``n``, at least one), with Newcombe's 95% interval for
    paired proportions (his method 10: each mode's Wilson interval, joined by the correlation of the pairs), and the
    one-sided exact McNemar p of "a is not better". Unlike resampling it stays wide for a handful of questions: one
    question gained gives about -0.12 to +1.00, not the bootstrap's +1.00 to +1.00."""
    n = len(a)
    pairs = Counter(zip(a, b, strict=True))
    both, gained, lost, neither = pairs[1.0, 1.0], pairs[1.0, 0.0], pairs[0.0, 1.0], pairs[0.0, 0.0]
    p1, p2 = sum(a) / n, sum(b) / n
    (l1, u1), (l2, u2) = wilson(int(sum(a)), n), wilson(int(sum(b)), n)
    phi = pair_correlation(both, gained, lost, neither)
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    changed = gained + lost
    return {
        "n": n,
        "difference": p1 - p2,
        "ci95": [max(-1.0, low), min(1.0, high)],
        "p_not_better": sign_tail(gained, changed),
    }


def pair_correlation(both: int, gained: int, lost: int, neither: int) -> float:
    """The correlation of paired right/wrong scores as Newcombe's method 10 joins the two Wilson intervals: a positive
    cross product (both * neither - gained * lost) less n/2, and 0 where that leaves nothing; 0 where a margin is empty.
    Without the n/2 every question answered alike by both modes read as perfect correlation, and the interval
    collapsed: 8 questions, none changed, gave +0.000 (+0.000 to +0.000)."""
    margins = (both + gained) * (lost + neither) * (both + lost) * (gained + neither)
    if not margins:
        return 0.0
    cross = both * neither - gained * lost
    if cross > 0:
        cross = max(0.0, cross - (both + gained + lost + neither) / 2)
    return cross / math.sqrt(margins)


def paired(mine: dict[str, float], theirs: dict[str, float]) -> dict[str, Any] | None:
    """Two modes' scores compared by question id over the questions both answered: ``newcombe_paired`` when every
    score is 1 or 0, else (token recall) ``paired_bootstrap``. None when they share no question (a difference of 0 with
    the interval [0, 0] read as "the same, surely")."""
    common = [i for i in mine if i in theirs]
    if not common:
        return None
    a, b = [mine[i] for i in common], [theirs[i] for i in common]
    return newcombe_paired(a, b) if all(s in (0.0, 1.0) for s in a + b) else paired_bootstrap(a, b)


def answered(run: dict[str, Any], mode: str) -> dict[str, dict[str, Any]]:
    """Question id -> the per-question record of ``mode`` in a ``bench qa`` result, for questions it answered."""
    return {i["id"]: i for i in run["items"] if i.get("mode") == mode and "score" in i}


def naming_split(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per ``NAMING`` slice: how many answers, their mean score and mean confidence; an answerer sure of a choice no
    sentence names claims more than its evidence gives (the twenty-third session measured this by hand)."""
    out: dict[str, Any] = {}
    for name in NAMING:
        rows = [r for r in records if r.get("evidence_names") == name]
        if rows:
            n = len(rows)
            out[name] = {
                "n": n,
                "accuracy": sum(r["score"] for r in rows) / n,
                "confidence": sum(r["confidence"] for r in rows) / n,
            }
    return out


def settled_split(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How many answers were settled and unsettled, and their mean scores; None for a run that did not record it."""
    if any("settled" not in r for r in records):
        return None
    out: dict[str, Any] = {}
    for name, flag in (("settled", True), ("unsettled", False)):
        scores = [r["score"] for r in records if bool(r["settled"]) == flag]
        out[name] = {"n": len(scores), "accuracy": sum(scores) / len(scores) if scores else None}
    return out


def compare_qa_runs(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Two ``bench qa`` results over the same questions, per mode both ran: mean score before and after, questions
    gained and lost, exact McNemar p, how many answers changed, and each run's settled / unsettled split.

    The paired answers are the held-out ones (offline weights refit per chapter fold) when both runs have them for
    the mode, else every answer, with a ``warning`` (``folds_warning``) where one run has them; only questions both
    runs answered are paired (``unpaired`` counts the others). For open questions (token recall) gained and lost count
    scores that rose and fell. ``changed`` counts the paired answers given otherwise (another option, by the file's
    letters, or another text), right or wrong alike, which is what ``--shuffle-options`` moves: held-out answers for a
    held-out row, None where a run did not record them. The settled split is over the questions both runs answered,
    each answer as the run gave it (held-out answers record no settled flag)."""
    out: dict[str, dict[str, Any]] = {}
    for mode in [m for m in before["modes"] if m in after["modes"]]:
        first, second = answered(before, mode), answered(after, mode)
        held = "held_out" in before["modes"][mode] and "held_out" in after["modes"][mode]
        if held:
            a, b = before["modes"][mode]["held_out"]["correct"], after["modes"][mode]["held_out"]["correct"]
        else:
            a = {i: r["score"] for i, r in first.items()}
            b = {i: r["score"] for i, r in second.items()}
        ids = [i for i in a if i in b]
        gained, lost = sum(b[i] > a[i] for i in ids), sum(b[i] < a[i] for i in ids)
        both = [i for i in first if i in second]
        out[mode] = {
            "answers": "held out" if held else "all",
            "n": len(ids),
            "unpaired": len(set(a) ^ set(b)),
            "before": sum(a[i] for i in ids) / len(ids) if ids else None,
            "after": sum(b[i] for i in ids) / len(ids) if ids else None,
            "gained": gained,
            "lost": lost,
            "p": exact_mcnemar_p(gained, lost),
            "changed": changed_answers(before, after, mode, ids if held else None),
            "settled": {
                "answers": "shipped weights",
                "n": len(both),
                "before": settled_split([first[i] for i in both]),
                "after": settled_split([second[i] for i in both]),
            },
            **({"warning": warning} if (warning := folds_warning(before, after, [mode])) else {}),
        }
    return out


def changed_answers(
    before: dict[str, Any], after: dict[str, Any], mode: str, held_out: list[str] | None = None
) -> int | None:
    """How many of a mode's answers two runs gave otherwise: of the ``held_out`` questions (ids) their held-out answers
    (None where a run recorded none: it was written before they were), else of every question both answered the
    answers each run gave."""
    if held_out is None:
        first, second = answered(before, mode), answered(after, mode)
        return sum(first[i].get("answer") != second[i].get("answer") for i in first if i in second)
    answers = [run["modes"][mode]["held_out"].get("answer") for run in (before, after)]
    if None in answers:
        return None
    return sum(answers[0].get(i) != answers[1].get(i) for i in held_out)


def folds_warning(before: dict[str, Any], after: dict[str, Any], modes: Iterable[str] | None = None) -> str | None:
    """The warning, in one line, of shared modes (of ``modes``, else all) that only one run held answers out for
    (``--folds``): compare-qa pairs every answer there, the weights each run answered with, not the held-out ones."""
    shared = [m for m in (modes or before["modes"]) if m in before["modes"] and m in after["modes"]]
    sides = {m: ["held_out" in run["modes"][m] for run in (before, after)] for m in shared}
    lopsided = [m for m, held in sides.items() if held[0] != held[1]]
    if not lopsided:
        return None
    named = ", ".join(f"{m} (the run {'before' if sides[m][0] else 'after'})" for m in lopsided)
    return (
        f"only one run has held-out answers (--folds) for {named}: every answer is paired instead, each run's with "
        "the weights it answered with; run both with --folds to pair held-out answers"
    )


def settled_note(before: dict[str, Any], after: dict[str, Any], held_out: bool) -> str:
    """``compare-qa``'s caption of its settled split: each run's own answers, which are the shipped weights' where the
    answers paired are held out (in-sample only when both runs asked the questions they were fitted on)."""
    note = "settled / unsettled: n (accuracy) of the questions both runs answered, each run's answers as it gave them"
    if not held_out:
        return note
    return f"{note}, with the {SHIPPED}" + (", in-sample" if fitted_on(before) and fitted_on(after) else "")


def unshared_modes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Mode -> "before" or "after": the modes only one run ran, which ``compare_qa_runs`` cannot pair."""
    return {
        **{mode: "before" for mode in before["modes"] if mode not in after["modes"]},
        **{mode: "after" for mode in after["modes"] if mode not in before["modes"]},
    }


def question_golds(run: dict[str, Any]) -> dict[str, str]:
    """Question id -> the gold answer a ``bench qa`` result scored it against (answered questions only)."""
    return {r["id"]: r["gold"] for r in run["items"] if "gold" in r}


def check_same_questions(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """Refuse, in one line, two ``bench qa`` results that asked different questions: no question id in common, a
    shared id scored against another gold answer, or one run ``--open`` and the other not (gained and lost would
    compare unrelated answers). A warning (returned, one line, as compare-qa says it on stderr) when their question
    files differ but ids and golds agree, or when only one of them held answers out (``folds_warning``)."""
    if not {r["id"] for r in before["items"]} & {r["id"] for r in after["items"]}:
        raise BadInputError("these runs asked different questions: they share no question id")
    runs = before.get("run") or {}, after.get("run") or {}
    opened = [r.get("open") for r in runs]
    if None not in opened and opened[0] != opened[1]:
        which = "before" if opened[0] else "after"
        raise BadInputError(f"these runs asked different questions: only the run {which} asked them --open")
    golds, theirs = question_golds(before), question_golds(after)
    if differ := [i for i in golds if i in theirs and golds[i] != theirs[i]]:
        first = differ[0]
        raise BadInputError(
            f"these runs asked different questions: {len(differ)} shared ids have another gold answer (first "
            f"{first!r}: {golds[first]!r} before, {theirs[first]!r} after)"
        )
    hashes = [r.get("questions_sha256") for r in runs]
    files = "the two runs' question files differ (sha256), but their shared ids have the same gold answers"
    warnings = [files if None not in hashes and hashes[0] != hashes[1] else None, folds_warning(before, after)]
    return "; ".join(w for w in warnings if w) or None


class PageTexts:
    """Text of cited PDF pages as a reader sees them (blocks in reading order, normalised like quotes)."""

    def __init__(self):
        self.pages: dict[tuple[str, int], str | None] = {}

    def get(self, source: str, page: int) -> str | None:
        key = (source, page)
        if key not in self.pages:
            try:
                with pymupdf.open(source) as doc:
                    blocks = doc[page - 1].get_text("blocks", sort=True)
                self.pages[key] = normalise("\n".join(b[4] for b in blocks if b[6] == 0))
            except Exception:  # not a readable PDF (moved, or a case image): nothing to compare with
                self.pages[key] = None
        return self.pages[key]


def quoted_verbatim(answer: Answer, pages: PageTexts) -> bool | None:
    """Does the chosen option quote a sentence found verbatim on its cited PDF page? None if nothing to check."""
    if answer.choice is None or answer.choice >= len(answer.quotes):
        return None
    checked = [
        (q, pages.get(q.evidence.citation.source, q.evidence.citation.page))
        for q in answer.quotes[answer.choice]
        if q.evidence.citation.page is not None and q.evidence.citation.source.lower().endswith(".pdf")
    ]
    checked = [(q, text) for q, text in checked if text is not None]
    if not checked and answer.quotes[answer.choice]:
        return None
    return any(normalise(q.text).replace("-", "") in text.replace("-", "") for q, text in checked)


def quotes_gold_page(item: Item, answer: Answer, evidence: list[Evidence]) -> bool | None:
    """Open questions: does the answer's first citation lie on a gold page? None without gold pages."""
    if item.kind != "open" or not item.gold.get("pdf_pages"):
        return None
    by_id = {e.id: e for e in evidence}
    cited = [by_id[i].citation for i in answer.cited if i in by_id]
    return bool(cited) and on_gold_page(item.gold, cited[0].source, cited[0].page)


EVIDENCE_K = 5
"""How many evidence items evidence hit@5 looks at, and its chance draws (``hit_chance``)."""


class GoldKey(NamedTuple):
    """What tells a record to be gold evidence (``gold_test``): its source and page, its case and its diagnosis."""

    source: str
    page: int | None
    case: str | None
    diagnosis: str | None


def evidence_key(evidence: Evidence) -> GoldKey:
    """An evidence item's ``GoldKey``: its page as cited (an MCP answer's evidence carries its case alone)."""
    return GoldKey(evidence.citation.source, evidence.citation.page, evidence.payload.case, evidence.payload.diagnosis)


def record_key(payload: dict[str, Any]) -> GoldKey:
    """A stored record's ``GoldKey``, as its hit would be cited."""
    return GoldKey(payload["source"], payload.get("page"), payload.get("case"), payload.get("diagnosis"))


def gold_test(gold: dict[str, Any], case_excluded: bool = False) -> Callable[[GoldKey], bool] | None:
    """How a record is told to be a question's gold evidence: on a gold page, else of the gold case, else of the gold
    diagnosis; None where its gold names none of them. ``case_excluded``: the gold case was kept out of the evidence,
    so another case of the gold diagnosis is gold. One test for the evidence (``evidence_hit``) and the index
    (``gold_units``), so hit@5 and its chance count alike."""
    if gold.get("pdf_pages"):
        return lambda key: on_gold_page(gold, key.source, key.page)
    if gold.get("case") and not case_excluded:
        return lambda key: key.case == gold["case"]
    if diagnosis := str(gold.get("diagnosis") or "").lower():
        return lambda key: str(key.diagnosis or "").lower() == diagnosis
    return None


def evidence_hit(item: Item, evidence: list[Evidence], k: int = EVIDENCE_K, case_excluded: bool = False) -> bool | None:
    """Is gold evidence (``gold_test``: a gold page, the gold case, or the gold diagnosis) among the top k? None if no
    gold."""
    is_gold = gold_test(item.gold, case_excluded)
    if is_gold is None:
        return None
    return any(is_gold(evidence_key(e)) for e in sorted(evidence, key=lambda e: e.rank)[:k])


def evidence_units(records: Iterable[tuple[str, dict[str, Any]]]) -> Counter[GoldKey]:
    """How many evidence items the stored ``records`` (id, payload) make, per ``GoldKey``, as a search gives them: a
    page's records (its page, passages and figures) fold into one hit of the page, and a record without a page (a
    case image) is one of its own. Evidence hit@5 looks at such items, so its chance draws them: drawn as records, a
    page of many passages counted many times."""
    keys = ((rid, record_key(payload)) for rid, payload in records)
    units = {(key.source, key.page) if key.page is not None else rid: key for rid, key in keys}
    return Counter(units.values())


def gold_units(is_gold: Callable[[GoldKey], bool], units: Counter[GoldKey]) -> int:
    """How many evidence items (``units``: items per ``GoldKey``, ``evidence_units``) count as gold by ``is_gold``."""
    return sum(n for key, n in units.items() if is_gold(key))


def hit_chance(units: int, gold: int, k: int = EVIDENCE_K) -> float:
    """The chance of evidence hit@k: the probability that k evidence items (``evidence_units``) drawn at random,
    without replacement, from the ``units`` a question may see hold at least one of the ``gold`` among them
    (hypergeometric): 1 - C(units - gold, k) / C(units, k), with k at most ``units`` (all drawn: 1 where one is
    gold). Where any record of a diagnosis counts (an LC25000 tile of 3 balanced classes) five random tiles hold one
    about 1 - (2/3)^5 = 0.87 of the time, and a hit@5 near that measures little."""
    draws = min(k, units)
    if not draws:
        return 0.0
    return 1 - math.comb(units - gold, draws) / math.comb(units, draws)


def own_case_evidence(item: Item, evidence: list[Evidence]) -> int | None:
    """How many evidence items come from the question's own case (``gold.case``, as the index's ``payload.case``):
    other images of the very slide or patient, which answer an image question by recognition, not by reasoning.
    None without a gold case."""
    case = item.gold.get("case")
    return sum(e.payload.case == case for e in evidence) if case else None


def query_image_ids(index: Index) -> dict[str, str]:
    """Absolute image path -> record id of indexed case images, so a question never sees its own image."""
    return {str(Path(p["source"]) / p["image"]): rid for rid, p in index.store.scan({"kind": "case"}) if p.get("image")}


def caseless_images(index: Index) -> dict[str, str]:
    """Absolute image path -> record id of indexed case images that are their own case (given no case id,
    ``case_ids`` names them by their file's stem or path: ``own_case_ids``), such as LC25000's tiles:
    ``--exclude-case`` has no case to keep out for them. Images gone from disk since they were indexed are left out:
    their pixels cannot be compared."""
    images = {
        Path(p["source"]) / p["image"]: rid
        for rid, p in index.store.scan({"kind": "case"})
        if p.get("image") and p.get("case") in own_case_ids(p["image"])
    }
    return {str(path): rid for path, rid in images.items() if path.is_file()}


def near_copies(questions: list[str], indexed: dict[str, str]) -> dict[str, set[str]]:
    """Question image path -> record ids of the ``indexed`` images in its near-duplicate group
    (``near_duplicate_groups``: the same tissue turned, mirrored or zoomed, as LC25000 augmented 250 originals per
    class into its tiles), each question's own image among them where it is indexed."""
    if not questions:
        return {}
    paths = list(dict.fromkeys([*indexed, *questions]))
    members: dict[int, set[str]] = {}
    groups = near_duplicate_groups([Path(path) for path in paths])
    for path, group in zip(paths, groups, strict=True):
        if path in indexed:
            members.setdefault(group, set()).add(indexed[path])
    of_path = dict(zip(paths, groups, strict=True))
    return {path: members.get(of_path[path], set()) for path in questions}


def case_record_ids(index: Index) -> dict[str, set[str]]:
    """Case id -> record ids of its indexed images (``--exclude-case``)."""
    cases: dict[str, set[str]] = {}
    for rid, payload in index.store.scan({"kind": "case"}):
        if payload.get("case"):
            cases.setdefault(str(payload["case"]), set()).add(rid)
    return cases


class QABench:
    def __init__(
        self,
        index: Index,
        answerer: Answerer,
        rounds: int = 2,
        k: int = 8,
        searcher: Searcher | None = None,
        exclude_case: bool = False,
    ):
        """``exclude_case``: besides the question's own image, keep every image of its gold case out of the
        evidence (another photograph of the same slide gives the diagnosis away), and for a question without a case
        its image's near-duplicates among the indexed images without one (``near_copies``: a turned copy of the very
        tile is no other evidence)."""
        self.index = index
        self.searcher = searcher or Searcher(index)
        self.answerer = answerer
        self.agent = Agent(self.searcher, answerer, max_rounds=rounds, k=k)
        self.k = k
        self.own_images = query_image_ids(index)
        self.case_records = case_record_ids(index) if exclude_case else {}
        self.caseless = caseless_images(index) if exclude_case else {}
        self.copies: dict[str, set[str]] = {}
        self.exclude_case = exclude_case
        self.pages = PageTexts()

    def excluded(self, item: Item) -> set[str]:
        """Record ids the question may not see: its own image, and with ``exclude_case`` its gold case's images, or
        without a gold case its image's near-duplicates (``keep_out_copies``)."""
        image = str(item.image_path.resolve()) if item.image_path else ""
        own = self.own_images.get(image)
        case = self.case_records.get(str(item.gold.get("case") or ""), set())
        return case | self.copies.get(image, set()) | ({own} if own else set())

    def keep_out_copies(self, items: list[Item]) -> str | None:
        """With ``exclude_case``, find the near-duplicates of each image question without a gold case
        (``near_copies``) for ``excluded``; a note saying how many were kept out, None where there were none."""
        if not self.exclude_case:
            return None
        caseless = [str(i.image_path.resolve()) for i in items if i.image_path and not i.gold.get("case")]
        self.copies = near_copies(list(dict.fromkeys(caseless)), self.caseless)
        others = [len(self.copies[image] - {self.own_images.get(image)}) for image in caseless]
        if not any(others):
            return None
        return (
            f"--exclude-case: {sum(n > 0 for n in others)} of the {len(caseless)} image questions without a case "
            f"(tiles such as LC25000's) had near-duplicates of their image indexed ({sum(others)} in all: the same "
            "tissue turned, mirrored or zoomed, found by pixels), kept out of their evidence as a gold case's other "
            "images are"
        )

    def hit_chances(self, items: list[Item]) -> dict[str, float]:
        """Question id -> the chance of its evidence hit@5 (``hit_chance``), for the questions with gold evidence:
        ``EVIDENCE_K`` evidence items (pages, and records without a page: ``evidence_units``) drawn from the index's
        less those it may not see (``excluded``: case images, each an item of its own), its gold ones (``gold_test``)
        among them. Exact, from one pass over the index's payloads (none without gold)."""
        golds = [(item, is_gold) for item in items if (is_gold := gold_test(item.gold, self.exclude_case))]
        if not golds:
            return {}
        units = evidence_units(self.index.store.scan())
        chances = {}
        for item, is_gold in golds:
            hidden = evidence_units(self.index.store.payloads(list(self.excluded(item))).items())
            gold = gold_units(is_gold, units) - gold_units(is_gold, hidden)
            chances[item.id] = hit_chance(units.total() - hidden.total(), gold)
        return chances

    def ask(self, item: Item, mode: str) -> tuple[Answer, list[Evidence], OptionSupport | None]:
        exclude = self.excluded(item)
        if mode == "no-rag":
            return self.answerer.answer(item.question, []), [], None
        if mode == "rag":
            q = item.question
            text = with_options(q) or None
            query = Query(  # as the agent; its words list the options, which the image must choose among
                text=text, image=q.image, k=self.k + len(exclude), pages_per_section=0, words_weight=1.0
            )
            hits = self.searcher.search(query)
            found: dict[str, Evidence] = {}
            evidence_from_hits(found, [h for h in hits if h.id not in exclude][: self.k], "rag")
            evidence = sorted(found.values(), key=lambda e: e.rank)
            answer = self.answerer.answer(q, evidence)
            answer.cited = [i for i in answer.cited if i in found]
            annotate(answer, q, evidence)  # as the agent does: every answerer's answer quotes and settles alike
            return answer, evidence, None
        result = self.agent.ask(item.question, exclude_ids=exclude)
        return result.answer, result.evidence, result.support

    def run(self, items: list[Item], failures: list[dict], modes=MODES, folds: int = 0) -> dict[str, Any]:
        """Every mode over every item; with ``folds`` (offline answerer only: ``check_refit``) also the held-out
        accuracy of its weights and the held-out ECE of its open-answer confidence map, each refit per group of
        chapters (``plan_refit``: a note instead where a kind's questions, or those answered, span fewer than two).

        Ctrl-C while a question is asked ends the run there, not the program: the result holds what was answered
        (the interrupted mode over its answered questions, no held-out refit of it, later modes not run) and says
        so in ``interrupted``, so an hour of LLM answers is not lost."""
        check_refit(type(self.answerer), folds)
        per_item: list[dict[str, Any]] = [{"row": f["row"], "id": f["id"], "failed": f["error"]} for f in failures]
        summary: dict[str, Any] = {}
        refit, notes = plan_refit(items, folds)
        seen = fitted_questions(items, self.answerer)
        if copies := self.keep_out_copies(items):
            notes.append(copies)
        hit_chances = self.hit_chances(items) if any(mode != "no-rag" for mode in modes) else {}
        if unfound := unfound_note(hit_chances):
            notes.append(unfound)
        interrupted = None
        for mode in modes:
            try:
                if items:
                    self.warm_up(items[0], mode)
            except KeyboardInterrupt:
                interrupted = f"Ctrl-C before the first question of {mode}"
                break
            scores, hits, seconds, no_cite, failed = [], [], [], 0, len(failures)
            by_group: dict[str, list[float]] = {}
            group_hits: dict[str, list[bool]] = {}
            by_kind: dict[str, list[float]] = {}
            negated, confidences, correct_by_id, rows, verbatim, gold_quoted = [], [], {}, [], [], []
            open_rows: list[OpenRow] = []
            unusable_before = getattr(self.answerer, "parse_failures", None)
            for item in tqdm(items, desc=f"qa {mode}", leave=False):
                started = time.perf_counter()
                try:
                    answer, evidence, support = self.ask(item, mode)
                except PathAtlasError as exc:
                    failed += 1
                    per_item.append({"row": item.row, "id": item.id, "mode": mode, "failed": str(exc)})
                    continue
                except KeyboardInterrupt:
                    interrupted = f"Ctrl-C in {mode} after {len(scores)} of {len(items)} questions"
                    break
                seconds.append(time.perf_counter() - started)
                score = is_correct(item, answer)
                scores.append(score)
                correct_by_id[item.id] = score
                confidences.append(answer.confidence)
                by_group.setdefault(item.group, []).append(score)
                by_kind.setdefault(item.kind, []).append(score)
                reading = read_with_evidence(item.question, evidence)  # as answered: "least common" may be a rank
                if reading.negated and item.kind == "mcq":
                    negated.append(score)
                hit = evidence_hit(item, evidence, case_excluded=self.exclude_case) if mode != "no-rag" else None
                if hit is not None:
                    hits.append(hit)
                    group_hits.setdefault(item.group, []).append(hit)
                no_cite += mode != "no-rag" and not answer.cited
                text_mcq = item.kind == "mcq" and item.question.image is None
                quoted = quoted_verbatim(answer, self.pages) if mode != "no-rag" and text_mcq else None
                if quoted is not None:
                    verbatim.append(quoted)
                on_gold = quotes_gold_page(item, answer, evidence) if mode != "no-rag" else None
                if on_gold is not None:
                    gold_quoted.append(on_gold)
                if "mcq" in refit and item.kind == "mcq" and item.question.image is None:
                    features, _ = self.answerer.features(item.question, reading, evidence, support)
                    gold = letter_index(item.gold_answer, len(item.question.options))
                    rows.append(Row(item.id, item.group, features, gold, reading.negated, reading.statements))
                if "open" in refit and item.kind == "open" and item.question.image is None:
                    quoted = self.answerer.open_quote(item.question, reading, evidence)  # as the answerer quotes
                    if quoted is not None:
                        open_rows.append(OpenRow(item.id, item.group, quoted[1], score))
                per_item.append(
                    {
                        "id": item.id,
                        "mode": mode,
                        "kind": item.kind,
                        "group": item.group,
                        "answer": recorded_answer(item, answer),
                        "gold": as_filed(item, item.gold_answer),
                        "score": score,
                        "confidence": round(answer.confidence, 4),
                        "settled": answer.settled,
                        "evidence_names": evidence_naming(answer),
                        "negated": reading.negated,
                        "cited": answer.cited,
                        "evidence_hit@5": hit,
                        "own_case_evidence": own_case_evidence(item, evidence) if mode != "no-rag" else None,
                        "quotes_gold_page": on_gold,
                        "seconds": round(seconds[-1], 3),
                    }
                )
            if interrupted and not scores:
                break
            correct = sum(scores)
            ece, bins = expected_calibration_error(confidences, scores)
            unusable = getattr(self.answerer, "parse_failures", None)
            if not scores:
                notes.append(nothing_answered(mode, per_item))
            summary[mode] = {
                "accuracy": correct / len(scores) if scores else None,
                "ci95": list(mean_interval(scores)) if scores else None,
                "answered": len(scores),
                "by_kind": {
                    kind: {
                        "n": len(v),
                        "metric": KIND_METRIC[kind],
                        "score": sum(v) / len(v),
                        "ci95": list(mean_interval(v)),
                    }
                    for kind, v in sorted(by_kind.items())
                },
                "negated": {"n": len(negated), "accuracy": sum(negated) / len(negated) if negated else None},
                "ece": ece if scores else None,
                "reliability": bins,
                "evidence_recall@5": sum(hits) / len(hits) if hits else None,
                "evidence_n": len(hits),
                "p50_s": percentile_ms(seconds, 50) / 1000 if seconds else None,
                "p95_s": percentile_ms(seconds, 95) / 1000 if seconds else None,
                "failed": failed,
                "parse_failures": None if unusable is None else unusable - unusable_before,
                "no_citation_rate": no_cite / len(scores) if scores and mode != "no-rag" else None,
                "verbatim_quote_rate": sum(verbatim) / len(verbatim) if verbatim else None,
                "gold_page_quoted": sum(gold_quoted) / len(gold_quoted) if gold_quoted else None,
                "by_group": {
                    g: {"n": len(v), "accuracy": sum(v) / len(v), **hit_figures(group_hits.get(g, []))}
                    for g, v in by_group.items()
                },
                "by_naming": naming_split([r for r in per_item if r.get("mode") == mode and "score" in r]),
                "correct": correct_by_id,
            }
            for key, kind, fitted, check in (
                ("held_out", "mcq", rows, cross_validate),
                ("held_out_open", "open", open_rows, cross_validate_open),
            ):
                if fitted and not interrupted:
                    if unfit := one_chapter(mode, kind, [r.group for r in fitted]):
                        notes.append(unfit)
                    else:
                        summary[mode][key] = check(fitted, chapter_folds([r.group for r in fitted], folds))
            if held := summary[mode].get("held_out"):
                held["ci95"] = list(mean_interval(list(held["correct"].values())))
                fold_of, chosen = chapter_folds([r.group for r in rows], folds), held.pop("chosen")
                held |= held_out_answers(rows, fold_of, items, held["correct"], chosen)
            if interrupted:
                break
        baseline = summary.get("rag")
        for mode, m in summary.items():
            if baseline is not None and mode != "rag":
                if vs := paired(m["correct"], baseline["correct"]):
                    m["vs_rag"] = vs
                held = "held_out" in m and "held_out" in baseline
                if held and (vs := paired(m["held_out"]["correct"], baseline["held_out"]["correct"])):
                    m["held_out"]["vs_rag"] = vs
        mark_losses(summary, items)
        if seen:
            held = any(key in m for m in summary.values() for key in ("held_out", "held_out_open"))
            notes.insert(0, in_sample_note(seen, len(items), held, fold_chapters(items)))
        kinds = dict(Counter(item.kind for item in items))
        searched = {r["id"] for r in per_item if "score" in r and r["mode"] != "no-rag"}
        retrieved = {i: chance for i, chance in hit_chances.items() if i in searched}
        offline_yes_no = kinds.get("yesno") and isinstance(self.answerer, OfflineAnswerer)
        return {
            "n": len(items) + len(failures),
            "answerer": self.answerer.name,
            "kinds": kinds,
            "metric": score_label(kinds),
            "fitted_on": seen,
            "chance": chance_level(items, answered_ids := {r["id"] for r in per_item if "score" in r}, retrieved),
            "chance_by_group": chance_by_group(items, answered_ids, retrieved),
            "notes": ([OFFLINE_YES_NO] if offline_yes_no else []) + notes,
            "latency": LATENCY,
            "modes": summary,
            "items": per_item,
            **({"interrupted": interrupted} if interrupted else {}),
        }

    def warm_up(self, item: Item, mode: str) -> None:
        """Ask one question untimed, then drop the offline answerer's sentence vectors: every mode is timed warm
        (models loaded) and from the same cold cache. Without it a mode reused the vectors of the mode before and
        its latency depended on the order (agentic after rag 0.02 s a question, alone 0.5 s)."""
        with contextlib.suppress(PathAtlasError):
            self.ask(item, mode)
        if isinstance(self.answerer, OfflineAnswerer):
            self.answerer.clear_cache()


LATENCY = (
    "p50/p95 s: wall seconds per question (searches and answer), each mode timed after one untimed question and from "
    "an empty sentence-vector cache"
)


INTERRUPTED = "each mode's figures are over the questions it answered, and later modes did not run."

UNMEASURED = "-"
"""A table's cell for a figure of a mode that answered no question: no figure, where 0.000 read as a measured zero."""


def nothing_answered(mode: str, per_item: list[dict[str, Any]]) -> str:
    """The note of a mode every question failed in (``per_item``: the run's records so far), saying why it has no
    figures: an accuracy of 0.0 and a latency of 0.00 s read as measured (an LLM server that was down scored 0.000)."""
    failed = [r for r in per_item if "failed" in r and r.get("mode") in (mode, None)]
    first = failed[0]  # a row that failed to load, or the first question this mode failed
    return (
        f"{mode}: no figures: none of its questions was answered ({len(failed)} failed; the first, row "
        f"{first['row']} ({first['id']}): {first['failed']}); null in the JSON, {UNMEASURED} in the tables, "
        "nothing plotted"
    )


KIND_METRIC = {"mcq": "accuracy", "yesno": "accuracy", "open": "token recall"}
"""What a question kind's score is: right or wrong, or the share of the right answer's words said."""

OFFLINE_YES_NO = (
    'The offline answerer cannot read yes/no from evidence (it scores yes and no alike, and a tie goes to "no"), so '
    'its yes/no figures are the share of questions whose answer is "no".'
)

HIT_AT_5 = (
    "evidence hit@5: the share of questions with gold evidence (a gold page, the gold case, else the gold diagnosis) "
    "among the first 5 evidence items (JSON key evidence_recall@5, kept for compatibility); its chance: of 5 evidence "
    "items drawn at random from those the question may see (a page, or a record without one such as a case image, as "
    "search gives them)"
)


def chance_level(
    items: list[Item], answered: set[str], hit_chances: dict[str, float] | None = None
) -> dict[str, Any] | None:
    """The figures of answering and searching at random. ``n`` and ``accuracy``: the mean of 1/(number of options)
    over the answered questions with options (multiple-choice, yes/no), the baseline every mode's accuracy stands
    beside. ``evidence_recall@5`` and ``evidence_n`` (``hit_figures``): the mean ``hit_chance`` over the items
    ``hit_chances`` has (question id -> its chance, for those a searching mode answered). None without either: an open
    answer has no chance level."""
    shares = [1 / len(i.question.options) for i in items if i.kind != "open" and i.id in answered]
    level = {"n": len(shares), "accuracy": sum(shares) / len(shares)} if shares else {}
    drawn = hit_chances or {}
    return {**level, **hit_figures([drawn[i.id] for i in items if i.id in drawn])} or None


def chance_by_group(
    items: list[Item], answered: set[str], hit_chances: dict[str, float] | None = None
) -> dict[str, dict[str, Any]]:
    """Each group's ``chance_level`` (groups without either figure left out): a chapter of two-option questions has
    chance 0.5 beside another's 0.25, and LC25000's tiles an evidence hit@5 chance near 0.87 beside an atlas case's
    near 0, so each group's scores are read against their own."""
    groups = {group: [i for i in items if i.group == group] for group in dict.fromkeys(i.group for i in items)}
    return {g: level for g, members in groups.items() if (level := chance_level(members, answered, hit_chances))}


def hit_figures(hits: list[float]) -> dict[str, Any]:
    """``evidence_recall@5`` (the mean of ``hits``: each question's hit, 1 or 0, or its chance) and ``evidence_n``;
    nothing without hits."""
    return {"evidence_recall@5": sum(hits) / len(hits), "evidence_n": len(hits)} if hits else {}


def unfound_note(hit_chances: dict[str, float]) -> str | None:
    """The note of the questions whose evidence hit@5 could only be 0 (their ``hit_chance`` is 0: the index holds no
    record they may see of their gold page, case or diagnosis), beside others it can find (``check_gold_cases``
    refuses a file none of whose golds it holds); None where there are none."""
    if not (unfound := [i for i, chance in hit_chances.items() if chance == 0]):
        return None
    return (
        f"evidence hit@5 of {len(unfound)} of the {len(hit_chances)} questions with gold evidence could only be 0: no "
        "record they may see (their own image never is, nor with --exclude-case their case's) is of their gold page, "
        f"case or diagnosis (first {unfound[0]!r}); their chance is 0 too"
    )


def baseline_losses(
    scores: dict[str, float], no_rag: dict[str, float] | None, chances: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Baseline -> ``score`` (a searching mode's mean score) and ``baseline`` (the baseline's), for each baseline the
    mode scores below: no-rag over the questions both answered (``scores`` and ``no_rag``: question id -> score),
    chance (``chances``: question id -> 1/(number of options)) over the questions with options it answered. A search
    that costs answers, or does no better than a guess, is what the tables mark, as ``bench retrieval`` marks a default
    below a baseline."""
    below = {}
    for baseline, theirs in (("no-rag", no_rag or {}), ("chance", chances)):
        if not (common := [i for i in scores if i in theirs]):
            continue
        mine, level = (sum(figures[i] for i in common) / len(common) for figures in (scores, theirs))
        if mine < level and not math.isclose(mine, level):
            below[baseline] = {"score": mine, "baseline": level}
    return below


def mark_losses(summary: dict[str, dict[str, Any]], items: list[Item]) -> None:
    """Record on each searching mode's figures (the whole run's, each group's, the held-out answers') the baselines
    they score below (``baseline_losses``) as ``below_baselines``, where there are some."""
    chances = {i.id: 1 / len(i.question.options) for i in items if i.kind != "open"}
    group_of = {i.id: i.group for i in items}
    plain = summary.get("no-rag", {})
    for mode, m in summary.items():
        if mode == "no-rag":
            continue
        marked = [(m, m["correct"], plain.get("correct"))]
        marked += [
            (figures, group_scores(m["correct"], group_of, g), group_scores(plain.get("correct"), group_of, g))
            for g, figures in m["by_group"].items()
        ]
        if held := m.get("held_out"):
            marked.append((held, held["correct"], plain.get("held_out", {}).get("correct")))
        for figures, scores, no_rag in marked:
            if below := baseline_losses(scores, no_rag, chances):
                figures["below_baselines"] = below


def group_scores(scores: dict[str, float] | None, group_of: dict[str, str], group: str) -> dict[str, float] | None:
    """The scores (question id -> score) of one group's questions; None without scores."""
    return None if scores is None else {i: score for i, score in scores.items() if group_of[i] == group}


def chance_row(result: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The chance row of ``bench qa``'s table and report, as (label, cells like ``row_cells``'): the accuracy, labelled
    with how many questions it is over where open ones (no chance level) are in the run too, and the chance of
    evidence hit@5 (``hit_chance``) where a searching mode ran; None without a chance level (a result written before
    it was recorded)."""
    if not (chance := result.get("chance")):
        return None
    accuracy = chance.get("accuracy")
    beside_open = accuracy is not None and result.get("kinds", {}).get("open")
    label = f"chance ({chance['n']} with options)" if beside_open else "chance"
    cells = [figure_cell(accuracy, ".3f"), *[""] * (ROW_CELLS - 1)]
    cells[EVIDENCE_CELL] = figure_cell(chance.get("evidence_recall@5"), ".3f")
    return label, cells


def figure_cell(value: float | None, form: str) -> str:
    """A figure as a table's cell shows it; blank without one."""
    return "" if value is None else format(value, form)


def score_label(kinds: dict[str, int]) -> str:
    """The name of the main score over these question kinds: accuracy, token recall (open questions only), or mean
    score where the two mix (the per-kind table tells them apart)."""
    metrics = {KIND_METRIC[kind] for kind, n in kinds.items() if n}
    return metrics.pop() if len(metrics) == 1 else "mean score"


def answered_phrase(result: dict[str, Any]) -> str:
    """ "N questions", and how many were answered where that differs (failed rows, or a mode's failures)."""
    answered = {mode: m.get("answered", len(m["correct"])) for mode, m in result["modes"].items()}
    phrase = f"{result['n']} questions"
    if not answered or set(answered.values()) == {result["n"]}:
        return phrase
    if len(set(answered.values())) == 1:
        return f"{phrase}, {next(iter(answered.values()))} answered"
    return f"{phrase}, answered " + ", ".join(f"{n} ({mode})" for mode, n in answered.items())


def failure_lines(result: dict[str, Any]) -> list[str]:
    """One line per failed row ("row 3 (q7): reason"), or per question a mode failed ("row 3 (q7), rag: ...")."""
    return [
        f"row {r.get('row', '?')} ({r['id']})" + (f", {r['mode']}" if r.get("mode") else "") + f": {r['failed']}"
        for r in result["items"]
        if "failed" in r
    ]


def scoring_note(kinds: dict[str, int]) -> str:
    """How the report's questions are scored, by the kinds it holds: chance exists for options only."""
    notes = []
    if kinds.get("mcq") or kinds.get("yesno"):
        notes.append("Multiple-choice and yes/no questions score 1 or 0; chance is 1/(number of options).")
    if kinds.get("open"):
        notes.append(
            "Open questions score the share of the right answer's words the answer says (token recall); there is no "
            "chance level."
        )
    notes.append(
        "95% CI: Wilson's interval when every score is 1 or 0, else a bootstrap interval of the mean score; vs rag: "
        "Newcombe's paired interval when every score is 1 or 0, else a paired bootstrap."
    )
    return " ".join(notes)


DEV_QUESTIONS = "mcq_dev.jsonl"
"""The name of the file of questions the offline answerer's shipped weights were fitted on: how ``fitted_on`` judges
a result written before runs counted those questions by their words."""

SHIPPED = "shipped weights (fitted on the A&P dev questions)"


def fitted_questions(items: list[Item], answerer: Answerer) -> int:
    """How many of the items the answerer's weights were fitted on: for the offline answerer, those whose words are
    among its shipped weights' fitting questions (``tune.FITTED_ON``), whatever their file is called; an LLM has no
    such weights."""
    return sum(item.fingerprint in FITTED_ON for item in items) if isinstance(answerer, OfflineAnswerer) else 0


def fold_chapters(items: list[Item]) -> int:
    """The most chapter folds ``--folds`` takes over the items (``plan_refit``): the fewest chapters a refit kind's text
    questions span where they span two or more; else the most any spans (below two: none can be held out)."""
    spans = [len({i.group for i in items if i.kind == kind and i.question.image is None}) for kind in REFITS]
    return min((n for n in spans if n > 1), default=max(spans))


def in_sample_note(fitted: int, asked: int, held_out: bool, chapters: int) -> str:
    """The note of a run over questions the shipped weights were fitted on: its figures of them flatter the answerer.
    Where the run shows held-out rows those are the figures to quote; else it names the ``--folds`` the questions'
    ``chapters`` allow, or says none can be held out (a suggestion ``check_folds`` would refuse sent users in a
    circle)."""
    said = (
        f"in-sample: the offline answerer's shipped weights were fitted on {fitted} of these {asked} questions (the "
        "A&P dev questions), so its figures over them are in-sample"
    )
    refit = "the weights refit on the other chapters for each fold of chapters"
    if held_out:
        return f"{said}; the held-out rows ({refit}) are the figures to quote"
    if chapters < 2:
        return f"{said}; no figures can be held out: these questions span {chapters} chapter(s), and folds need two"
    return (
        f"{said}; for held-out figures run with --folds {min(chapters, 5)} (at most {chapters}, the chapters these "
        f"questions span: {refit})"
    )


def fitted_on(result: dict[str, Any]) -> int:
    """How many of a ``bench qa`` result's questions the shipped weights were fitted on (``fitted_questions``, as its
    run recorded); a result written before runs recorded it counts all its questions when its question file has the
    dev questions' name (``DEV_QUESTIONS``), none otherwise."""
    if "fitted_on" in result:
        return int(result["fitted_on"])
    named = Path(str((result.get("run") or {}).get("questions") or "")).name == DEV_QUESTIONS
    return len({r["id"] for r in result["items"]}) if named else 0


def shipped_label(result: dict[str, Any]) -> str:
    """What the rows of the weights a run answered with are called: in-sample where they were fitted on some of its
    questions (saying on how many), else the shipped weights, which a user's own questions are new to."""
    fitted = fitted_on(result)
    return f"in-sample (weights fitted on {fitted} of these questions)" if fitted else "shipped weights"


def shown_rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The rows a table or plot of a ``bench qa`` result shows, as (label, figures): with folds, each mode's held-out
    figures (weights refit on the other chapter folds) lead; the figures of the weights it ran with follow, labelled
    ``shipped_label`` where there are held-out rows or they are in-sample, else by their mode alone."""
    modes = result["modes"]
    held = [(f"{mode}, held out", m["held_out"]) for mode, m in modes.items() if "held_out" in m]
    if not held and not fitted_on(result):
        return list(modes.items())
    shipped = shipped_label(result)
    return held + [(f"{mode}, {shipped}", m) for mode, m in modes.items()]


def weights_note(result: dict[str, Any]) -> str:
    """What the figures over every answer (reliability, by group) were answered with, as their titles end:
    " (in-sample)" where the shipped weights were fitted on some of the questions, " (shipped weights)" where held-out
    rows stand beside them (a by-group table without it read as held out), else nothing."""
    if fitted_on(result):
        return " (in-sample)"
    return " (shipped weights)" if any("held_out" in m for m in result["modes"].values()) else ""


def held_out_rows(result: dict[str, Any]) -> str:
    """What the rows of a run with folds are (``shown_rows``), as its table's caption and report say."""
    fitted = fitted_on(result)
    shipped = (
        f"in-sample: the weights the run answered with, fitted on these very questions ({fitted} of them, the A&P dev "
        "questions)"
        if fitted
        else f"{SHIPPED}: the weights the run answered with"
    )
    return f"held out: each chapter fold's answers with the offline weights refit on the other folds; {shipped}"


def pct(interval: list[float]) -> str:
    return f"{interval[0]:+.3f} to {interval[1]:+.3f}"


def markdown_report(result: dict[str, Any], title: str) -> str:
    kinds = result.get("kinds", {})
    label = result.get("metric", score_label(kinds))
    rows = shown_rows(result)
    baseline = chance_row(result)
    mode_rows = [[mode, *row_cells(m)] for mode, m in rows] + ([[baseline[0], *baseline[1]]] if baseline else [])
    columns = ["mode", label, "95% CI", "vs rag (paired 95% CI)", "negated (n)", "ECE", "evidence hit@5", "p50 s"]
    columns += ["p95 s", "no citation", "verbatim quote", "gold page quoted", "unusable replies", "failed"]
    columns, mode_rows = with_marks(columns, mode_rows, [below_words(below_pairs(m, label)) for _, m in rows])
    lines = [
        f"# {title}",
        "",
        f"{answered_phrase(result)}, answerer `{result['answerer']}`. {scoring_note(kinds)}",
        "",
        *([f"**Interrupted** ({result['interrupted']}): {INTERRUPTED}", ""] if result.get("interrupted") else []),
        *[f"**Note:** {note}\n" for note in result.get("notes", [])],
        f"{LATENCY}; {HIT_AT_5}" + (f"; {held_out_rows(result)}." if len(rows) > len(result["modes"]) else "."),
        "",
        *table(columns, mode_rows),
    ]
    lines += by_kind_table(result)
    lines += by_naming_table(result)
    held = {mode: m["held_out"] for mode, m in result["modes"].items() if "held_out" in m}
    if held:
        lines += section(
            "Offline weights refit per fold (whole chapters held out)",
            ["mode", "folds", "held-out accuracy", "vs rag (paired 95% CI)", "negated (n)", "ECE"],
            [
                [mode, h["folds"], f"{h['accuracy']:.3f}", vs_rag_cell(h), negated_cell(h), f"{h['ece']:.3f}"]
                for mode, h in held.items()
            ],
        )
    opened = {mode: m["held_out_open"] for mode, m in result["modes"].items() if "held_out_open" in m}
    if opened:
        lines += section(
            "Open-answer confidence refit per fold (whole chapters held out)",
            ["mode", "folds", "held-out ECE", "ECE of raw coverage", "weights on every question"],
            [
                [
                    mode,
                    h["folds"],
                    f"{h['ece']:.3f}",
                    f"{h['coverage_ece']:.3f}",
                    ", ".join(f"{v:.3f}" for v in h["all_data_weights"]),
                ]
                for mode, h in opened.items()
            ],
        )
    lines += section(
        "Reliability (confidence bins)",
        ["mode", "bin", "n", "mean confidence", "accuracy"],
        [
            [mode, f"{low:.1f}-{high:.1f}", n, f"{conf:.3f}", f"{acc:.3f}"]
            for mode, m in result["modes"].items()
            for low, high, n, conf, acc in m["reliability"]
        ],
    )
    if evidence := evidence_group_rows(result):
        lines += section(
            "Evidence hit@5 by group, over the questions with gold evidence",
            ["group", "n", *evidence_group_columns(result)],
            [[g, n, *cells] for g, n, cells in evidence],
        )
    groups = group_rows(result)
    lines += section(
        f"{label[0].upper()}{label[1:]} by group{weights_note(result)}",
        *with_marks(
            ["group", "n", *group_columns(result)],
            [[g, n, *cells] for g, n, cells in groups],
            [group_mark_words(result, g) for g, _, _ in groups],
        ),
    )
    if held_groups := held_out_group_rows(result):
        lines += section(
            f"{label[0].upper()}{label[1:]} by group, held out (weights refit on the other chapter folds)",
            ["group", "fold", "n", *held_out_modes(result)],
            held_groups,
        )
    if failed := failure_lines(result):
        lines += ["", "## Failed rows", "", *[f"- {line}" for line in failed]]
    return "\n".join(lines) + "\n"


def held_out_modes(result: dict[str, Any]) -> list[str]:
    """The modes of a result with held-out answers per chapter (``held_out_answers``; none in a result written before
    they were recorded)."""
    return [mode for mode, m in result["modes"].items() if "by_group" in m.get("held_out", {})]


def held_out_group_rows(result: dict[str, Any]) -> list[list[Any]]:
    """The held-out by-group table's rows: each chapter's fold, its number of questions and each mode's held-out
    accuracy (blank where a mode has none of it), in the file's order."""
    held = [result["modes"][mode]["held_out"]["by_group"] for mode in held_out_modes(result)]
    rows = []
    for g in dict.fromkeys(g for of_mode in held for g in of_mode):
        first = next(of_mode[g] for of_mode in held if g in of_mode)
        rows.append([g, first["fold"], first["n"], *[f"{m[g]['accuracy']:.2f}" if g in m else "" for m in held]])
    return rows


def with_marks(columns: list[str], rows: list[list[Any]], marks: list[str]) -> tuple[list[str], list[list[Any]]]:
    """A report table's columns and rows with a last, unnamed column of ``marks`` (one per leading row; blank for the
    rest, as chance's) where any row is marked; as they are where none is."""
    if not any(marks):
        return columns, rows
    return [*columns, ""], [
        [*row, mark] for row, mark in zip(rows, [*marks, *[""] * (len(rows) - len(marks))], strict=True)
    ]


def below_pairs(m: dict[str, Any], metric: str) -> list[tuple[str, str]]:
    """(baseline, metric) for each baseline a row's figures score below (``below_baselines``): no-rag on the run's
    ``metric``, chance on the accuracy of the questions with options."""
    return [(baseline, "accuracy" if baseline == "chance" else metric) for baseline in m.get("below_baselines", {})]


def group_mark_words(result: dict[str, Any], group: str) -> str:
    """The mark of a by-group row, naming each mode below baselines in the group (``below_baselines``): "✗ rag below
    no-rag, chance; agentic below chance"; blank where none is."""
    below = [
        f"{mode} below {', '.join(marked)}"
        for mode, m in result["modes"].items()
        if (marked := m["by_group"].get(group, {}).get("below_baselines"))
    ]
    return "✗ " + "; ".join(below) if below else ""


def section(title: str, columns: list[str], rows: list[list[Any]]) -> list[str]:
    """Report lines: a ``## title`` section holding one ``table``, as each of the report's sections after the first
    is laid out."""
    return ["", f"## {title}", "", *table(columns, rows)]


def table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table's lines: the header naming ``columns``, its rule, then a line of cells per row."""
    return [table_line(columns), table_line(["---"] * len(columns)), *map(table_line, rows)]


def table_line(cells: list[Any]) -> str:
    """One line of a Markdown table: ``cells`` as written (a blank cell stays, as ``row_cells`` leaves one)."""
    return "| " + " | ".join(map(str, cells)) + " |"


ROW_CELLS = 13
"""The cells ``row_cells`` gives a row after its label."""
EVIDENCE_CELL = 5
"""Where among them ``row_cells`` puts evidence hit@5 (``evidence_cell``)."""


def row_cells(m: dict[str, Any]) -> list[str]:
    """One ``shown_rows`` row's cells after the mode, as ``bench qa``'s table and report show them: blank where the
    row has no such figure (a held-out row has no latency, evidence or quotes); ``UNMEASURED`` for every figure of a
    mode that answered no question, its counts of unusable replies and failures alone given."""

    def figure(key: str, form: str = ".3f") -> str:
        return figure_cell(m.get(key), form)

    counts = [figure("parse_failures", "d"), figure("failed", "d")]
    if m.get("answered") == 0:
        return [UNMEASURED] * (ROW_CELLS - len(counts)) + counts
    return [
        f"{m['accuracy']:.3f}",
        f"{m['ci95'][0]:.3f}-{m['ci95'][1]:.3f}",
        vs_rag_cell(m),
        negated_cell(m),
        f"{m['ece']:.3f}",
        evidence_cell(m),
        figure("p50_s", ".2f"),
        figure("p95_s", ".2f"),
        figure("no_citation_rate"),
        figure("verbatim_quote_rate"),
        figure("gold_page_quoted"),
        *counts,
    ]


def vs_rag_cell(m: dict[str, Any]) -> str:
    """A row's difference from rag with its paired 95% CI, as the table and the held-out section show it; blank for
    rag itself (no figure)."""
    vs = m.get("vs_rag")
    return f"{vs['difference']:+.3f} ({pct(vs['ci95'])})" if vs else ""


def negated_cell(m: dict[str, Any]) -> str:
    """A row's accuracy on negated questions ("which is NOT...") with their n; blank where the run asked none."""
    negated = m["negated"]
    return "" if negated["accuracy"] is None else f"{negated['accuracy']:.3f} ({negated['n']})"


def evidence_cell(m: dict[str, Any]) -> str:
    """A row's evidence hit@5, with its n where fewer of the questions answered have gold evidence (its share is of
    those alone); blank without the figure."""
    hit, n = m.get("evidence_recall@5"), m.get("evidence_n")
    if hit is None:
        return ""
    return f"{hit:.3f}" + (f" (n={n})" if n is not None and n < m["answered"] else "")


def ordered_groups(result: dict[str, Any]) -> list[str]:
    """The groups of a result in the order the question file first gives them, as each mode's ``by_group`` keeps
    them: chapters in the book's order, where sorting their names put "10" before "2" and "Joints" before "The Cell"."""
    return list(dict.fromkeys(g for m in result["modes"].values() for g in m["by_group"]))


def group_chances(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each group's chance (``chance_by_group``) where the run has a chance level at all, of the groups with an accuracy
    chance: none where every question answered is open."""
    chances = result.get("chance_by_group", {}) if result.get("chance") else {}
    return {g: chance for g, chance in chances.items() if chance.get("accuracy") is not None}


def group_columns(result: dict[str, Any]) -> list[str]:
    """The by-group columns after the group and its n: each mode's, then chance where there is one."""
    return [*result["modes"], *(["chance"] if group_chances(result) else [])]


def group_rows(result: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    """Each group's name, its number of questions and a cell per ``group_columns``: each mode's score (blank where the
    mode answered none of it), then the group's chance (blank for a group of open questions), as the by-group table
    and the report list them."""
    modes = list(result["modes"].values())
    chances = group_chances(result)
    return [
        (
            g,
            next(m["by_group"][g]["n"] for m in modes if g in m["by_group"]),
            [f"{m['by_group'][g]['accuracy']:.2f}" if g in m["by_group"] else "" for m in modes]
            + ([f"{chances[g]['accuracy']:.2f}" if g in chances else ""] if chances else []),
        )
        for g in ordered_groups(result)
    ]


def evidence_group_columns(result: dict[str, Any]) -> list[str]:
    """The evidence-by-group columns after the group and its n: each mode with evidence hit@5 per group, then chance
    where the groups have one (``hit_chance``)."""
    modes = [
        mode for mode, m in result["modes"].items() if any("evidence_recall@5" in g for g in m["by_group"].values())
    ]
    chance = any("evidence_recall@5" in c for c in result.get("chance_by_group", {}).values())
    return [*modes, *(["chance"] if chance and modes else [])]


def evidence_group_rows(result: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    """Each group's evidence hit@5 per ``evidence_group_columns`` (blank where a mode has none of it) over its questions
    with gold evidence (n: the most any column is over), in the file's order, as the report and the terminal list
    them; none where no mode searched."""
    columns = evidence_group_columns(result)
    figures = [result["modes"][mode]["by_group"] for mode in columns if mode != "chance"]
    if "chance" in columns:
        figures.append(result["chance_by_group"])
    rows = []
    for g in ordered_groups(result):
        cells = [of_group.get(g, {}) for of_group in figures]
        if n := max((c.get("evidence_n", 0) for c in cells), default=0):
            rows.append((g, n, [figure_cell(c.get("evidence_recall@5"), ".2f") for c in cells]))
    return rows


def by_kind_table(result: dict[str, Any]) -> list[str]:
    """Report lines: each mode's score per question kind (yes/no right or wrong beside open token recall, which one
    mean would mix); none for a run that did not record them."""
    rows = [(mode, kind, k) for mode, m in result["modes"].items() for kind, k in m.get("by_kind", {}).items()]
    if not rows:
        return []
    return section(
        "By kind",
        ["mode", "kind", "n", "metric", "score", "95% CI"],
        [
            [mode, kind, k["n"], k["metric"], f"{k['score']:.3f}", f"{k['ci95'][0]:.3f}-{k['ci95'][1]:.3f}"]
            for mode, kind, k in rows
        ],
    )


def by_naming_table(result: dict[str, Any]) -> list[str]:
    """Report lines: each mode's accuracy and mean confidence by what its quotes name (``NAMING``), the slice where
    a confident answer has no sentence naming it; none for a run without quotes."""
    rows = [(mode, name, s) for mode, m in result["modes"].items() for name, s in m.get("by_naming", {}).items()]
    if not rows:
        return []
    return section(
        "By what the quoted evidence names",
        ["mode", "answers", "n", "accuracy", "mean confidence"],
        [[mode, NAMING[name], s["n"], f"{s['accuracy']:.3f}", f"{s['confidence']:.3f}"] for mode, name, s in rows],
    )


def tick_label(text: str, width: int = 22, lines: int = 2) -> str:
    """A group's name as a plot's tick shows it: wrapped at words into at most ``lines`` lines of about ``width``
    characters, an ellipsis where words are left out (a word is never cut: "The Tissue Level of Or" read as a
    chapter of its own)."""
    wrapped = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]
    if len(wrapped) > lines:
        wrapped = [*wrapped[: lines - 1], wrapped[lines - 1] + "…"]
    return "\n".join(wrapped)


def bar_name(name: str, m: dict[str, Any], asked: int) -> str:
    """A mode's bar label: its name, and under it how many of the ``asked`` questions its figure is over where that is
    fewer ("none answered": a mode without a bar, every question failed)."""
    answered = m.get("answered", len(m["correct"]))
    if answered >= asked:
        return name
    return f"{name}\n" + (f"{answered} of {asked} answered" if answered else "none answered")


def error_arms(m: dict[str, Any]) -> list[float]:
    """A bar's error arms below and above its figure (its 95% CI); none for a mode without a figure."""
    if m["accuracy"] is None:
        return [0.0, 0.0]
    return [m["accuracy"] - m["ci95"][0], m["ci95"][1] - m["accuracy"]]


ZERO_LABEL = "0.00"
"""What a bar of a measured 0 is labelled: a bar of no height reads as a figure not measured (NaN, no bar)."""


def label_zeros(ax, bars, values: list[float]) -> None:
    """Label each bar whose figure is a measured 0 with ``ZERO_LABEL``, on the axis where the bar stands (on a white
    ground, so an error bar rising from it does not cross it out)."""
    for bar, value in zip(bars, values, strict=True):
        if value == 0:
            ax.annotate(
                ZERO_LABEL,
                (bar.get_x() + bar.get_width() / 2, 0),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )


def legend_beside(ax) -> None:
    """The axes' legend to the right of its data area, where it covers no bar, line or point (the figure's layout
    makes room for it)."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


MODE_COLOURS = {"no-rag": "#7f7f7f", "rag": "#1f77b4", "agentic": "#ff7f0e", "mcp": "#2ca02c"}
"""Each mode's colour in every panel of ``plot_qa``: its held-out and in-sample figures differ by fill, not colour."""
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf")


def mode_colours(modes: list[str]) -> dict[str, str]:
    """Mode -> its colour (``MODE_COLOURS``; a mode without one takes the next of ``OTHER_COLOURS``)."""
    others = iter(OTHER_COLOURS * len(modes))
    return {mode: MODE_COLOURS.get(mode) or next(others) for mode in modes}


def run_settings(result: dict[str, Any]) -> str:
    """A ``bench qa`` result's settings as the plot's title names them (its questions, index, answerer, folds, and the
    options that change what is measured: ``--exclude-case``, ``--shuffle-options``, ``--open``), so a figure of one
    run is not read as another's; its questions alone where the run recorded none."""
    run = result.get("run") or {}
    answerer = run.get("answerer") or result.get("answerer")
    said = [
        Path(str(run["questions"])).name if run.get("questions") else None,
        answered_phrase(result),
        f"index {Path(str(run['index'])).name}" if run.get("index") else None,
        f"answerer {answerer}" + (f" ({run['model']})" if run.get("model") else "") if answerer else None,
        *(f"{name} {run[name]}" for name in ("k", "rounds") if run.get(name) is not None),
        f"--folds {run['folds']}" if run.get("folds") else "no folds" if "folds" in run else None,
        "--exclude-case" if run.get("exclude_case") else None,
        f"--shuffle-options {run['shuffle_options']}" if run.get("shuffle_options") is not None else None,
        "--open" if run.get("open") else None,
    ]
    return ", ".join(part for part in said if part)


def rows_title(result: dict[str, Any], folded: bool) -> str:
    """What the accuracy panel's bars are: held out (weights refit per chapter fold) and, hatched, the weights the run
    answered with (in-sample where they were fitted on some of its questions); nothing to say for a plain run."""
    fitted = fitted_on(result)
    in_sample = f"in-sample, fitted on {fitted} of these"
    if folded:
        return f"held out: refit per chapter fold;\nhatched: {in_sample if fitted else 'shipped weights'}"
    return in_sample if fitted else ""


def plot_qa(result: dict[str, Any], path: Path) -> None:
    """plot.png: each mode's score (held-out bars beside the hatched bars of the weights it answered with), its
    reliability diagram and its score by chapter, every panel saying which answers it shows (held out, in-sample),
    each mode one colour throughout, and the run's settings (``run_settings``) over them."""
    require("matplotlib", "plot").use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1, 1.2, 3]}, layout="constrained"
    )
    fig.suptitle(run_settings(result), fontsize=9)
    colours = mode_colours(list(result["modes"]))
    label = result.get("metric", score_label(result.get("kinds", {})))
    plot_rows(left, result, colours, label)
    plot_reliability(middle, result, colours, label)
    plot_groups(right, result, colours, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_rows(ax, result: dict[str, Any], colours: dict[str, str], label: str) -> None:
    """The accuracy panel: a bar per ``shown_rows`` row (95% CI), in its mode's colour, hatched where it is not held
    out when held-out rows stand beside it; chance dashed."""
    rows = shown_rows(result)
    folded = len(rows) > len(result["modes"])
    acc = [np.nan if m["accuracy"] is None else m["accuracy"] for _, m in rows]  # NaN: no bar, no error bar
    err = np.array([error_arms(m) for _, m in rows]).T
    hatched = [folded and not name.endswith("held out") for name, _ in rows]
    bars = ax.bar(range(len(rows)), acc, yerr=err, capsize=4, color=[colours[name.split(",")[0]] for name, _ in rows])
    for bar, hatch in zip(bars, hatched, strict=True):
        if hatch:
            bar.set(hatch="//", alpha=0.45)
    label_zeros(ax, bars, acc)
    names = [bar_name(name.split(" (")[0], m, result["n"]) for name, m in rows]
    slanted = folded or fitted_on(result)
    ax.set_xticks(
        range(len(names)), names, rotation=30 if slanted else 0, ha="right" if slanted else "center", fontsize=8
    )
    ax.set_xlim(-0.5, len(names) - 0.5)  # a mode without a bar keeps its place (no data widens no axis)
    ax.set_ylim(0, 1)
    if (baseline := chance_row(result)) and result["chance"].get("accuracy") is not None:
        ax.axhline(result["chance"]["accuracy"], linestyle="--", color="#c0392b", linewidth=1, label=baseline[0])
        legend_beside(ax)
    subtitle = rows_title(result, folded)
    ax.set_title(f"{label} by mode (95% CI)" + (f"\n{subtitle}" if subtitle else ""), fontsize=8.5)


def plot_reliability(ax, result: dict[str, Any], colours: dict[str, str], label: str) -> None:
    """The reliability panel: each mode's bins in its colour, held out solid where the run has them and the answers
    as given dashed beside them, the title saying which is which."""
    ax.plot([0, 1], [0, 1], ":", color="#888", label="perfect calibration")
    held = any("held_out" in m for m in result["modes"].values())
    given = answers_name(result)
    for mode, m in result["modes"].items():
        curves = [("held out", m["held_out"], "o-")] if "held_out" in m else []
        curves.append((given, m, "s--" if held else "o-"))
        for name, figures, style in curves:
            if bins := figures["reliability"]:
                ax.plot(
                    [b[3] for b in bins],
                    [b[4] for b in bins],
                    style,
                    color=colours[mode],
                    label=f"{mode}{f' {name}' if held else ''} (ECE {figures['ece']:.3f})",
                    clip_on=False,  # a bin of accuracy 0 or 1 shows its whole point on the axis
                )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence", fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    which = f":\nheld out solid, {given} dashed" if held else weights_note(result)
    ax.set_title(f"reliability diagram{which}", fontsize=9)
    legend_beside(ax)


def answers_name(result: dict[str, Any]) -> str:
    """What the answers a run gave are called beside held-out ones: in-sample where the weights were fitted on some of
    its questions, else the shipped weights'."""
    return "in-sample" if fitted_on(result) else "shipped weights"


def plot_groups(ax, result: dict[str, Any], colours: dict[str, str], label: str) -> None:
    """The by-chapter panel: each mode's bars in its colour, each group's chance dashed across them. Where the run has
    held-out answers per chapter (``held_out_answers``) each mode's held-out bar stands beside the hatched bar of the
    answers as given, as in the accuracy panel; the title says which."""
    groups, held = ordered_groups(result), set(held_out_modes(result))
    given = answers_name(result)
    columns = []  # (mode, its figures by group, legend label, hatched)
    for mode, m in result["modes"].items():
        if mode in held:
            columns += [(mode, m["held_out"]["by_group"], f"{mode} held out", False)]
        columns += [(mode, m["by_group"], f"{mode} {given}" if mode in held else mode, mode in held)]
    width = 0.8 / len(columns)
    x = np.arange(len(groups))
    for n, (mode, by_group, name, hatched) in enumerate(columns):
        values = [by_group.get(g, {}).get("accuracy", np.nan) for g in groups]  # none: no bar
        bars = ax.bar(x + n * width, values, width, color=colours[mode], label=name)
        if hatched:
            for bar in bars:
                bar.set(hatch="//", alpha=0.45)
        label_zeros(ax, bars, values)
    chances = group_chances(result)
    levels = [(at, chances[g]["accuracy"]) for at, g in enumerate(groups) if g in chances]
    for number, (at, level) in enumerate(levels):  # a dashed line across each group's bars: its own chance
        span = [at - width / 2, at + 0.8 - width / 2]
        ax.plot(span, [level, level], "--", color="#c0392b", linewidth=1, label="_nolegend_" if number else "chance")
    ticks = [tick_label(g) for g in groups]
    # rotation_mode anchor: each label's end under its bars, its lines aligned
    ax.set_xticks(
        x + width * (len(columns) - 1) / 2, ticks, rotation=45, ha="right", rotation_mode="anchor", fontsize=7
    )
    if groups:  # a mode without bars keeps its places too
        ax.set_xlim(-width / 2 - 0.1, len(groups) - 0.1 - width / 2)
    ax.set_ylim(0, 1)
    which = f": held out solid, {given} hatched" if held else weights_note(result)
    ax.set_title(f"{label} by chapter / group{which}", fontsize=10)
    legend_beside(ax)
