"""The ``Answerer`` protocol: a question plus retrieved evidence in, an answer that cites evidence out."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.errors import PathAtlasError
from pathatlas.plugins import cause

if TYPE_CHECKING:
    from pathatlas.retrieval.encoders import Encoder
    from pathatlas.settings import Settings


class AnswerError(PathAtlasError):
    """The answerer could not produce a usable answer (unreachable model, garbage output after retries): the CLI
    prints it as one line, REST answers 502 (the answerer, or the model server behind it, failed; not the request)."""


class Answerer(ABC):
    """Answers one question from the evidence it is given.

    Contract: ``answer`` returns an ``Answer`` whose ``cited`` only names ids present in ``evidence``; with no
    evidence the answerer answers from the question alone (the no-retrieval baseline) rather than failing. When it
    cannot answer (its model server is down, its output unusable) it raises ``AnswerError`` with one line saying why.
    Anything else it raises, or a return value that is not an ``Answer``, becomes an ``AnswerError`` naming the
    answerer (``checked_answers`` wraps every subclass's ``answer``), so a plug-in's bug is one line, not a traceback.
    """

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "answer" in vars(cls):
            cls.answer = checked_answers(cls.answer)

    @classmethod
    def create(cls, settings: Settings, encoder: Encoder | None) -> Answerer:
        """How the registry builds every answerer, built-in or ``py:`` plugin: from the settings and the index's
        encoder. By default the settings alone (``__init__(settings)``); override to take what you need."""
        return cls(settings)

    @abstractmethod
    def answer(self, question: Question, evidence: list[Evidence]) -> Answer: ...


def checked_answers(answer: Callable[..., Any]) -> Callable[..., Answer]:
    """``answer`` whose failures, and return values other than an ``Answer``, are an ``AnswerError`` naming the
    answerer by its name and class; a ``PathAtlasError`` it raises (its own ``AnswerError``) passes as it is."""

    @functools.wraps(answer)
    def checked(self: Answerer, *args: Any, **kwargs: Any) -> Answer:
        named = f"answerer {getattr(self, 'name', '?')!r} ({type(self).__module__}.{type(self).__qualname__})"
        try:
            answered = answer(self, *args, **kwargs)
        except PathAtlasError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plug-in's bug: one line naming it
            raise AnswerError(f"{named} failed: {cause(exc)}") from exc
        if not isinstance(answered, Answer):
            raise AnswerError(f"{named} returned {type(answered).__name__}, not an Answer")
        return answered

    return checked
