"""Lecture notes cited by the slide a student sees (``indexer/sources/notes.py``): the rendered deck's title slide (and
table of contents) come before the text's first slide, and a Quarto include is read in place, from within the deck's
folder only, so that editing the partial reads the deck again. Hashing encoder: no model is the point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Page, Passage
from pathatlas.indexer.sources.fingerprints import content_hash
from pathatlas.indexer.sources.notes import MAX_INCLUDE_DEPTH, MAX_INCLUDES, NotesSource, with_includes
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import is_slide
from tests.conftest import shared_data
from tests.helpers import hashing_settings, index_new, note, run_cli, slides_of, words_of

TWO_SLIDES = "## Acute inflammation\n\nNeutrophils arrive first.\n\n## Chronic inflammation\n\nMacrophages linger.\n"


def index_report(settings, *paths: Path) -> dict[str, tuple[str, list[str]]]:
    """Each source's status and problems after indexing ``paths`` into the index at ``settings``, by file name."""
    index = Index.open(settings.index_dir, settings, create=True)
    try:
        report = Indexer(index, show_progress=False).add(list(paths))
    finally:
        index.close()
    return {Path(s.source).name: (s.status, s.problems) for s in report.sources}


def searched(settings, query: str) -> tuple[str, str]:
    """The top hit's citation label for ``query``, and what ``pathatlas search`` prints for it."""
    shown = run_cli("search", query, "--index", settings.index_dir, home=settings.home)
    found = run_cli("search", query, "--index", settings.index_dir, "--json", home=settings.home)
    assert shown.exit_code == found.exit_code == 0, shown.output + found.output
    return json.loads(found.stdout)[0]["citation"]["label"], shown.output


# -- 1. slide numbers as the rendered deck shows them ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("front", "first"),
    [
        ("", 1),
        ('---\ntitle: "Title"\nauthor: Serdar Balcı\n---\n', 2),  # the template's placeholder: the deck still shows it
        ("---\ntitle: Inflammation\ntoc: true\n---\n", 3),  # a table of contents' slide after the title slide
        ("---\ntitle: Inflammation\nformat:\n  revealjs:\n    toc: true\n  gfm: default\n---\n", 3),
        ('---\ntitle: "  "\nauthor: A. Teacher\n---\n', 1),  # no title: no title slide, an author alone makes none
        ("---\nauthor: A. Teacher\ntoc: false\n---\n", 1),
    ],
)
def test_a_slide_is_numbered_after_the_title_slide_the_front_matter_makes(tmp_path, front, first):
    source = NotesSource(note(tmp_path, "acute.qmd", front + TWO_SLIDES), hashing_settings(tmp_path))
    records = list(source.records())
    assert [(r.page, r.section) for r in records if isinstance(r, Page)] == [
        (first, "Acute inflammation"),
        (first + 1, "Chronic inflammation"),
    ]
    assert all(is_slide(r.page, r.page_label) for r in records), "each record's label names its page's slide"
    assert {r.page for r in records if isinstance(r, Passage)} == {first, first + 1}


def test_the_atlas_notes_are_cited_by_the_slide_their_deck_shows(tmp_path):
    """Hand-counted in the rendered deck: 1 the title slide ("Title", the author), 2 the cover picture, 3 and 4 titles
    alone, 5 "CNS", 6 a title alone, 7 "Features of Neuronal Injury"."""
    notes = shared_data("atlas/lecture_notes_en.jsonl").read_text().splitlines()
    (text,) = [row["text"] for row in map(json.loads, notes) if row["file"] == "injury-in-central-nervous-system.qmd"]
    source = NotesSource(note(tmp_path, "injury.qmd", text), hashing_settings(tmp_path))
    assert slides_of(source)[:2] == [(5, "CNS"), (7, "Features of Neuronal Injury")]


def test_a_citation_and_a_repeated_slide_name_the_slides_the_deck_shows(tmp_path):
    """A slide shown twice is one hit naming the other (``Hit.repeated_on``), both by the deck's numbers."""
    settings = hashing_settings(tmp_path)
    repeated = "## Questions?\n\nWhat do koilocytes show?\n"
    koilocytes = "## Koilocytes\n\nPerinuclear halos in the cervix.\n"
    deck = f"---\ntitle: Human papillomavirus\n---\n\n{repeated}\n{koilocytes}\n{repeated}"
    index_new(settings, note(tmp_path, "hpv.qmd", deck))
    assert searched(settings, "perinuclear halos")[0] == "Human papillomavirus (hpv.qmd), slide 3"
    label, shown = searched(settings, "koilocytes show")
    assert label == "Human papillomavirus (hpv.qmd), slide 2"
    assert "hpv.qmd), slide 2 (repeated on slide 4)" in shown


# -- 2. Quarto includes --------------------------------------------------------------------------------------------


def test_an_include_is_read_in_place_and_its_headings_begin_slides(tmp_path):
    deck = note(
        tmp_path,
        "cervix.qmd",
        "## Cervix\n\n{{< include _koilocytes.qmd >}}\n\n## Next\n\nSquamous metaplasia.\n\n"
        '{{< include "_quoted part.md" >}}\n\n{{{< include _escaped.qmd >}}}\n',
    )
    note(tmp_path, "_koilocytes.qmd", "---\ntitle: A partial\n---\n\nKoilocytes have halos.\n\n## HPV\n\nE6 and E7.")
    note(tmp_path, "_quoted part.md", "Transformation zone.\n")
    note(tmp_path, "_escaped.qmd", "Never read.\n")
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert [(r.page, r.text) for r in source.records() if isinstance(r, Page)] == [
        (1, "Cervix\n\nKoilocytes have halos."),
        (2, "HPV\n\nE6 and E7."),
        (3, "Next\n\nSquamous metaplasia.\n\nTransformation zone.\n\n{{{< include _escaped.qmd >}}}"),
    ], "the partial's front matter is no words and makes no title slide; an escaped include is shown as written"
    assert source.problems == []


def test_a_nested_include_is_named_from_the_decks_folder_as_quarto_reads_it(tmp_path):
    deck = note(tmp_path, "week1.qmd", "## Granulomas\n\n{{< include parts/_a.qmd >}}\n")
    note(tmp_path, "parts/_a.qmd", "Epithelioid cells.\n\n{{< include parts/_b.qmd >}}\n")
    note(tmp_path, "parts/_b.qmd", "Langhans giant cells.\n")
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert words_of(source) == "Granulomas\n\nEpithelioid cells.\n\nLanghans giant cells."
    assert source.included() == (tmp_path / "parts/_a.qmd", tmp_path / "parts/_b.qmd")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../secret.md", "it lies outside the deck's folder"),
        ("_link.qmd", "it lies outside the deck's folder"),  # a link out of the folder
        ("{outside}", "an absolute path, which Quarto reads from the project's root, is not read"),
        ("_missing.qmd", "no such file in the deck's folder"),
        ("parts", "no such file in the deck's folder"),  # a folder
        ("_self.qmd", "it includes itself"),
        ("_empty.qmd", "_empty.qmd is empty (0 bytes)"),
    ],
)
def test_an_include_outside_the_decks_folder_or_unreadable_is_left_out_and_named(tmp_path, name, why):
    outside = note(tmp_path, "secret.md", "Server secrets.\n")
    course = tmp_path / "course"
    name = name.format(outside=outside)
    deck = note(course, "week1.qmd", f"## Granulomas\n\nEpithelioid cells.\n\n{{{{< include {name} >}}}}\n")
    (course / "_link.qmd").symlink_to(outside)
    (course / "parts").mkdir()
    note(course, "_self.qmd", "Self words.\n\n{{< include _self.qmd >}}\n")
    note(course, "_empty.qmd", "")
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert "secret" not in words_of(source).casefold()
    assert source.problems[-1].startswith(f"{deck}: include {name} not read: ")
    assert source.problems[-1].endswith(why)


def test_includes_nest_at_most_a_set_depth(tmp_path):
    deep = MAX_INCLUDE_DEPTH + 2
    deck = note(tmp_path, "deep.qmd", "## Deep\n\n{{< include _1.qmd >}}\n")
    for level in range(1, deep + 1):
        note(tmp_path, f"_{level}.qmd", f"level{level}\n\n{{{{< include _{level + 1}.qmd >}}}}\n")
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert words_of(source).split("\n\n")[1:] == [f"level{n}" for n in range(1, MAX_INCLUDE_DEPTH + 1)]
    too_deep = f"include _{MAX_INCLUDE_DEPTH + 1}.qmd not read: includes nest over {MAX_INCLUDE_DEPTH} deep"
    assert source.problems == [f"{deck}: {too_deep}"]


def test_a_deck_reads_a_bounded_number_of_includes_and_text(tmp_path):
    """A crafted upload cannot make a deck read without end: a tree of partials each naming the next many times."""
    deck = note(tmp_path, "many.qmd", "## Many\n\n" + "{{< include _word.qmd >}}\n\n" * (MAX_INCLUDES + 5))
    note(tmp_path, "_word.qmd", "granuloma\n")
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert words_of(source).count("granuloma") == MAX_INCLUDES
    assert source.problems == [f"{deck}: includes after the first {MAX_INCLUDES} not read"]
    big = note(tmp_path, "big.qmd", "## Big\n\n{{< include _big.qmd >}}\n")
    note(tmp_path, "_big.qmd", "word " * 100)
    with pytest.raises(BadInputError, match=r"big.qmd with the files it includes is over .* MiB of text, the most"):
        with_includes(big, limit=400)


def test_a_missing_include_is_named_in_the_runs_problems_and_the_rest_indexed(tmp_path):
    settings = hashing_settings(tmp_path)
    deck = note(tmp_path, "week1.qmd", "## Granulomas\n\n{{< include _gone.qmd >}}\n\nEpithelioid cells.\n")
    report = index_report(settings, deck)
    assert report == {
        "week1.qmd": ("indexed", [f"{deck}: include _gone.qmd not read: no such file in the deck's folder"])
    }


def test_a_deck_of_a_missing_include_alone_names_it_once_as_it_fails(tmp_path):
    """Its deck is parsed again where it failed (``size_hint``, then ``records``): the include was named twice."""
    deck = note(tmp_path, "week1.qmd", "---\ntitle: Week 1\n---\n\n{{< include _gone.qmd >}}\n")
    report = index_report(hashing_settings(tmp_path), deck)
    assert report["week1.qmd"][0] == "failed"
    assert report["week1.qmd"][1].count(f"{deck}: include _gone.qmd not read: no such file in the deck's folder") == 1


def test_a_changed_partial_reads_the_deck_including_it_again(tmp_path):
    settings = hashing_settings(tmp_path)
    course = tmp_path / "course"
    deck = note(course, "week1.qmd", "## Granulomas\n\n{{< include _cells.qmd >}}\n")
    alone = note(course, "week2.qmd", TWO_SLIDES)
    partial = note(course, "_cells.qmd", "Epithelioid cells.\n")
    assert index_report(settings, course) == {"week1.qmd": ("indexed", []), "week2.qmd": ("indexed", [])}
    before = NotesSource(deck, settings).content_hash()
    partial.write_text("Langhans giant cells.\n")
    assert NotesSource(deck, settings).content_hash() != before, "what the deck holds changed"
    assert NotesSource(alone, settings).content_hash() == content_hash(alone), "a deck without includes: its file's"
    assert index_report(settings, course) == {"week1.qmd": ("indexed", []), "week2.qmd": ("unchanged", [])}
    assert searched(settings, "Langhans giant cells")[0] == "week1.qmd, slide 1"
