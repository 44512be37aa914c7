"""What the REST guard tests share: a token, settings with the hashing encoder and a 1 MB upload cap, zips built in
memory, and an upload through a test client."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from pathatlas.settings import Settings
from tests.helpers import hashing_settings

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def api_settings(root: Path, **extra) -> Settings:
    """Home and index under ``root``, the hashing encoder, uploads up to 1 MB; ``extra`` adds or overrides."""
    return hashing_settings(root, **{"max_upload_mb": 1, **extra})


def zipped(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    """A deflated zip of (name or ZipInfo, data) members, in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def upload(client, name: str, data: bytes, headers=AUTH):
    """POST one file to ``/jobs`` (with the token unless ``headers`` say otherwise)."""
    return client.post("/jobs", files={"file": (name, data)}, headers=headers)
