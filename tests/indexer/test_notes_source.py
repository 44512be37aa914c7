"""Lecture notes in Markdown or Quarto (``indexer/sources/notes.py``): a file of slides indexes as a PDF does, one
page per slide, its words plain text, found and cited by file and slide ("week1.qmd, slide 3") without a box, and a
file that is no text fails in one line, leaving what was indexed. Hashing encoder: no model is the point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Page, Passage
from pathatlas.indexer.sources import discover
from pathatlas.indexer.sources import notes as notes_module
from pathatlas.indexer.sources.notes import NotesSource, metadata, read_note, slides, without_data_uris
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.ui.api.app import create_app
from pathatlas.ui.present import place
from tests.helpers import hashing_settings, index_new, one_error_line, run_cli

WEEK1 = """---
title: "Week 1: Squamous lesions"
author: A. Teacher
format: revealjs
---

![cover](img/cover.png)

# Skin

## Squamous cell carcinoma {.smaller}

-   **Keratin pearls** and [intercellular bridges](https://example.org/bridges)
-   __Invasion__ of the *dermis* ![a pearl, high power](img/pearl.png)

<!-- show the gross photograph first -->

::: {.notes}
Ask the students about actinic keratosis.
:::

### Grading

Well differentiated tumours keep their `keratin`.

---

| Marker | Result |
|---|---|
| p63 | positive |

```python
grade = "G1"
```

# Lung

## Granulomas

Caseating granuloma with Langhans giant cells in tuberculosis.
"""
"""A Quarto deck: its title slide (slide 1, of the front matter), a cover picture (2, no words), a ``#`` section slide,
a ``##`` slide under it, a slide after a rule, then a second chapter."""


def pages_and_passages(source: NotesSource) -> tuple[list[Page], list[Passage]]:
    records = list(source.records())
    return [r for r in records if isinstance(r, Page)], [r for r in records if isinstance(r, Passage)]


def note(folder: Path, name: str, text: str | bytes) -> Path:
    """``folder/name`` holding ``text``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def add(settings, *paths: Path) -> dict[str, str]:
    """Each source's status after indexing ``paths`` into the index at ``settings``, by file name."""
    index = Index.open(settings.index_dir, settings, create=True)
    try:
        return {Path(s.source).name: s.status for s in Indexer(index, show_progress=False).add(list(paths)).sources}
    finally:
        index.close()


def search(settings, query: str) -> list[dict]:
    result = run_cli("search", query, "--index", settings.index_dir, "--json", home=settings.home)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def week1(tmp_path) -> NotesSource:
    return NotesSource(note(tmp_path / "notes", "week1.qmd", WEEK1), hashing_settings(tmp_path))


# -- slides ------------------------------------------------------------------------------------------------------------


def test_a_slide_begins_at_each_level_one_or_two_heading_and_each_rule(week1):
    pages, _ = pages_and_passages(week1)
    assert [(p.page, p.section) for p in pages] == [
        (4, "Skin > Squamous cell carcinoma"),
        (5, "Skin"),  # after the rule: no heading of its own, its chapter's
        (7, "Lung > Granulomas"),
    ], "the title slide (1), the cover picture (2) and the chapters' title slides (3, 6) have no words but titles: no "
    "page, their numbers"
    assert all(p.image is None and p.page_label == f"slide {p.page}" for p in pages)
    assert "Grading" in pages[0].text, "a ### heading is a line of its slide, not a slide"


def test_headings_and_rules_in_code_or_under_a_paragraph_are_what_markdown_makes_them():
    deck = slides(
        "## One\n\n```\n# a comment, not a slide\n---\n```\n\n> ## Quoted\n>\n> ***\n\nA line\n---\n\n## Three\n"
    )
    assert [(s.number, s.section) for s in deck] == [(1, "One"), (2, "A line"), (3, "Three")]
    assert deck[0].blocks[-1] == "Quoted", "a heading or rule in a quote is no slide of its own"
    assert deck[0].blocks[:2] == ["One", "# a comment, not a slide\n---"], "code keeps its lines, its fence goes"


def test_a_rule_directly_before_a_slide_heading_is_no_slide_as_pandoc_drops_it():
    deck = slides(
        "## A\n\nalpha\n\n---\n\n\n## B\n\nbeta\n\n---\n\n![](pic.png)\n\n## C\n\n---\n\ngamma\n\n---\n\n---\n\n# D\n"
    )
    assert [(s.number, s.section) for s in deck] == [
        (1, "A"),
        (2, "B"),
        (3, ""),
        (4, "C"),
        (5, ""),
        (6, ""),
        (7, "D"),
    ]
    assert deck[4].blocks == ["gamma"], "a rule before words or a picture is a slide of its own, as it was"


@pytest.mark.parametrize(
    ("opening", "words"),
    [
        ("---\n\nDefinition: a slide's words\n\n---\n\n", ["Definition: a slide's words"]),  # blank after ``---``
        ("---\n\n## First slide\n\n- hornbill\n\n---\n\n", ["First slide", "hornbill"]),  # the reviewer's deck
        ("---\n- hornbill\n- puffin\n---\n\n", ["hornbill", "puffin"]),  # YAML, a list
        ("---\nJust a line of words\n---\n\n", ["Just a line of words"]),  # YAML, a string
    ],
)
def test_an_opening_rule_or_a_block_that_is_no_yaml_mapping_is_no_front_matter(opening, words):
    meta, body = metadata(opening + "## Last slide\n\n- toucan\n")
    deck = slides(body)
    assert meta == {} and [block for slide in deck for block in slide.blocks] == [*words, "Last slide", "toucan"]


def test_a_slide_with_no_words_but_its_title_yields_nothing_and_keeps_its_number(tmp_path):
    deck = "# Serdar BALCI, MD\n\n## Questions?\n\n## Picture\n\n![a koilocyte](k.png)\n\n## Koilocytes\n\nHalos.\n"
    pages, passages = pages_and_passages(NotesSource(note(tmp_path, "hpv.qmd", deck), hashing_settings(tmp_path)))
    assert [(p.page, p.section, p.text) for p in pages] == [
        (4, "Serdar BALCI, MD > Koilocytes", "Koilocytes\n\nHalos.")
    ]
    assert {p.page for p in passages} == {4}
    titles_alone = note(tmp_path, "outline.md", "# Neoplasia\n\n## Nomenclature\n")
    result = run_cli("index", titles_alone, "--index", tmp_path / "idx", home=tmp_path / "home")
    assert one_error_line(result, "outline.md holds no words to index (front matter, slide titles")


def test_front_matter_gives_the_title_and_is_not_text(week1):
    pages, passages = pages_and_passages(week1)
    assert {r.book for r in [*pages, *passages]} == {"Week 1: Squamous lesions"}
    assert not any("revealjs" in r.text or "A. Teacher" in r.text for r in [*pages, *passages])


@pytest.mark.parametrize(
    ("front", "book"),
    [
        ('---\ntitle: "Title"\n---\n', ""),  # the slide template's placeholder
        ("---\ntitle: [unclosed\n---\n", ""),  # YAML that cannot be read: no title, still no text
        ("", ""),
        ("---\ntitle: Inflammation\nlang: en\n...\n", "Inflammation"),
    ],
)
def test_a_title_only_where_the_front_matter_sets_one(tmp_path, front, book):
    path = note(tmp_path, "acute.md", front + "## Acute inflammation\n\nNeutrophils arrive first.\n")
    pages, _ = pages_and_passages(NotesSource(path, hashing_settings(tmp_path)))
    assert [(p.book, p.text) for p in pages] == [(book, "Acute inflammation\n\nNeutrophils arrive first.")]


def test_markdown_is_read_as_plain_text_in_reading_order(week1):
    pages, passages = pages_and_passages(week1)
    assert pages[0].text == (
        "Squamous cell carcinoma\n\n"
        "Keratin pearls and intercellular bridges\n\n"
        "Invasion of the dermis\n\n"
        "Ask the students about actinic keratosis.\n\n"
        "Grading\n\n"
        "Well differentiated tumours keep their keratin."
    ), "emphasis, links, bullets, a comment, a picture (its alt text too), a div's fences and attributes are dropped"
    assert pages[1].text == 'Marker | Result\n\np63 | positive\n\ngrade = "G1"', "a table by rows, code without fences"
    assert [p.text for p in passages if p.page == 4] == [pages[0].text], "a short slide is one passage"
    assert all(p.bbox is None and p.page_label == f"slide {p.page}" for p in passages)


def test_raw_html_blocks_end_at_block_elements_and_their_headings_begin_slides():
    deck = slides(
        "<section>\n<h2>Psammoma &amp; bodies</h2>\n<p>Laminated <b>calcified</b> concretions</p>\n</section>\n\n"
        "<section>\n<h2>Second raw slide</h2>\n<ul><li>Meningioma whorls</li><li>Serous carcinoma</li></ul>"
        "<div>Thyroid<br>papillary</div>\n</section>\n\n"
        "- <div>\n  <h2>In a list: no slide</h2>\n  </div>\n"
    )
    assert [(s.number, s.section, s.blocks) for s in deck] == [
        (1, "Psammoma & bodies", ["Psammoma & bodies", "Laminated calcified concretions"]),
        (
            2,
            "Second raw slide",
            [
                "Second raw slide",
                "Meningioma whorls",
                "Serous carcinoma",
                "Thyroid",
                "papillary",
                "In a list: no slide",
            ],
        ),
    ]


def test_a_line_break_tag_in_a_paragraph_or_a_table_cell_parts_the_words():
    table = "| Kind | Death |\n|---|---|\n| Apoptosis | unwanted cells)<br />Pathologic (DNA damage) |\n"
    (slide,) = slides("## Cell death\n\nPhysiologic<br>apoptosis<BR/>too\n\n" + table)
    assert slide.blocks[1:] == [
        "Physiologic\napoptosis\ntoo",
        "Kind | Death",
        "Apoptosis | unwanted cells) Pathologic (DNA damage)",
    ]


def test_quarto_shortcode_lines_are_dropped():
    """An include's line is replaced by its file's text before (``with_includes``,
    ``tests/indexer/test_notes_slides_and_includes.py``)."""
    (slide,) = slides("## Cervix\n\n{{< pagebreak >}}\n\n- CIN1 {{< fa star >}} lower third\n")
    assert slide.blocks == ["Cervix", "CIN1 {{< fa star >}} lower third"], "a shortcode within a line stays"


def test_slides_exported_from_powerpoint_read_as_words():
    """As the atlas's notes are: a title's line break a vertical tab, bold closed after a space (no bold to CommonMark);
    a blank to fill kept."""
    exported = "## Well differentiated\x0bretain function\n\n__Idiopathic __\n\n__Those trapped\\, leached __\n\n"
    (slide,) = slides(exported + "The ____ gland\n")
    assert slide.section == "Well differentiated retain function"
    assert slide.blocks[1:] == ["Idiopathic", "Those trapped, leached", "The ____ gland"]


def test_a_long_slide_splits_into_passages_of_the_pdf_sizes_in_reading_order(tmp_path):
    items = [f"- Item {n} says {' '.join(['word'] * 8)}" for n in range(30)]
    path = note(tmp_path, "long.md", "## Long slide\n\n" + "\n".join(items) + "\n")
    settings = hashing_settings(tmp_path, passage_min_words=20, passage_max_words=40)
    pages, passages = pages_and_passages(NotesSource(path, settings))
    assert len(passages) > 5 and [p.index for p in passages] == list(range(len(passages)))
    assert all(len(p.text.split()) <= 40 for p in passages)
    assert "\n\n".join(p.text for p in passages) == pages[0].text, "every word once, in order"


def test_a_turkish_note_keeps_its_dotted_and_dotless_i(tmp_path):
    turkish = "## İnflamatuar polipler\n\n- **Kırmızı**, ılık ve şiş\n- Işık mikroskobunda iğsi hücreler\n"
    pages, passages = pages_and_passages(NotesSource(note(tmp_path, "polip.qmd", turkish), hashing_settings(tmp_path)))
    assert pages[0].section == "İnflamatuar polipler"
    assert passages[0].text == "İnflamatuar polipler\n\nKırmızı, ılık ve şiş\n\nIşık mikroskobunda iğsi hücreler"


# -- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a text file (it holds binary data)"),
        ("## Akciğer\n".encode("cp1254"), "is not UTF-8 text (byte 0xf0 at offset 7): save it as UTF-8"),
        ("## Lung\n".encode("utf-16"), "is UTF-16 text: save it as UTF-8"),
        (b"---\ntitle: Empty\n---\n\n![](a.png)\n\n   \n", "holds no words to index"),
    ],
)
def test_a_file_that_is_no_notes_fails_in_one_line(tmp_path, content, said):
    path = note(tmp_path, "bad.md", content)
    result = run_cli("index", path, "--index", tmp_path / "idx", home=tmp_path / "home")
    assert one_error_line(result, str(path), said)


def test_a_huge_file_is_refused_unread(tmp_path):
    path = note(tmp_path, "huge.md", b"## Big\n" + b"word " * 500_000)
    with pytest.raises(BadInputError, match=r"huge.md is over 1 MiB of text \(pictures inside it aside\), the most"):
        read_note(path, limit=1 << 20)
    with pytest.raises(BadInputError, match=r"huge.md is over 2 MiB, the most a notes file may hold"):
        read_note(path, file_limit=2 << 20)
    huger = note(tmp_path, "huger.md", b"word " * 500_000)
    result = run_cli("index", huger, "--index", tmp_path / "idx", home=tmp_path / "home")
    assert one_error_line(result, "huger.md is over 2 MiB of text")


def test_pictures_inside_a_powerpoint_export_do_not_count_to_the_text_limit(tmp_path):
    picture = b"iVBORw0KGgo" + b"A" * (3 << 20)
    export = (
        b"## Slide 1\n\n__Koilocytes in the cervix__\n\n![](data:image/png;base64," + picture + b")\n\n"
        b'<img src="data:image/jpeg;base64,' + picture + b'" alt="x">\n\n## Slide 2\n\nGranuloma (data: none)\n'
    )
    text = read_note(note(tmp_path, "ppt.md", export))
    assert text == (
        '## Slide 1\n\n__Koilocytes in the cervix__\n\n![]()\n\n<img src="" alt="x">\n\n'
        "## Slide 2\n\nGranuloma (data: none)\n"
    )
    with pytest.raises(BadInputError, match=r"ppt.md is over 4 MiB, the most a notes file may hold"):
        read_note(tmp_path / "ppt.md", file_limit=4 << 20)


@pytest.mark.parametrize("size", [1, 7, 64, 1000])
def test_data_uris_are_dropped_wherever_the_file_is_cut_into_parts(size):
    text = b"a](data:image/png;base64,QUJD)b<IMG SRC='data:,xyz'>c](data:zz)d" * 3
    parts = [text[start : start + size] for start in range(0, len(text), size)]
    assert b"".join(without_data_uris(parts)) == b"a]()b<IMG SRC=''>c](data:zz)d" * 3


def test_a_bad_note_in_a_folder_fails_alone_and_a_broken_copy_keeps_what_was_indexed(tmp_path):
    settings = hashing_settings(tmp_path)
    notes = tmp_path / "notes"
    note(notes, "week1.qmd", WEEK1)
    index_new(settings, notes)
    note(notes, "week1.qmd", b"\x00\x01\x02 saved over by a crash")
    note(notes, "week2.md", "## Fibrosis\n\nCollagen replaces the parenchyma.\n")
    report = add(settings, notes)
    assert report == {"week1.qmd": "failed", "week2.md": "indexed"}
    found = search(settings, "Langhans giant cells")
    assert found[0]["citation"]["label"] == "Week 1: Squamous lesions (week1.qmd), slide 7", "the last good copy"


# -- indexing, search and answers ---------------------------------------------------------------------------------


def test_a_folder_of_notes_is_one_source_a_file_read_again_only_where_it_changed(tmp_path):
    settings = hashing_settings(tmp_path)
    notes = tmp_path / "notes"
    note(notes, "week1.qmd", WEEK1)
    note(notes, "week2.md", "## Fibrosis\n\nCollagen replaces the parenchyma.\n")
    note(notes, "readme.txt", "not notes")
    assert [(s.kind, s.path.name) for s in discover(notes, settings)] == [("notes", "week1.qmd"), ("notes", "week2.md")]
    assert add(settings, notes) == {"week1.qmd": "indexed", "week2.md": "indexed"}
    assert add(settings, notes) == {"week1.qmd": "unchanged", "week2.md": "unchanged"}
    note(notes, "week2.md", "## Fibrosis\n\nCollagen and myofibroblasts replace the parenchyma.\n")
    assert add(settings, notes) == {"week1.qmd": "unchanged", "week2.md": "indexed"}
    assert search(settings, "myofibroblasts")[0]["citation"]["label"] == "week2.md, slide 1"


def test_index_help_names_lecture_notes(tmp_path):
    result = run_cli("index", "--help", home=tmp_path / "home")
    assert "lecture notes (.md, .qmd, .markdown)" in " ".join(result.output.split())


def test_a_file_that_is_no_notes_names_what_can_be_indexed(tmp_path):
    path = note(tmp_path, "notes.txt", "Goblet cells secrete mucus.")
    result = run_cli("index", path, "--index", tmp_path / "idx", home=tmp_path / "home")
    assert one_error_line(result, "neither a PDF nor a case folder", "nor lecture notes (.md, .qmd, .markdown)")


@pytest.fixture
def notes_service(tmp_path) -> Iterator[TestClient]:
    """The REST service on a new index of ``WEEK1``, one ``week1.qmd`` indexed alone."""
    settings = hashing_settings(tmp_path)
    index_new(settings, note(tmp_path / "notes", "week1.qmd", WEEK1))
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_slide_is_found_and_cited_by_file_and_slide_without_a_box(notes_service):
    found = notes_service.post("/search", json={"text": "Langhans giant cells", "k": 3})
    assert found.status_code == 200, found.text
    top = found.json()["hits"][0]
    assert (top["kind"], top["section"]) == ("page", "Lung > Granulomas")
    assert top["citation"]["label"] == "Week 1: Squamous lesions (week1.qmd), slide 7"
    assert (top["citation"]["page"], top["citation"]["page_label"], top["citation"]["bbox"]) == (7, "slide 7", None)
    assert top["page_url"] is None and "Langhans" in top["snippet"]
    opened = notes_service.get(f"/records/{top['id']}")
    assert opened.status_code == 200, opened.text
    assert opened.json()["citation"]["label"] == top["citation"]["label"]
    assert opened.json()["citation"]["bbox"] is None


def test_an_answer_from_notes_cites_the_slide(notes_service):
    question = {"question": "Which cells mark a caseating granuloma?", "options": ["Langhans giant cells", "p63"]}
    answered = notes_service.post("/ask", json=question)
    assert answered.status_code == 200, answered.text
    answer = answered.json()
    assert answer["answer"] == "Langhans giant cells"
    assert "Week 1: Squamous lesions (week1.qmd), slide 7" in [c["label"] for c in answer["citations"]]
    assert all(citation["bbox"] is None for citation in answer["citations"])


def test_a_slide_shown_twice_is_one_hit_naming_the_other_slide(tmp_path):
    settings = hashing_settings(tmp_path)
    repeated = "## Questions?\n\nWhat do koilocytes show?\n"
    index_new(settings, note(tmp_path, "hpv.md", f"{repeated}\n## Koilocytes\n\nHPV changes.\n\n{repeated}"))
    (top,) = [hit for hit in search(settings, "koilocytes show") if hit["citation"]["page"] == 1]
    assert top["repeated_on"] == [3]
    result = run_cli("search", "koilocytes show", "--index", settings.index_dir, home=settings.home)
    assert "hpv.md, slide 1 (repeated on slide 3)" in result.output


def test_a_slide_label_reads_as_a_slide_and_a_printed_page_number_as_before():
    assert Citation("/notes/week1.qmd", 3, page_label="slide 3").label() == "week1.qmd, slide 3"
    assert Citation("/lib/L04.pdf", 2, page_label="13").label() == "L04.pdf, p. 13 (PDF p. 2)"
    assert Citation("/lib/L04.pdf", 2, page_label="slide 3").label() == "L04.pdf, p. slide 3 (PDF p. 2)"
    hit = Hit("id", 1.0, "page", "", Citation("/notes/hpv.md", 1, page_label="slide 1"), repeated_on=[3, 7])
    assert hit.label() == "hpv.md, slide 1 (repeated on slide 3, 7)"
    printed = Hit("id", 1.0, "page", "", Citation("/lib/a.pdf", 1, page_label="i"), repeated_on=[3])
    assert printed.label() == "a.pdf, p. i (PDF p. 1) (repeated on PDF p. 3)"


def test_each_bullet_is_a_sentence_of_its_own_to_the_answerer(tmp_path):
    """Bullets without full stops, lower-case, as slides write them: "produce keratin" belongs to the bullet naming
    squamous cell carcinoma, not to the one below it (read as one sentence, it supported both options alike, and the
    answer leaned to the wrong one)."""
    settings = hashing_settings(tmp_path)
    bullets = (
        "## Differentiation\n\n- squamous cell carcinoma produce keratin\n- hepatocellular carcinoma secrete bile\n"
    )
    index_new(settings, note(tmp_path / "notes", "neoplasia.qmd", bullets))
    question = {
        "question": "Which carcinoma produces keratin?",
        "options": ["Hepatocellular carcinoma", "Squamous cell carcinoma"],
    }
    with TestClient(create_app(settings)) as client:
        answer = client.post("/ask", json=question).json()
    assert answer["answer"] == "Squamous cell carcinoma", answer["rationale"]
    (chosen,) = [option for option in answer["options"] if option["text"] == answer["answer"]]
    assert {(q["quote"], q["stance"]) for q in chosen["evidence"]} >= {
        ("squamous cell carcinoma produce keratin", "supports")
    }


def test_a_folder_walk_leaves_out_the_readme_licence_and_partials_a_named_one_is_indexed(tmp_path):
    course = tmp_path / "course"
    for name in ("README.md", "LICENSE.md", "_koilocytes.qmd", "_shared.md", "week1.qmd"):
        note(course, name, "## Granulomas\n\nEpithelioid cells.\n")
    assert [Path(s.key).name for s in discover([course], hashing_settings(tmp_path))] == ["week1.qmd"]
    assert [s.kind for s in discover([course / "README.md"], hashing_settings(tmp_path))] == ["notes"]
    assert [s.kind for s in discover([course / "_koilocytes.qmd"], hashing_settings(tmp_path))] == ["notes"]


def test_a_file_gone_from_a_folder_indexed_again_gets_a_hint_a_renamed_one_its_own(tmp_path):
    settings = hashing_settings(tmp_path)
    notes = tmp_path / "notes"
    note(notes, "week1.qmd", WEEK1)
    note(notes, "week2.md", "## Fibrosis\n\nCollagen replaces the parenchyma.\n")
    note(notes, "week3.md", "## Amyloid\n\nApple-green birefringence.\n")
    index_new(settings, notes)
    (notes / "week2.md").unlink()
    (notes / "week3.md").rename(notes / "amyloid.md")
    result = run_cli("index", notes, "--index", settings.index_dir, home=settings.home)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    removal = f"'pathatlas remove week2.md --index {settings.index_dir}'"
    assert f"week2.md was indexed from notes and is gone: {removal} drops it" in output
    assert "week3.md, which is missing on disk" in output and "week3.md was indexed" not in output
    assert output.count("is gone") == 1
    assert search(settings, "Collagen parenchyma")[0]["citation"]["label"] == "week2.md, slide 1", "nothing removed"
    elsewhere = run_cli(
        "index",
        note(tmp_path / "other", "week4.md", "## Scar\n\nType I collagen.\n"),
        "--index",
        settings.index_dir,
        home=settings.home,
    )
    assert "is gone" not in elsewhere.output, "only a folder indexed now is looked in"


def test_a_card_names_a_slide_as_its_citation_does_and_a_page_by_its_pdf_number():
    slide = {"kind": "page", "citation": {"page": 3, "page_label": "slide 3", "source": "week1.qmd"}}
    printed = {"kind": "page", "citation": {"page": 3, "page_label": "13", "source": "book.pdf"}}
    assert (place(slide), place(printed)) == ("slide 3", "p. 3")


def test_a_decks_style_and_script_are_no_words_and_deep_lists_are_read_whole():
    """Quarto and revealjs decks carry ``<style>`` blocks; markdown-it stops at 20 levels by default (a list twelve
    deep lost its ninth level on, a quote 25 deep read as no words)."""
    styled = "# A\n\n<style>\n.reveal h2 { color: red }\n</style>\n\n<script>alert(1)</script>\n\nwords here\n"
    assert [s.blocks for s in slides(styled)] == [["A", "words here"]]
    nested = "## Deep\n\n" + "".join("  " * i + f"- level{i}\n" for i in range(12))
    assert slides(nested)[0].blocks[-1] == "level11"
    assert slides("## Q\n\n" + ">" * 25 + " deep words\n")[0].blocks == ["Q", "deep words"]


def test_a_reading_parses_its_deck_once_for_the_progress_count_and_the_records(week1, monkeypatch):
    parsed = []
    monkeypatch.setattr(notes_module, "slides", lambda body: parsed.append(body) or slides(body))
    assert week1.size_hint() == len({r.page for r in week1.records() if isinstance(r, Page)})
    assert len(parsed) == 1
