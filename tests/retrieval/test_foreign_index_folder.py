"""``--index`` given as a folder that is no index but holds folders named as an index's own (a web project's
``media/``, a ``store/`` of notes): a first run deleted the files in them that it had not written (thirty-eighth
session, a reviewer's ``store/readme.txt``, ``lexical/notes.json`` and, after a stopped run, ``media/holiday.jpg``)."""

from __future__ import annotations

import pytest

from pathatlas.retrieval.index import KEPT_FOLDERS
from tests.helpers import indexed_lecture, only_error_line, run_cli


@pytest.mark.parametrize("kept", KEPT_FOLDERS)
def test_a_folder_holding_an_index_s_own_folder_is_refused_and_its_files_kept(tmp_path, kept):
    root = indexed_lecture(tmp_path, "lecture.pdf", "Koilocytes show a perinuclear halo.")
    target = tmp_path / "project"
    (target / kept).mkdir(parents=True)
    (target / kept / "holiday.jpg").write_bytes(b"the user's own")
    (target / "media.pending").touch()  # as a stopped run leaves it: the next one cleaned media/ of unknown files
    result = run_cli("index", root / "lecture.pdf", "--index", target, home=tmp_path / "home")
    assert result.exit_code == 1
    only_error_line(result, str(target), "is not a PathAtlas index", kept, "new or empty folder")
    assert (target / kept / "holiday.jpg").read_bytes() == b"the user's own"
    assert sorted(p.name for p in target.iterdir()) == sorted([kept, "media.pending"]), "nothing written"


def test_a_folder_of_other_files_still_takes_an_index(tmp_path):
    root = indexed_lecture(tmp_path, "lecture.pdf", "Koilocytes show a perinuclear halo.")
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = run_cli("index", root / "lecture.pdf", "--index", target, home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    assert (target / "notes.txt").read_text() == "mine"
    again = run_cli("index", root / "lecture.pdf", "--index", target, home=tmp_path / "home")
    assert again.exit_code == 0, again.output
