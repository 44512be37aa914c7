"""The ``Answerer`` protocol: a question plus retrieved evidence in, an answer that cites evidence out."""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.errors import PathAtlasError
from pathatlas.plugins import cause

if TYPE_CHECKING:
    from pathatlas.retrieval.encoders import Encoder
    from pathatlas.settings import Settings

log = logging.getLogger(__name__)


class AnswerError(PathAtlasError):
    """The answerer could not produce a usable answer (unreachable model, garbage output after retries): the CLI
    prints it as one line, REST answers 502 (the answerer, or the model server behind it, failed; not the request)."""


class Answerer(ABC):
    """Answers one question from the evidence it is given.

    What a plug-in writes, and no more: ``name`` and ``answer``. It is built as ``Class(settings)``, which this
    ``__init__`` keeps as ``self.settings``; write an ``__init__(self, settings)``, or override ``create``, only to
    take more.

    Contract: ``answer`` returns an ``Answer`` whose ``choice`` (multiple choice) is an option's index and whose
    ``text`` is then that option as the question writes it, and whose ``cited`` only names ids present in
    ``evidence``; with no evidence the answerer answers from the question alone (the no-retrieval baseline) rather
    than failing. When it cannot answer (its model server is down, its output unusable) it raises ``AnswerError`` with
    one line saying why. Anything else it raises, a return value that is not an ``Answer``, or a ``text`` other than
    the chosen option becomes an ``AnswerError`` naming the answerer; cited ids not in ``evidence`` are dropped with a
    warning naming them (``checked_answers`` wraps every subclass's ``answer``), so a plug-in's bug is one line, not a
    traceback nor an answer contradicting itself.
    """

    name: ClassVar[str]

    def __init__(self, settings: Settings | None = None):
        self.settings = settings

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
    answerer by its name and class; a ``PathAtlasError`` it raises (its own ``AnswerError``) passes as it is. What it
    returns is held to the contract (``kept_to_contract``)."""

    @functools.wraps(answer)
    def checked(self: Answerer, question: Question, evidence: list[Evidence], *args: Any, **kwargs: Any) -> Answer:
        named = f"answerer {getattr(self, 'name', '?')!r} ({type(self).__module__}.{type(self).__qualname__})"
        try:
            answered = answer(self, question, evidence, *args, **kwargs)
        except PathAtlasError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plug-in's bug: one line naming it
            raise AnswerError(f"{named} failed: {cause(exc)}") from exc
        if not isinstance(answered, Answer):
            raise AnswerError(f"{named} returned {type(answered).__name__}, not an Answer")
        return kept_to_contract(answered, question, evidence, named)

    return checked


def kept_to_contract(answered: Answer, question: Question, evidence: list[Evidence], named: str) -> Answer:
    """``answered``, refused where its ``text`` is not the option its ``choice`` names (which of the two the answerer
    meant cannot be told: choice 0, "Koilocytes", went out as "Goblet cells"), with the ``cited`` ids ``evidence``
    lacks dropped, saying which (the answer may stand without them, as the LLM answerer drops a model's made-up ids).
    A choice outside the options is left to the agent, which refuses it."""
    choice, options = answered.choice, question.options
    chosen = options[choice] if choice is not None and 0 <= choice < len(options) else answered.text
    if answered.text != chosen:
        raise AnswerError(
            f"{named} chose option {answered.letter} ({chosen!r}) but answered {answered.text!r}: an answer's text is "
            "the option it chooses"
        )
    known = {item.id for item in evidence}
    if unknown := [record for record in answered.cited if record not in known]:
        log.warning("%s cited %s, not among its evidence: left out", named, ", ".join(map(repr, unknown)))
        answered.cited = [record for record in answered.cited if record in known]
    return answered
