"""A lecture deck is read once a run (``indexer/sources/notes.py``): its fingerprint hashes the bytes its records were
made from, never the files read again, and a deck that cannot be read is refused once, not read again by each step of
``index``. Hashing encoder: no model is the point."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathatlas.errors import BadInputError
from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources import fingerprints, notes
from pathatlas.indexer.sources.fingerprints import hashed_as
from pathatlas.indexer.sources.notes import MAX_NOTE_BYTES, NotesSource
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from tests.helpers import calls_to, hashing_settings, note

DECK = "## Granulomas\n\nCaseous necrosis.\n\n{{< include _cells.qmd >}}\n"


def course(root: Path) -> Path:
    """``root/course`` holding week1.qmd (``DECK``), which includes _cells.qmd; returns week1.qmd."""
    note(root / "course", "_cells.qmd", "Epithelioid cells.\n")
    return note(root / "course", "week1.qmd", DECK)


def indexed(settings: Settings, deck: Path) -> tuple[str, list[str], list[str]]:
    """``deck`` indexed into the index at ``settings``: its status and problems, and the text of each of its slides
    the index then holds."""
    index = Index.open(settings.index_dir, settings, create=True)
    try:
        (report,) = Indexer(index, show_progress=False).add([deck]).sources
        slides = [payload["text"] for _, payload in index.store.scan({"kind": "page", "source": str(deck)})]
    finally:
        index.close()
    return report.status, report.problems, slides


@pytest.mark.parametrize(
    ("saved", "text"),
    [("week1.qmd", DECK.replace("Caseous", "Langhans")), ("_cells.qmd", "Langhans giant cells.\n")],
    ids=["the deck", "its partial"],
)
def test_a_deck_saved_while_index_reads_it_is_read_again_by_the_next_index(tmp_path, monkeypatch, saved, text):
    """``index`` reads a deck (``included``), then takes its files' stat, then its fingerprint, which hashed the files
    read again: a deck saved in between got the old text's records under the new text's fingerprint and stat, and
    every later ``index`` found it unchanged, its new words never indexed."""
    settings, deck = hashing_settings(tmp_path), course(tmp_path)
    stat_signature = pipeline.stat_signature

    def saved_meanwhile(*args):
        (deck.parent / saved).write_text(text)
        return stat_signature(*args)

    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "stat_signature", saved_meanwhile)
        status, _, slides = indexed(settings, deck)
    assert status == "indexed" and "Langhans" not in slides[0], "records of the text read before it was saved"
    status, problems, slides = indexed(settings, deck)
    assert (status, problems) == ("indexed", []), "its fingerprint was of the old text: read again"
    assert "Langhans" in slides[0]
    assert indexed(settings, deck)[0] == "unchanged"


def test_a_fingerprint_hashes_the_files_as_read_with_its_readers_version_and_settings(tmp_path, monkeypatch):
    settings, deck = hashing_settings(tmp_path), course(tmp_path)
    source = NotesSource(deck, settings)
    assert source.included() == (deck.parent / "_cells.qmd",)
    reads = calls_to(monkeypatch, "read_note", notes)
    hashes = calls_to(monkeypatch, "hash_into", fingerprints)
    read = source.fingerprint()
    assert (reads, hashes) == ([], []), "hashed from the bytes read, no file read again"
    assert NotesSource(deck, settings).fingerprint() == read, "the same files: the same fingerprint"
    (deck.parent / "_cells.qmd").write_text("Langhans giant cells.\n")
    assert source.fingerprint() == read, "what its records are made of: the partial as it was read"
    assert NotesSource(deck, settings).fingerprint() != read
    with hashed_as(14):  # as an older reader hashed it (``as_indexed``)
        assert source.fingerprint() != read
    assert NotesSource(deck, hashing_settings(tmp_path, passage_max_words=120)).fingerprint() != read


@pytest.mark.parametrize(
    ("files", "reads", "parses", "why"),
    [
        ({"week1.qmd": b"## Cells\n\nCaf\xe9 au lait.\n"}, 1, 0, "is not UTF-8 text"),
        ({"week1.qmd": b""}, 1, 0, "is empty"),
        ({"week1.qmd": DECK.encode(), "_cells.qmd": b"word " * (MAX_NOTE_BYTES // 5)}, 2, 0, "with the files it"),
        ({"week1.qmd": b"---\ntitle: Week 1\n---\n"}, 1, 1, "holds no words to index"),
    ],
    ids=["not UTF-8", "empty", "over the most text with its include", "front matter alone"],
)
def test_a_deck_that_cannot_be_read_is_read_and_parsed_once_a_run(tmp_path, monkeypatch, files, reads, parses, why):
    """``cached_property`` keeps no exception: its fingerprint, content hash, size and records each read it again,
    with its includes, and parsed it again."""
    settings = hashing_settings(tmp_path)
    deck = [note(tmp_path / "course", name, data) for name, data in files.items()][0]
    read, parsed = calls_to(monkeypatch, "read_note", notes), calls_to(monkeypatch, "slides", notes)
    status, (problem,), _ = indexed(settings, deck)
    assert status == "failed" and why in problem, problem
    assert (len(read), len(parsed)) == (reads, parses)
    source = NotesSource(deck, settings)
    with pytest.raises(BadInputError, match=why) as first:
        list(source.records())
    with pytest.raises(BadInputError) as again:
        list(source.records())
    assert again.value is first.value, "the same refusal, raised again without reading again"
