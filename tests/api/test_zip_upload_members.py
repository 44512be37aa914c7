"""POST /jobs refuses, in one line naming the member and before unpacking any, a zip holding an encrypted member
(zipfile reads none without a password) or a file member with no name ("."): each was a 500. A "./" folder entry, as
bsdtar writes, is still taken. Hashing encoder."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from pathatlas.ui.api.uploads import UnusableZipError, extract_zip
from tests.servers import job_ended
from tests.uploads import book_service, upload, zipped

ENCRYPTED = 0x1
LOCAL_HEADER, CENTRAL_HEADER = b"PK\x03\x04", b"PK\x01\x02"
FLAG_OFFSET = {LOCAL_HEADER: 6, CENTRAL_HEADER: 8}
"""Where a zip's local and central headers hold a member's general-purpose flags, from their signature."""


@pytest.fixture
def client(tmp_path):
    """A service on an index of one two-page book, indexed from disk."""
    with book_service(tmp_path, "osteoid") as served:
        yield served


def case_members(folder: str) -> list[tuple[str, bytes]]:
    """A case folder's members: a ``cases.jsonl`` listing one image, and the image."""
    image = io.BytesIO()
    Image.new("RGB", (48, 48), (150, 40, 90)).save(image, "PNG")
    row = json.dumps({"image": "a.png", "diagnosis": "sarcoidosis"}).encode()
    return [(f"{folder}/cases.jsonl", row), (f"{folder}/a.png", image.getvalue())]


def encrypted(data: bytes, member: str) -> bytes:
    """The zip ``data`` with ``member`` flagged as encrypted in its local and central headers, as a password-protected
    zip (WinZip, 7-Zip) flags each member: zipfile then refuses to read it without a password."""
    patched, name = bytearray(data), member.encode()
    for signature, offset in FLAG_OFFSET.items():
        start = patched.find(signature)
        while start != -1:
            name_at = start + (30 if signature == LOCAL_HEADER else 46)
            if patched[name_at : name_at + len(name)] == name:
                patched[start + offset] |= ENCRYPTED
            start = patched.find(signature, start + 1)
    return bytes(patched)


def uploads_left(client) -> list:
    return list(client.app.state.jobs.uploads.path.glob("*/*"))


def test_a_zip_with_an_encrypted_member_is_refused_in_one_line_naming_it(client):
    archive = encrypted(zipped(*case_members("myc")), "myc/a.png")
    refused = upload(client, "atlas.zip", archive)
    assert (refused.status_code, refused.json()["detail"]) == (
        400,
        "zip member 'myc/a.png' is encrypted: unzip it without a password and zip it again",
    )
    assert uploads_left(client) == []


def test_an_encrypted_member_is_refused_before_any_member_is_unpacked(tmp_path):
    archive = tmp_path / "atlas.zip"
    archive.write_bytes(encrypted(zipped(*case_members("myc")), "myc/a.png"))
    with pytest.raises(UnusableZipError):
        extract_zip(archive, tmp_path / "atlas", 1 << 20, 10)
    assert not (tmp_path / "atlas").exists()


@pytest.mark.parametrize("name", [".", "", "./."])
def test_a_zip_member_with_no_file_name_is_refused_in_one_line(client, name):
    """Each spelling is named as the one name it normalises to (``member_name``)."""
    refused = upload(client, "atlas.zip", zipped(*case_members("myc"), (zipfile.ZipInfo(name), b"x")))
    assert (refused.status_code, refused.json()["detail"]) == (400, "zip member '.' has no file name")
    assert uploads_left(client) == []


def test_a_folder_entry_for_the_zip_itself_is_taken(client):
    """bsdtar, zipping ".", writes "./" before the folders: the zip's own folder, no file."""
    taken = upload(client, "atlas.zip", zipped((zipfile.ZipInfo("./"), b""), *case_members("myc")))
    assert taken.status_code == 202, taken.text
    assert job_ended(client, taken.json()["id"])["status"] == "done"
