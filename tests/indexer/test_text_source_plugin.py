"""A plug-in ``Source`` of plain text, written by the contract in ``indexer/sources/base.py``: a folder of ``.txt``
files indexes, is found, and cites no box, as a source without a page layout has none (``Passage.bbox`` None).
Hashing encoder: no model is the point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import get_args, get_type_hints

import pytest
from fastapi.testclient import TestClient

from pathatlas.indexer.records import Page, Passage, Record
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, index_new


class TextFolderSource(Source):
    """A folder of ``*.txt`` files: each file a page (numbered in name order, named by its ``section``), each of its
    paragraphs a passage, without a box: a text file has no layout."""

    kind = "text"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_dir() and any(path.glob("*.txt"))

    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.txt"))

    def fingerprint(self) -> str:
        return hash_files(self.files(), self.reading(), self.records_version)

    def size_hint(self) -> int:
        return len(self.files())

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        for number, file in enumerate(self.files(), start=1):
            text = file.read_text(encoding="utf-8")
            yield Page(self.key, fingerprint, number, text, image=None, section=file.name)
            paragraphs = [paragraph.strip() for paragraph in text.split("\n\n") if paragraph.strip()]
            for index, paragraph in enumerate(paragraphs):
                yield Passage(self.key, fingerprint, number, index, paragraph, bbox=None, section=file.name)


TEXT_SOURCE = f"py:{__name__}.TextFolderSource"


@pytest.fixture
def text_service(tmp_path) -> Iterator[TestClient]:
    """The REST service on a new index of one text folder read by ``TextFolderSource``: notes on two diseases."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "granuloma.txt").write_text(
        "Granulomas\n\nCaseating granuloma with Langhans giant cells in tuberculosis.\n\nEpithelioid cells surround it."
    )
    (notes / "liver.txt").write_text("Cirrhosis: regenerative nodules and fibrous septa replace the liver lobules.")
    settings = hashing_settings(tmp_path, sources=[TEXT_SOURCE])
    index_new(settings, notes)
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_text_folder_plugin_is_found_and_cited_without_a_box(text_service):
    found = text_service.post("/search", json={"text": "Langhans giant cells", "k": 3})
    assert found.status_code == 200, found.text
    top = found.json()["hits"][0]
    assert (top["kind"], top["section"], top["citation"]["label"]) == ("page", "granuloma.txt", "notes, p. 1")
    assert "Langhans" in top["snippet"]
    assert top["citation"]["bbox"] is None, "a text file has no place on a page to cite"
    assert top["page_url"] is None, "nothing rendered to outline"
    opened = text_service.get(f"/records/{top['id']}")
    assert opened.status_code == 200, "the hit names its page's record, which the source yields"
    assert opened.json()["citation"]["bbox"] is None


def test_an_answer_from_a_text_folder_cites_no_box(text_service):
    question = {
        "question": "Which cells mark a caseating granuloma?",
        "options": ["Langhans giant cells", "Reed cells"],
    }
    answered = text_service.post("/ask", json=question)
    assert answered.status_code == 200, answered.text
    answer = answered.json()
    assert answer["answer"] == "Langhans giant cells"
    assert answer["citations"] and all(citation["bbox"] is None for citation in answer["citations"])


def test_a_passage_may_have_no_box():
    """``Passage.bbox`` declares None as the box of a source without a page layout, and stores none for it."""
    assert type(None) in get_args(get_type_hints(Passage)["bbox"])
    passage = Passage("/notes", "f1", 1, 0, "Langhans giant cells.", bbox=None)
    (entry,) = passage.entries()
    assert entry.payload.bbox is None and "bbox" not in entry.payload.to_payload()
