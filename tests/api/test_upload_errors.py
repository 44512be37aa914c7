"""Upload checks refuse with domain errors (``UploadRefusedError``), usable without HTTP; the application alone turns
them into status codes, with their one line as the detail."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.uploads import UploadTooLargeError, save_limited
from tests.uploads import api_settings, upload

MB = 1 << 20


def test_a_stream_over_the_limit_is_refused_without_http_and_nothing_is_kept(tmp_path):
    target = tmp_path / "book.pdf"
    with pytest.raises(UploadTooLargeError, match=r"^upload is over the limit of 1 MB$"):
        save_limited(io.BytesIO(b"x" * (MB + 1)), target, MB)
    assert not target.exists()


def test_a_stream_within_the_limit_is_saved_whole(tmp_path):
    target = tmp_path / "book.pdf"
    save_limited(io.BytesIO(b"x" * MB), target, MB)
    assert target.read_bytes() == b"x" * MB


def test_an_upload_the_guard_lets_through_but_over_the_limit_is_answered_413_with_its_line(tmp_path):
    """Within the multipart slack the guard allows (``MULTIPART_SLACK``), the file itself is over the cap: the
    refusal comes from the saving, and reaches the client as the guard's would."""
    with TestClient(create_app(api_settings(tmp_path))) as client:
        refused = upload(client, "book.pdf", b"%PDF-1.7 " + b"x" * MB)
    assert (refused.status_code, refused.json()) == (413, {"detail": "upload is over the limit of 1 MB"})
    assert not any((tmp_path / "home" / "uploads").rglob("*.pdf")), "nothing of it stays"
