"""A small zip cannot make the server write gigabytes: images no row lists are never unpacked, a member compressed as a
bomb is refused before anything is written, each member stops at the size its zip declares, and the disk keeps room
once every zip unpacking at once wrote all it may. A refusal leaves no file and the index as it was."""

from __future__ import annotations

import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api import uploads
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.uploads import NoRoomError, UnusableZipError, extract_zip, no_room
from tests.api.test_rest_questions_forms_and_cancel import png
from tests.servers import job_ended
from tests.uploads import TOKEN, api_settings, upload, zipped

MB = 1 << 20


def case_zip(folder: str, *extra: tuple[str, bytes], listed: tuple[str, ...] = ()) -> bytes:
    """A zip of the case folder ``folder`` listing a.png and ``listed``, with a.png and ``extra`` members."""
    rows = "".join(json.dumps({"image": name, "case": folder}) + "\n" for name in ("a.png", *listed))
    return zipped((f"{folder}/cases.jsonl", rows.encode()), (f"{folder}/a.png", png("red")), *extra)


def archive(tmp_path: Path, data: bytes, name: str = "upload.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("s41zip")


@pytest.fixture(scope="module")
def client(root):
    with TestClient(create_app(api_settings(root, api_token=TOKEN, max_upload_mb=64))) as served:
        job = upload(served, "atlas.zip", case_zip("atlas"))
        assert job_ended(served, job.json()["id"])["status"] == "done"
        yield served


def refused(client, root: Path, data: bytes) -> tuple[int, str]:
    """Upload ``data`` as a zip that must be refused: its status and line, once checked that it left no file under
    the uploads and the index as it was."""
    uploads_folder = root / "home" / "uploads"
    before, sources = files_under(uploads_folder), client.get("/sources").json()
    response = upload(client, "bomb.zip", data)
    assert files_under(uploads_folder) == before, "the refused upload left nothing behind"
    assert client.get("/sources").json() == sources, "what is indexed stays as it was"
    assert uploads.UNPACKING == [], "no promise outlives its upload"
    return response.status_code, response.json()["detail"]


# -- 1. what no row lists is never unpacked ---------------------------------------------------------------------------
def test_images_no_case_folder_lists_are_never_unpacked(tmp_path):
    """The reviewer's zip held an unlisted 1.9 GB image beside its case: unpacked whole, deleted only by its job. Here
    a listed image in a subfolder and one in another letter case stay (their reader finds them by name)."""
    data = case_zip(
        "c",
        ("c/stray.png", os.urandom(2 * MB)),
        ("c/sub/B.PNG", png("blue")),
        ("loose.png", png("white")),
        ("book.pdf", b"%PDF-1.4 not read here"),
        listed=("b.png",),
    )
    skipped = extract_zip(archive(tmp_path, data), tmp_path / "out", 64 * MB, 100, api_settings(tmp_path))
    assert files_under(tmp_path / "out") == ["book.pdf", "c/a.png", "c/cases.jsonl", "c/sub/B.PNG"]
    assert skipped == ["c/stray.png", "loose.png"]


def test_a_case_folder_whose_metadata_cannot_be_read_has_no_image_unpacked(tmp_path):
    data = zipped(("c/cases.jsonl", b"{not json\n"), ("c/a.png", png("red")))
    skipped = extract_zip(archive(tmp_path, data), tmp_path / "out", 64 * MB, 100, api_settings(tmp_path))
    assert (files_under(tmp_path / "out"), skipped) == (["c/cases.jsonl"], ["c/a.png"])


def test_a_zip_without_case_folders_unpacks_what_the_sources_read_as_before(tmp_path):
    data = zipped(("book.pdf", b"%PDF-1.4"), ("slides/a.png", png("red")), ("slides/notes.txt", b"x"))
    skipped = extract_zip(archive(tmp_path, data), tmp_path / "out", 64 * MB, 100, api_settings(tmp_path))
    assert (files_under(tmp_path / "out"), skipped) == (["book.pdf", "slides/a.png"], ["slides/notes.txt"])


def test_an_uploaded_zip_notes_each_kind_of_member_it_left_out(client):
    data = case_zip("notes", ("notes/stray.png", png("green")), ("notes/readme.txt", b"x"))
    job = job_ended(client, upload(client, "notes.zip", data).json()["id"])
    assert job["status"] == "done", job
    assert job["notes"][:2] == [
        "1 image(s) left out, not listed by the metadata file a case folder is read by: notes/stray.png",
        "1 zip member(s) left out, being no PDF, notes file (.md, .qmd, .markdown), case image or cases.jsonl or "
        "labels.csv: notes/readme.txt",
    ]


# -- 2. a bomb's ratio ------------------------------------------------------------------------------------------------
def test_a_member_compressed_as_a_bomb_is_refused_naming_it_before_anything_is_written(client, root, tmp_path):
    bomb = case_zip("c", ("c/zeros.png", bytes(20 * MB)), listed=("zeros.png",))
    assert len(bomb) < 100_000
    code, line = refused(client, root, bomb)
    assert code == 400
    assert line.startswith("zip member 'c/zeros.png' unpacks to 20.0 MB from 0.0 MB (over 100:1, as a zip bomb does")
    with pytest.raises(UnusableZipError):
        extract_zip(archive(tmp_path, bomb), tmp_path / "out", 64 * MB, 100, api_settings(tmp_path))
    assert not (tmp_path / "out").exists(), "nothing written"


def test_a_bomb_split_into_small_members_is_one_bomb(client, root):
    parts = [(f"c/z{n}.png", bytes(3 * MB)) for n in range(4)]
    code, line = refused(client, root, case_zip("c", *parts, listed=tuple(f"z{n}.png" for n in range(4))))
    assert (code, line.split(" (")[0]) == (400, "the zip's members unpack to 12.0 MB from 0.0 MB")


def test_images_and_metadata_are_far_from_a_bomb_s_ratio(tmp_path):
    rows = "".join(json.dumps({"image": f"img_{n:07d}.png", "case": "X"}) + "\n" for n in range(200_000))
    data = zipped(("c/cases.jsonl", rows.encode()), ("c/img_0000000.png", os.urandom(12 * MB)))
    extract_zip(archive(tmp_path, data), tmp_path / "out", 64 * MB, 100, api_settings(tmp_path))
    assert (tmp_path / "out" / "c" / "img_0000000.png").stat().st_size == 12 * MB


# -- 3. the bytes written, counted --------------------------------------------------------------------------------
def lying_zip(tmp_path: Path) -> Path:
    """A zip whose directory declares 1 KB for a member of 3 MB (random: no bomb's ratio)."""
    path = archive(tmp_path, zipped(("a.png", os.urandom(3 * MB))), "liar.zip")
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (1024).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_a_member_whose_directory_lies_about_its_size_stops_at_what_it_declares(tmp_path):
    """What the disk budget relies on: ``zipfile`` reads no further than the declared size, and the lie is a 400."""
    with pytest.raises(UnusableZipError):
        extract_zip(lying_zip(tmp_path), tmp_path / "out", 64 * MB, 10)
    assert (tmp_path / "out" / "a.png").stat().st_size <= 1024


# -- 4. the disk's room, shared by every zip unpacking ----------------------------------------------------------------
def test_no_room_keeps_the_larger_of_a_gigabyte_and_a_twentieth_free():
    assert no_room(free=10 << 30, total=100 << 30, size=5 << 30, promised=0) is None
    assert no_room(free=10 << 30, total=100 << 30, size=4 << 30, promised=1 << 30 + 1) is not None
    assert no_room(free=2 << 30, total=4 << 30, size=(1 << 30) - 1, promised=0) is None
    assert no_room(free=2 << 30, total=4 << 30, size=1 << 30, promised=1) is not None


@pytest.fixture
def small_disk(monkeypatch):
    """A disk of 100 GB whose 5 GB kept free leave 30 MB to unpack."""
    usage = shutil.disk_usage("/")._replace(total=100 << 30, free=(5 << 30) + 30 * MB)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)


def test_a_zip_over_the_disk_s_room_is_refused_with_507_leaving_nothing(client, root, small_disk):
    code, line = refused(client, root, case_zip("big", ("big/b.png", os.urandom(40 * MB)), listed=("b.png",)))
    assert code == 507
    assert line.startswith("no room on the server to unpack the zip now: it unpacks to 40.0 MB, and the disk")


def test_a_zip_counts_what_the_zips_unpacking_beside_it_may_still_write(tmp_path, small_disk, monkeypatch):
    """Three 2 MB zips sent at once each unpacked 1.9 GB, checked by none: the second of two 20 MB zips, while the
    first unpacks, finds 30 MB less the first's 20 MB."""
    settings, opened, go = api_settings(tmp_path), threading.Event(), threading.Event()
    open_member = zipfile.ZipFile.open

    def held(self, member, *args, **kwargs):
        if member.filename == "first/b.png":
            opened.set()
            assert go.wait(30)
        return open_member(self, member, *args, **kwargs)

    first, second = (
        archive(tmp_path, case_zip(name, (f"{name}/b.png", os.urandom(20 * MB)), listed=("b.png",)), f"{name}.zip")
        for name in ("first", "second")
    )
    monkeypatch.setattr(zipfile.ZipFile, "open", held)
    unpacking = threading.Thread(target=extract_zip, args=(first, tmp_path / "first", 64 * MB, 10, settings))
    unpacking.start()
    try:
        assert opened.wait(30)
        with pytest.raises(NoRoomError) as no_room_now:
            extract_zip(second, tmp_path / "second", 64 * MB, 10, settings)
    finally:
        go.set()
        unpacking.join(30)
    assert "MB of it promised to uploads being unpacked" in str(no_room_now.value)
    assert (tmp_path / "first" / "first" / "b.png").stat().st_size == 20 * MB
    extract_zip(second, tmp_path / "second", 64 * MB, 10, settings)  # the first's promise ended with it
    assert (tmp_path / "second" / "second" / "b.png").stat().st_size == 20 * MB
