"""The ``Answerer`` protocol: a question plus retrieved evidence in, an answer that cites evidence out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.errors import PathAtlasError


class AnswerError(PathAtlasError):
    """The answerer could not produce a usable answer (unreachable model, garbage output after retries)."""


class Answerer(ABC):
    """Answers one question from the evidence it is given.

    Contract: ``answer.cited`` only names ids present in ``evidence``; with no evidence the answerer
    answers from the question alone (the no-retrieval baseline) rather than failing.
    """

    name: ClassVar[str]

    @abstractmethod
    def answer(self, question: Question, evidence: list[Evidence]) -> Answer: ...
