"""The ``Answerer`` protocol: a question plus retrieved evidence in, an answer that cites evidence out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.errors import PathAtlasError

if TYPE_CHECKING:
    from pathatlas.retrieval.encoders import Encoder
    from pathatlas.settings import Settings


class AnswerError(PathAtlasError):
    """The answerer could not produce a usable answer (unreachable model, garbage output after retries)."""


class Answerer(ABC):
    """Answers one question from the evidence it is given.

    Contract: ``answer.cited`` only names ids present in ``evidence``; with no evidence the answerer
    answers from the question alone (the no-retrieval baseline) rather than failing.
    """

    name: ClassVar[str]

    @classmethod
    def create(cls, settings: Settings, encoder: Encoder | None) -> Answerer:
        """How the registry builds every answerer, built-in or ``py:`` plugin: from the settings and the index's
        encoder. By default the settings alone (``__init__(settings)``); override to take what you need."""
        return cls(settings)

    @abstractmethod
    def answer(self, question: Question, evidence: list[Evidence]) -> Answer: ...
