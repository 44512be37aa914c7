"""A reviewer's findings on the indexing pipeline and CLI: every caller of the pipeline reports an unchanged source's
known problems; checking whether a source changed hashes each source under its own lock and lets bugs surface;
``info`` judges sources with its own settings."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.errors import BadInputError, UnknownNameError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources import fingerprints
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.index import Index
from pathatlas.ui import cli
from tests.helpers import calls_to, hashing_settings, run_cli

WAIT = 10.0
"""Seconds a thread is given for what takes milliseconds: only a thread stuck behind another's lock runs out."""


def case_folder(folder: Path, unlisted: bool = True) -> Path:
    """A case folder of one listed image and, with ``unlisted``, one its ``labels.csv`` does not name (a problem)."""
    folder.mkdir(parents=True)
    (folder / "labels.csv").write_text("image,diagnosis\nlisted.png,granuloma\n")
    names = ["listed.png", "unlisted.png"] if unlisted else ["listed.png"]
    for seed, name in enumerate(names):
        pixels = np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)
    return folder


# -- 1. the pipeline reports an unchanged source's known problems ---------------------------------------------------


def test_the_pipeline_reports_an_unchanged_source_with_the_problems_it_was_indexed_with(tmp_path):
    """Only the CLI patched them in: the REST library route and the Python API showed an unchanged folder without
    the problem ``info`` counts for it."""
    folder = case_folder(tmp_path / "cases")
    index = Index.open(tmp_path / "index", hashing_settings(tmp_path), create=True)
    (first,) = Indexer(index, show_progress=False).add([folder]).sources
    (problem,) = first.problems
    assert "1 image not listed in labels.csv" in problem

    (again,) = Indexer(index, show_progress=False).add([folder]).sources
    assert (again.status, again.entries, again.problems) == ("unchanged", first.entries, [problem])
    assert index.manifest[str(folder)]["problems"] == [problem], "what info counts"
    index.close()


# -- 2. same_content: one lock per source, bugs raised ----------------------------------------------------------------


class FakeSource:
    """A source whose ``fingerprint`` runs ``hashing`` (by default the fingerprint ``"fp"`` at once)."""

    def __init__(self, hashing=lambda: "fp"):
        self.fingerprint = hashing

    def reading(self) -> dict[str, object]:
        return {}


def same(key: str, signature: str = "moved") -> bool:
    return fingerprints.same_content(key, {"kind": "fake", "fingerprint": "fp"}, signature, None)


def test_hashing_one_source_does_not_hold_up_another(tmp_path, monkeypatch):
    """One lock served every source: a page viewer's images of book A waited for book B's multi-second hash."""
    hashing_b, release_b = threading.Event(), threading.Event()

    def slow() -> str:
        hashing_b.set()
        release_b.wait(WAIT)
        return "fp"

    book_a, book_b = str(tmp_path / "a.pdf"), str(tmp_path / "b.pdf")
    sources = {book_a: FakeSource(), book_b: FakeSource(slow)}
    monkeypatch.setattr(fingerprints, "_source_of", lambda path, kind, settings: sources[str(path)])
    answers: dict[str, bool] = {}
    threads = {key: threading.Thread(target=lambda k=key: answers.update({k: same(k)})) for key in sources}
    threads[book_b].start()
    try:
        assert hashing_b.wait(WAIT)
        threads[book_a].start()
        threads[book_a].join(WAIT)
        assert answers.get(book_a) is True, "book A waited for book B's hash"
        assert book_b not in answers
    finally:
        release_b.set()
        for thread in threads.values():
            thread.join(WAIT)
    assert answers == {book_a: True, book_b: True}
    assert len(fingerprints._HASHING) == 0, "no lock is kept once nobody hashes its source"


def test_asking_together_about_one_source_hashes_it_once(tmp_path, monkeypatch):
    """The images a page viewer asks for at once still wait for one hash of their source."""
    hashed, started, release = [], threading.Event(), threading.Event()

    def slow() -> str:
        hashed.append(1)
        started.set()
        release.wait(WAIT)
        return "fp"

    key = str(tmp_path / "book.pdf")
    monkeypatch.setattr(fingerprints, "_source_of", lambda path, kind, settings: FakeSource(slow))
    threads = [threading.Thread(target=same, args=(key,)) for _ in range(4)]
    threads[0].start()
    assert started.wait(WAIT)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert len(hashed) == 1
    assert len(fingerprints._HASHING) == 0


@pytest.mark.parametrize(
    "error",
    [FileNotFoundError("gone"), PermissionError("denied"), BadInputError("not UTF-8"), UnknownNameError("plug-in")],
)
def test_a_source_that_cannot_be_read_is_not_the_same(tmp_path, monkeypatch, error):
    def fails() -> str:
        raise error

    monkeypatch.setattr(fingerprints, "_source_of", lambda path, kind, settings: FakeSource(fails))
    assert same(str(tmp_path / type(error).__name__)) is False
    assert len(fingerprints._HASHING) == 0


def test_a_bug_while_hashing_is_raised_not_taken_for_a_change(tmp_path, monkeypatch):
    """Every exception read as "changed", so a programming error showed as a 410 instead of failing a test."""

    def buggy() -> str:
        raise TypeError("unsupported operand")

    monkeypatch.setattr(fingerprints, "_source_of", lambda path, kind, settings: FakeSource(buggy))
    with pytest.raises(TypeError, match="unsupported operand"):
        same(str(tmp_path / "book.pdf"))
    assert len(fingerprints._HASHING) == 0


def test_a_case_folder_whose_metadata_went_cannot_be_read(tmp_path, fast):
    """Deleted between ``accepts`` and ``fingerprint`` (a server checking it meanwhile), it raised StopIteration."""
    folder = case_folder(tmp_path / "cases", unlisted=False)
    source = CaseFolderSource(folder, fast)
    (folder / "labels.csv").unlink()
    with pytest.raises(BadInputError, match="no cases.jsonl or labels.csv"):
        source.fingerprint()


# -- 3. info passes its settings down ---------------------------------------------------------------------------------


def test_info_judges_a_resaved_source_with_the_commands_settings(hashing_cli, monkeypatch):
    """``info`` built its settings, then ``on_disk`` loaded the environment's again to hash a source."""
    folder = case_folder(hashing_cli / "cases", unlisted=False)
    assert run_cli("index", "cases", "--index", "idx").exit_code == 0
    labels = folder / "labels.csv"
    later = labels.stat().st_mtime_ns + 5_000_000_000
    os.utime(labels, ns=(later, later))  # saved again as it was

    built = []

    def settings_for(*args, **kwargs):
        built.append(cli_settings_for(*args, **kwargs))
        return built[-1]

    cli_settings_for = cli.settings_for
    monkeypatch.setattr(cli, "settings_for", settings_for)
    asked = calls_to(monkeypatch, "same_content", fingerprints)
    result = run_cli("info", "--index", "idx", "--json")
    assert result.exit_code == 0, result.output
    assert [entry["on_disk"] for entry in json.loads(result.stdout)["sources"].values()] == ["ok"]
    (call,) = asked
    assert call[3] is built[0], "the settings the command built"
