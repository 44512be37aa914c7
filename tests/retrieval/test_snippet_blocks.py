"""A snippet shows where a slide's blocks end: a slide's page and passages join its bullets, paragraphs and table rows
with a blank line (``notes.BLOCK_BREAK``), which the snippet flattened to a space, so "Causes", "TB", "Sarcoidosis" read
"Causes TB Sarcoidosis", one phrase. A block ending no sentence or clause is now followed by " · "; a PDF's single
newlines, line wraps inside a paragraph, stay spaces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pathatlas.indexer.records import Page
from pathatlas.indexer.sources.notes import NotesSource
from pathatlas.retrieval.fusion import snippet
from pathatlas.retrieval.marks import marked_spans, query_terms
from tests.helpers import hashing_settings, note

DECK = """## Causes of hilar lymphadenopathy

- TB
- Sarcoidosis

| Cause | Granulomas |
|---|---|
| TB | caseating |
"""


def test_a_slides_bullets_and_rows_are_set_apart(tmp_path):
    source = NotesSource(note(tmp_path / "notes", "week1.qmd", DECK), hashing_settings(tmp_path))
    [slide] = [record.text for record in source.records() if isinstance(record, Page)]
    assert snippet(slide, "sarcoidosis") == (
        "Causes of hilar lymphadenopathy · TB · Sarcoidosis · Cause | Granulomas · TB | caseating"
    )


@pytest.mark.parametrize(
    "block",
    [
        "TB is common.",
        "Is it TB?",
        "Rule it out!",
        "Causes:",
        "TB, or sarcoidosis;",
        'Called "Koch\'s disease."',
        "(Rare.)",
    ],
)
def test_a_block_ending_a_sentence_or_clause_is_followed_by_a_space(block):
    """A mark there already ends it, a closing quote or bracket after it too; the block before it ends no clause."""
    assert snippet(f"Causes\n\n{block}\n\nSarcoidosis", None) == f"Causes · {block} Sarcoidosis"


@pytest.mark.parametrize("block", ["Lymphoma...", "Lymphoma…", "Lymphoma ..."])
def test_a_block_trailing_off_in_an_ellipsis_is_still_set_apart(block):
    """Notes read "…" as "...": either spelling trails off rather than ending the bullet's sentence."""
    assert snippet(f"Causes\n\n{block}\n\nSarcoidosis", None) == f"Causes · {block} · Sarcoidosis"


def test_a_single_newline_is_a_space_and_any_blank_line_a_break():
    """A PDF's passage wraps its lines with single newlines: one paragraph, as before; a line of spaces is blank."""
    text = "Granulomas are\ncollections of\r\nmacrophages\n \t\nCaseating\n\n\nNon-caseating"
    assert snippet(text, None) == "Granulomas are collections of macrophages · Caseating · Non-caseating"


FILLER = [f"Filler bullet {n} about cells" for n in range(30)]
KOILOCYTES = [*FILLER, "Koilocytes", "Perinuclear halo", "Raisinoid nuclei", *FILLER]


@pytest.mark.parametrize("width", range(42, 121, 3))
def test_a_long_slides_window_holds_its_weightiest_words_and_opens_and_closes_at_words(width):
    """ "cells" recurs and weighs little: the window holds the three rarer words, their blocks apart, and its edges are
    words of the slide, never the separator of a block cut off (nor, before, a word cut in two)."""
    shown = snippet("\n\n".join(KOILOCYTES), "cells koilocytes perinuclear halo raisinoid", width)
    inner = shown.removeprefix("…").removesuffix("…")
    assert shown.startswith("…") and shown.endswith("…") and len(inner) <= width
    assert "Koilocytes · Perinuclear halo · Raisinoid" in inner
    words = " ".join(KOILOCYTES).split()
    assert inner.split()[0] in words and inner.split()[-1] in words


def test_the_separator_is_never_marked_and_leaves_the_words_beside_it_marked():
    """The web UI highlights a snippet's words by ``marked_spans``: the marks are the words, at the new offsets."""
    shown = snippet("Causes\n\nTB\n\nSarcoidosis\n\nNon-caseating granulomas", "causes · sarcoidosis caseating")
    assert shown == "Causes · TB · Sarcoidosis · Non-caseating granulomas"
    spans = marked_spans(shown, query_terms("causes · sarcoidosis caseating"))
    assert [(shown[start:end], start) for start, end in spans] == [
        ("Causes", 0),
        ("Sarcoidosis", 14),
        ("caseating", 32),
    ]


WORD = st.text(st.sampled_from("abcdefgğiıöşü-.!?:;\"')]"), min_size=1, max_size=14)
SPACING = st.sampled_from([" ", "\n", "\n\n", "\n \n", "\n\n\n", "\t\n", " \n\n "])
"""Between two words: a space, a wrapped line, or a blank line (a block break)."""


@st.composite
def texts(draw) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=80))
    return "".join(word + draw(SPACING) for word in words).rstrip()


def runs_fitting(words: list[str], source: list[str], opens_cut: bool, closes_cut: bool) -> list[int]:
    """Where ``words`` stand in ``source`` word for word (the last may be a word cut at the width, where it is alone)
    with an ellipsis exactly where the window cuts the source."""
    fitting = []
    for first in range(len(source) - len(words) + 1):
        run = source[first : first + len(words)]
        cut_alone = len(words) == 1 and run[0].startswith(words[0]) and run[0] != words[0]
        if run[:-1] == words[:-1] and (run[-1] == words[-1] or cut_alone):
            ends_source = first + len(words) == len(source) and not cut_alone
            if opens_cut == (first > 0) and closes_cut == (not ends_source):
                fitting.append(first)
    return fitting


@given(texts(), st.data(), st.integers(min_value=8, max_value=300))
@hyp_settings(max_examples=300, deadline=None)
def test_a_snippet_is_one_line_of_the_source_windows_words_and_separators(text, data, width):
    source = text.split()
    query = " ".join(data.draw(st.lists(st.sampled_from(source), max_size=3)))
    shown = snippet(text, query, width)
    assert "\n" not in shown and " ·  " not in shown and "· ·" not in shown
    inner = shown.removeprefix("…").removesuffix("…")
    words = inner.replace(" · ", " ").split()
    assert runs_fitting(words, source, shown.startswith("…"), shown.endswith("…")), (shown, source)
