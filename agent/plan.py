"""Decomposition of a question into sub-queries, and query rewriting for weak options (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pathatlas.agent.questions import Question

QUESTION_OPENERS = re.compile(
    r"^(which|what|who|where|when|how|why|name|identify|select|choose)\b.*", re.IGNORECASE | re.DOTALL
)
BLANKS = re.compile(r"_{2,}|\(\s*\)")
NEGATION = re.compile(r"\bnot (a|an|part|common|one)\b|\bexcept\b", re.IGNORECASE)
"""Odd-one-out questions ("is not a type of", "all ... except"). Plain "does not" is left alone: the
evidence usually states the negative fact itself, so the best-supported option is still the answer."""


IMAGE_QUERY = "img"
"""Id of the image sub-query; similar-case votes count only what the image itself retrieved."""


@dataclass(frozen=True)
class SubQuery:
    id: str
    text: str | None
    purpose: str
    """question, option, finding, image or rewrite."""
    option: int | None = None
    use_image: bool = False


def stem(question: str) -> str:
    """The question without blanks and boilerplate, as a search query."""
    text = BLANKS.sub(" ", question)
    text = re.sub(r"\b(which of the following|the following|is most likely|best describes?)\b", " ", text, flags=re.I)
    return " ".join(text.split())


def key_findings(question: str) -> list[str]:
    """Descriptive sentences of a vignette (not the final interrogative one); none for one-line questions."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s.strip()]
    if len(sentences) < 2:
        return []
    return [s for s in sentences if not QUESTION_OPENERS.match(s) and len(s.split()) >= 3]


def is_negated(question: str) -> bool:
    """Questions that ask for the option the evidence does not support ("... is NOT ...", "EXCEPT")."""
    return bool(NEGATION.search(question))


def plan(question: Question) -> list[SubQuery]:
    """One query for the question, one per option (question plus option), one per key finding, the image."""
    queries: list[SubQuery] = []
    base = stem(question.text) if question.text.strip() else None
    if base:
        queries.append(SubQuery("q", base, "question"))
    for i, option in enumerate(question.options):
        queries.append(SubQuery(f"o{i}", f"{base} {option}" if base else option, "option", option=i))
    for n, finding in enumerate(key_findings(question.text)):
        queries.append(SubQuery(f"f{n}", finding, "finding"))
    if question.image is not None:
        queries.append(SubQuery(IMAGE_QUERY, None, "image", use_image=True))
    return queries


def rewrite(question: Question, option: int, round_: int) -> SubQuery:
    """A narrower query for an option the evidence barely mentions: the option with the question's longest words."""
    words = sorted(set(re.findall(r"[A-Za-z][A-Za-z-]{4,}", stem(question.text))), key=len, reverse=True)
    keywords = " ".join(words[: 4 if round_ == 1 else 2])
    return SubQuery(f"r{round_}o{option}", f"{question.options[option]} {keywords}".strip(), "rewrite", option=option)
