"""What an uploaded zip's refusal and job notes say: a zip refused for the disk's room states the size it unpacks to
(its metadata files' alone said "0.0 MB"), and the pictures its lecture notes show are not named as images no case
folder lists, there being none (pictures in notes are not indexed by design). Hashing encoder, tiny files."""

from __future__ import annotations

import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api import uploads
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.uploads import NoRoomError, extract_zip, megabytes
from tests.helpers import png_bytes
from tests.uploads import api_settings, indexed, zipped

MB = 1 << 20
PNG = png_bytes(Image.new("RGB", (48, 48), "red"))


def written(tmp_path: Path, name: str, data: bytes) -> Path:
    (path := tmp_path / name).write_bytes(data)
    return path


def case_zip(folder: str, *extra: tuple[str, bytes]) -> bytes:
    """A zip of the case folder ``folder`` whose cases.jsonl lists a.png, with a.png and ``extra`` members."""
    row = json.dumps({"image": "a.png", "case": folder}).encode()
    return zipped((f"{folder}/cases.jsonl", row), (f"{folder}/a.png", PNG), *extra)


def disk_with_room(monkeypatch, room: int) -> None:
    """A disk of 100 GB whose 5 GB kept free leave ``room`` bytes to unpack."""
    usage = shutil.disk_usage("/")._replace(total=100 << 30, free=(5 << 30) + room)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)


# -- the room a zip needs ---------------------------------------------------------------------------------------------
def test_a_zip_refused_for_the_disk_s_room_states_its_whole_size(tmp_path, monkeypatch):
    disk_with_room(monkeypatch, 0)
    data = case_zip("c", ("c/b.png", os.urandom(300_000)))
    with zipfile.ZipFile(written(tmp_path, "c.zip", data)) as archive:
        size = sum(member.file_size for member in archive.infolist())
    with pytest.raises(NoRoomError) as refused:
        extract_zip(tmp_path / "c.zip", tmp_path / "out", 64 * MB, 10, api_settings(tmp_path))
    assert f"it unpacks to {megabytes(size)}," in str(refused.value)
    assert not any((tmp_path / "out").rglob("*.*")), "refused before anything is written"
    assert uploads.UNPACKING == []


def test_images_no_row_lists_give_back_the_room_promised_for_them(tmp_path, monkeypatch):
    """While the first zip unpacks its listed image, the second needs room the first's unlisted 6 MB had held."""
    disk_with_room(monkeypatch, 10 * MB)
    settings, opened, go = api_settings(tmp_path), threading.Event(), threading.Event()
    open_member = zipfile.ZipFile.open

    def held(self, member, *args, **kwargs):
        if member.filename == "first/a.png":
            opened.set()
            assert go.wait(30)
        return open_member(self, member, *args, **kwargs)

    first = written(tmp_path, "first.zip", case_zip("first", ("first/unlisted.png", os.urandom(6 * MB))))
    second = written(tmp_path, "second.zip", zipped(("second/book.pdf", os.urandom(6 * MB))))
    monkeypatch.setattr(zipfile.ZipFile, "open", held)
    unpacking = threading.Thread(target=extract_zip, args=(first, tmp_path / "first", 64 * MB, 10, settings))
    unpacking.start()
    try:
        assert opened.wait(30)
        extract_zip(second, tmp_path / "second", 64 * MB, 10, settings)
    finally:
        go.set()
        unpacking.join(30)
    assert (tmp_path / "second" / "second" / "book.pdf").stat().st_size == 6 * MB


# -- the pictures notes show ------------------------------------------------------------------------------------------
NOTES = {
    "course/week1.md": b"---\ntitle: Week 1\n---\n\n## Koilocytes\n\n![koilocytes](img/koilocytes.jpg)\n\n- a halo\n",
    "course/week2.qmd": b'## Granulomas\n\n<img src="img/giant%20cell.png" width="300">\n\n- Langhans cells\n',
    "course/_disclaimer.qmd": b"For teaching only. ![logo](../logo.png){width=20%}\n",
}
PICTURES = ("course/img/koilocytes.jpg", "course/img/giant cell.png", "logo.png")


def test_a_course_zip_s_job_names_no_picture_its_notes_show(tmp_path):
    data = zipped(*NOTES.items(), *((name, PNG) for name in PICTURES), ("course/img/unused.png", PNG))
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job = indexed(client, "course.zip", data)
    assert job["status"] == "done", job
    said = " ".join(job["notes"])
    assert not any(picture in said for picture in PICTURES), job["notes"]
    assert "course/img/unused.png" in said, "a picture no notes file shows is still named"


def test_a_zip_of_case_folders_leaves_out_the_pictures_of_its_notes_without_naming_them(tmp_path):
    data = case_zip("c", *NOTES.items(), *((name, PNG) for name in PICTURES), ("stray.png", PNG))
    skipped = extract_zip(written(tmp_path, "c.zip", data), tmp_path / "out", 64 * MB, 20, api_settings(tmp_path))
    assert skipped == ["stray.png"]
    assert not (tmp_path / "out" / "course" / "img").exists(), "left out all the same: nothing reads them"
