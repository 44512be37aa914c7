"""The smallest ``Answerer`` plug-in the docstrings allow (``name`` and ``answer``, no ``__init__``) answers, and what
an answerer returns is held to the contract: a text other than the option it chose is one line naming it, and cited
ids its evidence lacks are left out, saying which."""

from __future__ import annotations

import logging

import pytest

from pathatlas.agent.answerers import Answerer, AnswerError, create_answerer
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.settings import Settings

HERE = "py:tests.agent.test_plugin_answerer"
ASKED = ("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])


class Smallest(Answerer):
    """As ``Answerer``'s docstring says a plug-in is written: no ``__init__``, built as ``Class(settings)``."""

    name = "smallest"

    def answer(self, question, evidence):
        return Answer(0, question.options[0], 1.0, cited=[item.id for item in evidence[:1]])


class Disagrees(Smallest):
    """Chooses option A ("Koilocytes") and answers with option B's words."""

    name = "disagrees"

    def answer(self, question, evidence):
        return Answer(0, question.options[1], 0.9)


class CitesUnknown(Smallest):
    """Cites the evidence it was given, and an id that is none of it."""

    name = "cites-unknown"

    def answer(self, question, evidence):
        return Answer(0, question.options[0], 0.9, cited=["f" * 24, *(item.id for item in evidence)])


def found(record: str) -> Evidence:
    return Evidence(record, "page", "Koilocytes show a halo.", Citation("book.pdf", page=1), 1, payload=Payload())


def test_the_smallest_answerer_the_docstring_allows_is_built_and_answers(quick_atlas):
    """It failed to start: "TypeError: Smallest() takes no arguments"."""
    answered = quick_atlas.ask(*ASKED, answerer=f"{HERE}.Smallest")
    assert answered["answer"] == "Koilocytes" and answered["citations"], answered
    built = create_answerer(f"{HERE}.Smallest", Settings(home="/nonexistent"), None)
    assert isinstance(built.settings, Settings)


def test_an_answer_whose_text_is_not_the_option_it_chose_is_one_line_naming_the_answerer(quick_atlas):
    """Choice 0 (A, "Koilocytes") went out as the answer "Goblet cells"."""
    with pytest.raises(AnswerError, match=r"answerer 'disagrees' .* chose option A \('Koilocytes'\) but answered "):
        quick_atlas.ask(*ASKED, answerer=f"{HERE}.Disagrees")


def test_cited_ids_missing_from_the_evidence_are_left_out_saying_which(caplog):
    """They were kept (the agent dropped them silently later; a direct call returned them)."""
    with caplog.at_level(logging.WARNING, logger="pathatlas.agent.answerers.base"):
        answered = CitesUnknown().answer(Question(*ASKED), [found("a" * 24)])
    assert answered.cited == ["a" * 24]
    assert f"'{'f' * 24}', not among its evidence" in caplog.text and "cites-unknown" in caplog.text
