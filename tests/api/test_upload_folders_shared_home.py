"""Indexes sharing one PATHATLAS_HOME share its upload folders: a source removed or replaced through a copy of an index
(a backup served beside it) leaves the original's uploaded files, which the original still serves; removed through
the index the folder was uploaded to, once it cites it no longer, the folder goes. Hashing encoder, a tiny notes
file."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from tests.uploads import AUTH, api_settings, indexed, sources

NOTES = b"## Granulomas\n\n- Langhans giant cells ring the caseous centre\n"


def removed(settings, source: str) -> None:
    """``source`` removed through a service of ``settings``."""
    with TestClient(create_app(settings)) as client:
        answer = client.delete(f"/sources/{sources(client)[source]}", headers=AUTH)
        assert answer.status_code == 200, answer.text


def uploaded_and_copied(tmp_path) -> tuple[Settings, Settings, Path]:
    """An index holding stud.md uploaded to it, a copy of the index on the same home, and the uploaded file."""
    original = api_settings(tmp_path)
    with TestClient(create_app(original)) as client:
        assert indexed(client, "stud.md", NOTES)["status"] == "done"
    (uploaded,) = (original.home / "uploads").glob("*/stud.md")
    copy = original.model_copy(update={"index": shutil.copytree(original.index_dir, tmp_path / "copy")})
    return original, copy, uploaded


def test_a_removal_through_a_copy_of_the_index_keeps_the_originals_upload(tmp_path):
    original, copy, uploaded = uploaded_and_copied(tmp_path)
    removed(copy, "stud.md")
    assert uploaded.read_bytes() == NOTES, "the original's file, deleted through its copy"
    with TestClient(create_app(copy)):  # a restart's sweep leaves another index's folder alone, as ever
        pass
    assert uploaded.exists()
    removed(original, "stud.md")
    assert not uploaded.parent.exists(), "its own index cites it no longer: it goes"


def test_an_upload_replacing_its_namesake_in_a_copy_keeps_the_originals_upload(tmp_path):
    original, copy, uploaded = uploaded_and_copied(tmp_path)
    with TestClient(create_app(copy)) as client:
        assert indexed(client, "stud.md", NOTES + b"\n- epithelioid histiocytes\n")["status"] == "done"
    assert uploaded.read_bytes() == NOTES, "the original's file, deleted as the copy's replaced upload"


def test_a_removal_through_a_copy_keeps_the_upload_of_an_original_moved_since(tmp_path):
    """The original renamed after the copy was made: its folder's mark names a path no longer there, yet the renamed
    original still serves the file. No service can tell a moved original from a gone one, so the folder stays."""
    original, copy, uploaded = uploaded_and_copied(tmp_path)
    live = original.model_copy(update={"index": original.index_dir.rename(tmp_path / "live")})
    removed(copy, "stud.md")
    assert uploaded.read_bytes() == NOTES, "the moved original's file, deleted through its copy"
    with TestClient(create_app(live)) as client:
        assert "stud.md" in sources(client)
