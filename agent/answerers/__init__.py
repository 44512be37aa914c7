"""Answerer registry: ``offline`` (embedded, deterministic) and ``llm`` (any LangChain chat model)."""

from __future__ import annotations

from pathatlas.agent.answerers.base import Answerer, AnswerError
from pathatlas.errors import UnknownNameError
from pathatlas.plugins import import_plugin
from pathatlas.retrieval.encoders import Encoder
from pathatlas.settings import Settings


def create_answerer(name: str, settings: Settings, encoder: Encoder) -> Answerer:
    if name == "offline":
        from pathatlas.agent.answerers.offline import OfflineAnswerer

        return OfflineAnswerer(encoder)
    if name == "llm":
        from pathatlas.agent.answerers.llm import LLMAnswerer

        return LLMAnswerer.from_settings(settings)
    if name.startswith("py:"):
        return import_plugin(name, Answerer, "answerer")(settings)
    raise UnknownNameError(f"unknown answerer {name!r}: use offline, llm or 'py:module.Class'")


__all__ = ["AnswerError", "Answerer", "create_answerer"]
