"""The note naming a question's words no indexed text holds skips the words a question asks with ("find", "helps",
"used", "best"): "Which stain helps find acid-fast bacilli?" was told "No indexed text has 'find' (question)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathatlas.retrieval.index import Index
from pathatlas.ui.words import asked_texts, unknown_words
from tests.helpers import hashing_settings, indexed_lecture

LECTURE = "Ziehl-Neelsen stains acid-fast bacilli red. Grocott methenamine silver stains fungi black."


@pytest.fixture(scope="module")
def stains(tmp_path_factory) -> Path:
    """A home whose index (``idx`` beside it) holds one page on special stains (hashing encoder)."""
    return indexed_lecture(tmp_path_factory.mktemp("stains"), "stains.pdf", LECTURE)


def unknown_in(question: str, root: Path, options: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    with Index.open(root / "idx", hashing_settings(root, index=root / "idx")) as idx:
        return [(u.field, u.word) for u in unknown_words(asked_texts(question, list(options)), idx)]


def test_the_words_a_question_asks_with_are_no_words_to_find(stains):
    assert unknown_in("Which stain helps find acid-fast bacilli in a granuloma?", stains) == [("question", "granuloma")]
    assert unknown_in("Which of the following best describes the stain used for fungi?", stains) == []
    assert unknown_in("What is typically seen on a silver stain?", stains) == []


def test_a_mistyped_word_of_the_question_and_an_option_s_asking_word_are_still_named(stains):
    assert unknown_in("Which stain finds acid-fst bacilli?", stains) == [("question", "fst")]
    assert unknown_in("Which stain?", stains, ("Grocott", "used")) == [("option B", "used")], "an option is all named"
