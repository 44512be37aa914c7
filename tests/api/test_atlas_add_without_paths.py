"""Today's behaviour tried at every door: ``pathatlas index --index X`` without paths indexes again the index's own
sources, but Python's ``Atlas.add()`` without paths refused ("add takes at least one path"), so a notebook had to name
an edited PDF again to pick it up."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pathatlas.errors import BadInputError, IndexMissingError
from pathatlas.ui.library import Atlas
from tests.helpers import quick


def handout(path: Path, text: str) -> Path:
    """A one-page PDF reading ``text``."""
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(40, 150, 560, 350), text, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    return path


def test_atlas_add_without_paths_indexes_its_sources_again_as_the_cli_does(tmp_path):
    notes = handout(tmp_path / "lib" / "notes.pdf", "Podocyte effacement in minimal change disease.")
    with Atlas(tmp_path / "index", **quick(tmp_path)) as atlas:
        assert [report["status"] for report in atlas.add(notes)] == ["indexed"]
        assert [report["status"] for report in atlas.add()] == ["unchanged"]
        handout(notes, "Koilocytes show a perinuclear halo.")  # the lecturer edits the PDF in place
        again = atlas.add()
        assert [(Path(report["source"]).name, report["status"]) for report in again] == [("notes.pdf", "indexed")]
        assert "perinuclear halo" in atlas.search("koilocytes perinuclear halo", k=1)[0]["snippet"]


def test_atlas_add_without_paths_and_no_index_says_so_and_an_empty_list_is_still_refused(tmp_path):
    with Atlas(tmp_path / "index", **quick(tmp_path)) as atlas:
        with pytest.raises(IndexMissingError) as missing:
            atlas.add()
        with pytest.raises(BadInputError, match=r"^add takes at least one path"):
            atlas.add([])  # a glob that matched nothing: no silent re-index of everything
    assert "\n" not in str(missing.value) and str(tmp_path / "index") in str(missing.value)
    assert not (tmp_path / "index").exists(), "no index made"


def test_the_web_ui_calls_no_page_the_typed_words_found_a_look_alike():
    """An image searched with "podocyte effacement" in a handout-only index: the page the words found first (words #2,
    meaning #1) sat under the note "these are the figures and pages that look most alike", while REST and the CLI
    badge only the hits the image's look alone found "looks alike"."""
    from pathatlas.ui.present import look_alike_note

    by_words = {"kind": "page", "relevance": "best match", "matched_by": {"text": 1, "joint:image": 4, "bm25": 2}}
    by_look = {"kind": "page", "relevance": "looks alike", "matched_by": {"joint:image": 1}}
    assert look_alike_note([by_words, by_look], index_has_cases=False) is None
    assert look_alike_note([by_look], index_has_cases=False).startswith("This index holds no cases: ")
