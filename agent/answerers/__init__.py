"""Answerer registry: ``offline`` (embedded, deterministic) and ``llm`` (any LangChain chat model)."""

from __future__ import annotations

from pathatlas.agent.answerers.base import Answerer, AnswerError
from pathatlas.errors import UnknownNameError
from pathatlas.plugins import import_plugin, started
from pathatlas.retrieval.encoders import Encoder
from pathatlas.settings import Settings

ANSWERERS = {
    "offline": "pathatlas.agent.answerers.offline.OfflineAnswerer",
    "llm": "pathatlas.agent.answerers.llm.LLMAnswerer",
}
"""Built-in names and their classes (imported on first use: ``llm`` brings LangChain)."""


def answerer_class(name: str) -> type[Answerer]:
    """The class a built-in name or ``py:`` plugin names, unbuilt: what it can do is known before it is made."""
    if name in ANSWERERS:
        name = f"py:{ANSWERERS[name]}"
    elif not name.startswith("py:"):
        raise UnknownNameError(f"unknown answerer {name!r}: use offline, llm or 'py:module.Class'")
    return import_plugin(name, Answerer, "answerer")


def create_answerer(name: str, settings: Settings, encoder: Encoder | None) -> Answerer:
    """Built-ins and ``py:`` plugins are built the same way: their class's ``create(settings, encoder)``."""
    plugin = answerer_class(name)
    return started(name, "answerer", lambda: plugin.create(settings, encoder))


__all__ = ["AnswerError", "Answerer", "answerer_class", "create_answerer"]
