"""A zip member spelt two ways ("./c/a.jpg", "c//a.jpg", "c/./a.jpg" beside "c/a.jpg") is one file: refused as
appearing twice (the later copy replaced the earlier, and the job failed on junk named as the good image), and
"./c/cases.jsonl" makes "c" a case folder, whose PDFs are left out. A PATHATLAS_HOME that is a dangling link, a loop
of links, a path too long or a folder nothing can be made in is one line saying so, not a traceback. Hashing
encoder."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.settings import Settings, os_problem
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import run_cli
from tests.servers import job_ended
from tests.uploads import book_service, upload, zipped

SET_IT = "; set it to a folder this user can write"


@pytest.fixture
def client(tmp_path):
    with book_service(tmp_path, "osteoid") as served:
        yield served


def image_bytes(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, kind)
    return buffer.getvalue()


def case_folder(folder: str, image: str) -> list[tuple[str, bytes]]:
    """A case folder's metadata, named as ``folder`` spells it, listing the image ``image`` (a JPEG, stored there)."""
    row = json.dumps({"image": Path(image).name, "diagnosis": "granuloma"}).encode()
    return [(f"{folder}/cases.jsonl", row), (image, image_bytes("JPEG"))]


def uploaded_files(client) -> list[Path]:
    return [path for path in client.app.state.jobs.uploads.path.rglob("*") if path.is_file()]


@pytest.mark.parametrize("again", ["./c/a.jpg", "c//a.jpg", "c/./a.jpg"])
def test_a_member_spelt_another_way_is_refused_as_appearing_twice(client, again):
    refused = upload(client, "cases.zip", zipped(*case_folder("c", "c/a.jpg"), (again, b"junk")))
    assert (refused.status_code, refused.json()["detail"]) == (400, "zip member 'c/a.jpg' appears twice")
    assert uploaded_files(client) == [], "the refused zip left nothing behind"


def test_a_case_folder_spelt_from_dot_slash_leaves_its_pdf_out(client, tmp_path):
    inner = make_pdf(tmp_path / "inner.pdf", 1, "notes").read_bytes()
    members = [*case_folder("./c2", "./c2/a.jpg"), ("c2/inner.pdf", inner)]
    job = job_ended(client, upload(client, "cases.zip", zipped(*members)).json()["id"])
    assert job["status"] == "done", job
    assert job["notes"] == ["c2/inner.pdf: a PDF inside a case folder is not indexed; upload it on its own"]
    assert not [path for path in uploaded_files(client) if path.suffix == ".pdf"], "no PDF kept that none reads"


# -- PATHATLAS_HOME ------------------------------------------------------------------------------------------------
def dangling(root: Path) -> Path:
    (root / "home").symlink_to(root / "unmounted" / "drive")
    return root / "home"


def under_dangling(root: Path) -> Path:
    (root / "data").symlink_to(root / "unmounted")
    return root / "data" / "pathatlas"


def loop(root: Path) -> Path:
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    return root / "a"


def too_long(root: Path) -> Path:
    return root / ("x" * 300)


@pytest.mark.parametrize(
    ("home_at", "said", "said_without_paths"),
    [
        (dangling, "it is a dangling link to {root}/unmounted/drive", "it is a dangling link"),
        (under_dangling, "{root}/data is a dangling link to {root}/unmounted", "a folder above it is a dangling link"),
        (loop, "it is a loop of symbolic links (ELOOP)", None),
        (too_long, "its path is too long for the file system (ENAMETOOLONG)", None),
    ],
)
def test_a_home_that_cannot_be_a_folder_is_one_line_saying_why(tmp_path, home_at, said, said_without_paths):
    """The error of making a folder in it, as the models' cache is made (``towers.extracted_minilm``); without paths,
    what /health and a REST client read."""
    settings = Settings(home=home_at(tmp_path))
    with pytest.raises(OSError) as made:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
    drive = " (a drive not mounted?)" if "dangling" in said else ""
    line = f"PATHATLAS_HOME={settings.home} is not usable: {said.format(root=tmp_path)}{drive}{SET_IT}"
    assert os_problem(made.value, settings) == line
    without = f"PATHATLAS_HOME is not usable: {(said_without_paths or said)}{drive}{SET_IT}"
    assert os_problem(made.value, settings, paths=False) == without


@pytest.mark.skipif(not os.access("/proc/1", os.F_OK) or os.access("/proc/1", os.W_OK), reason="Linux's /proc")
def test_a_home_nothing_can_be_made_in_is_one_line():
    """Even root makes no folder in /proc/1: mkdir says ENOENT there."""
    settings = Settings(home=Path("/proc/1"))
    with pytest.raises(OSError) as made:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
    assert os_problem(made.value, settings) in (
        f"PATHATLAS_HOME=/proc/1 is not usable: it is a folder this user cannot write{SET_IT}",
        f"PATHATLAS_HOME=/proc/1 is not usable: {made.value}{SET_IT}",  # EACCES, where a user is not root
    )


@pytest.mark.parametrize("home_at", [loop, too_long])
def test_indexing_into_such_a_home_is_one_error_line(tmp_path, home_at):
    home = home_at(tmp_path)
    result = run_cli("index", make_pdf(tmp_path / "book.pdf", 1, "osteoid"), home=home)
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit, result.output
    assert result.output.startswith(f"error: PATHATLAS_HOME={home} is not usable: "), result.output


def test_a_missing_file_in_a_usable_home_keeps_its_traceback(tmp_path):
    """A file gone from a home that is a folder this user can write is no fault of the home (a bug, or damage)."""
    settings = Settings(home=tmp_path)
    for missing in (tmp_path / "index" / "manifest.json", tmp_path / "not-made-yet"):
        assert os_problem(FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(missing)), settings) is None
