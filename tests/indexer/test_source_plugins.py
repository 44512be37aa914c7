"""A ``py:`` Source plugin is discovered like the built-in kinds, before them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pathatlas.errors import UnknownNameError
from pathatlas.indexer.records import Case, Record
from pathatlas.indexer.sources import discover
from pathatlas.indexer.sources.base import Source, hash_files


class NotesSource(Source):
    """Plain-text teaching notes: each ``*.notes`` file becomes one text-only case."""

    kind = "notes"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix == ".notes"

    def fingerprint(self) -> str:
        return hash_files([self.path])

    def size_hint(self) -> int:
        return 1

    def records(self) -> Iterator[Record]:
        text = self.path.read_text().strip()
        yield Case(source=self.key, fingerprint=self.fingerprint(), case_id=self.path.stem, images=[], title=text)


def test_plugin_sources_are_asked_first(tmp_path, settings):
    (tmp_path / "granuloma.notes").write_text("Caseating granuloma with Langhans giant cells.")
    plugged = settings.model_copy(update={"sources": ["py:tests.indexer.test_source_plugins.NotesSource"]})
    (source,) = discover([tmp_path / "granuloma.notes"], plugged)
    assert source.kind == "notes"  # the plugin's class (imported by its dotted path), not a built-in
    (record,) = source.records()
    assert record.case_id == "granuloma" and "Langhans" in record.title
    with pytest.raises(Exception, match="neither a PDF nor a case folder"):
        discover([tmp_path / "granuloma.notes"], settings)


def test_a_plugin_that_is_not_a_source_is_refused(tmp_path, settings):
    (tmp_path / "x.notes").write_text("x")
    wrong = settings.model_copy(update={"sources": ["py:pathlib.Path"]})
    with pytest.raises(UnknownNameError, match="not a Source subclass"):
        discover([tmp_path / "x.notes"], wrong)
