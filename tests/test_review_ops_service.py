"""What an ops engineer found running the REST service: a disk with no room for an upload, a moved source PDF,
uploads a crashed job left, zips full of what no source reads, /docs offline, and thin logs. Hashing encoder."""

from __future__ import annotations

import errno
import os
import pathlib
import resource

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from tests.uploads import api_settings, upload, zipped

LIMIT_BYTES = 256 << 10
"""The file size limit a test sets (``ulimit -f``): uploads over it fail while they are written."""


@pytest.fixture
def root(tmp_path) -> pathlib.Path:
    return tmp_path


@pytest.fixture
def client(root):
    with TestClient(create_app(api_settings(root, api_token="t0ken", max_upload_mb=4))) as test_client:
        yield test_client


def leftovers(root: pathlib.Path) -> list[pathlib.Path]:
    uploads = root / "home" / "uploads"
    return sorted(uploads.iterdir()) if uploads.exists() else []


# -- 1. no room for an upload ----------------------------------------------------------------------------------------
@pytest.fixture
def file_size_limit():
    """Files this process writes stop at ``LIMIT_BYTES`` (EFBIG: Python ignores SIGXFSZ), as under ``ulimit -f``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, hard))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@pytest.mark.parametrize(
    "name, data",
    [
        ("big.pdf", b"%PDF-1.7\n" + os.urandom(2 * LIMIT_BYTES)),
        ("cases.zip", zipped(("c/a.png", bytes(2 * LIMIT_BYTES)))),  # small zipped, too big unpacked
    ],
    ids=["saving a pdf", "unpacking a zip"],
)
def test_an_upload_over_the_machines_file_size_limit_is_a_507_line_leaving_nothing(
    client, root, file_size_limit, name, data
):
    refused = upload(client, name, data)
    assert refused.status_code == 507, refused.text
    assert refused.json() == {"detail": "the server has no room to store this: File too large (EFBIG); tell its admin"}
    assert leftovers(root) == []


def test_a_full_disk_while_saving_is_a_507_line_leaving_nothing(client, root, monkeypatch):
    """A write's ENOSPC names no file (as the kernel gives it to ``write``)."""
    opened = pathlib.Path.open

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, _data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.handle.close()

    def full_under_uploads(path, mode="r", *args, **kwargs):
        handle = opened(path, mode, *args, **kwargs)
        return FullDisk(handle) if "w" in mode and "uploads" in path.parts else handle

    monkeypatch.setattr(pathlib.Path, "open", full_under_uploads)
    refused = upload(client, "book.pdf", b"%PDF-1.7\n" + bytes(1000))
    assert refused.status_code == 507, refused.text
    assert refused.json()["detail"].startswith("the server has no room to store this: No space left on device (ENOSPC)")
    assert leftovers(root) == []
