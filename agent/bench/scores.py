"""How an answer scores against its question's gold answer, and how a result records it."""

from __future__ import annotations

import re
from collections import Counter

from pathatlas.agent.bench.items import Item, as_filed, yes_no
from pathatlas.agent.questions import Answer


def token_recall(prediction: str, gold: str) -> float:
    """The share of the right answer's words (lower-cased, with repeats) the answer says. An answer that quotes a
    sentence is long beside a few-word right answer, so F1's precision would mostly measure its length; recall is
    what judges of long answers agree with best (Adlakha et al. 2023, "Evaluating correctness and faithfulness of
    instruction-following models for question answering")."""
    pred, ref = re.findall(r"\w+", prediction.lower()), re.findall(r"\w+", gold.lower())
    return sum((Counter(pred) & Counter(ref)).values()) / len(ref) if ref else 0.0


def recorded_answer(item: Item, answer: Answer) -> str:
    """An answer as a result records it, in the gold's terms: an option's letter as the file letters it, "yes" or
    "no" for a yes/no question (its gold is the word: the letter "B" beside the gold "yes" read as another question's
    answer), else the answer's text."""
    if item.kind == "yesno":
        return yes_no(answer.text) or answer.text
    return as_filed(item, answer.letter) or answer.text


def is_correct(item: Item, answer: Answer) -> float:
    if item.kind == "mcq":
        return float(answer.letter == item.gold_answer.upper())
    if item.kind == "yesno":
        return float(yes_no(answer.text) == item.gold_answer)
    return token_recall(answer.text, item.gold_answer)


KIND_METRIC = {"mcq": "accuracy", "yesno": "accuracy", "open": "token recall"}
"""What a question kind's score is: right or wrong, or the share of the right answer's words said."""


def score_label(kinds: dict[str, int]) -> str:
    """The name of the main score over these question kinds: accuracy, token recall (open questions only), or mean
    score where the two mix (the per-kind table tells them apart)."""
    metrics = {KIND_METRIC[kind] for kind, n in kinds.items() if n}
    return metrics.pop() if len(metrics) == 1 else "mean score"
