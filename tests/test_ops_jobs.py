"""REST index jobs as an operator runs them: a zip of several case folders counted and its problems noted, uploads
over 1 MB on a machine without room, a service stopped during a job, and a job submitted while another process
writes the index. Hashing encoder."""

from __future__ import annotations

import errno
import io
import json
import logging
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.ui.api.app import create_app, no_room
from tests.servers import job_ended
from tests.uploads import api_settings, upload


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


def two_case_folders() -> bytes:
    """A zip of two case folders: "Winter" lists four images, one missing and one not an image, and holds one it does
    not list; "Sommer" lists and holds two."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder, images in (("Winter", ("a", "b", "missing", "fake")), ("Sommer", ("c", "d"))):
            rows = [
                {"image": f"{name}.png", "case_id": f"{folder}-{name}", "diagnosis": "granuloma"} for name in images
            ]
            archive.writestr(f"{folder}/cases.jsonl", "\n".join(map(json.dumps, rows)))
            for n, name in enumerate(images):
                if name != "missing":
                    archive.writestr(f"{folder}/{name}.png", b"not a png" if name == "fake" else png((40 * n, 90, 60)))
        archive.writestr("Winter/unlisted.png", png((200, 10, 10)))
    return buffer.getvalue()


def test_a_zip_of_several_case_folders_counts_all_of_them_and_notes_what_each_skipped(tmp_path):
    with TestClient(create_app(api_settings(tmp_path))) as client:
        job = job_ended(client, upload(client, "kurs.zip", two_case_folders()).json()["id"])
        listed = {source["source"]: source["problems"] for source in client.get("/sources").json()}
    assert job["status"] == "done"
    assert (job["done"], job["total"]) == (4, 6), "the images read of those listed, over both folders"
    winter = [note for note in job["notes"] if note.startswith("Winter")]
    assert len(winter) == len(listed["Winter"]) == 3, job["notes"]
    for name in ("missing.png", "fake.png", "unlisted.png"):
        assert sum(name in note for note in winter) == 1, (name, job["notes"])
    assert not any(str(tmp_path) in note for note in job["notes"]), "no server path"
    assert listed["Sommer"] == []


def test_an_upload_over_a_megabyte_on_a_machine_without_room_is_507_not_a_bad_body(tmp_path, monkeypatch, caplog):
    """Starlette spools a file part over 1 MB to TMPDIR before the route runs; here that write meets a full disk."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux) to fail a write with ENOSPC")
    monkeypatch.setattr("tempfile.TemporaryFile", lambda *args, **kwargs: open("/dev/full", "w+b"))  # noqa: SIM115
    caplog.set_level(logging.ERROR, logger="pathatlas")
    with TestClient(create_app(api_settings(tmp_path, max_upload_mb=3))) as client:
        refused = upload(client, "book.pdf", b"%PDF-1.7\n" + bytes(3 << 19))
    assert refused.status_code == 507
    assert refused.json()["detail"] == no_room(OSError(errno.ENOSPC, "No space left on device"))
    assert any("TMPDIR" in record.getMessage() for record in caplog.records), "the admin learns where it was written"
