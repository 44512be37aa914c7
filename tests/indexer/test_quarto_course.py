"""A Quarto course folder as ``pathatlas index`` reads it: its website's ``index.qmd`` (front matter alone) is left
out of a folder walk, as a zip upload leaves it out, and a deck in ``slides/`` reads the partials shared at the
project's root (the folder of ``_quarto.yml``) as Quarto does, never outside its own upload. Hashing encoder: no model
is the point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathatlas.indexer.sources.notes import NotesSource
from pathatlas.settings import OWNER_FILE, UPLOADS
from tests.helpers import hashing_settings, note, one_error_line, run_cli, slides_of, words_of

WEEK1 = "---\ntitle: Week 1\n---\n\n## Emphysema\n\nEnlarged air spaces distal to the terminal bronchioles.\n"
EVERY_SLIDE = [(2, "Disclaimer"), (3, "Disclaimer"), (4, "Emphysema"), (5, "References")]
"""``quarto_course``'s deck's slides as Quarto renders it: its title slide first, each partial read."""
NO_WORDS = {"front matter alone": "---\ntitle: PATH 302\nformat: html\n---\n", "empty": ""}


def index_json(root: Path, *paths: Path):
    """``pathatlas index PATHS --json`` into ``root/idx``: the result and each source's (status, problems) by name."""
    result = run_cli("index", *paths, "--index", root / "idx", "--json", home=root / "home")
    reports = json.loads(result.stdout) if result.stdout.startswith("[") else []
    return result, {Path(r["source"]).name: (r["status"], r["problems"]) for r in reports}


# -- 1. a folder walk leaves out a notes file with nothing to index --------------------------------------------------


@pytest.mark.parametrize("text", NO_WORDS.values(), ids=NO_WORDS.keys())
def test_a_folder_walk_leaves_out_a_notes_file_with_nothing_to_index_at_every_run(tmp_path, text):
    course = tmp_path / "course"
    note(course, "week1.qmd", WEEK1)
    site = note(course, "index.qmd", text)
    for run, week1 in enumerate(("indexed", "unchanged")):
        result, reports = index_json(tmp_path, course)
        assert result.exit_code == 0, f"run {run}: {result.output}"
        assert reports["week1.qmd"] == (week1, [])
        status, (problem,) = reports["index.qmd"]
        assert status == "skipped" and problem.startswith(str(site)), problem
    shown = run_cli("index", course, "--index", tmp_path / "idx", home=tmp_path / "home")
    assert shown.exit_code == 0 and "skipped" in shown.output and "error:" not in shown.output, shown.output


@pytest.mark.parametrize("text", NO_WORDS.values(), ids=NO_WORDS.keys())
def test_a_notes_file_with_nothing_to_index_named_on_its_own_still_fails_in_one_line(tmp_path, text):
    course = tmp_path / "course"
    note(course, "week1.qmd", WEEK1)
    site = note(course, "index.qmd", text)
    alone = run_cli("index", site, "--index", tmp_path / "idx", home=tmp_path / "home")
    one_error_line(alone, str(site))
    result, reports = index_json(tmp_path, course, site)  # named beside its folder: named
    assert result.exit_code == 1 and reports["index.qmd"][0] == "failed", result.output


# -- 2. includes read from the Quarto project's root ------------------------------------------------------------------


def quarto_course(root: Path) -> Path:
    """``root`` made a Quarto project (``_quarto.yml``) sharing ``_disclaimer.qmd`` and ``_partials/_refs.qmd``
    with its deck ``slides/week1.qmd``, which includes them by relative and absolute paths; returns the deck."""
    note(root, "_quarto.yml", "project:\n  type: website\n")
    note(root, "_disclaimer.qmd", "## Disclaimer\n\nRobbins is the backbone of this lecture.\n")
    note(root, "_partials/_refs.qmd", "## References\n\nKumar V. Robbins Basic Pathology.\n")
    includes = "{{< include ../_disclaimer.qmd >}}\n\n{{< include /_disclaimer.qmd >}}\n\n"
    deck = WEEK1.replace("## Emphysema", includes + "## Emphysema", 1) + "\n{{< include /_partials/_refs.qmd >}}\n"
    return note(root, "slides/week1.qmd", deck)


def test_a_deck_in_a_quarto_project_reads_partials_from_its_root_and_keeps_its_slide_numbers(tmp_path):
    """Quarto reads ``../x`` from the deck's folder and ``/x`` from the project's root: both were refused, and every
    slide after them was cited a slide or two early."""
    project = tmp_path / "course"
    deck = quarto_course(project)
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert slides_of(source) == EVERY_SLIDE
    assert source.problems == []
    assert source.included() == (project / "_disclaimer.qmd", project / "_partials/_refs.qmd")
    _, reports = index_json(tmp_path, project)
    assert reports == {"week1.qmd": ("indexed", [])}, "hashed for copies from the project's root"
    copy = quarto_course(tmp_path / "copy")
    assert NotesSource(copy, hashing_settings(tmp_path)).content_hash() == source.content_hash()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../secret.qmd", "it lies outside the deck's Quarto project (the folder of its _quarto.yml)"),
        ("../_link.qmd", "it lies outside the deck's Quarto project (the folder of its _quarto.yml)"),
        ("/../secret.qmd", "it lies outside the deck's Quarto project (the folder of its _quarto.yml)"),
        ("/_gone.qmd", "no such file in the deck's Quarto project (the folder of its _quarto.yml)"),
    ],
)
def test_an_include_out_of_the_quarto_project_is_left_out_and_named(tmp_path, name, why):
    secret = note(tmp_path, "secret.qmd", "Server secrets.\n")
    project = tmp_path / "course"
    deck = quarto_course(project)
    (project / "_link.qmd").symlink_to(secret)
    deck.write_text(deck.read_text() + f"\n{{{{< include {name} >}}}}\n")
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert "secret" not in words_of(source).casefold()
    assert source.problems == [f"{deck}: include {name} not read: {why}"]


def test_without_a_quarto_project_includes_stay_within_the_decks_folder(tmp_path):
    deck = quarto_course(tmp_path / "course")
    (tmp_path / "course" / "_quarto.yml").unlink()
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert slides_of(source) == [(2, "Emphysema")]
    absolute = "an absolute path, which Quarto reads from the project's root, is not read"
    assert [problem.split(" not read: ")[1] for problem in source.problems] == [
        "it lies outside the deck's folder",
        absolute,
        absolute,
    ]


# -- 3. an upload reads nothing outside its own upload folder ---------------------------------------------------------


@pytest.mark.parametrize("home", ["home", "old-home"], ids=["its home's uploads", "another home's uploads"])
def test_an_uploaded_deck_reads_nothing_outside_its_upload_folder_whatever_quarto_project_lies_above(tmp_path, home):
    """An operator's ``_quarto.yml`` above the uploads folder (or the home) is no project of an uploaded zip: the
    zip could otherwise read other uploads and the home's files by ``../..`` or ``/``. Uploads recorded under another
    home (one moved, a backup restored elsewhere) are bounded alike."""
    settings = hashing_settings(tmp_path)
    uploads = tmp_path / home / UPLOADS
    for folder in (tmp_path, uploads.parent, uploads):
        note(folder, "_quarto.yml", "project:\n  type: website\n")
        note(folder, "secret.qmd", "## Secret\n\nAnother upload's words.\n")
    for upload in ("ab12cd34ef56", "0123456789ab"):  # as the server marks each upload folder (``claim_upload``)
        note(uploads / upload, OWNER_FILE, str(tmp_path / "index"))
    unpacked = uploads / "ab12cd34ef56" / "course"
    crafted = "{{< include ../../secret.qmd >}}\n\n{{< include /secret.qmd >}}\n\n"
    deck = note(unpacked, "week1.qmd", WEEK1.replace("## Emphysema", crafted + "## Emphysema", 1))
    source = NotesSource(deck, settings)
    assert slides_of(source) == [(2, "Emphysema")]
    assert [problem.split(" not read: ")[1] for problem in source.problems] == [
        "it lies outside the deck's folder",
        "an absolute path, which Quarto reads from the project's root, is not read",
    ]
    own = quarto_course(uploads / "0123456789ab" / "course")  # a zip holding its own Quarto project reads it
    assert slides_of(NotesSource(own, settings)) == EVERY_SLIDE


def test_a_deck_emptied_since_it_was_indexed_or_worded_by_a_missing_include_fails_rather_than_skips(tmp_path):
    """Skipped is for a walked file with nothing to index and nothing indexed before: an emptied deck's old slides stay
    searchable, and a deck whose words lie in a partial not read may be missing them; the run says so (exit 1)."""
    course = tmp_path / "course"
    week1 = note(course, "week1.qmd", WEEK1)
    note(course, "week2.qmd", "---\ntitle: Week 2\n---\n\n{{< include _gone.qmd >}}\n")
    result, reports = index_json(tmp_path, course)
    assert result.exit_code == 1 and reports["week2.qmd"][0] == "failed", result.output
    week1.write_text("---\ntitle: Week 1\n---\n")
    result, reports = index_json(tmp_path, course)
    assert result.exit_code == 1 and reports["week1.qmd"][0] == "failed", result.output


def test_an_upload_folders_own_hidden_files_are_never_included(tmp_path):
    """A lone upload's deck shares its folder with the folder's ``OWNER_FILE``, which names the server's index: a
    student's ``{{< include .index >}}`` put the server's path in a snippet."""
    upload = tmp_path / "home" / UPLOADS / "ab12cd34ef56"
    note(upload, OWNER_FILE, "/srv/pathatlas/index")
    note(upload, ".hidden/part.qmd", "## Hidden\n\nWords.\n")
    deck = note(
        upload, "week1.qmd", WEEK1 + f"\n{{{{< include {OWNER_FILE} >}}}}\n\n{{{{< include .hidden/part.qmd >}}}}\n"
    )
    source = NotesSource(deck, hashing_settings(tmp_path))
    assert "/srv/pathatlas" not in words_of(source)
    assert [problem.split(" not read: ")[1] for problem in source.problems] == [
        "a hidden file or folder is not read"
    ] * 2


def test_a_users_own_folder_named_uploads_holding_a_quarto_project_reads_it(tmp_path):
    """Only a folder marked as an upload's (``OWNER_FILE``) bounds the project search beyond the home's uploads."""
    deck = quarto_course(tmp_path / "work" / UPLOADS)  # ~/uploads/_quarto.yml, ~/uploads/slides/week1.qmd
    assert slides_of(NotesSource(deck, hashing_settings(tmp_path))) == EVERY_SLIDE
